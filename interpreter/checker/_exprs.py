"""Typing expressions: names, fields, operators and function calls."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

from ...grammar._format import expr_text
from ...stdlib.catalog import FUNCTIONS, ISO_CURRENCIES, FunctionSpec, bind
from .. import ast, codes
from ..diagnostics import DiagnosticSink
from ..span import Span
from ..suggest import closest_name, suggested
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
    Ref,
    Type,
    assignable,
    is_moment,
    is_unknown,
    same_currency,
)
from ._symbols import Symbols


class Scope(msgspec.Struct, frozen=True):
    """The names an expression may start from, and the ones it may not here (and why)."""

    roots: dict[str, Type]
    missing: dict[str, str] = msgspec.field(default_factory=dict)


_ORDERED = (NUMBER, PERCENT, DURATION, DATE, DATETIME, TIME)
_HINTS = {
    frozenset({"number", "money"}): "write money with its currency: `100 UAH`",
    frozenset({"number", "percent"}): "write percentages with `%`: `90%`",
    frozenset({"number", "duration"}): "write durations with a unit: `30m`, `24h`, `14d`",
}


def type_hint(a: Type, b: Type) -> str:
    """Advice for the usual mix-ups (a number where money, a percentage or a time is meant)."""
    kinds = frozenset({"money" if isinstance(t, Money) else t.name for t in (a, b)})
    return _HINTS.get(kinds, "")


_WORDS = {
    "number": "a number",
    "percent": "a percentage",
    "duration": "a duration",
    "string": "a string",
    "bool": "true or false",
    "date": "a date",
    "datetime": "a moment (date and time)",
    "time": "a time of day",
    "unknown": "something unknown",
}


def describe(t: Type) -> str:
    """A type as words in a sentence: "a number", "money in UAH", "a list of product"."""
    if isinstance(t, Money):
        return f"money in {t.currency}" if t.currency else "money"
    if isinstance(t, ListOf):
        return f"a list of {t.item.name}"
    if isinstance(t, Entity):
        kind = t.kind.split(":")[0]
        return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
    return _WORDS.get(t.name, f"a {t.name}")


class ExprChecker:
    def __init__(self, symbols: Symbols, sink: DiagnosticSink) -> None:
        self.symbols = symbols
        self.sink = sink

    # ------------------------------------------------------------ entry points

    def condition(self, expr: ast.Expr, scope: Scope) -> None:
        """A condition must be a bool."""
        t = self.infer(expr, scope)
        if not is_unknown(t) and t != BOOL:
            self.sink.report(
                codes.NOT_A_CONDITION,
                f"this is {describe(t)}, not a condition",
                expr.span,
                "compare it with something: `==`, `>`, `in`...",
            )

    def expect(self, expr: ast.Expr, scope: Scope, expected: Type, what: str) -> Type:
        """Type ``expr`` and report when it cannot be used as ``expected``."""
        t = self.infer(expr, scope)
        if not assignable(t, expected):
            self.report_mismatch(f"{what} must be {describe(expected)}, not {describe(t)}", expr.span, t, expected)
        return t

    def report_mismatch(self, message: str, span: Span, a: Type, b: Type) -> None:
        if isinstance(a, Money) and isinstance(b, Money) and not same_currency(a, b):
            self.sink.report(codes.CURRENCY_MISMATCH, message, span)
        elif isinstance(a, Ref) and isinstance(b, Ref):
            self.sink.report(codes.WRONG_KIND, message, span)
        else:
            self.sink.report(codes.TYPE_MISMATCH, message, span, type_hint(a, b))

    # ------------------------------------------------------------ inference

    def infer(self, expr: ast.Expr, scope: Scope) -> Type:
        if isinstance(expr, ast.Path):
            return self._path(expr, scope)
        if isinstance(expr, ast.Binary):
            return self._binary(expr, scope)
        if isinstance(expr, ast.Unary):
            return self._unary(expr, scope)
        if isinstance(expr, ast.Call):
            return self._call(expr, scope)
        if isinstance(expr, ast.ListLit):
            return self._list(expr, scope)
        if isinstance(expr, ast.IsSet):
            self._path(expr.path, scope)
            return BOOL
        if isinstance(expr, ast.ItemsStatus):
            self._items_status(expr, scope)
            return BOOL
        return self.literal(expr)

    def _items_status(self, expr: ast.ItemsStatus, scope: Scope) -> None:
        """`all items are X` reads the items of the order in scope: there must be one."""
        if isinstance(scope.roots.get("order"), Entity):
            return
        why = scope.missing.get("order", "nothing here carries an order")
        words = "all items are" if expr.every else "any item is"
        self.sink.report(
            codes.UNAVAILABLE_NAME,
            f"`{words} {expr.status.value}` reads the items of an order, and there is none here: {why}",
            expr.span,
            "use it where the event carries an order: `on order.status_changed where all items are delivered`",
        )

    def literal(self, expr: ast.Expr) -> Type:
        if isinstance(expr, ast.NumberLit):
            return NUMBER
        if isinstance(expr, ast.MoneyLit):
            if expr.currency not in ISO_CURRENCIES:
                self.sink.report(codes.UNKNOWN_CURRENCY, f"unknown currency `{expr.currency}`", expr.span)
                return UNKNOWN
            return Money(expr.currency)
        if isinstance(expr, ast.PercentLit):
            return PERCENT
        if isinstance(expr, ast.DurationLit):
            return DURATION
        if isinstance(expr, ast.StringLit):
            return STRING
        if isinstance(expr, ast.BoolLit):
            return BOOL
        if isinstance(expr, ast.DateLit):
            check_date(expr, self.sink)
            return DATE
        if isinstance(expr, ast.TimeLit):
            check_time(expr, self.sink)
            return TIME
        raise AssertionError(f"not an expression: {type(expr).__name__}")

    def _path(self, expr: ast.Path, scope: Scope) -> Type:
        head, *rest = expr.parts
        t = self._root(head, scope, bool(rest))
        for part in rest:
            if is_unknown(t):
                return UNKNOWN
            t = self._field(t, part)
        return t

    def _root(self, head: ast.Ident, scope: Scope, has_fields: bool) -> Type:
        name = head.name
        if name in scope.roots:
            return scope.roots[name]
        if name in scope.missing:
            self.sink.report(
                codes.UNAVAILABLE_NAME, f"`{name}` is not available here: {scope.missing[name]}", head.span
            )
            return UNKNOWN
        kind = self.symbols.kind_of(name)
        if kind is not None:
            if has_fields:
                self.sink.report(codes.UNKNOWN_FIELD, f"{kind} `{name}` has no fields", head.span)
                return UNKNOWN
            return Ref(kind)
        candidates = [*scope.roots, *scope.missing, *self.symbols.decls]
        guess = closest_name(name, candidates)
        self.sink.report(
            codes.UNKNOWN_NAME,
            f"unknown name `{name}`" + (f": did you mean `{guess}`?" if guess else ""),
            head.span,
            "names here: " + ", ".join(sorted(scope.roots)),
            fix=suggested(head.span, guess),
        )
        return UNKNOWN

    def _field(self, t: Type, part: ast.Ident) -> Type:
        if isinstance(t, ListOf):
            self.sink.report(
                codes.UNKNOWN_FIELD,
                f"{describe(t)} has no field `{part.name}`",
                part.span,
                "use `in`, or len(...) for its size",
            )
            return UNKNOWN
        fields = self.symbols.fields_of(t.kind) if isinstance(t, Entity) else None
        if fields is None or not isinstance(t, Entity):
            self.sink.report(codes.UNKNOWN_FIELD, f"{describe(t)} has no fields", part.span)
            return UNKNOWN
        if part.name not in fields:
            guess = closest_name(part.name, fields)
            shown = t.kind.split(":")[0]
            self.sink.report(
                codes.UNKNOWN_FIELD,
                f"{shown} has no field `{part.name}`" + (f": did you mean `{guess}`?" if guess else ""),
                part.span,
                f"fields of {shown}: " + ", ".join(sorted(fields)),
                fix=suggested(part.span, guess),
            )
            return UNKNOWN
        return fields[part.name]

    def _unary(self, expr: ast.Unary, scope: Scope) -> Type:
        if expr.op == "not":
            self.condition(expr.operand, scope)
            return BOOL
        t = self.infer(expr.operand, scope)
        if is_unknown(t) or isinstance(t, Money) or t in (NUMBER, PERCENT, DURATION):
            return t
        self.sink.report(codes.TYPE_MISMATCH, f"cannot negate {describe(t)}", expr.span)
        return UNKNOWN

    def _binary(self, expr: ast.Binary, scope: Scope) -> Type:
        if expr.op in ("and", "or"):
            self.condition(expr.left, scope)
            self.condition(expr.right, scope)
            return BOOL
        left = self.infer(expr.left, scope)
        right = self.infer(expr.right, scope)
        if is_unknown(left) or is_unknown(right):
            return BOOL if expr.op in _COMPARISONS else UNKNOWN
        if expr.op in ("in", "not in"):
            return self._membership(expr, left, right)
        if expr.op in _COMPARISONS:
            self._comparison(expr, left, right)
            return BOOL
        result = arithmetic(expr.op, left, right)
        if result is None:
            self.report_mismatch(
                f"cannot use `{expr.op}` on {describe(left)} and {describe(right)}", expr.span, left, right
            )
            return UNKNOWN
        return result

    def _comparison(self, expr: ast.Binary, left: Type, right: Type) -> None:
        if isinstance(left, Money) and isinstance(right, Money):
            if not same_currency(left, right):
                self.sink.report(
                    codes.CURRENCY_MISMATCH,
                    f"cannot compare {describe(left)} with {describe(right)}",
                    expr.span,
                )
            return
        comparable = left == right or (is_moment(left) and is_moment(right))
        if not comparable:
            if isinstance(left, Ref) and right == STRING or isinstance(right, Ref) and left == STRING:
                ref = left if isinstance(left, Ref) else right
                self.sink.report(
                    codes.TYPE_MISMATCH,
                    f"cannot compare a {ref.name} with a string",
                    expr.span,
                    f"name the {ref.name} without quotes: contact.group == vip",
                )
                return
            self.report_mismatch(f"cannot compare {describe(left)} with {describe(right)}", expr.span, left, right)
            return
        if expr.op not in ("==", "!=") and not (left in _ORDERED or is_moment(left)):
            self.sink.report(
                codes.TYPE_MISMATCH,
                f"`{expr.op}` needs numbers, money, percentages, durations, dates or times, not {describe(left)}",
                expr.span,
            )

    def _membership(self, expr: ast.Binary, left: Type, right: Type) -> Type:
        if right == STRING and left == STRING:
            return BOOL
        if isinstance(right, ListOf):
            if not assignable(left, right.item):
                self.report_mismatch(f"{describe(left)} cannot be in {describe(right)}", expr.span, left, right.item)
            return BOOL
        self.sink.report(
            codes.TYPE_MISMATCH,
            f"`{expr.op}` needs a list or a string on its right, not {describe(right)}",
            expr.right.span,
            'write a list: order.offer in ["course-a", "course-b"]',
        )
        return BOOL

    def _list(self, expr: ast.ListLit, scope: Scope) -> Type:
        item: Type = UNKNOWN
        for element in expr.items:
            t = self.infer(element, scope)
            if is_unknown(item):
                item = t
            elif not assignable(t, item):
                self.report_mismatch(
                    f"a list holds one kind of value: {describe(t)} among {item.name} values",
                    element.span,
                    t,
                    item,
                )
        return ListOf(item)

    def _call(self, expr: ast.Call, scope: Scope) -> Type:
        spec = FUNCTIONS.get(expr.func.name)
        if spec is None:
            guess = closest_name(expr.func.name, FUNCTIONS)
            self.sink.report(
                codes.UNKNOWN_FUNCTION,
                f"unknown function `{expr.func.name}`" + (f": did you mean `{guess}`?" if guess else ""),
                expr.func.span,
                fix=suggested(expr.func.span, guess),
            )
            for arg in (*expr.args, *(k.value for k in expr.kwargs)):
                self.infer(arg, scope)
            return UNKNOWN
        self._arguments(spec, expr, scope)
        return spec.returns

    def _arguments(self, spec: FunctionSpec, expr: ast.Call, scope: Scope) -> None:
        given: dict[str, ast.Expr] = {}
        if len(expr.args) > len(spec.params):
            self.sink.report(
                codes.BAD_ARGUMENTS,
                f"`{spec.name}` takes at most {len(spec.params)} argument(s), got {len(expr.args)}",
                expr.args[len(spec.params)].span,
                signature(spec),
            )
        kinds = [t.kind if isinstance(t := self.infer(arg, scope), Entity) else None for arg in expr.args]
        for param, arg in zip(bind(spec, kinds), expr.args, strict=True):
            if param is not None:
                given[param.name] = arg
        names = {p.name for p in spec.params}
        for kwarg in expr.kwargs:
            if kwarg.name.name not in names:
                self.sink.report(
                    codes.BAD_ARGUMENTS,
                    f"`{spec.name}` has no parameter `{kwarg.name.name}`",
                    kwarg.name.span,
                    signature(spec),
                )
                self.infer(kwarg.value, scope)
            elif kwarg.name.name in given:
                self.sink.report(
                    codes.BAD_ARGUMENTS,
                    f"`{kwarg.name.name}` is given twice",
                    kwarg.name.span,
                    signature(spec),
                )
            else:
                given[kwarg.name.name] = kwarg.value
        for param in spec.params:
            value = given.get(param.name)
            if value is None:
                if param.required:
                    self.sink.report(
                        codes.BAD_ARGUMENTS,
                        f"`{spec.name}` needs `{param.name}`",
                        expr.span,
                        signature(spec),
                    )
                continue
            self.expect(value, scope, param.type, f"`{param.name}` of {spec.name}()")
            if param.name == "limit":
                check_limit(value, spec, self.sink)


_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})


def signature(spec: FunctionSpec) -> str:
    params = ", ".join(p.name if p.required else f"{p.name}=..." for p in spec.params)
    return f"{spec.name}({params}) gives {describe(spec.returns)}: {spec.description}"


def arithmetic(op: str, a: Type, b: Type) -> Type | None:
    """The type of ``a op b`` for + - * /, or None when the operation makes no sense."""
    if isinstance(a, Money) and isinstance(b, Money):
        if not same_currency(a, b):
            return None
        return a if op in ("+", "-") else NUMBER if op == "/" else None
    if op in ("+", "-"):
        if a == b and a in (NUMBER, PERCENT, DURATION):
            return a
        if a == STRING and b == STRING and op == "+":
            return STRING
        if is_moment(a) and b == DURATION or op == "+" and a == DURATION and is_moment(b):
            return DATETIME
        if op == "-" and is_moment(a) and is_moment(b):
            return DURATION
        return None
    if op == "*":
        for x, y in ((a, b), (b, a)):
            if isinstance(x, Money) and y in (NUMBER, PERCENT):
                return x
            if x == DURATION and y == NUMBER:
                return DURATION
            if x == PERCENT and y == NUMBER:
                return PERCENT
        if a == NUMBER and b == NUMBER:
            return NUMBER
        return None
    if op == "/":
        if isinstance(a, Money) and b == NUMBER:
            return a
        if a == DURATION and b == NUMBER:
            return DURATION
        if a == b and a in (NUMBER, DURATION):
            return NUMBER
        return None
    return None


def check_date(expr: ast.DateLit, sink: DiagnosticSink) -> None:
    try:
        dt.date(expr.year, expr.month, expr.day)
    except ValueError:
        sink.report(codes.BAD_DATE, f"{expr.year:04d}-{expr.month:02d}-{expr.day:02d} is not a date", expr.span)


def check_time(expr: ast.TimeLit, sink: DiagnosticSink) -> None:
    if not (0 <= expr.hour <= 23 and 0 <= expr.minute <= 59):
        sink.report(codes.TIME_OUT_OF_RANGE, f"{expr.hour:02d}:{expr.minute:02d} is not a time of day", expr.span)


def check_positive(duration: ast.DurationLit, sink: DiagnosticSink, what: str) -> None:
    if duration.milliseconds <= 0:
        sink.report(codes.BAD_DURATION, f"{what} must be longer than zero", duration.span)


def _written_amount(expr: ast.Expr) -> tuple[Decimal, ast.Expr] | None:
    """The amount of a number or money written as a literal (`-3`, `0 UAH`), with its literal."""
    sign, inner = (-1, expr.operand) if isinstance(expr, ast.Unary) and expr.op == "-" else (1, expr)
    if isinstance(inner, ast.NumberLit):
        return sign * inner.value, inner
    if isinstance(inner, ast.MoneyLit):
        return sign * inner.amount, inner
    return None


def check_limit(limit: ast.Expr, spec: FunctionSpec, sink: DiagnosticSink) -> None:
    """A recommendation's `limit` written below 1 (`limit=0`) finds nothing, so every send
    with it would be skipped."""
    written = _written_amount(limit)
    if written is not None and (written[0] < 1 or written[0] != written[0].to_integral_value()):
        sink.report(
            codes.BAD_COUNT,
            f"`limit` of {spec.name}() is `{expr_text(limit)}`: it is a whole number of 1 or more",
            limit.span,
            f"a limit below 1 recommends nothing, so the send is always skipped: {spec.name}(limit=4)",
        )


def check_bonus_amount(amount: ast.Expr, sink: DiagnosticSink) -> None:
    """`award bonus 0 UAH` or `-5 UAH` would award nothing at every run."""
    written = _written_amount(amount)
    if written is not None and written[0] <= 0:
        sink.report(
            codes.BAD_AMOUNT,
            f"a bonus of `{expr_text(amount)}` awards nothing: it must be above zero",
            amount.span,
            "a bonus is credited, never taken back; give an amount above zero, such as 50 UAH",
        )


def check_count(count: ast.NumberLit, sink: DiagnosticSink) -> None:
    if count.value < 1 or count.value != count.value.to_integral_value():
        sink.report(codes.BAD_COUNT, f"`{count.value}` is not a whole number of 1 or more", count.span)
