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
  once, across all scenarios: to the latest message clicked within its scenario's
  attribution window before the payment, else to the latest message sent within it;
* CTR = clicked / delivered, conversion = ordered / delivered.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

import msgspec

from ..interpreter.clock import Clock, WallClock, ms_of
from ..interpreter.compiler import DEFAULT_ATTRIBUTION_MS
from ..interpreter.store import SENT, UNDELIVERED, OutboxRow
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


class Tally:
    """Figures of a set of messages, added up one message at a time."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)
        self.failures: dict[str, int] = defaultdict(int)
        self.revenue: dict[str, Decimal] = defaultdict(Decimal)

    def add(self, m: OutboxRow, outcomes: Outcomes) -> None:
        """Count message ``m`` with what happened to it."""
        self.counts["sent"] += 1
        self.counts["delivered"] += m.status == SENT
        if m.status == UNDELIVERED:
            self.counts["failed"] += 1
            self.failures[m.failure or "unknown"] += 1
            self.counts["bounced"] += m.attempts > 0  # it left, and delivery failed
        self.counts["opened"] += m.id in outcomes.opened
        self.counts["clicked"] += m.id in outcomes.clicked_at
        self.counts["unsubscribed"] += m.id in outcomes.unsubscribed
        for amount, currency in outcomes.credited.get(m.id, []):
            self.counts["ordered"] += 1
            self.revenue[currency] += amount

    def figures(self) -> dict[str, Any]:
        delivered = self.counts["delivered"]
        return {
            **{k: self.counts[k] for k in ("sent", "delivered", "bounced", "failed", "opened", "clicked",
                                          "unsubscribed", "ordered")},
            "failures": dict(sorted(self.failures.items())),
            "revenue": {c: str(v) for c, v in sorted(self.revenue.items())},
            "ctr": round(self.counts["clicked"] / delivered, 4) if delivered else None,
            "conversion": round(self.counts["ordered"] / delivered, 4) if delivered else None,
        }  # fmt: skip


class Outcomes(msgspec.Struct, kw_only=True):
    """What became of messages: by message id, opened, first clicked (when), unsubscribes
    credited to it, and the paid orders attributed to it (amount, currency)."""

    opened: set[int]
    clicked_at: dict[int, int]
    unsubscribed: set[int]
    credited: dict[int, list[tuple[Decimal, str]]]


def default_since(clock: Clock, until: dt.datetime) -> dt.datetime:
    """Where a report starts when not told: 30 days before ``until``. On a compressed clock
    (the demo's: 30 days pass in two minutes) also no later than the clock's start, so that
    the report covers everything the demo did rather than the last two minutes of it."""
    since = until - dt.timedelta(days=30)
    if isinstance(clock, WallClock) and clock.speed != 1.0:
        return min(since, clock.origin)
    return since


async def attribute(
    core: Core, since: dt.datetime, until: dt.datetime, scenario: str | None = None
) -> tuple[list[OutboxRow], Outcomes]:
    """The messages sent in [since, until) (by one scenario, or by all), and what became of
    them: opens, clicks, unsubscribes, and the orders attributed to them."""
    since_ms, until_ms = ms_of(since), ms_of(until)
    ours = await core.store.messages_between(since_ms, until_ms, scenario)
    contacts = sorted({m.contact_id for m in ours})
    longest = max([_window(core, scenario), *(_window(core, s) for s in core.engine.scenarios)])
    # Every scenario's messages to these contacts compete for their orders.
    every = await core.store.messages_of(contacts, since_ms - longest) if contacts else []
    events = await core.store.contact_events(
        contacts, ["message.opened", "message.clicked", "message.unsubscribed"], since_ms
    ) if contacts else []  # fmt: skip
    orders = await core.store.paid_orders(contacts, since_ms) if contacts else []

    opened: set[int] = set()
    clicked_at: dict[int, int] = {}
    unsubscribes: list[tuple[str, str, int]] = []
    for key, kind, contact, at, payload in events:
        if kind == "message.unsubscribed":
            channel = (json.loads(payload).get("data") or {}).get("channel") or "email"
            unsubscribes.append((contact, channel, at))
            continue
        parts = key.split(":")
        if len(parts) >= 2 and parts[1].isdigit():
            message_id = int(parts[1])
            if kind == "message.opened":
                opened.add(message_id)
            else:
                opened.add(message_id)  # a click means it was opened, even with images blocked
                clicked_at[message_id] = min(clicked_at.get(message_id, at), at)

    by_contact: dict[str, list[OutboxRow]] = defaultdict(list)
    for message in every:
        by_contact[message.contact_id].append(message)

    def latest(candidates: list[OutboxRow], at: int, when: dict[int, int] | None) -> OutboxRow | None:
        best: tuple[int, OutboxRow] | None = None
        for m in candidates:
            moment = when.get(m.id) if when is not None else m.created_at
            if moment is None or moment > at or at - moment > _window(core, m.scenario):
                continue
            if best is None or moment >= best[0]:
                best = (moment, m)
        return best[1] if best else None

    mine = {m.id for m in ours}
    credited: dict[int, list[tuple[Decimal, str]]] = defaultdict(list)
    for _order, contact, total, currency, paid_at in orders:
        candidates = by_contact.get(contact, [])
        winner = latest(candidates, paid_at, clicked_at) or latest(candidates, paid_at, None)
        if winner is not None and winner.id in mine:
            credited[winner.id].append((Decimal(total or "0"), currency or ""))
    unsubscribed: set[int] = set()
    for contact, channel, at in unsubscribes:
        winner = latest([m for m in by_contact.get(contact, []) if m.channel == channel], at, None)
        if winner is not None:
            unsubscribed.add(winner.id)
    return ours, Outcomes(opened=opened, clicked_at=clicked_at, unsubscribed=unsubscribed, credited=credited)


async def scenario_report(core: Core, scenario: str, since: dt.datetime, until: dt.datetime) -> Report:
    ours, outcomes = await attribute(core, since, until, scenario)
    return report_of(core, scenario, since, until, ours, outcomes)


def report_of(
    core: Core, scenario: str, since: dt.datetime, until: dt.datetime, ours: list[OutboxRow], outcomes: Outcomes
) -> Report:
    """The report of a scenario's messages ``ours`` in [since, until) (from `attribute`)."""
    totals = Tally()
    rows: dict[tuple[str, str | None, str, str | None], Tally] = {}
    for m in ours:
        row = (m.step or "-", m.template, m.channel, m.variant)
        for tally in (totals, rows.setdefault(row, Tally())):
            tally.add(m, outcomes)
    return Report(
        scenario=scenario, since=since, until=until, attribution_window_h=_window(core, scenario) / 3_600_000,
        totals=Figures(**totals.figures()),
        rows=[ReportRow(step=k[0], template=k[1], channel=k[2], variant=k[3], **t.figures())
              for k, t in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][3] or ""))],
    )  # fmt: skip
