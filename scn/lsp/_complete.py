"""Completion: the keywords the parser takes at the cursor, declared names by kind, fields."""

from __future__ import annotations

from lsprotocol import types

from ..grammar import expected_at
from ..interpreter import ast
from ..interpreter.checker import Symbols
from ..stdlib.catalog import (
    FUNCTIONS,
    TEMPLATE_ALWAYS,
    TEMPLATE_FILTERS,
    TEMPLATE_WITH_BONUS,
    TEMPLATE_WITH_COUPON,
    TEMPLATE_WITH_ORDER,
    TEMPLATE_WITH_PRODUCTS,
)
from ._docs import FILTERS, KEYWORDS
from ._hover import signature
from ._index import fields_of, roots, type_of_path
from ._words import after_pipe, dotted_at, in_template_expression, words_before

Kind = types.CompletionItemKind
#: The words before a name that say which kind of declaration it names.
_NAME_CONTEXTS: dict[tuple[str, ...], str] = {
    ("to", "list"): "list",
    ("from", "list"): "list",
    ("for", "list"): "list",
    ("with", "coupon"): "coupon",
    ("issue", "coupon"): "coupon",
    ("set", "group"): "group",
    ("with", "program"): "program",
}
#: Words after which a new name is declared: nothing to complete.
_DECLARING = {"list", "segment", "coupon", "template", "program", "group", "attribute", "scenario", "variant"}
_EVENT_WORDS = {"on", "when", "for", "event"}
#: Terminals that start a value: where they are taken, an expression may start.
_VALUE_TERMINALS = {"NUMBER", "STRING", "DURATION", "MONEY", "PERCENT"}


def _item(label: str, kind: types.CompletionItemKind, detail: str = "", doc: str = "") -> types.CompletionItem:
    return types.CompletionItem(
        label=label,
        kind=kind,
        detail=detail or None,
        documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=doc) if doc else None,
    )


def _fields(symbols: Symbols, owner_parts: list[str], scenario: ast.Scenario | None) -> list[types.CompletionItem]:
    fields = fields_of(symbols, type_of_path(symbols, scenario, owner_parts))
    return [_item(name, Kind.Field, t.name) for name, t in sorted((fields or {}).items())]


def _events(symbols: Symbols, head: str) -> list[types.CompletionItem]:
    prefix = f"{head}." if head else ""
    return [
        _item(name[len(prefix) :], Kind.Event, "event", spec.description)
        for name, spec in sorted(symbols.events.items())
        if name.startswith(prefix)
    ]


def _names(symbols: Symbols, kind: str, channel: str | None = None) -> list[types.CompletionItem]:
    found = symbols.of_kind(kind)
    if channel is not None:
        found = [d for d in found if isinstance(d, ast.TemplateDecl) and d.channel == channel]
    return [_item(d.name.name, Kind.Reference, kind) for d in found]


def _expression(symbols: Symbols, scenario: ast.Scenario | None) -> list[types.CompletionItem]:
    items = [_item(name, Kind.Variable, t.name) for name, t in roots(symbols, scenario).items()]
    items += [_item(f.name, Kind.Function, signature(f), f.description) for f in FUNCTIONS.values()]
    items += [_item(name, Kind.Reference, symbols.kind_of(name) or "") for name in sorted(symbols.decls)]
    return items


def complete_scn(symbols: Symbols, scenario: ast.Scenario | None, text: str, offset: int) -> list[types.CompletionItem]:
    """Completion items at ``offset`` of a .scn file."""
    path = dotted_at(text, offset)
    parts = list(path.parts[:-1])
    before = words_before(text, path.path_start, 3)
    if parts:
        if before and before[-1] in _EVENT_WORDS:
            return _events(symbols, ".".join(parts))
        return _fields(symbols, parts, scenario)
    expected = expected_at(text, path.start)
    items = [
        _item(word, Kind.Keyword, "keyword", KEYWORDS.get(word, "")) for word in expected.keywords if word[0].isalpha()
    ]
    declaring = bool(before) and before[-1] in _DECLARING and tuple(before[-2:]) not in _NAME_CONTEXTS
    if "NAME" not in expected.terminals or declaring:
        return items
    kind = _NAME_CONTEXTS.get(tuple(before[-2:]))
    if kind is not None:
        return items + _names(symbols, kind)
    if len(before) >= 2 and before[-2] == "send" and before[-1] in ast.CHANNELS:
        return items + _names(symbols, "template", before[-1])
    if before[-2:] == ["set", "attribute"]:
        return items + [_item(n, Kind.Property, t.name) for n, t in sorted(symbols.attributes.items())]
    if before and before[-1] in _EVENT_WORDS:
        return items + _events(symbols, "")
    if expected.terminals & _VALUE_TERMINALS:
        return items + _expression(symbols, scenario)
    return items


def complete_template(symbols: Symbols, text: str, offset: int) -> list[types.CompletionItem]:
    """Completion items in a template file: variables, their fields, filters."""
    if not in_template_expression(text, offset):
        return []
    path = dotted_at(text, offset)
    if len(path.parts) == 1 and after_pipe(text, path.start):
        return [_item(name, Kind.Function, "filter", FILTERS.get(name, "")) for name in TEMPLATE_FILTERS]
    variables = {
        **TEMPLATE_ALWAYS,
        **TEMPLATE_WITH_ORDER,
        **TEMPLATE_WITH_COUPON,
        **TEMPLATE_WITH_PRODUCTS,
        **TEMPLATE_WITH_BONUS,
    }
    if len(path.parts) == 1:
        return [_item(name, Kind.Variable, t.name) for name, t in sorted(variables.items())]
    current = variables.get(path.parts[0])
    for part in path.parts[1:-1]:
        fields = fields_of(symbols, current)
        current = fields.get(part) if fields is not None else None
    fields = fields_of(symbols, current)
    return [_item(name, Kind.Field, t.name) for name, t in sorted((fields or {}).items())]
