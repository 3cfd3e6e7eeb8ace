"""Arithmetic that `scn check` cannot rule out and the data decides: a division by a field
that is 0, a wait or a time limit computed past the calendar's end, a bonus that comes
out below zero. Each either does the documented thing or fails the run with a reason a
marketer can read; none sets the event aside or shows Python's insides."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .harness import Harness
from .test_failures import readable

SCENARIOS = """
currency UAH
event points.changed(n: number, pct: percent, amount: money, d: duration)

template hi email
  from "Shop" <shop@example.com>
  subject "Hi"
  html "hi.html"
end

scenario per_point "Per point"
  on points.changed
  if event.amount / event.n > 10 UAH
    send email hi
  end
end

scenario later "Later"
  on points.changed
  wait event.d * event.n
  send email hi
end

scenario awaiting "Awaiting"
  on points.changed
  wait for order.paid up to event.d * event.n
  send email hi
end

scenario cashback "Cashback"
  on points.changed
  award bonus event.amount * event.pct
end
"""
RESOURCES = {"hi.html": "<p>{{ unsubscribe_url }}</p>"}


async def runs(h: Harness) -> dict[str, tuple[str, str | None]]:
    """Each scenario's run (one contact): its status and reason."""
    return {s: (status, reason) for s, status, reason in await h.rows("SELECT scenario, status, reason FROM runs")}


def points(h: Harness, contact: str, **data: Any) -> Any:
    return h.event("points.changed", contact, data={"n": "1", "pct": "5%", "amount": "100 UAH", "d": "1h", **data})


async def test_a_division_by_a_field_that_is_zero_fails_the_run_with_a_readable_reason() -> None:
    """It failed with `could not evaluate: [<class 'decimal.DivisionByZero'>]`."""
    async with Harness(SCENARIOS, resources=RESOURCES) as h:
        await h.play([points(h, "ann", n="0"), points(h, "bob", n="2")])
        rows = await h.rows("SELECT contact_id, status, reason FROM runs WHERE scenario = 'per_point' ORDER BY id")
        logged = await h.rows(
            "SELECT l.detail FROM step_log l JOIN runs r ON r.id = l.run_id"
            " WHERE r.scenario = 'per_point' AND l.outcome = 'failed'"
        )
    assert [(c, s) for c, s, _ in rows] == [("ann", "failed"), ("bob", "done")]
    assert readable(rows[0][2]) == "`event.amount / event.n` divides by zero"
    assert [readable(d) for (d,) in logged] == ["could not evaluate: `event.amount / event.n` divides by zero"]


async def test_a_wait_computed_past_the_calendars_end_fails_the_run_and_sets_nothing_aside() -> None:
    """`wait event.d * event.n` of 7d × 100,000,000 set the whole event aside (year 1918560
    is out of range), so none of its scenarios ran."""
    async with Harness(SCENARIOS, resources=RESOURCES) as h:
        await h.play([points(h, "ann", n="100000000", d="7d")])
        got = await runs(h)
        aside = await h.rows("SELECT id, error FROM events WHERE error IS NOT NULL")
    assert aside == []
    assert got["per_point"][0] == "done" and got["cashback"][0] == "done"
    for scenario in ("later", "awaiting"):
        status, reason = got[scenario]
        assert status == "failed", got
        assert readable(reason) == "`event.d * event.n` is too far out: it ends beyond the year 9999"


async def test_a_wait_or_time_limit_computed_below_zero_is_over_at_once() -> None:
    """As a wait already over: the run goes on (a `wait for` times out) at once; a limit
    of 700 million days back overflowed the calendar too."""
    async with Harness(SCENARIOS, resources=RESOURCES) as h:
        await h.play([points(h, "ann", n="-100000000", d="7d")])
        got = await runs(h)
        sent = await h.rows("SELECT scenario FROM outbox ORDER BY scenario")
    assert got["later"] == ("done", None) and got["awaiting"] == ("done", None)
    assert sent == [("awaiting",), ("later",)]


async def test_a_bonus_below_zero_is_not_awarded() -> None:
    """A negative percentage (the door takes `-5%`) made `award bonus` debit -5.00 UAH."""
    async with Harness(SCENARIOS, resources=RESOURCES) as h:
        await h.play([points(h, "ann", pct="-5%"), points(h, "bob", pct="5%")])
        balances = dict(await h.rows("SELECT id, bonus_balance FROM contacts"))
        logged = await h.rows(
            "SELECT r.contact_id, l.outcome, l.detail FROM step_log l JOIN runs r ON r.id = l.run_id"
            " WHERE r.scenario = 'cashback' AND l.step = 's1'"
        )
        got = await runs(h)
    assert {c: Decimal(b) for c, b in balances.items()} == {"ann": 0, "bob": 5}
    assert sorted(logged) == [
        ("ann", "skipped", "the amount -5.00 UAH is below zero: no bonus"),
        ("bob", "awarded", "5.00 UAH"),
    ]
    assert got["cashback"][0] == "done"


EDGES = """
attribute born: date
segment old "Born before 1950" where contact.born is set and contact.born < 1950-01-01

template hi email
  from "Shop" <shop@example.com>
  subject "Hi"
  html "hi.html"
end

scenario on_the_day "On the day"
  on contact.updated
  if contact.born is set
    wait until contact.born
  end
  send email hi
end

scenario elders "Elders"
  on segment.entered where event.segment == old
  send email hi
end
"""


async def test_a_date_on_the_calendars_first_day_east_of_utc_is_before_everything() -> None:
    """0001-01-01 in Tokyo begins before the calendar does (in UTC): `wait until` it set the
    event aside (date value out of range). It has passed, and it is before 1950."""
    async with Harness(EDGES, resources=RESOURCES) as h:
        person = {"timezone": "Asia/Tokyo", "attributes": {"born": "0001-01-01"}}
        await h.play([h.event("contact.updated", "ann", person=person)])
        got = await runs(h)
        aside = await h.rows("SELECT id, error FROM events WHERE error IS NOT NULL")
    assert aside == []
    assert got == {"on_the_day": ("done", None), "elders": ("done", None)}
