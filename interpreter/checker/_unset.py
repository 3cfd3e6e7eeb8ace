"""Unset values: where one would decide a condition or a step without anyone saying so.

A field may be unset (stdlib.catalog: ALWAYS_SET for records, EventSpec.optional for
event fields, every custom attribute). At run time an unset value makes `<`, `<=`, `>`
and `>=` false, arithmetic and function calls unset, and a condition false (see
docs/language.md, "Unset values"). That is one clear rule, but in
`contact.last_activity_at < ago(30d)` it silently leaves out every contact that was
never active. So SCN115 warns where a value that may be unset is

* ordered (`<` `<=` `>` `>=`), directly or through arithmetic or a function;
* compared with `!=` or `not in`, which an unset value makes true (is a contact
  without a favourite course one whose course `!= ""`?);
* compared with `==` or `in` against another value that may be unset (against a
  literal or a field that is always set the meaning is plain: unset equals nothing);
* given to a function that decides a condition (`ordered_since(contact.x)`);
* the value a step needs (`wait`, `up to`, `bands`, `award bonus`, `with products`);

unless the author has said what unset means: the condition tests `PATH is set` or
`PATH is not set` among its `and` / `or` / `not` parts, or an enclosing `if`, an
earlier `stop if` or the bands around it make sure the path is set.
"""

from __future__ import annotations

from ...grammar._format import expr_text
from ...stdlib.catalog import FUNCTIONS, may_be_unset
from .. import ast, codes
from ..diagnostics import DiagnosticSink
from ..types import BOOL, Entity
from ._exprs import Scope
from ._symbols import Symbols

Known = frozenset[str]

_ORDERING = frozenset({"<", "<=", ">", ">="})
_EQUALITY = frozenset({"==", "!=", "in", "not in"})
_ARITHMETIC = frozenset({"+", "-", "*", "/"})
_LOGIC = frozenset({"and", "or"})
#: Roots a `where` about another event rebinds: what is known of them in the steps is
#: not known of the event being filtered.
_EVENT_ROOTS = ("event.", "order.", "item.")


def known_in_event_where(known: Known) -> Known:
    """What stays known inside `wait for … where` (the event and its records are new)."""
    return frozenset(p for p in known if not p.startswith(_EVENT_ROOTS))


def operand_paths(expr: ast.Expr) -> list[ast.Path]:
    """The fields whose value ``expr`` computes from (through arithmetic and functions):
    if any of them is unset, so is ``expr``."""
    found: list[ast.Path] = []
    pending: list[ast.Expr] = [expr]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Path):
            found.append(node)
        elif isinstance(node, ast.Binary) and node.op in _ARITHMETIC:
            pending += (node.right, node.left)
        elif isinstance(node, ast.Unary) and node.op == "-":
            pending.append(node.operand)
        elif isinstance(node, ast.Call):
            pending += reversed([*node.args, *(k.value for k in node.kwargs)])
    return found


def tested(expr: ast.Expr) -> Known:
    """The paths a condition tests with `is set` / `is not set` among its and/or/not parts."""
    found: set[str] = set()
    pending: list[ast.Expr] = [expr]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.IsSet):
            found.add(node.path.dotted)
        elif isinstance(node, ast.Binary) and node.op in _LOGIC:
            pending += (node.left, node.right)
        elif isinstance(node, ast.Unary) and node.op == "not":
            pending.append(node.operand)
    return frozenset(found)


def set_when(expr: ast.Expr, outcome: bool) -> Known:
    """The paths surely set when condition ``expr`` comes out ``outcome``.

    `x is set` true, `x is not set` false; `x < 5` true (an unset value makes it
    false); `a and b` true when both are, false when both say so; and so on.
    """
    if isinstance(expr, ast.IsSet):
        return frozenset({expr.path.dotted}) if outcome != expr.negate else frozenset()
    if isinstance(expr, ast.Unary) and expr.op == "not":
        return set_when(expr.operand, not outcome)
    if isinstance(expr, ast.Binary):
        if expr.op in _LOGIC:
            left, right = set_when(expr.left, outcome), set_when(expr.right, outcome)
            both = (expr.op == "and") == outcome  # `and` true or `or` false: each part did
            return left | right if both else left & right
        # An unset side makes these false (and `!=`, `not in` true).
        if expr.op in _ORDERING or expr.op in ("==", "in"):
            sides_set = outcome
        elif expr.op in ("!=", "not in"):
            sides_set = not outcome
        else:
            return frozenset()
        if not sides_set:
            return frozenset()
        return frozenset(p.dotted for p in operand_paths(expr.left) + operand_paths(expr.right))
    if isinstance(expr, ast.Path | ast.Call) and outcome:  # an unset value is false
        return frozenset(p.dotted for p in operand_paths(expr))
    return frozenset()


class UnsetChecker:
    """Reports SCN115; ``known`` is always the set of paths surely set at that point."""

    def __init__(self, symbols: Symbols, sink: DiagnosticSink) -> None:
        self.symbols = symbols
        self.sink = sink

    # ------------------------------------------------------------ entry points

    def expression(self, expr: ast.Expr, scope: Scope, known: Known) -> None:
        """Every comparison and condition-deciding call inside ``expr``."""
        guarded = known | tested(expr)
        # Each node with the operator it is an operand of ("" at the top), which says
        # whether the suggested rewrite needs parentheses there.
        pending: list[tuple[ast.Expr, str]] = [(expr, "")]
        while pending:
            node, within = pending.pop()
            if isinstance(node, ast.Binary):
                if node.op in _ORDERING or node.op in _EQUALITY:
                    self._comparison(node, scope, guarded, within)
                pending += ((node.right, node.op), (node.left, node.op))
            elif isinstance(node, ast.Unary):
                pending.append((node.operand, node.op))
            elif isinstance(node, ast.Call):
                self._deciding_call(node, scope, guarded, within)
                pending += reversed([(a, "call") for a in (*node.args, *(k.value for k in node.kwargs))])
            elif isinstance(node, ast.ListLit):
                pending += reversed([(item, "list") for item in node.items])

    def value(self, expr: ast.Expr, scope: Scope, known: Known, then: str) -> None:
        """A value a step needs: say so when it may be unset (``then``: what happens)."""
        self.expression(expr, scope, known)
        unset = self._unset(operand_paths(expr), scope, known | tested(expr))
        if unset:
            names = _names(unset)
            self.sink.report(
                codes.MAYBE_UNSET,
                f"{names} may be unset, and then {then}",
                expr.span,
                f"put the step inside `if {_all_set(unset)} … end`, and say in an `else` what happens otherwise",
            )

    # ------------------------------------------------------------ findings

    def _comparison(self, node: ast.Binary, scope: Scope, guarded: Known, within: str) -> None:
        left = self._unset(operand_paths(node.left), scope, guarded)
        right = self._unset(operand_paths(node.right), scope, guarded)
        unset, condition = left + right, expr_text(node)
        if node.op in ("==", "in"):
            if left and right:  # against a value that is always there, unset is plainly not equal
                as_equal = " and ".join(f"{p.dotted} is not set" for p in unset) + f" or {condition}"
                self._report(
                    node,
                    f"{_names(unset)} may both be unset, and two unset values are not equal",
                    f"if two unset values should count as equal: `{_grouped(as_equal, 'or', within)}`",
                    f"if not, say so: `{_grouped(f'{_all_set(unset)} and {condition}', 'and', within)}`",
                )
        elif unset:
            outcome = "true" if node.op in ("!=", "not in") else "false"
            message = f"{_names(unset)} may be unset, and then `{node.op}` is {outcome}"
            self._report(node, message, *_count_or_not(unset, condition, within))

    def _deciding_call(self, call: ast.Call, scope: Scope, guarded: Known, within: str) -> None:
        spec = FUNCTIONS.get(call.func.name)
        if spec is None or spec.returns != BOOL:
            return  # other functions' values count where they are used
        unset = self._unset(operand_paths(call), scope, guarded)
        if unset:
            message = f"{_names(unset)} may be unset, and then `{call.func.name}(…)` is false"
            self._report(call, message, *_count_or_not(unset, expr_text(call), within))

    def _report(self, node: ast.Expr, message: str, *help: str) -> None:
        self.sink.report(codes.MAYBE_UNSET, message, node.span, *help)

    # ------------------------------------------------------------ which fields may be unset

    def _unset(self, paths: list[ast.Path], scope: Scope, guarded: Known) -> list[ast.Path]:
        """The paths among ``paths`` that may be unset here, each once, in order."""
        found: dict[str, ast.Path] = {}
        for path in paths:
            dotted = path.dotted
            if dotted not in guarded and dotted not in found and self.may_be_unset(path, scope):
                found[dotted] = path
        return list(found.values())

    def may_be_unset(self, path: ast.Path, scope: Scope) -> bool:
        """Can ``path`` be unset, by the catalog's table and the event declarations?"""
        head, *fields = path.parts
        record = scope.roots.get(head.name)
        for part in fields:
            if not isinstance(record, Entity):
                return False  # a declaration, or a name already reported as unknown
            table = self.symbols.fields_of(record.kind)
            if table is None or part.name not in table:
                return False
            if self._optional(record.kind, part.name):
                return True
            record = table[part.name]
        return False

    def _optional(self, record: str, field: str) -> bool:
        if record.startswith("event:"):
            events = self.symbols.events
            # Declared events' fields are always there: the intake refuses events without them.
            return any(field in events[n].optional for n in record[len("event:") :].split("|") if n in events)
        return may_be_unset(record, field)


#: The operators whose operands bind tighter than `or` and than `and`.
_TIGHTER_THAN = {"or": frozenset({"and", "not", "call", "list"}), "and": frozenset({"not", "call", "list"})}


def _count_or_not(unset: list[ast.Path], condition: str, within: str) -> tuple[str, str]:
    """The two ways to say what unset means for a condition that is false when unset."""
    return (
        f"if an unset value should count: `{_grouped(f'{_any_unset(unset)} or {condition}', 'or', within)}`",
        f"if it should not: `{_grouped(f'{_all_set(unset)} and {condition}', 'and', within)}`",
    )


def _grouped(text: str, op: str, within: str) -> str:
    """``text`` (a chain of ``op``) as it must be written as an operand of ``within``."""
    return f"({text})" if within in _TIGHTER_THAN[op] or within in _ORDERING or within in _EQUALITY else text


def _names(paths: list[ast.Path]) -> str:
    shown = [f"`{p.dotted}`" for p in paths]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _any_unset(paths: list[ast.Path]) -> str:
    return " or ".join(f"{p.dotted} is not set" for p in paths)


def _all_set(paths: list[ast.Path]) -> str:
    return " and ".join(f"{p.dotted} is set" for p in paths)
