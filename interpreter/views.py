"""Records as expressions and templates see them: contact, order, item, product, run, event.

Each view offers exactly the fields of the stdlib catalog (stdlib/catalog.py), with
runtime values: Money for money, Decimal for numbers, aware datetimes for moments. A
field without a value is None. Templates get the same objects; the Jinja sandbox lets
them read these attributes and nothing else.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from .values import DeclRef, Money, Percent, to_decimal

UTC = dt.UTC
CHANNELS = ("email", "sms", "viber", "push", "webpush")
#: Which parts each channel's templates take, and which a variant must have: the checker
#: refuses a variant without them, and a message whose required part renders blank fails.
CHANNEL_PARTS: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "email": (frozenset({"subject", "preheader", "html", "plain"}), ("subject", "html")),
    "sms": (frozenset({"text"}), ("text",)),
    "viber": (frozenset({"text", "image", "url"}), ("text",)),
    "push": (frozenset({"title", "text", "url", "image"}), ("text",)),
    "webpush": (frozenset({"title", "text", "url", "image"}), ("text",)),
}
#: Which contact field holds the address for each channel.
ADDRESS_FIELDS = {"email": "email", "sms": "phone", "viber": "phone", "push": "push_token", "webpush": "push_token"}
PAID_STATUSES = frozenset({"paid", "completed", "delivered", "shipped", "done"})
#: Statuses that take an item out of its order: a move of the whole order to another status
#: leaves such an item where it is, so that `all items are delivered` never comes true.
DROPPED_STATUSES = frozenset({"cancelled", "canceled", "returned", "refunded"})


def moment(ms: int | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else None


def money(amount: Any, currency: str | None) -> Money | None:
    if amount is None:
        return None
    return Money(to_decimal(amount), currency or "XXX")


class ChannelsView:
    """contact.subscribed / contact.reachable: one yes-or-no per channel."""

    __slots__ = CHANNELS

    def __init__(self, flags: dict[str, bool]) -> None:
        for channel in CHANNELS:
            setattr(self, channel, bool(flags.get(channel, False)))


class OrdersView:
    """contact.orders: a summary of the contact's paid orders."""

    __slots__ = ("count", "total", "average", "first_at", "last_at", "last_paid_at")

    def __init__(self, record: dict[str, Any]) -> None:
        currency = record.get("currency")
        self.count = Decimal(record.get("orders_count") or 0)
        self.total = money(record.get("lifetime_spend") or 0, currency)
        assert self.total is not None
        self.average = self.total * (1 / self.count) if self.count else money(0, currency)
        self.first_at = moment(record.get("first_order_at"))
        self.last_at = moment(record.get("last_order_at"))
        self.last_paid_at = moment(record.get("last_paid_at"))


def channel_flags(record: dict[str, Any]) -> tuple[dict[str, bool], dict[str, bool]]:
    """(subscribed, reachable) per channel, from the contact's `channels` JSON.

    A channel is reachable when the contact has an address for it and it has not
    bounced; subscribed unless they unsubscribed (or never opted in, where the event
    said so).
    """
    stored: dict[str, Any] = record.get("channels") or {}
    subscribed: dict[str, bool] = {}
    reachable: dict[str, bool] = {}
    attributes = record.get("attributes") or {}
    for channel in CHANNELS:
        state = stored.get(channel) or {}
        field = ADDRESS_FIELDS[channel]
        address = record.get(field) if field in record else attributes.get(field)
        has_address = bool(address) or bool(state.get("address"))
        subscribed[channel] = bool(state.get("subscribed", has_address))
        reachable[channel] = has_address and not state.get("bounced", False)
    return subscribed, reachable


class ContactView:
    """`contact` in expressions and templates."""

    def __init__(self, record: dict[str, Any], attribute_names: frozenset[str] = frozenset()) -> None:
        self._record = record
        self._attribute_names = attribute_names
        r = record
        self.id: str = r["id"]
        self.email: str | None = r.get("email")
        self.phone: str | None = r.get("phone")
        self.first_name: str | None = r.get("first_name")
        self.last_name: str | None = r.get("last_name")
        self.name = " ".join(p for p in (self.first_name, self.last_name) if p) or None
        self.language: str | None = r.get("language")
        self.timezone: str | None = r.get("timezone")
        self.country: str | None = r.get("country")
        self.created_at = moment(r.get("created_at"))
        self.group = DeclRef("group", r["grp"]) if r.get("grp") else None
        currency = r.get("currency")
        self.bonus_balance = money(r.get("bonus_balance") or 0, currency)
        self.lifetime_spend = money(r.get("lifetime_spend") or 0, currency)
        self.last_activity_at = moment(r.get("last_activity_at"))
        self.orders = OrdersView(r)
        subscribed, reachable = channel_flags(r)
        self.subscribed = ChannelsView(subscribed)
        self.reachable = ChannelsView(reachable)
        self.tags: list[str] = list(r.get("tags") or [])

    def __getattr__(self, name: str) -> Any:
        # Custom attributes (`attribute vip_since: date`), declared in the workspace.
        if name.startswith("_") or name not in self._attribute_names:
            raise AttributeError(name)
        return (self._record.get("attributes") or {}).get(name)


class ItemView:
    __slots__ = ("product_id", "sku", "name", "category", "offer", "tariff", "quantity", "price", "total", "status",
                 "url", "image")  # fmt: skip

    def __init__(self, item: dict[str, Any], currency: str | None, order_status: str | None = None) -> None:
        self.product_id = item.get("product_id") or item.get("id")
        self.sku = item.get("sku")
        self.name = item.get("name")
        self.category = item.get("category")
        self.offer = item.get("offer")
        self.tariff = item.get("tariff")
        self.quantity = to_decimal(item.get("quantity", 1))
        self.price = money(item.get("price"), currency)
        given_total = money(item.get("total"), currency)
        self.total = given_total if given_total is not None else (self.price * self.quantity if self.price else None)
        # An item never given a status of its own is where its order is.
        self.status = item.get("status") or order_status
        self.url = item.get("url")
        self.image = item.get("image")


class OrderView:
    """`order` in expressions and templates."""

    __slots__ = ("id", "number", "status", "offer", "tariff", "total", "currency", "items", "item_count", "coupon",
                 "created_at", "paid_at", "paid", "cancelled")  # fmt: skip

    def __init__(self, record: dict[str, Any]) -> None:
        currency = record.get("currency")
        self.id: str = record["id"]
        self.number = record.get("number") or record["id"]
        self.status = record.get("status")
        self.offer = record.get("offer")
        self.tariff = record.get("tariff")
        self.total = money(record.get("total") or 0, currency)
        self.currency = currency
        self.items = [ItemView(i, currency, self.status) for i in record.get("items") or []]
        self.item_count = Decimal(sum(i.quantity for i in self.items))
        self.coupon = record.get("coupon")
        self.created_at = moment(record.get("created_at"))
        self.paid_at = moment(record.get("paid_at"))
        self.paid = self.paid_at is not None or self.status in PAID_STATUSES
        self.cancelled = self.status in ("cancelled", "canceled", "refunded")


def item_statuses(order: OrderView) -> list[str | None]:
    """The status of each item of an order; an order without items counts as one item in
    the order's own status."""
    return [i.status for i in order.items] if order.items else [order.status]


class ProductView:
    __slots__ = ("id", "name", "category", "price", "url", "image", "created_at")

    def __init__(self, record: dict[str, Any]) -> None:
        self.id = record["id"]
        self.name = record.get("name")
        self.category = record.get("category")
        self.price = money(record.get("price"), record.get("currency"))
        self.url = record.get("url")
        self.image = record.get("image")
        self.created_at = moment(record.get("created_at"))


class RunView:
    __slots__ = ("started_at", "variant")

    def __init__(self, started_at: int, variant: str | None) -> None:
        self.started_at = moment(started_at)
        self.variant = variant


class EventView:
    """`event`: the event's own fields, the records it carries and when it happened."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self._fields = fields

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(name) from None


class CouponView:
    """`coupon` in a template: the code this contact got and what it is worth.

    `price_before` and `price_after` exist only where the run has an order (the checker
    refuses them elsewhere); `discount` is the discount as the message's language writes it.
    """

    __slots__ = ("code", "name", "percent", "amount", "discount", "valid_until", "price_before", "price_after")

    def __init__(
        self, code: str, name: str, percent: Percent | None, amount: Money | None, valid_until: dt.datetime | None,
        order_total: Money | None, discount: str,
    ) -> None:  # fmt: skip
        self.code = code
        self.name = name
        self.percent = percent
        self.amount = amount
        self.discount = discount
        self.valid_until = valid_until
        self.price_before = order_total
        self.price_after: Money | None = None
        if order_total is not None:
            if percent is not None:
                self.price_after = (order_total - order_total * percent).rounded()
            elif amount is not None and amount.currency == order_total.currency:
                after = order_total - amount
                self.price_after = after if after.amount > 0 else Money(0, after.currency)


class BonusView:
    __slots__ = ("amount", "percent", "balance")

    def __init__(self, amount: Money, percent: Percent | None, balance: Money) -> None:
        self.amount = amount
        self.percent = percent
        self.balance = balance
