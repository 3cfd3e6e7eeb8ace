"""Diagnostics: what the parser and the checker found, where, and what to do."""

from __future__ import annotations

import msgspec

from .codes import Code, Severity
from .span import Span


class Related(msgspec.Struct, frozen=True):
    """A second place that explains a finding ("first declared here")."""

    span: Span
    message: str


class Fix(msgspec.Struct, frozen=True):
    """A repair the finding suggests: write ``replacement`` in the place of ``span``.

    The parser's repairs (`30 min` -> `30m`, a misspelt keyword) and the checker's
    did-you-mean suggestions carry one, so that an editor can apply them.
    """

    span: Span
    replacement: str
    #: What applying it does, for a person choosing it ("write `30m`").
    title: str


class Diagnostic(msgspec.Struct, frozen=True):
    code: Code
    message: str
    span: Span
    help: tuple[str, ...] = ()
    related: tuple[Related, ...] = ()
    severity: Severity = Severity.ERROR
    fix: Fix | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.span.file, self.span.line, self.span.column, self.code.code)


def make(
    code: Code,
    message: str,
    span: Span,
    *help: str,
    related: tuple[Related, ...] = (),
    fix: Fix | None = None,
) -> Diagnostic:
    """Create a diagnostic; the code's own help text always comes last."""
    helps = tuple(h for h in help if h) + (code.help,)
    return Diagnostic(code, message, span, helps, related, code.severity, fix)


class DiagnosticSink:
    """Collects diagnostics, dropping exact repeats (same code, place and message)."""

    def __init__(self) -> None:
        self._items: list[Diagnostic] = []
        self._seen: set[tuple[str, Span, str]] = set()

    def add(self, diagnostic: Diagnostic) -> None:
        key = (diagnostic.code.code, diagnostic.span, diagnostic.message)
        if key not in self._seen:
            self._seen.add(key)
            self._items.append(diagnostic)

    def report(
        self,
        code: Code,
        message: str,
        span: Span,
        *help: str,
        related: tuple[Related, ...] = (),
        fix: Fix | None = None,
    ) -> None:
        """Record a finding; its severity comes from its code."""
        self.add(make(code, message, span, *help, related=related, fix=fix))

    def extend(self, diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]) -> None:
        for d in diagnostics:
            self.add(d)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self._items, key=Diagnostic.sort_key)

    def __len__(self) -> int:
        return len(self._items)
