"""Checking calendar time: date triggers, days of the month, send windows, and coupons
that end on a date (docs/language.md §5.1 and §5.2)."""

from __future__ import annotations

import datetime as dt

from .. import ast, codes
from ..diagnostics import DiagnosticSink, Related
from ..types import DATETIME, Entity
from ._exprs import ExprChecker, Scope, check_date, check_positive, check_time

_DAY_MS = ast.DURATION_UNITS["d"]
_MINUTES_A_DAY = 24 * 60
#: Zones run from UTC-12 to UTC+14: a local day has ended everywhere this long after it ended in UTC.
_LATEST_ZONE = dt.timedelta(hours=12)
#: No month is longer: a code valid to the end of its month has surely ended this long after it was issued.
_LONGEST_MONTH_MS = 31 * _DAY_MS


def ordinal_suffix(day: int) -> str:
    """The ending English writes after a day of the month: 1st, 2nd, 3rd, 4th, 11th, 21st."""
    if 11 <= day % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def check_month_day(step: ast.WaitUntilMonthDay, sink: DiagnosticSink) -> None:
    check_time(step.time, sink)
    value = step.day.value
    if value != value.to_integral_value() or not 1 <= value <= 31:
        sink.report(codes.BAD_CALENDAR, f"`{value}` is not a day of the month: 1st to 31st", step.day.span)
        return
    day = int(value)
    if step.suffix.name != ordinal_suffix(day):
        sink.report(
            codes.BAD_CALENDAR,
            f"write the {day}{ordinal_suffix(day)}, not `{day}{step.suffix.name}`",
            step.suffix.span,
        )


def check_date_trigger(header: ast.DateTrigger, exprs: ExprChecker, sink: DiagnosticSink) -> None:
    """`on date PATH [plus|minus D] at TIME [once]`: a contact's date field, a whole-day shift."""
    scope = Scope(
        {"contact": Entity("contact")},
        {name: f"`on date` reads the contact's own fields, not an {name}" for name in ("event", "order", "item")},
    )
    exprs.expect(header.date, scope, DATETIME, "`on date`")
    check_time(header.time, sink)
    if header.offset is not None:
        check_positive(header.offset, sink, "a date trigger's shift")
        if header.offset.milliseconds % _DAY_MS:
            sink.report(
                codes.BAD_CALENDAR,
                "a date trigger is shifted by whole days (`minus 3d`); `at` gives the time of day",
                header.offset.span,
            )


def _minutes(start: ast.TimeLit, end: ast.TimeLit) -> list[int]:
    """The minutes of a day's window [start, end), running past midnight when end <= start."""
    first, last = start.hour * 60 + start.minute, end.hour * 60 + end.minute
    if last <= first:
        last += _MINUTES_A_DAY
    return list(range(first, last))


def check_send_window(window: ast.SendWindow, quiet: ast.QuietHours | None, sink: DiagnosticSink) -> None:
    check_time(window.start, sink)
    check_time(window.end, sink)
    if (window.start.hour, window.start.minute) == (window.end.hour, window.end.minute):
        sink.report(codes.EMPTY_SEND_WINDOW, "the send window starts and ends at the same time", window.span)
        return
    named: dict[int, ast.DayRange] = {}
    for days in window.ranges:
        for day in days.days:
            if day in named:
                sink.report(
                    codes.EMPTY_SEND_WINDOW,
                    f"`{ast.WEEKDAYS[day]}` is named twice in the send window",
                    days.span,
                    related=(Related(named[day].span, "first named here"),),
                )
                return
            named[day] = days
    if quiet is None or quiet.start == quiet.end:
        return
    silent = {m % _MINUTES_A_DAY for m in _minutes(quiet.start, quiet.end)}
    if all(m % _MINUTES_A_DAY in silent for m in _minutes(window.start, window.end)):
        sink.report(
            codes.EMPTY_SEND_WINDOW,
            "the quiet hours cover the whole send window: no message could ever go",
            window.span,
            related=(Related(quiet.span, "the quiet hours"),),
        )


def coupon_end_passed(until: ast.ValidUntil, since_start: int, since_issue: int, now: dt.datetime) -> str | None:
    """Why a code valid ``until`` has surely ended at a step the run comes to at least
    ``since_start`` ms after it began (today at the earliest) and ``since_issue`` ms after the
    code was issued; None when it may still be valid there."""
    if until.date is None:
        if since_issue >= _LONGEST_MONTH_MS:
            return (
                "is valid until the end of the month it is issued in, but at least "
                f"{since_issue // _DAY_MS}d pass between issuing it and this step"
            )
        return None
    try:
        last = dt.date(until.date.year, until.date.month, until.date.day)
    except ValueError:
        return None  # reported as a bad date
    ends = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), dt.UTC) + _LATEST_ZONE
    earliest = now + dt.timedelta(milliseconds=since_start)
    if earliest < ends:
        return None
    if since_start:
        return f"is valid until {last.isoformat()}, which has passed by the time a run comes here"
    return f"is valid until {last.isoformat()}, which has passed"


__all__ = ["check_date", "check_date_trigger", "check_month_day", "check_send_window", "coupon_end_passed"]
