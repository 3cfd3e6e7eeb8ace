"""`scn simulate`: a workspace against a timeline of events, in virtual time.

The real engine runs on an in-memory store with a virtual clock. Between events the
clock jumps straight to the next moment a run is due, so weeks pass in milliseconds and
the output is the same every time: what would be sent to whom and when, what was
skipped and why, what failed and why, and a summary.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from ..stdlib.addresses import address_error
from .checker import CheckResult
from .clock import VirtualClock, ms_of
from .compiler import compile_workspace
from .runtime import Engine, EventInput, Settings
from .runtime.events import ContactIn, EventError, explain, read_event
from .runtime.worker import import_pools
from .store import SKIPPED, UNDELIVERED, Changes, ContactUpdate, EventIn, SqliteStore, Store

UTC = dt.UTC


class SimulationError(Exception):
    """Input the simulation cannot use; the message says what and where."""


class Entry(msgspec.Struct, array_like=True):
    at: dt.datetime
    contact: str
    scenario: str
    step: str
    name: str
    outcome: str
    detail: str | None


class Summary(msgspec.Struct, kw_only=True):
    events: int
    #: scenario -> run status -> how many runs ended the simulation in it
    runs: dict[str, dict[str, int]]
    #: "scenario: channel template" -> how many messages were queued to send
    messages: dict[str, int]
    #: why messages were not sent -> how many
    skipped: dict[str, int]
    #: "scenario: channel template: failure class" -> how many messages failed
    failed: dict[str, int] = {}
    #: events an error in scn set aside (they started nothing; the log says what broke)
    set_aside: int = 0


class Result(msgspec.Struct, kw_only=True):
    timeline: list[Entry]
    summary: Summary


def read_events(path: Path) -> list[EventInput]:
    """Events from a JSON-lines file, in time order; every event needs its time (`at`)."""
    return read_timeline(path)[0]


def read_timeline(path: Path) -> tuple[list[EventInput], list[str]]:
    """Events from a JSON-lines file in time order, and where each is (`file:line`).

    Every line is read as the API reads an event; the errors of all lines are reported
    together, one `file:line: field: what was expected` each."""
    located: list[tuple[EventInput, str]] = []
    errors: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            event = read_event(line)
        except EventError as error:
            errors.append(f"{path}:{number}: {error}")
            continue
        if event.at is None or event.at.tzinfo is None:
            errors.append(f"{path}:{number}: at: a simulated event needs `at` with its offset (...+02:00 or ...Z)")
            continue
        located.append((event, f"{path}:{number}"))
    if errors:
        raise SimulationError("\n".join(errors))
    located.sort(key=lambda pair: pair[0].at or dt.datetime.min.replace(tzinfo=UTC))
    return [e for e, _ in located], [where for _, where in located]


def read_contacts(path: Path) -> list[ContactIn]:
    return read_contact_lines(path)[0]


def read_contact_lines(path: Path) -> tuple[list[ContactIn], list[str]]:
    """Contacts from a JSON-lines file, and where each is (`file:line`); the errors of all
    lines together, one `file:line: contact.field: what was expected` each. (What depends
    on the workspace, its attributes' types, is checked by `simulate`.)"""
    decoder = msgspec.json.Decoder(ContactIn)
    contacts: list[ContactIn] = []
    sources: list[str] = []
    errors: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}:{number}"
        try:
            contact = decoder.decode(line)
        except msgspec.ValidationError as error:
            message, _, at = explain(str(error)).partition(" - at `")
            errors.append(f"{where}: contact{at.rstrip('`').removeprefix('$')}: {message}")
            continue
        except msgspec.DecodeError as error:
            errors.append(f"{where}: {error}")
            continue
        # The door's rule for events' contacts (and the sender's): an address or nothing.
        why = address_error(contact.email) if contact.email is not None else None
        if why is not None:
            errors.append(f"{where}: contact.email: {contact.email!r} is not an email address: {why}")
            continue
        contacts.append(contact)
        sources.append(where)
    if errors:
        raise SimulationError("\n".join(errors))
    return contacts, sources


async def simulate(
    checked: CheckResult,
    events: list[EventInput],
    contacts: list[ContactIn] | None = None,
    until: dt.timedelta = dt.timedelta(days=60),
    settings: Settings | None = None,
    sources: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    contact_sources: list[str] | None = None,
) -> Result:
    """Run the workspace against ``events`` and go on ``until`` after the last one, so
    runs still waiting then get their chance (and the ones waiting longer show as such).

    Every event is checked against the workspace before anything runs (``sources``: where
    each event comes from, for the errors). ``progress`` is told (events played, events) as
    the timeline is played."""
    if not events:
        raise SimulationError("the timeline has no events")
    start = events[0].at
    assert start is not None
    clock = VirtualClock(start)
    timeline: list[Entry] = []

    def trace(at: dt.datetime, contact: str, scenario: str, step: str, name: str, outcome: str,
              detail: str | None) -> None:  # fmt: skip
        timeline.append(Entry(at, contact, scenario, step, name, outcome, detail))

    store = SqliteStore(":memory:", synchronous="OFF")
    await store.open()
    try:
        engine = Engine(store, clock, settings or Settings(code_seed=1, secret="simulation"), trace)
        await engine.install(compile_workspace(checked))
        await import_pools(store, checked)
        _check(engine, events, sources)
        _check_contacts(engine, contacts or [], contact_sources, start)
        await _load_contacts(store, contacts or [], ms_of(start))
        last = events[-1].at
        assert last is not None
        played = await play(engine, clock, events, last + until, progress)
        assert played == len(events)
        summary = await _summary(store, timeline, played)
    finally:
        await store.close()
    return Result(timeline=timeline, summary=summary)


def _check(engine: Engine, events: list[EventInput], sources: list[str] | None) -> None:
    errors = []
    for index, event in enumerate(events):
        try:
            engine.event_in(event, event.at)
        except EventError as error:
            where = sources[index] if sources is not None else f"event {index + 1}"
            errors += [f"{where}: {e['field']}: {e['message']}" for e in error.errors] or [f"{where}: {error}"]
    if errors:
        raise SimulationError("\n".join(errors))


def _check_contacts(engine: Engine, contacts: list[ContactIn], sources: list[str] | None, at: dt.datetime) -> None:
    """Each contact as the API takes one (in an event): its zone, language and the
    workspace's attributes in their types; a server would refuse what does not fit."""
    errors = []
    for index, contact in enumerate(contacts):
        try:
            engine.event_in(EventInput(type="contact.updated", contact=contact, at=at), at)
        except EventError as error:
            where = sources[index] if sources is not None else f"contact {index + 1}"
            errors += [f"{where}: {e['field']}: {e['message']}" for e in error.errors] or [f"{where}: {error}"]
    if errors:
        raise SimulationError("\n".join(errors))


async def _load_contacts(store: Store, contacts: list[ContactIn], at: int) -> None:
    changes = Changes()
    for contact in contacts:
        fields = {k: v for k, v in msgspec.structs.asdict(contact).items() if v is not None and k != "id"}
        if "group" in fields:
            fields["grp"] = fields.pop("group")
        if "subscriptions" in fields:
            fields["channels"] = {c: {"subscribed": s} for c, s in fields.pop("subscriptions").items()}
        changes.contacts.append(ContactUpdate(id=contact.id, at=at, fields=fields))
    await store.commit(changes)


async def play(
    engine: Engine, clock: VirtualClock, events: list[EventInput], end: dt.datetime,
    progress: Callable[[int, int], None] | None = None,
) -> int:  # fmt: skip
    """Play events and due runs in time order up to ``end``; returns how many events were played."""

    def moment(index: int) -> int | None:
        at = events[index].at
        return ms_of(at) if at is not None else None

    # Each event is read at its moment, as the API reads one arriving then.
    return await _play(engine, clock, len(events), moment, lambda i: engine.event_in(events[i]), end, progress)


async def replay(
    engine: Engine, clock: VirtualClock, events: Sequence[EventIn], end: dt.datetime,
    progress: Callable[[int, int], None] | None = None,
) -> int:  # fmt: skip
    """`play` of events accepted once already (read back from a store), in time order."""
    return await _play(engine, clock, len(events), lambda i: events[i].occurred_at, events.__getitem__, end, progress)


async def _play(
    engine: Engine, clock: VirtualClock, count: int, moment_of: Callable[[int], int | None],
    event: Callable[[int], EventIn], end: dt.datetime, progress: Callable[[int, int], None] | None,
) -> int:  # fmt: skip
    """Events 0..count-1 (each at ``moment_of`` it, in ms; None: at once) and due runs, in
    time order up to ``end``."""
    index = 0
    last = ms_of(end)
    while True:
        # Everything due now first (events accepted earlier, runs whose time has come),
        # then the events of this moment.
        while await engine.step():
            pass
        now = ms_of(clock.now())
        arriving = []
        while index < count and (moment_of(index) or now) <= now:
            arriving.append(event(index))
            index += 1
        if arriving:
            await engine.accept(arriving)
            while await engine.process_events():
                pass
            if progress is not None:
                progress(index, count)
            continue
        candidates = [m for m in (moment_of(index) if index < count else None, await engine.next_due()) if m]
        moment = min(candidates, default=None)
        if moment is None or moment > last:
            if clock.now() < end:
                clock.advance_to(end)  # one more pass for what is due at the very end
                continue
            return index
        clock.advance_to(dt.datetime.fromtimestamp(moment / 1000, UTC))


async def _summary(store: SqliteStore, timeline: list[Entry], events: int) -> Summary:
    messages: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for scenario, channel, template, status, failure, count in await store.message_counts():
        what = f"{scenario}: {channel} {template}".rstrip()
        if status == UNDELIVERED:
            failed[f"{what}: {failure or 'unknown'}"] += count
        elif status != SKIPPED:
            messages[what] += count
    skipped: Counter[str] = Counter(e.detail or e.name for e in timeline if e.outcome == "skipped")
    set_aside = (await store.metrics())["events"].get("failed", 0)
    return Summary(events=events, runs=await store.run_counts(), messages=dict(sorted(messages.items())),
                   skipped=dict(sorted(skipped.items())), failed=dict(sorted(failed.items())),
                   set_aside=set_aside)  # fmt: skip


def render_text(result: Result) -> str:
    """One line per thing that happened (times in UTC), then the summary."""
    header = ("time (UTC)", "contact", "scenario", "step")
    widths = [len(h) for h in header]
    for e in result.timeline:
        for column, value in enumerate((e.contact, e.scenario, e.step), start=1):
            widths[column] = max(widths[column], len(value))
    widths[0] = len("2025-01-01 00:00")

    def row(*cells: str) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)) + "  " + cells[-1]

    lines = [row(*header, "what happened")]
    for e in result.timeline:
        detail = f": {e.detail}" if e.detail else ""
        when = e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        lines.append(row(when, e.contact, e.scenario, e.step, f"{e.name} -> {e.outcome}{detail}"))
    s = result.summary
    lines.append("")
    lines.append(f"events: {s.events}")
    lines.append("runs:")
    for scenario, statuses in s.runs.items():
        lines.append(f"  {scenario}: " + ", ".join(f"{count} {status}" for status, count in statuses.items()))
    lines.append("messages:")
    lines.extend(f"  {count:>4}  {what}" for what, count in s.messages.items())
    if s.skipped:
        lines.append("skipped:")
        lines.extend(f"  {count:>4}  {why}" for why, count in s.skipped.items())
    if s.failed:
        lines.append("failed:")
        lines.extend(f"  {count:>4}  {what}" for what, count in s.failed.items())
    if s.set_aside:
        lines.append("set aside:")
        lines.append(f"  {s.set_aside:>4}  events (an error in scn: they started nothing; the log above says what)")
    return "\n".join(lines) + "\n"


def render_json(result: Result) -> str:
    document: Any = msgspec.to_builtins(result)
    document["timeline"] = [
        {"at": e[0], "contact": e[1], "scenario": e[2], "step": e[3], "name": e[4], "outcome": e[5], "detail": e[6]}
        for e in document["timeline"]
    ]
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
