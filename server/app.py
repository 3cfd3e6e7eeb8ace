"""The Litestar application: routers, problem details, OpenAPI at /schema, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig

from .. import __version__
from . import api_commerce, api_data, api_public, api_records, api_scenarios, devmail
from .bodies import StrictRequest
from .core import Core
from .deps import API_KEY_HEADER
from .devmail import MailSink
from .problems import Problem, handle_http, handle_internal, handle_problem

#: Largest request body accepted (a workspace upload or a batch of events).
MAX_BODY = 10 * 1024 * 1024


def create_app(
    core: Core, *, api_key: str | None, workspace: dict[str, str] | None = None, mail_sink: MailSink | None = None,
    on_ready: Any = None,
) -> Litestar:  # fmt: skip
    """The app around a core; starting it opens the store, deploys ``workspace`` and starts the loops."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if mail_sink is not None:
            mail_sink.start()
        try:
            versions = await core.start(workspace)
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
            api_data.router,
            api_commerce.router,
            api_records.router,
            api_public.router,
            devmail.router,
        ],
        lifespan=[lifespan],
        state=_state(core, api_key, mail_sink),
        exception_handlers={Problem: handle_problem, HTTPException: handle_http, Exception: handle_internal},
        request_max_body_size=MAX_BODY,
        request_class=StrictRequest,
        openapi_config=OpenAPIConfig(
            title="scn",
            version=__version__,
            description=f"Marketing automation where scenarios are code. Control endpoints need the `{API_KEY_HEADER}` "
            "header; tracking and unsubscribe links are public and signed.",
            path="/schema",
        ),
        debug=False,
        # Logging is the process's (scn serve configures it); Litestar's default would
        # take over the root logger.
        logging_config=None,
    )


def _state(core: Core, api_key: str | None, mail_sink: MailSink | None) -> Any:
    from litestar.datastructures import State

    return State({"core": core, "api_key": api_key, "mail_sink": mail_sink})
