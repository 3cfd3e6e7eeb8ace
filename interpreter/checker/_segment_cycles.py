"""Segments defined through themselves: `segment a where in_segment(b)` with `segment b
where in_segment(a)` (or a segment that reads itself). Whether a contact is in `a`
would never be known: evaluating it goes round for ever, and since every segment is
evaluated again at every event, every event of every contact was set aside. SCN117."""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from .. import ast


class Cycle(NamedTuple):
    #: The segments in the order they read each other, the first again at the end.
    path: tuple[str, ...]
    #: The `in_segment()` in the first segment's condition that begins the round.
    call: ast.Call


def segments_read(condition: ast.Expr) -> dict[str, ast.Call]:
    """The segments a condition reads with `in_segment()`, each with its first call."""
    found: dict[str, ast.Call] = {}
    stack: list[object] = [condition]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Call) and item.func.name == "in_segment":
            given = [*item.args[:1], *(k.value for k in item.kwargs if k.name.name == "segment")]
            for arg in given:
                if isinstance(arg, ast.Path) and len(arg.parts) == 1:
                    found.setdefault(arg.parts[0].name, item)
        if isinstance(item, msgspec.Struct):
            stack.extend(getattr(item, field) for field in reversed(item.__struct_fields__))
        elif isinstance(item, tuple | list):
            stack.extend(reversed(item))
    return found


def segment_cycles(segments: dict[str, ast.SegmentDecl]) -> list[Cycle]:
    """Each round of segments reading each other, once (from the first segment of it
    declared), with the call that begins it."""
    reads = {name: segments_read(decl.condition) for name, decl in segments.items()}
    cycles: list[Cycle] = []
    seen: set[str] = set()
    for start in reads:
        if start in seen:
            continue
        path = _round(start, reads)
        if path is not None:
            seen.update(path)
            cycles.append(Cycle(path, reads[start][path[1]]))
    return cycles


def _round(start: str, reads: dict[str, dict[str, ast.Call]]) -> tuple[str, ...] | None:
    """The shortest way from ``start`` through the segments it reads back to it, if any."""
    ways: list[tuple[str, ...]] = [(start,)]
    visited = {start}
    while ways:
        following: list[tuple[str, ...]] = []
        for way in ways:
            for read in reads.get(way[-1], {}):
                if read == start:
                    return (*way, start)
                if read in reads and read not in visited:
                    visited.add(read)
                    following.append((*way, read))
        ways = following
    return None


__all__ = ["Cycle", "segment_cycles", "segments_read"]
