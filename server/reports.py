"""Reports per scenario, step and variant: what was sent and what it earned.

For the messages a scenario sent in a period:

* sent: messages the scenario sent, failed ones included (skipped ones are not
  counted); delivered: accepted by the SMTP server or provider; bounced: refused or
  given up on delivery; failed: every message that failed, before it left (its
  template, no coupon code left, an address that is not one) or on delivery (the
  bounced), with `failures` by class of failure;
* opened / clicked: messages opened or with a click (each counted once, from the
  tracking endpoints' events); unsubscribed: unsubscribes on the message's channel
  within the attribution window after it (credited to the latest such message);
* ordered / revenue: paid orders attributed to the message. An order is attributed
  once, across all scenarios, when it is paid: to the latest message clicked within its
  scenario's attribution window before the payment, else to the latest message sent within it;
* CTR = clicked / delivered, conversion = ordered / delivered.

What became of each message is recorded as it happens, and the figures are counted per
hour as they change (interpreter/store/report_counts.py): a report reads counters, never
the period's messages, so it costs the same over a day or a year, at any store size.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

import msgspec

from ..interpreter.clock import Clock, WallClock, duration_ms, ms_of
from ..interpreter.compiler import DEFAULT_ATTRIBUTION_MS
from ..interpreter.store import ReportCount
from .core import Core


class Figures(msgspec.Struct, kw_only=True):
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    failed: int = 0
    #: Failed messages by class of failure (template, coupon, address, refused, gave_up, configuration).
    failures: dict[str, int] = {}
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    ordered: int = 0
    #: Revenue of the attributed orders, per currency ("1250.00").
    revenue: dict[str, str] = {}
    ctr: float | None = None
    conversion: float | None = None


class ReportRow(Figures, kw_only=True):
    step: str
    template: str | None
    channel: str
    variant: str | None


class Report(msgspec.Struct, kw_only=True):
    scenario: str
    since: dt.datetime
    until: dt.datetime
    attribution_window_h: float
    totals: Figures
    rows: list[ReportRow]


def _window(core: Core, scenario: str | None) -> int:
    if scenario is None or scenario not in core.engine.scenarios:
        return DEFAULT_ATTRIBUTION_MS
    return core.engine.program(scenario).attribution_ms


def money(amount: Decimal) -> str:
    """An amount with cents ("120.50"), or with all its decimals when it has more."""
    cents = amount.quantize(Decimal("0.01"))
    return str(cents if cents == amount else amount.normalize())


class Tally:
    """Figures of a set of messages, added up from the store's counts (`ReportCount`)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)
        self.failures: dict[str, int] = defaultdict(int)
        self.revenue: dict[str, Decimal] = defaultdict(Decimal)

    def add(self, count: ReportCount) -> None:
        kind, _, name = count.figure.partition(":")
        if kind == "failure":
            self.failures[name] += count.value
        elif kind == "revenue":
            self.revenue[name] += Decimal(count.value).scaleb(-6)  # counted in millionths
        else:
            self.counts[kind] += count.value

    def figures(self) -> dict[str, Any]:
        delivered = self.counts["delivered"]
        return {
            **{k: self.counts[k] for k in ("sent", "delivered", "bounced", "failed", "opened", "clicked",
                                          "unsubscribed", "ordered")},
            "failures": dict(sorted(self.failures.items())),
            "revenue": {c: money(v) for c, v in sorted(self.revenue.items())},
            "ctr": round(self.counts["clicked"] / delivered, 4) if delivered else None,
            "conversion": round(self.counts["ordered"] / delivered, 4) if delivered else None,
        }  # fmt: skip


def default_since(clock: Clock, until: dt.datetime) -> dt.datetime:
    """Where a report starts when not told: 30 days before ``until``. On a compressed clock
    (the demo's: 30 days pass in two minutes) also no later than the clock's start, so that
    the report covers everything the demo did rather than the last two minutes of it."""
    since = until - dt.timedelta(days=30)
    if isinstance(clock, WallClock) and clock.speed != 1.0:
        return min(since, clock.origin)
    return since


async def counts(
    core: Core, since: dt.datetime, until: dt.datetime, scenario: str | None = None, *,
    origin: dt.datetime | None = None, bucket: dt.timedelta | None = None,
) -> list[ReportCount]:  # fmt: skip
    """The figures of the messages made in [since, until) (by one scenario, or by all), per
    step, template, channel and variant, and per ``bucket`` of the period from ``origin``
    (one bucket, 0, when not asked): read from the store's counters, whatever the period."""
    width = duration_ms(bucket) if bucket is not None else None
    start = ms_of(origin) if origin is not None else ms_of(since)
    return await core.store.report_counts(ms_of(since), ms_of(until), scenario, origin=start, bucket_ms=width)


def totals_by_scenario(found: list[ReportCount]) -> dict[str, Tally]:
    tallies: dict[str, Tally] = defaultdict(Tally)
    for count in found:
        tallies[count.scenario].add(count)
    return tallies


async def scenario_report(core: Core, scenario: str, since: dt.datetime, until: dt.datetime) -> Report:
    return report_of(core, scenario, since, until, await counts(core, since, until, scenario))


def report_of(core: Core, scenario: str, since: dt.datetime, until: dt.datetime, found: list[ReportCount]) -> Report:
    """The report of a scenario's messages in [since, until), from their counts (`counts`)."""
    totals = Tally()
    rows: dict[tuple[str, str | None, str, str | None], Tally] = {}
    for count in found:
        row = (count.step or "-", count.template or None, count.channel, count.variant or None)
        for tally in (totals, rows.setdefault(row, Tally())):
            tally.add(count)
    return Report(
        scenario=scenario, since=since, until=until, attribution_window_h=_window(core, scenario) / 3_600_000,
        totals=Figures(**totals.figures()),
        rows=[ReportRow(step=k[0], template=k[1], channel=k[2], variant=k[3], **t.figures())
              for k, t in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][3] or ""))],
    )  # fmt: skip
