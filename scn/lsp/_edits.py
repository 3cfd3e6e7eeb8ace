"""Edits the server proposes: rename across the workspace, `scn fmt`, quick fixes."""

from __future__ import annotations

import re
from collections.abc import Callable

from lsprotocol import types

from ..grammar import parse
from ..grammar._format import FormatError, format_source
from ..interpreter.diagnostics import Diagnostic
from ._index import Index, Occurrence
from ._positions import Lines

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EVENT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def rename_edits(
    index: Index, occurrence: Occurrence, new_name: str, lines_of: Callable[[str], Lines]
) -> dict[str, list[types.TextEdit]]:
    """The edits, by file, that rename a declared name everywhere it is written.

    Raises ValueError, saying why, for a name that cannot be renamed or a new name
    that is not one.
    """
    namespace, name = occurrence.namespace, occurrence.name
    pattern = _EVENT_NAME if namespace == "event" else _NAME
    if pattern.fullmatch(new_name) is None:
        raise ValueError(f"`{new_name}` is not a name: names use Latin letters, digits and `_`")
    found = index.all_of(namespace, name)
    if not any(o.declaration for o in found):
        raise ValueError(f"`{name}` is built in: only names declared in the workspace can be renamed")
    if new_name != name and index.all_of(namespace, new_name):
        raise ValueError(f"`{new_name}` is already declared")
    written = f"@{new_name}" if namespace.startswith("label:") else new_name
    edits: dict[str, list[types.TextEdit]] = {}
    for o in found:
        edits.setdefault(o.file, []).append(
            types.TextEdit(range=lines_of(o.file).range(o.start, o.end), new_text=written)
        )
    return edits


def format_document(path: str, lines: Lines) -> list[types.TextEdit] | None:
    """`scn fmt` of the document as one edit; None when it has syntax errors or is formatted."""
    try:
        formatted = format_source(parse(lines.text, path))
    except FormatError:
        return None
    if formatted == lines.text:
        return []
    return [types.TextEdit(range=lines.range(0, len(lines.text)), new_text=formatted)]


def code_actions(
    findings: list[Diagnostic],
    wanted: tuple[int, int],
    lines_of: Callable[[str], Lines],
    uri_of: Callable[[str], str],
) -> list[types.CodeAction]:
    """Quick fixes for the findings that overlap ``wanted`` (offsets) and carry a fix."""
    actions = []
    start, end = wanted
    for d in findings:
        if d.fix is None or d.span.end < start or d.span.start > end:
            continue
        fix = d.fix
        edit = types.TextEdit(range=lines_of(fix.span.file).span_range(fix.span), new_text=fix.replacement)
        actions.append(
            types.CodeAction(
                title=f"{fix.title} ({d.code.code})",
                kind=types.CodeActionKind.QuickFix,
                is_preferred=True,
                edit=types.WorkspaceEdit(changes={uri_of(fix.span.file): [edit]}),
            )
        )
    return actions
