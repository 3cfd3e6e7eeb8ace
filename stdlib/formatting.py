"""Values as text for people, by the conventions of a language (Babel's CLDR data).

Money, numbers, percentages, dates, times and durations in a message follow the
language the message is written in: `1 234,50 ₴` in Ukrainian, `UAH 1,234.50` in
English, `9 grudnia 2026` in Polish. Moments are shown in the contact's time zone.
Amounts go to Babel as Decimal, never through a float.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import unicodedata
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal, ParamSpec, TypeVar, cast
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError, dates, numbers

from ..interpreter.values import DeclRef, Money, Percent

#: The language used when the message's own cannot be told or is not in CLDR.
DEFAULT_LANGUAGE = "en"
#: Named formats of the date and time filters (CLDR's lengths).
NAMED_FORMATS = frozenset({"short", "medium", "long", "full"})
#: Currency codes scn uses where a currency is not known (ISO 4217's "no currency").
NO_CURRENCY = "XXX"

DurationUnit = Literal["week", "day", "hour", "minute", "second"]
DateLength = Literal["short", "medium", "long", "full"]
_DURATION_UNITS: tuple[tuple[DurationUnit, int], ...] = (
    ("week", 604_800), ("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1),
)  # fmt: skip


@functools.lru_cache(maxsize=256)
def locale_of(language: str | None) -> Locale:
    """The CLDR locale for a language tag ("uk", "pl-PL", "pt_BR"); English when unknown."""
    if language:
        try:
            return Locale.parse(language.replace("-", "_"))
        except (UnknownLocaleError, ValueError, TypeError):
            base = language.replace("-", "_").split("_")[0]
            if base and base != language:
                return locale_of(base)
    return Locale.parse(DEFAULT_LANGUAGE)


#: The most whole digits a number is given room for (more is no amount anyone means).
_MOST_DIGITS = 200
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _with_room(format_value: Callable[_P, _R]) -> Callable[_P, _R]:
    """Format under a decimal precision with room for every digit of the value: two values
    the door takes, multiplied, have more than the default 28, and rounding them to the
    shown decimals would otherwise raise InvalidOperation."""

    @functools.wraps(format_value)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        value = args[0]
        amount = value.amount if isinstance(value, Money) else value.value if isinstance(value, Percent) else value
        digits = 0
        if isinstance(amount, Decimal | int) and not isinstance(amount, bool) and Decimal(amount).is_finite():
            digits = Decimal(amount).adjusted() + 1
        room = min(digits, _MOST_DIGITS) + 20
        if room <= decimal.getcontext().prec:  # every amount anyone sends: no context to make
            return format_value(*args, **kwargs)
        with decimal.localcontext(prec=room):
            return format_value(*args, **kwargs)

    return wrapper


@_with_room
def money(value: Money | Decimal | int, locale: Locale, currency: str | None = None) -> str:
    """An amount with its currency as the language writes it: "1 234,50 ₴", "UAH 1,234.50"
    (CLDR's patterns through Babel, and CLDR's currency spacing, see `_with_currency`)."""
    amount = value.amount if isinstance(value, Money) else Decimal(value)
    code = currency or (value.currency if isinstance(value, Money) else None)
    if not code or code == NO_CURRENCY:
        return numbers.format_decimal(amount, format="#,##0.00", locale=locale)
    shape = _currency_shape(locale, code)
    if shape is None or not amount.is_finite():
        return numbers.format_currency(amount, code, locale=locale)
    return shape.apply(amount)


class _Shape:
    """What Babel's `NumberPattern.apply` does for every finite amount, with what depends only
    on the locale and the currency looked up once: the sign's prefix and suffix (with the
    currency put in), the separators, the grouping and the fraction's digits. For money
    the currency's digits (`format_currency`); for a number the pattern's, every digit
    of the value kept (`format_decimal(..., decimal_quantization=False)`). Each step is
    Babel's (`apply`, `_quantize_value`, `_format_int`, `_format_frac`), in the same
    order, so the text is the same (with CLDR's currency spacing put in the affixes);
    tests/test_formatting_money.py compares the two on arbitrary amounts in every CLDR
    locale."""

    __slots__ = ("prefix", "suffix", "group", "decimal", "first", "then", "width", "least", "most", "quantum", "exact")

    def __init__(self, pattern: numbers.NumberPattern, locale: Locale, code: str | None) -> None:
        if code is None:
            self.prefix, self.suffix = tuple(pattern.prefix), tuple(pattern.suffix)
            self.least, self.most = pattern.frac_prec
        else:
            symbol = numbers.get_currency_symbol(code, locale)
            self.prefix = tuple(_with_currency(text, code, symbol, before=True) for text in pattern.prefix)
            self.suffix = tuple(_with_currency(text, code, symbol, before=False) for text in pattern.suffix)
            self.least = self.most = numbers.get_currency_precision(code)
        self.exact = code is None  # a number keeps every digit it has beyond the pattern's
        self.group = numbers.get_group_symbol(locale)
        self.decimal = numbers.get_decimal_symbol(locale)
        self.first, self.then = pattern.grouping
        self.width = pattern.int_prec[0]
        self.quantum = numbers.get_decimal_quantum(self.most)

    def apply(self, amount: Decimal) -> str:
        value = amount.scaleb(0)  # rounded to the context's precision, as Babel does
        negative = int(value.is_signed())
        value = abs(value).normalize()
        most, quantum = self.most, self.quantum
        if self.exact:
            exponent = value.as_tuple().exponent
            if isinstance(exponent, int) and -exponent > most:
                most = -exponent
                quantum = numbers.get_decimal_quantum(most)
        rounded = value.quantize(quantum)
        whole, _, fraction = f"{rounded:f}".partition(".")
        if len(whole) < self.width:
            whole = "0" * (self.width - len(whole)) + whole
        size, grouped = self.first, ""
        while len(whole) > size:
            grouped = self.group + whole[-size:] + grouped
            whole = whole[:-size]
            size = self.then
        text = whole + grouped
        fraction = fraction or "0"
        if len(fraction) < self.least:
            fraction += "0" * (self.least - len(fraction))
        if most and (self.least or int(fraction)):
            while len(fraction) > self.least and fraction[-1] == "0":
                fraction = fraction[:-1]
            text += self.decimal + fraction
        return self.prefix[negative] + text + self.suffix[negative]


def _with_currency(text: str, code: str, symbol: str, *, before: bool) -> str:
    """An affix with its currency put in. Where the currency sign stands right next to the
    number (``before`` it, or after it) and its character there is neither a symbol nor a
    space, CLDR's currency spacing (which Babel does not apply) puts a no-break space
    between them: "UAH 1,234.50", "$1,234.50"."""
    sign = code.upper() if "¤¤" in text else symbol
    filled = text.replace("¤¤", code.upper()).replace("¤", symbol)
    if sign and (text.endswith("¤") if before else text.startswith("¤")):
        edge = sign[-1] if before else sign[0]
        if unicodedata.category(edge)[0] not in "SZ":
            return filled + "\xa0" if before else "\xa0" + filled
    return filled


@functools.lru_cache(maxsize=1024)
def _currency_shape(locale: Locale, code: str) -> _Shape | None:
    """The shape of ``code``'s amounts in ``locale``, or None where Babel's result depends on
    more than the shape (see `_shape_of`), or on the currency's name (`¤¤¤`, in the
    amount's plural form)."""
    pattern = locale.currency_formats["standard"]
    if "¤¤¤" in "".join(pattern.prefix + pattern.suffix):
        return None
    return _shape_of(pattern, locale, code)


@functools.lru_cache(maxsize=256)
def _number_shape(locale: Locale) -> _Shape | None:
    """The shape of a number in ``locale`` (its standard decimal pattern), or None."""
    return _shape_of(locale.decimal_formats[None], locale, None)


def _shape_of(pattern: numbers.NumberPattern, locale: Locale, code: str | None) -> _Shape | None:
    """None where Babel's result depends on more than the shape: a pattern in scientific,
    significant-digit or scaled (per mille) notation, or a quote or `¤` among the
    separators, symbol or affixes (Babel strips quoted text from the whole result, digits
    included)."""
    if pattern.exp_prec or "@" in pattern.pattern or pattern.scale or not pattern.number_pattern:
        return None
    shape = _Shape(pattern, locale, code)
    if any(c in "".join((*shape.prefix, *shape.suffix, shape.group, shape.decimal)) for c in "'¤"):
        return None
    return shape


@_with_room
def number(value: Decimal | int, locale: Locale, digits: int | None = None) -> str:
    """A number with the language's separators: "1 234,5"; ``digits`` fixes the decimals."""
    if digits is None:
        shape = _number_shape(locale)
        # Babel reads anything else through str(): `True` is no number to it, nor is Money.
        if shape is not None and (isinstance(value, Decimal) or type(value) is int):
            amount = Decimal(value)
            if amount.is_finite():
                return shape.apply(amount)
        return numbers.format_decimal(value, locale=locale, decimal_quantization=False)
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return numbers.format_decimal(value, format=pattern, locale=locale)


@_with_room
def percent(value: Percent | Decimal | int, locale: Locale) -> str:
    """A percentage as the language writes it ("15%", "12,5 %"), every given digit kept."""
    points = value.value if isinstance(value, Percent) else Decimal(value)
    return numbers.format_percent(points / 100, locale=locale, decimal_quantization=False)


def _local(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return moment.astimezone(zone)


def date(value: dt.date, locale: Locale, zone: ZoneInfo, pattern: str | None = None) -> str:
    """A date (a moment's date in the contact's zone): "9 December 2026" by default."""
    if isinstance(value, dt.datetime):
        value = _local(value, zone).date()
    if pattern is not None and "%" in pattern:
        return value.strftime(pattern)
    return dates.format_date(value, format=pattern or "long", locale=locale)


def time(value: dt.time | dt.datetime, locale: Locale, zone: ZoneInfo, pattern: str | None = None) -> str:
    """A time of day ("18:30", "6:30 PM"); a moment's time in the contact's zone."""
    if isinstance(value, dt.datetime):
        value = _local(value, zone).time()
    if pattern is not None and "%" in pattern:
        return value.strftime(pattern)
    return dates.format_time(value, format=pattern or "short", locale=locale)


def datetime(value: dt.datetime, locale: Locale, zone: ZoneInfo, pattern: str | None = None) -> str:
    """A moment in the contact's zone: "December 9, 2026 at 6:30 PM", "9 грудня 2026 р. о 18:30"."""
    local = _local(value, zone)
    if pattern is not None and "%" in pattern:
        return local.strftime(pattern)
    if pattern is not None and pattern not in NAMED_FORMATS:
        return dates.format_datetime(local, format=pattern, tzinfo=zone, locale=locale)
    glue = dates.get_datetime_format(cast(DateLength, pattern or "long"), locale=locale)
    day = dates.format_date(local.date(), format=pattern or "long", locale=locale)
    hour = dates.format_time(local.time(), format="short", locale=locale)
    return str(glue).replace("'", "").replace("{1}", day).replace("{0}", hour)


def duration(value: dt.timedelta, locale: Locale) -> str:
    """A duration in the largest unit that measures it exactly: "36 hours", "2 weeks"."""
    seconds = abs(int(value.total_seconds()))
    unit: DurationUnit = next((name for name, size in _DURATION_UNITS if seconds and seconds % size == 0), "second")
    # A threshold no amount reaches keeps Babel from rounding 36 hours up to "2 days".
    return dates.format_timedelta(value, granularity=unit, threshold=10**12, locale=locale)


_SAMPLES: dict[str, Any] = {
    "date": dt.date(2026, 12, 31),
    "time": dt.time(18, 30),
    "datetime": dt.datetime(2026, 12, 31, 18, 30, tzinfo=dt.UTC),
}
_FORMATTERS: dict[str, Any] = {"date": date, "time": time, "datetime": datetime}
_MISSING = {
    "date": "it asks for a part a date does not have (a time of day, a time zone)",
    "time": "it asks for a part a time of day does not have (a day, a month, a year)",
    "datetime": "it is not a pattern Babel can use",
}


def check_pattern(pattern: str, kind: str) -> str | None:
    """Why ``pattern`` cannot format a ``kind`` ("date", "time", "datetime"), or None.

    Babel takes almost any text as a pattern, but fails on fields the value lacks
    (hours of a date, a year of a time): the pattern is tried once, here, on a sample."""
    formatter = _FORMATTERS[kind]
    try:
        formatter(_SAMPLES[kind], locale_of(DEFAULT_LANGUAGE), ZoneInfo("UTC"), pattern)
    except Exception:  # noqa: BLE001 - any failure here is a finding, said in words below
        return f"`{pattern}` cannot show a {kind}: {_MISSING[kind]}"
    return None


def shown(value: Any, locale: Locale, zone: ZoneInfo) -> str:
    """Any value a template prints, as text: the default format for its type."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, DeclRef):
        return value.name
    if isinstance(value, Money):
        return money(value, locale)
    if isinstance(value, Percent):
        return percent(value, locale)
    if isinstance(value, Decimal | int):
        return number(value, locale)
    if isinstance(value, float):  # a literal written in the template
        return number(Decimal(repr(value)), locale)
    if isinstance(value, dt.datetime):
        return datetime(value, locale, zone)
    if isinstance(value, dt.date):
        return date(value, locale, zone)
    if isinstance(value, dt.time):
        return time(value, locale, zone)
    if isinstance(value, dt.timedelta):
        return duration(value, locale)
    raise TypeError(f"{type(value).__name__} cannot be shown as text")
