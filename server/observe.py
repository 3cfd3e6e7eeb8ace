"""Every HTTP request, seen from outside the app: an id (the client's `X-Request-ID` when
it sends a sane one, else a new one; answered in the same header and carried by every
log line of the request), its latency in the `scn_http_request_duration_seconds`
histogram by route, and a line in the access log (logger `scn.access`).

It wraps the whole ASGI app rather than being Litestar middleware, which runs only for
requests that matched a route: a 404 is a request too.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from prometheus_client import Histogram

from .logs import REQUEST_ID

access = logging.getLogger("scn.access")

REQUEST_SECONDS = Histogram(
    "scn_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route (the path's template) and status.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: A request id a client may choose: short, and nothing that could forge a log line.
_GIVEN_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _request_id(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if _GIVEN_ID.fullmatch(text):
                return text
    return uuid.uuid4().hex


class Observed:
    """The app, with request ids, the latency histogram and the access log around it."""

    def __init__(self, app: Any, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        path = scope["path"]  # (routing may rewrite the scope's)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def answer(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            seconds = time.perf_counter() - started
            method = scope["method"] if scope["method"] in _METHODS else "other"
            route = scope.get("path_template") or "unmatched"
            REQUEST_SECONDS.labels(method, route, str(status)).observe(seconds)
            if self.access_log:
                access.info(
                    "%s %s %d %.1f ms", scope["method"], path, status, seconds * 1000,
                    extra={"method": scope["method"], "path": path, "status": status,
                           "duration_ms": round(seconds * 1000, 1)},
                )  # fmt: skip
            REQUEST_ID.reset(token)
