"""Sandboxed Jinja environments for message templates.

Immutable sandboxed environments: templates cannot change the objects they are given
or reach Python internals. Undefined variables are errors rather than empty text, so
a typo never reaches a customer as "Hello ,". HTML autoescapes; text and subjects do
not (they are not HTML).
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .catalog import TEMPLATE_FILTERS

#: Groups thousands without letting a line break split an amount.
THIN_SPACE = "\u202f"


def format_money(value: Any, currency: str | None = None) -> str:
    """1234.5 -> "1 234.50"; with a currency, "1 234.50 UAH". Never goes through float."""
    amount = getattr(value, "amount", value)
    code = currency or getattr(value, "currency", None)
    quantized = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if quantized < 0 else ""
    whole, _, cents = f"{abs(quantized):f}".partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    text = f"{sign}{THIN_SPACE.join(groups)}.{cents or '00'}"
    return f"{text} {code}" if code else text


def format_percent(value: Any) -> str:
    number = Decimal(str(value)).normalize()
    return f"{number:f}%"


def format_date(value: dt.date | dt.datetime, pattern: str = "%d.%m.%Y") -> str:
    return value.strftime(pattern)


def format_datetime(value: dt.datetime, pattern: str = "%d.%m.%Y %H:%M") -> str:
    return value.strftime(pattern)


_FILTERS = {
    "money": format_money,
    "percent": format_percent,
    "date": format_date,
    "datetime": format_datetime,
}
assert tuple(_FILTERS) == TEMPLATE_FILTERS


def _nothing_for_none(value: Any) -> Any:
    return "" if value is None else value


@functools.cache
def environment(html: bool) -> ImmutableSandboxedEnvironment:
    """The shared environment for HTML (autoescaped) or for text and subjects."""
    env = ImmutableSandboxedEnvironment(
        autoescape=html,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=False,
        # A field the contact has no value for prints as nothing, never as "None".
        finalize=_nothing_for_none,
    )
    env.filters.update(_FILTERS)
    return env
