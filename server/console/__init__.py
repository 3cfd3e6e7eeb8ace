"""The web console for marketers, at `/` of `scn serve`: scenarios drawn from their compiled
programs with live counts, reports as charts, runs, contacts, template previews, uploads.

Server-rendered Jinja pages (pages/), SVG made here (diagram.py, charts.py), one small
script and one stylesheet (static/); nothing is loaded from another host. Every page is
behind the sign-in (auth.py) and every form carries a CSRF token (Litestar's middleware).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.static_files import create_static_files_router

from . import contact_pages, report_pages, run_pages, scenario_pages, template_pages, upload_pages
from .auth import ConsoleSettings, Sessions, require_session
from .frame import ERROR_HANDLERS, template_config
from .sign_in_pages import sign_in_router
from .text import install

STATIC = Path(__file__).resolve().parent / "static"
#: Where the console's own files are served (none of the API's paths starts so).
STATIC_PATH = "/static/console"
CSRF_COOKIE = "scn_csrf"

__all__ = ["ConsoleSettings", "Sessions", "console_routers", "console_state", "template_config"]


def console_state(settings: ConsoleSettings) -> dict[str, Any]:
    """What the console keeps in the app's state: its settings and the signed-in sessions."""
    install(settings.language)
    return {"console_settings": settings, "console_sessions": Sessions(settings.session_hours)}


def console_routers(secret: str) -> list[Router]:
    """The console's routers; ``secret`` signs the CSRF tokens of its forms."""
    csrf = CSRFConfig(secret=secret, cookie_name=CSRF_COOKIE, cookie_httponly=True, cookie_samesite="strict")
    shared: dict[str, Any] = {
        "middleware": [DefineMiddleware(CSRFMiddleware, config=csrf)],
        "exception_handlers": ERROR_HANDLERS,
        "include_in_schema": False,
    }
    pages = [scenario_pages.router, run_pages.router, contact_pages.router, template_pages.router,
             report_pages.router, upload_pages.router]  # fmt: skip
    return [
        sign_in_router(**shared),
        Router("/", route_handlers=pages, guards=[require_session], **shared),
        create_static_files_router(
            STATIC_PATH, [STATIC], cache_control=CacheControlHeader(max_age=300), include_in_schema=False
        ),
    ]
