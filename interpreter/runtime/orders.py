"""What an event about an order changes in its record: its fields, its status, its items'
statuses, and the status the items agree on.

Shops model an order as lines that move on their own (Mindbox: "all items moved to the
status", "any item moved"): a line is shipped, another cancelled, the rest delivered a
day later. The engine keeps each item's status:

- an item is given a status by `order.items[].status` in an order's body, or by an
  `order.item_status_changed` event naming it (`item`, matched by product id, SKU or
  offer); an item never given one is in its order's status;
- when the order itself moves to a status, its items move with it, except those taken
  out of the order (`views.DROPPED_STATUSES`: cancelled, returned, refunded), which
  keep `all items are delivered` from ever coming true, as Mindbox describes;
- when the items' own moves bring every item to one status the order is not in, the
  order moves there too, and the engine raises `order.status_changed` for it.

An order that arrives in a status other than its event's own (an `order.created` that is
already delivered) raises `order.status_changed` as well, so the scenarios waiting for
that status start.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from ...stdlib.recommend import item_key
from ..clock import ms_of
from ..store import EventRow, OrderUpdate
from ..values import to_decimal
from ..views import DROPPED_STATUSES, PAID_STATUSES
from .batch import Batch

#: The status each order event stands for.
STATUS_OF_EVENT = {
    "order.created": "created",
    "order.unpaid": "unpaid",
    "order.paid": "paid",
    "order.cancelled": "cancelled",
    "order.refunded": "refunded",
}
#: Events that start scenarios only when they change a status: the same status sent again
#: (a retry, a sync that repeats itself) starts nothing.
ONLY_WHEN_MOVED = frozenset({"order.status_changed", "order.item_status_changed"})
#: The keys of the `order.status_changed` events the engine raises itself start with this.
RAISED = "order-status:"


class OrderMove(NamedTuple):
    """What one event did to its order, for the scenarios it may start."""

    order_id: str
    #: The order's status or an item's status changed (or the engine raised this event).
    moved: bool


def moment_ms(value: Any) -> int | None:
    """A time as the wire writes it (ISO 8601 with its offset), in milliseconds."""
    if value is None:
        return None
    return ms_of(dt.datetime.fromisoformat(value))


def _key(item: dict[str, Any]) -> str | None:
    """What identifies an item within its order: its product, else its name."""
    key = item_key(item)
    return key if key is not None else item.get("name")


def _statuses(items: list[dict[str, Any]], status: str | None) -> list[str | None]:
    return [i.get("status") or status for i in items]


def _merged(before: list[dict[str, Any]], given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items of an order's body, each keeping the status it had when the body says none
    (a shop that sends its order again without statuses does not undo them)."""
    known = {k: i["status"] for i in before if (k := _key(i)) is not None and i.get("status")}
    return [
        {**item, "status": known[key]} if not item.get("status") and (key := _key(item)) in known else item
        for item in given
    ]


def _moved_with(items: list[dict[str, Any]], given: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The items once their order moved: back in step with it, but for those taken out of
    the order and those whose status the same body gives."""
    keep = {_key(g) for g in given or () if g.get("status")}
    return [
        i if _key(i) in keep or not i.get("status") or i["status"] in DROPPED_STATUSES
        else {k: v for k, v in i.items() if k != "status"}
        for i in items
    ]  # fmt: skip


def _item_moved(items: list[dict[str, Any]], item_in: dict[str, Any], status: str) -> list[dict[str, Any]]:
    """The items once the one named by an `order.item_status_changed` moved (an item the
    order did not list joins it)."""
    key = _key(item_in)
    for index, item in enumerate(items):
        if key is not None and _key(item) == key:
            return [*items[:index], {**item, "status": status}, *items[index + 1 :]]
    return [*items, {**item_in, "status": status}]


async def project_order(
    batch: Batch, event: EventRow, order_in: dict[str, Any], data: dict[str, Any], item_in: dict[str, Any] | None
) -> OrderMove:
    at = event.occurred_at
    order_id = order_in["id"]
    existing = await batch.order(order_id)
    if event.key.startswith(RAISED) and existing is not None:
        # Raised for a move already recorded: the order may have moved on since, and stays.
        return OrderMove(order_id, True)
    status = order_in.get("status") or STATUS_OF_EVENT.get(event.type)
    if event.type == "order.status_changed" and data.get("status"):
        status = data["status"]
    previous_status = existing.get("status") if existing else None
    before = list(existing.get("items") or []) if existing else []
    given = order_in.get("items")
    items = _merged(before, given) if given is not None else before
    if status is not None and status != previous_status:
        items = _moved_with(items, given)
    if event.type == "order.item_status_changed" and item_in is not None and data.get("status"):
        items = _item_moved(items, item_in, str(data["status"]))
    agreed = set(_statuses(items, previous_status))
    if status is None and items and len(agreed) == 1 and None not in agreed and agreed != {previous_status}:
        # The items' own moves brought them all to one status: the order is there too.
        status = agreed.pop()
        items = _moved_with(items, None)
    fields: dict[str, Any] = {}
    for name in ("number", "offer", "tariff", "currency", "coupon"):
        if order_in.get(name) is not None:
            fields[name] = order_in[name]
    if order_in.get("total") is not None:
        fields["total"] = str(to_decimal(order_in["total"]))
    if items != before or given is not None:
        fields["items"] = items
    if status is not None:
        fields["status"] = status
    paid_now = False
    if status in PAID_STATUSES and (existing is None or existing.get("paid_at") is None):
        fields["paid_at"] = moment_ms(order_in.get("paid_at")) or at
        paid_now = True
    fresh = {"id": order_id, "contact_id": event.contact_id, "created_at": moment_ms(order_in.get("created_at")) or at,
             "items": [], "total": "0", "seen_at": event.received_at}  # fmt: skip
    record = {**(existing or fresh), **fields}
    batch.orders[order_id] = record
    batch.forget_orders(event.contact_id)
    if existing is None:
        fields["created_at"] = record["created_at"]
        fields["seen_at"] = record["seen_at"]
    changed_to = status if status is not None and status != previous_status else None
    batch.changes.orders.append(
        OrderUpdate(id=order_id, contact_id=event.contact_id, at=at, fields=fields, status_changed_to=changed_to)
    )
    raises = changed_to is not None and changed_to != STATUS_OF_EVENT.get(event.type)
    if raises and event.type != "order.status_changed":
        data_out = {"status": changed_to} | ({"previous_status": previous_status} if previous_status else {})
        batch.emit("order.status_changed", event.contact_id, data_out, f"{RAISED}{order_id}:{event.id}",
                   order={"id": order_id})  # fmt: skip
    moved = changed_to is not None or _statuses(items, record.get("status")) != _statuses(before, previous_status)
    await _summary(batch, event, record, existing is None, paid_now)
    for item in given or []:
        # Products known from orders only, for recommendations (the catalogue wins).
        if (key := item_key(item)) is not None:
            batch.changes.seen_products.append(
                {"id": key, "name": item.get("name"), "category": item.get("category"), "price": item.get("price"),
                 "currency": record.get("currency"), "url": item.get("url"), "image": item.get("image"),
                 "created_at": at}
            )  # fmt: skip
    return OrderMove(order_id, moved)


async def _summary(batch: Batch, event: EventRow, record: dict[str, Any], new: bool, paid_now: bool) -> None:
    """The contact's order figures: first and last order, spend, paid orders."""
    contact = await batch.contact(event.contact_id)
    summary: dict[str, Any] = {}
    if new:
        first = contact.get("first_order_at")
        summary["first_order_at"] = min(first, record["created_at"]) if first else record["created_at"]
        summary["last_order_at"] = max(contact.get("last_order_at") or 0, record["created_at"])
    if paid_now:
        currency = record.get("currency")
        if contact.get("currency") is None and currency:
            summary["currency"] = currency
        if (summary.get("currency") or contact.get("currency")) in (None, currency):
            spend = to_decimal(contact.get("lifetime_spend") or 0) + to_decimal(record.get("total") or 0)
            summary["lifetime_spend"] = str(spend)
        summary["orders_count"] = int(contact.get("orders_count") or 0) + 1
        summary["last_paid_at"] = record["paid_at"]
    if summary:
        batch.update_contact(event.contact_id, summary, event.occurred_at)


#: An order scn first hears of when it is older than this is an import (or a late sync):
#: it starts no scenario unless the scenario says how old an order it takes.
IMPORTED_AFTER_MS = 30 * 86_400_000


def order_refusal(
    event: EventRow, order: dict[str, Any] | None, move: OrderMove | None, max_age_ms: int | None
) -> str | None:
    """Why the event's order keeps a scenario from starting a run, or None: a status sent
    again, an order older than the scenario's `ignore orders older than`, or (without one)
    an order that was already old when scn first heard of it."""
    if move is None or order is None:
        return None
    if event.type in ONLY_WHEN_MOVED and not move.moved:
        return "the order's status did not change: it was sent again"
    created = int(order["created_at"])
    age = event.received_at - created
    if max_age_ms is not None:
        if age > max_age_ms:
            return f"ignore orders older than {_days(max_age_ms)}: this one is {_days(age)} old"
        return None
    seen = order.get("seen_at")
    if seen is not None and seen - created > IMPORTED_AFTER_MS:
        return (
            f"the order was {_days(seen - created)} old when scn first heard of it (an import): such orders "
            "start nothing unless the scenario says `ignore orders older than`"
        )
    return None


def _days(ms: int) -> str:
    days, rest = divmod(ms, 86_400_000)
    return f"{days}d" if not rest else f"{days}d{rest // 3_600_000}h"
