"""Reports: per scenario over a chosen period, the figures of docs/api.md "Reports" as time
series and a funnel, per step and variant as a table, and each A/B split's variants side
by side with its control group."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from litestar import Request, Router, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from ...interpreter.store import ReportCount
from ..reports import Tally
from ..services import ReportService, ScenarioService, dependencies
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


@get("/reports")
async def reports(
    request: Request[Any, Any, Any],
    reports: NamedDependency[ReportService],
    scenarios: NamedDependency[ScenarioService],
    since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
) -> Template:
    """Every scenario's totals over the period, each a link to its report."""
    start, end = reports.period(since, until)
    tallies = await reports.totals(start, end)
    rows = [{"summary": s, "figures": tallies[s.name].figures()} for s in await scenarios.summaries()]
    return page(request, "reports.html", rows=rows, since=start, until=end, words=words())


@get("/reports/{name:str}")
async def report(
    request: Request[Any, Any, Any], reports: NamedDependency[ReportService],
    scenarios: NamedDependency[ScenarioService], name: FromPath[str], since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
) -> Template:  # fmt: skip
    summary = await scenarios.summary(name)
    start, end = reports.period(since, until)
    origin, size, labels = periods(start, end)
    found = await reports.counts(start, end, name, origin=origin, bucket=size)
    shown = reports.report_of(name, start, end, found)
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
    program = scenarios.program(name)
    return page(
        request, "report.html", summary=summary, report=shown, since=start, until=end, words=names,
        chart=line_chart(_("Messages per period"), labels, lines), chart_legend=legend(lines),
        others=line_chart(_("Unsubscribes, bounces and failures per period"), labels, others),
        others_legend=legend(others),
        revenue=[(c, line_chart(_("Revenue in %(currency)s per period") % {"currency": c}, labels, [s]))
                 for c, s in zip(currencies, revenue, strict=True)],
        funnel=funnel(_("Funnel"), stages), stages=stages, table=list(zip(labels, figures, strict=True)),
        splits=await reports.splits(program, start, end) if program is not None else [],
    )  # fmt: skip


router = Router("/", route_handlers=[reports, report], dependencies=dependencies())
