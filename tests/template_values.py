"""Type-directed values for templates: records as the store holds them, drawn by hypothesis.

Every field may be unset where the catalog says it may (stdlib/catalog.py ALWAYS_SET);
strings mix scripts, markup and template syntax; amounts, dates and durations go to
the edges of what the door accepts. The records go through the real views
(interpreter/views.py, runtime/facts.py), so a template sees what it sees at send time.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from scn.interpreter.program import Bundle
from scn.interpreter.runtime.wire import stored as encode_attribute
from scn.interpreter.types import (
    BOOL,
    DATE,
    DATETIME,
    DECLARABLE,
    DURATION,
    NUMBER,
    PERCENT,
    STRING,
    TIME,
    Entity,
    ListOf,
    Ref,
    Type,
)
from scn.interpreter.types import (
    Money as MoneyType,
)
from scn.interpreter.values import DeclRef, Money, Percent
from scn.stdlib.catalog import ISO_CURRENCIES, LANGUAGES, may_be_unset

UTC = dt.UTC
#: Text that a contact, a shop or a producer may send: several scripts, markup, quotes,
#: template syntax that must print as it is, and the empty string.
TEXT = st.one_of(
    st.sampled_from(["", "Ann", "Олена", "Jānis Bērziņš", "Zażółć gęślą jaźń", "<b>&amp;</b>", "{{ x }}", "None"]),
    st.text(st.characters(codec="utf-8"), max_size=40),
)
#: Amounts up to what the door accepts, with up to four decimal places.
#: Text as the door takes it in event fields: no control characters.
FIELD_TEXT = st.one_of(
    st.sampled_from(["", "Ann", "Олена", "Jānis Bērziņš", "<b>&amp;</b>", "{{ x }}"]),
    st.text(st.characters(codec="utf-8", exclude_characters="".join(map(chr, range(32))) + "\x7f"), max_size=40),
)
AMOUNTS = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=4, allow_nan=False)
NUMBERS = st.one_of(st.sampled_from([Decimal(0), Decimal(1), Decimal(-1)]), AMOUNTS)
CURRENCIES = st.sampled_from(sorted(ISO_CURRENCIES))
MOMENTS = st.datetimes(min_value=dt.datetime(1900, 1, 2), max_value=dt.datetime(2200, 12, 30), timezones=st.just(UTC))
ZONES = st.sampled_from(["Europe/Kyiv", "Europe/Riga", "Europe/Warsaw", "America/New_York", "Asia/Kolkata", "UTC",
                         "Pacific/Chatham", "Not/AZone", ""])  # fmt: skip
LANGUAGE_TAGS = st.one_of(st.sampled_from(sorted(LANGUAGES)), st.sampled_from(["uk-UA", "pt_BR", "xx", "", "EN"]))


def ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def maybe(strategy: st.SearchStrategy[Any], unset: bool) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy) if unset else strategy


def value_of(
    t: Type, bundle: Bundle, currency: str | None, text: st.SearchStrategy[str] = TEXT
) -> st.SearchStrategy[Any]:
    """A runtime value of type ``t`` (never unset: see `maybe`)."""
    if t == STRING:
        return text
    if t == NUMBER:
        return NUMBERS
    if t == PERCENT:
        return st.builds(Percent, st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False))
    if t == DURATION:
        return st.builds(lambda n: dt.timedelta(milliseconds=n), st.integers(0, 10**11))
    if t == BOOL:
        return st.booleans()
    if t == DATE:
        return MOMENTS.map(lambda m: m.date())
    if t == DATETIME:
        return MOMENTS
    if t == TIME:
        return st.times()
    if isinstance(t, MoneyType):
        codes = st.just(t.currency or currency) if (t.currency or currency) else CURRENCIES
        return st.builds(Money, AMOUNTS, codes)
    if isinstance(t, Ref):
        tables: dict[str, dict[str, Any]] = {"list": bundle.lists, "segment": bundle.segments,
                                             "group": bundle.groups, "coupon": bundle.coupons,
                                             "program": bundle.programs}  # fmt: skip
        names = sorted(tables.get(t.kind) or {"x": None})
        return st.sampled_from(names).map(lambda name: DeclRef(t.kind, name))
    if isinstance(t, ListOf):
        return st.lists(value_of(t.item, bundle, currency), max_size=3)
    raise AssertionError(f"no values for {t}")


def _field(record: str, name: str, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return maybe(strategy, may_be_unset(record, name))


@st.composite
def contact_record(draw: st.DrawFn, bundle: Bundle) -> dict[str, Any]:
    """A contact as the store holds it: moments in ms, money as decimal text, attributes as JSON."""
    currency = draw(maybe(st.just(bundle.currency) if bundle.currency else CURRENCIES, True))
    created = draw(MOMENTS)

    def moment(record: str, name: str) -> int | None:
        found = draw(_field(record, name, MOMENTS))
        return ms(found) if found is not None else None

    attributes = {}
    for name, type_name in bundle.attributes.items():
        value = draw(maybe(value_of(DECLARABLE[type_name], bundle, bundle.currency), True))
        if value is not None:
            attributes[name] = encode_attribute(value)
    channels = {c: {"subscribed": draw(st.booleans()), "bounced": draw(st.booleans())}
                for c in draw(st.sets(st.sampled_from(["email", "sms", "viber", "push", "webpush"])))}  # fmt: skip
    return {
        "id": draw(st.text(min_size=1, max_size=12)),
        "email": draw(_field("contact", "email", st.emails())),
        "phone": draw(_field("contact", "phone", st.from_regex(r"\+[0-9]{9,14}", fullmatch=True))),
        "first_name": draw(_field("contact", "first_name", TEXT)),
        "last_name": draw(_field("contact", "last_name", TEXT)),
        "language": draw(_field("contact", "language", LANGUAGE_TAGS)),
        "timezone": draw(_field("contact", "timezone", ZONES)),
        "country": draw(_field("contact", "country", TEXT)),
        "created_at": ms(created),
        "grp": draw(maybe(st.sampled_from(sorted(bundle.groups)), True)) if bundle.groups else None,
        "currency": currency,
        "bonus_balance": str(draw(AMOUNTS)),
        "lifetime_spend": str(draw(AMOUNTS)),
        "last_activity_at": moment("contact", "last_activity_at"),
        "orders_count": draw(st.integers(0, 10**6)),
        "first_order_at": moment("orders", "first_at"),
        "last_order_at": moment("orders", "last_at"),
        "last_paid_at": moment("orders", "last_paid_at"),
        "channels": channels,
        "attributes": attributes,
        "tags": draw(st.lists(TEXT, max_size=3)),
    }


def _item_record(draw: st.DrawFn) -> dict[str, Any]:
    def text(name: str) -> Any:
        return draw(_field("item", name, TEXT))

    return {
        "product_id": text("product_id"), "sku": text("sku"), "name": text("name"), "category": text("category"),
        "offer": text("offer"), "tariff": text("tariff"), "quantity": str(draw(st.integers(-5, 10**6))),
        "price": draw(maybe(AMOUNTS.map(str), True)), "total": draw(maybe(AMOUNTS.map(str), True)),
        "status": text("status"), "url": text("url"), "image": text("image"),
    }  # fmt: skip


item_record = st.composite(_item_record)


@st.composite
def order_record(draw: st.DrawFn, bundle: Bundle) -> dict[str, Any]:
    def text(name: str) -> Any:
        return draw(_field("order", name, TEXT))

    paid = draw(maybe(MOMENTS, True))
    return {
        "id": draw(st.text(min_size=1, max_size=12)),
        "number": text("number"), "status": text("status"), "offer": text("offer"), "tariff": text("tariff"),
        "total": str(draw(AMOUNTS)), "currency": bundle.currency or draw(maybe(CURRENCIES, True)),
        "coupon": text("coupon"), "items": draw(st.lists(item_record(), max_size=4)),
        "created_at": ms(draw(MOMENTS)), "paid_at": ms(paid) if paid is not None else None,
    }  # fmt: skip


@st.composite
def product_record(draw: st.DrawFn) -> dict[str, Any]:
    def text(name: str) -> Any:
        return draw(_field("product", name, TEXT))

    created = draw(maybe(MOMENTS, True))
    return {
        "id": draw(st.text(min_size=1, max_size=12)), "name": text("name"), "category": text("category"),
        "price": draw(maybe(AMOUNTS.map(str), True)), "currency": draw(maybe(CURRENCIES, True)),
        "url": text("url"), "image": text("image"), "created_at": ms(created) if created is not None else None,
    }  # fmt: skip


def event_fields_of(fields: dict[str, Type], optional: frozenset[str], bundle: Bundle) -> st.SearchStrategy[Any]:
    """The typed fields of an event (`event.*` without the records it carries)."""
    strategies = {
        name: maybe(value_of(t, bundle, bundle.currency, FIELD_TEXT), name in optional)
        for name, t in fields.items()
        if not isinstance(t, Entity) and name != "occurred_at"  # the event's own time, not a field it sends
    }
    return st.fixed_dictionaries(strategies)
