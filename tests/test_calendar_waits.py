"""Calendar waits and send windows: `wait until monday 10:00`, `next weekday`, `1st of
next month`, a date field; `send only mon-fri 09:00 to 18:00`. Property tests in two
dozen zones near their real DST changes (the gaps and overlaps are not filtered out),
then the engine at the boundaries."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from scn.interpreter.timing import (
    WEEKDAYS,
    day_of_next_month,
    in_send_window,
    next_in_send_window,
    next_time_of_day,
    resolve_local,
)

from .conftest import check_texts
from .harness import Harness
from .test_timing import shows, times_of_day, zone_and_moment

UTC = dt.UTC
day_sets = st.frozensets(st.integers(0, 6), min_size=1)


@settings(max_examples=600, deadline=None)
@given(zone_and_moment(), times_of_day, day_sets)
def test_a_weekday_wait_lands_on_that_day_and_time(
    where: tuple[ZoneInfo, dt.datetime], at: dt.time, days: frozenset[int]
) -> None:
    tz, after = where
    woke = next_time_of_day(after, at, tz, days)
    assert woke >= after
    assert woke - after < dt.timedelta(days=8)
    local = woke.astimezone(tz)
    assert local.weekday() in days
    wanted = dt.datetime.combine(local.date(), at)
    if shows(woke, tz) != wanted:  # the clocks skipped that time that day: the first moment after
        assert shows(woke - dt.timedelta(seconds=1), tz) < wanted < shows(woke, tz)
    # The first such moment: every earlier day of the set had its time before `after`.
    day = local.date() - dt.timedelta(days=1)
    while day >= after.astimezone(tz).date() - dt.timedelta(days=1):
        if day.weekday() in days:
            assert resolve_local(dt.datetime.combine(day, at), tz) < after
        day -= dt.timedelta(days=1)


@settings(max_examples=600, deadline=None)
@given(zone_and_moment(), times_of_day, st.integers(1, 31))
def test_a_day_of_next_month_is_in_the_next_local_month(
    where: tuple[ZoneInfo, dt.datetime], at: dt.time, day: int
) -> None:
    tz, after = where
    woke = day_of_next_month(after, day, at, tz)
    assert woke > after
    this = after.astimezone(tz).date()
    local = woke.astimezone(tz)
    assert (local.year * 12 + local.month) - (this.year * 12 + this.month) == 1
    month_end = (local.date().replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    assert local.day == min(day, month_end.day)
    wanted = dt.datetime.combine(local.date(), at)
    if shows(woke, tz) != wanted:
        assert shows(woke - dt.timedelta(seconds=1), tz) < wanted < shows(woke, tz)


@settings(max_examples=800, deadline=None)
@given(zone_and_moment(), times_of_day, times_of_day, day_sets)
def test_a_send_window_defers_to_its_first_opening(
    where: tuple[ZoneInfo, dt.datetime], start: dt.time, end: dt.time, days: frozenset[int]
) -> None:
    tz, moment = where
    if start == end:
        return  # the checker refuses an empty window
    allowed = next_in_send_window(moment, days, start, end, tz)
    assert allowed >= moment
    assert in_send_window(allowed, days, start, end, tz)
    if allowed > moment:
        assert allowed - moment <= dt.timedelta(days=15)
        probe = moment
        while probe < allowed:  # nothing earlier was inside: every ten minutes in between is not
            assert not in_send_window(probe, days, start, end, tz), probe
            probe += dt.timedelta(minutes=10)


def test_weekdays_are_monday_to_friday() -> None:
    assert sorted(WEEKDAYS) == [0, 1, 2, 3, 4]


# ---------------------------------------------------------------- the engine

TEMPLATE = """
attribute renewal_at: datetime
attribute renewal_day: date
attribute nickname: string
template hi email
  subject "Hi"
  html "hi.html"
end
"""
MONDAY = dt.datetime(2025, 3, 3, 10, 0, tzinfo=UTC)  # a Monday


async def sent_at(text: str, at: dt.datetime, *, timezone: str = "UTC", attributes: dict[str, str] | None = None,
                  until: dt.timedelta = dt.timedelta(days=70)) -> list[dt.datetime]:  # fmt: skip
    """When the scenario's messages went, for a contact in ``timezone`` whose order was paid ``at``."""
    async with Harness(TEMPLATE + text, start=at - dt.timedelta(hours=1)) as h:
        person = {"timezone": timezone, "attributes": attributes or {}}
        event = h.event("order.paid", "c1", at=at, person=person,
                        order={"id": "o1", "total": "1.00", "currency": "EUR"})  # fmt: skip
        await h.play([event], until=until)
        rows = await h.rows("SELECT created_at FROM outbox ORDER BY id")
        return [dt.datetime.fromtimestamp(ms / 1000, UTC) for (ms,) in rows]


async def test_a_monday_10_wait_started_on_monday_at_10_exactly_goes_on_at_once() -> None:
    text = "scenario s\n on order.paid\n wait until monday 10:00\n send email hi\nend\n"
    assert await sent_at(text, MONDAY) == [MONDAY]
    # A moment later, it is next Monday's 10:00.
    later = MONDAY + dt.timedelta(seconds=1)
    assert await sent_at(text, later) == [MONDAY + dt.timedelta(days=7)]


async def test_next_weekday_skips_the_weekend_in_the_contacts_zone() -> None:
    text = "scenario s\n on order.paid\n wait until next weekday 09:00\n send email hi\nend\n"
    friday_evening = dt.datetime(2025, 3, 7, 18, 0, tzinfo=UTC)  # 20:00 in Kyiv
    monday_nine_kyiv = dt.datetime(2025, 3, 10, 7, 0, tzinfo=UTC)
    assert await sent_at(text, friday_evening, timezone="Europe/Kyiv") == [monday_nine_kyiv]
    saturday = dt.datetime(2025, 3, 8, 6, 0, tzinfo=UTC)
    assert await sent_at(text, saturday, timezone="Europe/Kyiv") == [monday_nine_kyiv]
    tuesday_early = dt.datetime(2025, 3, 11, 5, 0, tzinfo=UTC)  # 07:00 in Kyiv: today's 09:00
    assert await sent_at(text, tuesday_early, timezone="Europe/Kyiv") == [dt.datetime(2025, 3, 11, 7, 0, tzinfo=UTC)]


async def test_a_day_of_next_month_at_the_ends_of_28_29_30_and_31_day_months() -> None:
    text = "scenario s\n on order.paid\n wait until 31st of next month 09:00\n send email hi\nend\n"
    cases = {
        dt.datetime(2025, 1, 31, 12, tzinfo=UTC): dt.datetime(2025, 2, 28, 9, tzinfo=UTC),  # 28 days
        dt.datetime(2024, 1, 15, 12, tzinfo=UTC): dt.datetime(2024, 2, 29, 9, tzinfo=UTC),  # 29 days
        dt.datetime(2025, 3, 31, 12, tzinfo=UTC): dt.datetime(2025, 4, 30, 9, tzinfo=UTC),  # 30 days
        dt.datetime(2025, 6, 30, 12, tzinfo=UTC): dt.datetime(2025, 7, 31, 9, tzinfo=UTC),  # 31 days
        dt.datetime(2025, 12, 1, 0, tzinfo=UTC): dt.datetime(2026, 1, 31, 9, tzinfo=UTC),  # into a new year
    }
    for paid, expected in cases.items():
        assert await sent_at(text, paid) == [expected], paid
    first = "scenario s\n on order.paid\n wait until 1st of next month 09:00\n send email hi\nend\n"
    # On the 1st at 08:00 it is still next month's 1st, not today's.
    assert await sent_at(first, dt.datetime(2025, 3, 1, 8, tzinfo=UTC)) == [dt.datetime(2025, 4, 1, 9, tzinfo=UTC)]


async def test_a_wait_until_a_date_field_set_unset_or_past() -> None:
    text = "scenario s\n on order.paid\n wait until contact.renewal_at\n send email hi\nend\n"
    renewal = MONDAY + dt.timedelta(days=3, hours=5)
    assert await sent_at(text, MONDAY, attributes={"renewal_at": renewal.isoformat()}) == [renewal]
    assert await sent_at(text, MONDAY) == [MONDAY]  # unset: on at once (and the checker says so)
    past = MONDAY - dt.timedelta(days=1)
    assert await sent_at(text, MONDAY, attributes={"renewal_at": past.isoformat()}) == [MONDAY]
    # A date means its first moment in the contact's zone.
    day = "scenario s\n on order.paid\n wait until contact.renewal_day\n send email hi\nend\n"
    assert await sent_at(day, MONDAY, timezone="Europe/Riga", attributes={"renewal_day": "2025-03-20"}) == [
        dt.datetime(2025, 3, 19, 22, 0, tzinfo=UTC)
    ]


async def test_the_run_log_says_why_a_date_wait_did_not_wait() -> None:
    text = "scenario s\n on order.paid\n wait until contact.renewal_at\n send email hi\nend\n"
    async with Harness(TEMPLATE + text, start=MONDAY) as h:
        await h.play([h.event("order.paid", "c1", order={"id": "o1", "total": "1.00", "currency": "EUR"})])
        rows = await h.rows("SELECT outcome, detail FROM step_log WHERE step = 's1'")
    assert rows == [("skipped", "contact.renewal_at is unset: no wait")]


def diagnostics(text: str) -> list[tuple[str, int, int, str]]:
    result = check_texts({"t.scn": TEMPLATE + text}, {"hi.html": '<a href="{{ unsubscribe_url }}">x</a>'})
    first = TEMPLATE.count("\n")
    # SCN308 (sends on order.paid without a cap) is beside the point here.
    found = [d for d in result.diagnostics if d.code.code != "SCN308"]
    return [(d.code.code, d.span.line - first, d.span.column, d.message) for d in found]


def test_the_checker_says_when_a_date_to_wait_for_may_be_unset() -> None:
    found = diagnostics("scenario s\n on order.paid\n wait until contact.renewal_at\n send email hi\nend\n")
    assert [(c, line, col) for c, line, col, _ in found] == [("SCN115", 3, 13)]
    assert "goes on at once" in found[0][3]
    guarded = (
        "scenario s\n on order.paid\n stop if contact.renewal_at is not set\n wait until contact.renewal_at\nend\n"
    )
    assert diagnostics(guarded) == []


def test_the_checker_refuses_bad_calendar_waits() -> None:
    assert [c for c, *_ in diagnostics("scenario s\n on order.paid\n wait until 2st of next month 09:00\nend\n")] == [
        "SCN319"
    ]
    assert (
        "write the 2nd" in diagnostics("scenario s\n on order.paid\n wait until 2st of next month 09:00\nend\n")[0][3]
    )
    assert [c for c, *_ in diagnostics("scenario s\n on order.paid\n wait until 32nd of next month 09:00\nend\n")] == [
        "SCN319"
    ]
    assert [c for c, *_ in diagnostics("scenario s\n on order.paid\n wait until 0th of next month 09:00\nend\n")] == [
        "SCN319"
    ]
    for good in ("1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"):
        assert diagnostics(f"scenario s\n on order.paid\n wait until {good} of next month 09:00\nend\n") == [], good
    assert [c for c, *_ in diagnostics("scenario s\n on order.paid\n wait until monday 24:00\nend\n")] == ["SCN305"]
    assert "SCN105" in [c for c, *_ in diagnostics("scenario s\n on order.paid\n wait until contact.nickname\nend\n")]


# ---------------------------------------------------------------- send windows

WINDOW = "scenario s\n on order.paid\n send only mon-fri 09:00 to 18:00\n send email hi\nend\n"


async def test_a_message_due_outside_the_window_waits_for_its_next_opening() -> None:
    friday_evening = dt.datetime(2025, 3, 7, 17, 0, tzinfo=UTC)  # 19:00 in Kyiv
    monday_nine_kyiv = dt.datetime(2025, 3, 10, 7, 0, tzinfo=UTC)
    assert await sent_at(WINDOW, friday_evening, timezone="Europe/Kyiv") == [monday_nine_kyiv]
    inside = dt.datetime(2025, 3, 7, 14, 0, tzinfo=UTC)  # 16:00 in Kyiv, a Friday
    assert await sent_at(WINDOW, inside, timezone="Europe/Kyiv") == [inside]
    # 18:00 is already outside: the window is [09:00, 18:00).
    six = dt.datetime(2025, 3, 4, 16, 0, tzinfo=UTC)
    assert await sent_at(WINDOW, six, timezone="Europe/Kyiv") == [dt.datetime(2025, 3, 5, 7, 0, tzinfo=UTC)]


async def test_the_send_window_and_quiet_hours_together() -> None:
    text = "scenario s\n on order.paid\n quiet hours 12:00 to 14:00\n send only sat, sun 10:00 to 16:00\n" \
        " send email hi\nend\n"  # fmt: skip
    saturday_noon = dt.datetime(2025, 3, 8, 12, 30, tzinfo=UTC)
    assert await sent_at(text, saturday_noon) == [dt.datetime(2025, 3, 8, 14, 0, tzinfo=UTC)]
    sunday_evening = dt.datetime(2025, 3, 9, 17, 0, tzinfo=UTC)
    assert await sent_at(text, sunday_evening) == [dt.datetime(2025, 3, 15, 10, 0, tzinfo=UTC)]


async def test_the_trace_says_a_message_waits_for_the_window() -> None:
    async with Harness(TEMPLATE + WINDOW, start=dt.datetime(2025, 3, 8, 10, tzinfo=UTC)) as h:
        await h.play([h.event("order.paid", "c1", order={"id": "o1", "total": "1.00", "currency": "EUR"})])
        rows = await h.rows("SELECT outcome, detail FROM step_log WHERE step = 's1'")
    assert rows == [("deferred", "outside the send window until Mon 09:00 UTC")]


def test_the_checker_refuses_empty_and_invalid_send_windows() -> None:
    def codes(header: str) -> list[str]:
        return [c for c, *_ in diagnostics(f"scenario s\n on order.paid\n {header}\n send email hi\nend\n")]

    assert codes("send only mon-fri 09:00 to 09:00") == ["SCN320"]
    assert codes("send only mon-fri, wed 09:00 to 18:00") == ["SCN320"]
    assert codes("send only mon-fri 09:00 to 25:00") == ["SCN305"]
    assert codes("quiet hours 08:00 to 20:00\n send only mon-fri 09:00 to 18:00") == ["SCN320"]
    assert codes("quiet hours 22:00 to 10:00\n send only mon-fri 09:00 to 18:00") == []
    assert codes("send only fri-mon 22:00 to 02:00") == []  # over the weekend, past midnight
    assert codes("send only mon-fri 09:00 to 18:00\n send only sat 10:00 to 12:00") == ["SCN314"]


def test_a_send_window_compiles_beside_an_entry_window() -> None:
    from scn.interpreter.compiler import compile_workspace
    from scn.interpreter.program import SendWindow

    text = TEMPLATE + (
        "scenario s\n on order.paid\n send only fri-mon 22:00 to 02:00\n entry at most 1 per contact per 7d\n"
        " send email hi\nend\n"
    )
    result = check_texts({"t.scn": text}, {"hi.html": '<a href="{{ unsubscribe_url }}">x</a>'})
    program = compile_workspace(result).scenarios["s"]
    assert program.send_window == SendWindow((0, 4, 5, 6), (22, 0), (2, 0))
    assert program.entry_limits[0].window_ms == 7 * 86_400_000
