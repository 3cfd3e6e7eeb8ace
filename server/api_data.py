"""Events in; contacts, runs and messages out."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

import msgspec
from litestar import Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import OpenAPIFormat, Schema
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from msgspec import Meta

from ..interpreter.program import Jump, Program
from ..interpreter.runtime import EventInput
from ..interpreter.runtime.events import EARLIEST, ContactIn, EventError
from ..interpreter.store import LIVE, OutboxRow, RunRow
from ..interpreter.views import channel_flags, moment
from .core import Core
from .deps import KEYED, After, Id, Limit, get_core, instant, not_found, require_api_key
from .intake import accept, admit
from .models import (
    Accepted,
    AwardedBonus,
    ChannelName,
    Contact,
    EventsAccepted,
    IssuedCoupon,
    Message,
    MessagePage,
    MessageStatus,
    Run,
    RunDetail,
    RunPage,
    RunStatus,
    RunVariables,
    StepCount,
    StepEntry,
    StepPage,
)
from .problems import Problem, problems
from .reports import Report, default_since, scenario_report

UTC = dt.UTC
#: Most events one request may carry (bigger batches: several requests).
MAX_BATCH = 10_000
#: Events in one request: an empty list is refused (400), more than `MAX_BATCH` too (413).
Batch = Annotated[list[EventInput], Meta(min_length=1)]


@post("/events", status_code=202, responses=problems(400, 401, 409, 413, 415, 422))
async def post_events(data: JSONBody[EventInput | Batch], core: NamedDependency[Core]) -> EventsAccepted:
    """Accept one event or a batch. The answer comes once they are committed to disk;
    a key sent before is accepted again as a duplicate and recorded once."""
    events = data if isinstance(data, list) else [data]
    if not events:  # (Litestar does not apply a union arm's Meta: it documents it)
        raise Problem(400, "invalid-request", "the batch is empty: send one event or a list of at least 1")
    if len(events) > MAX_BATCH:
        raise Problem(413, "too-large", f"{len(events)} events in one request; send at most {MAX_BATCH}")
    rows = []
    now = core.clock.now()
    errors: list[dict[str, Any]] = []
    first: tuple[int, EventError] | None = None
    for index, event in enumerate(events):
        try:
            rows.append(core.engine.event_in(event, now))
        except EventError as error:
            first = first or (index, error)
            prefix = f"[{index}]." if isinstance(data, list) else ""
            errors += [{**e, "field": prefix + e["field"], "event": index} for e in error.errors]
    if first is not None:
        index, refused = first
        where = f"event {index} ({events[index].type})" if isinstance(data, list) else f"the event ({events[0].type})"
        others = len(errors) - len(refused.errors)
        more = f" (and {others} more errors)" if others else ""
        raise Problem(422, "invalid-event", f"{where}: {refused}{more}; nothing was accepted", index=index,
                      errors=errors)  # fmt: skip
    results = await accept(core, rows)
    return EventsAccepted(
        accepted=[Accepted(key=r.key, id=i, duplicate=d) for r, (i, d) in zip(rows, results, strict=True)]
    )


@post("/contacts", status_code=202, responses=problems(400, 401, 409, 413, 415, 422))
async def upsert_contact(data: JSONBody[ContactIn], core: NamedDependency[Core]) -> Accepted:
    """Create or update a contact (a `contact.updated` event, so it is ordered with the rest)."""
    event = admit(core, EventInput(type="contact.updated", contact=data), "the contact")
    ((event_id, duplicate),) = await accept(core, [event])
    return Accepted(key=event.key, id=event_id, duplicate=duplicate)


@get("/contacts/{contact_id:str}", responses=problems(400, 401, 404))
async def contact(core: NamedDependency[Core], contact_id: FromPath[str]) -> Contact:
    return await contact_view(core, contact_id)


async def contact_view(core: Core, contact_id: str) -> Contact:
    """A contact's fields, lists, segments, group, balances and subscriptions (404 if unknown)."""
    record = (await core.store.contacts([contact_id])).get(contact_id)
    if record is None:
        raise not_found(f"contact {contact_id!r}")
    subscribed, reachable = channel_flags(record)
    return Contact(
        id=contact_id, email=record.get("email"), phone=record.get("phone"), first_name=record.get("first_name"),
        last_name=record.get("last_name"), language=record.get("language"), timezone=record.get("timezone"),
        group=record.get("grp"), attributes=record.get("attributes") or {},
        lists=sorted(await core.store.lists_of(contact_id)), segments=sorted(await core.store.segments_of(contact_id)),
        subscriptions={c: {"subscribed": subscribed[c], "reachable": reachable[c]} for c in subscribed},
        bonus_balance=str(record.get("bonus_balance") or "0"), lifetime_spend=str(record.get("lifetime_spend") or "0"),
        orders_count=int(record.get("orders_count") or 0),
    )  # fmt: skip


def run_view(row: RunRow) -> Run:
    return Run(
        id=row.id, scenario=row.scenario, version=row.version, contact_id=row.contact_id, order_id=row.order_id,
        status=row.status, step=row.step, variant=row.variant, wake_at=moment(row.wake_at),
        awaiting=row.await_event, started_at=instant(row.started_at),
        updated_at=instant(row.updated_at), ended_at=moment(row.ended_at),
        reason=row.reason,
    )  # fmt: skip


@get("/runs", responses=problems(400, 401))
async def runs(
    core: NamedDependency[Core], scenario: FromQuery[str | None] = None, contact: FromQuery[str | None] = None,
    status: FromQuery[RunStatus | None] = None, step: FromQuery[str | None] = None, after: After = 0,
    limit: Limit = 50,
) -> RunPage:  # fmt: skip
    """Runs, oldest first, filtered by scenario, contact, status and current step."""
    rows = await core.store.list_runs(
        scenario=scenario, contact_id=contact, status=status, step=step, after=after, limit=limit + 1
    )
    page = rows[:limit]
    return RunPage(items=[run_view(r) for r in page], next=page[-1].id if len(rows) > limit else None)


async def run_detail(core: Core, run_id: int) -> RunDetail:
    """One run with its variables and the trace of every decision (404 if unknown)."""
    row = await core.store.run(run_id)
    if row is None:
        raise not_found(f"run {run_id}")
    trace = [
        StepEntry(step=s.step, name=s.name, at=instant(s.at),
                  outcome=s.outcome, detail=s.detail)
        for s in await core.store.run_log(run_id)
    ]  # fmt: skip
    base = run_view(row)
    messages = [message_view(m) for m in await core.store.run_messages(run_id)]
    return RunDetail(**{f: getattr(base, f) for f in base.__struct_fields__}, variables=_variables(row.vars),
                     trace=trace, messages=messages)  # fmt: skip


def _variables(stored: dict[str, Any]) -> RunVariables:
    """A run's variables as the API shows them: times (kept as epoch ms) as datetimes."""
    coupons = {name: IssuedCoupon(code=str(issued["code"]), valid_until=moment(issued.get("valid_until")))
               for name, issued in (stored.get("coupons") or {}).items()}  # fmt: skip
    bonus = stored.get("bonus")
    return RunVariables(
        coupons=coupons,
        bonus=AwardedBonus(amount=bonus["amount"], currency=bonus.get("currency"), percent=bonus.get("percent"))
        if bonus else None,
        bonus_missing=stored.get("bonus_missing"),
        variants=dict(stored.get("variants") or {}),
    )  # fmt: skip


@get("/runs/{run_id:int}", responses=problems(400, 401, 404))
async def run(core: NamedDependency[Core], run_id: Id) -> RunDetail:
    """One run: where it is, until when it sleeps, its variables, and every decision with its reason."""
    return await run_detail(core, run_id)


@post("/runs/{run_id:int}/cancel", status_code=200, responses=problems(400, 401, 404, 409))
async def cancel(core: NamedDependency[Core], run_id: Id) -> RunDetail:
    return await cancel_run(core, run_id, "cancelled over the API")


async def cancel_run(core: Core, run_id: int, reason: str) -> RunDetail:
    """Cancel a live run (404 if unknown, 409 if it has ended); the run as it is then."""
    row = await core.store.run(run_id)
    if row is None:
        raise not_found(f"run {run_id}")
    if row.status not in LIVE:
        raise Problem(409, "conflict", f"run {run_id} is {row.status} already; only live runs can be cancelled")
    await core.store.cancel_runs([run_id], core.now_ms(), reason)
    return await run_detail(core, run_id)


def _program_steps(program: Program) -> list[StepCount]:
    """Every step of a program in its order (a branch's steps where they are written),
    the start first; the jumps that join branches are not steps anyone wrote."""
    events = ", ".join(dict.fromkeys(t.event for t in program.triggers))
    steps = [StepCount(step="start", name=f"on {events}", passed=0, outcomes={}, waiting=0, here={})]
    steps += [StepCount(step=i.id, name=i.name, passed=0, outcomes={}, waiting=0, here={})
              for i in program.instructions if not isinstance(i, Jump)]  # fmt: skip
    return steps


@get("/scenarios/{name:str}/steps", responses=problems(400, 401, 404, 422))
async def steps(
    core: NamedDependency[Core], name: FromPath[str], after: FromQuery[str | None] = None, limit: Limit = 100
) -> StepPage:
    """Per step, in the scenario's order: how many runs reached it (each once, by how the
    step ended for it) and how many are at it now (by status)."""
    counts = await step_counts(core, name)
    start = 0
    if after is not None:
        found = [i for i, c in enumerate(counts) if c.step == after]
        if not found:
            raise Problem(422, "invalid-request", f"after: scenario {name} has no step {after!r}; pass a page's `next`")
        start = found[0] + 1
    page = counts[start : start + limit]
    return StepPage(items=page, next=page[-1].step if start + limit < len(counts) else None)


async def step_counts(core: Core, name: str) -> list[StepCount]:
    """Every step of a scenario in its order (steps only older versions had, exits and
    cancels after), with the runs that reached it and those at it now (404 if unknown)."""
    if name not in {s.name for s in await core.store.scenarios()}:
        raise not_found(f"scenario {name!r}")
    program = core.engine.program(name) if name in core.engine.scenarios else None
    counts = {c.step: c for c in (_program_steps(program) if program is not None else [])}
    # Steps the current version lacks (older versions' runs, exits, cancels) follow, in
    # the order runs first reached them.
    for step, label, outcome, number in await core.store.step_counts(name):
        entry = counts.setdefault(step, StepCount(step=step, name=label, passed=0, outcomes={}, waiting=0, here={}))
        entry.outcomes[outcome] = entry.outcomes.get(outcome, 0) + number
        entry.passed += number
    for at, status, number in await core.store.runs_at(name):
        if at is None:
            continue
        entry = counts.setdefault(at, StepCount(step=at, name=at, passed=0, outcomes={}, waiting=0, here={}))
        entry.here[status] = number
        if status in LIVE:
            entry.waiting += number
    return list(counts.values())


def message_view(row: OutboxRow) -> Message:
    return Message(
        id=row.id, run_id=row.run_id, scenario=row.scenario, contact_id=row.contact_id, channel=row.channel,
        template=row.template, recipient=row.recipient, status=row.status, attempts=row.attempts,
        created_at=instant(row.created_at), sent_at=moment(row.sent_at),
        error=row.error, failure=row.failure, cost=row.cost, coupon_code=row.coupon_code, variant=row.variant,
    )  # fmt: skip


@get("/messages", responses=problems(400, 401))
async def messages(
    core: NamedDependency[Core], contact: FromQuery[str | None] = None, status: FromQuery[MessageStatus | None] = None,
    channel: FromQuery[ChannelName | None] = None, scenario: FromQuery[str | None] = None, after: After = 0,
    limit: Limit = 50,
) -> MessagePage:  # fmt: skip
    """Messages in the outbox, oldest first: pending, sent, failed (with why and the class
    of failure) or skipped; filtered by contact, status, channel and scenario."""
    rows = await core.store.outbox(contact_id=contact, status=status, channel=channel, scenario=scenario, after=after,
                                   limit=limit + 1)  # fmt: skip
    page = rows[:limit]
    return MessagePage(items=[message_view(r) for r in page], next=page[-1].id if len(rows) > limit else None)


@get("/messages/{message_id:int}", responses=problems(400, 401, 404))
async def message(core: NamedDependency[Core], message_id: Id) -> dict[str, Any]:
    row = await outbox_message(core, message_id)
    body = json.loads(row.message or "{}")
    return {**msgspec.to_builtins(message_view(row)), "content": body}


async def outbox_message(core: Core, message_id: int) -> OutboxRow:
    """One message of the outbox (404 if unknown)."""
    rows = await core.store.outbox(after=message_id - 1, limit=1)
    if not rows or rows[0].id != message_id:
        raise not_found(f"message {message_id}")
    return rows[0]


#: A report's bound: a date, or a time with its offset (without one, UTC).
Moment = Annotated[str | None, Parameter(
    description="a date (2025-03-01) or a time (2025-03-01T10:00:00Z); UTC unless it has an offset",
    schema_extra={"any_of": [Schema(format=OpenAPIFormat.DATE), Schema(format=OpenAPIFormat.DATE_TIME)]},
)]  # fmt: skip


def _day(name: str, text: str | None, default: dt.datetime) -> dt.datetime:
    if text is None:
        return default
    try:
        given = dt.datetime.fromisoformat(text.upper())  # RFC 3339 allows `t` and `z`
    except ValueError as error:
        raise Problem(
            400, "invalid-request", f"{name}: {text!r} is not a date: write 2025-03-01 or 2025-03-01T10:00Z"
        ) from error
    given = given if given.tzinfo is not None else given.replace(tzinfo=UTC)
    if given < EARLIEST:  # (and `until=0001-01-01` made the default `since` overflow)
        raise Problem(
            422, "invalid-request", f"{name}: {text} is before {EARLIEST:%Y-%m-%d}, when no event can have happened"
        )
    return given


@get("/reports/{name:str}", responses=problems(400, 401, 404, 422))
async def report(
    core: NamedDependency[Core], name: FromPath[str], since: Moment = None, until: Moment = None
) -> Report:
    """Sent, delivered, bounced, opened, clicked, ordered, revenue, unsubscribed, CTR and
    conversion per step and variant, for messages sent in [since, until) (default: the
    last 30 days, and under `scn serve --demo` all the demo's time; dates in UTC unless
    they carry an offset)."""
    if name not in {s.name for s in await core.store.scenarios()}:
        raise not_found(f"scenario {name!r}")
    start, end = report_period(core, since, until)
    return await scenario_report(core, name, start, end)


def report_period(core: Core, since: str | None, until: str | None) -> tuple[dt.datetime, dt.datetime]:
    """The period [since, until) of a report as given (ISO dates, UTC unless they carry an
    offset), by default until now and from `default_since`; a 400 or 422 Problem when it is none."""
    end = _day("until", until, core.clock.now())
    start = _day("since", since, default_since(core.clock, end))
    if start >= end:
        raise Problem(422, "invalid-request", f"since ({start:%Y-%m-%d %H:%M}) must come before until")
    return start, end


router = Router(
    "/api",
    route_handlers=[post_events, upsert_contact, contact, runs, run, cancel, steps, messages, message, report],
    guards=[require_api_key],
    security=KEYED,
    dependencies={"core": Provide(get_core, sync_to_thread=False)},
    tags=["data"],
)
