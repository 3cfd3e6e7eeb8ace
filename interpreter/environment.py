"""What a built-in function of the language is given: the environment of an expression.

The runtime evaluates expressions (interpreter/runtime/evaluate.py) and the standard
library implements the functions (stdlib/functions.py); both meet here, below them,
so that neither imports the other's insides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from .program import Bundle
from .values import Percent

UTC = dt.UTC
_FIRST = dt.datetime.min.replace(tzinfo=UTC)
_LAST = dt.datetime.max.replace(tzinfo=UTC)


class EvaluationError(Exception):
    """An expression could not be evaluated (money of two currencies, division by zero)."""


class Facts(Protocol):
    """What built-in functions may ask about the contact a run is for."""

    async def contact_orders(self) -> list[dict[str, Any]]: ...

    async def course_access(self) -> dict[str, tuple[str | None, str]]: ...

    async def in_list(self, name: str) -> bool: ...

    async def in_segment(self, name: str) -> bool: ...

    async def last_message_at(self, channel: str | None) -> int | None: ...

    async def recommend(self, kind: str, limit: int, **params: Any) -> list[Any]: ...

    def tier_percent(self, program: str) -> Percent: ...


class Env:
    """What an expression can see: its root names, the bundle, facts and the time."""

    __slots__ = ("roots", "bundle", "facts", "now", "tz")

    def __init__(self, roots: dict[str, Any], bundle: Bundle, facts: Facts, now: dt.datetime, tz: ZoneInfo) -> None:
        self.roots = roots
        self.bundle = bundle
        self.facts = facts
        self.now = now
        self.tz = tz

    def moment_of(self, value: Any) -> Any:
        """A date becomes the first moment of that day in the contact's zone."""
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            try:
                return dt.datetime.combine(value, dt.time(), self.tz).astimezone(UTC)
            except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west: before or after all
                return _FIRST if value.year == dt.MINYEAR else _LAST
        return value


Function = Callable[[Env, list[Any], dict[str, Any]], Awaitable[Any]]


def as_timedelta(value: Any) -> dt.timedelta:
    if isinstance(value, dt.timedelta):
        return value
    raise EvaluationError(f"not a duration: {value!r}")


def as_int(value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, Decimal | int):
        return int(value)
    raise EvaluationError(f"not a whole number: {value!r}")
