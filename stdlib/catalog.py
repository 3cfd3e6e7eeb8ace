"""What the language knows without being told: entities, events and functions.

The checker types expressions against this catalog and the runtime implements it; the
language reference (docs/language.md) lists the same names.
"""

from __future__ import annotations

import msgspec

from ..interpreter.types import (
    BOOL,
    DATE,
    DATETIME,
    DURATION,
    MONEY,
    NUMBER,
    PERCENT,
    STRING,
    UNKNOWN,
    Entity,
    ListOf,
    Ref,
    Type,
)

PRODUCT = Entity("product")
ITEM = Entity("item")
PRODUCTS = ListOf(PRODUCT)

#: Fields of every record type. Money without a currency takes the workspace's
#: `currency` declaration, if there is one.
ENTITY_FIELDS: dict[str, dict[str, Type]] = {
    "contact": {
        "id": STRING,
        "email": STRING,
        "phone": STRING,
        "first_name": STRING,
        "last_name": STRING,
        "name": STRING,
        "language": STRING,
        "timezone": STRING,
        "country": STRING,
        "created_at": DATETIME,
        "group": Ref("group"),
        "bonus_balance": MONEY,
        "lifetime_spend": MONEY,
        "last_activity_at": DATETIME,
        "orders": Entity("orders"),
        "subscribed": Entity("channels"),
        "reachable": Entity("channels"),
        "tags": ListOf(STRING),
    },
    "orders": {
        "count": NUMBER,
        "total": MONEY,
        "average": MONEY,
        "first_at": DATETIME,
        "last_at": DATETIME,
        "last_paid_at": DATETIME,
    },
    "channels": {
        "email": BOOL,
        "sms": BOOL,
        "viber": BOOL,
        "push": BOOL,
        "webpush": BOOL,
    },
    "order": {
        "id": STRING,
        "number": STRING,
        "status": STRING,
        "offer": STRING,
        "tariff": STRING,
        "total": MONEY,
        "currency": STRING,
        "items": ListOf(ITEM),
        "item_count": NUMBER,
        "coupon": STRING,
        "created_at": DATETIME,
        "paid_at": DATETIME,
        "paid": BOOL,
        "cancelled": BOOL,
    },
    "item": {
        "product_id": STRING,
        "sku": STRING,
        "name": STRING,
        "category": STRING,
        "offer": STRING,
        "tariff": STRING,
        "quantity": NUMBER,
        "price": MONEY,
        "total": MONEY,
        "status": STRING,
        "url": STRING,
        "image": STRING,
    },
    "product": {
        "id": STRING,
        "name": STRING,
        "category": STRING,
        "price": MONEY,
        "url": STRING,
        "image": STRING,
        "created_at": DATETIME,
    },
    "run": {
        "started_at": DATETIME,
        "variant": STRING,
    },
    # Template-only records.
    "coupon": {
        "code": STRING,
        "name": STRING,
        "percent": PERCENT,
        "amount": MONEY,
        "discount": STRING,
        "valid_until": DATETIME,
        "price_before": MONEY,
        "price_after": MONEY,
    },
    "bonus": {
        "amount": MONEY,
        "percent": PERCENT,
        "balance": MONEY,
    },
}


#: The fields of each record that always hold a value. Every other field may be unset
#: (None at run time): a contact without a first name, an order without a status, a
#: coupon without an end. The checker, the evaluator and the templates read this one
#: table for what "unset" can reach.
ALWAYS_SET: dict[str, frozenset[str]] = {
    "contact": frozenset(
        {"id", "created_at", "bonus_balance", "lifetime_spend", "orders", "subscribed", "reachable", "tags"}
    ),
    "orders": frozenset({"count", "total", "average"}),
    "channels": frozenset(ENTITY_FIELDS["channels"]),
    "order": frozenset({"id", "number", "total", "items", "item_count", "created_at", "paid", "cancelled"}),
    "item": frozenset({"quantity"}),
    "product": frozenset({"id"}),
    "run": frozenset({"started_at"}),
    "coupon": frozenset({"code", "name", "discount"}),
    "bonus": frozenset({"amount", "balance"}),
}


def may_be_unset(record: str, field: str) -> bool:
    """Can ``record.field`` be unset? Custom contact attributes always can."""
    return field not in ALWAYS_SET.get(record, frozenset())


class EventSpec(msgspec.Struct, frozen=True):
    """A built-in or declared event: its payload fields and the records it carries."""

    name: str
    fields: dict[str, Type]
    carries: frozenset[str] = frozenset()
    #: Can fire many times for one contact (a send under it wants a frequency cap).
    frequent: bool = False
    description: str = ""
    custom: bool = False
    #: Payload fields an event may leave out (unset); the others it must give. The
    #: records it carries and `occurred_at` are always there.
    optional: frozenset[str] = frozenset()


def _event(
    name: str,
    description: str,
    fields: dict[str, Type] | None = None,
    *,
    carries: str = "",
    frequent: bool = False,
    optional: str = "",
) -> EventSpec:
    payload: dict[str, Type] = {"occurred_at": DATETIME}
    carried = frozenset(carries.split()) if carries else frozenset()
    for record in carried:
        payload[record] = Entity(record)
    payload.update(fields or {})
    return EventSpec(name, payload, carried, frequent, description, optional=frozenset(optional.split()))


#: The providers a workspace `policy` can pace (`smtp at most 50 per second`), and the
#: channel each carries.
PROVIDER_CHANNELS = {"smtp": "email"}

BUILTIN_EVENTS: dict[str, EventSpec] = {
    e.name: e
    for e in (
        _event("contact.registered", "a new contact signed up"),
        _event("contact.updated", "a contact's data changed", frequent=True),
        _event(
            "contact.active",
            "a contact did something (visit, login, lesson)",
            {"kind": STRING},
            frequent=True,
            optional="kind",
        ),
        _event("order.created", "an order was placed", carries="order", frequent=True),
        _event("order.unpaid", "an order was placed but not paid (an application)", carries="order"),
        _event("order.paid", "an order was paid", carries="order", frequent=True),
        _event("order.cancelled", "an order was cancelled", carries="order"),
        _event("order.refunded", "an order was refunded", carries="order"),
        _event(
            "order.status_changed",
            "an order moved to a status (scn raises it too when the items all reach one)",
            {"status": STRING, "previous_status": STRING},
            carries="order",
            frequent=True,
            optional="previous_status",
        ),
        _event(
            "order.item_status_changed",
            "an item of an order moved to a status",
            {"status": STRING, "all_items": BOOL},
            carries="order item",
            frequent=True,
            optional="all_items",
        ),
        _event("list.entered", "a contact was added to a list", {"list": Ref("list")}),
        _event("list.left", "a contact was removed from a list", {"list": Ref("list")}),
        _event("segment.entered", "a contact started matching a segment", {"segment": Ref("segment")}),
        _event("segment.left", "a contact stopped matching a segment", {"segment": Ref("segment")}),
        _event(
            "group.changed",
            "a contact moved to another group",
            {"group": Ref("group"), "previous_group": Ref("group")},
            optional="previous_group",
        ),
        _event(
            "course.access_granted",
            "a contact got access to a course",
            {"course": STRING, "tariff": STRING},
            optional="tariff",
        ),
        _event(
            "course.progressed",
            "a contact's progress in a course changed",
            {"course": STRING, "progress": PERCENT},
            frequent=True,
        ),
        _event("course.completed", "a contact finished a course", {"course": STRING}),
        _event(
            "lesson.completed",
            "a contact finished a lesson",
            {"course": STRING, "lesson": STRING},
            frequent=True,
        ),
        _event(
            "message.opened",
            "a contact opened a message",
            {"channel": STRING, "template": STRING, "scenario": STRING},
            frequent=True,
            optional="template scenario",
        ),
        _event(
            "message.clicked",
            "a contact clicked a link in a message",
            {"channel": STRING, "template": STRING, "scenario": STRING, "url": STRING},
            frequent=True,
            optional="template scenario",
        ),
        _event(
            "message.bounced",
            "a message could not be delivered for good: the address is unreachable on that channel",
            {
                "channel": STRING,
                "template": STRING,
                "scenario": STRING,
                "reason": STRING,
                "kind": STRING,
                "provider": STRING,
            },
            optional="template scenario reason kind provider",
        ),
        _event(
            "message.complained",
            "a contact marked a message as spam (a provider's complaint): the address is suppressed",
            {"channel": STRING, "template": STRING, "scenario": STRING, "reason": STRING, "provider": STRING},
            optional="template scenario reason provider",
        ),
        _event(
            "message.unsubscribed",
            "a contact unsubscribed from a channel",
            {"channel": STRING, "template": STRING, "scenario": STRING},
            optional="template scenario",
        ),
        _event(
            "coupon.redeemed",
            "a coupon code was used in an order",
            {"coupon": Ref("coupon"), "code": STRING},
            carries="order",
            frequent=True,
        ),
        _event("bonus.awarded", "bonus points were credited", {"amount": MONEY}, carries="order", frequent=True),
    )
}


class Param(msgspec.Struct, frozen=True):
    name: str
    type: Type
    required: bool = True


class FunctionSpec(msgspec.Struct, frozen=True):
    name: str
    params: tuple[Param, ...]
    returns: Type
    description: str


def _fn(name: str, returns: Type, description: str, *params: Param) -> FunctionSpec:
    return FunctionSpec(name, params, returns, description)


def bind(spec: FunctionSpec, records: list[str | None]) -> list[Param | None]:
    """The parameter each positional argument fills, given which record each one is (its
    kind, or None for a value): a record fills the parameter of its kind wherever that is
    (`related(order)`, `related(order, 4)`), the others the remaining parameters in order
    (`related(4)`). None where nothing is left for an argument."""
    free = list(spec.params)
    bound: list[Param | None] = []
    for kind in records:
        param = next((p for p in free if isinstance(p.type, Entity) and p.type.kind == kind), None)
        if param is None:
            param = next((p for p in free if not isinstance(p.type, Entity)), None)
        if param is not None:
            free.remove(param)
        bound.append(param)
    return bound


LIMIT = Param("limit", NUMBER, required=False)

FUNCTIONS: dict[str, FunctionSpec] = {
    f.name: f
    for f in (
        _fn("now", DATETIME, "the current moment"),
        _fn("today", DATE, "today's date in the contact's time zone"),
        _fn("ago", DATETIME, "the moment that long before now", Param("duration", DURATION)),
        _fn(
            "bought",
            BOOL,
            "the contact has a paid order for this product or offer (optionally on a tariff)",
            Param("product", STRING),
            Param("tariff", STRING, required=False),
        ),
        _fn("has_access", BOOL, "the contact has access to this course", Param("course", STRING)),
        _fn(
            "progress",
            PERCENT,
            "the contact's progress in this course (0% without access)",
            Param("course", STRING),
        ),
        _fn("in_list", BOOL, "the contact is a member of this list", Param("list", Ref("list"))),
        _fn("in_segment", BOOL, "the contact matches this segment", Param("segment", Ref("segment"))),
        _fn("in_group", BOOL, "the contact belongs to this group", Param("group", Ref("group"))),
        _fn("ordered_since", BOOL, "the contact placed an order after this moment", Param("moment", DATETIME)),
        _fn(
            "messaged_within",
            BOOL,
            "the contact was sent a message (on this channel) within this time",
            Param("duration", DURATION),
            Param("channel", STRING, required=False),
        ),
        _fn(
            "tier_percent",
            PERCENT,
            "the contact's current percentage in this loyalty program",
            Param("program", Ref("program")),
        ),
        _fn("len", NUMBER, "the number of items in a list", Param("items", ListOf(UNKNOWN))),
        _fn(
            "related",
            PRODUCTS,
            "products bought together with those of an order: the one given, else the contact's last order",
            LIMIT,
            Param("order", Entity("order"), required=False),
        ),
        _fn(
            "popular",
            PRODUCTS,
            "the most bought products of the last days",
            Param("days", DURATION, required=False),
            LIMIT,
        ),
        _fn("new_arrivals", PRODUCTS, "the newest products", LIMIT),
        _fn("bestsellers", PRODUCTS, "the best-selling products of all time", LIMIT),
        _fn("personal", PRODUCTS, "products bought by contacts who bought what this contact bought", LIMIT),
        _fn("in_category", PRODUCTS, "popular products of a category", Param("category", STRING), LIMIT),
        _fn(
            "bought_by_segment",
            PRODUCTS,
            "products most bought by the members of a segment",
            Param("segment", Ref("segment")),
            LIMIT,
        ),
    )
}

#: Variables every template sees, and those that depend on the send.
TEMPLATE_ALWAYS: dict[str, Type] = {
    "contact": Entity("contact"),
    "bestsellers": PRODUCTS,
    "unsubscribe_url": STRING,
    "preferences_url": STRING,
    "scenario": STRING,
}
TEMPLATE_WITH_ORDER: dict[str, Type] = {"order": Entity("order"), "purchased": ListOf(ITEM)}
TEMPLATE_WITH_COUPON: dict[str, Type] = {"coupon": Entity("coupon")}
TEMPLATE_WITH_PRODUCTS: dict[str, Type] = {"products": PRODUCTS}
TEMPLATE_WITH_BONUS: dict[str, Type] = {"bonus": Entity("bonus")}
#: `event`: the event that started the run, typed by the scenario's triggers.
TEMPLATE_WITH_EVENT: dict[str, Type] = {"event": UNKNOWN}
#: The filters, tests and globals templates may use (stdlib/templates.py implements
#: them; the checker types them). Jinja's others are not available.
TEMPLATE_FILTERS = (
    "abs", "batch", "capitalize", "count", "d", "date", "datetime", "default", "e", "escape", "first", "join",
    "last", "length", "lower", "money", "number", "percent", "replace", "reverse", "round", "safe", "sort",
    "striptags", "time", "title", "trim", "truncate", "unique", "upper", "urlencode", "wordcount",
)  # fmt: skip
TEMPLATE_TESTS = (
    "boolean", "defined", "divisibleby", "eq", "equalto", "even", "false", "ne", "none", "number",
    "odd", "string", "true", "undefined",
)  # fmt: skip
TEMPLATE_GLOBALS = ("range",)

ISO_CURRENCIES = frozenset(
    """AED ARS AUD AZN BGN BRL BYN CAD CHF CLP CNY COP CZK DKK EGP EUR GBP GEL HKD HUF IDR ILS
    INR ISK JPY KGS KRW KZT MDL MXN MYR NOK NZD PHP PKR PLN RON RSD RUB SAR SEK SGD THB TRY
    TWD UAH USD UZS VND ZAR""".split()
)
LANGUAGES = frozenset(
    """ar be bg cs da de el en es et fi fr he hi hr hu hy id it ja ka kk ko lt lv nl no pl pt
    ro ru sk sl sr sv th tr uk uz vi zh""".split()
)
