"""Signing in to the console: the API key (or a user and password from the settings)
becomes a session cookie, HttpOnly and SameSite, that only this server can read.

Sessions live in the server's memory: signing out ends one at once, a restart ends them
all, and changing the key means signing in again. With neither an API key nor a console
user configured the console is open, as the API is (a banner says so on every page).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect

from ..deps import api_actor, presented_key
from .text import _

COOKIE = "scn_session"
#: How many sessions are kept at most (the oldest go first): sign-ins cannot fill the memory.
MAX_SESSIONS = 10_000
#: A failed sign-in answers after this long, so that guessing is slow.
FAILED_PAUSE_S = 0.4


class ConsoleSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Who may sign in besides the API key's holder, and the console's language."""

    user: str | None = None
    password: str | None = None
    language: str | None = None
    session_hours: float = 12.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ConsoleSettings:
        """`SCN_CONSOLE_USER` and `SCN_CONSOLE_PASSWORD` (both or neither), `SCN_CONSOLE_LANGUAGE`."""
        return cls(
            user=environ.get("SCN_CONSOLE_USER") or None,
            password=environ.get("SCN_CONSOLE_PASSWORD") or None,
            language=environ.get("SCN_CONSOLE_LANGUAGE") or None,
        )

    def problem(self) -> str | None:
        """What is wrong with these settings, said for the operator; None when nothing is."""
        if bool(self.user) != bool(self.password):
            return "set both SCN_CONSOLE_USER and SCN_CONSOLE_PASSWORD, or neither"
        return None


class Sessions:
    """Signed-in browsers: a random token each (the cookie), with who and until when."""

    def __init__(self, hours: float) -> None:
        self.seconds = hours * 3600
        self._live: dict[str, tuple[str, float]] = {}

    def open(self, who: str) -> str:
        while len(self._live) >= MAX_SESSIONS:
            self._live.pop(next(iter(self._live)))
        token = secrets.token_urlsafe(32)
        self._live[token] = (who, time.monotonic() + self.seconds)
        return token

    def who(self, token: str | None) -> str | None:
        found = self._live.get(token or "")
        if found is None:
            return None
        if found[1] < time.monotonic():
            self._live.pop(token or "", None)
            return None
        return found[0]

    def close(self, token: str | None) -> None:
        self._live.pop(token or "", None)


def sessions(connection: ASGIConnection[Any, Any, Any, Any]) -> Sessions:
    found: Sessions = connection.app.state["console_sessions"]
    return found


def settings_of(connection: ASGIConnection[Any, Any, Any, Any]) -> ConsoleSettings:
    found: ConsoleSettings = connection.app.state["console_settings"]
    return found


def sign_in_needed(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """Whether the console asks who you are (an API key or a console user is configured)."""
    return bool(connection.app.state.get("api_key") or settings_of(connection).user)


def signed_in_as(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """Who the request's session belongs to; None without a valid session."""
    return sessions(connection).who(connection.cookies.get(COOKIE))


def console_actor(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """Who a console request is, for audit records: its session's user, else its API key."""
    user = signed_in_as(connection)
    return f"console {user}" if user else api_actor(connection)


def same(given: str, expected: str | None) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), (expected or "").encode())


async def require_session(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    """Console pages need a session (or the API key on the request, as the API takes it)."""
    if not sign_in_needed(connection) or signed_in_as(connection) is not None:
        return
    if same(presented_key(connection), connection.app.state.get("api_key")):
        return
    raise NotAuthorizedException(detail=_("sign in to use the console"))


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this server, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def redirect_to_sign_in(request: Request[Any, Any, Any], _error: Exception) -> Response[Any]:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/sign-in?next={quote(target, safe='')}", status_code=303)
