"""The word under the cursor and what surrounds it, read from the text alone.

The tree of a file being typed is often broken where the cursor is, so completion and
hover look at the characters: the dotted path the cursor is in, and the word before.
"""

from __future__ import annotations

import re

import msgspec

_NAME_CHAR = re.compile(r"[A-Za-z0-9_]")
_WORD_BEFORE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*$")


class DottedPath(msgspec.Struct, frozen=True):
    """The dotted path around a point: ``parts`` up to the one the point is in."""

    parts: tuple[str, ...]
    #: Where the part under the point starts and ends.
    start: int
    end: int
    #: Where the whole path starts.
    path_start: int


def dotted_at(text: str, offset: int) -> DottedPath:
    """The path the offset is in (or right after): `contact.orders.cou|nt` gives
    ("contact", "orders", "count"), with the span of "count"."""
    start = offset
    while start > 0 and _NAME_CHAR.match(text[start - 1]):
        start -= 1
    end = offset
    while end < len(text) and _NAME_CHAR.match(text[end]):
        end += 1
    parts = [text[start:end]]
    path_start = start
    while path_start > 0 and text[path_start - 1] == ".":
        before = path_start - 1
        while before > 0 and _NAME_CHAR.match(text[before - 1]):
            before -= 1
        if before == path_start - 1:
            break
        parts.insert(0, text[before : path_start - 1])
        path_start = before
    return DottedPath(tuple(parts), start, end, path_start)


def word_before(text: str, offset: int) -> str | None:
    """The word that ends before ``offset`` (spaces between allowed)."""
    match = _WORD_BEFORE.search(text, 0, offset) if offset else None
    return match.group(1) if match else None


def words_before(text: str, offset: int, count: int) -> list[str]:
    """Up to ``count`` words before ``offset``, nearest last."""
    found = re.findall(r"[A-Za-z_][A-Za-z0-9_.]*|\S", text[max(0, offset - 200) : offset])
    return found[-count:]


def in_template_expression(text: str, offset: int) -> bool:
    """Is the offset inside `{{ … }}` or `{% … %}` of a template?"""
    opened = max(text.rfind("{{", 0, offset), text.rfind("{%", 0, offset))
    closed = max(text.rfind("}}", 0, offset), text.rfind("%}", 0, offset))
    return opened > closed


def after_pipe(text: str, start: int) -> bool:
    """Is the word starting at ``start`` a filter name (`x | upper`)?"""
    before = text[:start].rstrip()
    return before.endswith("|")
