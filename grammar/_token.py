"""The token record shared by the lexer, the LALR loop, the recovery and the AST builder.

Our own slotted class: creating one costs a third of a `lark.Token` (which checks
deprecated arguments on every call), and a file has thousands.
"""

from __future__ import annotations


class Tok:
    """A token: its terminal name, its text and where it lies (1-based lines/columns)."""

    __slots__ = ("type", "value", "start_pos", "line", "column", "end_line", "end_column", "end_pos")

    def __init__(
        self,
        type: str,
        value: str,
        start_pos: int = 0,
        line: int = 1,
        column: int = 1,
        end_line: int = 1,
        end_column: int = 1,
        end_pos: int = 0,
    ) -> None:
        self.type = type
        self.value = value
        self.start_pos = start_pos
        self.line = line
        self.column = column
        self.end_line = end_line
        self.end_column = end_column
        self.end_pos = end_pos

    def like(self, type: str, value: str) -> Tok:
        """A token of another kind at this one's place (for repairs and trials)."""
        return Tok(type, value, self.start_pos, self.line, self.column, self.end_line, self.end_column, self.end_pos)

    def __repr__(self) -> str:
        return f"Tok({self.type!r}, {self.value!r}, {self.line}:{self.column})"
