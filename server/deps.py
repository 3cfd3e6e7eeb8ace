"""What route handlers share: the core, the API key guard, small parsing helpers."""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Annotated, Any

from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Parameter, PathParameter

from .core import Core
from .problems import Problem

API_KEY_HEADER = "X-API-Key"

#: The largest id SQLite can hold: anything above is refused as a bad request, not a crash.
MAX_ID = 2**63 - 1
#: Every list answers with a page `{items, next}`: these are its query parameters.
Limit = Annotated[int, Parameter(ge=1, le=1000, description="page size")]
After = Annotated[int, Parameter(ge=0, le=MAX_ID, description="the `next` of the previous page")]
AfterName = Annotated[str, Parameter(description="the `next` of the previous page")]
Id = Annotated[int, PathParameter(ge=1, le=MAX_ID)]


def get_core(state: State) -> Core:
    core: Core = state["core"]
    return core


async def require_api_key(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Every control endpoint needs the key (when one is configured).

    A coroutine although it never waits: Litestar runs a plain function guard in a worker
    thread, a hand-off that cost more than the rest of a small request."""
    expected: str | None = connection.app.state.get("api_key")
    if not expected:
        return
    given = connection.headers.get(API_KEY_HEADER) or ""
    if not given and connection.headers.get("Authorization", "").startswith("Bearer "):
        given = connection.headers["Authorization"][7:]
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Problem(401, "unauthorized", f"send the API key in the {API_KEY_HEADER} header")


def instant(ms: int) -> dt.datetime:
    """A stored time (ms since the epoch) as an aware datetime; `views.moment` for optional ones."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def not_found(what: str) -> Problem:
    return Problem(404, "not-found", f"{what} does not exist")
