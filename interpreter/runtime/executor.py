"""Executing a run's program until it waits or ends.

Every step the run takes is logged (step id, readable name, time, outcome, why) and its
effects (messages in the outbox, list changes, coupons, bonus, contact changes) go into
the batch, written in the same transaction as the run's new position. Each kind of
instruction is a method named after it (`visit_Wait`); sends and coupons are in
sending.py, what every step shares in run_context.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import typing
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ...grammar._format import expr_text
from ...stdlib.loyalty import bonus_for_order
from .. import program as p
from ..clock import duration_ms, ms_of
from ..settings import Settings
from ..store import AWAITING, DONE, FAILED, RUNNING, STOPPED, WAITING, BonusEntry, RunRow
from ..timing import day_of_next_month, next_time_of_day, start_of_day
from ..values import CurrencyError, Money, Percent, to_decimal
from ..views import EventView, OrderView
from . import wire
from .batch import Batch
from .evaluate import EvaluationError, as_timedelta, deciding_part, decision, evaluate, literal, too_far
from .facts import contact_zone
from .run_context import Tracer, iso, iso_minute, moment_at, shown
from .sending import SendSteps

UTC = dt.UTC
#: The last moment the calendar holds (9999-12-31): no wait ends after it.
_LAST_MS = ms_of(dt.datetime(dt.MAXYEAR, 12, 31, tzinfo=UTC))
#: A program has no loops, so a run that takes this many steps at once has a bug.
MAX_STEPS = 10_000

logger = logging.getLogger("scn.runtime")


class Executor:
    def __init__(self, bundles: dict[int, p.Bundle], settings: Settings, tracer: Tracer | None = None) -> None:
        self.bundles = bundles
        self.settings = settings
        self.tracer = tracer
        #: The workspace's sending policy: the newest upload's, for runs on any version
        #: (one policy for the workspace; the engine sets it as it loads).
        self.policy: p.Policy | None = None

    # ------------------------------------------------------------ the loop

    async def advance(
        self, batch: Batch, run: RunRow, trigger: EventView | None = None, since: int | None = None
    ) -> None:
        """Run ``run`` from its position while it is running. ``since`` (ms): when the event
        that moves it happened; its waits count from then, not from when it was processed."""
        bundle = self.bundles[run.bundle]
        program = bundle.scenarios[run.scenario]
        context = _Steps(self.settings, self.tracer, batch, bundle, program, run, trigger, since)
        context.policy = self.policy
        steps = 0
        while run.status == RUNNING:
            steps += 1
            if steps > MAX_STEPS:
                context.finish(FAILED, "the run took too many steps at once")
                break
            instruction = program.instructions[run.position]
            run.step = instruction.id
            try:
                await context.step(instruction)
            except EvaluationError as error:
                context.log(instruction, "failed", f"could not evaluate: {error}")
                context.finish(FAILED, str(error))
        run.updated_at = batch.now_ms
        run.dirty = True

    async def wake(self, batch: Batch, run: RunRow) -> None:
        """A due run: its wait is over (or its awaited event did not come in time)."""
        bundle = self.bundles[run.bundle]
        instruction = bundle.scenarios[run.scenario].instructions[run.position]
        if run.status == AWAITING and isinstance(instruction, p.WaitFor):
            run.position = instruction.on_timeout
            run.await_event = None
            _Steps(self.settings, self.tracer, batch, bundle, bundle.scenarios[run.scenario], run, None).log(
                instruction, "timed out", f"no {instruction.event} in time"
            )
        run.status = RUNNING
        run.wake_at = None
        await self.advance(batch, run)

    def fail(self, batch: Batch, run: RunRow, reason: str) -> None:
        """End a run that the runtime could not execute (a bug, not the scenario's doing)."""
        bundle = self.bundles[run.bundle]
        program = bundle.scenarios[run.scenario]
        context = _Steps(self.settings, self.tracer, batch, bundle, program, run, None)
        instruction = program.instructions[min(run.position, len(program.instructions) - 1)]
        context.log(instruction, "failed", reason)
        context.finish(FAILED, reason)
        run.updated_at = batch.now_ms
        run.dirty = True

    async def resume(
        self, batch: Batch, run: RunRow, event_type: str, *, hold: bool = False, since: int | None = None
    ) -> None:
        """An awaited event came: go on after the `wait for`.

        With ``hold`` (the scenario is paused) the run only notes that the event came and
        waits, due at once, for the scenario to be resumed."""
        bundle = self.bundles[run.bundle]
        instruction = bundle.scenarios[run.scenario].instructions[run.position]
        _Steps(self.settings, self.tracer, batch, bundle, bundle.scenarios[run.scenario], run, None).log(
            instruction, "event", f"{event_type} came"
        )
        run.position += 1
        run.await_event = None
        if hold:
            run.status = WAITING
            run.wake_at = batch.now_ms  # held by the store while the scenario is paused
            run.updated_at = batch.now_ms
            run.dirty = True
            return
        run.status = RUNNING
        run.wake_at = None
        await self.advance(batch, run, since=since)


class _Steps(SendSteps):
    """A run's context with every kind of step."""

    async def step(self, i: p.Instruction) -> None:
        """Take one step, by the method named after its instruction (`visit_Wait`...)."""
        await _VISITORS[type(i)](self, i)

    async def visit_Jump(self, i: p.Jump) -> None:
        self.run.position = i.target

    async def visit_End(self, i: p.End) -> None:
        self.log(i, "done")
        self.finish(DONE, None)

    async def visit_Wait(self, i: p.Wait) -> None:
        run = self.run
        run.position += 1
        if i.fixed_ms is not None:  # most waits are written as a duration: nothing to evaluate
            if i.fixed_ms > 0 and not self.over(i, self.since + i.fixed_ms):
                run.status = WAITING
                run.wake_at = self.since + i.fixed_ms
                self.log(i, "waiting", f"until {iso_minute(run.wake_at // 60_000)}")
            return
        value = await evaluate(i.duration, await self.env())
        if value is None:
            self.log(i, "skipped", "the duration is unset: no wait")
            return
        duration = as_timedelta(value)
        wake_ms = self.since + duration_ms(duration)
        if wake_ms > _LAST_MS:
            raise EvaluationError(too_far(i.duration))
        if duration > dt.timedelta(0) and not self.over(i, wake_ms):
            self.sleep_until(moment_at(wake_ms))
            self.log(i, "waiting", f"until {iso(moment_at(wake_ms))}")

    async def visit_WaitUntil(self, i: p.WaitUntil) -> None:
        contact = await self.contact()
        tz = contact_zone(contact, self.settings.default_timezone)
        since = moment_at(self.since)
        wake = next_time_of_day(since, dt.time(i.hour, i.minute), tz)
        self.run.position += 1
        if wake > since and not self.over(i, ms_of(wake)):
            self.sleep_until(wake)
            self.log(i, "waiting", f"until {iso(wake)} ({wake.astimezone(tz):%H:%M} {tz.key})")

    async def visit_WaitUntilDay(self, i: p.WaitUntilDay) -> None:
        tz = contact_zone(await self.contact(), self.settings.default_timezone)
        since = moment_at(self.since)
        self._wait_until(i, next_time_of_day(since, dt.time(i.hour, i.minute), tz, i.days), tz)

    async def visit_WaitUntilMonthDay(self, i: p.WaitUntilMonthDay) -> None:
        tz = contact_zone(await self.contact(), self.settings.default_timezone)
        since = moment_at(self.since)
        self._wait_until(i, day_of_next_month(since, i.day, dt.time(i.hour, i.minute), tz), tz)

    async def visit_WaitUntilValue(self, i: p.WaitUntilValue) -> None:
        env = await self.env()
        value = await evaluate(i.value, env)
        if value is None:
            self.run.position += 1
            self.log(i, "skipped", f"{expr_text(i.value)} is unset: no wait")
            return
        if isinstance(value, dt.datetime):
            wake = value.astimezone(UTC)
        elif isinstance(value, dt.date):
            try:
                wake = start_of_day(value, env.tz)
            except OverflowError:  # the calendar's first or last day, where the zone is past its edge
                wake = env.moment_of(value)
        else:
            raise EvaluationError(f"not a date: {value!r}")
        if wake <= moment_at(self.since):
            self.run.position += 1
            self.log(i, "skipped", f"{expr_text(i.value)} ({iso(wake)}) has passed: no wait")
            return
        self._wait_until(i, wake, env.tz)

    def _wait_until(self, i: p.Instr, wake: dt.datetime, tz: ZoneInfo) -> None:
        """Sleep until ``wake`` unless it is now (or was, when the event that moved the run came)."""
        self.run.position += 1
        if wake > moment_at(self.since) and not self.over(i, ms_of(wake)):
            self.sleep_until(wake)
            self.log(i, "waiting", f"until {iso(wake)} ({wake.astimezone(tz):%a %Y-%m-%d %H:%M} {tz.key})")

    async def visit_WaitFor(self, i: p.WaitFor) -> None:
        run = self.run
        limit = await evaluate(i.timeout, await self.env())
        if limit is None:
            self.log(i, "timed out", "the time limit is unset")
            run.position = i.on_timeout
            return
        timeout = max(as_timedelta(limit), dt.timedelta(0))  # none left: it times out at once
        if self.since + duration_ms(timeout) > _LAST_MS:
            raise EvaluationError(too_far(i.timeout))
        deadline = moment_at(self.since) + timeout
        run.status = AWAITING
        run.await_event = i.event
        run.wake_at = ms_of(deadline)
        self.log(i, "waiting", f"for {i.event} until {iso(deadline)}")

    async def visit_Branch(self, i: p.Branch) -> None:
        holds = await decision(i.condition, await self.env())
        self.log(i, "checked", "yes" if holds else "no")
        self.run.position = self.run.position + 1 if holds else i.otherwise

    async def visit_SetAttribute(self, i: p.SetAttribute) -> None:
        value = await evaluate(i.value, await self.env())
        contact = await self.contact()
        attributes = {**(contact.get("attributes") or {}), i.attribute: wire.stored(value)}
        self.batch.update_contact(contact["id"], {"attributes": attributes})
        # A timed segment may compare the clock with it: the sweep looks at the contact now
        # and computes its next moment anew (crossing.py), as after an event.
        self.batch.changes.segment_checks.append((contact["id"], self.batch.now_ms))
        self.log(i, "done", f"{i.attribute} = {shown(value)}")
        self.run.position += 1

    async def visit_Bands(self, i: p.Bands) -> None:
        value = await evaluate(i.subject, await self.env())
        for number, arm in enumerate(i.arms, start=1):
            low = literal(arm.low) if arm.low is not None else None
            high = literal(arm.high) if arm.high is not None else None
            try:
                inside = value is not None and (low is None or value >= low) and (high is None or value < high)
            except CurrencyError as error:  # which band an amount of another currency is in, nobody knows
                raise EvaluationError(f"money of two currencies: {error}") from error
            except (TypeError, ValueError):
                inside = False
            if inside:
                self.log(i, "chose", f"band {number} for {shown(value)}")
                self.run.position = arm.target
                return
        self.log(i, "chose", f"no band for {shown(value)}")
        self.run.position = i.otherwise

    async def visit_Split(self, i: p.Split) -> None:
        # Seeded by the scenario, the step and the contact: a run re-executing this step takes
        # the same way, and so does the same contact entering the split again (unless the
        # split is drawn per run: then by the run, which a re-execution keeps too).
        who = f"run {self.run.id}" if i.per_run else self.run.contact_id
        digest = hashlib.sha256(f"{self.run.scenario}:{i.id}:{who}".encode()).digest()
        point = Decimal(int.from_bytes(digest[:8], "big") % 1_000_000) / Decimal(10_000)
        total = Decimal(0)
        for arm in i.arms:
            total += Decimal(arm.weight)
            if point < total:
                self.run.variant = arm.name
                self.run.vars.setdefault("variants", {})[i.id] = arm.name
                self.log(i, "chose", f"variant {arm.name}")
                self.run.position = arm.target
                return
        self.run.variant = "control"
        self.run.vars.setdefault("variants", {})[i.id] = "control"
        self.log(i, "chose", "control group")
        self.run.position = i.after

    async def visit_Stop(self, i: p.Stop) -> None:
        if i.condition is None:
            self.log(i, "stopped")
            self.finish(STOPPED, i.name)
            return
        env = await self.env()
        holds = await decision(i.condition, env)
        if holds != i.negate:
            part = await deciding_part(i.condition, env, holds)
            self.log(i, "stopped", f"{expr_text(part)} is {'true' if holds else 'false'}")
            self.finish(STOPPED, i.name)
        else:
            self.log(i, "passed")
            self.run.position += 1

    async def visit_ChangeList(self, i: p.ChangeList) -> None:
        changed = await self.batch.change_list(i.list, self.run.contact_id, i.add)
        if changed:
            kind = "list.entered" if i.add else "list.left"
            self.batch.emit(kind, self.run.contact_id, {"list": i.list}, f"run:{self.run.id}:{i.id}")
        self.log(i, "done" if changed else "unchanged", None if changed else "already so")
        self.run.position += 1

    async def visit_SetGroup(self, i: p.SetGroup) -> None:
        contact = await self.contact()
        previous = contact.get("grp")
        if previous != i.group:
            self.batch.update_contact(contact["id"], {"grp": i.group})
            self.batch.emit("group.changed", contact["id"], {"group": i.group, "previous_group": previous},
                            f"run:{self.run.id}:{i.id}")  # fmt: skip
        self.log(i, "done" if previous != i.group else "unchanged", f"from {previous or 'no group'}")
        self.run.position += 1

    async def visit_AwardBonus(self, i: p.AwardBonus) -> None:
        contact = await self.contact()
        reason = f"{self.run.scenario}:{i.id}"
        percent: Percent | None = None
        if i.amount is not None:
            amount = await evaluate(i.amount, await self.env())
            if amount is None:
                self.log(i, "skipped", "the amount is unset")
                self.run.vars["bonus_missing"] = "the amount was unset"
                self.run.position += 1
                return
            if not isinstance(amount, Money):
                raise EvaluationError(f"a bonus must be money, not {amount!r}")
            if amount.amount < 0:  # a bonus is credited, never taken back (a refund is its own event)
                self.log(i, "skipped", f"the amount {amount} is below zero: no bonus")
                self.run.vars["bonus_missing"] = f"the amount {amount} was below zero"
                self.run.position += 1
                return
        else:
            order = await self.batch.order(self.run.order_id)
            group = self.bundle.groups.get(contact.get("grp") or "")
            program = self.bundle.programs.get(group.program or "") if group is not None else None
            if order is None or program is None or program.kind != "bonus":
                why = "no order to pay a bonus on" if order is None else "the contact's group has no bonus program"
                self.log(i, "skipped", why)
                self.run.vars["bonus_missing"] = why
                self.run.position += 1
                return
            total = OrderView(order).total
            assert total is not None
            # Tiers in one currency say nothing of money in another: which tier, nobody knows.
            spent_in = contact.get("currency") or total.currency
            for what, currency in (("the order", total.currency), ("the contact's spend", spent_in)):
                if currency != program.currency:
                    raise EvaluationError(
                        f"money of two currencies: the tiers of program {program.name} are in {program.currency}, "
                        f"{what} in {currency}"
                    )
            spend_before = to_decimal(contact.get("lifetime_spend") or 0) - total.amount
            amount, percent = bonus_for_order(program, max(spend_before, Decimal(0)), total)
        if await self.batch.store.bonus_paid(contact["id"], self.run.order_id, reason):
            self.log(i, "skipped", "already awarded for this order")
            self.run.position += 1
            return
        balance = to_decimal(contact.get("bonus_balance") or 0) + amount.amount
        self.batch.update_contact(contact["id"], {"bonus_balance": str(balance)})
        self.batch.changes.bonus.append(
            BonusEntry(
                contact_id=contact["id"],
                order_id=self.run.order_id,
                run_id=self.run.id,
                amount=str(amount.amount),
                currency=amount.currency,
                reason=reason,
                at=self.batch.now_ms,
            )
        )
        self.run.vars["bonus"] = {
            "amount": str(amount.amount),
            "currency": amount.currency,
            "percent": str(percent.value) if percent is not None else None,
        }
        self.log(i, "awarded", f"{amount}" + (f" ({percent})" if percent is not None else ""))
        self.run.position += 1

    async def visit_CallWebhook(self, i: p.CallWebhook) -> None:
        env = await self.env()
        body = {name: wire.stored(await evaluate(value, env)) for name, value in i.fields}
        body.update(scenario=self.run.scenario, contact_id=self.run.contact_id, run_id=self.run.id, step=i.id)
        contact = await self.contact()
        self.batch.changes.outbox.append(
            self.outbox_row(i, contact, i.url, json.dumps(body, ensure_ascii=False), None, channel="webhook",
                         template=None)
        )  # fmt: skip
        self.log(i, "queued", i.url)
        self.run.position += 1


#: The method of each kind of instruction (an instruction without one is a bug).
_VISITORS: dict[type, Callable[[_Steps, Any], Awaitable[None]]] = {
    kind: getattr(_Steps, f"visit_{kind.__name__}") for kind in typing.get_args(p.Instruction)
}

__all__ = ["Executor", "Tracer"]
