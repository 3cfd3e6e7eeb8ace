"""Checking what a broadcast has beyond a scenario's steps: its audience and its time.

A broadcast starts at its time, not on an event: its steps see the contact and the run,
and no `event`, `trigger`, `order` or `item` (the scope says why, where one is used).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .. import ast, codes
from ..diagnostics import DiagnosticSink
from ..schedule import surely_past
from ..types import Entity, Type
from ._exprs import Scope, check_date, check_time

UTC = dt.UTC
_NO_EVENT = "a broadcast starts at its time, not on an event"


def broadcast_scope() -> Scope:
    """Names in a broadcast's steps: the contact and the run, nothing an event brings."""
    roots: dict[str, Type] = {"contact": Entity("contact"), "run": Entity("run")}
    missing = {
        "event": f"{_NO_EVENT}: it has no `event`",
        "trigger": f"{_NO_EVENT}: it has no `trigger`",
        "order": f"{_NO_EVENT}, so it has no order (`contact.orders` has the contact's)",
        "item": f"{_NO_EVENT}, so it has no order item",
    }
    return Scope(roots, missing)


def check_broadcast(
    broadcast: ast.Broadcast,
    reference: Callable[[ast.Ident, str, str], bool],
    sink: DiagnosticSink,
    now: dt.datetime | None = None,
) -> None:
    """The audience names a declared segment or list; the time is a real one, in a real
    zone, and (a warning) still to come; there is something to do."""
    audience = broadcast.audience
    reference(audience.name, audience.kind, f"write `to {_other(audience.kind)} {audience.name.name}`")
    if not broadcast.steps:
        sink.report(codes.EMPTY_BROADCAST, f"broadcast `{broadcast.name.name}` has no steps", broadcast.name.span)
    at = broadcast.at
    if at is None:
        return
    before = len(sink)
    check_date(at.date, sink)
    check_time(at.time, sink)
    if at.zone is not None and not _zone_ok(at.zone.value):
        sink.report(codes.UNKNOWN_ZONE, f'unknown time zone "{at.zone.value}"', at.zone.span)
    if len(sink) != before:
        return
    date, time = _date_text(at.date), _time_text(at.time)
    zone = at.zone.value if at.zone is not None else None
    if surely_past(date, time, zone, at.local, now or dt.datetime.now(UTC)):
        sink.report(
            codes.BROADCAST_IN_PAST,
            f"{date} {time} has passed: broadcast `{broadcast.name.name}` would go as soon as it is deployed",
            at.span,
        )


def _other(kind: str) -> str:
    return "list" if kind == "segment" else "segment"


def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _date_text(date: ast.DateLit) -> str:
    return f"{date.year:04d}-{date.month:02d}-{date.day:02d}"


def _time_text(time: ast.TimeLit) -> str:
    return f"{time.hour:02d}:{time.minute:02d}"
