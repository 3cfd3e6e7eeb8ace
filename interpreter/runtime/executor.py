"""Executing a run's program until it waits or ends.

Every step the run takes is logged (step id, readable name, time, outcome, why) and its
effects (messages in the outbox, list changes, coupons, bonus, contact changes) go into
the batch, written in the same transaction as the run's new position.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from babel import Locale

from ...grammar._format import expr_text
from ...stdlib import formatting, messages, tracking
from ...stdlib.coupons import generate_code
from ...stdlib.failures import ADDRESS, COUPON, TEMPLATE, address_problem, template_reason
from ...stdlib.loyalty import bonus_for_order
from .. import program as p
from ..store import (
    AWAITING,
    DONE,
    FAILED,
    RUNNING,
    STOPPED,
    UNDELIVERED,
    WAITING,
    BonusEntry,
    CouponIssue,
    OutboxIn,
    RunRow,
    StepLog,
)
from ..timing import after_quiet_hours, next_time_of_day
from ..values import Money, Percent, to_decimal
from . import wire
from .batch import Batch, ms_of
from .evaluate import Env, EvaluationError, as_timedelta, condition, deciding_part, evaluate, literal
from .facts import RunFacts, contact_zone, event_fields, run_roots
from .settings import Settings
from .views import ADDRESS_FIELDS, BonusView, CouponView, EventView, OrderView, channel_flags, moment

UTC = dt.UTC
#: A program has no loops, so a run that takes this many steps at once has a bug.
MAX_STEPS = 10_000

Tracer = Callable[[dt.datetime, str, str, str, str, str, str | None], None]


logger = logging.getLogger("scn.runtime")


class Executor:
    def __init__(self, bundles: dict[int, p.Bundle], settings: Settings, tracer: Tracer | None = None) -> None:
        self.bundles = bundles
        self.settings = settings
        self.tracer = tracer

    # ------------------------------------------------------------ the loop

    async def advance(
        self, batch: Batch, run: RunRow, trigger: EventView | None = None, since: int | None = None
    ) -> None:
        """Run ``run`` from its position while it is running. ``since`` (ms): when the event
        that moves it happened; its waits count from then, not from when it was processed."""
        bundle = self.bundles[run.bundle]
        program = bundle.scenarios[run.scenario]
        context = _RunContext(self, batch, bundle, program, run, trigger, since)
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
            _RunContext(self, batch, bundle, bundle.scenarios[run.scenario], run, None).log(
                instruction, "timed out", f"no {instruction.event} in time"
            )
        run.status = RUNNING
        run.wake_at = None
        await self.advance(batch, run)

    def fail(self, batch: Batch, run: RunRow, reason: str) -> None:
        """End a run that the runtime could not execute (a bug, not the scenario's doing)."""
        bundle = self.bundles[run.bundle]
        program = bundle.scenarios[run.scenario]
        context = _RunContext(self, batch, bundle, program, run, None)
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
        _RunContext(self, batch, bundle, bundle.scenarios[run.scenario], run, None).log(
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


class _RunContext:
    """One run being executed: its program, records, and how it logs and changes things."""

    def __init__(
        self, executor: Executor, batch: Batch, bundle: p.Bundle, program: p.Program, run: RunRow,
        trigger: EventView | None, since: int | None = None,
    ) -> None:  # fmt: skip
        self.executor = executor
        #: The moment this stretch of the run began (ms): waits count from it. The event's
        #: own time when an event moved the run, else now; a wait already over moves it on.
        self.since = min(since, batch.now_ms) if since is not None else batch.now_ms
        self.settings = executor.settings
        self.batch = batch
        self.bundle = bundle
        self.program = program
        self.run = run
        self._trigger = trigger
        #: A low-stock warning about the pool a code was just drawn from, for the step's log.
        self.stock_note = ""

    # ------------------------------------------------------------ helpers

    def log(self, instruction: p.Instr, outcome: str, detail: str | None = None) -> None:
        self.batch.changes.step_log.append(
            StepLog(self.run.id, instruction.id, instruction.name, self.batch.now_ms, outcome, detail)
        )
        tracer = self.executor.tracer
        if tracer is not None:
            tracer(self.batch.now, self.run.contact_id, self.run.scenario, instruction.id, instruction.name, outcome,
                   detail)  # fmt: skip

    def finish(self, status: str, reason: str | None) -> None:
        run = self.run
        run.status = status
        run.reason = reason
        run.wake_at = None
        run.await_event = None
        run.ended_at = self.batch.now_ms

    def sleep_until(self, wake: dt.datetime) -> None:
        self.run.status = WAITING
        self.run.wake_at = max(ms_of(wake), self.batch.now_ms)

    def over(self, i: p.Instr, wake_ms: int) -> bool:
        """Is a wait counted from the event's time over already? Then the run goes on at once,
        from the moment the wait ended."""
        if wake_ms > self.batch.now_ms:
            return False
        self.log(i, "waited", f"until {_iso(_at(wake_ms))}: over when the event was processed")
        self.since = wake_ms
        return True

    async def trigger(self) -> EventView:
        if self._trigger is None:
            event = await self.batch.event(self.run.trigger_event)
            order = await self.batch.order(self.run.order_id)
            self._trigger = EventView(event_fields(event, order, self.bundle) if event else {})
        return self._trigger

    async def contact(self) -> dict[str, Any]:
        return await self.batch.contact(self.run.contact_id)

    async def env(self) -> Env:
        contact = await self.contact()
        order = await self.batch.order(self.run.order_id)
        roots = run_roots(self.run, contact, order, await self.trigger(), self.bundle)
        return Env(
            roots,
            self.bundle,
            RunFacts(self.batch, self.bundle, self.run.contact_id),
            self.batch.now,
            contact_zone(contact, self.settings.default_timezone),
        )

    # ------------------------------------------------------------ steps

    async def step(self, i: p.Instruction) -> None:
        run = self.run
        if isinstance(i, p.Jump):
            run.position = i.target
        elif isinstance(i, p.End):
            self.log(i, "done")
            self.finish(DONE, None)
        elif isinstance(i, p.Wait):
            run.position += 1
            if i.fixed_ms is not None:  # most waits are written as a duration: nothing to evaluate
                if i.fixed_ms > 0 and not self.over(i, self.since + i.fixed_ms):
                    run.status = WAITING
                    run.wake_at = self.since + i.fixed_ms
                    self.log(i, "waiting", f"until {_iso_minute(run.wake_at // 60_000)}")
                return
            value = await evaluate(i.duration, await self.env())
            if value is None:
                self.log(i, "skipped", "the duration is unset: no wait")
                return
            duration = as_timedelta(value)
            wake_ms = self.since + int(duration.total_seconds() * 1000)
            if duration > dt.timedelta(0) and not self.over(i, wake_ms):
                self.sleep_until(_at(wake_ms))
                self.log(i, "waiting", f"until {_iso(_at(wake_ms))}")
        elif isinstance(i, p.WaitUntil):
            contact = await self.contact()
            tz = contact_zone(contact, self.settings.default_timezone)
            since = _at(self.since)
            wake = next_time_of_day(since, dt.time(i.hour, i.minute), tz)
            run.position += 1
            if wake > since and not self.over(i, ms_of(wake)):
                self.sleep_until(wake)
                self.log(i, "waiting", f"until {_iso(wake)} ({wake.astimezone(tz):%H:%M} {tz.key})")
        elif isinstance(i, p.WaitFor):
            limit = await evaluate(i.timeout, await self.env())
            if limit is None:
                self.log(i, "timed out", "the time limit is unset")
                run.position = i.on_timeout
                return
            timeout = as_timedelta(limit)
            deadline = _at(self.since) + timeout
            run.status = AWAITING
            run.await_event = i.event
            run.wake_at = ms_of(deadline)
            self.log(i, "waiting", f"for {i.event} until {_iso(deadline)}")
        elif isinstance(i, p.Branch):
            holds = await condition(i.condition, await self.env())
            self.log(i, "checked", "yes" if holds else "no")
            run.position = run.position + 1 if holds else i.otherwise
        elif isinstance(i, p.Bands):
            await self._bands(i)
        elif isinstance(i, p.Split):
            self._split(i)
        elif isinstance(i, p.Stop):
            await self._stop(i)
        elif isinstance(i, p.Send):
            await self._send(i)
        elif isinstance(i, p.ChangeList):
            await self._change_list(i)
        elif isinstance(i, p.IssueCoupon):
            await self._issue(i)
        elif isinstance(i, p.AwardBonus):
            await self._award(i)
        elif isinstance(i, p.SetGroup):
            await self._set_group(i)
        elif isinstance(i, p.SetAttribute):
            value = await evaluate(i.value, await self.env())
            contact = await self.contact()
            attributes = {**(contact.get("attributes") or {}), i.attribute: wire.stored(value)}
            self.batch.update_contact(contact["id"], {"attributes": attributes})
            self.log(i, "done", f"{i.attribute} = {_shown(value)}")
            run.position += 1
        elif isinstance(i, p.CallWebhook):
            await self._webhook(i)
        else:  # pragma: no cover - every instruction is handled above
            raise AssertionError(type(i).__name__)

    async def _bands(self, i: p.Bands) -> None:
        value = await evaluate(i.subject, await self.env())
        for number, arm in enumerate(i.arms, start=1):
            low = literal(arm.low) if arm.low is not None else None
            high = literal(arm.high) if arm.high is not None else None
            try:
                inside = value is not None and (low is None or value >= low) and (high is None or value < high)
            except (TypeError, ValueError):
                inside = False
            if inside:
                self.log(i, "chose", f"band {number} for {_shown(value)}")
                self.run.position = arm.target
                return
        self.log(i, "chose", f"no band for {_shown(value)}")
        self.run.position = i.otherwise

    def _split(self, i: p.Split) -> None:
        # Seeded by the run and the step, so a run re-executing this step takes the same way.
        digest = hashlib.sha256(f"{self.run.id}:{self.run.scenario}:{i.id}".encode()).digest()
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

    async def _stop(self, i: p.Stop) -> None:
        if i.condition is None:
            self.log(i, "stopped")
            self.finish(STOPPED, i.name)
            return
        env = await self.env()
        holds = await condition(i.condition, env)
        if holds != i.negate:
            part = await deciding_part(i.condition, env, holds)
            self.log(i, "stopped", f"{expr_text(part)} is {'true' if holds else 'false'}")
            self.finish(STOPPED, i.name)
        else:
            self.log(i, "passed")
            self.run.position += 1

    # ------------------------------------------------------------ sending

    async def _send(self, i: p.Send) -> None:
        run, batch = self.run, self.batch
        contact = await self.contact()
        skip = await self._why_not_send(i, contact)
        if skip == "quiet":
            return  # deferred: the run sleeps at this step until the quiet hours end
        products: list[Any] | None = None
        if skip is None and i.products is not None:
            products = list(await evaluate(i.products, await self.env()) or [])
            if not products:
                # A "products for you" mail with no products in it does more harm than good.
                skip = f"no products to show: {expr_text(i.products)} found none"
        if skip is not None:
            self.log(i, "skipped", skip)
            batch.changes.outbox.append(self._outbox(i, contact, "", "{}", None, status="skipped", error=skip))
            run.position += 1
            return
        recipient = _address(contact, i.channel) or ""
        try:
            parts, variant, code, context = await self._compose(i, contact, recipient, products)
        except _SendFailed as failure:
            # In plain sight: a failed message with the reason, counted like any other.
            self.log(i, "failed", failure.reason)
            batch.changes.outbox.append(self._outbox(i, contact, recipient, "{}", failure.code, status=UNDELIVERED,
                                                     error=failure.reason, failure=failure.kind))  # fmt: skip
            run.position += 1
            return
        template = self.bundle.templates[i.template]
        links: list[str] = []
        if i.channel == "email" and "html" in parts:
            key = tracking.message_key(run.id, i.id)
            parts["html"], links = tracking.track_html(parts["html"], key, self.settings)
        message = {
            **parts,
            "links": links,
            "lang": variant.lang,
            "from_name": template.sender_name,
            "from_address": template.sender_address,
            "reply_to": template.reply_to,
            "unsubscribe_url": context["unsubscribe_url"],
        }
        batch.changes.outbox.append(self._outbox(i, contact, recipient, json.dumps(message, ensure_ascii=False), code))
        batch.message_queued(contact["id"], run.scenario)
        detail = f"{i.channel} {i.template} ({variant.lang or 'default'})" + (f" with code {code}" if code else "")
        detail += self.stock_note
        if products is not None:
            detail += "; products: " + ", ".join(getattr(p, "id", None) or str(p) for p in products)
        self.log(i, "sent", detail)
        run.position += 1

    async def _compose(
        self, i: p.Send, contact: dict[str, Any], recipient: str, products: list[Any] | None
    ) -> tuple[dict[str, str], p.TemplateVariant, str | None, dict[str, Any]]:
        """The rendered parts, the variant, the coupon code and the template context of a
        message; `_SendFailed` when it cannot be made for this contact now."""
        problem = address_problem(i.channel, recipient)
        if problem is not None:  # before a code is drawn: a pool's code is not spent on it
            raise _SendFailed(ADDRESS, problem)
        template = self.bundle.templates[i.template]
        variant = messages.choose_variant(template, contact.get("language"))
        language = messages.message_language(variant, contact.get("language"))
        coupon_view: CouponView | None = None
        code: str | None = None
        if i.coupon is not None:
            code = await self._code_for(i.coupon, None)
            if code is None:
                raise _SendFailed(COUPON, _no_code_left(i.coupon))
            coupon_view = await self._coupon_view(i.coupon, code, formatting.locale_of(language))
        context = await self._template_context(contact, template, coupon_view, products, i)
        zone = contact_zone(contact, self.settings.default_timezone)
        try:
            parts = messages.render_variant(variant, context, language, zone)
        except Exception as error:  # what one contact's data does to a template must not stop other runs
            reason = _render_failure(i.template, variant, context, error, language, zone)
            raise _SendFailed(TEMPLATE, reason, code) from error
        return parts, variant, code, context

    async def _why_not_send(self, i: p.Send, contact: dict[str, Any]) -> str | None:
        """Why this message must not go now: a reason to skip it, "quiet", or None."""
        run, batch, program = self.run, self.batch, self.program
        if "bonus" in self.bundle.templates[i.template].uses and "bonus" not in run.vars:
            # "+0 bonuses" is worse than no message: the template is about a bonus
            return f"template {i.template} tells of a bonus, but none was awarded: " + str(
                run.vars.get("bonus_missing", "no `award bonus` ran before it")
            )
        if program.frequency is not None:
            count, window = program.frequency
            sent = await batch.count_messages(contact["id"], run.scenario, batch.now_ms - window)
            if sent >= count:
                return f"frequency cap: {sent} message(s) in the last {_duration(window)}"
        if program.quiet_hours is not None:
            tz = contact_zone(contact, self.settings.default_timezone)
            start_h, start_m, end_h, end_m = program.quiet_hours
            allowed = after_quiet_hours(batch.now, dt.time(start_h, start_m), dt.time(end_h, end_m), tz)
            if allowed > batch.now:
                self.sleep_until(allowed)
                self.log(i, "deferred", f"quiet hours until {allowed.astimezone(tz):%H:%M} {tz.key}")
                return "quiet"
        if not _address(contact, i.channel):
            return f"no {ADDRESS_FIELDS[i.channel]} for {i.channel}"
        subscribed, reachable = channel_flags(contact)
        if not subscribed[i.channel]:
            return f"unsubscribed from {i.channel}"
        if not reachable[i.channel]:
            return f"{i.channel} unreachable (bounced)"
        return None

    def _outbox(
        self, i: p.Instr, contact: dict[str, Any], recipient: str, message: str, code: str | None, *,
        status: str = "pending", error: str | None = None, channel: str | None = None, template: str | None = None,
        failure: str | None = None,
    ) -> OutboxIn:  # fmt: skip
        return OutboxIn(
            run_id=self.run.id,
            step=i.id,
            scenario=self.run.scenario,
            contact_id=contact["id"],
            channel=channel or str(getattr(i, "channel", "webhook")),
            template=template or getattr(i, "template", None),
            recipient=recipient,
            message=message,
            coupon_code=code,
            variant=self.run.variant,
            created_at=self.batch.now_ms,
            status=status,
            error=error,
            failure=failure,
        )

    async def _template_context(
        self, contact: dict[str, Any], template: p.Template, coupon: CouponView | None, products: list[Any] | None,
        i: p.Send,
    ) -> dict[str, Any]:  # fmt: skip
        """The variables a template sees; those it does not read are not computed."""
        env = await self.env()
        roots = env.roots
        context: dict[str, Any] = {
            "contact": roots["contact"],
            "scenario": self.program.title,
            "unsubscribe_url": self.settings.link("unsubscribe", contact["id"], i.channel),
            "preferences_url": self.settings.link("preferences", contact["id"], i.channel),
        }
        if "bestsellers" in template.uses:
            context["bestsellers"] = await self.batch.recommend(contact["id"], "bestsellers", 4)
        if "event" in template.uses:
            context["event"] = roots["event"]
        order = roots.get("order")
        if order is not None:
            context["order"] = order
            context["purchased"] = order.items
        if coupon is not None:
            context["coupon"] = coupon
        if products is not None:
            context["products"] = products
        bonus = self.run.vars.get("bonus")
        if bonus is not None:
            balance = Money(to_decimal(contact.get("bonus_balance") or 0), bonus["currency"])
            percent = Percent(bonus["percent"]) if bonus.get("percent") else None
            context["bonus"] = BonusView(Money(to_decimal(bonus["amount"]), bonus["currency"]), percent, balance)
        return context

    # ------------------------------------------------------------ coupons

    async def _code_for(self, name: str, valid_ms: int | None) -> str | None:
        """The code this run gave the contact for ``name``, issuing one if there is none yet."""
        codes = self.run.vars.setdefault("coupons", {})
        if name in codes:
            return str(codes[name]["code"])
        coupon = self.bundle.coupons[name]
        if coupon.source == "code":
            code: str | None = coupon.code
        elif coupon.source == "pool":
            code = await self.batch.draw_pool_code(name)
            left = await self.batch.pool_left(name)
            if coupon.warn_below is not None and left < coupon.warn_below:
                # Said on the run (the operator sees it in traces and reports) and in the log.
                self.stock_note = f"; pool {name} is running low: {left} codes left (warn below {coupon.warn_below})"
                logger.warning("coupon pool %s is running low: %d codes left", name, left)
        else:
            code = await self._fresh_code(coupon)
        if code is None:
            return None
        validity = valid_ms if valid_ms is not None else coupon.valid_ms
        valid_until = self.batch.now_ms + validity if validity is not None else None
        codes[name] = {"code": code, "valid_until": valid_until}
        self.batch.changes.coupons.append(
            CouponIssue(coupon=name, code=code, contact_id=self.run.contact_id, run_id=self.run.id,
                        issued_at=self.batch.now_ms, valid_until=valid_until, from_pool=coupon.source == "pool",
                        shared=coupon.source == "code")
        )  # fmt: skip
        return code

    async def _fresh_code(self, coupon: p.Coupon) -> str:
        assert coupon.pattern is not None
        issued = self.batch.remember(("codes", coupon.name), self.batch.cached(("codes", coupon.name)) or set())
        rng = None
        if self.settings.code_seed is not None:
            rng = random.Random(f"{self.settings.code_seed}:{coupon.name}:{self.run.id}:{len(issued)}")
        while True:  # 40+ random bits: a clash is rare, but a million codes make one likely
            code = generate_code(coupon.pattern, rng)
            if code not in issued and await self.batch.store.coupon_code(code) is None:
                issued.add(code)
                return code

    async def _coupon_view(self, name: str, code: str, locale: Locale) -> CouponView:
        coupon = self.bundle.coupons[name]
        issued = self.run.vars["coupons"][name]
        order = await self.batch.order(self.run.order_id)
        total = OrderView(order).total if order is not None else None
        return CouponView(
            code,
            name,
            Percent(coupon.percent) if coupon.percent is not None else None,
            Money(Decimal(coupon.amount), coupon.currency or "XXX") if coupon.amount is not None else None,
            moment(issued.get("valid_until")),
            total,
            locale,
        )

    async def _issue(self, i: p.IssueCoupon) -> None:
        code = await self._code_for(i.coupon, i.valid_ms)
        if code is None:
            self.log(i, "failed", _no_code_left(i.coupon))
        else:
            valid = self.run.vars["coupons"][i.coupon].get("valid_until")
            self.log(
                i, "issued", f"{code}" + (f" valid until {_iso(moment(valid))}" if valid else "") + self.stock_note
            )
        self.run.position += 1

    # ------------------------------------------------------------ lists, groups, bonus, webhooks

    async def _change_list(self, i: p.ChangeList) -> None:
        changed = await self.batch.change_list(i.list, self.run.contact_id, i.add)
        if changed:
            kind = "list.entered" if i.add else "list.left"
            self.batch.emit(kind, self.run.contact_id, {"list": i.list}, f"run:{self.run.id}:{i.id}")
        self.log(i, "done" if changed else "unchanged", None if changed else "already so")
        self.run.position += 1

    async def _set_group(self, i: p.SetGroup) -> None:
        contact = await self.contact()
        previous = contact.get("grp")
        if previous != i.group:
            self.batch.update_contact(contact["id"], {"grp": i.group})
            self.batch.emit("group.changed", contact["id"], {"group": i.group, "previous_group": previous},
                            f"run:{self.run.id}:{i.id}")  # fmt: skip
        self.log(i, "done" if previous != i.group else "unchanged", f"from {previous or 'no group'}")
        self.run.position += 1

    async def _award(self, i: p.AwardBonus) -> None:
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

    async def _webhook(self, i: p.CallWebhook) -> None:
        env = await self.env()
        body = {name: wire.stored(await evaluate(value, env)) for name, value in i.fields}
        body.update(scenario=self.run.scenario, contact_id=self.run.contact_id, run_id=self.run.id, step=i.id)
        contact = await self.contact()
        self.batch.changes.outbox.append(
            self._outbox(i, contact, i.url, json.dumps(body, ensure_ascii=False), None, channel="webhook",
                         template=None)
        )  # fmt: skip
        self.log(i, "queued", i.url)
        self.run.position += 1


class _SendFailed(Exception):
    """A message that cannot be made for this contact now: it is recorded as failed."""

    def __init__(self, kind: str, reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        #: The coupon code already given to the contact for it, if any.
        self.code = code


def _no_code_left(coupon: str) -> str:
    return f"no code left for coupon {coupon}: its pool is used up; import more codes"


def _render_failure(
    template: str, variant: p.TemplateVariant, context: dict[str, Any], error: Exception, language: str | None,
    zone: ZoneInfo,
) -> str:  # fmt: skip
    """Why ``variant`` did not render, naming the part that fails (each is rendered alone
    to find it: only on this path, which is rare)."""
    for part, text in variant.parts.items():
        try:
            messages.render_variant(msgspec.structs.replace(variant, parts={part: text}), context, language, zone)
        except Exception as alone:
            return template_reason(template, variant.lang, part, variant.sources.get(part), text, alone)
    return template_reason(template, variant.lang, None, None, None, error)


def _address(contact: dict[str, Any], channel: str) -> str | None:
    field = ADDRESS_FIELDS[channel]
    value = contact.get(field) if field in contact else (contact.get("attributes") or {}).get(field)
    return str(value) if value else None


def _at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, UTC)


def _iso(moment_: dt.datetime | None) -> str:
    if moment_ is None:
        return "-"
    return _iso_minute(int(moment_.timestamp()) // 60)


@functools.lru_cache(maxsize=4096)
def _iso_minute(minute: int) -> str:
    """A minute as "2025-03-01T10:00Z" (runs woken together share their minutes: cached)."""
    moment_ = dt.datetime.fromtimestamp(minute * 60, UTC)
    return moment_.isoformat(timespec="minutes")[:16] + "Z"  # isoformat: 5x strftime's speed


def _duration(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _shown(value: Any) -> str:
    if value is None:
        return "an unset value"
    if isinstance(value, dt.datetime):
        return _iso(value)
    return str(value)


__all__ = ["Executor", "Tracer"]
