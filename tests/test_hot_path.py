"""The path every email takes (event in, mail out) does each piece of work once: a batch
of events reads its records in bulk, and what is made for a message is made once."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

import pytest

from .harness import Harness

THANKS = """
template thanks email
  from "Shop" <shop@example.com>
  subject "Thank you, {{ contact.first_name }}!"
  html "thanks.html"
end

scenario thanks "Thank buyers"
  on order.paid
  entry at most 1 per order
  send email thanks
end
"""
THANKS_HTML = (
    "<p>Order {{ order.number }}: {{ order.total|money }}</p>"
    '{% for item in purchased %}<a href="{{ item.url }}">{{ item.name }}</a>{% endfor %}'
    '<a href="{{ unsubscribe_url }}">Unsubscribe</a>'
)


def order_paid(h: Harness, n: int, number: str | None = None) -> Any:
    """Contact c<n> paid order o<n>."""
    items = [{"product_id": "mug", "name": "Mug", "quantity": 2, "price": "75.00", "url": "https://shop.example/mug"}]
    return h.event("order.paid", f"c{n}", person={"first_name": f"N{n}"},
                   order={"id": f"o{n}", "number": number or f"N{n}", "total": "150.00", "currency": "UAH",
                          "items": items})  # fmt: skip


def test_a_batch_of_events_reads_their_orders_in_one_query(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        async with Harness(THANKS, resources={"thanks.html": THANKS_HTML}) as h:
            asked: list[set[str]] = []
            orders = h.store.orders

            async def counted(ids: Collection[str]) -> dict[str, dict[str, Any]]:
                asked.append(set(ids))
                return await orders(ids)

            monkeypatch.setattr(h.store, "orders", counted)
            # Forty orders, and a second event about the first one, in one batch.
            await h.engine.accept([h.engine.event_in(order_paid(h, n)) for n in range(40)])
            await h.engine.accept([h.engine.event_in(order_paid(h, 0, number="N0b"))])
            assert await h.engine.process_events() == 41
            assert asked == [{f"o{n}" for n in range(40)}]
            sent = await h.rows("SELECT contact_id FROM outbox WHERE status = 'pending' ORDER BY id")
            assert [c for (c,) in sent] == [f"c{n}" for n in range(40)]  # o0 paid twice: one mail
            # The second event about o0 saw what the first one made of it.
            assert await h.rows("SELECT number, paid_at IS NOT NULL FROM orders WHERE id = 'o0'") == [("N0b", 1)]
            assert await h.rows("SELECT orders_count FROM contacts WHERE id = 'c0'") == [(1,)]

    asyncio.run(main())
