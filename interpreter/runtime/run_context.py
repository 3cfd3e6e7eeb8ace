"""One run being executed: its program, its records, and how it logs and changes things.

The steps themselves are in sending.py (sends and coupons) and executor.py (the rest);
each is a method of the run's context named after its instruction (`visit_Wait`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from .. import program as p
from ..clock import ms_of
from ..environment import Env
from ..settings import Settings
from ..store import WAITING, OutboxIn, RunRow, StepLog
from ..views import EventView
from .batch import Batch
from .facts import RunFacts, contact_zone, event_fields, run_roots

UTC = dt.UTC

Tracer = Callable[[dt.datetime, str, str, str, str, str, str | None], None]


class RunContext:
    """One run being executed: its program, records, and how it logs and changes things."""

    def __init__(
        self, settings: Settings, tracer: Tracer | None, batch: Batch, bundle: p.Bundle, program: p.Program,
        run: RunRow, trigger: EventView | None, since: int | None = None,
    ) -> None:  # fmt: skip
        self.tracer = tracer
        #: The moment this stretch of the run began (ms): waits count from it. The event's
        #: own time when an event moved the run, else now; a wait already over moves it on.
        self.since = min(since, batch.now_ms) if since is not None else batch.now_ms
        self.settings = settings
        self.batch = batch
        self.bundle = bundle
        self.program = program
        self.run = run
        self._trigger = trigger
        #: A low-stock warning about the pool a code was just drawn from, for the step's log.
        self.stock_note = ""
        #: The workspace's sending policy (the executor's).
        self.policy: p.Policy | None = None

    # ------------------------------------------------------------ helpers

    def log(self, instruction: p.Instr, outcome: str, detail: str | None = None) -> None:
        self.batch.changes.step_log.append(
            StepLog(self.run.id, instruction.id, instruction.name, self.batch.now_ms, outcome, detail)
        )
        tracer = self.tracer
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
        self.log(i, "waited", f"until {iso(moment_at(wake_ms))}: over when the event was processed")
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

    def outbox_row(
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


def moment_at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, UTC)


def iso(moment_: dt.datetime | None) -> str:
    if moment_ is None:
        return "-"
    return iso_minute(int(moment_.timestamp()) // 60)


@functools.lru_cache(maxsize=4096)
def iso_minute(minute: int) -> str:
    """A minute as "2025-03-01T10:00Z" (runs woken together share their minutes: cached)."""
    moment_ = dt.datetime.fromtimestamp(minute * 60, UTC)
    return moment_.isoformat(timespec="minutes")[:16] + "Z"  # isoformat: 5x strftime's speed


def duration_text(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def shown(value: Any) -> str:
    if value is None:
        return "an unset value"
    if isinstance(value, dt.datetime):
        return iso(value)
    return str(value)
