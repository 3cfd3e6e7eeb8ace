"""Whether a message's required part prints anything.

The runtime does not send a message whose subject, body or text prints nothing: it fails
with the reason (interpreter/runtime/sending.py), since a provider refuses an empty text
and a contact gets nothing from one. So the check says it first, from the template's
outline: a part that can print nothing but blanks is SCN206 (an error: every message of
it would fail), and a part that prints something only inside `{% if %}` or `{% for %}`,
or only from values that may be unset, is SCN219 (a warning: the messages of some
contacts fail). The rules lean towards silence where they cannot tell: a name bound in
the template, a field of `event`, a filter's result on a value that is set.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from ...stdlib.catalog import may_be_unset
from ..types import Entity, Type
from ._outline import Node
from ._template_types import range_size

#: Blocks that print their body once, as it is (or through a filter of the whole).
_PASSING = frozenset({"Scope", "With", "FilterBlock"})
#: Filters whose result is empty for an empty list, or unset: `first`, `last`, `join`.
_MAYBE_EMPTY_FILTERS = frozenset({"first", "last", "join", "batch", "sort", "unique", "reverse"})
#: Filters that print a number, whatever they are given.
_COUNTING_FILTERS = frozenset({"length", "count", "wordcount"})


class Printing(enum.Enum):
    NOTHING = "nothing"  # never anything but blanks
    SOMETIMES = "sometimes"  # something only under conditions, or from values that may be unset
    ALWAYS = "always"


class BlankCheck:
    """How surely a template prints something, given the types of its variables."""

    def __init__(self, variables: dict[str, Type], fields_of: Callable[[str], dict[str, Type] | None]) -> None:
        self.variables = variables
        self.fields_of = fields_of

    def printing(self, root: Node) -> Printing:
        if self.surely(root.body, frozenset()):
            return Printing.ALWAYS
        return Printing.SOMETIMES if self.possibly(root.body) else Printing.NOTHING

    # ------------------------------------------------------------ statements

    def surely(self, body: tuple[Node, ...], known: frozenset[str]) -> bool:
        """Whether ``body`` surely prints something; ``known``: the fields surely set here."""
        return any(self._surely_statement(node, known) for node in body)

    def _surely_statement(self, node: Node, known: frozenset[str]) -> bool:
        if node.kind == "Output":
            return node.text == "text" or any(self.set_value(arg, known) for arg in node.args)
        if node.kind in _PASSING:
            return self.surely(node.body, known)
        if node.kind == "If":  # every way through prints, and one of them is an `else`
            branches = [(node.body, known | _set_when_true(node.args[0]))]
            for other in node.otherwise:
                tested = _set_when_true(other.args[0]) if other.kind == "If" and other.args else frozenset()
                branches.append((other.body, known | tested))
            has_else = any(o.kind == "Else" for o in node.otherwise)
            return has_else and all(self.surely(body, facts) for body, facts in branches)
        if node.kind == "For":  # a loop may go round no times (then its `else` prints), but not over range(3)
            if not self.surely(node.body, known):
                return False
            rounds = range_size(node.args[0]) if len(node.args) == 1 else None
            return bool(rounds) or (bool(node.otherwise) and self.surely(node.otherwise, known))
        return False

    def possibly(self, body: tuple[Node, ...]) -> bool:
        for node in body:
            if node.kind == "Output" and (node.text == "text" or any(not _blank_constant(a) for a in node.args)):
                return True
            if node.kind in _PASSING | {"For"} and (self.possibly(node.body) or self.possibly(node.otherwise)):
                return True
            if node.kind == "If" and (self.possibly(node.body) or any(self.possibly(o.body) for o in node.otherwise)):
                return True
        return False

    # ------------------------------------------------------------ values

    def set_value(self, node: Node, known: frozenset[str]) -> bool:  # noqa: C901 - one case per kind of expression
        """Whether ``node`` surely prints something that is not blank."""
        kind = node.kind
        if kind == "Const":
            return node.text == "number" or (node.text == "str" and bool(node.value.strip()))
        if kind == "Name":
            return True  # the template's variables are always there; names it binds are not followed
        if kind == "Getattr":
            return _dotted(node) in known or not self._may_be_unset(node)
        if kind == "Filter":
            value, *args = node.args
            if node.text in ("default", "d"):
                return self.set_value(value, known) or (bool(args) and self.set_value(args[0], known))
            if node.text in _COUNTING_FILTERS:
                return True
            return node.text not in _MAYBE_EMPTY_FILTERS and self.set_value(value, known)
        if kind == "Or":  # the left side when it is truthy, else the right one
            return self.set_value(node.args[1], known) or self.set_value(node.args[0], known)
        if kind == "CondExpr":
            return len(node.args) == 3 and self.set_value(node.args[1], known) and self.set_value(node.args[2], known)
        if kind == "Concat":
            return any(self.set_value(a, known) for a in node.args)
        if kind in ("Binary", "Neg", "Pos"):
            return all(self.set_value(a, known) for a in node.args)
        return False

    def _may_be_unset(self, node: Node) -> bool:
        """A field path (`contact.orders.count`): may any of its fields be unset?"""
        root, fields = _field_path(node)
        if root not in self.variables:
            return False  # a name the template binds, or an expression: not followed
        owner = self.variables[root]
        for field in fields:
            if not isinstance(owner, Entity):
                return False  # `event`, whose fields depend on the triggers; or reported already
            if may_be_unset(owner.kind, field):
                return True
            table = self.fields_of(owner.kind)
            if table is None or field not in table:
                return False
            owner = table[field]
        return False


def _blank_constant(node: Node) -> bool:
    return node.kind == "Const" and (node.text == "none" or (node.text == "str" and not node.value.strip()))


def _field_path(node: Node) -> tuple[str | None, list[str]]:
    """`contact.orders.count`: its root name and its fields in order (the root is None when
    the path starts from an expression, not a name)."""
    fields: list[str] = []
    while node.kind == "Getattr":
        fields.append(node.text)
        node = node.args[0]
    return (node.text if node.kind == "Name" else None), fields[::-1]


def _dotted(node: Node) -> str | None:
    """`contact.first_name` for a field path; None for anything else."""
    root, fields = _field_path(node)
    return ".".join([root, *fields]) if root is not None and fields else None


def _set_when_true(test: Node) -> frozenset[str]:
    """The fields an `{% if %}` test makes sure are set when it is true: the field itself
    (an unset value is false), the parts of an `and`, and comparisons (false with an unset
    value, but for `!=`)."""
    if test.kind == "And":
        return _set_when_true(test.args[0]) | _set_when_true(test.args[1])
    if test.kind == "Compare" and not {"ne", "notin"} & set(test.keywords):
        return frozenset(d for d in map(_dotted, test.args) if d is not None)
    dotted = _dotted(test)
    return frozenset({dotted}) if dotted is not None else frozenset()
