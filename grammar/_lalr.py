"""A small LALR(1) runtime over the tables Lark builds.

Lark analyses the grammar (strict: any conflict fails the build); _tables.py keeps the
result as plain data. Running it with our own loop is about twice as fast as Lark's
(whose inner loop asserts on every reduction), needs no Lark at run time, and gives the
error recovery in _driver.py a plain state to work with: a stack of states and a
stack of values, that can be copied and tried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._tables import RuleShape, TableData
from ._token import Tok

#: A reduction: how many values it pops, the nonterminal it makes, how it builds it
#: (None: the rule passes its only child through, so only the state changes).
Reduction = tuple[int, str, Callable[[list[Any]], Any] | None]


class Tables:
    """The tables in the shape the loop runs, with a builder function per rule.

    ``actions[state][terminal]`` is a state to shift to (>= 0) or a reduction
    (``-1 - index`` into ``reductions``); ``gotos[state][nonterminal]`` is the state
    after a reduction. Each reduction calls the method of ``builder`` named after its
    rule (or the rule's alias) with the rule's children.
    """

    def __init__(self, data: TableData, builder: Any) -> None:
        self.start_state = data.start_state
        self.end_state = data.end_state
        self.actions = data.actions
        self.gotos = data.gotos
        self.literals = data.literals
        self.reductions: list[Reduction] = [(r.size, r.origin, _callback(r, builder)) for r in data.rules]


def _callback(rule: RuleShape, builder: Any) -> Callable[[list[Any]], Any] | None:
    """The function that makes a rule's value from its children (None: pass the child on).

    Mirrors Lark's tree builder with keep_all_tokens and maybe_placeholders: children of
    `_rules` (Lark's helpers for repetitions) are spliced into their parent, a `None`
    stands where an `[optional]` part is missing, and a `?rule` with one child gives that
    child. Repetitions are plain lists here rather than throwaway trees.
    """
    name, expand1, gaps, splice = rule.name, rule.expand1, rule.gaps, rule.splice
    if expand1 and rule.size == 1:
        return None
    make: Callable[[list[Any]], Any] = (
        list if name.startswith("_") else getattr(builder, name, None) or _binary(builder, name)
    )
    if not any(gaps) and not any(splice):
        if not expand1:
            return make
        return lambda children: children[0] if len(children) == 1 else make(children)
    plan = list(zip(gaps, splice, strict=False))
    trailing = gaps[rule.size]
    # `items: items item` grows the list it already has instead of copying it each time.
    grows = bool(plan) and plan[0] == (0, True)
    rest = plan[1:] if grows else plan

    def reduce(children: list[Any]) -> Any:
        out: list[Any] = children[0] if grows else []
        for (nones, spliced), child in zip(rest, children[1:] if grows else children, strict=True):
            if nones:
                out.extend([None] * nones)
            if spliced:
                out.extend(child)
            else:
                out.append(child)
        if trailing:
            out.extend([None] * trailing)
        if expand1 and len(out) == 1:
            return out[0]
        # A growing repetition is its own list already: copying it each time it grows
        # made a file of n declarations take time in n squared.
        return out if grows and make is list else make(out)

    return reduce


def _binary(builder: Any, name: str) -> Callable[[list[Any]], Any]:
    """Operators (`eq`, `add`, ...) share one builder method."""
    return lambda children: builder.binary(name, children)


class ParseError(Exception):
    """The token cannot come next; ``expected`` names the terminals that could."""

    def __init__(self, token: Tok, expected: set[str]) -> None:
        super().__init__(f"unexpected {token.type}")
        self.token = token
        self.expected = expected


class ParserState:
    """The parser's stacks. ``build=False`` makes a trial parser that builds nothing."""

    __slots__ = ("tables", "states", "values", "build")

    def __init__(self, tables: Tables, states: list[int] | None = None, values: list[Any] | None = None) -> None:
        self.tables = tables
        self.states = states if states is not None else [tables.start_state]
        self.values = values if values is not None else []
        self.build = True

    @property
    def position(self) -> int:
        return self.states[-1]

    def choices(self) -> dict[str, int]:
        """The terminals the current state has an action for (some may fail later)."""
        return self.tables.actions[self.states[-1]]

    def trial(self) -> ParserState:
        """A copy to try tokens on; it shares no lists with this one and builds nothing."""
        copy = ParserState(self.tables, list(self.states), list(self.values))
        copy.build = False
        return copy

    def accepts(self) -> set[str]:
        """The terminals the parser really takes now."""
        taken = set()
        for terminal in self.choices():
            try:
                self.trial().feed(Tok(terminal, ""))
            except ParseError:
                continue
            taken.add(terminal)
        return taken

    def feed(self, token: Tok) -> Any:
        """Shift ``token`` (after any reductions it calls for). Returns the result at $END."""
        states = self.states
        action = self.tables.actions[states[-1]].get(token.type)
        if action is not None and action >= 0:  # the common case: a plain shift
            states.append(action)
            self.values.append(token)
            return None
        return self._reduce_then_shift(token)

    def _reduce_then_shift(self, token: Tok) -> Any:
        tables = self.tables
        actions, gotos, reductions = tables.actions, tables.gotos, tables.reductions
        states, values = self.states, self.values
        kind = token.type
        while True:
            action = actions[states[-1]].get(kind)
            if action is None:
                raise ParseError(token, set(actions[states[-1]]))
            if action >= 0:
                states.append(action)
                values.append(token)
                return None
            size, origin, callback = reductions[-1 - action]
            if callback is None and size == 1:
                # A pass-through such as `?atom: number`: the value stays, the state moves.
                # Expressions go through a chain of these (expr, or_expr, ... atom).
                states[-1] = gotos[states[-2]][origin]
                continue
            if size:
                children = values[-size:]
                del states[-size:]
                del values[-size:]
            else:
                children = []
            if callback is None:
                value = children[0]
            elif self.build:
                value = callback(children)
            else:
                value = None
            states.append(gotos[states[-1]][origin])
            values.append(value)
            if kind == "$END" and states[-1] == tables.end_state:
                return values[-1]
