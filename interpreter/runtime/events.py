"""Events: their input shape, and what accepting one changes in contacts and orders.

An event says what happened (`type`), to whom (`contact`), when (`at`), and carries
the order, item or product it is about, plus its own fields (`data`). Contact and order
data in an event update the store's records (projections) before scenarios see it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import msgspec

from ...stdlib.catalog import BUILTIN_EVENTS
from ...stdlib.recommend import item_key
from ..store import EventIn, EventRow, OrderUpdate
from ..values import to_decimal
from .batch import Batch, ms_of
from .views import ADDRESS_FIELDS, CHANNELS, PAID_STATUSES

UTC = dt.UTC


class ContactIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    id: str
    email: str | None = None
    phone: str | None = None
    push_token: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    language: str | None = None
    timezone: str | None = None
    country: str | None = None
    group: str | None = None
    #: Per channel: is the contact subscribed? (Unsubscribes arrive as events too.)
    subscriptions: dict[str, bool] | None = None
    attributes: dict[str, Any] | None = None
    tags: list[str] | None = None


class ItemIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    product_id: str | None = None
    sku: str | None = None
    name: str | None = None
    category: str | None = None
    offer: str | None = None
    tariff: str | None = None
    quantity: Decimal = Decimal(1)
    price: Decimal | None = None
    total: Decimal | None = None
    status: str | None = None
    url: str | None = None
    image: str | None = None


class OrderIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    id: str
    number: str | None = None
    status: str | None = None
    offer: str | None = None
    tariff: str | None = None
    total: Decimal | None = None
    currency: str | None = None
    coupon: str | None = None
    items: list[ItemIn] | None = None
    created_at: dt.datetime | None = None
    paid_at: dt.datetime | None = None


class ProductIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    id: str
    name: str | None = None
    category: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    url: str | None = None
    image: str | None = None
    created_at: dt.datetime | None = None


class EventInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """An event as producers send it (one JSON object; `scn simulate` reads one per line)."""

    type: str
    contact: ContactIn
    #: Sending the same key twice records the event once.
    key: str | None = None
    at: dt.datetime | None = None
    order: OrderIn | None = None
    item: ItemIn | None = None
    product: ProductIn | None = None
    data: dict[str, Any] = msgspec.field(default_factory=dict)


_encode = msgspec.json.Encoder().encode


class EventError(ValueError):
    """An event that cannot be accepted (bad time, unknown type): the message says why."""


def normalise(event: EventInput, now: dt.datetime, known_types: set[str]) -> EventIn:
    """The row an input event becomes; raises EventError for events that make no sense."""
    if event.type not in known_types:
        raise EventError(f"unknown event type {event.type!r}")
    at = event.at or now
    if at.tzinfo is None:
        raise EventError("`at` needs a time zone, e.g. 2025-03-01T10:00:00+02:00 or ...Z")
    occurred = ms_of(at)
    key = event.key or f"auto:{uuid.uuid4()}"
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    if key is not event.key or at is not event.at:
        event = msgspec.structs.replace(event, key=key, at=at)
    return EventIn(key, event.type, event.contact.id, occurred, _encode(event).decode())


# ---------------------------------------------------------------- projections


def _ms(value: Any) -> int | None:
    if value is None:
        return None
    return ms_of(dt.datetime.fromisoformat(value))


#: Contact fields an event's `contact` may set directly.
_CONTACT_FIELDS = frozenset({"email", "phone", "first_name", "last_name", "language", "timezone", "country"})


async def apply_projections(batch: Batch, event: EventRow, payload: dict[str, Any]) -> None:
    """Update contacts, orders, products and course progress from an event.

    Every event passes here, mostly repeating what is known of its contact: the common
    path only compares the fields the event gives, and copies nothing that stays."""
    at = event.occurred_at
    contact_in = payload.get("contact") or {}
    contact = await batch.contact(event.contact_id)
    fields: dict[str, Any] = {
        name: value for name, value in contact_in.items()
        if name in _CONTACT_FIELDS and value is not None and value != contact.get(name)
    }  # fmt: skip
    if contact_in.get("group") is not None:
        fields["grp"] = contact_in["group"]
    if contact_in.get("attributes"):
        fields["attributes"] = {**(contact.get("attributes") or {}), **contact_in["attributes"]}
    token = contact_in.get("push_token")
    old_token = (contact.get("attributes") or {}).get("push_token")
    new_token = token not in (None, old_token)
    if token and new_token:
        fields["attributes"] = {**fields.get("attributes", contact.get("attributes") or {}),
                                "push_token": token}  # fmt: skip
    if contact_in.get("tags") is not None:
        fields["tags"] = contact_in["tags"]
    known = contact.get("channels") or {}
    channels = dict(known)
    for channel, subscribed in (contact_in.get("subscriptions") or {}).items():
        if channel in CHANNELS:
            channels[channel] = {**channels.get(channel, {}), "subscribed": bool(subscribed)}
    data = payload.get("data") or {}
    if event.type == "message.unsubscribed" and data.get("channel") in CHANNELS:
        channels[data["channel"]] = {**channels.get(data["channel"], {}), "subscribed": False}
    if event.type == "message.bounced" and data.get("channel") in CHANNELS:
        channels[data["channel"]] = {**channels.get(data["channel"], {}), "bounced": True}
    if new_token or "email" in fields or "phone" in fields:
        for channel in CHANNELS:
            # A new address is worth trying again, whatever the old one did.
            field = ADDRESS_FIELDS[channel]
            renewed = new_token if field == "push_token" else bool(fields.get(field))
            if renewed and channels.get(channel, {}).get("bounced"):
                channels[channel] = {**channels[channel], "bounced": False}
    if channels != known:
        fields["channels"] = channels
    if event.type in ("contact.active", "lesson.completed", "course.progressed"):
        fields["last_activity_at"] = at
    if event.type == "group.changed" and data.get("group"):
        fields["grp"] = data["group"]
    if fields:
        batch.update_contact(event.contact_id, fields, at)
    else:
        batch.ensure_saved(event.contact_id, at)
    if payload.get("order"):
        await _order(batch, event, payload["order"], data)
    if payload.get("product"):
        product = payload["product"]
        batch.changes.products.append(
            {"id": product["id"], "name": product.get("name"), "category": product.get("category"),
             "price": product.get("price"), "currency": product.get("currency"), "url": product.get("url"),
             "image": product.get("image"), "created_at": _ms(product.get("created_at")) or at}
        )  # fmt: skip
    if event.type.startswith("course.") and data.get("course"):
        await _course(batch, event, data)


_STATUS_OF_EVENT = {
    "order.created": "created",
    "order.unpaid": "unpaid",
    "order.paid": "paid",
    "order.cancelled": "cancelled",
    "order.refunded": "refunded",
}


async def _order(batch: Batch, event: EventRow, order_in: dict[str, Any], data: dict[str, Any]) -> None:
    at = event.occurred_at
    order_id = order_in["id"]
    existing = await batch.order(order_id)
    status = order_in.get("status") or _STATUS_OF_EVENT.get(event.type)
    if event.type == "order.status_changed" and data.get("status"):
        status = data["status"]
    fields: dict[str, Any] = {}
    for name in ("number", "offer", "tariff", "currency", "coupon"):
        if order_in.get(name) is not None:
            fields[name] = order_in[name]
    if order_in.get("total") is not None:
        fields["total"] = str(to_decimal(order_in["total"]))
    if order_in.get("items") is not None:
        fields["items"] = order_in["items"]
    if status is not None:
        fields["status"] = status
    paid_now = False
    if status in PAID_STATUSES and (existing is None or existing.get("paid_at") is None):
        fields["paid_at"] = _ms(order_in.get("paid_at")) or at
        paid_now = True
    previous_status = existing.get("status") if existing else None
    fresh = {"id": order_id, "contact_id": event.contact_id, "created_at": _ms(order_in.get("created_at")) or at,
             "items": [], "total": "0"}  # fmt: skip
    record = {**(existing or fresh), **fields}
    batch.orders[order_id] = record
    batch.forget_orders(event.contact_id)
    if existing is None:
        fields["created_at"] = record["created_at"]
    batch.changes.orders.append(
        OrderUpdate(id=order_id, contact_id=event.contact_id, at=at, fields=fields,
                    status_changed_to=status if status is not None and status != previous_status else None)
    )  # fmt: skip
    contact = await batch.contact(event.contact_id)
    summary: dict[str, Any] = {}
    if existing is None:
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
        batch.update_contact(event.contact_id, summary, at)
    for item in order_in.get("items") or []:
        # Products known from orders only, for recommendations (the catalogue wins).
        if (key := item_key(item)) is not None:
            batch.changes.seen_products.append(
                {"id": key, "name": item.get("name"), "category": item.get("category"), "price": item.get("price"),
                 "currency": record.get("currency"), "url": item.get("url"), "image": item.get("image"),
                 "created_at": at}
            )  # fmt: skip


async def _course(batch: Batch, event: EventRow, data: dict[str, Any]) -> None:
    course = str(data["course"])
    current = (await batch.course_access(event.contact_id)).get(course)
    tariff = data.get("tariff") or (current[0] if current else None)
    progress = Decimal(current[1]) if current else Decimal(0)
    if event.type == "course.progressed" and data.get("progress") is not None:
        progress = to_decimal(str(data["progress"]).rstrip("%"))
    elif event.type == "course.completed":
        progress = Decimal(100)
    await batch.set_course(event.contact_id, course, tariff, progress)


def known_event_types(custom: set[str]) -> set[str]:
    return set(BUILTIN_EVENTS) | custom
