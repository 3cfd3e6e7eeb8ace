"""Did-you-mean: the nearest known word to a misspelt one."""

from __future__ import annotations

from collections.abc import Iterable

from .diagnostics import Fix
from .span import Span


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, swaps."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[len(a)][len(b)]


def closest_keyword(word: str, candidates: Iterable[str]) -> str | None:
    """The keyword a typo most likely meant, if one is close enough.

    Two-letter keywords (in, on, or, to) are never guessed: too many words are one
    edit away from them.
    """
    lowered = word.lower()
    best: tuple[int, str] | None = None
    for candidate in candidates:
        if lowered == candidate:
            return candidate
        if len(candidate) < 3 or len(lowered) < 3:
            continue
        limit = 1 if len(candidate) <= 5 else 2
        if abs(len(lowered) - len(candidate)) > limit:  # the distance is at least that: skip the table
            continue
        distance = edit_distance(lowered, candidate)
        if distance <= limit and (best is None or distance < best[0]):
            best = (distance, candidate)
    return best[1] if best else None


def closest_name(word: str, candidates: Iterable[str]) -> str | None:
    """The declared or built-in name a misspelt name most likely meant."""
    lowered = word.lower()
    best: tuple[int, str] | None = None
    for candidate in candidates:
        if candidate.lower() == lowered:
            return candidate
        limit = max(1, min(3, len(candidate) // 3))
        if abs(len(lowered) - len(candidate)) > limit:  # (a 100,000-letter word took seconds per name)
            continue
        distance = edit_distance(lowered, candidate.lower())
        if distance <= limit and (best is None or distance < best[0]):
            best = (distance, candidate)
    return best[1] if best else None


def suggested(span: Span, guess: str | None) -> Fix | None:
    """The fix of a did-you-mean finding: write the guess in the place of the name."""
    return Fix(span, guess, f"change to `{guess}`") if guess is not None else None
