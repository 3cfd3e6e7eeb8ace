"""The workspace's names: declarations, events, attributes and the currency."""

from __future__ import annotations

import msgspec

from ...stdlib.catalog import BUILTIN_EVENTS, ENTITY_FIELDS, ISO_CURRENCIES, EventSpec
from .. import ast, codes
from ..diagnostics import DiagnosticSink, Related
from ..types import DECLARABLE, UNKNOWN, Money, Type
from ..workspace import Workspace

#: Declarations that share one namespace, by the word that declares them.
DECL_KINDS: dict[type, str] = {
    ast.ListDecl: "list",
    ast.SegmentDecl: "segment",
    ast.CouponDecl: "coupon",
    ast.TemplateDecl: "template",
    ast.ProgramDecl: "program",
    ast.GroupDecl: "group",
}
NamedDecl = ast.ListDecl | ast.SegmentDecl | ast.CouponDecl | ast.TemplateDecl | ast.ProgramDecl | ast.GroupDecl


class Symbols(msgspec.Struct):
    decls: dict[str, NamedDecl] = msgspec.field(default_factory=dict)
    #: The .scn file each declaration came from (template paths are relative to it).
    decl_files: dict[str, str] = msgspec.field(default_factory=dict)
    scenarios: dict[str, ast.Scenario] = msgspec.field(default_factory=dict)
    scenario_files: dict[str, str] = msgspec.field(default_factory=dict)
    events: dict[str, EventSpec] = msgspec.field(default_factory=lambda: dict(BUILTIN_EVENTS))
    attributes: dict[str, Type] = msgspec.field(default_factory=dict)
    currency: str | None = None
    #: The workspace's sending policy, when it has one.
    policy: ast.PolicyDecl | None = None
    #: fields_of() answers, filled as the checker asks (the tables above are complete by then).
    field_cache: dict[str, dict[str, Type] | None] = msgspec.field(default_factory=dict)

    def kind_of(self, name: str) -> str | None:
        decl = self.decls.get(name)
        return DECL_KINDS[type(decl)] if decl is not None else None

    def of_kind(self, kind: str) -> list[NamedDecl]:
        return [d for d in self.decls.values() if DECL_KINDS[type(d)] == kind]

    def money(self) -> Money:
        return Money(self.currency)

    def localise(self, t: Type) -> Type:
        """Money of unknown currency in records is in the workspace currency."""
        if isinstance(t, Money) and t.currency is None and self.currency:
            return Money(self.currency)
        return t

    def fields_of(self, record: str) -> dict[str, Type] | None:
        """The fields of a record type; events are records named "event:<name>"."""
        if record not in self.field_cache:
            self.field_cache[record] = self._fields_of(record)
        return self.field_cache[record]

    def _fields_of(self, record: str) -> dict[str, Type] | None:
        if record.startswith("event:"):
            names = record[len("event:") :].split("|")
            specs = [self.events[n] for n in names if n in self.events]
            if not specs:
                return None
            common = dict(specs[0].fields)
            for spec in specs[1:]:
                common = {k: v for k, v in common.items() if spec.fields.get(k) == v}
            return {k: self.localise(v) for k, v in common.items()}
        base = ENTITY_FIELDS.get(record)
        if base is None:
            return None
        fields = {k: self.localise(v) for k, v in base.items()}
        if record == "contact":
            fields.update(self.attributes)
        return fields


def collect_symbols(workspace: Workspace, sink: DiagnosticSink) -> Symbols:
    """Gather every declaration of the workspace, reporting duplicates and bad types."""
    symbols = Symbols()
    first_span: dict[str, ast.Ident] = {}
    currency_decl: ast.CurrencyDecl | None = None
    for source in workspace.files:
        module = source.parsed.module
        if module is None:
            continue
        for item in module.items:
            if isinstance(item, ast.Scenario):
                _declare(symbols.scenarios, item.name, item, sink, "scenario")
                symbols.scenario_files.setdefault(item.name.name, source.path)
            elif isinstance(item, NAMED_DECLS):
                if item.name.name in first_span:
                    previous = first_span[item.name.name]
                    sink.report(
                        codes.DUPLICATE_NAME,
                        f"`{item.name.name}` is already declared",
                        item.name.span,
                        related=(Related(previous.span, "first declared here"),),
                    )
                    continue
                first_span[item.name.name] = item.name
                symbols.decls[item.name.name] = item
                symbols.decl_files[item.name.name] = source.path
            elif isinstance(item, ast.EventDecl):
                _declare_event(symbols, item, sink)
            elif isinstance(item, ast.AttributeDecl):
                _declare_attribute(symbols, item, sink)
            elif isinstance(item, ast.PolicyDecl):
                if symbols.policy is not None:
                    sink.report(codes.DUPLICATE_POLICY, "the workspace already has a policy", item.span.at_start(),
                                related=(Related(symbols.policy.span.at_start(), "the first policy"),))  # fmt: skip
                else:
                    symbols.policy = item
            elif isinstance(item, ast.CurrencyDecl):
                code = item.code.name
                if code not in ISO_CURRENCIES:
                    sink.report(codes.UNKNOWN_CURRENCY, f"unknown currency `{code}`", item.code.span)
                elif currency_decl is not None and currency_decl.code.name != code:
                    sink.report(
                        codes.CURRENCY_MISMATCH,
                        f"the workspace currency is already `{currency_decl.code.name}`",
                        item.span,
                        related=(Related(currency_decl.span, "declared here"),),
                    )
                else:
                    currency_decl = item
                    symbols.currency = code
    return symbols


NAMED_DECLS = (
    ast.ListDecl,
    ast.SegmentDecl,
    ast.CouponDecl,
    ast.TemplateDecl,
    ast.ProgramDecl,
    ast.GroupDecl,
)


def _declare(
    table: dict[str, ast.Scenario], name: ast.Ident, node: ast.Scenario, sink: DiagnosticSink, what: str
) -> None:
    if name.name in table:
        sink.report(
            codes.DUPLICATE_NAME,
            f"{what} `{name.name}` is already declared",
            name.span,
            related=(Related(table[name.name].name.span, "first declared here"),),
        )
        return
    table[name.name] = node


def declared_type(name: ast.Ident, sink: DiagnosticSink) -> Type:
    t = DECLARABLE.get(name.name)
    if t is None:
        sink.report(codes.UNKNOWN_TYPE, f"unknown type `{name.name}`", name.span)
        return UNKNOWN
    return t


def _declare_event(symbols: Symbols, decl: ast.EventDecl, sink: DiagnosticSink) -> None:
    name = decl.name.name
    existing = symbols.events.get(name)
    if existing is not None:
        why = "is a built-in event" if not existing.custom else "is already declared"
        sink.report(codes.DUPLICATE_NAME, f"event `{name}` {why}", decl.name.span)
        return
    fields: dict[str, Type] = {"occurred_at": DECLARABLE["datetime"]}
    for f in decl.fields:
        if f.name.name in fields:
            sink.report(codes.DUPLICATE_NAME, f"field `{f.name.name}` is declared twice", f.name.span)
            continue
        fields[f.name.name] = declared_type(f.type_name, sink)
    symbols.events[name] = EventSpec(name, fields, frozenset(), False, "", custom=True)


def _declare_attribute(symbols: Symbols, decl: ast.AttributeDecl, sink: DiagnosticSink) -> None:
    name = decl.name.name
    if name in ENTITY_FIELDS["contact"]:
        sink.report(codes.ATTRIBUTE_CLASH, f"`contact.{name}` is a built-in field", decl.name.span)
        return
    if name in symbols.attributes:
        sink.report(codes.DUPLICATE_NAME, f"attribute `{name}` is already declared", decl.name.span)
        return
    symbols.attributes[name] = declared_type(decl.type_name, sink)
