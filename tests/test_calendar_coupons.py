"""Coupons with an absolute end: `valid until 2026-12-31` and `valid until end of month`,
beside `valid 7d`, on the declaration and on `issue coupon`; and the checker's warning
when a code surely ends before the step that gives it."""

from __future__ import annotations

import datetime as dt

from .conftest import check_texts
from .harness import Harness

UTC = dt.UTC
DECLS = """
template hi email
  subject "Hi"
  html "hi.html"
end
coupon DATED discount 10% generated "D-{XXXXXXXX}" valid until 2026-12-31
coupon MONTHLY discount 10% generated "M-{XXXXXXXX}" valid until end of month
coupon WEEK discount 10% generated "W-{XXXXXXXX}" valid 7d
"""


async def valid_until(step: str, at: dt.datetime, timezone: str = "UTC") -> dt.datetime:
    """When the code a run issues at ``at`` ends, for a contact in ``timezone``."""
    text = DECLS + f"scenario s\n on order.paid\n {step}\nend\n"
    async with Harness(text, start=at) as h:
        person = {"timezone": timezone}
        await h.play([h.event("order.paid", "c1", person=person,
                              order={"id": "o1", "total": "1.00", "currency": "EUR"})])  # fmt: skip
        ((ms,),) = await h.rows("SELECT valid_until FROM coupon_codes WHERE contact_id = 'c1'")
    return dt.datetime.fromtimestamp(ms / 1000, UTC)


async def test_a_date_is_valid_to_the_end_of_that_day_in_the_contacts_zone() -> None:
    at = dt.datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert await valid_until("issue coupon DATED", at) == dt.datetime(2027, 1, 1, tzinfo=UTC)
    assert await valid_until("issue coupon DATED", at, "Europe/Kyiv") == dt.datetime(2026, 12, 31, 22, tzinfo=UTC)
    # The step's own end wins over the declaration's.
    assert await valid_until("issue coupon WEEK valid until 2026-07-04", at) == dt.datetime(2026, 7, 5, tzinfo=UTC)
    assert await valid_until("issue coupon DATED valid 2d", at) == at + dt.timedelta(days=2)


async def test_end_of_month_in_28_29_30_and_31_day_months() -> None:
    cases = {
        dt.datetime(2025, 2, 10, tzinfo=UTC): dt.datetime(2025, 3, 1, tzinfo=UTC),
        dt.datetime(2024, 2, 29, 23, 59, tzinfo=UTC): dt.datetime(2024, 3, 1, tzinfo=UTC),
        dt.datetime(2025, 4, 1, tzinfo=UTC): dt.datetime(2025, 5, 1, tzinfo=UTC),
        dt.datetime(2025, 12, 31, 12, tzinfo=UTC): dt.datetime(2026, 1, 1, tzinfo=UTC),
    }
    for issued, ends in cases.items():
        assert await valid_until("issue coupon MONTHLY", issued) == ends, issued
        assert await valid_until("issue coupon WEEK valid until end of month", issued) == ends, issued
    # The month is the contact's: 31 January 23:30 UTC is already February in Kyiv.
    late = dt.datetime(2025, 1, 31, 23, 30, tzinfo=UTC)
    assert await valid_until("issue coupon MONTHLY", late, "Europe/Kyiv") == dt.datetime(2025, 2, 28, 22, tzinfo=UTC)


async def test_a_send_with_a_dated_coupon_shows_its_end() -> None:
    text = DECLS + "scenario s\n on order.paid\n send email hi with coupon MONTHLY\nend\n"
    resources = {"hi.html": '{{ coupon.code }} {{ coupon.valid_until }} <a href="{{ unsubscribe_url }}">x</a>'}
    async with Harness(text, start=dt.datetime(2025, 2, 10, tzinfo=UTC), resources=resources) as h:
        await h.play([h.event("order.paid", "c1", order={"id": "o1", "total": "1.00", "currency": "EUR"})])
        ((ms,),) = await h.rows("SELECT valid_until FROM coupon_codes")
    assert ms == int(dt.datetime(2025, 3, 1, tzinfo=UTC).timestamp() * 1000)


def findings(body: str) -> list[tuple[str, int, str]]:
    text = DECLS + f'coupon OLD discount 5% code "OLD" valid until 2020-01-01\nscenario s\n on order.paid\n{body}end\n'
    result = check_texts({"t.scn": text}, {"hi.html": '<a href="{{ unsubscribe_url }}">x</a>'})
    first = DECLS.count("\n") + 3  # the first line of the body is 1
    return [(d.code.code, d.span.line - first, d.message) for d in result.diagnostics if d.code.code != "SCN308"]


def test_the_checker_warns_when_a_coupon_ends_before_a_scenario_can_send_it() -> None:
    # A date that has passed: every run comes too late.
    found = findings(" send email hi with coupon OLD\n")
    assert [(c, line) for c, line, _ in found] == [("SCN307", 1)]
    assert "valid until 2020-01-01, which has passed" in found[0][2]
    assert [c for c, *_ in findings(" issue coupon WEEK valid until 2020-06-30\n")] == ["SCN307"]
    # A date years ahead: nothing to say; but not when the waits before the send pass it.
    assert findings(" send email hi with coupon DATED\n") == []
    assert findings(" wait 10000d\n send email hi with coupon DATED\n")[0][0] == "SCN307"
    # The end of the month comes at most 31 days after the code was issued.
    assert findings(" issue coupon MONTHLY\n wait 30d\n send email hi with coupon MONTHLY\n") == []
    late = findings(" issue coupon MONTHLY\n wait 31d\n send email hi with coupon MONTHLY\n")
    assert [(c, line) for c, line, _ in late] == [("SCN307", 3)]
    assert "end of the month" in late[0][2]


def test_a_coupon_has_one_validity() -> None:
    text = 'coupon C discount 5% code "C" valid 7d valid until end of month\n'
    result = check_texts({"t.scn": text})
    assert [d.code.code for d in result.diagnostics] == ["SCN208"]
    bad = check_texts({"t.scn": 'coupon C discount 5% code "C" valid until 2026-02-30\n'})
    assert [d.code.code for d in bad.diagnostics] == ["SCN315"]


async def test_a_code_that_has_expired_by_its_send_is_not_sent() -> None:
    """SCN307 is a warning, so a scenario may still give a code after its end; it went out
    as if it worked. Now that message fails with the reason (a code that is still valid
    at the very moment of the send, as redemption counts, goes)."""
    text = (
        DECLS
        + """
coupon TWO_HOURS discount 10% generated "H-{XXXXXXXX}" valid 2h
scenario s
  on order.paid
  issue coupon TWO_HOURS
  wait 2h
  send email hi with coupon TWO_HOURS
  wait 1m
  send email hi with coupon TWO_HOURS
end
"""
    )
    at = dt.datetime(2025, 3, 3, 8, tzinfo=UTC)
    async with Harness(text, start=at) as h:
        await h.play([h.event("order.paid", "c1", order={"id": "o1", "total": "1.00", "currency": "EUR"})],
                     until=dt.timedelta(hours=3))  # fmt: skip
        rows = await h.rows("SELECT status, failure, error, coupon_code FROM outbox ORDER BY id")
    assert [(status, failure) for status, failure, _, _ in rows] == [("pending", None), ("failed", "coupon")]
    code = rows[0][3]
    assert rows[1][3] == code
    assert rows[1][2] == (
        f"the code {code} of coupon TWO_HOURS expired at 2025-03-03 10:00 UTC, before this send:"
        " give the code closer to the send, or make it valid for longer"
    )
