"""The static types of scn expressions."""

from __future__ import annotations

import msgspec


class Type(msgspec.Struct, frozen=True):
    """Base of types. ``name`` is how the type is shown in messages."""

    @property
    def name(self) -> str:
        raise NotImplementedError


class Prim(Type, frozen=True):
    """number, percent, duration, string, bool, date, datetime, time."""

    kind: str

    @property
    def name(self) -> str:
        return self.kind


class Money(Type, frozen=True):
    """Money; ``currency`` None means "some currency, known only at run time"."""

    currency: str | None = None

    @property
    def name(self) -> str:
        return f"money ({self.currency})" if self.currency else "money"


class ListOf(Type, frozen=True):
    item: Type

    @property
    def name(self) -> str:
        return f"list of {self.item.name}"


class Entity(Type, frozen=True):
    """A record with fields: contact, order, item, product, and event payloads."""

    kind: str

    @property
    def name(self) -> str:
        return self.kind


class Ref(Type, frozen=True):
    """A reference to a declaration: a list, segment, coupon, template, group, program."""

    kind: str

    @property
    def name(self) -> str:
        return self.kind


class Unknown(Type, frozen=True):
    """The type of an expression that already has an error; it matches anything."""

    @property
    def name(self) -> str:
        return "unknown"


NUMBER = Prim("number")
PERCENT = Prim("percent")
DURATION = Prim("duration")
STRING = Prim("string")
BOOL = Prim("bool")
DATE = Prim("date")
DATETIME = Prim("datetime")
TIME = Prim("time")
MONEY = Money()
UNKNOWN = Unknown()

#: Types a marketer may name in `attribute x: TYPE` and in event field declarations.
DECLARABLE: dict[str, Type] = {
    "string": STRING,
    "number": NUMBER,
    "money": MONEY,
    "percent": PERCENT,
    "duration": DURATION,
    "bool": BOOL,
    "date": DATE,
    "datetime": DATETIME,
    "time": TIME,
}


def is_unknown(t: Type) -> bool:
    return isinstance(t, Unknown)


def is_moment(t: Type) -> bool:
    """Dates and datetimes compare with each other (a date means its first moment)."""
    return t in (DATE, DATETIME)


def same_currency(a: Type, b: Type) -> bool:
    """Two money types agree unless both currencies are known and differ."""
    assert isinstance(a, Money) and isinstance(b, Money)
    return a.currency is None or b.currency is None or a.currency == b.currency


def assignable(value: Type, target: Type) -> bool:
    """Can a value of type ``value`` be used where ``target`` is expected?"""
    if is_unknown(value) or is_unknown(target):
        return True
    if isinstance(value, Money) and isinstance(target, Money):
        return same_currency(value, target)
    if is_moment(value) and is_moment(target):
        return True
    if isinstance(value, ListOf) and isinstance(target, ListOf):
        return assignable(value.item, target.item)
    return value == target
