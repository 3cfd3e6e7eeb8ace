"""What every console page shares: the Jinja environment (autoescaped, gettext), the
page frame (navigation, who is signed in), security headers, and error pages.

Pages are HTML; an error on one is a page too (never JSON, never a traceback), saying
what was wrong in the words the API would use.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from litestar import Request, Response
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from ...interpreter.store.unavailable import unavailable
from ..core import Core
from ..problems import Problem
from .auth import redirect_to_sign_in, sign_in_needed, signed_in_as
from .text import N_, _, ngettext

logger = logging.getLogger("scn.console")

#: Console pages load nothing from another host, frame nothing but their own previews
#: (sandboxed srcdoc), and are framed by nobody. No `img-src 'self'`: a message shown in
#: the console must not fetch its open pixel (that would count an open).
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src data:; "
    "connect-src 'self'; form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
NAV = (
    ("/", N_("Scenarios")),
    ("/reports", N_("Reports")),
    ("/runs", N_("Runs")),
    ("/contacts", N_("Contacts")),
    ("/templates", N_("Templates")),
    ("/upload", N_("Upload")),
)


def when(value: dt.datetime | int | None) -> str:
    """A moment as the console writes it: `2025-03-03 08:30 UTC` (ms since the epoch too)."""
    if value is None:
        return "—"
    moment = dt.datetime.fromtimestamp(value / 1000, dt.UTC) if isinstance(value, int) else value
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def environment() -> Environment:
    """The Jinja environment of the console's pages: autoescaped everywhere, undefined
    names are errors, `_()` from the console's translations."""
    env = Environment(
        loader=PackageLoader("scn.server.console", "pages"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(gettext=_, ngettext=ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = when
    env.filters["percent"] = percent
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))


def core_of(state: State) -> Core:
    core: Core = state["core"]
    return core


def nav(path: str) -> list[tuple[str, str, bool]]:
    """(href, label, current) of the main navigation."""

    def current(href: str) -> bool:
        return path == "/" or path.startswith("/scenarios") if href == "/" else path.startswith(href)

    return [(href, _(label), current(href)) for href, label in NAV]


def page(request: Request[Any, Any, Any], name: str, /, *, status: int = 200, **context: Any) -> Template:
    """A console page: the page template ``name`` in the frame, with the security headers."""
    frame = {
        "nav": nav(request.url.path),
        "who": signed_in_as(request),
        "open_console": not sign_in_needed(request),
        "path": request.url.path,
    }
    return Template(template_name=name, context={**frame, **context}, status_code=status, headers=HEADERS)


def _error(request: Request[Any, Any, Any], status: int, title: str, detail: str) -> Response[Any]:
    return page(request, "error.html", status=status, title=title, detail=detail)


def handle_error(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """Any error on a console page, as a page."""
    if isinstance(error, NotAuthorizedException):
        if request.method == "GET":
            return redirect_to_sign_in(request, error)
        return _error(request, 401, _("Sign in first"), _("Your session has ended: sign in again."))
    if isinstance(error, PermissionDeniedException):
        return _error(request, 403, _("The form has expired"),
                      _("The page was open too long or came from elsewhere: reload it and try again."))  # fmt: skip
    if isinstance(error, Problem | HTTPException):
        titles = {400: _("That request is not right"), 404: _("Not found"), 409: _("Not possible now"),
                  413: _("Too large"), 422: _("That does not work")}  # fmt: skip
        return _error(request, error.status_code, titles.get(error.status_code, _("Something went wrong")),
                      str(error.detail))  # fmt: skip
    why = unavailable(error)
    if why is not None:  # not a defect: the store is held up (locked, full); nothing was changed
        logger.warning("console page %s %s: %s (%s)", request.method, request.url.path, why, error)
        return _error(request, 503, _("The database is not available just now"),
                      _("%(why)s. Nothing was changed: try again in a moment.") % {"why": why})  # fmt: skip
    logger.exception("console page %s %s failed", request.method, request.url.path)
    return _error(request, 500, _("Something went wrong"),
                  _("The server failed on this page; it is logged, and nothing was changed."))  # fmt: skip


#: On the console's routers: more specific than the app's JSON handlers for the same errors.
ERROR_HANDLERS: dict[type[Exception], Any] = {Problem: handle_error, HTTPException: handle_error,
                                              Exception: handle_error}  # fmt: skip
