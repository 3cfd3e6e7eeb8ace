"""Typing templates: every expression a template evaluates gets a type, or a finding.

The runtime (stdlib/templates.py) defines every operation for every value of the
types this module lets through, unset values included; so a template the checker
passes cannot fail at send time. What cannot be typed is refused: macros, includes,
calls, `**`, loops over what is not a list, filters given values they do not take,
comparisons of values that cannot be compared, and printing a record, a list or
true/false. What each filter, test and operator takes is in _template_signatures.py.
"""

from __future__ import annotations

from collections.abc import Callable

from ...stdlib.catalog import ISO_CURRENCIES
from .. import codes
from ..types import BOOL, DURATION, NUMBER, PERCENT, STRING, UNKNOWN, Entity, ListOf, Money, Type, is_unknown
from ._exprs import arithmetic, describe
from ._outline import Node
from ._symbols import Symbols
from ._template_signatures import (
    COMPARE_SYMBOLS,
    EXPRESSION_HINTS,
    EXPRESSIONS,
    FILTERS,
    LOOP,
    LOOP_FIELDS,
    LOOP_ITEM,
    MAX_RANGE,
    MAX_ROUNDS,
    MAX_TEXT,
    METHOD_FILTERS,
    NONE,
    ORDERED,
    PARTLY_SET,
    RANGE,
    STATEMENT_HINTS,
    STATEMENTS,
    TESTS,
    Finding,
    Param,
    Signature,
    comparison_problem,
    integer,
    merge,
    printable,
    whole_between,
    word_of,
    words,
)

#: Argument kinds a template must write as a literal: the checker judges them, and a value
#: read at send time (possibly unset) could fail there.
LITERAL_KINDS = frozenset({"currency", "pattern", "digits", "count", "whole", "text", "attribute", "method"})


class Typer:
    """Types one template for one set of variables and reports what does not fit.

    ``variables`` are the names a template may read, with their types here: at the
    template itself, everything a send could give; at a send, what that send gives
    (its `event`, a `coupon` with or without an order to price).
    """

    def __init__(
        self,
        symbols: Symbols,
        variables: dict[str, Type],
        report: Callable[[Finding], None],
        *,
        coupon_prices: str | None = None,
    ) -> None:
        self.symbols = symbols
        self.variables = variables
        self.report = report
        #: Why `coupon.price_before` / `price_after` cannot be had here (no order), if so.
        self.coupon_prices = coupon_prices
        #: The variables the template reads, each with where it is first read (line, word).
        self.used: dict[str, tuple[int, str]] = {}
        #: How many times the loops around here go round for certain (range() of numbers
        #: written in the template; a loop over data may go round no times), and all so far.
        self.rounds = 1
        self.all_rounds = 0

    # ------------------------------------------------------------ statements

    def template(self, root: Node) -> None:
        self.statements(root.body, {})

    def statements(self, body: tuple[Node, ...], local: dict[str, Type]) -> None:
        for node in body:
            self.statement(node, local)

    def statement(self, node: Node, local: dict[str, Type]) -> None:  # noqa: C901 - one case per statement
        kind = node.kind
        if kind == "Output":
            for expr in node.args:
                t = self.expr(expr, local)
                if not printable(t):
                    self.refuse_print(expr, t)
        elif kind == "If":
            self.branches(node, local)
        elif kind == "For":
            self.loop(node, local)
        elif kind in ("Assign", "AssignBlock"):
            if node.text == "unpack":
                self.not_allowed(node, None, "`{% set %}` of several names at once", "set one name at a time")
                return
            if kind == "Assign":
                local[node.bound[0]] = self.expr(node.args[0], local)
            else:
                self.statements(node.body, dict(local))
                if node.args:
                    self.filter(node.args[0], local, STRING)
                local[node.bound[0]] = STRING
        elif kind == "With":
            inner = dict(local)
            for name, value in zip(node.bound, node.args, strict=False):
                inner[name] = self.expr(value, local)
            self.statements(node.body, inner)
        elif kind == "FilterBlock":
            self.statements(node.body, dict(local))
            self.filter(node.args[0], local, STRING)
        elif kind == "Scope":
            self.statements(node.body, local)
        else:
            self.not_allowed(node, None, STATEMENTS.get(kind, f"`{kind}`"), STATEMENT_HINTS.get(kind))

    def branches(self, node: Node, local: dict[str, Type]) -> None:
        """An `if`: each branch with its own copy of the names; after it, a name set on
        only some of the ways is only partly set."""
        self.expr(node.args[0], local)
        ways: list[dict[str, Type]] = []
        branch = dict(local)
        self.statements(node.body, branch)
        ways.append(branch)
        has_else = False
        for other in node.otherwise:
            branch = dict(local)
            if other.kind == "If":
                self.expr(other.args[0], local)
            else:
                has_else = True
            self.statements(other.body, branch)
            ways.append(branch)
        if not has_else:
            ways.append(dict(local))
        for name in set().union(*ways):
            types = [way.get(name) for way in ways]
            if all(t is not None for t in types):
                merged = types[0]
                assert merged is not None
                for t in types[1:]:
                    assert t is not None
                    merged = merge(merged, t)
                local[name] = merged
            else:
                local[name] = PARTLY_SET

    def loop(self, node: Node, local: dict[str, Type]) -> None:
        if node.text == "recursive":
            self.not_allowed(node, "recursive", "recursive loops", "loop over each list in turn")
            return
        if node.text == "unpack":
            self.not_allowed(node, None, "a loop over several names at once", "loop over one name: {% for p in x %}")
            return
        over = self.expr(node.args[0], local)
        item: Type = UNKNOWN
        if isinstance(over, ListOf):
            item = over.item
        elif not is_unknown(over):
            self.mistyped(
                node.args[0],
                f"a loop goes over a list, not {words(over)}",
                "loop over products, purchased, bestsellers, order.items or contact.tags",
            )
        inner = dict(local)
        inner[node.bound[0]] = item
        inner["loop"] = LOOP
        inner[LOOP_ITEM] = item
        if len(node.args) > 1:
            self.expr(node.args[1], inner)
        outer = self.rounds
        self.rounds = outer * (range_size(node.args[0]) or 0)
        before, self.all_rounds = self.all_rounds, self.all_rounds + self.rounds
        if before <= MAX_ROUNDS < self.all_rounds:
            self.mistyped(
                node.args[0],
                f"the loops go round at least {self.all_rounds} times for one message, more than the {MAX_ROUNDS} "
                "a message may: it would fail at every send",
                "loop over fewer numbers",
            )
        self.statements(node.body, inner)
        self.rounds = outer
        self.statements(node.otherwise, dict(local))

    # ------------------------------------------------------------ expressions

    def expr(self, node: Node, local: dict[str, Type]) -> Type:  # noqa: C901 - one case per expression
        kind = node.kind
        if kind == "Name":
            return self.name(node, local)
        if kind == "Const":
            return {"str": STRING, "number": NUMBER, "bool": BOOL}.get(node.text, NONE)
        if kind == "Getattr":
            owner = self.expr(node.args[0], local)
            if owner == LOOP and node.text in ("previtem", "nextitem"):
                return local.get(LOOP_ITEM, UNKNOWN)
            return self.field(node, owner, node.text)
        if kind == "Getitem":
            return self.item(node, local)
        if kind == "Filter":
            return self.filter(node, local)
        if kind == "Test":
            return self.test(node, local)
        if kind == "Compare":
            self.compare(node, local)
            return BOOL
        if kind == "Binary":
            return self.binary(node, local)
        if kind in ("And", "Or"):
            return merge(self.expr(node.args[0], local), self.expr(node.args[1], local))
        if kind == "Not":
            self.expr(node.args[0], local)
            return BOOL
        if kind in ("Neg", "Pos"):
            t = self.expr(node.args[0], local)
            if is_unknown(t) or isinstance(t, Money) or t in (NUMBER, PERCENT, DURATION):
                return t
            self.mistyped(node, f"cannot put a sign before {words(t)}")
            return UNKNOWN
        if kind == "CondExpr":
            self.expr(node.args[0], local)
            second = self.expr(node.args[2], local) if len(node.args) > 2 else NONE
            return merge(self.expr(node.args[1], local), second)
        if kind == "Concat":
            for part in node.args:
                t = self.expr(part, local)
                if not printable(t):
                    self.refuse_print(part, t)
            return STRING
        if kind == "List":
            item: Type = UNKNOWN
            for element in node.args:
                t = self.expr(element, local)
                item = t if is_unknown(item) else merge(item, t)
            return ListOf(item)
        if kind == "Call":
            return self.call(node, local)
        if kind == "Nothing":  # the text a filter block filters
            return STRING
        self.not_allowed(node, None, EXPRESSIONS.get(kind, f"`{kind}`"), EXPRESSION_HINTS.get(kind))
        return UNKNOWN

    def name(self, node: Node, local: dict[str, Type]) -> Type:
        name = node.text
        if name in local:
            found = local[name]
            if found == PARTLY_SET:
                self.mistyped(
                    node,
                    f"`{name}` is set on only some of the ways to here",
                    f"set `{name}` before the `if`, or in every branch of it",
                )
                return UNKNOWN
            return found
        if name in self.variables:
            self.used.setdefault(name, (node.line, name))
            return self.variables[name]
        if name == "range":
            return RANGE
        from ..suggest import closest_name

        guess = closest_name(name, [*self.variables, *(n for n in local if not n.startswith("\x00"))])
        self.report(
            Finding(
                codes.TEMPLATE_UNKNOWN_VARIABLE,
                node.line,
                name,
                f"templates have no variable `{name}`" + (f": did you mean `{guess}`?" if guess else ""),
                guess=guess,
            )
        )
        return UNKNOWN

    def field(self, node: Node, owner: Type, name: str) -> Type:
        if is_unknown(owner):
            return UNKNOWN
        if owner == LOOP:
            if name in LOOP_FIELDS:
                return LOOP_FIELDS[name]
            self.mistyped(node, f"`loop` has no field `{name}`", "loop fields: " + ", ".join(sorted(LOOP_FIELDS)))
            return UNKNOWN
        if isinstance(owner, Entity):
            fields = self.symbols.fields_of(owner.kind)
            if fields is None:
                return UNKNOWN
            if name not in fields:
                from ..suggest import closest_name

                guess = closest_name(name, fields)
                shown = owner.kind.split(":")[0]
                self.report(
                    Finding(
                        codes.TEMPLATE_UNKNOWN_VARIABLE,
                        node.line,
                        name,
                        f"{shown} has no field `{name}`" + (f": did you mean `{guess}`?" if guess else ""),
                        f"fields of {shown}: " + ", ".join(sorted(fields)),
                        guess=guess,
                    )
                )
                return UNKNOWN
            if name.startswith("_"):
                self.not_allowed(
                    node,
                    name,
                    f"a field whose name starts with `_` (`{name}`)",
                    "templates read no such fields: rename the attribute",
                )
                return UNKNOWN
            if owner.kind == "coupon" and name in ("price_before", "price_after") and self.coupon_prices:
                self.mistyped(
                    node,
                    f"`coupon.{name}` needs an order to price, but {self.coupon_prices}",
                    "show coupon.discount instead, or send this template from a scenario whose triggers carry an order",
                )
                return UNKNOWN
            return fields[name]
        hint = None
        if name in METHOD_FILTERS:
            hint = f"use a filter: {{{{ value|{METHOD_FILTERS[name]} }}}}"
        elif isinstance(owner, ListOf):
            hint = "loop over the list, or take one item: |first"
        self.mistyped(node, f"{words(owner)} has no field `{name}`", hint)
        return UNKNOWN

    def item(self, node: Node, local: dict[str, Type]) -> Type:
        owner = self.expr(node.args[0], local)
        key_node = node.args[1]
        if key_node.kind == "Slice":
            for part in key_node.args:
                self.expect_number_or_none(part, local)
            if isinstance(owner, ListOf) or owner == STRING or is_unknown(owner):
                return owner
        elif isinstance(owner, Entity) and key_node.kind == "Const" and key_node.text == "str":
            return self.field(node, owner, key_node.value)
        else:
            key = self.expr(key_node, local)
            if isinstance(owner, ListOf) and key in (NUMBER, UNKNOWN):
                return owner.item
            if owner == STRING and key in (NUMBER, UNKNOWN):
                return STRING
            if is_unknown(owner):
                return UNKNOWN
        self.mistyped(
            node,
            f"cannot take a part of {words(owner)} this way",
            "take items of a list by number: products[0], or fields by name: contact.first_name",
        )
        return UNKNOWN

    def expect_number_or_none(self, node: Node, local: dict[str, Type]) -> None:
        t = self.expr(node, local)
        if t not in (NUMBER, NONE) and not is_unknown(t):
            self.mistyped(node, f"a position is a number, not {words(t)}")

    # ------------------------------------------------------------ filters, tests, calls

    def filter(self, node: Node, local: dict[str, Type], given: Type | None = None) -> Type:
        value = given if given is not None else self.expr(node.args[0], local)
        signature = FILTERS.get(node.text)
        if signature is None:  # Jinja refused it at compile time already
            return UNKNOWN
        if node.text == "safe" and node.args[0].kind != "Const":
            self.not_allowed(
                node,
                "safe",
                "`|safe` on a value that is not written in the template",
                "data (names, products) is escaped so that it cannot write HTML into the mail",
            )
        return self.apply(node, signature, value, local, "filter")

    def test(self, node: Node, local: dict[str, Type]) -> Type:
        value = self.expr(node.args[0], local)
        signature = TESTS.get(node.text)
        if signature is None:
            return BOOL
        return self.apply(node, signature, value, local, "test")

    def apply(self, node: Node, signature: Signature, value: Type, local: dict[str, Type], what: str) -> Type:
        if node.spread:
            self.not_allowed(node, node.text, f"`*` or `**` arguments to a {what}", "write each argument")
            return UNKNOWN
        if not is_unknown(value) and not signature.takes(value):
            self.mistyped(node, f"the {what} `{node.text}` takes {signature.takes_text}, not {words(value)}")
            return UNKNOWN
        given = node.args[1:]
        positional = len(given) - len(node.keywords)
        if positional > len(signature.params):
            self.mistyped(node, f"the {what} `{node.text}` takes at most {len(signature.params)} argument(s)")
        by_name: dict[str, Node] = {}
        for param, arg in zip(signature.params, given[:positional], strict=False):
            by_name[param.name] = arg
        names = {p.name for p in signature.params}
        for keyword, arg in zip(node.keywords, given[positional:], strict=True):
            if keyword not in names or keyword in by_name:
                self.mistyped(
                    node,
                    f"the {what} `{node.text}` has no argument `{keyword}` here",
                    "its arguments: " + (", ".join(p.name for p in signature.params) or "none"),
                )
                continue
            by_name[keyword] = arg
        for param in signature.params:
            found = by_name.get(param.name)
            if found is None:
                if param.required:
                    self.mistyped(node, f"the {what} `{node.text}` needs `{param.name}`")
                continue
            self.argument(node, param, found, value, local)
        if node.text == "truncate":
            self.truncate_fits(node, by_name)
        result = signature.gives(value)
        if node.text in ("default", "d") and "default_value" in by_name:
            result = merge(value, self.expr(by_name["default_value"], local))
        return result

    def argument(self, node: Node, param: Param, arg: Node, value: Type, local: dict[str, Type]) -> None:
        """Check one argument; literal-only kinds must be written in the template."""
        literal = arg.value if arg.kind == "Const" else None
        if arg.kind == "Neg" and arg.args[0].kind == "Const" and arg.args[0].text == "number":
            literal = "-" + arg.args[0].value  # a negative number written in the template
        where = f"`{param.name}` of `{node.text}`"
        kind = param.kind
        if kind in LITERAL_KINDS and literal is None:
            self.not_allowed(arg, None, f"{where} that is not written in the template", "write the value itself")
            return
        if kind == "currency" and literal not in ISO_CURRENCIES:
            self.mistyped(arg, f"{where}: `{literal}` is not a currency code", 'write an ISO code such as "UAH"')
        elif kind == "pattern" and literal is not None:
            self.pattern(arg, where, literal, node.text)
        elif kind in ("digits", "count", "whole") and literal is not None:
            low, high = {"digits": (0, 10), "count": (1, MAX_RANGE), "whole": (0, MAX_TEXT)}[kind]
            if not whole_between(literal, low, high):
                self.mistyped(arg, f"{where} is a whole number from {low} to {high}, not `{literal}`")
        elif kind == "text" and arg.text != "str":
            self.mistyped(arg, f"{where} is text in quotes, not `{literal}`")
        elif kind == "method" and literal not in ("common", "ceil", "floor"):
            self.mistyped(arg, f'{where} is "common", "ceil" or "floor"')
        elif kind == "attribute" and literal is not None:
            self.attribute(arg, where, literal, value, node.text)
        elif kind in ("number", "string", "bool"):
            expected = {"number": NUMBER, "string": STRING, "bool": BOOL}[kind]
            t = self.expr(arg, local)
            if t != expected and not is_unknown(t):
                self.mistyped(arg, f"{where} is {describe(expected)}, not {words(t)}")
        else:
            self.expr(arg, local)

    def truncate_fits(self, node: Node, by_name: dict[str, Node]) -> None:
        """`truncate` cannot cut text shorter than the end it adds (Jinja refuses at send time)."""
        length, end = by_name.get("length"), by_name.get("end")
        limit = integer(length.value) if length is not None and length.kind == "Const" else 255
        ending = end.value if end is not None and end.kind == "Const" and end.text == "str" else "..."
        if limit is not None and limit < len(ending):
            self.mistyped(
                length or node,
                f"`truncate({limit})` is shorter than the {len(ending)} character(s) of its end `{ending}`",
                f"give a length of at least {len(ending)}, or a shorter end: truncate({limit}, end='…')",
            )

    def pattern(self, arg: Node, where: str, literal: str, shows: str) -> None:
        from ...stdlib.formatting import check_pattern

        problem = check_pattern(literal, shows)
        if problem is not None:
            self.mistyped(
                arg, f"{where}: {problem}", 'write short, medium, long or full, or a CLDR pattern such as "d MMMM y"'
            )

    def attribute(self, arg: Node, where: str, field: str, value: Type, name: str) -> None:
        item = value.item if isinstance(value, ListOf) else UNKNOWN
        if not isinstance(item, Entity):
            if not is_unknown(item):
                self.mistyped(arg, f"{where}: the items are {words(item)}, which have no fields")
            return
        fields = self.symbols.fields_of(item.kind) or {}
        t = fields.get(field)
        if t is None:
            self.mistyped(
                arg,
                f"{where}: {item.kind} has no field `{field}`",
                f"fields of {item.kind}: " + ", ".join(sorted(fields)),
            )
        elif name == "join" and not printable(t):
            self.refuse_print(arg, t)
        elif name == "sort" and not (isinstance(t, Money) or t in ORDERED):
            self.mistyped(arg, f"{where}: {words(t)} cannot be put in order")

    def call(self, node: Node, local: dict[str, Type]) -> Type:
        callee = node.args[0]
        args = node.args[1:]
        if callee.kind == "Name" and callee.text == "range" and callee.text not in local:
            values = [a.value for a in args if a.kind == "Const" and a.text == "number"]
            if node.keywords or node.spread or len(values) != len(args) or not 1 <= len(args) <= 3:
                self.not_allowed(
                    node,
                    "range",
                    "range() of numbers not written in the template",
                    "write range(5), range(1, 6) or range(0, 10, 2)",
                )
                return ListOf(NUMBER)
            bounds = [integer(v) for v in values]
            if None in bounds or (len(bounds) == 3 and bounds[2] == 0):
                self.mistyped(node, "range() takes whole numbers, and a step that is not 0")
            elif len(range(*[b for b in bounds if b is not None])) > MAX_RANGE:
                self.mistyped(node, f"range() of more than {MAX_RANGE} numbers")
            return ListOf(NUMBER)
        if (
            callee.kind == "Getattr"
            and callee.text in ("cycle", "changed")
            and self.expr(callee.args[0], local) == LOOP
        ):
            kinds = [self.expr(a, local) for a in args]
            if callee.text == "changed":
                return BOOL
            if not args:
                self.mistyped(node, "loop.cycle() needs values to take turns", 'write loop.cycle("odd", "even")')
                return UNKNOWN
            result: Type = UNKNOWN
            for t in kinds:
                result = t if is_unknown(result) else merge(result, t)
            return result
        for arg in args:
            self.expr(arg, local)
        word = callee.text or None
        hint = (
            "use a filter: {{ value|upper }}"
            if word not in METHOD_FILTERS
            else (
                f"use a filter: {{{{ value|{METHOD_FILTERS[word]} }}}}"
                if word != "format"
                else "write the pieces one after another: {{ a }} {{ b }}, or join them with `~`"
            )
        )
        self.not_allowed(node, word, "a call of a function or method", hint)
        return UNKNOWN

    # ------------------------------------------------------------ operators

    def compare(self, node: Node, local: dict[str, Type]) -> None:
        types = [self.expr(arg, local) for arg in node.args]
        for op, left, right in zip(node.keywords, types, types[1:], strict=False):
            if is_unknown(left) or is_unknown(right):
                continue
            symbol = COMPARE_SYMBOLS.get(op, op)
            problem = comparison_problem(op, left, right)
            if problem is not None:
                self.mistyped(
                    node,
                    f"cannot compare with `{symbol}`: {problem}",
                    "compare with none using `is none` / `is not none`" if NONE in (left, right) else None,
                )

    def binary(self, node: Node, local: dict[str, Type]) -> Type:
        op = node.text
        left, right = self.expr(node.args[0], local), self.expr(node.args[1], local)
        if op == "**":
            self.not_allowed(node, "**", "`**`", "multiply instead")
            return UNKNOWN
        if is_unknown(left) or is_unknown(right):
            return UNKNOWN
        if op == "*" and STRING in (left, right) and NUMBER in (left, right):
            return STRING
        result = (
            arithmetic(op, left, right) if op in ("+", "-", "*", "/") else (NUMBER if left == right == NUMBER else None)
        )
        if result is None:
            self.mistyped(node, f"cannot use `{op}` on {words(left)} and {words(right)}")
            return UNKNOWN
        return result

    # ------------------------------------------------------------ reporting

    def refuse_print(self, node: Node, t: Type) -> None:
        if t == BOOL:
            self.mistyped(node, "this prints true or false", "print words for each: {{ 'yes' if x else 'no' }}")
        elif isinstance(t, ListOf):
            self.mistyped(node, f"this prints {words(t)}", "loop over it, or use |join or |length")
        else:
            self.mistyped(node, f"this prints {words(t)}", "print one of its fields")

    def mistyped(self, node: Node, message: str, hint: str | None = None) -> None:
        self.report(Finding(codes.TEMPLATE_TYPE, node.line, word_of(node), message, hint))

    def not_allowed(self, node: Node, word: str | None, what: str, hint: str | None = None) -> None:
        self.report(
            Finding(codes.TEMPLATE_NOT_ALLOWED, node.line, word or word_of(node), f"templates cannot use {what}", hint)
        )


def range_size(node: Node) -> int | None:
    """How many numbers `range(...)` of numbers written in the template gives (None for
    anything else, whose length is known only at send time)."""
    callee = node.args[0] if node.kind == "Call" and node.args else None
    if callee is None or callee.kind != "Name" or callee.text != "range" or node.keywords or node.spread:
        return None
    bounds = [integer(a.value) if a.kind == "Const" and a.text == "number" else None for a in node.args[1:]]
    if not 1 <= len(bounds) <= 3 or None in bounds or (len(bounds) == 3 and bounds[2] == 0):
        return None
    return len(range(*[b for b in bounds if b is not None]))
