"""Reports: the period asked for, a scenario's report (server/reports.py makes it), and
each A/B split's variants side by side with its control group."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from ...interpreter import program as p
from ...interpreter.clock import ms_of
from ...interpreter.runtime.events import EARLIEST
from ...interpreter.store import ReportCount
from ...stdlib.experiments import compare
from ..core import Core
from ..problems import Problem
from ..reports import Report, Tally, counts, default_since, report_of, scenario_report, totals_by_scenario
from .scenarios import ScenarioService

UTC = dt.UTC


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


class ReportService:
    def __init__(self, core: Core) -> None:
        self.core = core

    def period(self, since: str | None, until: str | None) -> tuple[dt.datetime, dt.datetime]:
        """The period [since, until) of a report as given (ISO dates, UTC unless they carry an
        offset), by default until now and from `default_since`; a 400 or 422 Problem when it is none."""
        end = _day("until", until, self.core.clock.now())
        start = _day("since", since, default_since(self.core.clock, end))
        if start >= end:
            raise Problem(422, "invalid-request", f"since ({start:%Y-%m-%d %H:%M}) must come before until")
        return start, end

    async def scenario(self, name: str, since: str | None, until: str | None) -> Report:
        """A scenario's report over the period given (404 for an unknown scenario)."""
        await ScenarioService(self.core).require(name)
        start, end = self.period(since, until)
        return await scenario_report(self.core, name, start, end)

    async def counts(
        self, since: dt.datetime, until: dt.datetime, name: str | None = None, *,
        origin: dt.datetime | None = None, bucket: dt.timedelta | None = None,
    ) -> list[ReportCount]:  # fmt: skip
        """The figures of the period's messages (of one scenario, or all), from the store's
        counters, per ``bucket`` from ``origin`` when asked (server/reports.py)."""
        return await counts(self.core, since, until, name, origin=origin, bucket=bucket)

    async def totals(self, since: dt.datetime, until: dt.datetime) -> dict[str, Tally]:
        """Every scenario's totals over the period, by scenario name."""
        return totals_by_scenario(await self.counts(since, until))

    def report_of(self, name: str, since: dt.datetime, until: dt.datetime, found: list[ReportCount]) -> Report:
        return report_of(self.core, name, since, until, found)

    async def splits(self, program: p.Program, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
        """Each split of the program: per variant and the control group, the runs that took it
        in the period and those whose contact paid an order within the attribution window after."""
        store = self.core.store
        found = []
        rows = await store.variant_runs(program.name, ms_of(since), ms_of(until))
        contacts = {run: contact for run, contact, _variant in rows}
        orders = await store.paid_orders(sorted(set(contacts.values())), ms_of(since)) if rows else []
        paid: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for _order, contact, total, currency, paid_at in orders:
            paid[contact].append((paid_at, total or "0", currency or ""))
        for split in (i for i in program.instructions if isinstance(i, p.Split)):
            arms: dict[str, dict[str, Any]] = {}
            names = [a.name for a in split.arms] + (["control"] if Decimal(split.control) > 0 else [])
            for name in names:
                arms[name] = {"runs": 0, "converted": 0, "revenue": defaultdict(Decimal)}
            for run, at, outcome, detail in await store.step_entries(list(contacts), split.id):
                chosen = "control" if detail == "control group" else (detail or "").removeprefix("variant ")
                if outcome != "chose" or chosen not in arms:
                    continue
                arm = arms[chosen]
                arm["runs"] += 1
                after = [(t, c) for when, t, c in paid[contacts[run]] if at <= when < at + program.attribution_ms]
                if after:
                    arm["converted"] += 1
                    for total, currency in after:
                        arm["revenue"][currency] += Decimal(total)
            weights = {a.name: a.weight for a in split.arms} | {"control": split.control}
            # Each variant against the control group, or against the first variant without one.
            base_name = "control" if "control" in arms else split.arms[0].name
            base = arms[base_name]
            found.append({"step": split.id, "against": base_name, "arms": [
                {"name": n, "weight": weights[n], "runs": a["runs"], "converted": a["converted"],
                 "rate": a["converted"] / a["runs"] if a["runs"] else None,
                 "revenue": {c: str(v) for c, v in sorted(a["revenue"].items())},
                 "revenue_per_contact": {c: str((v / a["runs"]).quantize(Decimal("0.01")))
                                         for c, v in sorted(a["revenue"].items())} if a["runs"] else {},
                 "versus": compare(a["converted"], a["runs"], base["converted"], base["runs"])
                 if n != base_name else None}
                for n, a in arms.items()
            ]})  # fmt: skip
        return found
