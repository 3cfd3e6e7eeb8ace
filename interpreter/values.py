"""Runtime values: money and percentages (numbers are Decimal, never float).

Durations are `datetime.timedelta`, moments are timezone-aware `datetime.datetime` in
UTC, dates are `datetime.date`, times of day are `datetime.time`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")


class CurrencyError(ValueError):
    """Money of two currencies met in one operation."""


class Money:
    """An amount in one currency. Arithmetic keeps Decimal precision; `rounded` for display."""

    __slots__ = ("amount", "currency")

    def __init__(self, amount: Decimal | int | str, currency: str) -> None:
        self.amount = amount if isinstance(amount, Decimal) else Decimal(amount)
        self.currency = currency

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyError(f"{self.currency} and {other.currency}")

    def __add__(self, other: Any) -> Money:
        if isinstance(other, Money):
            self._same(other)
            return Money(self.amount + other.amount, self.currency)
        return NotImplemented

    def __sub__(self, other: Any) -> Money:
        if isinstance(other, Money):
            self._same(other)
            return Money(self.amount - other.amount, self.currency)
        return NotImplemented

    def __mul__(self, other: Any) -> Money:
        if isinstance(other, Percent):
            return Money(self.amount * other.value / 100, self.currency)
        if isinstance(other, Decimal | int):
            return Money(self.amount * other, self.currency)
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Money | Decimal:
        if isinstance(other, Money):
            self._same(other)
            return self.amount / other.amount
        if isinstance(other, Decimal | int):
            return Money(self.amount / other, self.currency)
        return NotImplemented

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def _cmp(self, other: Any) -> tuple[Decimal, Decimal]:
        if not isinstance(other, Money):
            raise TypeError(f"cannot compare money with {type(other).__name__}")
        self._same(other)
        return self.amount, other.amount

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and other.currency == self.currency and other.amount == self.amount

    def __hash__(self) -> int:
        return hash((self.amount, self.currency))

    def __lt__(self, other: Any) -> bool:
        a, b = self._cmp(other)
        return a < b

    def __le__(self, other: Any) -> bool:
        a, b = self._cmp(other)
        return a <= b

    def __gt__(self, other: Any) -> bool:
        a, b = self._cmp(other)
        return a > b

    def __ge__(self, other: Any) -> bool:
        a, b = self._cmp(other)
        return a >= b

    def rounded(self) -> Money:
        return Money(self.amount.quantize(CENT), self.currency)

    def __str__(self) -> str:
        return f"{self.amount.quantize(CENT)} {self.currency}"

    def __repr__(self) -> str:
        return f"Money({str(self.amount)!r}, {self.currency!r})"


class Percent:
    """A percentage; `10%` is Percent(10)."""

    __slots__ = ("value",)

    def __init__(self, value: Decimal | int | str) -> None:
        self.value = value if isinstance(value, Decimal) else Decimal(value)

    def __add__(self, other: Any) -> Percent:
        if isinstance(other, Percent):
            return Percent(self.value + other.value)
        return NotImplemented

    def __sub__(self, other: Any) -> Percent:
        if isinstance(other, Percent):
            return Percent(self.value - other.value)
        return NotImplemented

    def __mul__(self, other: Any) -> Any:
        if isinstance(other, Money):
            return other * self
        if isinstance(other, Decimal | int):
            return Percent(self.value * other)
        return NotImplemented

    def __rmul__(self, other: Any) -> Any:
        if isinstance(other, Decimal | int):
            return other * self.value / 100  # 200 * 10% is 20
        return NotImplemented

    def __neg__(self) -> Percent:
        return Percent(-self.value)

    def _cmp(self, other: Any) -> Decimal:
        if not isinstance(other, Percent):
            raise TypeError(f"cannot compare a percentage with {type(other).__name__}")
        return other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Percent) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __lt__(self, other: Any) -> bool:
        return self.value < self._cmp(other)

    def __le__(self, other: Any) -> bool:
        return self.value <= self._cmp(other)

    def __gt__(self, other: Any) -> bool:
        return self.value > self._cmp(other)

    def __ge__(self, other: Any) -> bool:
        return self.value >= self._cmp(other)

    def __str__(self) -> str:
        return f"{self.value.normalize():f}%"

    def __repr__(self) -> str:
        return f"Percent({str(self.value)!r})"


class DeclRef:
    """A declaration named in an expression (`vip` in `contact.group == vip`)."""

    __slots__ = ("kind", "name")

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeclRef) and other.kind == self.kind and other.name == self.name

    def __hash__(self) -> int:
        return hash((self.kind, self.name))

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"DeclRef({self.kind!r}, {self.name!r})"


def scaled(duration: dt.timedelta, factor: Decimal | int) -> dt.timedelta:
    """A duration times a number, to the millisecond, without a float."""
    milliseconds = (Decimal(duration // dt.timedelta(microseconds=1)) * factor / 1000).to_integral_value()
    return dt.timedelta(milliseconds=int(milliseconds))


def multiply(left: Any, right: Any) -> Any:
    """`left * right` for runtime values: durations scale by numbers; the rest is Python's."""
    if isinstance(left, dt.timedelta) and isinstance(right, Decimal | int) and not isinstance(right, bool):
        return scaled(left, right)
    if isinstance(right, dt.timedelta) and isinstance(left, Decimal | int) and not isinstance(left, bool):
        return scaled(right, left)
    return left * right


def divide(left: Any, right: Any) -> Any:
    """`left / right` for runtime values: a duration by a number or by a duration."""
    if isinstance(left, dt.timedelta) and isinstance(right, Decimal | int) and not isinstance(right, bool):
        return scaled(left, 1 / Decimal(right))
    if isinstance(left, dt.timedelta) and isinstance(right, dt.timedelta):
        return Decimal(left // dt.timedelta(microseconds=1)) / Decimal(right // dt.timedelta(microseconds=1))
    return left / right


def to_decimal(value: Any) -> Decimal:
    """A number from JSON input: strings and ints exactly; floats through their repr."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int | str):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    raise TypeError(f"not a number: {value!r}")
