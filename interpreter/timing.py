"""Calendar arithmetic in the contact's time zone, safe across daylight-saving changes.

Two kinds of waiting exist, and they differ on purpose:

* `wait 1d` is elapsed time: exactly 24 hours later, whatever the clocks do. A run
  that waits `1d` across a DST change wakes at 23:00 or 01:00 local instead of 00:00.
* `wait until 10:00` and quiet hours are wall-clock times in the contact's zone: the
  next moment the contact's clock shows that time.

Local times that do not exist (the hour skipped when clocks go forward) resolve to the
first moment after the skip. Local times that happen twice (clocks go back) resolve to
the first of them, unless it has passed already: `wait until 02:15` at the second 02:00
wakes at the second 02:15.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
from collections.abc import Collection
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC
#: Every day of the week, 0 for Monday (as `date.weekday()` counts).
EVERY_DAY = frozenset(range(7))
#: Monday to Friday.
WEEKDAYS = frozenset(range(5))


@functools.lru_cache(maxsize=512)
def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    """The zone named ``name``, or ``default`` when it is missing or unknown."""
    for candidate in (name, default, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def resolve_local(naive: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The UTC moment when clocks in ``tz`` show ``naive`` (see the module note)."""
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    exact = [u for u in (first, second) if u.astimezone(tz).replace(tzinfo=None) == naive]
    if exact:
        return min(exact)
    # A skipped local time: find the instant the clocks jump, to the second.
    low, high = min(first, second), max(first, second)
    while (high - low) > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0) if high.microsecond else high


def _occurrences(naive: dt.datetime, tz: ZoneInfo) -> list[dt.datetime]:
    """Every UTC moment when clocks in ``tz`` show ``naive`` (none, one or two)."""
    found = []
    for fold in (0, 1):
        moment = naive.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if moment.astimezone(tz).replace(tzinfo=None) == naive:
            found.append(moment)
    return found


def _offset_change(after: dt.datetime, until: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
    """The first instant in (after, until] when the zone's offset changes, to the second.

    Zones change offset at most once within a day or two, which is all this is asked."""
    if after.astimezone(tz).utcoffset() == until.astimezone(tz).utcoffset():
        return None
    low, high = after, until
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == after.astimezone(tz).utcoffset():
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0) if high.microsecond else high


def next_time_of_day(
    after: dt.datetime, time_of_day: dt.time, tz: ZoneInfo, days: Collection[int] = EVERY_DAY
) -> dt.datetime:
    """The first moment at or after ``after`` when clocks in ``tz`` show ``time_of_day`` on
    one of ``days`` (0 for Monday)."""
    local_day = after.astimezone(tz).date()
    for offset in range(-1, 10):
        day = local_day + dt.timedelta(days=offset)
        if day.weekday() not in days:
            continue
        naive = dt.datetime.combine(day, time_of_day)
        # A time shown twice (clocks going back) counts twice: after the first has
        # passed, the second is still ahead.
        for candidate in sorted({resolve_local(naive, tz), *_occurrences(naive, tz)}):
            if candidate >= after:
                return candidate
    raise AssertionError("a time of day recurs within ten days")  # pragma: no cover


def day_of_next_month(after: dt.datetime, day: int, time_of_day: dt.time, tz: ZoneInfo) -> dt.datetime:
    """`wait until 1st of next month 09:00`: ``day`` of the local month after ``after``'s
    (its last day when the month is shorter), when clocks in ``tz`` show ``time_of_day``."""
    local = after.astimezone(tz).date()
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    last = calendar.monthrange(year, month)[1]
    return resolve_local(dt.datetime.combine(dt.date(year, month, min(day, last)), time_of_day), tz)


def start_of_day(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The first moment of a local calendar day (after the skip when midnight is skipped)."""
    return resolve_local(dt.datetime.combine(day, dt.time(0)), tz)


def end_of_month(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The first moment of the local month after ``moment``'s: where "the end of the
    month" is, for a coupon valid until then."""
    local = moment.astimezone(tz).date()
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return start_of_day(dt.date(year, month, 1), tz)


def in_send_window(moment: dt.datetime, days: Collection[int], start: dt.time, end: dt.time, tz: ZoneInfo) -> bool:
    """Is ``moment`` inside a send window: from ``start`` on one of ``days`` (local clock) to
    ``end`` that day, or the next day when ``end`` is not after ``start``?"""
    local = moment.astimezone(tz).replace(tzinfo=None)
    overnight = end <= start
    for back in (0, 1):
        day = local.date() - dt.timedelta(days=back)
        if day.weekday() not in days:
            continue
        opens = dt.datetime.combine(day, start)
        closes = dt.datetime.combine(day + dt.timedelta(days=1 if overnight else 0), end)
        if opens <= local < closes:
            return True
    return False


def next_in_send_window(
    moment: dt.datetime, days: Collection[int], start: dt.time, end: dt.time, tz: ZoneInfo
) -> dt.datetime:
    """``moment`` itself when it is inside the send window, or the first moment after it that is."""
    if in_send_window(moment, days, start, end, tz):
        return moment
    candidate = next_time_of_day(moment, start, tz, days)
    for _ in range(16):
        # Clocks going back can bring the local time into the window before it opens again.
        shift = _offset_change(moment, candidate, tz)
        if shift is not None and in_send_window(shift, days, start, end, tz):
            return shift
        if in_send_window(candidate, days, start, end, tz):
            return candidate
        # The clocks skipped that day's whole window (a short one in a DST gap).
        moment, candidate = candidate, next_time_of_day(candidate + dt.timedelta(seconds=1), start, tz, days)
    raise AssertionError("a send window opens within a few weeks")  # pragma: no cover


def in_quiet_hours(moment: dt.datetime, start: dt.time, end: dt.time, tz: ZoneInfo) -> bool:
    """Is ``moment`` inside the local window [start, end) (which may run past midnight)?"""
    clock = moment.astimezone(tz).time().replace(tzinfo=None)
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end


def after_quiet_hours(moment: dt.datetime, start: dt.time, end: dt.time, tz: ZoneInfo) -> dt.datetime:
    """``moment`` itself, or the end of the quiet window it falls in."""
    if not in_quiet_hours(moment, start, end, tz):
        return moment
    candidate = next_time_of_day(moment, end, tz)
    for _ in range(3):
        # Clocks going back can also leave the window (to before its start) for a while.
        shift = _offset_change(moment, candidate, tz)
        if shift is not None and not in_quiet_hours(shift, start, end, tz):
            return shift
        if not in_quiet_hours(candidate, start, end, tz):
            return candidate
        # The clocks skipped the whole allowed window (a short one in a DST gap), so the
        # end of the quiet hours resolved into them again: the next day's end it is.
        candidate = next_time_of_day(candidate + dt.timedelta(seconds=1), end, tz)
    raise AssertionError("quiet hours end within a few days")  # pragma: no cover


def anniversary(day: dt.date, year: int) -> dt.date:
    """``day``'s month and day in ``year``: 29 February is 28 February in other years."""
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)
    return day.replace(year=year)


def date_occurrences(
    day: dt.date, yearly: bool, offset_days: int, time_of_day: dt.time, tz: ZoneInfo, years: range
) -> list[tuple[dt.date, dt.datetime]]:
    """The occurrences of a date trigger on ``day`` (every year from its own on, or once),
    shifted by ``offset_days``, at ``time_of_day`` in ``tz``: (the date it is for, the moment
    it fires), in order. Only the years in ``years`` when yearly."""
    dates = [anniversary(day, year) for year in years if day.year <= year <= dt.MAXYEAR] if yearly else [day]
    shift = dt.timedelta(days=offset_days)
    found = []
    for d in dates:
        try:
            found.append((d, resolve_local(dt.datetime.combine(d + shift, time_of_day), tz)))
        except OverflowError:  # 9999-12-31 plus a day, 0001-01-01 minus three: no such moment
            continue
    return found
