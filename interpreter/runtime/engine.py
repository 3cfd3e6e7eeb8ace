"""The engine: accepts events, starts, resumes and ends runs, and wakes runs when due.

Runs are rows, not coroutines: a million sleeping runs cost disk, not memory. One loop
alternates between two kinds of batch, each one transaction:

* events (in the order they were accepted): projections, exit goals, runs waiting for
  the event, and triggers that start new runs;
* runs whose wake-up time has come, oldest first.

Producers hand events to `accept`, which commits them (sharing one transaction with
whoever else is accepting at the same moment) before it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import msgspec

from ...stdlib.catalog import EventSpec
from ...stdlib.recommend import Recommender
from .. import telemetry
from ..clock import Clock, idle_until, ms_of
from ..compiler import program_digest
from ..program import Bundle, Program, WaitFor
from ..settings import Settings
from ..store import (
    Changes,
    EventIn,
    EventRow,
    RunRow,
    ScenarioRow,
    Store,
    WorkTakenOver,
    decode_json,
)
from ..store.unavailable import unavailable
from ..versions import RunMove, RunPlace, plan_moves
from .batch import Batch
from .broadcasts import Broadcasts
from .dates import DateRule, look_at_dates
from .events import Door, EventInput, custom_spec, normalise
from .executor import Executor, Tracer
from .membership import update_segments
from .routing import EventRouting

UTC = dt.UTC
#: Runs due within this many milliseconds make the next events batch smaller.
DUE_SOON_MS = 100
#: How often (wall-clock seconds) the loop asks the store to refresh its planner
#: statistics: SQLite's advice for a long-lived connection is every few hours.
OPTIMIZE_EVERY_S = 3 * 3600.0
#: The first and the longest wait for a store that cannot be used for now (locked, full).
STORE_RETRY_S, STORE_RETRY_MAX_S = 1.0, 30.0
#: `_checks_for` while no timed segment is deployed (the store keeps no moments then).
_UNTIMED = ""
#: `Engine._date_due` when no contact's date trigger is ahead (None there means: not known).
_NEVER = 2**62
#: Events handled between two turns given to the rest of the event loop.
YIELD_EVERY = 25
logger = logging.getLogger("scn.runtime")


class KeyConflict(Exception):
    """An idempotency key already accepted with other content."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the key {key!r} was accepted before with other content")
        self.key = key


def _content(payload: str) -> dict[str, Any]:
    document: dict[str, Any] = decode_json(payload)
    document.pop("at", None)
    return document


def _refusals(batches: list[list[EventIn]]) -> Callable[[dict[str, str]], list[str | None]]:
    """For one group commit: given the payloads already accepted under its keys, the key
    that refuses each request (or None). A known idempotency key sent with different
    content (its `at` aside: a retry may stamp a new one) refuses its request, and nothing
    of that request is accepted; a later request of the group that repeats a key of an
    earlier accepted one is compared with it too. Keys made up by the door are new by
    construction."""

    def refusals(payloads: dict[str, str]) -> list[str | None]:
        # Payload texts: decoded only when two differ (a new key has nothing to compare with).
        known = dict(payloads)
        refused: list[str | None] = []
        for batch in batches:
            mine: dict[str, str] = {}
            clash = None
            for event in batch:
                if event.key.startswith("auto:"):
                    continue
                before = mine.get(event.key, known.get(event.key))
                if before is not None and before != event.payload and _content(before) != _content(event.payload):
                    clash = event.key
                    break
                mine[event.key] = event.payload
            if clash is None:
                known.update(mine)
            refused.append(clash)
        return refused

    return refusals


class Engine(EventRouting):
    def __init__(
        self, store: Store, clock: Clock, settings: Settings | None = None, tracer: Tracer | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings or Settings()
        # What a batch traces is told only once its commit is made: a batch undone (to be
        # redone one item at a time) must not leave its steps in `scn simulate`'s timeline.
        self._trace_out = tracer
        self._traced: list[tuple[dt.datetime, str, str, str, str, str, str | None]] = []
        self.tracer = self._hold_trace if tracer is not None else None
        self.bundles: dict[int, Bundle] = {}
        #: The newest bundle: its segments and coupons are the workspace's current ones.
        self.current: Bundle | None = None
        self.scenarios: dict[str, ScenarioRow] = {}
        self.executor = Executor(self.bundles, self.settings, self.tracer)
        self.recommender = Recommender(store)
        self.broadcasts = Broadcasts(store, clock, self.settings, tracer)
        self._triggers: dict[str, list[tuple[str, int]]] = {}
        self._exits: dict[str, list[str]] = {}
        #: Event types some `wait for` waits for (in any version still in use).
        self._awaited: set[str] = set()
        #: Event types anything reacts to (triggers, exits, waits).
        self._listened: set[str] = set()
        #: What arriving events are checked against (the current workspace).
        self.door = Door(None, {})
        self._wake = asyncio.Event()
        #: When the loop's current step began (None while idle), and when it last handled
        #: an event or a run (time.monotonic()): see stalled_for().
        self.busy_since: float | None = None
        self.progress_at = time.monotonic()
        self._intake: list[tuple[list[EventIn], asyncio.Future[list[tuple[int, bool]]]]] = []
        self._intake_task: asyncio.Task[None] | None = None
        #: The timed segments whose checks the store holds (their digest), once made sure of.
        self._checks_for: str | None = None
        #: The date triggers of active scenarios, by key (`DateTrigger.key`), and those the
        #: store was last made sure of (None: not yet since this engine started).
        self._date_rules: dict[str, DateRule] = {}
        self._dates_for: tuple[str, ...] | None = None
        #: The earliest moment a contact's date triggers are due, as last read (None: to be
        #: read again). A commit that changes one forgets it: most steps need no query.
        self._date_due: int | None = None
        #: Called after a commit that put messages in the outbox (the sender's nudge).
        self.on_outbox: list[Callable[[], None]] = []
        #: Called after intake committed events, and after scenarios were installed,
        #: paused, resumed or archived: how an engine loop in another process hears of them.
        self.on_accepted: list[Callable[[], None]] = []
        self.on_installed: list[Callable[[], None]] = []

    # ------------------------------------------------------------ scenarios

    async def load(self) -> None:
        """Read the scenarios and the bundles their current versions live in."""
        self.scenarios = {row.name: row for row in await self.store.scenarios()}
        for row in self.scenarios.values():
            await self.bundle(row.bundle)
        latest = await self.store.latest_bundle()
        self.current = await self.bundle(latest) if latest is not None else None
        self._index()
        await self.broadcasts.sync(self.scenarios, self.bundles)

    async def bundle(self, version: int) -> Bundle:
        if version not in self.bundles:
            blob = await self.store.bundle_blob(version)
            if blob is None:
                raise KeyError(f"bundle {version} is missing")
            bundle = msgspec.msgpack.decode(blob, type=Bundle)
            bundle.version = version
            self.bundles[version] = bundle
        return self.bundles[version]

    def program(self, scenario: str) -> Program:
        row = self.scenarios[scenario]
        return self.bundles[row.bundle].scenarios[scenario]

    def _index(self) -> None:
        triggers: dict[str, list[tuple[str, int]]] = defaultdict(list)
        date_rules: dict[str, DateRule] = {}
        exits: dict[str, list[str]] = defaultdict(list)
        custom: dict[str, EventSpec] = {}
        for version in sorted(self.bundles):  # the newest declaration of an event wins
            custom.update({n: custom_spec(n, fields) for n, fields in self.bundles[version].events.items()})
        for name, row in self.scenarios.items():
            bundle = self.bundles[row.bundle]
            if row.state != "active" or name not in bundle.scenarios:
                continue
            program = bundle.scenarios[name]
            for index, trigger in enumerate(program.triggers):
                triggers[trigger.event].append((name, index))
                if trigger.date is not None:
                    date_rules[trigger.date.key(name)] = (name, trigger.date, bundle)
        # Exits and waits concern runs of every version, so index all bundles in use.
        awaited: set[str] = set()
        for bundle in self.bundles.values():
            for name, program in bundle.scenarios.items():
                for goal in program.exits:
                    if name not in exits[goal.event]:
                        exits[goal.event].append(name)
                awaited |= {i.event for i in program.instructions if isinstance(i, WaitFor)}
        self._triggers, self._exits, self._awaited = dict(triggers), dict(exits), awaited
        self._date_rules = date_rules
        self._listened = set(self._triggers) | set(self._exits) | awaited
        self.door = Door(self.current, custom)
        self.executor.policy = self.current.policy if self.current is not None else None

    async def install(
        self, bundle: Bundle, files: dict[str, str] | None = None, *, draft: bool = False, actor: str = "system"
    ) -> dict[str, int]:
        """Store a compiled workspace; scenarios whose program changed get a new version
        (a ``draft`` one takes no runs until published), audited as ``actor``'s.

        Runs in flight stay on the bundle they started with.
        """
        digests = {name: program_digest(program) for name, program in bundle.scenarios.items()}
        # Encoded without its id, so the same workspace always makes the same blob.
        blob = msgspec.msgpack.encode(msgspec.structs.replace(bundle, version=0))
        encoded = msgspec.msgpack.encode(files) if files is not None else None
        version, versions = await self.store.save_bundle(
            blob, digests, ms_of(self.clock.now()), encoded, draft=draft, actor=actor
        )
        bundle.version = version
        self.bundles[version] = bundle
        await self.load()
        self._installed()
        return versions

    async def publish(
        self, scenario: str, version: int, actor: str, action: str = "publish", unmatched: str | None = None
    ) -> list[RunMove]:
        """Make ``version`` the scenario's current one (a draft's publication, or a rollback).
        With ``unmatched`` ("finish", "exit" or a label of the new version's step, see
        `plan_moves`) the runs in flight move to it in the same transaction; returns their plan."""
        planner = await self._move_planner(scenario, version, unmatched) if unmatched is not None else None
        now = ms_of(self.clock.now())
        moves = await self.store.publish_version(scenario, version, now, actor, action, move=planner)
        await self.load()
        self._installed()
        return moves

    async def plan_move(self, scenario: str, version: int, unmatched: str) -> list[RunMove]:
        """What moving the scenario's runs in flight to ``version`` would do; changes nothing."""
        planner = await self._move_planner(scenario, version, unmatched)
        return planner(await self.store.live_places(scenario, version))

    async def _move_planner(
        self, scenario: str, version: int, unmatched: str
    ) -> Callable[[list[RunPlace]], list[RunMove]]:
        """A plan for runs on the versions that have live runs now (and the current one)."""
        bundles = {v: b for v, b, *_ in await self.store.scenario_versions(scenario)}
        wanted = {p.version for p in await self.store.live_places(scenario, version)} | {version}
        if scenario in self.scenarios:
            wanted.add(self.scenarios[scenario].version)
        programs = {v: (await self.bundle(bundles[v])).scenarios[scenario] for v in wanted}
        return lambda runs: plan_moves(runs, programs, programs[version], version, unmatched)

    async def set_state(self, scenario: str, state: str) -> None:
        """Pause, resume or archive a scenario."""
        await self.store.set_scenario_state(scenario, state, ms_of(self.clock.now()))
        await self.load()
        self._installed()

    async def pause_broadcast(self, name: str) -> bool:
        """Stop making a broadcast's runs and hold those made (its scenario is paused)."""
        if not await self.store.pause_broadcast(name, self.clock_ms()):
            return False
        await self.set_state(name, "paused")
        return True

    async def resume_broadcast(self, name: str) -> bool:
        if not await self.store.resume_broadcast(name, self.clock_ms()):
            return False
        await self.set_state(name, "active")
        return True

    async def cancel_broadcast(self, name: str, reason: str) -> tuple[int, int] | None:
        """Cancel a broadcast: (runs, messages) it stopped, or None when it had ended."""
        stopped = await self.store.cancel_broadcast(name, self.clock_ms(), reason)
        if stopped is not None:
            await self.load()
            self._installed()
        return stopped

    def _installed(self) -> None:
        self._wake.set()
        for listener in self.on_installed:
            listener()

    # ------------------------------------------------------------ intake

    def event_in(self, event: EventInput, now: dt.datetime | None = None) -> EventIn:
        """The row an input event becomes (``now`` for events without a time: one reading
        of the clock for a whole request)."""
        return normalise(event, now or self.clock.now(), self.door)

    async def accept(self, events: list[EventIn]) -> list[tuple[int, bool]]:
        """Commit events durably; returns (id, duplicate) for each once they are on disk.

        Callers that arrive while a commit is under way wait for the next one and share it.
        A key already accepted with other content raises KeyConflict, and nothing is accepted.
        """
        future: asyncio.Future[list[tuple[int, bool]]] = asyncio.get_running_loop().create_future()
        self._intake.append((events, future))
        if self._intake_task is None or self._intake_task.done():
            self._intake_task = asyncio.create_task(self._commit_intake())
        return await future

    async def _commit_intake(self) -> None:
        """Commit what waits, a group at a time: one transaction (one hand-off to the store's
        writer) reads the keys already accepted, refuses the requests whose keys clash and
        inserts the rest."""
        while self._intake:
            waiting, self._intake = self._intake, []
            try:
                answers = await self.store.append_batches(
                    [batch for batch, _ in waiting], ms_of(self.clock.now()), _refusals([b for b, _ in waiting])
                )
            except Exception as error:
                for _, future in waiting:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), answer in zip(waiting, answers, strict=True):
                if future.done():
                    continue
                if isinstance(answer, str):
                    future.set_exception(KeyConflict(answer))
                else:
                    future.set_result(answer)
            self._wake.set()
            for listener in self.on_accepted:
                listener()

    # ------------------------------------------------------------ the loop

    async def step(self) -> bool:
        """Do one batch of due runs and one of events; False when there was nothing to do.

        Both every time: a steady stream of events must not keep due runs waiting. Due
        runs go first (a run waits for earlier events about its own contact anyway:
        `Store.due_runs`), and when runs are due within `DUE_SOON_MS` the events batch is
        smaller, so that a batch of events (tens of milliseconds for hundreds) does not
        make the next ones late."""
        due = await self.run_due()
        next_wake = await self.store.next_wake()
        soon = next_wake is not None and next_wake <= ms_of(self.clock.now()) + DUE_SOON_MS
        size = self.settings.batch_size
        events = await self.process_events(max(20, size // 5) if soon else size)
        swept = await self.sweep_segments()
        queued = await self.broadcasts.step(self.scenarios, self.bundles)
        dated = await self.sweep_dates()
        return events + due + swept + queued + dated > 0

    async def next_due(self) -> int | None:
        """The earliest moment (ms) something is due: a run's wake-up, a contact's segment
        check, a broadcast's start or a contact's date."""
        moments = (await self.store.next_wake(), await self._next_check(), self.broadcasts.next_due(self.scenarios),
                   await self._next_date_check())  # fmt: skip
        candidates = [m for m in moments if m is not None]
        return min(candidates, default=None)

    def _timed_digest(self) -> str | None:
        """What the moments of the segment checks depend on: the timed segments' definitions
        (and how often those that cannot be followed are looked at); None without any."""
        timed = [s for s in self.current.segments.values() if s.timed] if self.current is not None else []
        if not timed:
            return None
        text = msgspec.msgpack.encode([timed, self.settings.segment_sweep_ms])
        return hashlib.sha256(text).hexdigest()

    async def _next_check(self) -> int | None:
        digest = self._timed_digest()
        if digest is None:
            if self._checks_for != _UNTIMED:  # events stop keeping the moments from here on
                await self.store.forget_segment_checks()
                self._checks_for = _UNTIMED
            return None
        if digest != self._checks_for:
            return self.clock_ms()  # the checks are to be made sure of first
        return await self.store.next_segment_check()

    async def _next_date_check(self) -> int | None:
        if not self._date_rules:
            return None if self._dates_for in (None, ()) else self.clock_ms()  # to forget them
        if tuple(sorted(self._date_rules)) != self._dates_for:
            return self.clock_ms()  # the store is to be made sure of first
        if self._date_due is None:
            self._date_due = await self._read_date_due()
        return self._date_due if self._date_due != _NEVER else None

    async def _read_date_due(self) -> int:
        found = await self.store.next_date_check()
        return found if found is not None else _NEVER

    async def sweep_dates(self) -> int:
        """Look at the contacts whose date triggers are due (a page of them; 0 when none is):
        fire the occurrences that came (dates.py) and note when each is next due."""
        keys = tuple(sorted(self._date_rules))
        now = self.clock_ms()
        if keys != self._dates_for:
            await self.store.reset_date_checks(keys, now)
            self._dates_for, self._date_due = keys, None
        if not keys or (self._date_due is not None and self._date_due > now):
            return 0
        page = await self.store.due_date_checks(now, self.settings.batch_size)
        if not page:
            self._date_due = await self._read_date_due()
            return 0
        batch = self._batch(self.clock.now())
        await batch.load_contacts(set(page))
        states = await self.store.date_states(page)
        since = await self.store.date_since()
        for contact_id in page:
            await look_at_dates(batch, self._date_rules, states, since, contact_id, self.settings.default_timezone)
        await self._commit(batch.finish())
        return len(page)

    def forget_segment_checks(self) -> None:
        """Make sure of the store's segment checks again before the next sweep (after a
        deploy by another process, or a bulk import straight into the file)."""
        self._checks_for = None
        self._date_due = None  # and read the next date check again

    async def sweep_segments(self) -> int:
        """Look at the contacts whose clock-dependent segments are due (a page of them; 0
        when none is): only those whose time condition crossed since they were last
        looked at (see crossing.py), so the cost follows the changes, not the contacts.
        After a deploy that changes a timed segment every contact is due once."""
        digest = self._timed_digest()
        if digest is None or self.current is None:
            return 0
        now = self.clock_ms()
        if digest != self._checks_for:
            await self.store.reset_segment_checks(digest, now)
            self._checks_for = digest
        page = await self.store.due_segment_checks(now, self.settings.batch_size)
        if not page:
            return 0
        batch = self._batch(self.clock.now())
        await batch.load_contacts(set(page))
        await batch.prefetch_lists(set(page))
        await batch.prefetch_segments(set(page))
        for contact_id in page:
            await update_segments(
                batch, self.current, contact_id, timed_only=True, every_ms=self.settings.segment_sweep_ms
            )
        try:
            await self._commit(batch.finish())
        except WorkTakenOver as lost:
            logger.warning("a sweep of %d contacts' segments was dropped: %s", len(page), lost)
            return 0
        return len(page)

    def _hold_trace(
        self, at: dt.datetime, contact: str, scenario: str, step: str, name: str, outcome: str, detail: str | None
    ) -> None:
        self._traced.append((at, contact, scenario, step, name, outcome, detail))

    async def _commit(self, changes: Changes) -> None:
        await self.store.commit(changes)
        if self._trace_out is not None:
            traced, self._traced = self._traced, []
            for entry in traced:
                self._trace_out(*entry)
        if changes.date_checks:
            self._date_due = None
        if any(m.status == "pending" for m in changes.outbox):
            for listener in self.on_outbox:
                listener()

    async def run_forever(self, stop: asyncio.Event) -> None:
        optimized = time.monotonic()
        waited = 0.0  # how long the last wait for an unusable store was
        while not stop.is_set():
            # Cleared before looking for work, so a nudge during the step is not lost.
            self._wake.clear()
            self.busy_since = self.progress_at = time.monotonic()
            try:
                try:
                    if time.monotonic() - optimized >= OPTIMIZE_EVERY_S:
                        optimized = time.monotonic()
                        await self.store.optimize()
                    worked = await self.step()
                finally:
                    self.busy_since = None
                if not worked:
                    await idle_until(self.clock, await self.next_due(), self._wake, stop)
                waited = 0.0
            except WorkTakenOver as lost:  # the rest of the step is for the next turn
                logger.warning("work was dropped: %s", lost)
            except Exception as error:
                why = unavailable(error)
                if why is None:
                    raise
                # Locked by another process, the disk full: nothing was changed, and the same
                # work succeeds once the store is back. Wait (longer each time) and go on.
                waited = min(max(waited * 2, STORE_RETRY_S), STORE_RETRY_MAX_S)
                logger.warning("the store cannot be used for now (%s); trying again in %.0f s", why, waited)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), waited)

    def stalled_for(self) -> float:
        """Seconds the loop has been busy without handling an event or a run (0 when idle):
        what /healthz watches, since a loop that is alive but stuck is no better than dead."""
        if self.busy_since is None:
            return 0.0
        return time.monotonic() - self.progress_at

    def nudge(self) -> None:
        """Wake the loop (after outside changes)."""
        self._wake.set()

    def _batch(self, now: dt.datetime) -> Batch:
        self._traced.clear()  # what a batch that was never committed traced
        # Events the runtime raises (list.entered...) are stored only when something can
        # react to them: a scenario, or segments (re-evaluated on every event).
        listened = None if self.current is None or self.current.segments else self._listened
        return Batch(self.store, now, self.recommender, listened, dated=bool(self._date_rules))

    async def process_events(self, limit: int | None = None) -> int:
        events = await self.store.unprocessed_events(limit or self.settings.batch_size)
        if not events:
            return 0
        try:
            await self._process(events)
        except WorkTakenOver as lost:
            logger.warning("a batch of %d events was dropped: %s", len(events), lost)
            return 0
        except Exception as error:
            if unavailable(error) is not None:
                raise  # no event's fault: run_forever waits for the store
            # One event breaks the batch: redo them one at a time, and set aside only
            # the one that fails, so that it cannot stop everything behind it.
            for event in events:
                try:
                    await self._process([event])
                except WorkTakenOver as lost:
                    logger.warning("events were dropped: %s", lost)
                    return 0
                except Exception as error:
                    if unavailable(error) is not None:
                        raise
                    logger.exception(
                        "event %s (%s) failed; it is set aside", event.id, event.type,
                        extra={"event_id": event.id, "contact": event.contact_id},
                    )  # fmt: skip
                    failed = Changes(failed_events=[(event.id, self.clock_ms(), f"{type(error).__name__}: {error}")])
                    await self.store.commit(failed)
        return len(events)

    def clock_ms(self) -> int:
        return ms_of(self.clock.now())

    async def _process(self, events: list[EventRow]) -> None:
        batch = self._batch(self.clock.now())
        contacts = {e.contact_id for e in events}
        await batch.load_contacts(contacts)
        await batch.prefetch_lists(contacts)
        if self.current is not None and self.current.segments:
            await batch.prefetch_segments(contacts)
        types = {e.type for e in events}
        if types & (self._exits.keys() | self._awaited):
            await batch.prefetch_live_runs(contacts)
        limited = {s for t in types for s, _ in self._triggers.get(t, ()) if self.program(s).entry_limits}
        if limited:
            await batch.prefetch_starts(contacts, limited)
        payloads = [decode_json(e.payload) for e in events]
        # The orders the events are about, read together when the first one is needed.
        orders = {order.get("id") for p in payloads if isinstance(order := p.get("order"), dict)}
        batch.expect(set(), {o for o in orders if isinstance(o, str)}, set())
        for number, (event, payload) in enumerate(zip(events, payloads, strict=True), start=1):
            await self._handle(batch, event, payload)
            batch.changes.processed_events.append((event.id, batch.now_ms))
            self.progress_at = time.monotonic()
            if number % YIELD_EVERY == 0:
                # Work on cached records never suspends: give the loop a turn now and then
                # so that requests (and their acknowledgements) are not held up by a batch.
                await asyncio.sleep(0)
        await self._commit(batch.finish())
        telemetry.events_processed(events, self.clock_ms())

    async def run_due(self) -> int:
        """Wake a batch of the runs whose time has come.

        A run wakes only after every event about its contact received before its
        wake-up time has been processed: a payment that came at 10:29 is seen by the
        reminder due at 10:30, even when events are backed up. (Other contacts' backlog
        does not hold it up.)"""
        now = self.clock.now()
        runs = await self.store.due_runs(ms_of(now), self.settings.batch_size)
        if not runs:
            return 0
        due = [r.wake_at for r in runs if r.wake_at is not None]  # waking moves them on
        try:
            try:
                batch = self._batch(now)
                await self._wake_batch(batch, runs)
                await self._commit(batch.finish())
                telemetry.runs_woken(due, self.clock_ms())
            except WorkTakenOver:
                raise
            except Exception as error:
                if unavailable(error) is not None:
                    raise  # no run's fault: run_forever waits for the store
                logger.warning("a batch of %d runs failed; redoing them one by one", len(runs))
                await self._wake_one_by_one(now, runs)
        except WorkTakenOver as lost:
            logger.warning("a batch of %d runs was dropped: %s", len(runs), lost)
            return 0
        return len(runs)

    async def _wake_batch(self, batch: Batch, runs: list[RunRow]) -> None:
        batch.expect(
            contacts={r.contact_id for r in runs},
            orders={r.order_id for r in runs if r.order_id},
            events={r.trigger_event for r in runs},
        )
        for run in runs:
            if run.bundle not in self.bundles:
                await self.bundle(run.bundle)
            await self.executor.wake(batch, batch.touch(run))
            self.progress_at = time.monotonic()

    async def _wake_one_by_one(self, now: dt.datetime, runs: list[RunRow]) -> None:
        """Redo runs singly, from their stored state, so that only a run that fails fails."""
        stored = [r for run in runs if (r := await self.store.run(run.id)) is not None and r.wake_at is not None]
        for run in stored:
            try:
                batch = self._batch(now)
                await self._wake_batch(batch, [run])
                await self._commit(batch.finish())
            except WorkTakenOver:
                raise
            except Exception as error:
                if unavailable(error) is not None:
                    raise
                logger.exception(
                    "run %s (%s) failed at %s", run.id, run.scenario, run.step,
                    extra={"run_id": run.id, "scenario": run.scenario, "contact": run.contact_id},
                )  # fmt: skip
                batch = self._batch(now)
                self.executor.fail(batch, batch.touch(run), f"internal error: {type(error).__name__}: {error}")
                await self._commit(batch.finish())
