"""Source positions shared by the parser, the AST and the diagnostics."""

from __future__ import annotations

import msgspec


class Span(msgspec.Struct, frozen=True, array_like=True):
    """A range of source text.

    Lines and columns are 1-based; ``end_column`` points one past the last character,
    like Lark's token positions. ``start`` and ``end`` are character offsets into the
    file's text, which the code frames and the formatter use.
    """

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int

    def to(self, other: Span) -> Span:
        """The span from the start of this one to the end of ``other``."""
        return Span(
            self.file,
            self.line,
            self.column,
            other.end_line,
            other.end_column,
            self.start,
            other.end,
        )

    def at_start(self) -> Span:
        """A one-character span at the start of this one (for carets at a point)."""
        return Span(self.file, self.line, self.column, self.line, self.column + 1, self.start, self.start + 1)

    @staticmethod
    def whole_file(file: str) -> Span:
        """A span for findings about a file as a whole (missing, unreadable)."""
        return Span(file, 1, 1, 1, 1, 0, 0)


def span_of_offsets(file: str, text: str, start: int, end: int) -> Span:
    """Build a span from character offsets into ``text``."""
    line = text.count("\n", 0, start) + 1
    line_start = text.rfind("\n", 0, start) + 1
    end_line = text.count("\n", 0, end) + 1
    end_line_start = text.rfind("\n", 0, end) + 1
    return Span(file, line, start - line_start + 1, end_line, end - end_line_start + 1, start, end)
