"""Reports: per scenario over a chosen period, the figures of docs/api.md "Reports" as time
series and a funnel, per step and variant as a table, and each A/B split's variants side
by side with its control group."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from litestar import Request, Router, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from ...interpreter import program as p
from ...interpreter.clock import ms_of
from ...interpreter.store import ReportCount
from ..api_data import report_period
from ..api_scenarios import scenario_summaries, scenario_summary
from ..core import Core
from ..deps import get_core
from ..reports import Tally, counts, report_of, totals_by_scenario
from .charts import Series, funnel, legend, line_chart
from .frame import page
from .text import _

#: The figures drawn over time, in the order of the funnel.
FLOW = ("sent", "delivered", "opened", "clicked", "ordered")
OTHERS = ("unsubscribed", "bounced", "failed")
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)


def words() -> dict[str, str]:
    return {"sent": _("sent"), "delivered": _("delivered"), "opened": _("opened"), "clicked": _("clicked"),
            "ordered": _("ordered"), "unsubscribed": _("unsubscribed"), "bounced": _("bounced"),
            "failed": _("failed")}  # fmt: skip


def bucket_of(since: dt.datetime, until: dt.datetime) -> dt.timedelta:
    """Hours for a period of up to three days, days up to 120 days, weeks beyond."""
    length = until - since
    return HOUR if length <= 3 * DAY else DAY if length <= 120 * DAY else 7 * DAY


def periods(since: dt.datetime, until: dt.datetime) -> tuple[dt.datetime, dt.timedelta, list[str]]:
    """Where the chart's periods start, how long each is, and their labels."""
    size = bucket_of(since, until)
    start = since.replace(minute=0, second=0, microsecond=0) if size == HOUR else since.replace(
        hour=0, minute=0, second=0, microsecond=0)  # fmt: skip
    count = max(1, int((until - start) / size) + (1 if (until - start) % size else 0))
    fmt = "%m-%d %H:00" if size == HOUR else "%m-%d" if start.year == until.year else "%Y-%m-%d"
    return start, size, [(start + i * size).strftime(fmt) for i in range(count)]


def series(labels: list[str], found: list[ReportCount]) -> dict[str, Tally]:
    """A tally per period, from counts made per period (`counts` with the periods' start
    and size): messages count in the period they were made in."""
    tallies = {label: Tally() for label in labels}
    for count in found:
        tallies[labels[min(max(count.bucket, 0), len(labels) - 1)]].add(count)
    return tallies


async def splits(core: Core, program: p.Program, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    """Each split of the program: per variant and the control group, the runs that took it
    in the period and those whose contact paid an order within the attribution window after."""
    found = []
    rows = await core.store.variant_runs(program.name, ms_of(since), ms_of(until))
    contacts = {run: contact for run, contact, _variant in rows}
    orders = await core.store.paid_orders(sorted(set(contacts.values())), ms_of(since)) if rows else []
    paid: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for _order, contact, total, currency, paid_at in orders:
        paid[contact].append((paid_at, total or "0", currency or ""))
    for split in (i for i in program.instructions if isinstance(i, p.Split)):
        arms: dict[str, dict[str, Any]] = {}
        names = [a.name for a in split.arms] + (["control"] if Decimal(split.control) > 0 else [])
        for name in names:
            arms[name] = {"runs": 0, "converted": 0, "revenue": defaultdict(Decimal)}
        for run, at, outcome, detail in await core.store.step_entries(list(contacts), split.id):
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
        found.append({"step": split.id, "arms": [
            {"name": n, "weight": weights[n], "runs": a["runs"], "converted": a["converted"],
             "rate": a["converted"] / a["runs"] if a["runs"] else None,
             "revenue": {c: str(v) for c, v in sorted(a["revenue"].items())}}
            for n, a in arms.items()
        ]})  # fmt: skip
    return found


@get("/reports")
async def reports(
    request: Request[Any, Any, Any],
    core: NamedDependency[Core],
    since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
) -> Template:
    """Every scenario's totals over the period, each a link to its report."""
    start, end = report_period(core, since, until)
    tallies = totals_by_scenario(await counts(core, start, end))
    rows = [{"summary": s, "figures": tallies[s.name].figures()} for s in await scenario_summaries(core)]
    return page(request, "reports.html", rows=rows, since=start, until=end, words=words())


@get("/reports/{name:str}")
async def report(
    request: Request[Any, Any, Any], core: NamedDependency[Core], name: FromPath[str],
    since: FromQuery[str | None] = None, until: FromQuery[str | None] = None,
) -> Template:  # fmt: skip
    summary = await scenario_summary(core, name)
    start, end = report_period(core, since, until)
    origin, size, labels = periods(start, end)
    found = await counts(core, start, end, name, origin=origin, bucket=size)
    shown = report_of(core, name, start, end, found)
    tallies = series(labels, found)
    figures = [t.figures() for t in tallies.values()]
    names = words()
    lines = [Series(k, names[k], [float(f[k]) for f in figures]) for k in FLOW]
    others = [Series(k, names[k], [float(f[k]) for f in figures]) for k in OTHERS]
    currencies = sorted({c for f in figures for c in f["revenue"]})
    # Money is drawn as a line: only the pixel positions are floats, every figure shown is the Decimal text.
    revenue = [Series("ordered", c, [float(Decimal(f["revenue"].get(c, "0"))) for f in figures]) for c in currencies]
    totals = shown.totals
    stages = [(k, names[k], int(getattr(totals, k))) for k in FLOW]
    program = core.engine.program(name) if name in core.engine.scenarios else None
    return page(
        request, "report.html", summary=summary, report=shown, since=start, until=end, words=names,
        chart=line_chart(_("Messages per period"), labels, lines), chart_legend=legend(lines),
        others=line_chart(_("Unsubscribes, bounces and failures per period"), labels, others),
        others_legend=legend(others),
        revenue=[(c, line_chart(_("Revenue in %(currency)s per period") % {"currency": c}, labels, [s]))
                 for c, s in zip(currencies, revenue, strict=True)],
        funnel=funnel(_("Funnel"), stages), stages=stages, table=list(zip(labels, figures, strict=True)),
        splits=await splits(core, program, start, end) if program is not None else [],
    )  # fmt: skip


router = Router("/", route_handlers=[reports, report], dependencies={"core": Provide(get_core, sync_to_thread=False)})
