"""Offsets of a text, as scn counts them (code points), and LSP positions.

LSP counts the characters of a line in the code units the client and the server agree
on at initialisation: UTF-16 unless the client offers another. scn's spans count code
points, so a line with an emoji or a character outside the BMP differs between the two.
"""

from __future__ import annotations

import bisect

from lsprotocol import types

from ..interpreter.span import Span, line_starts


def _units(text: str, encoding: str) -> int:
    if encoding == types.PositionEncodingKind.Utf32:
        return len(text)
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8"))
    return len(text.encode("utf-16-le")) // 2


class Lines:
    """One text's lines, to turn offsets into positions and back."""

    def __init__(self, text: str, encoding: str = types.PositionEncodingKind.Utf16) -> None:
        self.text = text
        self.encoding = encoding
        self.starts = line_starts(text)

    def position(self, offset: int) -> types.Position:
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        return types.Position(line=line, character=_units(self.text[start:offset], self.encoding))

    def range(self, start: int, end: int) -> types.Range:
        return types.Range(start=self.position(start), end=self.position(end))

    def span_range(self, span: Span) -> types.Range:
        return self.range(span.start, span.end)

    def offset(self, position: types.Position) -> int:
        """The offset of a position; past the end of a line is its end."""
        if position.line >= len(self.starts):
            return len(self.text)
        start = self.starts[position.line]
        end = self.starts[position.line + 1] - 1 if position.line + 1 < len(self.starts) else len(self.text)
        if self.encoding == types.PositionEncodingKind.Utf32:
            return min(start + position.character, end)
        counted = 0
        for index in range(start, end):
            if counted >= position.character:
                return index
            counted += _units(self.text[index], self.encoding)
        return end
