"""Date triggers: `on date contact.birthday at 10:00` (every year; 29 February on 28
February in other years) and `on date contact.subscription_ends minus 3d at 09:00 once`,
with no event from outside: each occurrence fires once, in the contact's zone, across
DST changes, after a restart or downtime too (caught up, never twice), and again from
the new date when the field changes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from scn.interpreter import ast
from scn.interpreter.program import DateTrigger
from scn.interpreter.runtime.dates import latest_due, next_after
from scn.interpreter.span import Span
from scn.interpreter.timing import anniversary

from .backends import execute
from .conftest import check_texts
from .harness import Harness
from .test_timing import ZONES, shows, times_of_day

UTC = dt.UTC
_SPAN = Span("t.scn", 1, 1, 1, 1, 0, 0)
FIELD = ast.Path(parts=(ast.Ident(name="contact", span=_SPAN), ast.Ident(name="birthday", span=_SPAN)), span=_SPAN)


def rule(at: dt.time, offset: int = 0, once: bool = False) -> DateTrigger:
    return DateTrigger(field=FIELD, offset_days=offset, hour=at.hour, minute=at.minute, once=once)


def test_29_february_is_28_february_in_other_years() -> None:
    leap = dt.date(2000, 2, 29)
    assert anniversary(leap, 2024) == dt.date(2024, 2, 29)
    assert anniversary(leap, 2025) == dt.date(2025, 2, 28)
    assert anniversary(leap, 2100) == dt.date(2100, 2, 28)  # not a leap year
    assert anniversary(dt.date(1990, 3, 1), 2025) == dt.date(2025, 3, 1)


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.dates(dt.date(1950, 1, 1), dt.date(2023, 12, 31)),  # before `after`: a birthday
    times_of_day,
    st.integers(-40, 40),
    st.datetimes(dt.datetime(2024, 1, 1), dt.datetime(2027, 12, 31), timezones=st.just(UTC)),
)
def test_the_next_occurrence_is_the_dates_day_at_its_time_in_the_zone(
    zone: str, born: dt.date, at: dt.time, offset: int, after: dt.datetime
) -> None:
    tz = ZoneInfo(zone)
    found = next_after(born, rule(at, offset), tz, after)
    assert found is not None and found > after
    assert found - after <= dt.timedelta(days=367)
    local = found.astimezone(tz)
    day = local.date()  # a skipped time lands later that day
    origin = day - dt.timedelta(days=offset)
    assert (origin.month, origin.day) == (born.month, born.day) or (
        (born.month, born.day) == (2, 29) and (origin.month, origin.day) == (2, 28)
    )
    wanted = dt.datetime.combine(day, at)
    if shows(found, tz) != wanted:  # the clocks skipped that time: the first moment after
        assert shows(found - dt.timedelta(seconds=1), tz) < wanted < shows(found, tz)
    # Nothing fired in between: the occurrence before is not after `after`.
    assert latest_due(born, rule(at, offset), tz, after, found - dt.timedelta(seconds=1)) is None
    assert latest_due(born, rule(at, offset), tz, after, found) is not None


def test_a_date_that_happens_once_has_no_occurrence_after_it() -> None:
    tz = ZoneInfo("Europe/Riga")
    ends = dt.date(2026, 3, 31)
    once = rule(dt.time(9), offset=-3, once=True)
    first = next_after(ends, once, tz, dt.datetime(2026, 1, 1, tzinfo=UTC))
    assert first == dt.datetime(2026, 3, 28, 7, 0, tzinfo=UTC)  # 09:00 in Riga, still winter time
    assert next_after(ends, once, tz, first) is None


# ---------------------------------------------------------------- the engine

SCENARIOS = """
attribute birthday: date
attribute subscription_ends: datetime
template hi email
  subject "Hi"
  html "hi.html"
end

scenario birthday "Happy birthday"
  on date contact.birthday at 10:00
  send email hi
end

scenario renewal "Three days before the subscription ends"
  on date contact.subscription_ends minus 3d at 09:00 once
  send email hi
end
"""
START = dt.datetime(2025, 1, 1, tzinfo=UTC)


async def register(h: Harness, contact: str, at: dt.datetime, timezone: str = "UTC", **attributes: str) -> None:
    person = {"timezone": timezone, "attributes": attributes}
    await h.play([h.event("contact.registered", contact, at=at, person=person)])


async def sends(h: Harness) -> list[tuple[str, str, dt.datetime]]:
    rows = await h.rows("SELECT contact_id, scenario, created_at FROM outbox ORDER BY created_at, contact_id")
    return [(c, s, dt.datetime.fromtimestamp(ms / 1000, UTC)) for c, s, ms in rows]


async def test_a_birthday_fires_every_year_at_10_in_the_contacts_zone(db: str) -> None:
    """On both stores (the date tables' SQL said PostgreSQL's way on the second)."""
    async with Harness(SCENARIOS, db, start=START) as h:
        await register(h, "kyiv", START, "Europe/Kyiv", birthday="1990-07-15")
        await register(h, "nyc", START, "America/New_York", birthday="1985-03-09")  # the day DST begins there
        await h.advance(dt.timedelta(days=800))
        got = await sends(h)
    assert got == [
        ("nyc", "birthday", dt.datetime(2025, 3, 9, 14, 0, tzinfo=UTC)),  # 10:00 EDT
        ("kyiv", "birthday", dt.datetime(2025, 7, 15, 7, 0, tzinfo=UTC)),  # 10:00 EEST
        ("nyc", "birthday", dt.datetime(2026, 3, 9, 14, 0, tzinfo=UTC)),
        ("kyiv", "birthday", dt.datetime(2026, 7, 15, 7, 0, tzinfo=UTC)),
        ("nyc", "birthday", dt.datetime(2027, 3, 9, 15, 0, tzinfo=UTC)),  # 10:00 EST: DST begins on the 14th
    ]


async def test_29_february_fires_on_28_february_in_other_years() -> None:
    async with Harness(SCENARIOS, start=START) as h:
        await register(h, "leap", START, birthday="2000-02-29")
        await h.advance(dt.timedelta(days=365 * 4))
        days = [at.date() for _, _, at in await sends(h)]
    assert days == [dt.date(2025, 2, 28), dt.date(2026, 2, 28), dt.date(2027, 2, 28), dt.date(2028, 2, 29)]


async def test_a_date_minus_3_days_once_and_not_again_next_year() -> None:
    async with Harness(SCENARIOS, start=START) as h:
        await register(h, "sub", START, "Europe/Warsaw", subscription_ends="2025-04-02T12:00:00+02:00")
        await h.advance(dt.timedelta(days=800))
        got = await sends(h)
    assert got == [("sub", "renewal", dt.datetime(2025, 3, 30, 7, 0, tzinfo=UTC))]  # 09:00 CEST, DST day


async def test_an_unset_date_fires_nothing_until_it_is_set() -> None:
    async with Harness(SCENARIOS, start=START) as h:
        await register(h, "later", START)
        await h.advance(dt.timedelta(days=30))
        assert await sends(h) == []
        # Set on 31 January: the birthday on 5 February fires; the date already past does not.
        await register(h, "later", START + dt.timedelta(days=30), birthday="1999-02-05")
        await register(h, "past", START + dt.timedelta(days=30), birthday="1999-01-20")
        await h.advance(dt.timedelta(days=10))
        got = await sends(h)
    assert got == [("later", "birthday", dt.datetime(2025, 2, 5, 10, 0, tzinfo=UTC))]


async def test_a_changed_date_is_recomputed() -> None:
    async with Harness(SCENARIOS, start=START) as h:
        await register(h, "c", START, birthday="1990-03-01")
        await h.advance(dt.timedelta(days=10))
        await register(h, "c", START + dt.timedelta(days=10), birthday="1990-01-20")
        await h.advance(dt.timedelta(days=60))
        got = await sends(h)
    assert got == [("c", "birthday", dt.datetime(2025, 1, 20, 10, 0, tzinfo=UTC))]


async def test_downtime_across_an_occurrence_catches_up_once(db: str) -> None:
    async with Harness(SCENARIOS, db, start=START) as h:
        await register(h, "c", START, birthday="1990-01-05")
        await h.advance(dt.timedelta(days=3))  # stopped on 4 January
        assert await sends(h) == []
    # Back two days later, after the birthday at 10:00 on the 5th.
    async with Harness(SCENARIOS, db, start=dt.datetime(2025, 1, 6, 12, tzinfo=UTC)) as h:
        await h.advance(dt.timedelta(hours=1))
        first = await sends(h)
        assert [(c, s) for c, s, _ in first] == [("c", "birthday")]
        log = await h.rows("SELECT name FROM step_log WHERE step = 'start'")
        assert log == [("on date contact.birthday (2025-01-05)",)]
    # And again: a restart does not fire it twice.
    async with Harness(SCENARIOS, db, start=dt.datetime(2025, 1, 7, tzinfo=UTC)) as h:
        await h.advance(dt.timedelta(days=30))
        assert await sends(h) == first
        assert await h.rows("SELECT count(*) FROM events WHERE type = '@date'") == [(1,)]


async def test_a_crash_before_the_progress_is_saved_does_not_fire_twice(db: str) -> None:
    async with Harness(SCENARIOS, db, start=START) as h:
        await register(h, "c", START, birthday="1990-01-05")
        await h.advance(dt.timedelta(days=5))
        assert len(await sends(h)) == 1
    # As if the transaction that moved the progress on had been lost: the occurrence is due again.
    execute(db, "UPDATE date_triggers SET done_until = 0")
    execute(db, "UPDATE date_checks SET due_at = 0")
    async with Harness(SCENARIOS, db, start=START + dt.timedelta(days=5)) as h:
        await h.advance(dt.timedelta(days=2))
        assert len(await sends(h)) == 1


async def test_only_the_contacts_due_are_looked_at() -> None:
    async with Harness(SCENARIOS, start=START) as h:
        for i in range(20):
            await register(h, f"c{i}", START, birthday=f"1990-0{1 + i % 9}-1{i % 10}")
        await h.advance(dt.timedelta(hours=1))
        looked: list[list[str]] = []
        asked = h.store.due_date_checks

        async def recorded(now: int, limit: int) -> list[str]:
            found = await asked(now, limit)
            looked.append(found)
            return found

        h.store.due_date_checks = recorded  # type: ignore[method-assign]
        await h.advance(dt.timedelta(days=12))  # through 13 January: c0's birthday on the 10th (c9's is the 19th)
        seen = sorted(c for page in looked for c in page)
    assert seen == ["c0"]
    assert len(looked) <= 2, looked  # asked when something is due, not at every step of the engine


def test_the_checker_on_date_triggers() -> None:
    def codes(header: str) -> list[str]:
        text = SCENARIOS.split("scenario birthday")[0] + f"scenario s\n {header}\n send email hi\nend\n"
        result = check_texts({"t.scn": text}, {"hi.html": '<a href="{{ unsubscribe_url }}">x</a>'})
        return [d.code.code for d in result.diagnostics]

    assert codes("on date contact.birthday at 10:00") == []
    assert codes("on date contact.birthday minus 36h at 10:00") == ["SCN319"]
    assert codes("on date contact.email at 10:00") == ["SCN105"]
    assert codes("on date contact.birthday at 10:00\n entry once per order") == ["SCN113"]
    assert codes("on date contact.birthday at 10:00\n stop if order.paid") == ["SCN113"]


def test_the_console_and_version_diffs_show_date_triggers_and_send_windows_as_written() -> None:
    from scn.interpreter.compiler import compile_workspace
    from scn.interpreter.versions._diff import diff_programs
    from scn.server.console.flow import flow_of

    result = check_texts({"t.scn": SCENARIOS}, {"hi.html": '<a href="{{ unsubscribe_url }}">x</a>'})
    programs = compile_workspace(result).scenarios
    assert programs["birthday"].triggers[0].header() == "on date contact.birthday at 10:00"
    assert programs["renewal"].triggers[0].header() == "on date contact.subscription_ends minus 3d at 09:00 once"
    windowed = SCENARIOS.replace("  on date contact.birthday at 10:00\n", "  on date contact.birthday at 10:00\n"
                                 "  send only mon-fri 09:00 to 18:00\n")  # fmt: skip
    edited = compile_workspace(check_texts({"t.scn": windowed}, {"hi.html": '<a href="{{ unsubscribe_url }}">x</a>'}))
    flow = flow_of(edited.scenarios["birthday"])
    assert flow.triggers == ["on date contact.birthday at 10:00"]
    assert flow.rules == ["send only mon, tue, wed, thu, fri 09:00 to 18:00"]
    changes = diff_programs(programs["birthday"], edited.scenarios["birthday"])
    assert "send window" in str(changes)


async def test_with_no_date_ahead_the_engine_does_not_ask_at_every_step() -> None:
    async with Harness(SCENARIOS, start=START) as h:
        await register(h, "no_date", START)
        calls: list[str] = []
        for name in ("due_date_checks", "next_date_check"):
            asked = getattr(h.store, name)

            def counting(*args: object, _asked: object = asked, _name: str = name) -> object:
                calls.append(_name)
                return _asked(*args)  # type: ignore[operator]

            setattr(h.store, name, counting)
        for hour in range(1, 25):  # a day of engine steps, an hour apart
            await h.play([h.event("contact.active", "no_date", at=START + dt.timedelta(hours=hour))])
        assert len(calls) <= 2, calls


async def test_a_date_at_the_calendars_edges_fires_nothing_and_breaks_nothing() -> None:
    """A contact's date can be anything the door takes, 0001-01-01 to 9999-12-31: an
    occurrence that falls outside the calendar (9999-12-31 plus a day, 0001-01-01 minus
    three) does not happen, and the engine goes on for everyone else (it stopped: date
    value out of range)."""
    async with Harness(SCENARIOS, start=START) as h:
        await register(h, "first", START, "Pacific/Kiritimati", subscription_ends="0001-01-01T00:00:00+00:00")
        await register(h, "last", START, "Etc/GMT+12", birthday="9999-12-31", subscription_ends="9999-12-31T23:00:00Z")
        await register(h, "anna", START, "Europe/Riga", birthday="1990-01-05")
        await h.advance(dt.timedelta(days=10))
        got = await sends(h)
    assert got == [("anna", "birthday", dt.datetime(2025, 1, 5, 8, 0, tzinfo=UTC))]


def test_occurrences_past_the_calendar_are_left_out() -> None:
    tz = ZoneInfo("Etc/GMT+12")
    last = dt.date(9999, 12, 31)
    after = dt.datetime(2025, 6, 1, tzinfo=UTC)
    assert next_after(last, rule(dt.time(9), offset=1), tz, after) is None
    assert next_after(last, rule(dt.time(9), offset=1, once=True), tz, after) is None
    assert latest_due(dt.date(1, 1, 1), rule(dt.time(9), offset=-3, once=True), tz, after, after) is None
