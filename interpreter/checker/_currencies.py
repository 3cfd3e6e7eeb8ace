"""Money whose currency only the data knows, against money in a written currency.

Without a workspace `currency`, money fields of records are in the record's own currency:
an order's total in the order's, a contact's lifetime spend in that of the contact's first
paid order, an event's amount in the one it came with. A run's step that orders such an
amount against money of a written currency (`if order.total > 100 PLN`, `bands`), or adds,
subtracts or divides the two, fails the run for a record in another currency
(docs/runtime.md). So SCN116 warns there, unless the currency is made sure of first:
`order.currency == "PLN"` in the trigger's `where` (of every trigger), an enclosing `if`,
or an earlier `stop if order.currency != "PLN"` / `stop unless order.currency == "PLN"`
makes the order's money (and its items') PLN. Conditions that are merely false for such a
record (a trigger's `where`, a segment, an entry rule) do not fail anything and are not
warned about.
"""

from __future__ import annotations

from ...grammar._format import expr_text
from .. import ast, codes
from ..diagnostics import DiagnosticSink
from ..types import Entity, Money, Type
from ._exprs import Scope
from ._symbols import Symbols
from ._unset import Known

_ORDERING = frozenset({"<", "<=", ">", ">="})
_ADDING = frozenset({"+", "-", "/"})
#: Records whose money is in their order's currency, which `order.currency` names.
_ORDER_RECORDS = frozenset({"order", "item"})
_ORDER, _CONTACT, _EVENT = "(the order's)", "(the contact's)", "(the event's)"
#: Whose currency money is in when only the data knows it: how to say it, and of what.
_RECORDS = {
    _ORDER: ("the order's own currency", "an order"),
    _CONTACT: ("the currency of the contact's first paid order", "a contact"),
    _EVENT: ("the currency the event came with", "an event"),
}


def currency_fact(record: str, code: str) -> str:
    """How "this record's money is in ``code``" is kept among the facts of a path (the
    `Known` set, beside the fields surely set: `==` makes it no field path)."""
    return f"{record}.currency=={code}"


def currency_facts(expr: ast.Expr, outcome: bool) -> Known:
    """The currencies condition ``expr`` makes sure of when it comes out ``outcome``:
    `order.currency == "PLN"` true (or `!=` false), and the parts of an `and` that is true
    (an `or` that is false)."""
    if isinstance(expr, ast.Unary) and expr.op == "not":
        return currency_facts(expr.operand, not outcome)
    if not isinstance(expr, ast.Binary):
        return frozenset()
    if expr.op in ("and", "or"):
        if (expr.op == "and") != outcome:
            return frozenset()  # either part may have decided it
        return currency_facts(expr.left, outcome) | currency_facts(expr.right, outcome)
    if (expr.op == "==" and outcome) or (expr.op == "!=" and not outcome):
        for field, value in ((expr.left, expr.right), (expr.right, expr.left)):
            if isinstance(field, ast.Path) and field.dotted == "order.currency" and isinstance(value, ast.StringLit):
                return frozenset({currency_fact("order", value.value)})
    return frozenset()


class CurrencyChecker:
    """Reports SCN116 in a workspace without `currency`; ``known`` holds the facts of the path."""

    def __init__(self, symbols: Symbols, sink: DiagnosticSink) -> None:
        self.symbols = symbols
        self.sink = sink

    def expression(self, expr: ast.Expr, scope: Scope, known: Known) -> None:
        """Every ordering, sum, difference and quotient of money inside a step's ``expr``
        (the right side of `a and b` knows what `a` made sure of)."""
        if self.symbols.currency is not None:
            return  # all money is in the workspace currency: the door sees to it
        if isinstance(expr, ast.Binary):
            if expr.op in _ORDERING or expr.op in _ADDING:
                self._pair(expr, expr.left, expr.right, scope, known)
            self.expression(expr.left, scope, known)
            after = currency_facts(expr.left, expr.op == "and") if expr.op in ("and", "or") else frozenset()
            self.expression(expr.right, scope, known | after)
        elif isinstance(expr, ast.Unary):
            self.expression(expr.operand, scope, known)
        elif isinstance(expr, ast.Call):
            if expr.func.name == "tier_percent" and expr.args:
                program = self.symbols.decls.get(expr.args[0].dotted) if isinstance(expr.args[0], ast.Path) else None
                tiers = program.tiers if isinstance(program, ast.ProgramDecl) and program.tiers else ()
                self.sink.report(
                    codes.MONEY_OF_ANY_CURRENCY,
                    "`tier_percent()` goes by the contact's lifetime spend, in the currency of their first paid order "
                    "(the workspace declares no `currency`): the run fails for a contact whose spend is in another "
                    "currency than the program's tiers",
                    expr.span,
                    *_fixes(_CONTACT, tiers[0].bound.currency if tiers else "UAH"),
                )
            for arg in (*expr.args, *(k.value for k in expr.kwargs)):
                self.expression(arg, scope, known)
        elif isinstance(expr, ast.ListLit):
            for item in expr.items:
                self.expression(item, scope, known)

    def bands(self, step: ast.Bands, scope: Scope, known: Known) -> None:
        """`bands` of money against bounds in a written currency."""
        if self.symbols.currency is not None:
            return
        bound = next((b for band in step.bands for b in (band.low, band.high) if isinstance(b, ast.MoneyLit)), None)
        if bound is not None:
            self._pair(step.subject, step.subject, bound, scope, known)

    def award(self, step: ast.AwardBonus, tiers: set[str], known: Known) -> None:
        """`award bonus` by the tiers of the contact's group's program (in ``tiers``' currencies):
        an order or a contact's spend in another currency fails the run."""
        if self.symbols.currency is not None:
            return
        made_sure = {f.removeprefix("order.currency==") for f in known if f.startswith("order.currency==")}
        for code in sorted(tiers - made_sure):
            self.sink.report(
                codes.MONEY_OF_ANY_CURRENCY,
                f"`award bonus` goes by the tiers of the contact's group's program, in {code} (the workspace "
                f"declares no `currency`): the run fails for an order, or a contact's spend, in another currency",
                step.span,
                *_fixes(_ORDER, code),
            )

    # ------------------------------------------------------------ findings

    def _pair(self, where: ast.Node, left: ast.Expr, right: ast.Expr, scope: Scope, known: Known) -> None:
        a, b = self._currency(left, scope, known), self._currency(right, scope, known)
        if a is None or b is None or a == b:
            return
        data = a if a in _RECORDS else b if b in _RECORDS else None
        if data is None:
            return  # two written currencies: SCN106 says so
        other, source = (b, left) if data == a else (a, right)
        op = where.op if isinstance(where, ast.Binary) else "<"
        verb = {"+": "combined with", "-": "combined with", "/": "divided by"}.get(op, "compared here with")
        against = _RECORDS[other][0] if other in _RECORDS else other
        whose, which = _RECORDS[data]
        self.sink.report(
            codes.MONEY_OF_ANY_CURRENCY,
            f"`{expr_text(source)}` is in {whose} (the workspace declares no `currency`) and is {verb} "
            f"{against}: the run fails for {which} in another currency",
            where.span,
            *_fixes(data, other),
        )

    def _currency(self, expr: ast.Expr, scope: Scope, known: Known) -> str | None:
        """A money value's currency: its code when written or made sure of, whose it is
        (a key of _RECORDS) when only the data knows it; None when it is not money (or
        cannot be told)."""
        if isinstance(expr, ast.MoneyLit):
            return expr.currency
        if isinstance(expr, ast.Unary) and expr.op == "-":
            return self._currency(expr.operand, scope, known)
        if isinstance(expr, ast.Binary) and expr.op in ("+", "-", "*", "/"):
            a, b = self._currency(expr.left, scope, known), self._currency(expr.right, scope, known)
            if expr.op in ("*", "/"):
                return None if a is not None and b is not None else a or b  # money / money is a number
            return a or b
        if isinstance(expr, ast.Path):
            return self._path_currency(expr, scope, known)
        return None

    def _path_currency(self, path: ast.Path, scope: Scope, known: Known) -> str | None:
        head, *fields = path.parts
        owner: Type | None = scope.roots.get(head.name)
        record = head.name
        for part in fields:
            if not isinstance(owner, Entity):
                return None
            table = self.symbols.fields_of(owner.kind)
            if table is None or part.name not in table:
                return None
            record, owner = owner.kind, table[part.name]
        if not isinstance(owner, Money):
            return None
        if owner.currency is not None:
            return owner.currency
        if record in _ORDER_RECORDS:
            for fact in known:
                if fact.startswith("order.currency=="):
                    return fact.removeprefix("order.currency==")
            return _ORDER
        if record in ("contact", "orders"):
            return _CONTACT
        return _EVENT if record.startswith("event") else None


def _fixes(record: str, other: str) -> tuple[str, ...]:
    code = other if other not in _RECORDS else "UAH"
    declare = f"declare the workspace currency (`currency {code}`): money in another is then refused when it comes in"
    if record == _ORDER:
        return (declare, f'or make sure of the order\'s first: `stop unless order.currency == "{code}"`')
    return (declare,)
