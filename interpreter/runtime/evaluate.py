"""Evaluating checked expressions at run time.

The checker has already typed every expression, so evaluation does not re-check types;
it only has to be careful with unset values (None), by the rules of docs/language.md
("Unset values"): `x is set` says whether x has a value; an unset value equals
nothing (so `==` and `in` are false, `!=` and `not in` true) and orders with nothing
(`<` `<=` `>` `>=` are false); arithmetic, negation and functions given an unset value
give an unset value; and wherever a condition is needed (`and`, `or`, `not`, `if`,
`where`, ...) an unset value counts as false. A condition that cannot be evaluated is
false too, and the step log says why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ...grammar._format import expr_text
from ...stdlib.functions import IMPLEMENTATIONS
from .. import ast
from ..environment import Env, EvaluationError, Facts, Function, as_int, as_timedelta
from ..program import Bundle
from ..values import CurrencyError, DeclRef, Money, Percent, divide, multiply
from ..views import OrderView, item_statuses

UTC = dt.UTC


def too_far(expr: ast.Expr) -> str:
    """Why a run fails at a moment or duration that the calendar does not hold."""
    return f"`{expr_text(expr)}` is too far out: it ends beyond the year 9999"


def truthy(value: Any) -> bool:
    return value is True


async def condition(expr: ast.Expr, env: Env) -> bool:
    """A condition's value; one that cannot be evaluated is false (where no run can fail
    for it: a segment, an entry condition)."""
    try:
        return truthy(await evaluate(expr, env))
    except EvaluationError:
        return False


async def decision(expr: ast.Expr, env: Env) -> bool:
    """A run's condition (`if`, `stop if`): EvaluationError when it cannot be evaluated
    (money of two currencies), which fails the run with the reason rather than taking
    a way the data does not say."""
    return truthy(await evaluate(expr, env))


async def deciding_part(expr: ast.Expr, env: Env, value: bool) -> ast.Expr:
    """The smallest part of a condition that made it come out ``value``, to say why a
    run stopped: in `a and b` that was false, the first false operand, and so on."""
    if isinstance(expr, ast.Binary) and expr.op in ("and", "or"):
        # `and` is decided by a false operand, `or` by a true one; otherwise both count.
        decider = expr.op == "or"
        if value == decider:
            for side in (expr.left, expr.right):
                if await condition(side, env) == decider:
                    return await deciding_part(side, env, decider)
    return expr


async def evaluate(expr: ast.Expr, env: Env) -> Any:
    if isinstance(expr, ast.Path):
        return _path(expr, env)
    if isinstance(expr, ast.Binary):
        return await _binary(expr, env)
    if isinstance(expr, ast.IsSet):
        return (_path(expr.path, env) is None) == expr.negate
    if isinstance(expr, ast.Unary):
        operand = await evaluate(expr.operand, env)
        if expr.op == "not":
            return not truthy(operand)
        return None if operand is None else -operand
    if isinstance(expr, ast.Call):
        return await _call(expr, env)
    if isinstance(expr, ast.ListLit):
        return [await evaluate(item, env) for item in expr.items]
    if isinstance(expr, ast.ItemsStatus):
        return _items_status(expr, env)
    return literal(expr)


def _items_status(expr: ast.ItemsStatus, env: Env) -> bool:
    """The statuses of the order's items (views.item_statuses): each of them (`all items
    are`), or one of them (`any item is`), is the status."""
    order = env.roots.get("order")
    if not isinstance(order, OrderView):
        return False
    statuses = item_statuses(order)
    if expr.every:
        return bool(statuses) and all(s == expr.status.value for s in statuses)
    return expr.status.value in statuses


def literal(expr: ast.Expr) -> Any:
    if isinstance(expr, ast.NumberLit):
        return expr.value
    if isinstance(expr, ast.MoneyLit):
        return Money(expr.amount, expr.currency)
    if isinstance(expr, ast.PercentLit):
        return Percent(expr.value)
    if isinstance(expr, ast.DurationLit):
        return expr.timedelta
    if isinstance(expr, ast.StringLit):
        return expr.value
    if isinstance(expr, ast.BoolLit):
        return expr.value
    if isinstance(expr, ast.DateLit):
        return dt.date(expr.year, expr.month, expr.day)
    if isinstance(expr, ast.TimeLit):
        return dt.time(expr.hour, expr.minute)
    raise AssertionError(f"not a literal: {type(expr).__name__}")


def _path(expr: ast.Path, env: Env) -> Any:
    head, *rest = expr.parts
    if head.name in env.roots:
        value = env.roots[head.name]
    else:
        value = _declaration(head.name, env.bundle)
    for part in rest:
        if value is None:
            return None
        value = getattr(value, part.name, None)
    return value


def _declaration(name: str, bundle: Bundle) -> DeclRef:
    for kind, table in (
        ("list", bundle.lists),
        ("segment", bundle.segments),
        ("coupon", bundle.coupons),
        ("template", bundle.templates),
        ("program", bundle.programs),
        ("group", bundle.groups),
    ):
        if name in table:
            return DeclRef(kind, name)
    raise EvaluationError(f"unknown name {name}")


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
}


async def _binary(expr: ast.Binary, env: Env) -> Any:
    op = expr.op
    if op == "and":
        return truthy(await evaluate(expr.left, env)) and truthy(await evaluate(expr.right, env))
    if op == "or":
        return truthy(await evaluate(expr.left, env)) or truthy(await evaluate(expr.right, env))
    left = env.moment_of(await evaluate(expr.left, env))
    right = env.moment_of(await evaluate(expr.right, env))
    try:
        if op == "==":
            return left is not None and right is not None and left == right
        if op == "!=":
            return left is None or right is None or left != right
        if op in ("in", "not in"):
            if right is None or left is None:
                return op == "not in"
            found = left in right
            return found if op == "in" else not found
        if left is None or right is None:
            return False if op in _COMPARE else None
        if op in _COMPARE:
            return _COMPARE[op](left, right)
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return multiply(left, right)
        if op == "/":
            return divide(left, right)
    except CurrencyError as error:
        raise EvaluationError(f"money of two currencies: {error}") from error
    except ZeroDivisionError as error:  # Decimal's DivisionByZero and 0 / 0 are ones too
        raise EvaluationError(f"`{expr_text(expr)}` divides by zero") from error
    except OverflowError as error:  # a moment or duration past what the calendar holds
        raise EvaluationError(too_far(expr)) from error
    except ArithmeticError as error:
        raise EvaluationError(f"`{expr_text(expr)}` cannot be computed") from error
    except TypeError as error:
        raise EvaluationError(str(error)) from error
    raise AssertionError(op)


async def _call(expr: ast.Call, env: Env) -> Any:
    args = []
    for arg in expr.args:
        args.append(await evaluate(arg, env))
    kwargs = {k.name.name: await evaluate(k.value, env) for k in expr.kwargs}
    if any(a is None for a in args) or any(v is None for v in kwargs.values()):
        return None  # `ago(contact.trial)` of an unset trial is unset, as arithmetic is
    return await IMPLEMENTATIONS[expr.func.name](env, args, kwargs)


__all__ = [
    "Env", "EvaluationError", "Facts", "Function", "as_int", "as_timedelta", "condition", "decision", "evaluate",
    "too_far",
]  # fmt: skip
