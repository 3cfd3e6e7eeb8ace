"""Events typed at the door: declared fields decoded to their types, refusals naming each
field, and waits that count from the event's own time (as in `scn simulate`)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from scn.interpreter.runtime.events import EventError, read_event
from scn.interpreter.runtime.facts import event_fields
from scn.interpreter.store import EventRow
from scn.interpreter.values import DeclRef, Money, Percent

from .harness import START, Harness

QUIZ = """
currency EUR
attribute last_total: money
list passed "Passed a quiz"

event quiz.passed(course: string, score: number, total: money, share: percent, took: duration, first: bool,
                  day: date, finished: datetime, slot: time)

template note email
  from "School" <school@example.com>
  subject "Your total: {{ contact.last_total }}"
  html "note.html"
end

scenario big "Big totals"
  on quiz.passed where event.total > 50 EUR
  add to list passed
end

scenario other "Any other total"
  on quiz.passed where event.total != 60 EUR
  add to list passed
end

scenario remember "Remember the total"
  on quiz.passed
  set attribute last_total = event.total
  send email note
end
"""

FIELDS: dict[str, Any] = {
    "course": "course-x", "score": 92, "total": {"amount": "60.00", "currency": "EUR"}, "share": "55%",
    "took": "1h30m", "first": True, "day": "2025-03-01", "finished": "2025-03-01T10:00:00+02:00", "slot": "09:30",
}  # fmt: skip


def quiz(h: Harness, contact: str = "ann", **changes: Any) -> Any:
    data = {k: v for k, v in {**FIELDS, **changes}.items() if v is not ...}
    return h.event("quiz.passed", contact, data=data)


def refusal(h: Harness, event: Any) -> dict[str, str]:
    """The fields the door names for ``event``, each with what it said."""
    with pytest.raises(EventError) as caught:
        h.engine.event_in(event)
    return {e["field"]: e["message"] for e in caught.value.errors}


async def test_conditions_see_typed_money_and_set_attribute_keeps_it_sendable() -> None:
    async with Harness(QUIZ) as h:
        await h.play([quiz(h)])
        starts = await h.rows("SELECT scenario FROM runs ORDER BY scenario")
        # 60 EUR > 50 EUR holds; 60 EUR != 60 EUR does not (raw JSON: never and always).
        assert starts == [("big",), ("remember",)]
        log = await h.rows("SELECT name, outcome, detail FROM step_log WHERE name LIKE 'send%'")
        assert [(n, o) for n, o, _ in log] == [("send email note", "sent")], log
        (message,) = await h.rows("SELECT message FROM outbox")
        assert json.loads(message[0])["subject"] == "Your total: €60.00"


async def test_every_declared_type_reaches_the_runtime_typed() -> None:
    async with Harness(QUIZ) as h:
        row = h.engine.event_in(quiz(h))
        event = EventRow(1, row.key, row.type, row.contact_id, row.occurred_at, row.occurred_at, row.payload)
        bundle = h.engine.current
        assert bundle is not None
        fields = event_fields(event, None, bundle)
    assert fields["course"] == "course-x"
    assert fields["score"] == Decimal(92) and isinstance(fields["score"], Decimal)
    assert fields["total"] == Money(Decimal("60.00"), "EUR")
    assert fields["share"] == Percent(55)
    assert fields["took"] == dt.timedelta(hours=1, minutes=30)
    assert fields["first"] is True
    assert fields["day"] == dt.date(2025, 3, 1)
    assert fields["finished"] == dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
    assert fields["slot"] == dt.time(9, 30)
    assert fields["occurred_at"] == START


async def test_references_of_built_in_events_are_declarations() -> None:
    async with Harness("list vip\n") as h:
        row = h.engine.event_in(h.event("list.entered", "ann", data={"list": "vip"}))
        event = EventRow(1, row.key, row.type, row.contact_id, row.occurred_at, row.occurred_at, row.payload)
        assert h.engine.current is not None
        assert event_fields(event, None, h.engine.current)["list"] == DeclRef("list", "vip")
        assert refusal(h, h.event("list.entered", "ann", data={"list": "vipp"})) == {
            "data.list": "no list `vipp` is declared in the workspace"
        }


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("score", "many", "is not a decimal number"),
        ("score", True, "expected a decimal number"),
        ("score", "1e5", "is not a decimal number"),
        ("total", "NaN", "is not a decimal number"),
        ("total", "Infinity", "is not a decimal number"),
        ("total", "sNaN", "is not a decimal number"),
        ("total", Decimal("1E+999999"), "is not a decimal number"),
        ("total", "-5.00 EUR", "negative"),
        ("total", "5.00 UAH", "the workspace's money is in EUR"),
        ("total", {"amount": "5", "currency": "XYZ"}, "not a currency"),
        ("total", {"amount": "5", "currency": "EUR", "extra": 1}, "expected money as"),
        ("share", "half", "expected a percentage"),
        ("took", "90 minutes", "expected a duration"),
        ("first", "yes", "expected true or false"),
        ("day", "01.03.2025", "expected a date"),
        ("day", "2025-02-30", "expected a date"),
        ("finished", "2025-03-01T10:00:00", "needs its offset"),
        ("slot", "25:00", "expected a time of day"),
        ("course", 7, "expected a string"),
        ("course", "a\x00b", "control characters"),
        ("course", "x" * 10_001, "at most 10000"),
    ],
)
async def test_a_field_that_does_not_fit_is_refused_with_what_was_expected(
    field: str, value: Any, expected: str
) -> None:
    async with Harness(QUIZ) as h:
        errors = refusal(h, quiz(h, **{field: value}))
        assert list(errors) == [f"data.{field}"] and expected in errors[f"data.{field}"], errors


async def test_every_bad_field_is_named_at_once_and_nothing_is_accepted() -> None:
    async with Harness(QUIZ) as h:
        errors = refusal(h, quiz(h, score="x", course=..., totl=1, day="tomorrow"))
        assert set(errors) == {"data.score", "data.course", "data.totl", "data.day"}
        assert errors["data.course"] == "missing: quiz.passed needs course (string)"
        assert errors["data.totl"].startswith("quiz.passed has no field totl (its fields: course, score, total")
        assert await h.rows("SELECT count(*) FROM events") == [(0,)]


async def test_optional_fields_of_built_in_events_may_be_left_out_and_others_not() -> None:
    async with Harness("") as h:
        h.engine.event_in(h.event("contact.active", "ann"))  # `kind` is optional
        h.engine.event_in(h.event("course.access_granted", "ann", data={"course": "c"}))  # `tariff` too
        assert refusal(h, h.event("course.progressed", "ann", data={"course": "c"})) == {
            "data.progress": "missing: course.progressed needs progress (percent)"
        }
        assert refusal(h, h.event("order.paid", "ann")) == {"order": "missing: order.paid carries an order"}


@pytest.mark.parametrize(
    ("wire", "amount", "currency"),
    [
        ({"amount": "12.50", "currency": "UAH"}, "12.50", "UAH"),
        ("12.50 UAH", "12.50", "UAH"),
        ("12.50UAH", "12.50", "UAH"),
        ("12.50", "12.50", "EUR"),  # a bare amount is in the workspace currency
        (Decimal("12.5"), "12.5", "EUR"),  # a JSON number, exactly as written
        (0, "0", "EUR"),
        ("999999999999999.9999999999", "999999999999999.9999999999", "EUR"),  # 15 + 10 digits
    ],
)
async def test_money_wire_forms(wire: Any, amount: str, currency: str) -> None:
    text = "currency EUR\nevent paid.out(total: money)\n"
    async with Harness(text.replace("currency EUR", "currency " + currency)) as h:
        row = h.engine.event_in(h.event("paid.out", "ann", data={"total": wire}))
        stored = json.loads(row.payload)["data"]["total"]
        assert stored == {"amount": amount, "currency": currency}


async def test_money_limits_and_a_bare_amount_without_a_workspace_currency() -> None:
    async with Harness("event paid.out(total: money)\n") as h:

        def errors(value: Any) -> dict[str, str]:
            return refusal(h, h.event("paid.out", "ann", data={"total": value}))

        assert "money needs a currency" in errors("12.50")["data.total"]
        assert "is not a decimal number" in errors("1000000000000000 EUR")["data.total"]  # 16 digits
        assert "is not a decimal number" in errors("1.12345678901 EUR")["data.total"]  # 11 decimals
        assert "written exactly" in errors({"amount": 1.5, "currency": "EUR"})["data.total"]  # a binary float
        h.engine.event_in(h.event("paid.out", "ann", data={"total": "999999999999999 EUR"}))


def test_json_numbers_are_read_exactly_and_json_is_read_strictly() -> None:
    base = '{"type": "x.y", "contact": {"id": "a"}, "data": {"n": 0.30000000000000004}}'
    assert read_event(base).data["n"] == Decimal("0.30000000000000004")
    for text, expected in [
        ('{"type": "x.y", "contact": {"id": "a"}, "type": "z"}', "the key 'type' appears twice"),
        ('{"type": "x.y", "contact": {"id": "a"}, "data": {"n": NaN}}', "NaN is not JSON"),
        ('{"type": "x.y", "contact": {"id": "a"}, "data": {"n": Infinity}}', "Infinity is not JSON"),
        ('{"type": "x.y", "contact": {"id": "a"}, "data": {"n": ' + "[" * 40 + "]" * 40 + "}}", "nested more than 32"),
        ('{"type": "x.y", "contact": {"id": "a"}, "data": {"n": "' + "[" * 40 + '"}}', None),  # brackets in a string
        ('{"type": "x.y", "contact": {"id": ""}}', "contact.id"),
    ]:
        if expected is None:
            read_event(text)
            continue
        with pytest.raises(EventError, match=expected.replace("[", r"\[")):
            read_event(text)


# ---------------------------------------------------------------- time

WAITS = """
template t email
  from "Shop" <shop@example.com>
  subject "Hi"
  html "t.html"
end

scenario unpaid "Unpaid"
  on order.unpaid
  wait 30m
  send email t
end

scenario twice "Two waits"
  on order.created
  wait 10m
  wait 10m
  send email t
end

scenario paid_later "Waits for the payment"
  on order.unpaid
  wait for order.paid up to 1h
  wait 30m
  send email t
end
"""


def order_event(h: Harness, kind: str, at: dt.datetime) -> Any:
    return h.event(kind, "ann", at=at, order={"id": "o1", "total": "10.00", "currency": "EUR"})


async def test_a_wait_counts_from_the_events_own_time_not_from_its_receipt() -> None:
    async with Harness(WAITS) as h:
        received = h.clock.now()
        # Received now, but it happened 20 minutes ago: the reminder is due in 10 minutes.
        row = h.engine.event_in(order_event(h, "order.unpaid", received - dt.timedelta(minutes=20)), received)
        await h.engine.accept([row])
        await h.engine.process_events()
        wakes = dict(await h.rows("SELECT scenario, wake_at FROM runs"))
        assert wakes["unpaid"] == int((received + dt.timedelta(minutes=10)).timestamp() * 1000)
        # The deadline of a `wait for` counts from the event as well.
        assert wakes["paid_later"] == int((received + dt.timedelta(minutes=40)).timestamp() * 1000)


async def test_a_wait_already_over_lets_the_run_go_on_from_when_it_ended() -> None:
    async with Harness(WAITS) as h:
        received = h.clock.now()
        row = h.engine.event_in(order_event(h, "order.created", received - dt.timedelta(minutes=15)), received)
        await h.engine.accept([row])
        await h.engine.process_events()
        # The first wait ended 5 minutes ago; the second counts from then: due in 5 minutes.
        ((wake,),) = await h.rows("SELECT wake_at FROM runs WHERE scenario = 'twice'")
        assert wake == int((received + dt.timedelta(minutes=5)).timestamp() * 1000)
        log = await h.rows("SELECT name, outcome FROM step_log WHERE run_id = (SELECT id FROM runs) ORDER BY rowid")
        assert log[1:] == [("wait 10m", "waited"), ("wait 10m", "waiting")]


async def test_an_awaited_event_moves_the_run_on_from_its_own_time() -> None:
    async with Harness(WAITS) as h:
        await h.play([order_event(h, "order.unpaid", START)])
        h.clock.advance_to(START + dt.timedelta(minutes=45))
        paid = h.engine.event_in(order_event(h, "order.paid", START + dt.timedelta(minutes=20)))
        await h.engine.accept([paid])
        await h.engine.process_events()
        ((wake,),) = await h.rows("SELECT wake_at FROM runs WHERE scenario = 'paid_later'")
        assert wake == int((START + dt.timedelta(minutes=50)).timestamp() * 1000)  # 20m + 30m


async def test_an_event_from_the_future_is_refused_beyond_five_minutes_and_else_taken_as_now() -> None:
    async with Harness(WAITS) as h:
        now = h.clock.now()
        ahead = h.engine.event_in(order_event(h, "order.unpaid", now + dt.timedelta(minutes=5)), now)
        assert ahead.occurred_at == int(now.timestamp() * 1000)
        errors = refusal(h, order_event(h, "order.unpaid", now + dt.timedelta(minutes=5, seconds=1)))
        assert list(errors) == ["at"] and "in the future" in errors["at"]
        old = h.engine.event_in(order_event(h, "order.unpaid", dt.datetime(2000, 1, 1, tzinfo=dt.UTC)), now)
        assert old.occurred_at == int(dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
        errors = refusal(h, order_event(h, "order.unpaid", dt.datetime(1999, 12, 31, 23, 59, tzinfo=dt.UTC)))
        assert list(errors) == ["at"] and "before 2000-01-01" in errors["at"]


async def test_webhooks_get_typed_values_in_their_canonical_form() -> None:
    hook = 'scenario tell "Tell"\n  on quiz.passed\n  call webhook "https://crm.example.com/hook" with ' \
           "total = event.total, share = event.share, finished = event.finished, took = event.took\nend\n"  # fmt: skip
    async with Harness(QUIZ + hook) as h:
        await h.play([quiz(h, total="60.00 EUR")])
        ((message,),) = await h.rows("SELECT message FROM outbox WHERE channel = 'webhook'")
    body = json.loads(message)
    assert body["total"] == {"amount": "60.00", "currency": "EUR"}
    assert (body["share"], body["took"]) == ("55", 5_400_000)  # milliseconds, as stored
    assert body["finished"] == "2025-03-01T08:00:00+00:00"
