"""What route handlers share: the core, the API key guard, small parsing helpers."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from typing import Annotated, Any

from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import SecurityRequirement, SecurityScheme
from litestar.params import Parameter, PathParameter

from .core import Core
from .problems import Problem

API_KEY_HEADER = "X-API-Key"
#: The ways to present the API key, as the OpenAPI document declares them (the docs page's
#: "Authorize", generated clients' credentials).
SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    "apiKey": SecurityScheme(type="apiKey", name=API_KEY_HEADER, security_scheme_in="header",
                             description="The API key in the X-API-Key header."),
    "bearer": SecurityScheme(type="http", scheme="bearer", description="The API key as a bearer token."),
    "basic": SecurityScheme(type="http", scheme="basic",
                            description="The API key as the password of basic authentication, any user name."),
}  # fmt: skip
#: Any one of the schemes: what every route behind the key declares.
KEYED: list[SecurityRequirement] = [{name: []} for name in SECURITY_SCHEMES]

#: The largest id the API takes (anything above is refused as a bad request, not a crash):
#: the largest integer every JSON reader holds exactly, and one the OpenAPI document can
#: state exactly (Litestar writes bounds as floats; 2**63 - 1 came out as 2**63).
MAX_ID = 2**53 - 1
#: Every list answers with a page `{items, next}`: these are its query parameters.
Limit = Annotated[int, Parameter(ge=1, le=1000, description="page size")]
After = Annotated[int, Parameter(ge=0, le=MAX_ID, description="the `next` of the previous page")]
AfterName = Annotated[str, Parameter(description="the `next` of the previous page")]
Id = Annotated[int, PathParameter(ge=1, le=MAX_ID)]


def get_core(state: State) -> Core:
    core: Core = state["core"]
    return core


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The key a request carries: `X-API-Key`, `Authorization: Bearer <key>`, or the password
    of `Authorization: Basic` (what a browser sends after asking for it; any user name)."""
    given = connection.headers.get(API_KEY_HEADER)
    if given:
        return given
    scheme, _, credentials = connection.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(credentials.strip(), validate=True).decode().partition(":")[2]
        except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
            return ""
    return ""


def _check_key(connection: ASGIConnection[Any, Any, Any, Any], challenge: str | None = None) -> None:
    expected: str | None = connection.app.state.get("api_key")
    if not expected:
        return
    given = presented_key(connection)
    if not given.isascii() or not hmac.compare_digest(given.encode(), expected.encode()):
        headers = {"WWW-Authenticate": challenge} if challenge else None
        raise Problem(401, "unauthorized", f"send the API key in the {API_KEY_HEADER} header", headers=headers)


async def require_api_key(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Every control endpoint needs the key (when one is configured).

    A coroutine although it never waits: Litestar runs a plain function guard in a worker
    thread, a hand-off that cost more than the rest of a small request."""
    _check_key(connection)


async def require_key_in_browser(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The API key in front of pages people open in a browser (the development mail sink):
    without it the answer asks for a password, which is the key (any user name)."""
    _check_key(connection, 'Basic realm="scn", charset="UTF-8"')


async def require_key_for_metrics(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """/metrics is open unless the server protects it (`--protect-metrics`); then it needs the
    API key like the control API (Prometheus sends it as a bearer token or basic auth)."""
    if connection.app.state.get("protect_metrics"):
        _check_key(connection)


def api_actor(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """Who a control request is, for audit records: the API key it carries, named by a
    fingerprint (never the key itself), or "anonymous" when the server has no key."""
    given = presented_key(connection)
    if not connection.app.state.get("api_key") or not given:
        return "anonymous"
    return f"api key {hashlib.sha256(given.encode()).hexdigest()[:8]}"


def instant(ms: int) -> dt.datetime:
    """A stored time (ms since the epoch) as an aware datetime; `views.moment` for optional ones."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def not_found(what: str) -> Problem:
    return Problem(404, "not-found", f"{what} does not exist")
