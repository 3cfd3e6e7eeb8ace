"""Events in; contacts, runs and messages out."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIFormat, Schema
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from msgspec import Meta

from ..interpreter.runtime import EventInput
from ..interpreter.runtime.events import ContactIn, decode_events
from .deps import KEYED, After, Id, Limit, require_api_key
from .models import (
    Accepted,
    ChannelName,
    Contact,
    EventsAccepted,
    MessagePage,
    MessageStatus,
    RunDetail,
    RunPage,
    RunStatus,
    StepPage,
)
from .problems import problems
from .reports import Report
from .services import (
    ContactService,
    EventService,
    MessageService,
    ReportService,
    RunService,
    ScenarioService,
    dependencies,
)

#: Events in one request: an empty list is refused (400), more than `MAX_BATCH` too (413).
Batch = Annotated[list[EventInput], Meta(min_length=1)]


@post("/events", status_code=202, responses=problems(400, 401, 409, 413, 415, 422), opt={"read_body": decode_events})
async def post_events(data: JSONBody[EventInput | Batch], events: NamedDependency[EventService]) -> EventsAccepted:
    """Accept one event or a batch. The answer comes once they are committed to disk;
    a key sent before is accepted again as a duplicate and recorded once."""
    return await events.batch(data)


@post("/contacts", status_code=202, responses=problems(400, 401, 409, 413, 415, 422))
async def upsert_contact(data: JSONBody[ContactIn], events: NamedDependency[EventService]) -> Accepted:
    """Create or update a contact (a `contact.updated` event, so it is ordered with the rest)."""
    return await events.one(EventInput(type="contact.updated", contact=data), "the contact")


@get("/contacts/{contact_id:str}", responses=problems(400, 401, 404))
async def contact(contacts: NamedDependency[ContactService], contact_id: FromPath[str]) -> Contact:
    return await contacts.view(contact_id)


@get("/runs", responses=problems(400, 401))
async def runs(
    runs: NamedDependency[RunService], scenario: FromQuery[str | None] = None, contact: FromQuery[str | None] = None,
    status: FromQuery[RunStatus | None] = None, step: FromQuery[str | None] = None, after: After = 0,
    limit: Limit = 50,
) -> RunPage:  # fmt: skip
    """Runs, oldest first, filtered by scenario, contact, status and current step."""
    return await runs.page(scenario=scenario, contact=contact, status=status, step=step, after=after, limit=limit)


@get("/runs/{run_id:int}", responses=problems(400, 401, 404))
async def run(runs: NamedDependency[RunService], run_id: Id) -> RunDetail:
    """One run: where it is, until when it sleeps, its variables, and every decision with its reason."""
    return await runs.detail(run_id)


@post("/runs/{run_id:int}/cancel", status_code=200, responses=problems(400, 401, 404, 409))
async def cancel(runs: NamedDependency[RunService], run_id: Id) -> RunDetail:
    return await runs.cancel(run_id, "cancelled over the API")


@get("/scenarios/{name:str}/steps", responses=problems(400, 401, 404, 422))
async def steps(
    scenarios: NamedDependency[ScenarioService], name: FromPath[str], after: FromQuery[str | None] = None,
    limit: Limit = 100,
) -> StepPage:  # fmt: skip
    """Per step, in the scenario's order: how many runs reached it (each once, by how the
    step ended for it) and how many are at it now (by status)."""
    return await scenarios.steps_page(name, after, limit)


@get("/messages", responses=problems(400, 401))
async def messages(
    messages: NamedDependency[MessageService], contact: FromQuery[str | None] = None,
    status: FromQuery[MessageStatus | None] = None, channel: FromQuery[ChannelName | None] = None,
    scenario: FromQuery[str | None] = None, after: After = 0, limit: Limit = 50,
) -> MessagePage:  # fmt: skip
    """Messages in the outbox, oldest first: pending, sent, failed (with why and the class
    of failure) or skipped; filtered by contact, status, channel and scenario."""
    return await messages.page(contact=contact, status=status, channel=channel, scenario=scenario, after=after,
                               limit=limit)  # fmt: skip


@get("/messages/{message_id:int}", responses=problems(400, 401, 404))
async def message(messages: NamedDependency[MessageService], message_id: Id) -> dict[str, Any]:
    return await messages.detail(message_id)


#: A report's bound: a date, or a time with its offset (without one, UTC).
Moment = Annotated[str | None, Parameter(
    description="a date (2025-03-01) or a time (2025-03-01T10:00:00Z); UTC unless it has an offset",
    schema_extra={"any_of": [Schema(format=OpenAPIFormat.DATE), Schema(format=OpenAPIFormat.DATE_TIME)]},
)]  # fmt: skip


@get("/reports/{name:str}", responses=problems(400, 401, 404, 422))
async def report(
    reports: NamedDependency[ReportService], name: FromPath[str], since: Moment = None, until: Moment = None
) -> Report:
    """Sent, delivered, bounced, opened, clicked, ordered, revenue, unsubscribed, CTR and
    conversion per step and variant, for messages sent in [since, until) (default: the
    last 30 days, and under `scn serve --demo` all the demo's time; dates in UTC unless
    they carry an offset)."""
    return await reports.scenario(name, since, until)


router = Router(
    "/api",
    route_handlers=[post_events, upsert_contact, contact, runs, run, cancel, steps, messages, message, report],
    guards=[require_api_key],
    security=KEYED,
    dependencies=dependencies(),
    tags=["data"],
)
