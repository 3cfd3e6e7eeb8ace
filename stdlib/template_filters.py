"""The filters and tests templates may use, each defined for unset values.

Unset passes through a filter (so `|default` after it still applies); the formatting
filters show values by the conventions of the message's language; the size of what a
filter builds is bounded like everything a template builds. Jinja's own filters that
are not listed here (and in stdlib/catalog.py) are not available to templates.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from jinja2 import Environment
from jinja2.filters import FILTERS as JINJA_FILTERS
from jinja2.runtime import Context, Undefined
from jinja2.utils import pass_context, pass_environment, pass_eval_context
from markupsafe import Markup

from ..interpreter.values import Money, Percent
from . import formatting
from .render_context import MAX_RANGE, MAX_TEXT, RenderBudgetError, RenderInfo, as_number, bounded, info_of


def _passes_unset(function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that gives unset for an unset value (its first argument)."""

    @functools.wraps(function)
    def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:
        return None if value is None else function(value, *args, **kwargs)

    return wrapper


def _locale_filter(format_value: Callable[..., str]) -> Callable[..., Any]:
    """A formatting filter: unset passes, the value is shown in the message's language."""

    @pass_context
    def wrapper(context: Context, value: Any, *args: Any) -> Any:
        if value is None:
            return None
        info = info_of(context)
        return format_value(info, as_number(value), *args)

    return wrapper


def _money(info: RenderInfo, value: Any, currency: str | None = None) -> str:
    return formatting.money(value, info.locale, currency)


def _percent(info: RenderInfo, value: Any) -> str:
    return formatting.percent(value, info.locale)


def _number_text(info: RenderInfo, value: Any, digits: int | None = None) -> str:
    return formatting.number(value, info.locale, digits)


def _date(info: RenderInfo, value: Any, pattern: str | None = None) -> str:
    return formatting.date(value, info.locale, info.zone, pattern)


def _datetime(info: RenderInfo, value: Any, pattern: str | None = None) -> str:
    return formatting.datetime(value, info.locale, info.zone, pattern)


def _time(info: RenderInfo, value: Any, pattern: str | None = None) -> str:
    return formatting.time(value, info.locale, info.zone, pattern)


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    if value is None or isinstance(value, Undefined) or (boolean and not value):
        return default_value
    return value


def _first(value: Any) -> Any:
    items = list(value or ())
    return items[0] if items else None


def _last(value: Any) -> Any:
    items = list(value or ())
    return items[-1] if items else None


def _length(value: Any) -> int:
    return 0 if value is None else len(value)


def _sort_key(value: Any) -> tuple[Any, ...]:
    """Unset first, then by value; money by currency, then amount; text ignoring case."""
    if value is None:
        return (0,)
    if isinstance(value, Money):
        return (1, value.currency, value.amount)
    if isinstance(value, Percent):
        return (1, value.value)
    if isinstance(value, str):
        return (1, value.lower())
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return (1, dt.datetime.combine(value, dt.time(), dt.UTC))
    return (1, as_number(value))


def _attribute(item: Any, attribute: str | None) -> Any:
    return item if attribute is None or item is None else getattr(item, attribute, None)


def _sort(value: Any, reverse: bool = False, case_sensitive: bool = False, attribute: str | None = None) -> Any:
    return sorted(value or (), key=lambda item: _sort_key(_attribute(item, attribute)), reverse=reverse)


@pass_context
def _join(context: Context, value: Any, d: str = "", attribute: str | None = None) -> Any:
    info = info_of(context)
    shown = [
        item if isinstance(item, Markup) else formatting.shown(item, info.locale, info.zone)
        for item in (_attribute(i, attribute) for i in value or ())
    ]
    return bounded(JINJA_FILTERS["join"](context.eval_ctx, shown, d))


@pass_eval_context
def _replace(eval_ctx: Any, value: Any, old: str, new: str, count: int | None = None) -> Any:
    if value is None:
        return None
    times = str(value).count(str(old)) if old else len(str(value)) + 1
    if count is not None:
        times = min(times, max(int(count), 0))
    if len(str(value)) + times * (len(str(new)) - len(str(old))) > MAX_TEXT:
        raise RenderBudgetError(f"the template builds a text longer than {MAX_TEXT} characters")
    return JINJA_FILTERS["replace"](eval_ctx, value, old, new, None if count is None else int(count))


def _abs(value: Any) -> Any:
    if isinstance(value, Money):
        return Money(abs(value.amount), value.currency)
    if isinstance(value, Percent):
        return Percent(abs(value.value))
    return abs(as_number(value))


_ROUNDING = {"common": ROUND_HALF_UP, "ceil": ROUND_CEILING, "floor": ROUND_FLOOR}


def _round(value: Any, precision: Any = 0, method: str = "common") -> Any:
    """Jinja's round, in Decimal: `common` rounds halves away from zero."""
    return as_number(value).quantize(Decimal(1).scaleb(-int(precision)), rounding=_ROUNDING[method])


@pass_environment
def _truncate(
    env: Environment, value: Any, length: Any = 255, killwords: bool = False, end: str = "...", leeway: Any = None
) -> Any:
    if value is None:
        return None
    return JINJA_FILTERS["truncate"](env, value, int(length), killwords, end, None if leeway is None else int(leeway))


@pass_environment
def _unique(env: Environment, value: Any, case_sensitive: bool = False, attribute: str | None = None) -> Any:
    return list(JINJA_FILTERS["unique"](env, value or (), case_sensitive, attribute))


def _batch(value: Any, linecount: Any, fill_with: Any = None) -> Any:
    return list(JINJA_FILTERS["batch"](value or (), int(linecount), fill_with))


def _unset_is(test: Callable[..., bool]) -> Callable[..., bool]:
    """A test that is false for an unset value."""

    @functools.wraps(test)
    def wrapper(value: Any, *args: Any) -> bool:
        return value is not None and bool(test(as_number(value), *(as_number(a) for a in args)))

    return wrapper


def filters() -> dict[str, Callable[..., Any]]:
    text = {name: _passes_unset(JINJA_FILTERS[name]) for name in ("upper", "lower", "title", "capitalize", "trim",
                                                                   "striptags", "urlencode", "wordcount")}  # fmt: skip
    escape = _passes_unset(JINJA_FILTERS["escape"])
    default = _default
    length = _length
    made: dict[str, Callable[..., Any]] = {
        "money": _locale_filter(_money),
        "percent": _locale_filter(_percent),
        "number": _locale_filter(_number_text),
        "date": _locale_filter(_date),
        "datetime": _locale_filter(_datetime),
        "time": _locale_filter(_time),
        "default": default,
        "d": default,
        **text,
        "escape": escape,
        "e": escape,
        "truncate": _truncate,
        "replace": _replace,
        "length": length,
        "count": length,
        "first": _first,
        "last": _last,
        "join": _join,
        "sort": _sort,
        "unique": _unique,
        "reverse": _passes_unset(lambda value: value[::-1] if isinstance(value, str) else list(reversed(list(value)))),
        "batch": _batch,
        "round": _passes_unset(_round),
        "abs": _passes_unset(_abs),
        "safe": JINJA_FILTERS["safe"],
    }
    return made


def tests() -> dict[str, Callable[..., bool]]:
    def odd(value: Any) -> bool:
        return bool(value % 2 == 1)

    def even(value: Any) -> bool:
        return bool(value % 2 == 0)

    def divisibleby(value: Any, number: Any) -> bool:
        # By an unset number (an attribute nobody set) is false, as by zero.
        return bool(number is not None and number != 0 and value % number == 0)

    def equal(value: Any, other: Any) -> bool:
        return bool(as_number(value) == as_number(other))

    def unequal(value: Any, other: Any) -> bool:
        return not equal(value, other)

    return {
        "defined": lambda value: not isinstance(value, Undefined),
        "undefined": lambda value: isinstance(value, Undefined),
        "none": lambda value: value is None,
        "number": lambda value: isinstance(value, Decimal | int | float) and not isinstance(value, bool),
        "string": lambda value: isinstance(value, str),
        "boolean": lambda value: isinstance(value, bool),
        "true": lambda value: value is True,
        "false": lambda value: value is False,
        "odd": _unset_is(odd),
        "even": _unset_is(even),
        "divisibleby": _unset_is(divisibleby),
        "eq": equal,
        "equalto": equal,
        "ne": unequal,
    }


def bounded_range(*args: Any) -> list[int]:
    numbers = [int(as_number(a)) for a in args]
    made = range(*numbers)
    if len(made) > MAX_RANGE:
        raise RenderBudgetError(f"range() of more than {MAX_RANGE} numbers")
    return list(made)
