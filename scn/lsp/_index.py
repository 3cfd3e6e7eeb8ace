"""Where each declared name is declared and used, read from the checked workspace's trees.

Lists, segments, coupons, templates, programs and groups share one namespace (the
checker's DECL_KINDS); events, attributes and scenarios have their own; a step label
is known only inside its scenario. Go to definition, find references and rename all
read the occurrences found here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from ..interpreter import ast
from ..interpreter.checker import CheckResult, Symbols
from ..interpreter.types import Entity, ListOf, Type

#: Fields of nodes that name a declaration of the shared namespace.
_DECL_REFS: dict[type, tuple[str, ...]] = {
    ast.CouponForList: ("list",),
    ast.AddToList: ("list",),
    ast.RemoveFromList: ("list",),
    ast.Send: ("template",),
    ast.WithCoupon: ("coupon",),
    ast.IssueCoupon: ("coupon",),
    ast.SetGroup: ("group",),
    ast.GroupDecl: ("program",),
}
_DECLARATIONS = (ast.ListDecl, ast.SegmentDecl, ast.CouponDecl, ast.TemplateDecl, ast.ProgramDecl, ast.GroupDecl)


class Occurrence(msgspec.Struct, frozen=True):
    """A declared name where it is written: ``namespace`` is "decl", "event",
    "attribute", "scenario" or "label:<scenario>"."""

    namespace: str
    name: str
    file: str
    start: int
    end: int
    declaration: bool


def _walk(node: Any) -> Iterator[ast.Node]:
    """Every node of a tree, parents before children (by a stack: trees can be deep)."""
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, ast.Node):
            yield item
            pending.extend(reversed([getattr(item, f) for f in item.__struct_fields__]))
        elif isinstance(item, tuple):
            pending.extend(reversed(item))


def _occurrence(namespace: str, ident: ast.Ident | ast.EventRef, declaration: bool) -> Occurrence:
    return Occurrence(namespace, ident.name, ident.span.file, ident.span.start, ident.span.end, declaration)


def occurrences(module: ast.Module, symbols: Symbols) -> list[Occurrence]:
    """The declared names written in one file."""
    found: list[Occurrence] = []
    for item in module.items:
        label_space = f"label:{item.name.name}" if isinstance(item, ast.Scenario) else ""
        for node in _walk(item):
            found.extend(_of_node(node, symbols, label_space))
    return found


def _of_node(node: ast.Node, symbols: Symbols, label_space: str) -> Iterator[Occurrence]:
    if isinstance(node, _DECLARATIONS):
        yield _occurrence("decl", node.name, True)
    for field in _DECL_REFS.get(type(node), ()):
        ident = getattr(node, field)
        if ident is not None:
            yield _occurrence("decl", ident, False)
    if isinstance(node, ast.Path):
        head = node.parts[0]
        if len(node.parts) == 1 and head.name in symbols.decls:
            yield _occurrence("decl", head, False)
        elif len(node.parts) > 1 and head.name == "contact" and node.parts[1].name in symbols.attributes:
            yield _occurrence("attribute", node.parts[1], False)
    elif isinstance(node, ast.EventDecl):
        yield _occurrence("event", node.name, True)
    elif isinstance(node, ast.Trigger | ast.ExitGoal | ast.WaitFor):
        yield _occurrence("event", node.event, False)
    elif isinstance(node, ast.AttributeDecl):
        yield _occurrence("attribute", node.name, True)
    elif isinstance(node, ast.SetAttribute):
        yield _occurrence("attribute", node.name, False)
    elif isinstance(node, ast.Scenario) and not node.anonymous:
        yield _occurrence("scenario", node.name, True)
    if isinstance(node, ast.StepNode) and node.label is not None and label_space:
        yield _occurrence(label_space, node.label, True)


class Index:
    """The occurrences of every file of a checked workspace."""

    def __init__(self, checked: CheckResult) -> None:
        self.checked = checked
        self.by_file: dict[str, list[Occurrence]] = {}
        for source in checked.workspace.files:
            if source.parsed.module is not None:
                self.by_file[source.path] = occurrences(source.parsed.module, checked.symbols)

    def at(self, file: str, offset: int) -> Occurrence | None:
        """The occurrence under an offset (its end counts: the cursor after a word)."""
        for occurrence in self.by_file.get(file, ()):
            if occurrence.start <= offset <= occurrence.end:
                return occurrence
        return None

    def all_of(self, namespace: str, name: str) -> list[Occurrence]:
        return [
            o
            for occurrences in self.by_file.values()
            for o in occurrences
            if o.namespace == namespace and o.name == name
        ]

    def declaration(self, namespace: str, name: str) -> Occurrence | None:
        return next((o for o in self.all_of(namespace, name) if o.declaration), None)

    def scenario_at(self, file: str, offset: int) -> ast.Scenario | None:
        for source in self.checked.workspace.files:
            if source.path == file and source.parsed.module is not None:
                for item in source.parsed.module.items:
                    if isinstance(item, ast.Scenario) and item.span.start <= offset <= item.span.end:
                        return item
        return None


def roots(symbols: Symbols, scenario: ast.Scenario | None) -> dict[str, Type]:
    """The records a path may start from in a scenario (all of them: completion offers
    what the checker will then say is unavailable where it is)."""
    found: dict[str, Type] = {
        "contact": Entity("contact"),
        "order": Entity("order"),
        "item": Entity("item"),
        "run": Entity("run"),
    }
    triggers = [h.event.name for h in scenario.headers if isinstance(h, ast.Trigger)] if scenario else []
    known = [name for name in triggers if name in symbols.events]
    if known:
        found["event"] = found["trigger"] = Entity("event:" + "|".join(known))
    return found


def type_of_path(symbols: Symbols, scenario: ast.Scenario | None, parts: list[str]) -> Type | None:
    """The type of a dotted path such as ``contact.orders.count``, None where unknown."""
    if not parts:
        return None
    current: Type | None = roots(symbols, scenario).get(parts[0])
    for part in parts[1:]:
        fields = fields_of(symbols, current)
        current = fields.get(part) if fields is not None else None
    return current


def fields_of(symbols: Symbols, owner: Type | None) -> dict[str, Type] | None:
    if isinstance(owner, Entity):
        return symbols.fields_of(owner.kind)
    if isinstance(owner, ListOf):
        return None
    return None
