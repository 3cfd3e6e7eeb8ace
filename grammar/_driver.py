"""Feeding tokens to the LALR parser and recovering from syntax errors.

Lark stays inside this package. We run its LALR tables with our own loop (_lalr.py)
and our own lexer (_lexer.py), so that one run reports every syntax error in a file:
each error is mapped to a named diagnostic, then the parser is put back on its feet in
one of these ways:

* a misspelled keyword is replaced by the keyword it most likely meant;
* a missing `end` is supplied, reported at the block it should close;
* `30 min` becomes `30m`, `=` in a condition becomes `==`;
* anything else is skipped, and errors that follow within two tokens of an earlier
  one are not reported, since they are usually echoes of the first.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from ..interpreter import codes
from ..interpreter.diagnostics import Diagnostic, DiagnosticSink, Related
from ..interpreter.span import Span, span_of_offsets
from ..interpreter.suggest import closest_keyword
from ._context import ParseContext, current_file
from ._lalr import ParseError, ParserState, Tables
from ._lexer import BadCharacter, Cursor, current_comments, tokens
from ._messages import (
    BLOCK_OPENERS,
    DURATION_WORDS,
    HEADER_WORDS,
    NULL_WORDS,
    QUOTE_PAIRS,
    STEP_WORDS,
    VALUE_STARTS,
    describe_expected,
    describe_token,
)
from ._tables import load_table_data
from ._token import Tok
from ._transform import ToAst

MAX_ERRORS_PER_FILE = 50
MAX_MISSING_ENDS = 12
#: Errors closer than this many accepted tokens to the previous one are echoes.
ECHO_DISTANCE = 2


class _Driver:
    def __init__(self, text: str, file: str, tables: Tables) -> None:
        self.tables = tables
        self.text = text
        self.file = file
        self.sink = DiagnosticSink()
        self.accepted_since_error = ECHO_DISTANCE
        self.last_token: Tok | None = None
        #: Set when input had to be skipped; repairs (typos, missing `end`) keep it False.
        self.lossy = False
        self.terminal_of = tables.literals
        self.keyword_of = {name: word for word, name in self.terminal_of.items()}
        self.cursor = Cursor(text)

    # ------------------------------------------------------------ the loop

    def run(self) -> list[Any] | None:
        state = ParserState(self.tables)
        cursor = self.cursor
        while len(self.sink) < MAX_ERRORS_PER_FILE:
            try:
                for token in tokens(cursor, state, self.terminal_of):
                    self._feed(state, token)
                break
            except BadCharacter as error:
                self._bad_characters(state, error.pos)
        else:
            return None
        return self._finish(state)

    def _feed(self, state: ParserState, token: Tok) -> None:
        try:
            state.feed(token)
        except ParseError as error:
            self._bad_token(state, token, error.expected)
        else:
            self.accepted_since_error += 1
            self.last_token = token

    def _finish(self, state: ParserState) -> list[Any] | None:
        for _ in range(MAX_MISSING_ENDS):
            if self._accepts(state, [self._eof()]):
                result: list[Any] = state.feed(self._eof())
                return result
            if "END" not in state.accepts():
                if self.accepted_since_error >= 1 or not len(self.sink):
                    self.sink.report(
                        codes.UNEXPECTED_END_OF_FILE,
                        "the file ends in the middle of a statement",
                        self._eof_span(),
                    )
                return None
            self._report_missing_end(state, None)
            state.feed(self._token("END", "end", self.last_token))
        return None

    # ------------------------------------------------------------ recoveries

    def _bad_token(self, state: ParserState, token: Tok, expected: set[str]) -> None:
        if self._fix_set_test(state, token, expected):
            return
        if self._misplaced_header(token, expected):
            return
        if self._close_blocks_for(state, token, expected):
            return
        if self._fix_spaced_duration(state, token):
            return
        if self._fix_keyword_typo(state, token, expected):
            return
        if self._fix_single_equals(state, token, expected):
            return
        self.lossy = True
        if self.accepted_since_error >= ECHO_DISTANCE:
            # The table's row can name tokens that lead to an error a few reductions on
            # (LALR merges states); ask the parser what it really takes.
            self.sink.report(
                codes.UNEXPECTED_TOKEN,
                f"unexpected {describe_token(token.type, str(token.value))}; "
                f"expected {describe_expected(state.accepts(), self.keyword_of)}",
                self._span(token),
            )
        self.accepted_since_error = 0

    def _keyword_terminal(self, token: Tok) -> str | None:
        if token.type == "NAME":
            return self.terminal_of.get(str(token.value))
        return token.type if token.type in self.keyword_of else None

    def _close_blocks_for(self, state: ParserState, token: Tok, expected: set[str]) -> bool:
        """A keyword that fits only once open blocks are closed means an `end` is missing."""
        terminal = self._keyword_terminal(token)
        if terminal is None or "END" not in expected:
            return False
        keyword = self._token(terminal, str(token.value), token)
        for count in range(1, MAX_MISSING_ENDS + 1):
            ends = [self._token("END", "end", token) for _ in range(count)]
            if self._accepts(state, ends + [keyword]):
                break
        else:
            return False
        for end in ends:
            self._report_missing_end(state, token)
            state.feed(end)
        self._feed(state, keyword)
        return True

    def _fix_keyword_typo(self, state: ParserState, token: Tok, expected: set[str]) -> bool:
        if token.type != "NAME":
            return False
        word = str(token.value)
        candidates = [self.keyword_of[t] for t in expected if t in self.keyword_of and self.keyword_of[t].isalpha()]
        guess = closest_keyword(word, candidates)
        if guess is None or guess == word:
            return False
        replacement = self._token(self.terminal_of[guess], guess, token)
        if not self._accepts(state, [replacement]):
            return False
        self.sink.report(
            codes.MISSPELLED_KEYWORD,
            f"unknown word `{word}`: did you mean `{guess}`?",
            self._span(token),
        )
        self._feed(state, replacement)
        return True

    def _fix_spaced_duration(self, state: ParserState, token: Tok) -> bool:
        """`wait 30 min` -> the number becomes the duration 30m, and parsing goes on."""
        previous = self.last_token
        unit = DURATION_WORDS.get(str(token.value).lower()) if token.type == "NAME" else None
        if unit is None or previous is None or previous.type != "NUMBER":
            return False
        if previous.end_line != token.line or not str(previous.value).isdigit():
            return False
        stack: list[Any] = state.values
        if not stack or stack[-1] is not previous:
            return False
        self.sink.report(
            codes.DURATION_WITHOUT_UNIT,
            f"`{previous.value} {token.value}` is not a duration: write `{previous.value}{unit}`",
            self._span(previous).to(self._span(token)),
        )
        previous.type = "DURATION"
        previous.value = f"{previous.value}{unit}"
        previous.end_pos, previous.end_line, previous.end_column = _end_of(token)
        self.accepted_since_error = ECHO_DISTANCE
        return True

    def _fix_single_equals(self, state: ParserState, token: Tok, expected: set[str]) -> bool:
        double = self.terminal_of.get("==")
        if token.type != self.terminal_of.get("=") or double is None or double not in expected:
            return False
        replacement = self._token(double, "==", token)
        if not self._accepts(state, [replacement]):
            return False
        self.sink.report(codes.ASSIGN_IN_CONDITION, "`=` in a comparison: write `==`", self._span(token))
        self._feed(state, replacement)
        return True

    def _fix_set_test(self, state: ParserState, token: Tok, expected: set[str]) -> bool:
        """`x is null` -> `x is not set`, `x is not null` -> `x is set`, `x is 5` -> `x == 5`.

        The parser has just shifted `is` (and `not`) when the word after it does not fit;
        taking back a shift leaves it as it was before, so the repaired tree says what
        the author meant.
        """
        is_, not_, set_ = (self.terminal_of.get(word) for word in ("is", "not", "set"))
        values: list[Any] = state.values
        previous = self.last_token
        if set_ not in expected or previous is None or not values or values[-1] is not previous:
            return False
        negated = previous.type == not_
        shifted = [previous]
        if negated:
            if len(values) < 2 or not isinstance(values[-2], Tok) or values[-2].type != is_:
                return False
            shifted.insert(0, values[-2])
        elif previous.type != is_:
            return False
        word = str(token.value)
        where = self._span(shifted[0]).to(self._span(token))
        if token.type == "NAME" and word.lower() in NULL_WORDS:
            spelled = "is set" if negated else "is not set"
            self.sink.report(
                codes.BAD_SET_TEST,
                f"`{' '.join(str(t.value) for t in shifted)} {word}` is written `{spelled}`",
                where,
                'an empty string is a value: compare with `== ""` for that',
            )
            if negated:
                self._take_back(state, 1)
            else:
                self._feed(state, token.like(not_ or "NOT", "not"))
            self._feed(state, token.like(set_ or "SET", "set"))
            return True
        if token.type not in VALUE_STARTS or closest_keyword(word, ("set", "not")) is not None:
            return False  # `is sett` is a typo, for the next repair
        operator = "!=" if negated else "=="
        self.sink.report(
            codes.BAD_SET_TEST,
            f"`is` does not compare values: write `{operator}`",
            self._span(shifted[0]).to(self._span(shifted[-1])),
            "`is set` and `is not set` ask whether a field holds a value",
        )
        self._take_back(state, len(shifted))
        self._feed(state, shifted[0].like(self.terminal_of[operator], operator))
        keyword = self.terminal_of.get(word) if token.type == "NAME" else None
        self._feed(state, token.like(keyword, word) if keyword in state.choices() else token)
        return True

    @staticmethod
    def _take_back(state: ParserState, shifts: int) -> None:
        """Undo the last ``shifts`` shifts (tokens shifted one after another, nothing reduced)."""
        del state.states[-shifts:]
        del state.values[-shifts:]

    def _misplaced_header(self, token: Tok, expected: set[str]) -> bool:
        """A scenario header among the steps: say so, then skip it."""
        word = str(token.value)
        step_terminals = {self.terminal_of[w] for w in STEP_WORDS if w in self.terminal_of}
        if word not in HEADER_WORDS or not expected & step_terminals:
            return False
        self.sink.report(
            codes.MISPLACED_HEADER,
            f"`{word}` is a scenario header, but the steps have already begun",
            self._span(token),
            "move it up, before the first step",
        )
        self.lossy = True
        self.accepted_since_error = 0
        return True

    def _bad_characters(self, state: ParserState, pos: int) -> None:
        char = self.text[pos]
        line_end = self.text.find("\n", pos)
        line_end = len(self.text) if line_end == -1 else line_end
        if char == '"':
            self.sink.report(
                codes.UNTERMINATED_STRING,
                "this string is not closed before the end of the line",
                span_of_offsets(self.file, self.text, pos, line_end),
            )
            skip_to = line_end
        elif char in QUOTE_PAIRS and self._fix_quotes(state, pos, line_end):
            return
        else:
            skip_to = pos + 1
            if not char.isascii():
                while skip_to < line_end and not self.text[skip_to].isspace() and not self.text[skip_to].isascii():
                    skip_to += 1
                if self._fix_foreign_name(state, pos, self._word_end(pos, line_end)):
                    return
            if self.accepted_since_error >= ECHO_DISTANCE:
                self.sink.report(
                    codes.UNEXPECTED_CHARACTER,
                    f"unexpected character `{self.text[pos:skip_to]}`",
                    span_of_offsets(self.file, self.text, pos, skip_to),
                )
        self.lossy = True
        self.accepted_since_error = 0
        self.cursor.advance(skip_to)

    def _fix_quotes(self, state: ParserState, pos: int, line_end: int) -> bool:
        """'text', “text”, „text” or «text» -> the string "text", and parsing goes on."""
        closers = QUOTE_PAIRS[self.text[pos]]
        close = next((i for i in range(pos + 1, line_end) if self.text[i] in closers), -1)
        if close == -1:
            return False
        inner = self.text[pos + 1 : close].replace("\\", "\\\\").replace('"', '\\"')
        self.sink.report(
            codes.UNEXPECTED_CHARACTER,
            f"`{self.text[pos]}` does not start a string",
            span_of_offsets(self.file, self.text, pos, close + 1),
            'strings use straight double quotes: "text"',
        )
        token = self.cursor.token("STRING", close + 1)
        token.value = f'"{inner}"'
        self.accepted_since_error = 0  # a string out of place here is the same mistake
        self._feed(state, token)
        return True

    def _fix_foreign_name(self, state: ParserState, pos: int, end: int) -> bool:
        """`list неоплачені` -> reported, then read as a name so parsing goes on."""
        word = self.text[pos:end]
        if not word.isidentifier() or "NAME" not in state.choices():
            return False
        self.sink.report(
            codes.UNEXPECTED_CHARACTER,
            f"`{word}` is not a name: names use Latin letters, digits and `_`",
            span_of_offsets(self.file, self.text, pos, end),
            f'keep the words for people in the title string: list unpaid "{word}"',
        )
        self.accepted_since_error = ECHO_DISTANCE
        self._feed(state, self.cursor.token("NAME", end))
        return True

    def _word_end(self, pos: int, line_end: int) -> int:
        end = pos
        while end < line_end and (self.text[end].isalnum() or self.text[end] == "_"):
            end += 1
        return end

    def _report_missing_end(self, state: ParserState, before: Tok | None) -> None:
        opener = self._innermost_opener(state)
        where = f"before {describe_token(before.type, str(before.value))}" if before else "before the end of the file"
        noticed = self._span(before) if before is not None else self._eof_span()
        if opener is None:
            self.sink.report(codes.MISSING_END, f"`end` missing {where}", noticed)
            return
        token, what = opener
        self.sink.report(
            codes.MISSING_END,
            f"`{what}` is not closed: `end` missing {where}",
            self._span(token),
            "an `end` may be missing inside it instead: every if, bands, split, on timeout,"
            " template, program and scenario needs its own",
            related=(Related(noticed, "`end` expected here"),),
        )

    def _innermost_opener(self, state: ParserState) -> tuple[Tok, str] | None:
        """The innermost block still open; an `end` already on the stack closes one."""
        stack = state.values
        closed = 0
        for index in range(len(stack) - 1, -1, -1):
            item = stack[index]
            if isinstance(item, Tok) and item.type == "END":
                closed += 1
            elif isinstance(item, Tok) and item.type in BLOCK_OPENERS:
                if closed:
                    closed -= 1
                    continue
                what = BLOCK_OPENERS[item.type]
                follower = stack[index + 1] if index + 1 < len(stack) else None
                if item.type in ("SCENARIO", "TEMPLATE", "PROGRAM") and isinstance(follower, Tok):
                    what = f"{what} {follower.value}"
                return item, what
        return None

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _accepts(state: ParserState, tokens: list[Tok]) -> bool:
        """Would the parser take these tokens? Tried on a copy that builds nothing."""
        trial = state.trial()
        try:
            for token in tokens:
                trial.feed(token)
        except ParseError:
            return False
        return True

    @staticmethod
    def _token(kind: str, value: str, like: Tok | None) -> Tok:
        return like.like(kind, value) if like is not None else Tok(kind, value)

    def _eof(self) -> Tok:
        return self._token("$END", "", self.last_token)

    def _span(self, token: Tok) -> Span:
        start = token.start_pos or 0
        end = token.end_pos if token.end_pos is not None else start + len(str(token.value))
        return Span(
            self.file,
            token.line or 1,
            token.column or 1,
            token.end_line or token.line or 1,
            token.end_column or (token.column or 1) + 1,
            start,
            end,
        )

    def _eof_span(self) -> Span:
        end = len(self.text.rstrip())
        return span_of_offsets(self.file, self.text, max(end - 1, 0), end) if end else Span.whole_file(self.file)


def _end_of(token: Tok) -> tuple[int, int, int]:
    assert token.end_pos is not None and token.end_line is not None and token.end_column is not None
    return token.end_pos, token.end_line, token.end_column


@functools.cache
def tables() -> Tables:
    """The process-wide parse tables."""
    return Tables(load_table_data(), ToAst())


class Parsed(msgspec.Struct, frozen=True):
    #: The file's items as AST nodes (built while parsing), or None if unrecoverable.
    items: list[Any] | None
    diagnostics: list[Diagnostic]
    comments: list[Tok]
    #: Input was skipped to recover, so the tree may not be what the author meant.
    lossy: bool


def parse_items(text: str, file: str, with_tables: Tables | None = None) -> Parsed:
    """Parse ``text`` into AST items, with every syntax diagnostic and the comments.

    ``with_tables`` replaces the process-wide tables (tests compare cached and fresh ones).
    """
    comments: list[Tok] = []
    context = ParseContext(file, text)
    reset_comments = current_comments.set(comments)
    reset_file = current_file.set(context)
    try:
        driver = _Driver(text, file, with_tables or tables())
        items = driver.run()
    finally:
        current_comments.reset(reset_comments)
        current_file.reset(reset_file)
    driver.sink.extend(context.sink.sorted())
    return Parsed(items, driver.sink.sorted(), comments, driver.lossy or context.lossy or items is None)
