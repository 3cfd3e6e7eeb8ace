"""Events: their input shape, and what accepting one changes in contacts and orders.

An event says what happened (`type`), to whom (`contact`), when (`at`), and carries
the order, item or product it is about, plus its own fields (`data`). Contact and order
data in an event update the store's records (projections) before scenarios see it.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from decimal import Decimal
from typing import Annotated, Any, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import Meta

from ...stdlib.addresses import address_error
from ...stdlib.catalog import BUILTIN_EVENTS, ISO_CURRENCIES, LANGUAGES, EventSpec
from ..clock import ms_of
from ..program import Bundle, EventField
from ..store import EventIn, EventRow
from ..types import DATETIME, DECLARABLE, STRING, Type
from ..values import to_decimal
from ..views import ADDRESS_FIELDS, CHANNELS
from . import wire
from .batch import Batch
from .orders import OrderMove, moment_ms, project_order

UTC = dt.UTC


# The patterns below are the OpenAPI document's too: they end in wire.END and name spaces as
# wire.SPACE, which mean the same to Python's `re` and to ECMA-262 (JSON Schema's).
END, SPACE = wire.END, wire.SPACE
#: An id: 1-200 characters, not blank, no `/` or `\\` (ids are parts of URLs), no control
#: characters, no spaces at either end, and not `.` or `..`.
Id = Annotated[str, Meta(min_length=1, max_length=200,
                         pattern=rf"^(?!\.\.?{END})(?![{SPACE}])[^\x00-\x1f\x7f/\\]*(?<![{SPACE}]){END}")]  # fmt: skip
#: A short name (a status, an offer, a tag, a contact's first name): 1-200 characters
#: without control characters, not all spaces (a blank name would print as nothing where a
#: template shows it, as an empty one would).
Name = Annotated[str, Meta(min_length=1, max_length=200, pattern=rf"^(?![{SPACE}]*{END})[^\x00-\x1f\x7f]*{END}")]
#: An email address's outline; `_contact` checks the rest (`stdlib.addresses`: the sender's rules).
Email = Annotated[str, Meta(max_length=254, pattern=rf"^[^@{SPACE}\x00-\x1f\x7f]+@[^@{SPACE}\x00-\x1f\x7f]+{END}")]
Phone = Annotated[str, Meta(max_length=32, pattern=rf"^\+?[0-9][0-9 ()./-]{{2,30}}{END}")]
#: A language: two letters (ISO 639-1), optionally with a region or script (`pl-PL`).
Language = Annotated[str, Meta(max_length=20, pattern=rf"^[a-z]{{2}}(?:[-_][A-Za-z0-9]{{2,8}})*{END}")]
Zone = Annotated[str, Meta(min_length=1, max_length=64)]
Country = Annotated[str, Meta(pattern=rf"^[A-Z]{{2}}{END}")]
Currency = Annotated[str, Meta(pattern=rf"^[A-Z]{{3}}{END}")]
#: An amount of money written as text, never negative ("850.00").
AmountText = Annotated[str, Meta(pattern=rf"^{wire.UNSIGNED}{END}")]
Url = Annotated[str, Meta(max_length=2000, pattern=rf"^[^\x00-\x1f\x7f]*{END}")]
Key = Annotated[str, Meta(min_length=1, max_length=200, pattern=rf"^[^\x00-\x1f\x7f]*{END}")]
EventType = Annotated[str, Meta(max_length=100, pattern=rf"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*{END}")]
FieldName = Annotated[str, Meta(min_length=1, max_length=100, pattern=rf"^[A-Za-z_][A-Za-z0-9_]*{END}")]

#: What each pattern above asks for, in words (msgspec's errors show the pattern itself).
_FORMATS = {
    Id: "an id: no `/` or `\\`, no control characters, no spaces at either end, not `.` or `..`",
    Name: "text without control characters (line breaks, NUL), not only spaces",
    Email: "an email address: one `@` with text on both sides, no spaces",
    Phone: "a phone number: digits, an optional leading +, spaces and ()./-",
    Language: "a language code such as uk, lv or pl-PL",
    Country: "a country code of two capital letters, such as UA",
    Currency: "a currency code of three capital letters, such as UAH",
    AmountText: f"an amount such as 850.00: digits with an optional point ({wire.INT_DIGITS} digits at most before "
    f"it, {wire.FRACTION_DIGITS} after it)",
    EventType: "an event name such as order.paid",
    FieldName: "a field name of letters, digits and _",
}
_PATTERNS = {
    f"Expected `str` matching regex {m.pattern!r}": f"expected {words}"
    for kind, words in _FORMATS.items()
    for m in get_args(kind)[1:]
    if isinstance(m, Meta) and m.pattern
}


def explain(message: str) -> str:
    """A msgspec validation message with its regular expression said in words."""
    for pattern, words in _PATTERNS.items():
        if message.startswith(pattern):
            return words + message[len(pattern) :]
    return message


class ContactIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    id: Id
    email: Email | None = None
    phone: Phone | None = None
    push_token: Annotated[str, Meta(max_length=4096)] | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    language: Language | None = None
    #: An IANA time zone name, e.g. Europe/Kyiv.
    timezone: Zone | None = None
    country: Country | None = None
    group: Name | None = None
    #: Per channel: is the contact subscribed? (Unsubscribes arrive as events too.)
    subscriptions: dict[str, bool] | None = None
    attributes: Annotated[dict[FieldName, Any], Meta(max_length=100)] | None = None
    tags: Annotated[list[Name], Meta(max_length=100)] | None = None


class Amount(Decimal):
    """Money or a quantity as the producer wrote it: a JSON number, or a string that the door
    checks as written (`written`, wire.amount). msgspec reads a decimal string as Python's
    Decimal() does, and " 12", "+12", "1_2", "١٢" and "1.2e1" would all have been 12."""

    written: str

    def __new__(cls, value: str | int | Decimal) -> Amount:
        made = super().__new__(cls, value)
        made.written = value if isinstance(value, str) else str(value)
        return made

    @classmethod
    def _decoder(cls, _: Any, value: Any) -> Amount:
        """Decodes one from JSON (msgspec's dec_hook; Litestar calls a type's `_decoder`).
        One read before (the API checks a body strictly before Litestar converts it) is
        kept as it is, with what was written."""
        if type(value) is cls:
            return value
        if type(value) is str:  # most amounts: made here rather than through __new__ (a call less)
            written = value
        elif isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise TypeError(f'Expected a decimal number (a JSON number or a string such as "12.50"), got {value!r}')
        else:
            written = str(value)
        try:
            made = Decimal.__new__(cls, value)
        except ArithmeticError:  # decimal.InvalidOperation: no decimal at all
            raise ValueError(f"{value!r} is not a decimal number: write digits with an optional point") from None
        made.written = written
        return made


def _amount_hook(kind: type, value: Any) -> Any:
    if kind is Amount:
        return Amount._decoder(kind, value)
    raise NotImplementedError(f"cannot read {kind}")


def _plain(value: Any) -> Any:
    if isinstance(value, Amount):
        return str(value)
    raise NotImplementedError(f"cannot write {type(value).__name__}")


class ItemIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    product_id: Id | None = None
    sku: Name | None = None
    name: Name | None = None
    category: Name | None = None
    offer: Name | None = None
    tariff: Name | None = None
    quantity: Amount = Amount(1)
    price: Amount | None = None
    total: Amount | None = None
    #: The item's own status (an order's items move on their own: language.md §7.3);
    #: an item without one is in its order's status.
    status: Name | None = None
    url: Url | None = None
    image: Url | None = None


class OrderIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    id: Id
    number: Name | None = None
    status: Name | None = None
    offer: Name | None = None
    tariff: Name | None = None
    #: Money: a decimal string ("120.00") or a JSON number read exactly as written; in `currency`.
    total: Amount | None = None
    currency: Currency | None = None
    coupon: Name | None = None
    items: Annotated[list[ItemIn], Meta(max_length=1000)] | None = None
    created_at: dt.datetime | None = None
    paid_at: dt.datetime | None = None


class ProductIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    id: Id
    name: Name | None = None
    category: Name | None = None
    price: Amount | None = None
    currency: Currency | None = None
    url: Url | None = None
    image: Url | None = None
    created_at: dt.datetime | None = None


class EventInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """An event as producers send it (one JSON object; `scn simulate` reads one per line)."""

    type: EventType
    contact: ContactIn
    #: Sending the same key twice records the event once (a different payload under a known key is refused).
    key: Key | None = None
    #: When it happened (with its offset); waits count from it. Defaults to when it is received.
    at: dt.datetime | None = None
    order: OrderIn | None = None
    item: ItemIn | None = None
    product: ProductIn | None = None
    #: The event's own fields, each in the wire form of its declared type (docs/api.md).
    data: Annotated[dict[FieldName, Any], Meta(max_length=100)] = msgspec.field(default_factory=dict)


_encode = msgspec.json.Encoder(enc_hook=_plain).encode
#: An `at` this far ahead of the receiving clock is taken as "now" (clocks disagree a little).
MAX_SKEW = dt.timedelta(minutes=5)
#: Events cannot have happened before this.
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=UTC)


class EventError(ValueError):
    """An event that cannot be accepted: ``errors`` names each bad field and what was expected."""

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class Door:
    """What arriving events are checked against: every event type in use and the current
    workspace (its currency, declared names, attributes)."""

    def __init__(self, bundle: Bundle | None, custom: dict[str, EventSpec]) -> None:
        self.specs: dict[str, EventSpec] = {**custom, **BUILTIN_EVENTS}
        #: Per event type: its `data` fields with their types, and those it must give.
        self.types = {name: payload_types(spec) for name, spec in self.specs.items()}
        self.required = {name: [f for f in self.types[name] if f not in spec.optional]
                         for name, spec in self.specs.items()}  # fmt: skip
        self.attributes: dict[str, Type] = {}
        self.context = wire.Context()
        if bundle is not None:
            self.attributes = {n: DECLARABLE[t] for n, t in bundle.attributes.items() if t in DECLARABLE}
            names = {"list": set(bundle.lists), "segment": set(bundle.segments), "group": set(bundle.groups),
                     "coupon": set(bundle.coupons)}  # fmt: skip
            self.context = wire.Context(bundle.currency, names)


@functools.lru_cache(maxsize=1024)
def custom_spec(name: str, fields: tuple[EventField, ...]) -> EventSpec:
    """A declared event as compiled into a bundle: every field required. (Cached: runs read
    their trigger's fields again at every step.)"""
    types = {f.name: DECLARABLE.get(f.type, STRING) for f in fields}
    return EventSpec(name, {"occurred_at": DATETIME, **types}, custom=True)


def payload_types(spec: EventSpec) -> dict[str, Type]:
    """An event's own fields (its `data`), with their types."""
    return {n: t for n, t in spec.fields.items() if n != "occurred_at" and n not in spec.carries}


class _Problems:
    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append({"field": field, "message": message})

    def read(self, field: str, reader: Any, *args: Any) -> Any:
        try:
            return reader(*args)
        except wire.WireError as error:
            self.add(field, str(error))
            return None


def read_event(text: str | bytes) -> EventInput:
    """One event from its JSON text, read as the API reads a body; EventError says why not."""
    data = text.encode() if isinstance(text, str) else text
    if isinstance(event := decode_events(data), EventInput):
        return event
    try:
        return convert_event(wire.read_json(data))
    except wire.WireError as error:
        raise EventError(str(error)) from None
    except msgspec.ValidationError as error:
        message, _, path = explain(str(error)).partition(" - at `")
        field = path.rstrip("`").removeprefix("$").removeprefix(".") or "(the event)"
        raise EventError(f"{field}: {message}", [{"field": field, "message": message}]) from None


def convert_event(document: Any) -> EventInput:
    """An event from JSON already read (msgspec.ValidationError when it does not fit). Strict:
    a time is a string with its offset, a boolean true or false (msgspec's lax rules took a
    number for a time, "true" for a boolean), as the API reads a body."""
    return msgspec.convert(document, EventInput, strict=True, dec_hook=_amount_hook)


_EVENTS = msgspec.json.Decoder(EventInput | list[EventInput], strict=True, dec_hook=_amount_hook, float_hook=Decimal)


def decode_events(raw: bytes) -> EventInput | list[EventInput] | None:
    """One event or a non-empty list of them, decoded straight from their JSON text into
    EventInput: what `wire.read_json` and `convert_event` make of ``raw``, without the
    untyped document in between. None when it does not decode so, or when this cannot tell
    that the two would agree: the caller reads it that way, which says what is wrong."""
    try:
        value = _EVENTS.decode(raw)
    except (msgspec.DecodeError, RecursionError):  # (msgspec.ValidationError is a DecodeError)
        return None
    events = value if isinstance(value, list) else [value]
    if not events or not _within_depth(events, 2 if value is events else 1):
        return None
    # read_json refuses a key given twice in one object, where msgspec keeps the last: every
    # member of the text has to be in what was decoded. Written out again (without the
    # fields left at their defaults, so a member given with its default value sends this
    # the slow way too), the events have as many members as the text only then. Colons
    # counted outside strings: a time can be written with fewer colons than msgspec writes
    # it (+0200 for +02:00); all other strings, keys and values, are written back as they
    # came (an escaped colon aside), so their colons can be counted with the members.
    written = _encode(value)
    timed = any(e.at is not None or e.order is not None or e.product is not None for e in events)
    if timed or b"\\u003" in raw:
        same = wire.members(raw) == wire.members(written)
    else:
        same = raw.count(b":") == written.count(b":")
    return value if same else None


def _within_depth(events: list[EventInput], level: int) -> bool:
    """Whether the values the events carry untyped (their `data`, their contacts'
    attributes), which may nest, stay within `wire.MAX_DEPTH` as read_json counts it from
    the document (an event at ``level``)."""
    for event in events:
        for value in event.data.values():
            if (type(value) is dict or type(value) is list) and level + 1 + wire.nesting(value) > wire.MAX_DEPTH:
                return False
        for value in (event.contact.attributes or {}).values():
            if (type(value) is dict or type(value) is list) and level + 2 + wire.nesting(value) > wire.MAX_DEPTH:
                return False
    return True


def normalise(event: EventInput, now: dt.datetime, door: Door) -> EventIn:
    """The row an input event becomes, its fields in their canonical form; raises EventError
    naming every field that does not fit."""
    spec = door.specs.get(event.type)
    if spec is None:
        raise EventError(f"unknown event type {event.type!r}", [{"field": "type", "message": "unknown event type"}])
    problems = _Problems()
    at = _when(event.at, now, problems)
    data = _data(event, spec, door, problems)
    contact = _contact(event.contact, door, problems)
    if event.order is not None or event.item is not None or event.product is not None:
        _records(event, door, problems)
        event = _in_workspace_currency(event, door.context.currency)
    if problems.errors:
        raise EventError("; ".join(f"{e['field']}: {e['message']}" for e in problems.errors), problems.errors)
    assert at is not None
    key = event.key or f"auto:{uuid.uuid4()}"
    if key is not event.key or at is not event.at or data is not event.data or contact is not event.contact:
        event = msgspec.structs.replace(event, key=key, at=at, data=data, contact=contact)
    return EventIn(key, event.type, event.contact.id, _ms_of(at), _encode(event).decode())


#: The moment last turned into milliseconds, and its milliseconds: the events of a request
#: that carry no time of their own all take the request's one reading of the clock.
_last_ms = (EARLIEST, ms_of(EARLIEST))


def _ms_of(at: dt.datetime) -> int:
    """`ms_of`, worked out once for the same moment given again."""
    global _last_ms
    moment, ms = _last_ms
    if at is not moment:
        ms = ms_of(at)
        _last_ms = (at, ms)
    return ms


def _in_workspace_currency(event: EventInput, currency: str | None) -> EventInput:
    """An order or product sent without its currency is in the workspace's: kept with none,
    its amounts were money of no currency, which no condition in the workspace currency
    ever matched."""
    if currency is None:
        return event
    if event.order is not None and event.order.currency is None:
        event = msgspec.structs.replace(event, order=msgspec.structs.replace(event.order, currency=currency))
    if event.product is not None and event.product.currency is None and event.product.price is not None:
        event = msgspec.structs.replace(event, product=msgspec.structs.replace(event.product, currency=currency))
    return event


def _when(at: dt.datetime | None, now: dt.datetime, problems: _Problems) -> dt.datetime | None:
    """When it happened: as given, but never after it was received (up to `MAX_SKEW` ahead is
    a clock that runs fast, taken as now; further ahead is refused)."""
    if at is None:
        return now.astimezone(UTC)
    if at.tzinfo is None:
        problems.add("at", "needs its offset, e.g. 2025-03-01T10:00:00+02:00 or ...Z")
        return None
    try:
        at = at.astimezone(UTC)
    except OverflowError:
        problems.add("at", "out of range")
        return None
    if at > now + MAX_SKEW:
        problems.add("at", f"{at:%Y-%m-%d %H:%M:%S}Z is in the future (received at {now.astimezone(UTC):%H:%M:%S}Z): "
                           "check the sender's clock")  # fmt: skip
        return None
    if at < EARLIEST:
        problems.add("at", f"{at:%Y-%m-%d} is before {EARLIEST:%Y-%m-%d}: is it in seconds instead of a date?")
        return None
    return min(at, now.astimezone(UTC))


def _data(event: EventInput, spec: EventSpec, door: Door, problems: _Problems) -> dict[str, Any]:
    if not event.data and not door.required[spec.name] and not spec.carries:
        return event.data
    types = door.types[spec.name]
    data: dict[str, Any] = {}
    for name, value in event.data.items():
        if name not in types:
            expected = ", ".join(types) or "none"
            problems.add(f"data.{name}", f"{event.type} has no field {name} (its fields: {expected})")
        elif value is not None:
            typed = problems.read(f"data.{name}", wire.read_field, value, types[name], door.context)
            data[name] = wire.stored(typed)
    for name in door.required[spec.name]:
        if event.data.get(name) is None:
            problems.add(f"data.{name}", f"missing: {event.type} needs {name} ({types[name].name})")
    for record in sorted(spec.carries):
        if getattr(event, record, None) is None:
            problems.add(record, f"missing: {event.type} carries an {record}")
    return data


def _contact(contact: ContactIn, door: Door, problems: _Problems) -> ContactIn:
    if contact.email is not None and (why := address_error(contact.email)) is not None:
        # The rules the sender goes by (stdlib.addresses): an address accepted is one it can send to.
        problems.add("contact.email", f"{contact.email!r} is not an email address: {why}")
    if contact.timezone is not None and not known_zone(contact.timezone):
        problems.add("contact.timezone", f"{contact.timezone!r} is not an IANA time zone such as Europe/Kyiv")
    if contact.language is not None and contact.language[:2] not in LANGUAGES:
        problems.add("contact.language", f"{contact.language!r} is not a language scn knows (uk, lv, pl, en…)")
    groups = door.context.names.get("group") if door.context.names is not None else None
    if contact.group is not None and groups is not None and contact.group not in groups:
        problems.add("contact.group", f"no group `{contact.group}` is declared in the workspace")
    for channel in contact.subscriptions or {}:
        if channel not in CHANNELS:
            problems.add(f"contact.subscriptions.{channel}", f"not a channel ({', '.join(CHANNELS)})")
    if not contact.attributes:
        return contact
    attributes: dict[str, Any] = {}
    for name, value in contact.attributes.items():
        field = f"contact.attributes.{name}"
        if name in door.attributes and value is not None:
            attributes[name] = wire.stored(problems.read(field, wire.read_field, value, door.attributes[name],
                                                         door.context))  # fmt: skip
        elif isinstance(value, str):
            attributes[name] = problems.read(field, wire.text, value)
        elif value is None or isinstance(value, bool | int | Decimal):
            attributes[name] = value
        else:
            problems.add(field, "expected a string, a number, true or false (declare the attribute for other types)")
    return msgspec.structs.replace(contact, attributes=attributes)


def _records(event: EventInput, door: Door, problems: _Problems) -> None:
    """The order, item and product: amounts that are numbers, in a currency scn knows."""
    order = event.order
    workspace = door.context.currency
    if order is not None:
        currency = order.currency
        if currency is not None and currency not in ISO_CURRENCIES:
            problems.add("order.currency", f"{currency!r} is not a currency scn knows (ISO 4217, e.g. EUR, UAH, PLN)")
        elif currency is not None and workspace is not None and currency != workspace:
            problems.add("order.currency", f"{currency}: the workspace's money is in {workspace} (its `currency`)")
        amounts = [("order.total", order.total)]
        for index, item in enumerate(order.items or []):
            where = f"order.items[{index}]"
            amounts += [(f"{where}.price", item.price), (f"{where}.total", item.total)]
            _quantity(f"{where}.quantity", item.quantity, problems)
        for field, value in amounts:
            if value is not None:
                problems.read(field, wire.amount, value.written, False)
        if order.total is not None and currency is None and workspace is None:
            problems.add("order.currency", "missing: an order's total needs its currency (or declare `currency`)")
        for field, moment in (("order.created_at", order.created_at), ("order.paid_at", order.paid_at)):
            if moment is not None and moment.tzinfo is None:
                problems.add(field, "needs its offset, e.g. 2025-03-01T10:00:00+02:00 or ...Z")
    if event.item is not None:
        for field, value in (("item.price", event.item.price), ("item.total", event.item.total)):
            if value is not None:
                problems.read(field, wire.amount, value.written, False)
        _quantity("item.quantity", event.item.quantity, problems)
    if event.product is not None:
        _product("product", event.product, problems)


def product_errors(product: ProductIn, where: str = "product") -> list[dict[str, str]]:
    """What does not fit in a catalogue product (its price, currency, time)."""
    problems = _Problems()
    _product(where, product, problems)
    return problems.errors


def _product(where: str, product: ProductIn, problems: _Problems) -> None:
    if product.price is not None:
        problems.read(f"{where}.price", wire.amount, product.price.written, False)
    if product.currency is not None and product.currency not in ISO_CURRENCIES:
        problems.add(f"{where}.currency", f"{product.currency!r} is not a currency scn knows (ISO 4217)")
    if product.created_at is not None and product.created_at.tzinfo is None:
        problems.add(f"{where}.created_at", "needs its offset, e.g. 2025-03-01T10:00:00+02:00 or ...Z")


def _quantity(field: str, value: Amount, problems: _Problems) -> None:
    number = problems.read(field, wire.amount, value.written, False)
    if number is not None and number <= 0:
        problems.add(field, f"{number} items: a quantity is above 0")


@functools.lru_cache(maxsize=1024)
def known_zone(name: str) -> bool:
    """Is ``name`` an IANA time zone (Europe/Kyiv, UTC)?"""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


# ---------------------------------------------------------------- projections


#: Contact fields an event's `contact` may set directly.
_CONTACT_FIELDS = frozenset({"email", "phone", "first_name", "last_name", "language", "timezone", "country"})


async def apply_projections(batch: Batch, event: EventRow, payload: dict[str, Any]) -> OrderMove | None:
    """Update contacts, orders, products and course progress from an event; what it did to
    the order it carries, if any.

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
    if event.type in ("message.unsubscribed", "message.complained") and data.get("channel") in CHANNELS:
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
    move = None
    if payload.get("order"):
        move = await project_order(batch, event, payload["order"], data, payload.get("item"))
    if payload.get("product"):
        product = payload["product"]
        batch.changes.products.append(
            {"id": product["id"], "name": product.get("name"), "category": product.get("category"),
             "price": product.get("price"), "currency": product.get("currency"), "url": product.get("url"),
             "image": product.get("image"), "created_at": moment_ms(product.get("created_at")) or at}
        )  # fmt: skip
    if event.type.startswith("course.") and data.get("course"):
        await _course(batch, event, data)
    return move


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
