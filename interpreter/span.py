"""Source positions shared by the parser, the AST and the diagnostics."""

from __future__ import annotations

import bisect
import functools
import re

import msgspec

_NEWLINE = re.compile("\n")


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


@functools.lru_cache(maxsize=16)
def line_starts(text: str) -> tuple[int, ...]:
    """The offset where each line of ``text`` starts, computed once per text.

    A file's spans are made one after another (tokens, comments, findings): counting
    newlines from the start of the file for each would be quadratic in its length. A
    string caches its hash, so finding a text's table again costs a dictionary lookup.
    """
    return (0, *(match.end() for match in _NEWLINE.finditer(text)))


def span_of_offsets(file: str, text: str, start: int, end: int) -> Span:
    """Build a span from character offsets into ``text``."""
    starts = line_starts(text)
    line = bisect.bisect_right(starts, start)
    end_line = bisect.bisect_right(starts, end)
    return Span(file, line, start - starts[line - 1] + 1, end_line, end - starts[end_line - 1] + 1, start, end)
