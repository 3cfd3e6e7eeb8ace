"""The Jinja environment message templates run in: sandboxed, total, and on a budget.

A workspace that `scn check` passes must not fail at send time, whatever the data.
The checker types every template expression (interpreter/checker/_template_types.py);
this module makes every operation it lets through defined for every value of those
types, including unset ones, with the same meaning as in scenario conditions:

- a field of an unset value is unset, and unset prints as nothing;
- arithmetic with an unset value, a division by zero or money of two currencies gives
  unset; a comparison with an unset value is false, even with another unset one (`!=`
  true);
- the filters pass unset through (so `|default` after them still applies) and format
  values by the conventions of the message's language (stdlib/formatting.py);
- a `for` over an unset list runs no times.

Comparisons, `~` and `for` are not sandbox hooks in Jinja, so the parsed template is
rewritten to call the functions below for them (`_Rewrite`); the loops pay into the
render's budget (stdlib/render_context.py). Templates run in Jinja's immutable sandbox
with only the filters, tests and globals listed in stdlib/catalog.py: they can read
what they are given and nothing else.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import types
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2 import Template as JinjaTemplate
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from ..interpreter.values import CurrencyError, DeclRef, Money, divide, multiply
from . import formatting
from .catalog import TEMPLATE_FILTERS, TEMPLATE_GLOBALS, TEMPLATE_TESTS
from .render_context import MAX_TEXT, RENDER_KEY, RenderBudgetError, RenderInfo, as_number, bounded, info_of
from .template_filters import bounded_range, filters, tests

_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": multiply,
    "/": divide,
    "//": operator.floordiv,
    "%": operator.mod,
}


def binary(op: str, left: Any, right: Any) -> Any:
    """`left op right` as templates define it (see the module's docstring)."""
    if left is None or right is None:
        return None
    if op not in _ARITHMETIC or (op == "%" and isinstance(left, str)):
        # `**` could take the engine's memory, `'%s' % x` print Python's insides: the
        # checker refuses both, and the sandbox would not run them either.
        raise SecurityError(f"templates cannot use `{op}` here")
    if op == "*" and isinstance(left, str) != isinstance(right, str):
        text, times = (left, right) if isinstance(left, str) else (right, left)
        count = max(int(times), 0)
        if len(text) * count > MAX_TEXT:
            raise RenderBudgetError(f"the template builds a text longer than {MAX_TEXT} characters")
        return text * count
    left, right = as_number(left), as_number(right)
    if op in ("/", "//", "%") and not isinstance(right, Money) and right == 0:
        return None
    try:
        return bounded(_ARITHMETIC[op](left, right))
    except CurrencyError:
        return None  # money of two currencies has no sum
    except (InvalidOperation, ArithmeticError):
        return None  # beyond what a Decimal holds, or a zero amount of money divided by


def compare(info: RenderInfo, left: Any, op: str, right: Any) -> bool:
    """One comparison of a template (`==`, `<`, `in`...) with unset values defined."""
    if op in ("in", "notin"):
        if left is None or right is None:
            return op == "notin"
        found = left in right
        return found if op == "in" else not found
    left, right = _comparable(left, info), _comparable(right, info)
    if isinstance(left, DeclRef) and isinstance(right, str):
        left = left.name
    elif isinstance(right, DeclRef) and isinstance(left, str):
        right = right.name
    if left is None or right is None:  # as in scenario conditions: `==` false, `!=` true
        return op == "ne"
    if op in ("eq", "ne"):
        same = left == right
        return same if op == "eq" else not same
    try:
        return bool(_ORDERING[op](left, right))
    except CurrencyError:
        return False


_ORDERING: dict[str, Callable[[Any, Any], Any]] = {
    "lt": operator.lt,
    "lteq": operator.le,
    "gt": operator.gt,
    "gteq": operator.ge,
}


def _comparable(value: Any, info: RenderInfo) -> Any:
    """Numbers as Decimal; a date as the first moment of that day in the contact's zone."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time(), info.zone)
    return as_number(value)


@pass_context
def compare_chain(context: Context, first: Any, *rest: Any) -> bool:
    """`a < b < c`: each neighbouring pair compared, as Python and Jinja chain them."""
    info = info_of(context)
    left = first
    for index in range(0, len(rest), 2):
        op, right = rest[index], rest[index + 1]
        if not compare(info, left, op, right):
            return False
        left = right
    return True


@pass_context
def concat(context: Context, *parts: Any) -> str:
    """`a ~ b`: every part shown as it would be printed (unset as nothing)."""
    info = info_of(context)
    texts = [part if isinstance(part, Markup) else formatting.shown(part, info.locale, info.zone) for part in parts]
    joined = Markup("").join(texts) if any(isinstance(t, Markup) for t in texts) else "".join(texts)
    return str(bounded(joined)) if not isinstance(joined, Markup) else bounded(joined)


@pass_context
def iterate(context: Context, iterable: Iterable[Any] | None) -> Iterator[Any]:
    """What a `for` loops over: nothing when unset, each item paid for from the budget."""
    if iterable is None:
        return
    budget = info_of(context).budget
    for item in iterable:
        budget.tick()
        yield item


@pass_context
def finalize(context: Context, value: Any) -> Any:
    """What `{{ value }}` prints: the value in the message's language, unset as nothing."""
    if isinstance(value, str | Undefined):  # text and Markup as they are; Undefined raises on use
        return value
    info = info_of(context)
    return formatting.shown(value, info.locale, info.zone)


def part_of(value: Any, start: Any, stop: Any, step: Any) -> Any:
    """`x[start:stop:step]`: unset for an unset x; numbers from data taken as whole."""
    if value is None:
        return None
    bounds = [None if b is None else int(as_number(b)) for b in (start, stop, step)]
    if bounds[2] == 0:
        return None
    return value[slice(*bounds)]


def _own(name: str) -> str:
    return f"{__name__}.{name}"


class _Rewrite(NodeTransformer):
    """Points comparisons, `~`, `for` and else-less `if` expressions at the functions above."""

    def visit_Compare(self, node: nodes.Compare) -> nodes.Node:
        args: list[nodes.Expr] = [self.visit(node.expr)]
        for operand in node.ops:
            args += [nodes.Const(operand.op), self.visit(operand.expr)]
        return nodes.Call(nodes.ImportedName(_own("compare_chain")), args, [], None, None, lineno=node.lineno)

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        parts = [self.visit(part) for part in node.nodes]
        return nodes.Call(nodes.ImportedName(_own("concat")), parts, [], None, None, lineno=node.lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.ImportedName(_own("iterate")), [node.iter], [], None, None, lineno=node.lineno)
        return node

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:
        self.generic_visit(node)
        if not isinstance(node.arg, nodes.Slice):
            return node  # the sandbox's getitem, defined for unset
        # Jinja slices without asking the environment: `x[1:]` of an unset x would fail.
        bounds = [part if part is not None else nodes.Const(None) for part in (node.arg.start, node.arg.stop,
                                                                                 node.arg.step)]  # fmt: skip
        return nodes.Call(nodes.ImportedName(_own("part_of")), [node.node, *bounds], [], None, None,
                          lineno=node.lineno)  # fmt: skip

    def visit_CondExpr(self, node: nodes.CondExpr) -> nodes.Node:
        self.generic_visit(node)
        if node.expr2 is None:
            node.expr2 = nodes.Const(None, lineno=node.lineno)
        return node


#: Values `getattr` does not return as they are: methods (Jinja's sandbox wraps
#: `str.format`) and Undefined (`TemplateEnvironment.getattr` makes some unset).
_NOT_AS_THEY_ARE = (types.MethodType, types.BuiltinMethodType, Undefined)
#: How many (type, attribute) answers an environment keeps.
_MAX_SAFE_ANSWERS = 4096


class TemplateEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with every operator defined for unset values and bounded in size."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"-", "+"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        info_of(context).budget.check_time()
        return binary(operator, left, right)

    def call_unop(self, context: Context, operator: str, arg: Any) -> Any:
        if arg is None:
            return None
        value = as_number(arg)
        if operator == "-":
            return Money(-value.amount, value.currency) if isinstance(value, Money) else -value
        return value

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        #: Whether an attribute of a type is safe to read: Jinja's answer depends only on
        #: the object's type and the attribute's name, and asking costs a dozen isinstance
        #: checks against abstract classes on every `{{ x.y }}` of every message.
        self._safe: dict[tuple[type, str], bool] = {}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        key = (type(obj), attr)
        safe = self._safe.get(key)
        if safe is None:
            safe = super().is_safe_attribute(obj, attr, value)
            if len(self._safe) < _MAX_SAFE_ANSWERS:  # names from data (`x[name]`) must not grow it forever
                self._safe[key] = safe
        return safe

    def getattr(self, obj: Any, attribute: str) -> Any:
        if obj is None:
            return None  # a field of an unset value is unset
        if self._safe.get((type(obj), attribute)):
            # What Jinja's getattr returns for a safe attribute whose value is neither a
            # method (a method may be `str.format`, which Jinja wraps) nor Undefined (the
            # loop's previtem in its first round, unset below): the value.
            try:
                value = getattr(obj, attribute)
            except AttributeError:
                pass
            else:
                if not isinstance(value, _NOT_AS_THEY_ARE):
                    return value
        found = super().getattr(obj, attribute)
        if isinstance(found, Undefined) and isinstance(obj, LoopContext):
            return None  # loop.previtem in the first round, loop.nextitem in the last
        return found

    def getitem(self, obj: Any, argument: Any) -> Any:
        if obj is None or argument is None:
            return None
        if isinstance(argument, Decimal) and argument == argument.to_integral_value():
            argument = int(argument)
        found = super().getitem(obj, argument)
        if isinstance(found, Undefined) and isinstance(obj, list | tuple | str) and not isinstance(argument, str):
            return None  # past the end of a list: unset
        return found


@functools.cache
def environment(html: bool) -> TemplateEnvironment:
    """The shared environment for HTML (autoescaped) or for text and subjects."""
    env = TemplateEnvironment(
        autoescape=html,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=False,
        finalize=finalize,
    )
    env.filters = filters()
    env.tests = tests()  # type: ignore[assignment]  # Jinja types its tests as plain functions
    env.globals = {"range": bounded_range}
    return env


assert sorted(filters()) == sorted(TEMPLATE_FILTERS), set(filters()) ^ set(TEMPLATE_FILTERS)
assert sorted(tests()) == sorted(TEMPLATE_TESTS), set(tests()) ^ set(TEMPLATE_TESTS)
assert TEMPLATE_GLOBALS == ("range",)


def parse(text: str, html: bool) -> nodes.Template:
    """The template's syntax tree as written (the checker reads this one)."""
    return environment(html).parse(text)


@functools.lru_cache(maxsize=2048)
def compile_template(text: str, html: bool) -> JinjaTemplate:
    """The template as it runs: rewritten (see `_Rewrite`), compiled, cached by its text."""
    env = environment(html)
    tree = _Rewrite().visit(env.parse(text))
    template = env.from_string(tree)
    # Jinja keeps a template's globals as a ChainMap over the environment's, and copies
    # and iterates it for every render. The environment's globals never change once
    # made, so a plain dict of the same names is the same for every render, and cheaper.
    template.globals = dict(template.globals)
    return template


def render_text(template: JinjaTemplate, context: dict[str, Any], info: RenderInfo) -> str:
    """Render one part under ``info``'s budget: its text, or RenderBudgetError."""
    out: list[str] = []
    size = 0
    for piece in template.generate({**context, RENDER_KEY: info}):
        size += len(piece)
        if size > MAX_TEXT:
            raise RenderBudgetError(f"the template renders more than {MAX_TEXT} characters")
        info.budget.check_time()
        out.append(piece)
    return "".join(out)
