"""Promoting the winner of an A/B test: the scenario's source with the split reduced to
the winning variant at 100%, everything else (other steps, comments, layout) as written.

It edits the text by the parsed tree's spans rather than printing a changed tree, so the
new version is the marketer's file with exactly the split changed; the caller checks and
deploys it as any upload (a new version, in the audit as a promotion).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from ...grammar import parse
from .. import ast


class PromoteError(Exception):
    """The variant cannot be promoted: says why and what to do."""


def _splits(node: Any) -> Iterator[ast.Split]:
    """Every split under ``node``, nested ones too, in source order."""
    if isinstance(node, ast.Split):
        yield node
    if isinstance(node, msgspec.Struct):
        for field in node.__struct_fields__:
            yield from _splits(getattr(node, field))
    elif isinstance(node, tuple):
        for item in node:
            yield from _splits(item)


def _line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """[start, end) widened to whole lines: from its line's start to after its last newline."""
    begin = text.rfind("\n", 0, start) + 1
    stop = text.find("\n", end)
    return begin, len(text) if stop < 0 else stop + 1


def promote(text: str, path: str, scenario: str, variant: str) -> str:
    """``text`` (the file ``path``) with the split of ``scenario`` that has ``variant`` left
    with that variant alone at 100%: the other variants and the control group are removed."""
    parsed = parse(text, path)
    if parsed.module is None or not parsed.ok:
        raise PromoteError(f"{path} has syntax errors; fix them first (`scn check`)")
    found = [i for i in parsed.module.items if isinstance(i, ast.Scenario) and i.name.name == scenario]
    if not found:
        raise PromoteError(f"{path} has no scenario {scenario!r}")
    splits = [s for s in _splits(found[0]) if any(isinstance(a, ast.Variant) and a.name.name == variant
                                                   for a in s.arms)]  # fmt: skip
    if not splits:
        names = sorted({a.name.name for s in _splits(found[0]) for a in s.arms if isinstance(a, ast.Variant)})
        raise PromoteError(f"scenario {scenario!r} has no variant {variant!r}" +
                           (f"; its variants: {', '.join(names)}" if names else "; it has no split"))  # fmt: skip
    if len(splits) > 1:
        raise PromoteError(f"scenario {scenario!r} has {len(splits)} splits with a variant {variant!r}; rename one")
    (split,) = splits
    edits: list[tuple[int, int, str]] = []
    if split.holdout is not None:  # `split with 10% control`: the header loses its hold-out
        start = text.rfind("split", 0, split.holdout.span.start) + len("split")
        edits.append((start, split.holdout.span.end, ""))
    for arm in split.arms:
        if isinstance(arm, ast.Variant) and arm.name.name == variant:
            edits.append((arm.weight.span.start, arm.weight.span.end, "100%"))
        else:
            start, end = _line_bounds(text, arm.span.start, arm.span.end)
            edits.append((start, end, ""))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text
