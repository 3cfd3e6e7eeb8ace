"""An order sent without its currency is in the workspace's (`currency EUR`), as api.md
says: it was kept with none, so its total was money of no currency (`XXX`). A trigger's
`order.total > 5 EUR` was then false and the scenario silently never started; a template
printed the amount without its currency and a webhook sent `"currency": "XXX"`."""

from __future__ import annotations

import json

from .harness import Harness

SHOP = """
currency EUR

template receipt sms
  from "Shop"
  text "Paldies! {{ order.total|money }}"
end

scenario big "Big orders"
  on order.paid where order.total > 5 EUR
  if order.total > 5 EUR
    send sms receipt
  end
  call webhook "https://crm.example.com/paid" with total = order.total
end
"""


async def test_an_order_without_a_currency_is_in_the_workspace_currency() -> None:
    async with Harness(SHOP) as h:
        person = {"phone": "+37120000000", "language": "lv"}
        await h.play([
            h.event("order.paid", "ann", person=person, order={"id": "o1", "total": "10"}),
            h.event("order.paid", "bob", person=person | {"phone": "+37120000001"},
                    order={"id": "o2", "total": "10", "currency": "EUR"}),
        ])  # fmt: skip
        runs = await h.rows("SELECT contact_id, status FROM runs ORDER BY contact_id")
        sent = await h.rows("SELECT contact_id, channel, message FROM outbox ORDER BY contact_id, channel")
    assert runs == [("ann", "done"), ("bob", "done")]
    by_contact = {(c, ch): json.loads(m) for c, ch, m in sent}
    for contact in ("ann", "bob"):
        assert by_contact[(contact, "sms")]["text"] == "Paldies! 10,00 €"
        assert by_contact[(contact, "webhook")]["total"] == {"amount": "10", "currency": "EUR"}
