"""What route handlers share: the core, the API key guard, small parsing helpers."""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.handlers.base import BaseRouteHandler

from .core import Core
from .problems import Problem

API_KEY_HEADER = "X-API-Key"


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
