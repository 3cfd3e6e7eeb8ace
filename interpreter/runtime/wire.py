"""Values as producers write them, read at the door; and as stored, read at run time.

One reader for every door (the HTTP API, `scn worker`'s standard input, `scn simulate`'s
event files): JSON is read strictly (no duplicate keys, no NaN, numbers exactly as
written, nesting bounded), and each declared event field is decoded to its declared
type or refused with what was expected. What is stored is the canonical form of each
value (the one custom attributes use), so that run time reads back exactly what the
door accepted. docs/api.md ("Event fields") is the reference for these forms.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from decimal import Decimal
from typing import Any

import msgspec

from ...stdlib.catalog import ISO_CURRENCIES
from ..clock import duration_ms
from ..types import Money as MoneyType
from ..types import Prim, Ref, Type
from ..values import DeclRef, Money, Percent

UTC = dt.UTC
#: Deepest nesting of arrays and objects a JSON document may have (an event needs 4).
MAX_DEPTH = 32
#: Digits an amount may have before and after its decimal point.
INT_DIGITS = 15
FRACTION_DIGITS = 10
#: Longest text an event field may hold.
MAX_TEXT = 10_000

#: An amount as written: ASCII digits and an optional point. (Every pattern here reads ASCII
#: digits only: `\d` alone takes any script's, and `٣` would pass for 3.)
#: The end of the text in a pattern, meaning the same to Python's `re` and to ECMA-262 (the
#: regular expressions of JSON Schema, and of the OpenAPI document's readers): Python's `$`
#: lets a final line break through, and `\Z` is no ECMA-262 escape.
END = r"(?![\s\S])"
#: Spaces, for a character class: what either's `\s` takes (Python's takes U+0085 and U+001C-
#: U+001F, ECMA-262's U+FEFF), written out so that both read the same.
SPACE = r"\x09-\x0d\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
UNSIGNED = rf"[0-9]{{1,{INT_DIGITS}}}(?:\.[0-9]{{1,{FRACTION_DIGITS}}})?"
AMOUNT = "-?" + UNSIGNED
_AMOUNT = re.compile(AMOUNT)
_MONEY_TEXT = re.compile(r"(-?[0-9.]+) ?([A-Z]{3})")
_DURATION = re.compile(r"(?:\d{1,9}(?:ms|s|m|h|d|w))+", re.ASCII)
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)", re.ASCII)
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_TIME = re.compile(r"\d{2}:\d{2}(?::\d{2})?", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class WireError(ValueError):
    """Input that cannot be read; the message says what was expected."""


# ---------------------------------------------------------------- JSON


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise WireError(f"the key {twice!r} appears twice in one object")
    return found


def _constant(name: str) -> Any:
    raise WireError(f"{name} is not JSON: write numbers as digits")


def _integer(text: str) -> int:
    """An integer as written; one longer than Python converts (its guard against quadratic
    time, 4300 digits by default) is refused by name rather than with Python's own words."""
    digits = len(text.lstrip("-"))
    limit = sys.get_int_max_str_digits()
    if limit and digits > limit:
        raise WireError(f"a number has {digits} digits: write at most {limit}")
    return int(text)


_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def read_json(raw: bytes | str) -> Any:
    """A JSON document, read strictly: a key twice in one object, NaN or Infinity, and
    nesting deeper than `MAX_DEPTH` are refused; numbers with a fraction or an exponent
    become Decimal exactly as written (never a binary float)."""
    data = raw.encode() if isinstance(raw, str) else raw
    try:
        document = _DECODER.decode(data)
    except msgspec.DecodeError as error:
        _slowly(data)  # says where, in lines and columns, and names NaN and Infinity
        if str(error).startswith("Integer value out of range"):  # a long one the standard library reads
            raise WireError(f"a number is out of range: write at most {sys.get_int_max_str_digits()} digits") from None
        raise WireError(f"not valid JSON: {error}") from None
    except RecursionError:
        raise WireError(f"the JSON is nested more than {MAX_DEPTH} levels deep") from None
    members, colons = _shape(document)
    # Every colon of the text separates a member or sits in a string. Fewer members than
    # that means a key was given twice (msgspec keeps the last): find which, the slow way.
    # (A colon written as \u003a would hide one: such texts take the slow way too.)
    if data.count(b":") != members + colons or b"\\u003" in data:
        _slowly(data)
    return document


def _shape(document: Any) -> tuple[int, int]:
    """(object members, colons inside strings) of a decoded document; WireError when it
    nests deeper than `MAX_DEPTH`."""
    members = 0
    texts: list[str] = []  # keys and string values, counted together at the end
    stack = [(document, 1)]
    while stack:
        node, level = stack.pop()
        if level > MAX_DEPTH:
            raise WireError(f"the JSON is nested more than {MAX_DEPTH} levels deep")
        if type(node) is dict:
            members += len(node)
            texts.extend(node)
            values: Any = node.values()
        elif type(node) is list:
            values = node
        else:
            if type(node) is str:
                texts.append(node)
            continue
        for value in values:
            kind = type(value)
            if kind is str:
                texts.append(value)
            elif kind is dict or kind is list:
                stack.append((value, level + 1))
    return members, "".join(texts).count(":")


def members(data: bytes) -> int:
    """The object members of a valid JSON text: its colons outside strings. With the escaped
    backslashes and quotes taken out, every quote left opens or closes a string."""
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(data.split(b'"')[::2]).count(b":")


def nesting(value: Any) -> int:
    """Levels of arrays and objects in a decoded value (0 for a string, a number...), counted
    up to `MAX_DEPTH` + 1 at most."""
    deepest = 0
    stack = [(value, 1)]
    while stack and deepest <= MAX_DEPTH:
        node, level = stack.pop()
        if type(node) is dict:
            node = node.values()
        elif type(node) is not list:
            continue
        deepest = max(deepest, level)
        stack.extend((item, level + 1) for item in node if type(item) is dict or type(item) is list)
    return deepest


def _slowly(data: bytes) -> None:
    """Read with the standard library, whose hooks see every key and constant."""
    try:
        json.loads(data, object_pairs_hook=_pairs, parse_float=Decimal, parse_int=_integer, parse_constant=_constant)
    except json.JSONDecodeError as error:
        raise WireError(f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except UnicodeDecodeError as error:
        raise WireError(f"not UTF-8 text (byte {error.start})") from None
    except RecursionError:
        raise WireError(f"the JSON is nested more than {MAX_DEPTH} levels deep") from None


# ---------------------------------------------------------------- amounts and text


def amount(value: Any, negative: bool = True) -> Decimal:
    """A decimal amount: a JSON number or a string, `12.50` or `-3`, exactly as written, at
    most 15 digits before the point and 10 after it (no exponent, no NaN, no spaces)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str | float):
        raise WireError("expected a decimal number such as 12.50 (a JSON number or a string)")
    if isinstance(value, float):  # only from readers that did not keep the digits
        raise WireError('expected a decimal number written exactly (a string such as "12.50")')
    text = str(value) if not isinstance(value, str) else value
    if not _AMOUNT.fullmatch(text):
        raise WireError(
            f"{_shown(text)} is not a decimal number: write digits with an optional point, e.g. 12.50 "
            f"(at most {INT_DIGITS} digits before the point and {FRACTION_DIGITS} after it; no exponent, NaN or "
            "Infinity)"
        )
    number = Decimal(text)
    if number < 0 and not negative:
        raise WireError(f"{text} is negative: amounts of money are never below 0 (a refund is `order.refunded`)")
    return number


def text(value: Any, limit: int = MAX_TEXT) -> str:
    """A string of at most ``limit`` characters without control characters."""
    if not isinstance(value, str):
        raise WireError(f"expected a string, got {_kind(value)}")
    if len(value) > limit:
        raise WireError(f"{len(value)} characters; at most {limit}")
    if _CONTROL.search(value):
        raise WireError("control characters (such as NUL) are not allowed")
    return value


def money(value: Any, currency: str | None) -> Money:
    """Money: `{"amount": "12.50", "currency": "UAH"}`, `"12.50 UAH"`, or (in a workspace that
    declares its `currency`) a bare amount. Never negative; in the workspace currency if declared."""
    if isinstance(value, dict):
        unknown = set(value) - {"amount", "currency"}
        if unknown or "amount" not in value:
            raise WireError('expected money as {"amount": "12.50", "currency": "UAH"}')
        number, code = amount(value["amount"], negative=False), value.get("currency")
    elif isinstance(value, str) and (match := _MONEY_TEXT.fullmatch(value)):
        number, code = amount(match.group(1), negative=False), match.group(2)
    else:
        number, code = amount(value, negative=False), None
    if code is None:
        if currency is None:
            raise WireError('money needs a currency: {"amount": "12.50", "currency": "UAH"} or "12.50 UAH"')
        code = currency
    if not isinstance(code, str) or code not in ISO_CURRENCIES:
        raise WireError(f"{_shown(code)} is not a currency this workspace knows (ISO 4217, e.g. EUR, UAH, PLN)")
    if currency is not None and code != currency:
        raise WireError(f"{code}: the workspace's money is in {currency} (its `currency` declaration)")
    return Money(number, code)


def moment(value: Any) -> dt.datetime:
    """An ISO 8601 date and time with its offset (`2025-03-01T10:00:00+02:00`, `...Z`), in UTC."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str) and len(value) <= 40:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise WireError(f"{_shown(value)} is not a date and time: write 2025-03-01T10:00:00+02:00") from None
    else:
        raise WireError(f"expected a date and time such as 2025-03-01T10:00:00+02:00, got {_kind(value)}")
    if parsed.tzinfo is None:
        raise WireError("a date and time needs its offset: 2025-03-01T10:00:00+02:00 or ...Z")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise WireError(f"{_shown(value)} is out of range") from None


def _date(value: Any) -> dt.date:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise WireError(f"expected a date such as 2025-03-01, got {_shown(value)}")


def _time(value: Any) -> dt.time:
    if isinstance(value, str) and _TIME.fullmatch(value):
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            pass
    raise WireError(f"expected a time of day such as 10:00 or 10:00:30, got {_shown(value)}")


def _duration(value: Any) -> dt.timedelta:
    if isinstance(value, str) and _DURATION.fullmatch(value):
        return dt.timedelta(milliseconds=sum(int(n) * _UNIT_MS[u] for n, u in _DURATION_PART.findall(value)))
    raise WireError(f"expected a duration such as 30m, 24h, 7d or 1h30m, got {_shown(value)}")


def _percent(value: Any) -> Percent:
    if isinstance(value, str) and value.endswith("%"):
        value = value[:-1]
    try:
        return Percent(amount(value))
    except WireError:
        raise WireError(f'expected a percentage such as "55%" or 55, got {_shown(value)}') from None


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "…")
    return _kind(value) if isinstance(value, dict | list) else repr(value)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "true or false", str: "a string", type(None): "null"}.get(
        type(value), "a number"
    )


# ---------------------------------------------------------------- declared types


class Context:
    """What decoding a field needs to know of the workspace: its currency and its names."""

    __slots__ = ("currency", "names")

    def __init__(self, currency: str | None = None, names: dict[str, set[str]] | None = None) -> None:
        self.currency = currency
        #: The declared names by kind (list, segment, group, coupon); None: any name goes.
        self.names = names


def read_field(value: Any, t: Type, context: Context) -> Any:
    """A field as sent -> its runtime value, or WireError saying what was expected."""
    if isinstance(t, MoneyType):
        return money(value, context.currency)
    if isinstance(t, Ref):
        name = text(value, 200)
        known = context.names.get(t.kind) if context.names is not None else None
        if known is not None and name not in known:
            raise WireError(f"no {t.kind} `{name}` is declared in the workspace")
        return DeclRef(t.kind, name)
    kind = t.kind if isinstance(t, Prim) else ""
    if kind == "string":
        return text(value)
    if kind == "number":
        return amount(value)
    if kind == "percent":
        return _percent(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise WireError(f"expected true or false, got {_shown(value)}")
    if kind == "datetime":
        return moment(value)
    if kind == "date":
        return _date(value)
    if kind == "time":
        return _time(value)
    if kind == "duration":
        return _duration(value)
    raise WireError(f"a field of type {t.name} cannot be sent")


def stored(value: Any) -> Any:
    """A runtime value -> its canonical JSON form: as stored in events and attributes, and
    as webhooks send it (docs/language.md, `call webhook`)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Money):
        return {"amount": str(value.amount), "currency": value.currency}
    if isinstance(value, Percent):
        return str(value.value)
    if isinstance(value, dt.timedelta):
        return duration_ms(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, DeclRef):
        return value.name
    if isinstance(value, list | tuple):
        return [stored(item) for item in value]
    return value


_ANY = Context()


def from_stored(value: Any, t: Type) -> Any:
    """A stored field -> its runtime value. Values stored before fields were typed at the
    door are read with the door's rules; one that cannot be read is unset (None)."""
    if value is None:
        return None
    kind = t.kind if isinstance(t, Prim) else ""
    try:
        if isinstance(t, MoneyType) and isinstance(value, dict):
            return Money(Decimal(str(value["amount"])), str(value["currency"]))
        if kind == "duration" and isinstance(value, int) and not isinstance(value, bool):
            return dt.timedelta(milliseconds=value)
        if kind == "time" and isinstance(value, str):
            return dt.time.fromisoformat(value)
        if kind == "date" and isinstance(value, str):
            return dt.date.fromisoformat(value)
        return read_field(value, t, _ANY)
    except (WireError, ValueError, KeyError, TypeError, ArithmeticError):
        return None
