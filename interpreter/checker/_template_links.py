"""Links in an email's HTML that go nowhere for some contacts.

`<a href="{{ p.url }}">` in a loop over products sends a link to nowhere (`href=""`) for
a product the catalogue has no url for, and `<img src="{{ p.image }}">` a broken image:
the value is a field that may be unset (stdlib.catalog.ALWAYS_SET) and it is the whole
link. Such a link is SCN212 unless an `{% if %}` around it, or the `if` of a loop around it,
reads the field (`{% if p.url %}…{% endif %}`, `{% for p in products if p.url %}`), or a
filter gives it a value (`{{ p.url|default(...) }}`).

The check reads the template's text, as a mail client would see its tags, without
Jinja: the `{% if %}`, `{% for %}` and `{{ }}` tags in order, and the markup before and
after each `{{ }}`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from ...stdlib.catalog import may_be_unset

#: A tag of the template: a statement (`{% if x %}`: its word and the rest) or a value (`{{ x }}`).
_TAG = re.compile(r"\{%-?\s*(\w+)(.*?)-?%\}|\{\{-?(.*?)-?\}\}|\{#.*?#\}", re.DOTALL)
#: Markup that ends in a link attribute, its value still to come: `<a class="x" href="`.
_OPENS_LINK = re.compile(r"""(?<![\w-])(href|src)\s*=\s*(["']?)\s*$""", re.IGNORECASE)
_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_FOR = re.compile(r"\s*([A-Za-z_]\w*)\s+in\s+([A-Za-z_][\w.]*)")
#: The records the template's names stand for, and what a loop over each list gives.
_ROOTS = {"contact": "contact", "order": "order", "coupon": "coupon", "bonus": "bonus"}
_LOOPS = {"products": "product", "bestsellers": "product", "order.items": "item", "purchased": "item"}


class DeadLink(NamedTuple):
    line: int
    attribute: str
    path: str
    record: str
    field: str


def dead_links(text: str) -> Iterator[DeadLink]:
    """Each `href`/`src` whose whole value is a field that may be unset, with no `{% if %}`
    around it that reads that field."""
    if "{{" not in text or not re.search(r"(?i)\b(?:href|src)\s*=", text):
        return
    tests: list[str] = []  # the conditions of the `if` blocks around here (all their branches)
    loops: list[tuple[str, str | None, str]] = []  # the loops around here: name, record, `if` filter
    previous_end = 0
    for tag in _TAG.finditer(text):
        before = text[previous_end : tag.start()]
        previous_end = tag.end()
        word, rest, value = tag.group(1), tag.group(2), tag.group(3)
        if word in ("if", "elif"):
            if word == "if":
                tests.append(rest)
            elif tests:
                tests[-1] += " " + rest
        elif word == "endif" and tests:
            tests.pop()
        elif word == "for":
            found = _FOR.match(rest)
            guard = rest.split(" if ", 1)[1] if " if " in rest else ""  # `for p in products if p.url`
            loops.append((found.group(1), _LOOPS.get(found.group(2)), guard) if found else ("", None, guard))
        elif word == "endfor" and loops:
            loops.pop()
        elif value is not None:
            link = _OPENS_LINK.search(before)
            path = value.strip()
            if link is None or not _PATH.fullmatch(path) or not _closes(text[tag.end() :], link.group(2)):
                continue
            head, field, *more = path.split(".")
            record = next((r for name, r, _ in reversed(loops) if name == head), _ROOTS.get(head))
            if record is None or more or not may_be_unset(record, field):
                continue
            guards = [*tests, *(guard for _, _, guard in loops)]
            if any(re.search(rf"(?<![\w.]){re.escape(path)}(?![\w])", test) for test in guards):
                continue
            yield DeadLink(text.count("\n", 0, tag.start()) + 1, link.group(1).lower(), path, record, field)


def _closes(after: str, quote: str) -> bool:
    """Does the attribute's value end right after the `{{ }}` (so the value is all of it)?"""
    if quote:
        return after.lstrip().startswith(quote)
    return after == "" or after[0] in ">/" or after[0].isspace()


__all__ = ["DeadLink", "dead_links"]
