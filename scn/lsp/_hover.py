"""Hover: what the word under the cursor is, with its type and its docs."""

from __future__ import annotations

from ..interpreter import ast
from ..interpreter.checker import CheckResult
from ..interpreter.types import Type
from ..stdlib.catalog import (
    FUNCTIONS,
    TEMPLATE_ALWAYS,
    TEMPLATE_FILTERS,
    TEMPLATE_WITH_BONUS,
    TEMPLATE_WITH_COUPON,
    TEMPLATE_WITH_ORDER,
    TEMPLATE_WITH_PRODUCTS,
    FunctionSpec,
)
from ._docs import FILTERS, KEYWORDS
from ._index import Index, Occurrence, fields_of, type_of_path
from ._words import after_pipe, dotted_at, in_template_expression

#: Declarations shown in a hover are cut after this many lines.
SHOWN_LINES = 6


def signature(spec: FunctionSpec) -> str:
    params = ", ".join(p.name + ("" if p.required else " = …") + f": {p.type.name}" for p in spec.params)
    return f"{spec.name}({params}) -> {spec.returns.name}"


def _code(text: str) -> str:
    return f"```scn\n{text}\n```"


def _where(index: Index, occurrence: Occurrence) -> str:
    checked = index.checked
    source = next((f for f in checked.workspace.files if f.path == occurrence.file), None)
    line = source.text.count("\n", 0, occurrence.start) + 1 if source else 0
    return f"declared in `{occurrence.file}`, line {line}"


def _declaration_text(checked: CheckResult, namespace: str, name: str) -> str | None:
    node: ast.Node | None = None
    if namespace == "decl":
        node = checked.symbols.decls.get(name)
    elif namespace == "scenario":
        node = checked.symbols.scenarios.get(name)
    if node is None:
        return None
    source = next((f for f in checked.workspace.files if f.path == node.span.file), None)
    if source is None:
        return None
    lines = source.text[node.span.start : node.span.end].split("\n")
    return "\n".join(lines[:SHOWN_LINES] + (["  …"] if len(lines) > SHOWN_LINES else []))


def _occurrence_hover(index: Index, occurrence: Occurrence) -> str:
    symbols = index.checked.symbols
    declared = index.declaration(occurrence.namespace, occurrence.name)
    where = f"\n\n{_where(index, declared)}" if declared else ""
    if occurrence.namespace in ("decl", "scenario"):
        kind = symbols.kind_of(occurrence.name) or occurrence.namespace
        text = _declaration_text(index.checked, occurrence.namespace, occurrence.name)
        return f"**{kind}** `{occurrence.name}`" + (f"\n\n{_code(text)}" if text else "") + where
    if occurrence.namespace == "event":
        spec = symbols.events.get(occurrence.name)
        if spec is None:
            return f"unknown event `{occurrence.name}`"
        fields = "\n".join(f"- `event.{k}`: {v.name}" for k, v in spec.fields.items())
        about = spec.description or "a custom event"
        return f"**event** `{spec.name}`: {about}\n\n{fields}" + where
    if occurrence.namespace == "attribute":
        attribute = symbols.attributes.get(occurrence.name)
        shown = attribute.name if attribute is not None else "unknown"
        return f"**attribute** `contact.{occurrence.name}`: {shown}" + where
    return f"**step label** `@{occurrence.name}`: a stable name for this step in reports"


def _field_hover(parts: tuple[str, ...], owner: Type | None, found: Type | None) -> str | None:
    if found is None:
        return None
    if len(parts) == 1:
        return f"**{parts[0]}**: {found.name}"
    return f"**field** `{'.'.join(parts)}`: {found.name}" + (f" (of {owner.name})" if owner is not None else "")


def hover_scn(index: Index, file: str, text: str, offset: int) -> str | None:
    """Markdown about the word at ``offset`` of a .scn file, or None."""
    occurrence = index.at(file, offset)
    if occurrence is not None:
        return _occurrence_hover(index, occurrence)
    path = dotted_at(text, offset)
    word = path.parts[-1]
    if not word:
        return None
    if text[path.end : path.end + 1] == "(" and len(path.parts) == 1 and word in FUNCTIONS:
        spec = FUNCTIONS[word]
        return f"{_code(signature(spec))}\n\n{spec.description}"
    symbols = index.checked.symbols
    scenario = index.scenario_at(file, offset)
    found = type_of_path(symbols, scenario, list(path.parts))
    if found is not None and (len(path.parts) > 1 or word in ("contact", "order", "item", "run", "event")):
        owner = type_of_path(symbols, scenario, list(path.parts[:-1])) if len(path.parts) > 1 else None
        return _field_hover(path.parts, owner, found)
    if len(path.parts) == 1 and word in KEYWORDS:
        return f"**{word}**: {KEYWORDS[word]}"
    return None


def hover_template(checked: CheckResult, text: str, offset: int) -> str | None:
    """Markdown about a variable, a field or a filter in a template file."""
    if not in_template_expression(text, offset):
        return None
    path = dotted_at(text, offset)
    word = path.parts[-1]
    if not word:
        return None
    if len(path.parts) == 1 and after_pipe(text, path.start) and word in TEMPLATE_FILTERS:
        return f"**filter** `{word}`: {FILTERS.get(word, '')}"
    current: Type | None = TEMPLATE_ALWAYS.get(path.parts[0]) or _template_root(path.parts[0])
    owner = None
    for part in path.parts[1:]:
        owner = current
        fields = fields_of(checked.symbols, current)
        current = fields.get(part) if fields is not None else None
    return _field_hover(path.parts, owner, current)


def _template_root(name: str) -> Type | None:
    for table in (TEMPLATE_WITH_ORDER, TEMPLATE_WITH_COUPON, TEMPLATE_WITH_PRODUCTS, TEMPLATE_WITH_BONUS):
        if name in table:
            return table[name]
    return None
