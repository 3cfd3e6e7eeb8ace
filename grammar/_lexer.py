"""The scn lexer: small patterns chosen by the first character, contextual keywords.

A word becomes a keyword only when the parser's current state has an action for that
keyword, which is the contextual-keyword rule: `list wait` declares a list named
"wait", and `sender` is never `send` + "er". (Lark's own contextual lexer does the same
with one scanner per parser state, compiled on first use: about 40 ms of every cold
`scn check`, and it reads each word twice.)

What a token can be is decided by its first character:
  letter or _   a word (NAME or a keyword); `stop if` / `stop unless` on one line are
                single tokens, which keeps a bare `stop` followed by an `if` step apart
  digit         a date, time, money, duration, percentage or number, in that order
  "             a string (one line; \\" and \\\\ escapes)
  #             a comment, to the end of the line
  @             a step label
  <             an address such as <shop@example.com>, or the operator <, <=
  other         punctuation and operators
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator

from ._lalr import ParserState
from ._token import Tok

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STOP = re.compile(r"stop[ \t]+(if|unless)(?![A-Za-z0-9_])")
_NUMERIC = re.compile(
    r"""
    (?P<DATE>\d{4}-\d{2}-\d{2}(?![0-9]))
  | (?P<TIME>\d{1,2}:\d{2}(?![0-9]))
  | (?P<MONEY>\d+(?:\.\d+)?\ ?[A-Z]{3}(?![A-Za-z0-9_]))
  | (?P<DURATION>(?:\d+(?:ms|s|m|h|d|w))+(?![A-Za-z0-9_]))
  | (?P<PERCENT>\d+(?:\.\d+)?%)
  | (?P<NUMBER>\d+(?:\.\d+)?)
    """,
    re.VERBOSE,
)
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_LABEL = re.compile(r"@[A-Za-z_][A-Za-z0-9_]*")
_ADDRESS = re.compile(r'<[^<>\s@"]+@[^<>\s@"]+>')
_SPACE = re.compile(r"\s+")
_WORD_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_DIGITS = frozenset("0123456789")
_PUNCT2 = frozenset({"==", "!=", "<=", ">="})
_PUNCT1 = frozenset("<>=+-*/()[],.:")

#: Comments of the file being parsed. The lexer is shared, so it appends to whatever
#: list the current parse has installed here.
current_comments: contextvars.ContextVar[list[Tok] | None] = contextvars.ContextVar(
    "scn_current_comments", default=None
)


class BadCharacter(Exception):
    """No token starts at ``pos``."""

    def __init__(self, pos: int) -> None:
        super().__init__(f"no token at {pos}")
        self.pos = pos


class Cursor:
    """Where the lexer is in the text: offset, line, and where that line starts."""

    __slots__ = ("text", "pos", "line", "line_start")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.line_start = 0

    @property
    def column(self) -> int:
        return self.pos - self.line_start + 1

    def advance(self, end: int) -> None:
        """Move to ``end``, counting the lines passed."""
        newlines = self.text.count("\n", self.pos, end)
        if newlines:
            self.line += newlines
            self.line_start = self.text.rindex("\n", self.pos, end) + 1
        self.pos = end

    def token(self, kind: str, end: int) -> Tok:
        """A one-line token from the cursor to ``end``; the cursor moves past it."""
        start, column = self.pos, self.pos - self.line_start + 1
        self.pos = end
        return Tok(kind, self.text[start:end], start, self.line, column, self.line, column + end - start, end)


def tokens(cursor: Cursor, state: ParserState, literals: dict[str, str]) -> Iterator[Tok]:
    """The tokens from the cursor on. Raises BadCharacter where no token starts.

    ``state`` is read before each word so that keywords follow the parser; ``literals``
    maps keyword and punctuation text to terminal names.
    """
    text = cursor.text
    size = len(text)
    actions = state.tables.actions
    stack = state.states
    comments = current_comments.get()
    while cursor.pos < size:
        pos = cursor.pos
        char = text[pos]
        if char in _WORD_START:
            end = _WORD.match(text, pos).end()  # type: ignore[union-attr]
            word = text[pos:end]
            kind = "NAME"
            if word == "stop" and (stop := _STOP.match(text, pos)) is not None:
                kind, end = ("STOP_IF" if stop.group(1) == "if" else "STOP_UNLESS"), stop.end()
            else:
                keyword = literals.get(word)
                if keyword is not None and keyword in actions[stack[-1]]:
                    kind = keyword
            # cursor.token(kind, end), inlined: this is the hottest line of parsing.
            column = pos - cursor.line_start + 1
            cursor.pos = end
            yield Tok(kind, text[pos:end], pos, cursor.line, column, cursor.line, column + end - pos, end)
        elif char == " " or char == "\n" or char == "\t" or char == "\r":
            cursor.advance(_SPACE.match(text, pos).end())  # type: ignore[union-attr]
        elif char in _DIGITS:
            found = _NUMERIC.match(text, pos)
            assert found is not None and found.lastgroup is not None
            yield cursor.token(found.lastgroup, found.end())
        elif char == '"':
            found = _STRING.match(text, pos)
            if found is None:
                raise BadCharacter(pos)
            yield cursor.token("STRING", found.end())
        elif char == "#":
            end = text.find("\n", pos)
            token = cursor.token("COMMENT", size if end == -1 else end)
            if comments is not None:
                comments.append(token)
        elif char == "@" and (found := _LABEL.match(text, pos)) is not None:
            yield cursor.token("LABEL", found.end())
        elif char == "<" and (found := _ADDRESS.match(text, pos)) is not None:
            yield cursor.token("ADDRESS", found.end())
        elif text[pos : pos + 2] in _PUNCT2:
            yield cursor.token(literals[text[pos : pos + 2]], pos + 2)
        elif char in _PUNCT1:
            yield cursor.token(literals[char], pos + 1)
        elif char.isspace():
            cursor.advance(_SPACE.match(text, pos).end())  # type: ignore[union-attr]
        else:
            raise BadCharacter(pos)
