"""The Litestar application: routers, problem details, OpenAPI at /schema, lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope

from .. import __version__
from . import (
    api_broadcasts,
    api_commerce,
    api_data,
    api_experiments,
    api_feedback,
    api_privacy,
    api_public,
    api_records,
    api_scenarios,
    api_suppressions,
    devmail,
    openapi_schemas,
    problems,
)
from .api_docs import assets_router, docs_router, render_plugins
from .bodies import StrictRequest, single_query_values
from .console import ConsoleSettings, console_routers, console_state, template_config
from .core import Core
from .deps import API_KEY_HEADER, SECURITY_SCHEMES
from .devmail import MailSink
from .problems import Problem, handle_http, handle_internal, handle_problem
from .services import ContactService

logger = logging.getLogger("scn.server")

#: Largest request body accepted (a workspace upload or a batch of events).
MAX_BODY = 10 * 1024 * 1024


def create_app(
    core: Core, *, api_key: str | None, workspace: dict[str, str] | None = None, mail_sink: MailSink | None = None,
    on_ready: Any = None, protect_metrics: bool = False, console: ConsoleSettings | None = None,
) -> Litestar:  # fmt: skip
    """The app around a core; starting it opens the store, deploys ``workspace`` and starts the loops.

    ``api_key`` guards the control API, the development mail sink and the console at `/`
    (``console`` may add a user and password for it); ``protect_metrics`` puts it in front
    of /metrics too."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if mail_sink is not None:
            mail_sink.start()
        try:
            versions = await core.start(workspace)
            resumed = await ContactService(core).resume_imports()
            if resumed:
                logger.info("going on with %d contact import(s) a restart interrupted", resumed)
            if on_ready is not None:
                on_ready(versions)
            yield
        finally:
            await core.stop()
            if mail_sink is not None:
                mail_sink.stop()

    return Litestar(
        route_handlers=[
            api_scenarios.router,
            api_broadcasts.router,
            api_experiments.router,
            api_data.router,
            api_commerce.router,
            api_records.router,
            api_suppressions.router,
            api_privacy.router,
            api_feedback.router,
            api_public.router,
            devmail.router,
            problems.router,
            assets_router(),
            *console_routers(core.settings.secret),
        ],
        lifespan=[lifespan],
        plugins=openapi_schemas.PLUGINS,
        state=State(
            {
                "core": core,
                "api_key": api_key,
                "mail_sink": mail_sink,
                "protect_metrics": protect_metrics,
                **console_state(console or ConsoleSettings()),
            }
        ),  # fmt: skip
        template_config=template_config(),
        exception_handlers={Problem: handle_problem, HTTPException: handle_http, Exception: handle_internal},
        before_send=[AllowHeader()],
        before_request=single_query_values,
        request_max_body_size=MAX_BODY,
        request_class=StrictRequest,
        openapi_config=OpenAPIConfig(
            title="scn",
            version=__version__,
            description=f"Marketing automation where scenarios are code. Control endpoints need the API key: the "
            f"`{API_KEY_HEADER}` header, a bearer token, or the password of basic authentication. Tracking and "
            "unsubscribe links are public and signed. Every error is `application/problem+json` (RFC 9457); its "
            "`type` is a page that explains it (/problems).",
            components=Components(security_schemes=dict(SECURITY_SCHEMES)),
            path="/schema",
            render_plugins=render_plugins(),
            openapi_router=docs_router(),
        ),
        debug=False,
        # Logging is the process's (scn serve configures it); Litestar's default would
        # take over the root logger.
        logging_config=None,
    )


class AllowHeader:
    """Every method of a path in the Allow header of its OPTIONS answer.

    Litestar 2 builds the OPTIONS answer of a path from the first handler registered on it,
    so a path with GET and POST handlers answered `Allow: OPTIONS, POST` (litestar#4169,
    fixed only in Litestar 3). This sets the header from the route the request matched."""

    def __init__(self) -> None:
        self._allowed: dict[str, bytes] | None = None

    async def __call__(self, message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
            return
        if self._allowed is None:
            routes = [r for r in scope["app"].routes if isinstance(r, HTTPRoute)]
            self._allowed = {r.path_format: ", ".join(sorted(r.methods)).encode() for r in routes}
        allowed = self._allowed.get(scope.get("path_template", ""))
        if allowed is not None:
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
            message["headers"] = [*headers, (b"allow", allowed)]
