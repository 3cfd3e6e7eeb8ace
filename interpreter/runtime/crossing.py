"""When a contact's clock-dependent segments can next change: the moment their time
conditions cross.

Between two events about a contact only the clock moves, and a condition reads it only
through `now()` and `ago(D)`. Where each such call is one side of an ordering comparison
(`contact.last_activity_at < ago(30d)`) whose other side does not read the clock, the
comparison flips exactly once, when the clock passes that side's value (plus D): so the
whole condition can change only at one of those moments. The sweep looks at a contact at
the earliest one still to come (and a millisecond after, for a strict comparison), and
after every event about it (the event handler evaluates its segments anyway); at no
other time. A condition that reads the clock any other way (`today()`, `now() - x`, a
clock value compared for equality) cannot be followed like this: its contacts are looked
at every `segment_sweep_ms`, as a periodic sweep would; so is one calling a function
that reads the clock inside (`messaged_within`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import msgspec

from .. import ast
from ..compiler import CLOCK_FUNCTIONS
from ..environment import Env, EvaluationError, as_timedelta
from ..program import Bundle
from .evaluate import evaluate

_ORDERING = frozenset({"<", "<=", ">", ">="})
#: Functions that read the clock inside (`messaged_within(1d)`): their flips cannot be
#: computed from their arguments, so a condition calling one is looked at periodically.
_READS_CLOCK_INSIDE = frozenset({"messaged_within"})
_MS = dt.timedelta(milliseconds=1)


_MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass(frozen=True)
class Crossing:
    """A comparison of the clock (``clock``: `now()` or `ago(D)`) with ``other``, as
    `clock OP other` (mirrored when the clock was on the right)."""

    clock: ast.Call
    op: str
    other: ast.Expr

    @property
    def after(self) -> dt.timedelta:
        """How long after the clock equals the other side the comparison flips: at once
        for `<` and `>=` (they flip at equality), a millisecond later for `<=` and `>`."""
        return _MS if self.op in ("<=", ">") else dt.timedelta(0)


def _clock_calls(node: object) -> list[ast.Call]:
    found: list[ast.Call] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Call) and item.func.name in CLOCK_FUNCTIONS | _READS_CLOCK_INSIDE:
            found.append(item)
        if isinstance(item, msgspec.Struct):
            stack.extend(getattr(item, field) for field in item.__struct_fields__)
        elif isinstance(item, tuple | list):
            stack.extend(item)
    return found


def _is_followed(call: ast.Expr) -> bool:
    """`now()`, or `ago(D)` with a D that does not read the clock."""
    if not isinstance(call, ast.Call) or call.func.name not in ("now", "ago"):
        return False
    return not any(_clock_calls(part) for part in (*call.args, *(k.value for k in call.kwargs)))


def crossings(condition: ast.Expr) -> list[Crossing] | None:
    """The clock comparisons of a condition, or None when it reads the clock otherwise."""
    found: list[Crossing] = []
    stack: list[object] = [condition]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Binary) and item.op in _ORDERING:
            for clock, op, other in ((item.left, item.op, item.right), (item.right, _MIRRORED[item.op], item.left)):
                if _is_followed(clock) and not _clock_calls(other):
                    assert isinstance(clock, ast.Call)
                    found.append(Crossing(clock, op, other))
        if isinstance(item, msgspec.Struct):
            stack.extend(getattr(item, field) for field in item.__struct_fields__)
        elif isinstance(item, tuple | list):
            stack.extend(item)
    return found if len(found) == len(_clock_calls(condition)) else None


class SegmentClocks:
    """The clock comparisons of a bundle's timed segments (None: one cannot be followed)."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.timed = [s for s in bundle.segments.values() if s.timed]
        found: list[Crossing] | None = []
        for segment in self.timed:
            own = crossings(segment.condition)
            found = None if own is None or found is None else [*found, *own]
        self.comparisons = found

    async def next_check(self, env: Env, every_ms: int) -> int | None:
        """When to look at a contact next (ms; None: only after its next event)."""
        now = env.now
        if self.comparisons is None:
            return _ms(now) + every_ms
        moments: list[dt.datetime] = []
        for crossing in self.comparisons:
            try:
                value = env.moment_of(await evaluate(crossing.other, env))
                if not isinstance(value, dt.datetime):
                    continue  # unset: the comparison is false whatever the time
                if crossing.clock.func.name == "ago":
                    args = [*crossing.clock.args, *(k.value for k in crossing.clock.kwargs)]
                    duration = await evaluate(args[0], env) if args else None
                    if duration is None:
                        continue
                    value += as_timedelta(duration)
            except EvaluationError:
                continue
            moment = value + crossing.after
            if moment > now:
                moments.append(moment)
        return _ms(min(moments)) if moments else None


def _ms(moment: dt.datetime) -> int:
    """Milliseconds since the epoch, rounded up (a check is never before its moment)."""
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return -(-delta // _MS)


_CACHE: dict[int, SegmentClocks] = {}


def segment_clocks(bundle: Bundle) -> SegmentClocks:
    """The (cached) clock comparisons of a bundle's timed segments."""
    found = _CACHE.get(id(bundle))
    if found is None or found.bundle is not bundle:
        if len(_CACHE) > 16:
            _CACHE.clear()
        found = _CACHE[id(bundle)] = SegmentClocks(bundle)
    return found
