"""Broadcasts: list them with their progress, show one, preview it for a contact, and
pause, resume or cancel it. A broadcast is declared in .scn (`broadcast ... to segment
... at ...`) and deployed with the workspace; its runs, steps and reports are those of
the scenario of the same name (/api/scenarios, /api/runs, /api/reports)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from .broadcast_models import BroadcastCancelled, BroadcastPage, BroadcastPreview, BroadcastSummary
from .deps import KEYED, AfterName, Limit, api_actor, require_api_key
from .problems import problems
from .services import BroadcastService, dependencies


@get("/", responses=problems(400, 401))
async def list_broadcasts(
    broadcasts: NamedDependency[BroadcastService], after: AfterName = "", limit: Limit = 50
) -> BroadcastPage:
    """Every broadcast by name: its state, audience, time and progress."""
    later = [b for b in await broadcasts.summaries() if b.name > after]
    page = later[:limit]
    return BroadcastPage(items=page, next=page[-1].name if len(later) > limit else None)


@get("/{name:str}", responses=problems(400, 401, 404))
async def show(broadcasts: NamedDependency[BroadcastService], name: FromPath[str]) -> BroadcastSummary:
    """A broadcast's state and progress: its audience, the contacts given their run, its
    runs and messages by status."""
    return await broadcasts.summary(name)


@get("/{name:str}/preview", responses=problems(400, 401, 404, 422))
async def preview(
    broadcasts: NamedDependency[BroadcastService], name: FromPath[str], contact: FromQuery[str | None] = None
) -> BroadcastPreview:
    """How many contacts the audience has now, and the broadcast's first message rendered
    for one of them (`contact`, by default the audience's first member)."""
    return await broadcasts.preview(name, contact)


@post("/{name:str}/pause", status_code=200, responses=problems(400, 401, 404, 409))
async def pause(
    request: Request[Any, Any, Any], broadcasts: NamedDependency[BroadcastService], name: FromPath[str]
) -> BroadcastSummary:
    """Stop making runs and hold the runs made where they are (409 unless scheduled or running)."""
    return await broadcasts.pause(name, api_actor(request))


@post("/{name:str}/resume", status_code=200, responses=problems(400, 401, 404, 409))
async def resume(
    request: Request[Any, Any, Any], broadcasts: NamedDependency[BroadcastService], name: FromPath[str]
) -> BroadcastSummary:
    """Go on where the pause stopped it; a time that passed meanwhile sends at once (409 unless paused)."""
    return await broadcasts.resume(name, api_actor(request))


@post("/{name:str}/cancel", status_code=200, responses=problems(400, 401, 404, 409))
async def cancel(
    request: Request[Any, Any, Any], broadcasts: NamedDependency[BroadcastService], name: FromPath[str]
) -> BroadcastCancelled:
    """No more runs are made; runs not ended are cancelled and messages no sender has taken
    yet are not sent (409 when it is done or cancelled already). It cannot be undone."""
    return await broadcasts.cancel(name, api_actor(request))


router = Router(
    "/api/broadcasts",
    route_handlers=[list_broadcasts, show, preview, pause, resume, cancel],
    guards=[require_api_key],
    security=KEYED,
    dependencies=dependencies(),
    tags=["broadcasts"],
)
