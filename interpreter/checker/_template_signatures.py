"""What templates may use, and the types it takes and gives: filters, tests, operators.

The filters and tests here are exactly those stdlib/templates.py implements (the
names are in stdlib/catalog.py); each takes the values its signature says and gives
unset for unset. A value of one of several types (`a or b`) is MIXED: it can be
printed and tested, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

import msgspec

from ...stdlib.catalog import TEMPLATE_FILTERS, TEMPLATE_TESTS
from ..codes import Code
from ..types import (
    BOOL,
    DATE,
    DATETIME,
    DURATION,
    NUMBER,
    PERCENT,
    STRING,
    TIME,
    UNKNOWN,
    Entity,
    ListOf,
    Money,
    Prim,
    Ref,
    Type,
    is_moment,
    is_unknown,
    same_currency,
)
from ._exprs import describe
from ._outline import Node

#: `none` in a template.
NONE = Prim("none")
#: A value of one of several types (`a or b`, `x if c else y`): it can be printed and
#: tested, not given to a filter that takes one kind.
MIXED = Prim("mixed")
#: A name bound on only some ways to here (`{% set %}` in one branch of an `if`).
PARTLY_SET = Prim("partly-set")
#: `range`, the one function a template may call.
RANGE = Prim("function")
LOOP = Entity("loop")
#: The largest `range()` a template may loop over (stdlib/render_context.py enforces it too).
MAX_RANGE = 1000
#: The most loop rounds one message may go (stdlib/render_context.py enforces it at send time).
MAX_ROUNDS = 100_000
#: The longest text a message may build (stdlib/render_context.py enforces it); no length
#: or count written in a template need be larger.
MAX_TEXT = 1_000_000

ORDERED = (NUMBER, PERCENT, DURATION, DATE, DATETIME, TIME, STRING)
PRINTABLE_PRIMS = (STRING, NUMBER, PERCENT, DURATION, DATE, DATETIME, TIME, NONE, MIXED)
LOOP_FIELDS: dict[str, Type] = {
    "index": NUMBER,
    "index0": NUMBER,
    "revindex": NUMBER,
    "revindex0": NUMBER,
    "length": NUMBER,
    "depth": NUMBER,
    "depth0": NUMBER,
    "first": BOOL,
    "last": BOOL,
}
LOOP_ITEM = "\x00loop-item"
#: Methods people reach for, and the filter that does it.
METHOD_FILTERS = {
    "upper": "upper",
    "lower": "lower",
    "title": "title",
    "capitalize": "capitalize",
    "strip": "trim",
    "replace": "replace",
    "format": "a `~` or two `{{ }}`",
    "join": "join",
}
COMPARE_SYMBOLS = {
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "lteq": "<=",
    "gt": ">",
    "gteq": ">=",
    "in": "in",
    "notin": "not in",
}


class Finding(msgspec.Struct, frozen=True):
    """A finding in a template: where (the line, and a word on it to point at) and what."""

    code: Code
    line: int
    word: str | None
    message: str
    hint: str | None = None
    #: The name the word most likely meant (a did-you-mean), which a fix writes in its place.
    guess: str | None = None


class Param(msgspec.Struct, frozen=True):
    """A filter's or test's parameter; ``kind`` says what it takes (see `_argument`)."""

    name: str
    kind: str
    required: bool = False


class Signature(msgspec.Struct, frozen=True):
    """What a filter or test takes and gives."""

    takes: Callable[[Type], bool]
    takes_text: str
    params: tuple[Param, ...] = ()
    gives: Callable[[Type], Type] = lambda t: STRING


def _is_money(t: Type) -> bool:
    return isinstance(t, Money)


def _one_of(*types: Type) -> Callable[[Type], bool]:
    return lambda t: t in types


def _list(t: Type) -> bool:
    return isinstance(t, ListOf)


def _same(t: Type) -> Type:
    return t


def _item(t: Type) -> Type:
    return t.item if isinstance(t, ListOf) else UNKNOWN


_TEXT = Signature(_one_of(STRING), "text")
_PATTERN = (Param("format", "pattern"),)
FILTERS: dict[str, Signature] = {
    "money": Signature(lambda t: _is_money(t) or t == NUMBER, "money or a number", (Param("currency", "currency"),)),
    "percent": Signature(_one_of(PERCENT, NUMBER), "a percentage or a number"),
    "number": Signature(_one_of(NUMBER), "a number", (Param("digits", "digits"),)),
    "date": Signature(is_moment, "a date or a moment", _PATTERN),
    "datetime": Signature(_one_of(DATETIME), "a moment", _PATTERN),
    "time": Signature(_one_of(TIME, DATETIME), "a time or a moment", _PATTERN),
    "default": Signature(lambda t: True, "any value", (Param("default_value", "any"), Param("boolean", "bool"))),
    "upper": _TEXT,
    "lower": _TEXT,
    "title": _TEXT,
    "capitalize": _TEXT,
    "trim": Signature(_one_of(STRING), "text", (Param("chars", "string"),)),
    "striptags": _TEXT,
    "urlencode": _TEXT,
    "escape": _TEXT,
    "wordcount": Signature(_one_of(STRING), "text", gives=lambda t: NUMBER),
    "truncate": Signature(
        _one_of(STRING),
        "text",
        (Param("length", "whole"), Param("killwords", "bool"), Param("end", "text"), Param("leeway", "whole")),
    ),
    "replace": Signature(
        _one_of(STRING), "text", (Param("old", "string", True), Param("new", "string", True), Param("count", "whole"))
    ),
    "length": Signature(lambda t: _list(t) or t == STRING, "a list or text", gives=lambda t: NUMBER),
    "first": Signature(_list, "a list", gives=_item),
    "last": Signature(_list, "a list", gives=_item),
    "join": Signature(_list, "a list", (Param("d", "string"), Param("attribute", "attribute"))),
    "sort": Signature(
        _list,
        "a list",
        (Param("reverse", "bool"), Param("case_sensitive", "bool"), Param("attribute", "attribute")),
        _same,
    ),
    "unique": Signature(_list, "a list", (Param("case_sensitive", "bool"), Param("attribute", "attribute")), _same),
    "reverse": Signature(lambda t: _list(t) or t == STRING, "a list or text", gives=_same),
    "batch": Signature(
        _list, "a list", (Param("linecount", "count", True), Param("fill_with", "any")), lambda t: ListOf(t)
    ),
    "round": Signature(
        _one_of(NUMBER), "a number", (Param("precision", "digits"), Param("method", "method")), lambda t: NUMBER
    ),
    "abs": Signature(
        lambda t: _is_money(t) or t in (NUMBER, PERCENT, DURATION),
        "a number, money, a percentage or a duration",
        gives=_same,
    ),
    "safe": Signature(_one_of(STRING), "text written in the template"),
}
FILTERS.update(d=FILTERS["default"], e=FILTERS["escape"], count=FILTERS["length"])
_ANY_TEST = Signature(lambda t: True, "any value", gives=lambda t: BOOL)
_EQUAL_TEST = Signature(lambda t: True, "any value", (Param("other", "any", True),), lambda t: BOOL)
TESTS: dict[str, Signature] = {
    **{name: _ANY_TEST for name in ("defined", "undefined", "none", "number", "string", "boolean", "true", "false")},
    "odd": Signature(_one_of(NUMBER), "a number", gives=lambda t: BOOL),
    "even": Signature(_one_of(NUMBER), "a number", gives=lambda t: BOOL),
    "divisibleby": Signature(_one_of(NUMBER), "a number", (Param("num", "number", True),), lambda t: BOOL),
    **{name: _EQUAL_TEST for name in ("eq", "equalto", "ne")},
}
assert sorted(FILTERS) == sorted(TEMPLATE_FILTERS) and sorted(TESTS) == sorted(TEMPLATE_TESTS)


def printable(t: Type) -> bool:
    return is_unknown(t) or t in PRINTABLE_PRIMS or isinstance(t, Money | Ref)


def merge(a: Type, b: Type) -> Type:
    """The type of a value that is one of two (`a or b`, `x if c else y`)."""
    if is_unknown(a) or b == NONE or a == b:
        return a
    if is_unknown(b) or a == NONE:
        return b
    if isinstance(a, Money) and isinstance(b, Money) and same_currency(a, b):
        return a if a.currency else b
    return MIXED


def words(t: Type) -> str:
    """A type as words in a sentence, `none` and mixed values included."""
    if t == NONE:
        return "none"
    if t == MIXED:
        return "a value of more than one kind"
    if t == RANGE:
        return "the function range"
    return describe(t)


def comparison_problem(op: str, left: Type, right: Type) -> str | None:
    if op in ("in", "notin"):
        if right == STRING and left in (STRING, NONE):
            return None
        if isinstance(right, ListOf):
            if left == NONE or merge(left, right.item) != MIXED:
                return None
            return f"{words(left)} cannot be in {words(right)}"
        return f"`in` needs a list or text on its right, not {words(right)}"
    if MIXED in (left, right):
        return "one side can be values of more than one kind"
    if NONE in (left, right):
        return "a comparison with none is never true: an unset value equals nothing"
    if op in ("eq", "ne"):
        if merge(left, right) != MIXED:
            return None
        if isinstance(left, Ref) and right == STRING or isinstance(right, Ref) and left == STRING:
            return None  # a group or list compared with its name
        return f"{words(left)} is never equal to {words(right)}"
    if isinstance(left, Money) and isinstance(right, Money):
        return None if same_currency(left, right) else f"{describe(left)} and {describe(right)}"
    if (left == right and left in ORDERED) or (is_moment(left) and is_moment(right)):
        return None
    return f"{words(left)} and {words(right)} have no order together"


def word_of(node: Node) -> str | None:
    """A word of the node to point at on its line (None: the line's start)."""
    if node.kind in ("Name", "Getattr", "Filter", "Test", "Binary") and node.text:
        return node.text
    if node.kind in STATEMENTS:
        return STATEMENTS[node.kind].strip("`{%} ").split()[0]
    if node.kind in ("Compare", "Getitem") and node.args:
        return word_of(node.args[0])
    if node.kind == "Const" and node.value:
        return node.value
    if node.kind == "Neg" and node.args and node.args[0].kind == "Const":
        return "-" + node.args[0].value
    if node.kind in ("Call", "Pos") and node.args:
        return word_of(node.args[0])
    return None


def integer(text: str) -> int | None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return int(number) if number == number.to_integral_value() else None


def whole_between(text: str, low: int, high: int) -> bool:
    number = integer(text)
    return number is not None and low <= number <= high


STATEMENTS = {
    "Macro": "`{% macro %}`",
    "CallBlock": "`{% call %}`",
    "Include": "`{% include %}`",
    "Import": "`{% import %}`",
    "FromImport": "`{% from ... import %}`",
    "Extends": "`{% extends %}`",
    "Block": "`{% block %}`",
}
STATEMENT_HINTS = {
    "Macro": "repeat the markup, or loop over a list",
    "CallBlock": "repeat the markup, or loop over a list",
    "Include": "each part of a template is one file: copy what you need into it",
    "Import": "each part of a template is one file: copy what you need into it",
    "FromImport": "each part of a template is one file: copy what you need into it",
    "Extends": "each part of a template is one file: copy what you need into it",
}
EXPRESSIONS = {"Dict": "dictionaries (`{...}`)", "NSRef": "namespaces"}
EXPRESSION_HINTS = {"Dict": "use the fields of contact, order, coupon... directly"}
