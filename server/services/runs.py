"""Runs: pages of runs by scenario, contact, status and step; one run with its trace; cancelling."""

from __future__ import annotations

from typing import Any

from ...interpreter.program import Program
from ...interpreter.store import LIVE, RunRow
from ...interpreter.views import moment
from ..core import Core
from ..deps import instant, not_found
from ..models import AwardedBonus, IssuedCoupon, Run, RunDetail, RunPage, RunVariables, StepEntry
from ..problems import Problem
from .messages import message_view


def run_view(row: RunRow) -> Run:
    return Run(
        id=row.id, scenario=row.scenario, version=row.version, contact_id=row.contact_id, order_id=row.order_id,
        status=row.status, step=row.step, variant=row.variant, wake_at=moment(row.wake_at),
        awaiting=row.await_event, started_at=instant(row.started_at),
        updated_at=instant(row.updated_at), ended_at=moment(row.ended_at),
        reason=row.reason,
    )  # fmt: skip


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


class RunService:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def page(
        self, *, scenario: str | None = None, contact: str | None = None, status: str | None = None,
        step: str | None = None, after: int = 0, limit: int = 50,
    ) -> RunPage:  # fmt: skip
        """Runs, oldest first, filtered by scenario, contact, status and current step."""
        rows = await self.core.store.list_runs(
            scenario=scenario, contact_id=contact, status=status, step=step, after=after, limit=limit + 1
        )
        page = rows[:limit]
        return RunPage(items=[run_view(r) for r in page], next=page[-1].id if len(rows) > limit else None)

    async def of_contact(self, contact_id: str, limit: int) -> list[Run]:
        """A contact's latest runs."""
        return [run_view(r) for r in await self.core.store.contact_runs(contact_id, limit)]

    async def detail(self, run_id: int) -> RunDetail:
        """One run with its variables and the trace of every decision (404 if unknown)."""
        store = self.core.store
        row = await store.run(run_id)
        if row is None:
            raise not_found(f"run {run_id}")
        trace = [
            StepEntry(step=s.step, name=s.name, at=instant(s.at),
                      outcome=s.outcome, detail=s.detail)
            for s in await store.run_log(run_id)
        ]  # fmt: skip
        base = run_view(row)
        messages = [message_view(m) for m in await store.run_messages(run_id)]
        return RunDetail(**{f: getattr(base, f) for f in base.__struct_fields__}, variables=_variables(row.vars),
                         trace=trace, messages=messages)  # fmt: skip

    async def program(self, run_id: int) -> Program | None:
        """The program of the version a run runs (None for an unknown run)."""
        row = await self.core.store.run(run_id)
        if row is None:
            return None
        return (await self.core.engine.bundle(row.bundle)).scenarios.get(row.scenario)

    async def cancel(self, run_id: int, reason: str) -> RunDetail:
        """Cancel a live run (404 if unknown, 409 if it has ended); the run as it is then."""
        row = await self.core.store.run(run_id)
        if row is None:
            raise not_found(f"run {run_id}")
        if row.status not in LIVE:
            raise Problem(409, "conflict", f"run {run_id} is {row.status} already; only live runs can be cancelled")
        await self.core.store.cancel_runs([run_id], self.core.now_ms(), reason)
        return await self.detail(run_id)
