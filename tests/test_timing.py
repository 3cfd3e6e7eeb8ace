"""Time across daylight-saving changes, in two dozen zones, by property tests.

Moments are drawn near the zones' real offset changes (2024-2027), where mistakes live:
a time-of-day wait lands on that local time (or, when the clocks skip it, on the first
moment after the skip); no send happens inside quiet hours; no wait fires early.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scn.interpreter.timing import after_quiet_hours, in_quiet_hours, next_time_of_day, resolve_local

from .harness import Harness

UTC = dt.UTC
ZONES = [
    "Europe/Kyiv", "Europe/Riga", "Europe/Warsaw", "Europe/London", "Europe/Dublin", "Europe/Berlin",
    "America/New_York", "America/Los_Angeles", "America/St_Johns", "America/Havana", "America/Santiago",
    "America/Sao_Paulo", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Tehran", "Asia/Tokyo", "Africa/Casablanca",
    "Australia/Lord_Howe", "Australia/Adelaide", "Pacific/Chatham", "Pacific/Auckland", "Pacific/Apia", "UTC",
    "Asia/Gaza",
]  # fmt: skip


@functools.cache
def transitions(name: str) -> tuple[dt.datetime, ...]:
    """The moments (to the hour) when a zone's offset changed in 2024-2027."""
    tz = ZoneInfo(name)
    found = []
    moment = dt.datetime(2024, 1, 1, tzinfo=UTC)
    previous = moment.astimezone(tz).utcoffset()
    while moment.year < 2028:
        moment += dt.timedelta(minutes=30)
        offset = moment.astimezone(tz).utcoffset()
        if offset != previous:
            found.append(moment)
            previous = offset
    return tuple(found) or (dt.datetime(2025, 3, 30, tzinfo=UTC),)


@st.composite
def zone_and_moment(draw: st.DrawFn) -> tuple[ZoneInfo, dt.datetime]:
    name = draw(st.sampled_from(ZONES))
    near = draw(st.sampled_from(transitions(name)))
    offset = draw(st.integers(min_value=-36 * 3600, max_value=36 * 3600))
    return ZoneInfo(name), near + dt.timedelta(seconds=offset)


times_of_day = st.builds(dt.time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


def shows(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def test_there_are_enough_zones_and_most_change_their_clocks() -> None:
    assert len(ZONES) >= 20
    assert sum(1 for z in ZONES if len(transitions(z)) >= 6) >= 14


@settings(max_examples=1000, deadline=None)
@given(zone_and_moment(), times_of_day)
def test_a_time_of_day_wait_lands_on_that_local_time(where: tuple[ZoneInfo, dt.datetime], at: dt.time) -> None:
    tz, after = where
    woke = next_time_of_day(after, at, tz)
    assert woke >= after  # never early
    assert woke - after < dt.timedelta(hours=26)
    wanted = dt.datetime.combine(woke.astimezone(tz).date(), at)
    if shows(woke, tz) != wanted:
        # The clocks skipped that time today: the first moment after the skip.
        assert shows(woke - dt.timedelta(seconds=1), tz) < wanted < shows(woke, tz)
    # And it is the first such moment: the day before's would have been too early.
    previous_day = resolve_local(dt.datetime.combine(woke.astimezone(tz).date() - dt.timedelta(days=1), at), tz)
    assert previous_day < after


@settings(max_examples=1000, deadline=None)
@given(zone_and_moment(), times_of_day, times_of_day)
def test_quiet_hours_defer_to_the_first_allowed_moment(
    where: tuple[ZoneInfo, dt.datetime], start: dt.time, end: dt.time
) -> None:
    tz, moment = where
    if start == end:
        return  # the checker refuses an empty window
    allowed = after_quiet_hours(moment, start, end, tz)
    assert allowed >= moment
    assert not in_quiet_hours(allowed, start, end, tz)
    if allowed > moment:
        assert in_quiet_hours(moment, start, end, tz)
        assert in_quiet_hours(allowed - dt.timedelta(seconds=1), start, end, tz)
        # Nothing earlier was allowed: every five minutes in between is quiet. (Over a
        # day only when the clocks skipped a whole short allowed window.)
        assert allowed - moment <= dt.timedelta(hours=49)
        probe = moment
        while probe < allowed:
            assert in_quiet_hours(probe, start, end, tz), probe
            probe += dt.timedelta(minutes=5)


SCENARIOS = """
template hi email
  from "Shop" <shop@example.com>
  subject "Hi"
  html "hi.html"
end

scenario quiet "A day later, never at night"
  on order.paid
  quiet hours 22:00 to 08:00
  wait 1d
  send email hi
end

scenario early "At 02:30 their time, then 90 minutes later"
  on order.paid
  wait until 02:30
  @first send email hi
  wait 90m
  @second send email hi
end
"""


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(zone_and_moment(), min_size=1, max_size=8))
def test_the_engine_never_sends_early_or_in_quiet_hours(contacts: list[tuple[ZoneInfo, dt.datetime]]) -> None:
    async def scenario() -> None:
        start = min(moment for _, moment in contacts)
        async with Harness(SCENARIOS, start=start) as h:
            events = [
                h.event("order.paid", f"c{i}", at=moment, key=f"k{i}",
                        order={"id": f"o{i}", "total": "1.00", "currency": "EUR"})
                for i, (_, moment) in enumerate(contacts)
            ]  # fmt: skip
            for i, (tz, _) in enumerate(contacts):
                events[i].contact.timezone = tz.key
            await h.play(events, until=dt.timedelta(days=3))
            rows = await h.rows(
                "SELECT o.contact_id, o.scenario, o.step, o.created_at, r.started_at FROM outbox o "
                "JOIN runs r ON r.id = o.run_id"
            )
            assert len(rows) == 3 * len(contacts)
            sent = {(c, step): ms for c, _, step, ms, _ in rows}
            for contact, scenario_name, step, ms, started in rows:
                tz = contacts[int(contact[1:])][0]
                at = dt.datetime.fromtimestamp(ms / 1000, UTC)
                began = dt.datetime.fromtimestamp(started / 1000, UTC)
                if scenario_name == "quiet":
                    assert at - began >= dt.timedelta(days=1)
                    assert not in_quiet_hours(at, dt.time(22), dt.time(8), tz)
                elif step == "@first":
                    assert at >= began
                    assert at == next_time_of_day(began, dt.time(2, 30), tz)
                else:
                    assert ms - sent[(contact, "@first")] >= 90 * 60_000

    asyncio.run(scenario())
