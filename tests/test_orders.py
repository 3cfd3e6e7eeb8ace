"""Orders as the shops model them: items with statuses of their own, `all items are` and
`any item is`, an order arriving already in a status (once), back-dated orders, and
recommendations tied to the run's own order."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from scn.interpreter.runtime.events import EventInput

from .conftest import check_texts
from .harness import START, Harness

DAY = dt.timedelta(days=1)

TEMPLATE = """
template thanks email
  subject "Thanks"
  html "thanks.html"
end
"""

ITEMS = (
    TEMPLATE
    + """
scenario all_delivered "Every item delivered"
  on order.status_changed where all items are delivered
  entry at most 5 per order
  send email thanks
end

scenario one_delivered "An item delivered"
  on order.item_status_changed where any item is delivered
  entry at most 5 per order
  send email thanks
end
"""
)

MUG = {"product_id": "mug", "name": "Горнятко", "price": "120.00"}
TEA = {"product_id": "tea", "name": "Herbata", "price": "30.00"}
ORDER = {"id": "o1", "total": "150.00", "currency": "UAH", "items": [MUG, TEA]}


def item_event(h: Harness, item: dict[str, Any], status: str, **data: Any) -> EventInput:
    return h.event("order.item_status_changed", "olena", order={"id": "o1"}, item=item, data={"status": status, **data})


async def runs(h: Harness) -> list[tuple[str, str]]:
    return [(s, o) for s, o in await h.rows("SELECT scenario, order_id FROM runs ORDER BY id")]


async def order_row(h: Harness, order_id: str = "o1") -> tuple[str, list[dict[str, Any]]]:
    import json

    ((status, items),) = await h.rows("SELECT status, items FROM orders WHERE id = ?", order_id)
    return status, json.loads(items)


async def test_items_delivered_one_by_one_start_the_all_items_scenario_when_the_last_one_arrives(db: str) -> None:
    async with Harness(ITEMS, db) as h:
        await h.play([h.event("order.created", "olena", order=ORDER)])
        await h.play([item_event(h, MUG, "delivered")])
        assert await runs(h) == [("one_delivered", "o1")]
        assert (await order_row(h))[0] == "created"
        await h.play([item_event(h, TEA, "delivered")])
        assert await runs(h) == [("one_delivered", "o1"), ("one_delivered", "o1"), ("all_delivered", "o1")]
        status, items = await order_row(h)
        assert status == "delivered" and [i.get("status") for i in items] == [None, None]
        raised = await h.rows("SELECT key, payload FROM events WHERE type = 'order.status_changed'")
        assert len(raised) == 1 and raised[0][0].startswith("order-status:o1:")
        assert '"previous_status":"created"' in raised[0][1]
        # The same status sent again changes nothing and starts nothing.
        await h.play([item_event(h, TEA, "delivered")])
        assert len(await runs(h)) == 3


async def test_a_cancelled_item_keeps_all_items_from_being_delivered() -> None:
    async with Harness(ITEMS) as h:
        await h.play([h.event("order.created", "olena", order=ORDER)])
        await h.play([item_event(h, TEA, "cancelled")])
        # The whole order is delivered: the cancelled item stays cancelled.
        await h.play([h.event("order.status_changed", "olena", order={"id": "o1"}, data={"status": "delivered"})])
        assert await runs(h) == []
        status, items = await order_row(h)
        assert status == "delivered" and [i.get("status") for i in items] == [None, "cancelled"]


async def test_an_order_moving_puts_items_with_statuses_of_their_own_back_in_step() -> None:
    async with Harness(ITEMS) as h:
        await h.play([h.event("order.created", "olena", order=ORDER)])
        await h.play([item_event(h, MUG, "shipped")])
        await h.play([h.event("order.status_changed", "olena", order={"id": "o1"}, data={"status": "delivered"})])
        assert await runs(h) == [("all_delivered", "o1")]


async def test_statuses_in_the_order_body_are_kept_when_the_body_comes_again_without_them() -> None:
    text = (
        TEMPLATE
        + """
scenario some_returned
  on order.status_changed where event.status == "closed" and any item is returned
  entry once per order
  send email thanks
end
"""
    )
    async with Harness(text) as h:
        returned = {**ORDER, "status": "shipped", "items": [{**MUG, "status": "returned"}, TEA]}
        await h.play([h.event("order.status_changed", "olena", order=returned, data={"status": "shipped"})])
        await h.play([h.event("order.status_changed", "olena", order=ORDER, data={"status": "closed"})])
        assert await runs(h) == [("some_returned", "o1")]
        assert [i.get("status") for i in (await order_row(h))[1]] == ["returned", None]


async def test_an_order_without_items_is_one_item_in_its_own_status() -> None:
    async with Harness(ITEMS) as h:
        bare = {"id": "o1", "total": "10.00", "currency": "UAH"}
        await h.play([h.event("order.status_changed", "olena", order=bare, data={"status": "shipped"})])
        await h.play([h.event("order.status_changed", "olena", order={"id": "o1"}, data={"status": "delivered"})])
        assert await runs(h) == [("all_delivered", "o1")]


async def test_the_sender_s_all_items_is_still_accepted_and_the_engine_s_own_wins() -> None:
    async with Harness(ITEMS) as h:
        await h.play([h.event("order.created", "olena", order=ORDER)])
        said = item_event(h, MUG, "delivered", all_items=True)
        await h.play([said])
        assert await runs(h) == [("one_delivered", "o1")]  # the tea is not delivered, whatever it said


ARRIVES = (
    TEMPLATE
    + """
scenario delivered "Delivered"
  on order.status_changed where event.status == "delivered"
  send email thanks
end
"""
)


async def test_an_order_arriving_delivered_starts_the_scenario_once() -> None:
    async with Harness(ARRIVES) as h:
        delivered = {**ORDER, "status": "delivered"}
        await h.play([h.event("order.status_changed", "olena", order=delivered, data={"status": "delivered"})])
        await h.play([h.event("order.status_changed", "olena", order=delivered, data={"status": "delivered"})])
        assert await runs(h) == [("delivered", "o1")]


async def test_an_order_created_already_delivered_raises_its_status_change() -> None:
    async with Harness(ARRIVES) as h:
        await h.play([h.event("order.created", "olena", order={**ORDER, "status": "delivered"})])
        assert await runs(h) == [("delivered", "o1")]
        # A status that moves on and comes back is a new move.
        await h.play([h.event("order.status_changed", "olena", order={"id": "o1"}, data={"status": "returned"})])
        await h.play([h.event("order.status_changed", "olena", order={"id": "o1"}, data={"status": "delivered"})])
        assert await runs(h) == [("delivered", "o1"), ("delivered", "o1")]


AGED = (
    TEMPLATE
    + """
scenario recent "Recent orders only"
  on order.status_changed where event.status == "delivered"
  ignore orders older than 30d
  send email thanks
end
"""
)


def delivered(h: Harness, order_id: str, created: dt.datetime | None, at: dt.datetime | None = None) -> EventInput:
    order: dict[str, Any] = {"id": order_id, "status": "delivered"}
    if created is not None:
        order["created_at"] = created.isoformat()
    return h.event("order.status_changed", f"c-{order_id}", at=at, order=order, data={"status": "delivered"})


async def test_ignore_orders_older_than_counts_from_created_at_to_acceptance_at_its_bounds() -> None:
    async with Harness(AGED) as h:
        now = h.clock.now()
        await h.play([
            delivered(h, "exactly", now - 30 * DAY),
            delivered(h, "older", now - 30 * DAY - dt.timedelta(milliseconds=1)),
            delivered(h, "no_created_at", None),
        ])  # fmt: skip
        assert sorted(o for _, o in await runs(h)) == ["exactly", "no_created_at"]


async def test_without_created_at_a_back_dated_event_s_time_is_the_order_s_age() -> None:
    async with Harness(AGED, start=START + 60 * DAY) as h:
        now = h.clock.now()
        await h.play([delivered(h, "late", None, at=now - 31 * DAY), delivered(h, "fresh", None, at=now - 29 * DAY)])
        assert {c for (c,) in await h.rows("SELECT contact_id FROM runs")} == {"c-fresh"}


DEFAULT = ARRIVES.replace('"Delivered"', '"Delivered"\n  entry at most 3 per order')


async def test_by_default_an_order_first_heard_of_over_30_days_old_is_an_import_and_starts_nothing() -> None:
    async with Harness(DEFAULT) as h:
        now = h.clock.now()
        await h.play([delivered(h, "imported", now - 31 * DAY), delivered(h, "kept", now - 30 * DAY)])
        assert {c for (c,) in await h.rows("SELECT contact_id FROM runs")} == {"c-kept"}
        # Later news of the imported order does not start anything either...
        later = h.event("order.status_changed", "c-imported", order={"id": "imported"}, data={"status": "returned"})
        again = h.event("order.status_changed", "c-imported", order={"id": "imported"}, data={"status": "delivered"})
        await h.play([later])
        await h.play([again])
        assert {c for (c,) in await h.rows("SELECT contact_id FROM runs")} == {"c-kept"}
        # ... while an order scn saw from its start moves on however old it gets.
        await h.advance(60 * DAY)
        for status in ("returned", "delivered"):
            await h.play([h.event("order.status_changed", "c-kept", order={"id": "kept"}, data={"status": status})])
        assert await h.rows("SELECT count(*) FROM runs WHERE contact_id = 'c-kept'") == [(2,)]


async def test_a_scenario_that_says_how_old_takes_imported_orders() -> None:
    text = AGED.replace("ignore orders older than 30d", "ignore orders older than 400d")
    async with Harness(text) as h:
        await h.play([delivered(h, "imported", h.clock.now() - 365 * DAY)])
        assert await runs(h) == [("recent", "imported")]


RELATED = (
    TEMPLATE.replace('html "thanks.html"', 'html "shelf.html"')
    + """
scenario this_order "Goes with this order"
  on order.status_changed where event.status == "delivered"
  send email thanks with products related(order, limit=2)
end

scenario last_order "Goes with the last order"
  on order.status_changed where event.status == "delivered"
  send email thanks with products related(2)
end
"""
)
SHELF = {"shelf.html": "<p>{% for p in products %}[{{ p.id }}]{% endfor %}</p>"}


def paid(h: Harness, contact: str, order_id: str, *products: str) -> EventInput:
    items = [{"product_id": p, "price": "10.00"} for p in products]
    order = {"id": order_id, "total": f"{10 * len(products)}.00", "currency": "UAH", "items": items}
    return h.event("order.paid", contact, order=order)


async def test_related_of_the_run_s_order_looks_at_that_order_not_the_last_one() -> None:
    async with Harness(RELATED.replace("thanks", "shelf"), resources=SHELF) as h:
        await h.play([paid(h, "a", "a1", "mug", "spoon"), paid(h, "b", "b1", "tea", "cup")])
        await h.play([paid(h, "olena", "mine-1", "mug")])
        await h.advance(dt.timedelta(minutes=1))
        await h.play([paid(h, "olena", "mine-2", "tea")])
        await h.advance(dt.timedelta(minutes=1))
        await h.play([h.event("order.status_changed", "olena", order={"id": "mine-1"}, data={"status": "delivered"})])
        mails = dict(await h.rows("SELECT scenario, message FROM outbox WHERE contact_id = 'olena'"))
        assert "[spoon]" in mails["this_order"] and "[cup]" not in mails["this_order"]
        assert "[cup]" in mails["last_order"] and "[spoon]" not in mails["last_order"]


# ---------------------------------------------------------------- the checker


def diagnostics(text: str) -> list[tuple[str, str]]:
    result = check_texts({"t.scn": TEMPLATE + text}, {"thanks.html": "<p>Hi</p>"})
    return [(d.code.code, d.message) for d in result.diagnostics if d.is_error]


@pytest.mark.parametrize(
    "where",
    ["all items are delivered", 'any item is "доставлено"', "not all items are cancelled and any item is shipped"],
)
def test_items_conditions_check_where_the_event_carries_an_order(where: str) -> None:
    text = f"scenario s\n  on order.status_changed where {where}\n  entry once per order\n  send email thanks\nend\n"
    assert diagnostics(text) == []


def test_items_conditions_need_an_order() -> None:
    text = "scenario s\n  on contact.registered where all items are delivered\n  send email thanks\nend\n"
    ((code, message),) = diagnostics(text)
    assert code == "SCN113" and "`contact.registered` carries no order" in message
    steps = "scenario s\n  on contact.registered\n  on order.paid\n  stop if any item is cancelled\nend\n"
    ((code, message),) = diagnostics(steps)
    assert code == "SCN113" and "any item is cancelled" in message


def test_a_list_called_all_can_still_be_named() -> None:
    text = 'list all "Everyone"\nscenario s\n  on order.paid where in_list(all)\n  add to list all\nend\n'
    assert diagnostics(text) == []


def test_ignore_orders_older_than_needs_orders_and_a_positive_age() -> None:
    text = "scenario s\n  on contact.registered\n  ignore orders older than 30d\n  send email thanks\nend\n"
    ((code, message),) = diagnostics(text)
    assert code == "SCN113" and "`contact.registered` does not" in message
    zero = (
        "scenario s\n  on order.paid\n  ignore orders older than 0d\n  entry once per order\n  send email thanks\nend\n"
    )
    assert [c for c, _ in diagnostics(zero)] == ["SCN312"]


def test_related_takes_the_order_only_where_there_is_one() -> None:
    ok = "scenario s\n  on order.paid\n  entry once per order\n  send email thanks with products related(order, 3)\nend"
    assert diagnostics(ok) == []
    text = "scenario s\n  on contact.registered\n  send email thanks with products related(order)\nend\n"
    ((code, message),) = diagnostics(text)
    assert code == "SCN113" and "`order` is not available here" in message
    wrong = (
        "scenario s\n  on order.paid\n  entry once per order\n  send email thanks with products related(contact)\nend\n"
    )
    assert diagnostics(wrong) == [("SCN105", "`limit` of related() must be a number, not a contact")]


# ---------------------------------------------------------------- the parser and the formatter


def test_items_conditions_and_the_age_header_format_as_written_and_keep_their_meaning() -> None:
    from scn.grammar import parse
    from scn.grammar._format import format_source
    from scn.interpreter import ast

    messy = (
        'scenario s on order.status_changed where all   items are delivered and not any item is "доставлено" '
        'or any item is "in transit" or all items are "shipped" ignore   orders older than 30d send email thanks end'
    )
    first = parse(messy, "t.scn")
    assert first.ok and first.module is not None
    formatted = format_source(first)
    assert 'where all items are delivered and not any item is "доставлено"' in formatted
    assert 'or any item is "in transit" or all items are shipped\n  ignore orders older than 30d\n' in formatted
    again = parse(formatted, "t.scn")
    assert again.module is not None and ast.same_meaning(again.module, first.module)
    (scenario,) = first.module.items
    assert isinstance(scenario, ast.Scenario)
    trigger = scenario.headers[0]
    assert isinstance(trigger, ast.Trigger) and isinstance(trigger.where, ast.Binary)
    assert isinstance(scenario.headers[1], ast.IgnoreOrders) and scenario.headers[1].age.milliseconds == 30 * 86_400_000


def test_all_and_items_on_two_lines_are_not_the_word_pair() -> None:
    from scn.grammar import parse

    result = parse("scenario s\n  on order.paid where all\n items are delivered\n  send email thanks\nend\n", "t.scn")
    assert not result.ok


async def test_a_raised_status_change_does_not_undo_a_later_move() -> None:
    async with Harness(ITEMS) as h:
        await h.play([h.event("order.created", "olena", order=ORDER)])
        # In one batch: the last item delivered (the order follows), then the order returned.
        last = item_event(h, TEA, "delivered")
        back = h.event("order.status_changed", "olena", order={"id": "o1"}, data={"status": "returned"})
        await h.play([item_event(h, MUG, "delivered"), last, back])
        assert (await order_row(h))[0] == "returned"
        statuses = await h.rows("SELECT status FROM order_statuses WHERE order_id = 'o1' ORDER BY rowid")
        assert [s for (s,) in statuses] == ["created", "delivered", "returned"]


async def test_steps_read_the_run_s_order_as_it_is_when_they_run() -> None:
    text = (
        TEMPLATE
        + """
scenario after_a_while
  on order.paid
  entry once per order
  wait 3d
  stop if any item is returned
  send email thanks
end
"""
    )
    async with Harness(text) as h:
        await h.play(
            [h.event("order.paid", "olena", order=ORDER), h.event("order.paid", "taras", order={**ORDER, "id": "o2"})]
        )
        returned = h.event(
            "order.item_status_changed", "olena", order={"id": "o1"}, item=TEA, data={"status": "returned"}
        )
        await h.play([returned], until=4 * DAY)
        assert dict(await h.rows("SELECT contact_id, status FROM runs")) == {"olena": "stopped", "taras": "done"}


async def test_an_item_the_order_did_not_list_joins_it() -> None:
    async with Harness(ITEMS) as h:
        await h.play([h.event("order.created", "olena", order={**ORDER, "items": [MUG]})])
        await h.play([item_event(h, MUG, "delivered")])
        assert (await order_row(h))[0] == "delivered"
        await h.play([item_event(h, {"name": "Подарунок"}, "shipped")])
        status, items = await order_row(h)
        assert status == "delivered" and [(i.get("name"), i.get("status")) for i in items] == [
            ("Горнятко", None),
            ("Подарунок", "shipped"),
        ]


async def test_an_order_in_another_currency_than_its_amount_coupon_is_handled_not_set_aside() -> None:
    """Without a workspace `currency`, an order paid in EUR with a code of a coupon worth
    50 PLN was set aside with a raw CurrencyError, and its run never started."""
    text = (
        TEMPLATE
        + """
coupon FIFTY discount 50 PLN code "FIFTY"
scenario paid "Paid"
  on order.paid
  entry at most 1 per order
  send email thanks
end
"""
    )
    async with Harness(text, resources={"thanks.html": '<a href="{{ unsubscribe_url }}">u</a>'}) as h:
        order = {"id": "e1", "total": "20.00", "currency": "EUR", "coupon": "FIFTY"}
        await h.play([h.event("order.paid", "olena", order=order)])
        assert await h.rows("SELECT error FROM events WHERE type = 'order.paid'") == [(None,)]
        assert await h.rows("SELECT name, outcome FROM step_log ORDER BY id") == [
            ("on order.paid", "started"),
            ("send email thanks", "sent"),
            ("end", "done"),
        ]
