"""What one event does to a contact's runs, in the engine's events batch: projections,
the default group, segments and redemptions, then exit goals, runs waiting for the
event, and the triggers that start new runs.

`EventRouting` is the part of `Engine` (engine.py) that reads the event's type against
the installed scenarios' index; the engine keeps the index up to date as scenarios are
installed, and owns the loop, the batches and the commits.
"""

from __future__ import annotations

from typing import Any

from ..program import Bundle, Program, Trigger
from ..settings import Settings
from ..store import EXITED, RUNNING, EventRow, RunRow, ScenarioRow, StepLog, Store, decode_json
from ..views import EventView, RunView
from .batch import Batch
from .evaluate import Env, condition
from .events import apply_projections
from .executor import Executor, Tracer
from .facts import RunFacts, contact_zone, event_fields, event_roots
from .membership import redeem, update_segments
from .orders import OrderMove, order_refusal


class EventRouting:
    """The engine's handling of one event (mixed into `Engine`, which sets these)."""

    store: Store
    settings: Settings
    tracer: Tracer | None
    executor: Executor
    bundles: dict[int, Bundle]
    current: Bundle | None
    scenarios: dict[str, ScenarioRow]
    #: By event type: the (scenario, trigger index) it starts, the scenarios it exits.
    _triggers: dict[str, list[tuple[str, int]]]
    _exits: dict[str, list[str]]
    #: Event types some `wait for` waits for (in any version still in use).
    _awaited: set[str]

    async def bundle(self, version: int) -> Bundle:
        raise NotImplementedError

    async def _handle(self, batch: Batch, event: EventRow, payload: dict[str, Any]) -> None:
        move = await apply_projections(batch, event, payload)
        order_id = (payload.get("order") or {}).get("id")
        order = await batch.order(order_id)
        if self.current is not None:
            await self._default_group(batch, self.current, event.contact_id, event.occurred_at)
            await update_segments(batch, self.current, event.contact_id, every_ms=self.settings.segment_sweep_ms)
            if order is not None:
                await redeem(batch, self.current, event, order, self._coupon_tracer(batch, event.contact_id))
        contact = await batch.contact(event.contact_id)
        await self._exits_for(batch, event, order_id, contact, order)
        await self._resume_for(batch, event, order_id, contact, order)
        await self._triggers_for(batch, event, order_id, contact, order, move)

    async def _default_group(self, batch: Batch, bundle: Bundle, contact_id: str, at: int) -> None:
        """A contact without a group joins the default group (the Skyservice habit)."""
        contact = await batch.contact(contact_id)
        if contact.get("grp"):
            return
        default = next((g.name for g in bundle.groups.values() if g.default), None)
        if default is not None:
            batch.update_contact(contact_id, {"grp": default}, at)

    def _same_order(self, run: RunRow, order_id: str | None) -> bool:
        """Exit goals and awaited events about an order count only for the run's own order."""
        return run.order_id is None or order_id is None or run.order_id == order_id

    async def _where(
        self, batch: Batch, expression: Any, bundle: Bundle, event: EventRow, contact: dict[str, Any],
        order: dict[str, Any] | None, run: RunRow | None,
    ) -> bool:  # fmt: skip
        if expression is None:
            return True
        roots = event_roots(event, contact, order, bundle)
        if run is not None:
            roots["run"] = RunView(run.started_at, run.variant)
            trigger = await batch.event(run.trigger_event)
            if trigger is not None:
                roots["trigger"] = EventView(event_fields(trigger, await batch.order(run.order_id), bundle))
        env = Env(roots, bundle, RunFacts(batch, bundle, event.contact_id), batch.now,
                  contact_zone(contact, self.settings.default_timezone))  # fmt: skip
        return await condition(expression, env)

    async def _exits_for(
        self, batch: Batch, event: EventRow, order_id: str | None, contact: dict[str, Any],
        order: dict[str, Any] | None,
    ) -> None:  # fmt: skip
        scenarios = set(self._exits.get(event.type, ()))
        if not scenarios:
            return
        for run in await batch.live_runs(event.contact_id, scenarios):
            if not self._same_order(run, order_id):
                continue
            bundle = await self.bundle(run.bundle)
            program = bundle.scenarios[run.scenario]
            for goal in program.exits:
                if goal.event == event.type and await self._where(
                    batch, goal.where, bundle, event, contact, order, run
                ):
                    run.status = EXITED
                    run.reason = f"exit when {goal.event}"
                    run.wake_at = None
                    run.await_event = None
                    run.ended_at = batch.now_ms
                    run.dirty = True
                    self._trace(batch, run, "exit", f"exit when {goal.event}", "exited", f"{event.type} arrived")
                    break

    async def _resume_for(
        self, batch: Batch, event: EventRow, order_id: str | None, contact: dict[str, Any],
        order: dict[str, Any] | None,
    ) -> None:  # fmt: skip
        if event.type not in self._awaited:
            return
        for run in await batch.awaiting_runs(event.contact_id, event.type):
            if not self._same_order(run, order_id):
                continue
            bundle = await self.bundle(run.bundle)
            waiting = bundle.scenarios[run.scenario].instructions[run.position]
            if await self._where(batch, getattr(waiting, "where", None), bundle, event, contact, order, run):
                paused = self.scenarios[run.scenario].state == "paused"
                await self.executor.resume(batch, run, event.type, hold=paused, since=event.occurred_at)

    async def _triggers_for(
        self, batch: Batch, event: EventRow, order_id: str | None, contact: dict[str, Any],
        order: dict[str, Any] | None, move: OrderMove | None,
    ) -> None:  # fmt: skip
        started: set[str] = set()
        for scenario, index in self._triggers.get(event.type, ()):
            if scenario in started:
                continue  # one run per event and scenario, however many of its triggers match
            row = self.scenarios[scenario]
            bundle = self.bundles[row.bundle]
            program = bundle.scenarios[scenario]
            trigger = program.triggers[index]
            if trigger.date is not None and decode_json(event.payload).get("data", {}).get(
                "trigger"
            ) != trigger.date.key(scenario):
                continue  # another scenario's date, or another date of this one
            if not await self._where(batch, trigger.where, bundle, event, contact, order, None):
                continue
            run_order = order_id if "order" in program.carries else None
            refusal = order_refusal(event, order, move, program.max_order_age_ms)
            refusal = refusal or await self._entry_refusal(batch, program, event.contact_id, run_order)
            if refusal is not None:
                if self.tracer is not None:
                    self.tracer(batch.now, event.contact_id, scenario, "entry", f"on {event.type}", "skipped", refusal)
                continue
            started.add(scenario)
            run = RunRow(
                id=self.store.allocate_run_id(),
                scenario=scenario,
                version=row.version,
                bundle=row.bundle,
                contact_id=event.contact_id,
                order_id=run_order,
                trigger_event=event.id,
                position=0,
                step=None,
                vars={},
                variant=None,
                status=RUNNING,
                wake_at=None,
                await_event=None,
                started_at=batch.now_ms,
                updated_at=batch.now_ms,
            )
            batch.add_run(run)
            self._trace(batch, run, "start", _trigger_text(trigger, event), "started", f"run {run.id}")
            await self.executor.advance(batch, run, EventView(event_fields(event, order, bundle)), event.occurred_at)

    async def _entry_refusal(self, batch: Batch, program: Program, contact_id: str, order_id: str | None) -> str | None:
        """Why an entry rule keeps a contact out of a scenario now, or None."""
        for limit in program.entry_limits:
            since = batch.now_ms - limit.window_ms if limit.window_ms is not None else None
            if limit.scope == "order":
                if order_id is None:
                    continue
                count = await batch.count_runs(program.name, contact_id=contact_id, order_id=order_id, since=since)
            else:
                count = await batch.count_runs(program.name, contact_id=contact_id, since=since)
            if count >= limit.count:
                window = f" within {limit.window_ms // 86_400_000}d" if limit.window_ms else ""
                return f"entry rule: at most {limit.count} per {limit.scope}{window}"
        return None

    def _coupon_tracer(self, batch: Batch, contact_id: str) -> Any:
        def trace(name: str, outcome: str, detail: str | None, coupon: str | None) -> None:
            if self.tracer is not None:
                self.tracer(batch.now, contact_id, f"coupon {coupon or '(unknown)'}", "redeem", name, outcome, detail)

        return trace

    def _trace(self, batch: Batch, run: RunRow, step: str, name: str, outcome: str, detail: str | None) -> None:
        """A decision about a run made outside its steps (start, exit): in its log and the trace."""
        batch.changes.step_log.append(StepLog(run.id, step, name, batch.now_ms, outcome, detail))
        if self.tracer is not None:
            self.tracer(batch.now, run.contact_id, run.scenario, step, name, outcome, detail)


def _trigger_text(trigger: Trigger, event: EventRow) -> str:
    """How a run's start is told: `on order.paid`, `on date contact.birthday (2026-05-12)`."""
    if trigger.date is None:
        return f"on {event.type}"
    data = decode_json(event.payload).get("data") or {}
    return f"on date {trigger.date.field.dotted} ({data.get('date')})"
