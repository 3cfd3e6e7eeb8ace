"""Applying the repairs findings carry (`scn check --fix`, `--diff`).

A fix is *safe* when applying it cannot change what the author meant: the parser's
repairs of syntax (`30 min` -> `30m`, a misspelt keyword, `=` -> `==` in a condition,
`is null` -> `is not set`, typographic quotes) are read that way already, so the
program checked is the program the fix writes; removing an unused suppression
changes no behaviour either. The checker's did-you-mean suggestions are guesses at
another name, which may be the wrong one: they are *unsafe* and applied only on request
(`--unsafe-fixes`), as Ruff does.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from . import codes
from .codes import Category
from .diagnostics import Diagnostic, Fix


def is_safe(diagnostic: Diagnostic) -> bool:
    """Whether the finding's fix may be applied without asking (see the module's docstring)."""
    if diagnostic.fix is None:
        return False
    return diagnostic.code.category is Category.SYNTAX or diagnostic.code is codes.UNUSED_SUPPRESSION


def fixable(diagnostics: Iterable[Diagnostic], *, unsafe: bool) -> list[Diagnostic]:
    """The findings whose fixes ``--fix`` applies (with ``--unsafe-fixes``: every fix)."""
    return [d for d in diagnostics if d.fix is not None and (unsafe or is_safe(d))]


def apply_fixes(text: str, fixes: Iterable[Fix]) -> tuple[str, list[Fix]]:
    """``text`` with the fixes applied, and those that were, in order.

    Fixes are taken in the order of their place; one that overlaps a fix already taken
    waits for the next round (the caller checks again and asks for fixes anew), as two
    repairs of one place cannot both be right.
    """
    chosen: list[Fix] = []
    for fix in sorted(fixes, key=lambda f: (f.span.start, f.span.end)):
        if chosen and fix.span.start < chosen[-1].span.end:
            continue
        if chosen and fix.span.start == chosen[-1].span.end == fix.span.end:
            continue  # two insertions at one point: their order would be a guess
        chosen.append(fix)
    parts: list[str] = []
    at = 0
    for fix in chosen:
        parts.append(text[at : fix.span.start])
        parts.append(fix.replacement)
        at = fix.span.end
    parts.append(text[at:])
    return "".join(parts), chosen


def unified_diff(path: str, before: str, after: str) -> str:
    """The change from ``before`` to ``after`` as a unified diff naming ``path``."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), fromfile=path, tofile=path
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
