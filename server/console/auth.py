"""Signing in to the console: the API key (or a user and password from the settings)
becomes a session cookie, HttpOnly and SameSite, that only this server can read.

Sessions live in the server's memory: signing out ends one at once, a restart ends them
all, and changing the key means signing in again. With neither an API key nor a console
user configured the console is open, as the API is (a banner says so on every page).
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template

from ..deps import presented_key
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


def _same(given: str, expected: str | None) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), (expected or "").encode())


async def require_session(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    """Console pages need a session (or the API key on the request, as the API takes it)."""
    if not sign_in_needed(connection) or signed_in_as(connection) is not None:
        return
    if _same(presented_key(connection), connection.app.state.get("api_key")):
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


class SignIn(msgspec.Struct, kw_only=True):
    password: str = ""
    user: str = ""
    next: str = "/"


def _page(request: Request[Any, Any, Any], error: str | None, target: str, status: int = 200) -> Template:
    from .pages import page

    return page(request, "sign_in.html", status=status, error=error, next=target,
                users=bool(settings_of(request).user), key=bool(request.app.state.get("api_key")))  # fmt: skip


@get("/sign-in", name="console:sign-in")
async def sign_in_form(request: Request[Any, Any, Any], next: FromQuery[str | None] = None) -> Response[Any]:
    if not sign_in_needed(request) or signed_in_as(request) is not None:
        return Redirect(safe_next(next), status_code=303)
    return _page(request, None, safe_next(next))


@post("/sign-in", status_code=303)
async def sign_in(
    request: Request[Any, Any, Any], data: Annotated[SignIn, Body(media_type=RequestEncodingType.URL_ENCODED)]
) -> Response[Any]:
    settings = settings_of(request)
    target = safe_next(data.next)
    who: str | None = None
    if data.user and _same(data.user, settings.user) and _same(data.password, settings.password):
        who = data.user
    elif not data.user and _same(data.password, request.app.state.get("api_key")):
        who = _("API key holder")
    if who is None:
        await asyncio.sleep(FAILED_PAUSE_S)
        return _page(request, _("That did not match: check the API key, or the user and password."), target, 401)
    response = Redirect(target, status_code=303)
    response.set_cookie(Cookie(
        key=COOKIE, value=sessions(request).open(who), path="/", httponly=True, samesite="lax",
        secure=request.url.scheme == "https", max_age=int(settings.session_hours * 3600),
    ))  # fmt: skip
    return response


@post("/sign-out", status_code=303)
async def sign_out(request: Request[Any, Any, Any]) -> Response[Any]:
    sessions(request).close(request.cookies.get(COOKIE))
    response = Redirect("/sign-in" if sign_in_needed(request) else "/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def sign_in_router(**shared: Any) -> Router:
    """The sign-in and sign-out pages (open: they are how one gets in)."""
    return Router("/", route_handlers=[sign_in_form, sign_in, sign_out], **shared)
