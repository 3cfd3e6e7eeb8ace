"""Showing diagnostics: text with code frames, JSON, GitHub annotations and SARIF."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any

from .code_docs import doc_url
from .codes import REGISTRY, Severity
from .diagnostics import Diagnostic, Fix, Related
from .fixes import fixable, is_safe
from .span import Span

#: Reads a file's text for code frames; None when it cannot.
SourceReader = Callable[[str], str | None]

_RED, _YELLOW, _BLUE, _BOLD, _DIM, _RESET = (
    "\x1b[31m",
    "\x1b[33m",
    "\x1b[34m",
    "\x1b[1m",
    "\x1b[2m",
    "\x1b[0m",
)


class _Style:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, text: str, *codes: str) -> str:
        if not self.colour or not codes:
            return text
        return "".join(codes) + text + _RESET


def use_colour(choice: str, stream: object) -> bool:
    """Colour only on a terminal, never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    if choice == "always":
        return True
    if choice == "never":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def location(span: Span) -> str:
    return f"{span.file}:{span.line}:{span.column}"


def render_text(
    diagnostics: Sequence[Diagnostic], read: SourceReader, *, colour: bool = False, frames: bool = True
) -> str:
    """Ruff-style output: `path:line:col: CODE message`, a code frame, `= help:` lines."""
    style = _Style(colour)
    out: list[str] = []
    for d in diagnostics:
        level = _YELLOW if d.severity is Severity.WARNING else _RED
        prefix = "warning: " if d.severity is Severity.WARNING else ""
        out.append(f"{style(location(d.span), _BOLD)}: {style(d.code.code, _BOLD, level)} {prefix}{d.message}")
        if frames:
            frame = code_frame(d.span, read(d.span.file), style, level)
            out.extend(frame)
            for related in d.related:
                out.append(f"  = note: {related.message} at {location(related.span)}")
            for text in d.help:
                out.append(f"  {style('= help:', _BOLD, _BLUE)} {text}")
            out.append("")
    return "\n".join(out) + ("\n" if out and not frames else "")


def code_frame(span: Span, text: str | None, style: _Style, level: str) -> list[str]:
    """The source line(s) of ``span`` with carets under it."""
    if not text or span.line < 1:
        return []
    lines = text.split("\n")
    if span.line > len(lines):
        return []
    line = lines[span.line - 1].replace("\t", " ")
    gutter = len(str(span.line))
    pad = " " * gutter
    start = max(span.column - 1, 0)
    end = span.end_column - 1 if span.end_line == span.line else len(line)
    width = max(end - start, 1)
    bar = style("|", _BLUE)
    return [
        f"{pad} {bar}",
        f"{style(str(span.line), _BLUE)} {bar} {line}",
        f"{pad} {bar} {' ' * start}{style('^' * width, level, _BOLD)}",
        f"{pad} {bar}",
    ]


def _point(span: Span) -> dict[str, int]:
    return {"row": span.line, "column": span.column}


def _end(span: Span) -> dict[str, int]:
    return {"row": span.end_line, "column": span.end_column}


def as_json_records(diagnostics: Sequence[Diagnostic]) -> list[dict[str, Any]]:
    """Plain records, shared by `scn check --format json` and the API's 422 answers."""
    return [
        {
            "code": d.code.code,
            "name": d.code.name,
            "url": doc_url(d.code.code),
            "severity": d.severity.value,
            "message": d.message,
            "filename": d.span.file,
            "location": _point(d.span),
            "end_location": _end(d.span),
            "help": list(d.help),
            "related": [
                {
                    "message": r.message,
                    "filename": r.span.file,
                    "location": _point(r.span),
                    "end_location": _end(r.span),
                }
                for r in d.related
            ],
            "fix": _fix_record(d),
        }
        for d in diagnostics
    ]


def _fix_record(d: Diagnostic) -> dict[str, Any] | None:
    """The finding's fix: what to write where, and whether `scn check --fix` applies it alone."""
    if d.fix is None:
        return None
    return {
        "title": d.fix.title,
        "applicability": "safe" if is_safe(d) else "unsafe",
        "replacement": d.fix.replacement,
        "location": _point(d.fix.span),
        "end_location": _end(d.fix.span),
    }


def from_json_records(records: Sequence[dict[str, Any]]) -> list[Diagnostic]:
    """Diagnostics back from `as_json_records` (what the API's 422 answers carry), so that
    `scn upload` shows them as `scn check` does. Spans have no offsets; frames need none."""

    def span(record: dict[str, Any], file: str | None = None) -> Span:
        start, end = record["location"], record["end_location"]
        return Span(file or record["filename"], start["row"], start["column"], end["row"], end["column"], 0, 0)

    def fix(record: dict[str, Any]) -> Fix | None:
        found = record.get("fix")
        return Fix(span(found, record["filename"]), found["replacement"], found["title"]) if found else None

    return [
        Diagnostic(
            REGISTRY[r["code"]],
            r["message"],
            span(r),
            tuple(r["help"]),
            tuple(Related(span(x), x["message"]) for x in r["related"]),
            Severity(r["severity"]),
            fix(r),
        )
        for r in records
    ]


def render_json(diagnostics: Sequence[Diagnostic], files: int) -> str:
    errors = sum(1 for d in diagnostics if d.is_error)
    document = {
        "version": 1,
        "files": files,
        "errors": errors,
        "warnings": len(diagnostics) - errors,
        "diagnostics": as_json_records(diagnostics),
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands, which annotate the lines of a pull request."""
    out = []
    for d in diagnostics:
        kind = "warning" if d.severity is Severity.WARNING else "error"
        s = d.span
        title = _escape_property(f"{d.code.code} {d.code.name}")
        props = (
            f"file={_escape_property(s.file)},line={s.line},col={s.column},"
            f"endLine={s.end_line},endColumn={s.end_column},title={title}"
        )
        out.append(f"::{kind} {props}::{_escape_data(d.message)}")
    return "\n".join(out) + ("\n" if out else "")


def render_sarif(diagnostics: Sequence[Diagnostic], version: str) -> str:
    """SARIF 2.1.0, the format code-scanning dashboards read."""
    used = sorted({d.code.code for d in diagnostics})
    rules = [
        {
            "id": REGISTRY[c].code,
            "name": REGISTRY[c].name,
            "shortDescription": {"text": REGISTRY[c].name.replace("-", " ")},
            "help": {"text": REGISTRY[c].help},
            "helpUri": doc_url(c),
            "defaultConfiguration": {"level": "warning" if REGISTRY[c].severity is Severity.WARNING else "error"},
            "properties": {"category": REGISTRY[c].category.value},
        }
        for c in used
    ]

    def region(span: Span) -> dict[str, Any]:
        return {
            "physicalLocation": {
                "artifactLocation": {"uri": span.file.replace("\\", "/")},
                "region": {
                    "startLine": span.line,
                    "startColumn": span.column,
                    "endLine": span.end_line,
                    "endColumn": span.end_column,
                },
            }
        }

    results = [
        {
            "ruleId": d.code.code,
            "ruleIndex": used.index(d.code.code),
            "level": "warning" if d.severity is Severity.WARNING else "error",
            "message": {"text": d.message + "".join(f"\nhelp: {h}" for h in d.help)},
            "locations": [region(d.span)],
            "relatedLocations": [
                {"id": i, "message": {"text": r.message}, **region(r.span)} for i, r in enumerate(d.related)
            ],
        }
        for d in diagnostics
    ]
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "scn",
                        "version": version,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def plural(count: int, word: str, words: str | None = None) -> str:
    """`1 file`, `2 files`; ``words`` where adding an s is wrong (`2 more fixes`)."""
    return f"{count} {word if count == 1 else words or word + 's'}"


def fix_hints(diagnostics: Sequence[Diagnostic], *, fixing: bool = False) -> list[str]:
    """The lines before the summary that say what `scn check --fix` would repair."""
    safe = len(fixable(diagnostics, unsafe=False))
    hidden = len(fixable(diagnostics, unsafe=True)) - safe
    hints = []
    if safe and not fixing:
        hints.append(f"[*] {plural(safe, 'finding')} fixable with `scn check --fix`.")
    if hidden:
        more = plural(hidden, "more fix", "more fixes")
        hints.append(f"{more} available with `--unsafe-fixes` (did-you-mean guesses).")
    return hints


def summary(diagnostics: Sequence[Diagnostic], files: int, scenarios: int) -> str:
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors
    if not diagnostics:
        return f"All checks passed: {plural(files, 'file')}, {plural(scenarios, 'scenario')}."
    parts = []
    if errors:
        parts.append(plural(errors, "error"))
    if warnings:
        parts.append(plural(warnings, "warning"))
    return f"Found {' and '.join(parts)} in {plural(files, 'file')}."
