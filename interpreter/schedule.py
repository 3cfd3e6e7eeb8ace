"""When a broadcast goes: its written time (`at 2026-11-27 10:00 local`) as moments.

A broadcast `at` a date and time in a named zone, or in the workspace's zone, goes at
one moment for everyone. One `local` goes at that time on each contact's own clock: the
first contacts to reach it are those of the easternmost zone (UTC+14), so its runs are
made from that moment on, each waiting for its own contact's moment. Local times that do
not exist or happen twice resolve as `wait until` does (timing.py).
"""

from __future__ import annotations

import datetime as dt

from .timing import resolve_local, zone

UTC = dt.UTC
#: The offsets clocks run at, at the extremes (Kiribati's +14:00, Baker Island's -12:00).
EARLIEST_OFFSET = dt.timedelta(hours=14)
LATEST_OFFSET = dt.timedelta(hours=-12)


def local_time(date: str, time: str) -> dt.datetime:
    """The wall-clock time a broadcast names (`2026-11-27`, `10:00`), without a zone."""
    return dt.datetime.fromisoformat(f"{date}T{time}")


def start_moment(date: str, time: str, zone_name: str | None, local: bool, default_zone: str) -> dt.datetime:
    """When a broadcast begins: its one moment, or for `local` the moment its earliest
    contacts (the easternmost zone's) reach its time."""
    naive = local_time(date, time)
    if local:
        return naive.replace(tzinfo=UTC) - EARLIEST_OFFSET
    return resolve_local(naive, zone(zone_name, default_zone))


def contact_moment(date: str, time: str, contact_zone: str | None, default_zone: str) -> dt.datetime:
    """When a `local` broadcast reaches a contact whose clock is in ``contact_zone`` (in
    ``default_zone`` when it has none, or one that is unknown)."""
    return resolve_local(local_time(date, time), zone(contact_zone, default_zone))


def surely_past(date: str, time: str, zone_name: str | None, local: bool, now: dt.datetime) -> bool:
    """Has the time passed everywhere it may be meant (for `local`, or without a zone,
    even on the westernmost clocks)?"""
    naive = local_time(date, time)
    if zone_name is not None and not local:
        return resolve_local(naive, zone(zone_name)) <= now
    return naive.replace(tzinfo=UTC) - LATEST_OFFSET <= now
