"""The sign-in and sign-out pages (open: they are how one gets in); sessions and who may
sign in are auth.py's."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template

from .auth import COOKIE, FAILED_PAUSE_S, safe_next, same, sessions, settings_of, sign_in_needed, signed_in_as
from .frame import page
from .text import _


class SignIn(msgspec.Struct, kw_only=True):
    password: str = ""
    user: str = ""
    next: str = "/"


def _page(request: Request[Any, Any, Any], error: str | None, target: str, status: int = 200) -> Template:
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
    if data.user and same(data.user, settings.user) and same(data.password, settings.password):
        who = data.user
    elif not data.user and same(data.password, request.app.state.get("api_key")):
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
    return Router("/", route_handlers=[sign_in_form, sign_in, sign_out], **shared)
