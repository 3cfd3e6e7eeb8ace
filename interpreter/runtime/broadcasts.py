"""Broadcasts: at its time, a broadcast's audience becomes runs, a page at a time.

A broadcast is a program (a scenario's: steps, runs, step log, reports) whose start is
its time. Deploying it makes its row (`scheduled`, due at its start: schedule.py). When
that comes, it begins: the event its runs start from is stored and its audience counted.
Then each turn of the engine's loop gives the next page of members (in id order) a run
each, written in the transaction that moves the broadcast's cursor past them, so that a
crash mid-way resumes at the cursor and nobody gets two runs or none. A run waits for
its moment (for `local`, its contact's own clock showing the time) and then runs the
steps like any other; the engine's due runs and the sender do the rest.

Pausing a broadcast pauses its scenario (its runs hold) and stops the pages; cancelling
it stops both and the messages not yet taken by a sender.
"""

from __future__ import annotations

import datetime as dt
import logging

import msgspec

from ..clock import Clock, ms_of
from ..program import BroadcastSpec, Bundle, Program
from ..schedule import contact_moment, start_moment
from ..settings import Settings
from ..store import (
    BROADCASTING,
    RUNNING,
    SCHEDULED,
    WAITING,
    BroadcastGone,
    BroadcastRow,
    Changes,
    EventIn,
    RunRow,
    ScenarioRow,
    StepLog,
    Store,
)
from .facts import contact_zone
from .run_context import Tracer, iso_minute

UTC = dt.UTC
#: The type of the event a broadcast's runs start from: `broadcast.<name>` would read as
#: an event someone could send, so it is one type for all, with the name in its payload.
EVENT_TYPE = "broadcast"
logger = logging.getLogger("scn.runtime")


def broadcast_start(spec: BroadcastSpec, deployed_at: dt.datetime, default_zone: str) -> dt.datetime:
    """When a broadcast begins making its runs: at its start (see schedule.py), or at
    once for one without a time."""
    if spec.date is None or spec.time is None:
        return deployed_at
    return start_moment(spec.date, spec.time, spec.zone, spec.local, default_zone)


class Broadcasts:
    """The engine's part that schedules broadcasts and makes their runs."""

    def __init__(self, store: Store, clock: Clock, settings: Settings, tracer: Tracer | None = None) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.tracer = tracer
        #: The rows as last read: what is due (the store refuses a page for a broadcast
        #: that is no longer running, so a stale row costs a turn, never a wrong run).
        self.rows: dict[str, BroadcastRow] = {}

    async def sync(self, scenarios: dict[str, ScenarioRow], bundles: dict[int, Bundle]) -> None:
        """Give every active broadcast its row; a still scheduled one follows its newest version."""
        self.rows = {row.name: row for row in await self.store.broadcasts()}
        now = self.clock.now()
        changed = False
        for name, scenario in scenarios.items():
            program = bundles[scenario.bundle].scenarios.get(name)
            if program is None or program.broadcast is None or scenario.state != "active":
                continue
            row = self.rows.get(name)
            if row is not None and (row.state != SCHEDULED or row.version == scenario.version):
                continue
            due = ms_of(broadcast_start(program.broadcast, now, self.settings.default_timezone))
            await self.store.schedule_broadcast(name, scenario.version, due, ms_of(now))
            changed = True
        if changed:
            self.rows = {row.name: row for row in await self.store.broadcasts()}

    async def refresh(self) -> None:
        self.rows = {row.name: row for row in await self.store.broadcasts()}

    def _due(self, scenarios: dict[str, ScenarioRow]) -> list[BroadcastRow]:
        return [
            row
            for row in self.rows.values()
            if row.state in (SCHEDULED, BROADCASTING)
            and row.expanded_at is None
            and row.name in scenarios
            and scenarios[row.name].state == "active"
        ]

    def next_due(self, scenarios: dict[str, ScenarioRow]) -> int | None:
        """The earliest moment (ms) a broadcast has runs to make."""
        return min((row.due_at for row in self._due(scenarios)), default=None)

    async def step(self, scenarios: dict[str, ScenarioRow], bundles: dict[int, Bundle]) -> int:
        """Make one page of runs of the first broadcast due (beginning it if need be), and
        mark done the broadcasts whose runs have all ended; how much it did (0: nothing).

        A broadcast's last runs end in a turn of the loop that woke them, so the turn after
        that, which the loop takes because that one did something, sees them ended."""
        now = self.clock.now()
        now_ms = ms_of(now)
        finished = 0
        if any(r.state == BROADCASTING and r.expanded_at is not None for r in self.rows.values()):
            finished = await self.store.finish_broadcasts(now_ms)
            if finished:
                await self.refresh()
        due = sorted((r for r in self._due(scenarios) if r.due_at <= now_ms), key=lambda r: (r.due_at, r.name))
        if not due:
            return finished
        row = due[0]
        scenario = scenarios[row.name]
        program = bundles[scenario.bundle].scenarios[row.name]
        spec = program.broadcast
        assert spec is not None
        if row.state == SCHEDULED:
            event = EventIn(
                key=f"broadcast:{row.name}:{row.version}",
                type=EVENT_TYPE,
                contact_id="",
                occurred_at=now_ms,
                payload=msgspec.json.encode({"broadcast": row.name, "version": row.version}).decode(),
            )
            await self.store.begin_broadcast(row.name, spec.audience_kind, spec.audience, event, now_ms)
            await self.refresh()
            row = self.rows[row.name]
            if row.state != BROADCASTING:
                return 0
        try:
            made = await self._page(row, scenario, program, spec, now)
        except BroadcastGone:
            made = 0  # paused or cancelled meanwhile (by another process)
        await self.refresh()
        return finished + made + 1  # a page, even an empty one, is work done

    async def _page(
        self, row: BroadcastRow, scenario: ScenarioRow, program: Program, spec: BroadcastSpec, now: dt.datetime
    ) -> int:
        now_ms = ms_of(now)
        page = await self.store.audience_page(
            spec.audience_kind, spec.audience, row.cursor or "", self.settings.broadcast_page
        )
        finished = len(page) < self.settings.broadcast_page
        assert row.event_id is not None
        moments = await self._moments(spec, page, now_ms)
        changes = Changes()
        name = f"broadcast to {spec.audience_kind} {spec.audience}"
        for contact_id in page:
            moment, zone = moments.get(contact_id, (now_ms, ""))
            moment = max(moment, now_ms)
            run = RunRow(
                id=self.store.allocate_run_id(),
                scenario=row.name,
                version=scenario.version,
                bundle=scenario.bundle,
                contact_id=contact_id,
                order_id=None,
                trigger_event=row.event_id,
                position=0,
                step=None,
                vars={},
                variant=None,
                status=WAITING if moment > now_ms else RUNNING,
                wake_at=moment,
                await_event=None,
                started_at=now_ms,
                updated_at=now_ms,
            )
            changes.new_runs.append(run)
            detail = f"run {run.id}"
            if moment > now_ms:
                detail += f", due {iso_minute(moment // 60_000)} ({spec.time} {zone})"
            changes.step_log.append(StepLog(run.id, "start", name, now_ms, "started", detail))
            if self.tracer is not None:
                self.tracer(now, contact_id, row.name, "start", name, "started", detail)
        await self.store.expand_broadcast(row.name, changes, page[-1] if page else None, len(page), finished, now_ms)
        if finished:
            logger.info("broadcast %s: every member of its audience has a run", row.name)
        return len(page)

    async def _moments(self, spec: BroadcastSpec, page: list[str], now_ms: int) -> dict[str, tuple[int, str]]:
        """When each contact's run is due, and in which zone: for `local`, its own clock's."""
        if not spec.local or spec.date is None or spec.time is None:
            return {}
        contacts = await self.store.contacts(page)
        default = self.settings.default_timezone
        moments = {}
        for contact_id in page:
            zone = contact_zone(contacts.get(contact_id) or {}, default)
            moments[contact_id] = (ms_of(contact_moment(spec.date, spec.time, zone.key, default)), zone.key)
        return moments
