"""Feeding Lark's parser token by token, and recovering from syntax errors.

The driver runs Lark's interactive parser (``Lark.parse_interactive``) over the tokens
of Lark's contextual lexer (``iter_parse``), so that one run reports every syntax error
in a file: where the parser refuses a token, the mistake is mapped to a named
diagnostic and the parser is put back on its feet in one of these ways:

* a misspelled keyword is replaced by the keyword it most likely meant;
* a missing `end` is supplied, reported at the block it should close;
* `30 min` becomes `30m`, `=` in a condition becomes `==`, `x is null` `x is not set`;
* text that is no part of the language (the last terminals of scn.lark: a string not
  closed, an unknown escape, curly quotes, a name in other letters) is named, and
  repaired where its meaning is plain;
* anything else is skipped, and errors that follow within two tokens of an earlier
  one are not reported, since they are usually echoes of the first.

A repair is tried first on a copy of the parser (``InteractiveParser.copy``); what the
parser can take comes from ``choices()`` and ``accepts()``. Some repairs read the
parser's stacks (``parser_state``): which block an `end` is missing from, whether the
token before was a number; and `x is 5` takes back the shift of `is`. After
MAX_ERRORS_PER_FILE errors, repaired or not, the rest of the file is not read; nor after
MAX_REFUSED_TOKENS refused tokens, most of them echoes not reported (`a.a.a.…`): each one
is tried against the repairs on copies of the parser, which costs about a millisecond.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedToken
from lark.parsers.lalr_interactive_parser import InteractiveParser

from ..interpreter import codes
from ..interpreter.diagnostics import Diagnostic, Fix, Related
from ..interpreter.span import Span, span_of_offsets
from ..interpreter.suggest import closest_keyword
from ._context import ParseContext, TooManyErrors, current_file
from ._messages import (
    BLOCK_OPENERS,
    DURATION_WORDS,
    HEADER_TERMINALS,
    HEADER_WORDS,
    NULL_WORDS,
    STEP_WORDS,
    VALUE_STARTS,
    describe_expected,
    describe_token,
)
from ._parser import keywords, parser

MAX_MISSING_ENDS = 12
#: Refused tokens after which the rest of a file is not read (see the module's docstring).
MAX_REFUSED_TOKENS = 500
#: Errors closer than this many accepted tokens to the previous one are echoes.
ECHO_DISTANCE = 2


class _Driver:
    def __init__(self, context: ParseContext, lark: Lark) -> None:
        self.context = context
        self.text = context.text
        self.file = context.file
        self.accepted_since_error = ECHO_DISTANCE
        self.refused = 0
        self.last_token: Token | None = None
        #: Set when input had to be skipped; repairs (typos, missing `end`) keep it False.
        self.lossy = False
        self.lark = lark
        self.terminal_of, self.keyword_of = _words(lark)
        self.ip: InteractiveParser = lark.parse_interactive(context.text)

    # ------------------------------------------------------------ the loop

    def run(self) -> list[Any] | None:
        self.read_all()
        return self._finish()

    def read_all(self) -> None:
        """Feed every token of the text, recovering from errors on the way."""
        while True:
            # iter_parse() hands out each token before it feeds it to the parser: when
            # a token comes, the one before has been taken. A refused token ends it.
            previous = pending = None
            count = 0
            try:
                for token in self.ip.iter_parse():
                    previous, pending = pending, token
                    count += 1
            except UnexpectedToken as error:
                self._taken(count - 1, previous)
                self._bad_token(error.token, error.expected)
                continue
            self._taken(count, pending)
            return

    def _taken(self, count: int, last: Token | None) -> None:
        if count > 0 and last is not None:
            self.accepted_since_error += count
            self.last_token = last

    def _feed(self, token: Token) -> None:
        try:
            self.ip.feed_token(token)
        except UnexpectedToken as error:
            self._bad_token(token, error.expected)
        else:
            self.accepted_since_error += 1
            self.last_token = token

    def _finish(self) -> list[Any] | None:
        for _ in range(MAX_MISSING_ENDS):
            if self._accepts([self._eof()]):
                result: list[Any] = self.ip.feed_token(self._eof())
                return result
            if "END" not in self._takes():
                if self.accepted_since_error >= 1 or not len(self.context.sink):
                    self.context.report(
                        codes.UNEXPECTED_END_OF_FILE,
                        "the file ends in the middle of a statement",
                        self._eof_span(),
                    )
                return None
            self._report_missing_end(None)
            self.ip.feed_token(self._token("END", "end", self.last_token))
        return None

    # ------------------------------------------------------------ recoveries

    def _bad_token(self, token: Token, expected: set[str]) -> None:
        self.refused += 1
        if self.refused > MAX_REFUSED_TOKENS and len(self.context.sink):
            raise TooManyErrors
        if token.type in _NOT_THE_LANGUAGE:
            _NOT_THE_LANGUAGE[token.type](self, token)
            return
        if self._fix_set_test(token, expected):
            return
        if self._misplaced_header(token, expected):
            return
        if self._close_blocks_for(token, expected):
            return
        if self._fix_spaced_duration(token):
            return
        if self._fix_keyword_typo(token, expected):
            return
        if self._fix_single_equals(token, expected):
            return
        self.lossy = True
        if self.accepted_since_error >= ECHO_DISTANCE:
            # The table's row can name tokens that lead to an error a few reductions on
            # (LALR merges states); ask the parser what it really takes.
            self.context.report(
                codes.UNEXPECTED_TOKEN,
                f"unexpected {describe_token(token.type, str(token.value))}; "
                f"expected {describe_expected(self._takes(), self.keyword_of)}",
                self._span(token),
            )
        self.accepted_since_error = 0

    def _keyword_terminal(self, token: Token) -> str | None:
        if token.type == "NAME":
            return self.terminal_of.get(str(token.value))
        return token.type if token.type in self.keyword_of else None

    def _close_blocks_for(self, token: Token, expected: set[str]) -> bool:
        """A keyword that fits only once open blocks are closed means an `end` is missing."""
        terminal = self._keyword_terminal(token)
        if terminal is None or "END" not in expected:
            return False
        keyword = self._token(terminal, str(token.value), token)
        for count in range(1, MAX_MISSING_ENDS + 1):
            ends = [self._token("END", "end", token) for _ in range(count)]
            if self._accepts(ends + [keyword]):
                break
        else:
            return False
        for end in ends:
            self._report_missing_end(token)
            self.ip.feed_token(end)
        self._feed(keyword)
        return True

    def _fix_keyword_typo(self, token: Token, expected: set[str]) -> bool:
        if token.type != "NAME":
            return False
        word = str(token.value)
        # Sorted: of two keywords as close, the guess must not follow the order of a set.
        candidates = sorted(
            self.keyword_of[t] for t in expected if t in self.keyword_of and self.keyword_of[t].isalpha()
        )
        guess = closest_keyword(word, candidates)
        if guess is None or guess == word:
            return False
        replacement = self._token(self.terminal_of[guess], guess, token)
        if not self._accepts([replacement]):
            return False
        where = self._span(token)
        self.context.report(
            codes.MISSPELLED_KEYWORD,
            f"unknown word `{word}`: did you mean `{guess}`?",
            where,
            fix=Fix(where, guess, f"write `{guess}`"),
        )
        self._feed(replacement)
        return True

    def _fix_spaced_duration(self, token: Token) -> bool:
        """`wait 30 min` -> the number becomes the duration 30m, and parsing goes on."""
        previous = self.last_token
        unit = DURATION_WORDS.get(str(token.value).lower()) if token.type == "NAME" else None
        if unit is None or previous is None or previous.type != "NUMBER":
            return False
        if previous.end_line != token.line or not str(previous.value).isdigit():
            return False
        stack: list[Any] = self.ip.parser_state.value_stack
        if not stack or stack[-1] is not previous:
            return False
        where = self._span(previous).to(self._span(token))
        duration = f"{previous.value}{unit}"
        self.context.report(
            codes.DURATION_WITHOUT_UNIT,
            f"`{previous.value} {token.value}` is not a duration: write `{duration}`",
            where,
            fix=Fix(where, duration, f"write `{duration}`"),
        )
        previous.type = "DURATION"
        previous.value = f"{previous.value}{unit}"
        previous.end_pos, previous.end_line, previous.end_column = _end_of(token)
        self.accepted_since_error = ECHO_DISTANCE
        return True

    def _fix_single_equals(self, token: Token, expected: set[str]) -> bool:
        double = self.terminal_of.get("==")
        if token.type != self.terminal_of.get("=") or double is None or double not in expected:
            return False
        replacement = self._token(double, "==", token)
        if not self._accepts([replacement]):
            return False
        where = self._span(token)
        self.context.report(
            codes.ASSIGN_IN_CONDITION, "`=` in a comparison: write `==`", where, fix=Fix(where, "==", "write `==`")
        )
        self._feed(replacement)
        return True

    def _fix_set_test(self, token: Token, expected: set[str]) -> bool:
        """`x is null` -> `x is not set`, `x is not null` -> `x is set`, `x is 5` -> `x == 5`.

        The parser has just shifted `is` (and `not`) when the word after it does not fit;
        taking back a shift leaves it as it was before, so the repaired tree says what
        the author meant.
        """
        is_, not_, set_ = (self.terminal_of.get(word) for word in ("is", "not", "set"))
        values: list[Any] = self.ip.parser_state.value_stack
        previous = self.last_token
        if set_ not in expected or previous is None or not values or values[-1] is not previous:
            return False
        negated = previous.type == not_
        shifted = [previous]
        if negated:
            if len(values) < 2 or not isinstance(values[-2], Token) or values[-2].type != is_:
                return False
            shifted.insert(0, values[-2])
        elif previous.type != is_:
            return False
        word = str(token.value)
        where = self._span(shifted[0]).to(self._span(token))
        if token.type == "NAME" and word.lower() in NULL_WORDS:
            spelled = "is set" if negated else "is not set"
            self.context.report(
                codes.BAD_SET_TEST,
                f"`{' '.join(str(t.value) for t in shifted)} {word}` is written `{spelled}`",
                where,
                'an empty string is a value: compare with `== ""` for that',
                fix=Fix(where, spelled, f"write `{spelled}`"),
            )
            if negated:
                self._take_back(1)
            else:
                self._feed(_like(token, not_ or "NOT", "not"))
            self._feed(_like(token, set_ or "SET", "set"))
            return True
        if token.type not in VALUE_STARTS or closest_keyword(word, ("set", "not")) is not None:
            return False  # `is sett` is a typo, for the next repair
        operator = "!=" if negated else "=="
        compared = self._span(shifted[0]).to(self._span(shifted[-1]))
        self.context.report(
            codes.BAD_SET_TEST,
            f"`is` does not compare values: write `{operator}`",
            compared,
            "`is set` and `is not set` ask whether a field holds a value",
            fix=Fix(compared, operator, f"write `{operator}`"),
        )
        self._take_back(len(shifted))
        self._feed(_like(shifted[0], self.terminal_of[operator], operator))
        keyword = self.terminal_of.get(word) if token.type == "NAME" else None
        self._feed(_like(token, keyword, word) if keyword is not None and keyword in self._choices() else token)
        return True

    def _take_back(self, shifts: int) -> None:
        """Undo the last ``shifts`` shifts (tokens shifted one after another, nothing reduced)."""
        del self.ip.parser_state.state_stack[-shifts:]
        del self.ip.parser_state.value_stack[-shifts:]

    def _misplaced_header(self, token: Token, expected: set[str]) -> bool:
        """A scenario header among the steps: say so, then skip it."""
        word = _PATTERN_KEYWORDS.get(token.type, str(token.value))
        step_terminals = {self.terminal_of[w] for w in STEP_WORDS if w in self.terminal_of}
        header = word in HEADER_WORDS or token.type in HEADER_TERMINALS
        if not header or not expected & step_terminals:
            return False
        self.context.report(
            codes.MISPLACED_HEADER,
            f"`{word}` is a scenario header, but the steps have already begun",
            self._span(token),
            "move it up, before the first step",
        )
        self.lossy = True
        self.accepted_since_error = 0
        return True

    # ------------------------------------------------------------ text no rule takes

    def _unclosed_string(self, token: Token) -> None:
        self.context.report(
            codes.UNTERMINATED_STRING, "this string is not closed before the end of the line", self._span(token)
        )
        self._skipped()

    def _bad_escape(self, token: Token) -> None:
        """`"tab\\q"` is read as a string; the transformer reports the escape if it is taken."""
        self._feed(token.update("STRING"))

    def _quoted(self, token: Token) -> None:
        """'text', “text”, „text” or «text» -> the string "text", and parsing goes on."""
        text = str(token.value)
        inner = text[1:-1].replace("\\", "\\\\").replace('"', '\\"')
        where = self._span(token)
        self.context.report(
            codes.UNEXPECTED_CHARACTER,
            f"`{text[0]}` does not start a string",
            where,
            'strings use straight double quotes: "text"',
            fix=Fix(where, f'"{inner}"', f'write `"{inner}"`'),
        )
        self.accepted_since_error = 0  # a string out of place here is the same mistake
        self._feed(token.update("STRING", f'"{inner}"'))

    def _foreign_word(self, token: Token) -> None:
        """`list неоплачені` -> reported, then read as a name so parsing goes on."""
        word = str(token.value)
        if not word.isidentifier() or "NAME" not in self._choices():
            # The letters up to the first Latin one are stray; the rest is read on.
            foreign = next((i for i, char in enumerate(word) if char.isascii()), len(word))
            self._stray(token, word[:foreign])
            self._read_on(token, foreign)
            return
        self.context.report(
            codes.UNEXPECTED_CHARACTER,
            f"`{word}` is not a name: names use Latin letters, digits and `_`",
            self._span(token),
            f'keep the words for people in the title string: list unpaid "{word}"',
        )
        self.accepted_since_error = ECHO_DISTANCE
        self._feed(token.update("NAME"))

    def _stray(self, token: Token, text: str | None = None) -> None:
        text = str(token.value) if text is None else text
        if self.accepted_since_error >= ECHO_DISTANCE:
            self.context.report(
                codes.UNEXPECTED_CHARACTER,
                f"unexpected character `{text}`",
                span_of_offsets(self.file, self.text, token.start_pos or 0, (token.start_pos or 0) + len(text)),
            )
        self._skipped()

    def _read_on(self, token: Token, offset: int) -> None:
        """Feed the tokens of the rest of ``token`` from ``offset`` (Latin letters, digits
        and `_` on one line), read by Lark's lexer: `üper` is `ü`, skipped, then `per`."""
        rest = str(token.value)[offset:]
        if not rest:
            return
        start, column = (token.start_pos or 0) + offset, (token.column or 1) + offset
        for part in self.lark.lex(rest):
            kind = part.type
            if kind in self.keyword_of and kind not in self._choices():
                kind = "NAME"  # a keyword only where the parser can take it
            self._feed(
                Token(kind, part.value, start + (part.start_pos or 0), token.line, column + (part.column or 1) - 1,
                      token.line, column + (part.end_column or 1) - 1, start + (part.end_pos or 0))
            )  # fmt: skip

    def _skipped(self) -> None:
        self.lossy = True
        self.accepted_since_error = 0

    def _report_missing_end(self, before: Token | None) -> None:
        opener = self._innermost_opener()
        where = f"before {describe_token(before.type, str(before.value))}" if before else "before the end of the file"
        noticed = self._span(before) if before is not None else self._eof_span()
        if opener is None:
            self.context.report(codes.MISSING_END, f"`end` missing {where}", noticed)
            return
        token, what = opener
        self.context.report(
            codes.MISSING_END,
            f"`{what}` is not closed: `end` missing {where}",
            self._span(token),
            "an `end` may be missing inside it instead: every if, bands, split, on timeout,"
            " template, program, scenario and broadcast needs its own",
            related=(Related(noticed, "`end` expected here"),),
        )

    def _innermost_opener(self) -> tuple[Token, str] | None:
        """The innermost block still open; an `end` already on the stack closes one."""
        stack = self.ip.parser_state.value_stack
        closed = 0
        for index in range(len(stack) - 1, -1, -1):
            item = stack[index]
            if isinstance(item, Token) and item.type == "END":
                closed += 1
            elif isinstance(item, Token) and item.type in BLOCK_OPENERS:
                if closed:
                    closed -= 1
                    continue
                what = BLOCK_OPENERS[item.type]
                follower = stack[index + 1] if index + 1 < len(stack) else None
                if item.type in ("SCENARIO", "TEMPLATE", "PROGRAM", "BROADCAST") and isinstance(follower, Token):
                    what = f"{what} {follower.value}"
                return item, what
        return None

    # ------------------------------------------------------------ helpers

    def _accepts(self, tokens: list[Token]) -> bool:
        """Would the parser take these tokens? Tried on a copy, whose AST is thrown away."""
        trial: InteractiveParser = self.ip.copy(deepcopy_values=False)  # type: ignore[no-untyped-call]
        # The copy shares the values on the stack with the parser. Lark's tree builder
        # grows the lists of repetitions (Lark's `_rules`, the only trees on the stack)
        # in place, so the copy gets lists of its own (lark-parser/lark#1142).
        values = trial.parser_state.value_stack
        for index, value in enumerate(values):
            if isinstance(value, Tree):
                values[index] = Tree(value.data, list(value.children))
        # What the transformer reports for the copy is not reported.
        reset = current_file.set(self.context.scratch())
        try:
            for token in tokens:
                trial.feed_token(token)
        except UnexpectedToken:
            return False
        finally:
            current_file.reset(reset)
        return True

    def _takes(self) -> set[str]:
        """The terminals the parser takes now (those of ``_choices`` that lead nowhere, not)."""
        return set(self.ip.accepts())  # type: ignore[no-untyped-call]

    def _choices(self) -> dict[str, Any]:
        """What the parser's current state has an action for."""
        return dict(self.ip.choices())  # type: ignore[no-untyped-call]

    @staticmethod
    def _token(kind: str, value: str, like: Token | None) -> Token:
        return _like(like, kind, value) if like is not None else Token(kind, value, 0, 1, 1, 1, 1, 0)

    def _eof(self) -> Token:
        return self._token("$END", "", self.last_token)

    def _span(self, token: Token) -> Span:
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


#: Tokens of the terminals that are no part of the language (the end of scn.lark).
_NOT_THE_LANGUAGE = {
    "UNCLOSED_STRING": _Driver._unclosed_string,
    "BAD_ESCAPE_STRING": _Driver._bad_escape,
    "QUOTED": _Driver._quoted,
    "FOREIGN_WORD": _Driver._foreign_word,
    "STRAY": _Driver._stray,
}


@functools.cache
def _words(lark: Lark) -> tuple[dict[str, str], dict[str, str]]:
    """Keyword and punctuation text -> terminal name, and back."""
    terminal_of = keywords(lark)
    return terminal_of, {name: word for word, name in terminal_of.items()}


def _like(token: Token, kind: str, value: str) -> Token:
    """A token of another kind at ``token``'s place (for repairs and trials)."""
    return Token.new_borrow_pos(kind, value, token)


def _end_of(token: Token) -> tuple[int, int, int]:
    assert token.end_pos is not None and token.end_line is not None and token.end_column is not None
    return token.end_pos, token.end_line, token.end_column


class Parsed(msgspec.Struct, frozen=True):
    #: The file's items as AST nodes (built while parsing), or None if unrecoverable.
    items: list[Any] | None
    diagnostics: list[Diagnostic]
    comments: list[Token]
    #: Input was skipped to recover, so the tree may not be what the author meant.
    lossy: bool


def parse_items(text: str, file: str, with_parser: Lark | None = None) -> Parsed:
    """Parse ``text`` into AST items, with every syntax diagnostic and the comments.

    ``with_parser`` replaces the process-wide parser (tests compare cached and fresh ones).
    """
    context = ParseContext(file, text)
    reset = current_file.set(context)
    driver = None
    try:
        driver = _Driver(context, with_parser or parser())
        items = driver.run()
    except TooManyErrors:
        items = None
    finally:
        current_file.reset(reset)
    lossy = driver is None or driver.lossy or context.lossy or items is None
    return Parsed(items, context.sink.sorted(), context.comments, lossy)


class Expected(msgspec.Struct, frozen=True):
    """What the parser takes at a point of a file (for an editor's completion)."""

    #: The words and punctuation it takes there (`send`, `stop if`, `==`).
    keywords: tuple[str, ...]
    #: The kinds of token it takes there by terminal name (NAME, DURATION, STRING, ...).
    terminals: frozenset[str]


#: Terminals that are keywords read by a pattern (`stop  if` on one line), as written.
_PATTERN_KEYWORDS = {
    "STOP_IF": "stop if",
    "STOP_UNLESS": "stop unless",
    "ALL_ITEMS": "all items",
    "ANY_ITEM": "any item",
    "SEND_ONLY": "send only",
}


def expected_at(text: str, offset: int) -> Expected:
    """What the parser takes after ``text[:offset]``, errors before it recovered as
    ``parse`` recovers them."""
    context = ParseContext("<expected>", text[:offset], limit=None)
    reset = current_file.set(context)
    try:
        driver = _Driver(context, parser())
        driver.read_all()
        takes = driver._takes()
    except TooManyErrors:  # more refused tokens than a file may have: nothing is sure
        return Expected((), frozenset())
    finally:
        current_file.reset(reset)
    words = {driver.keyword_of[t] for t in takes if t in driver.keyword_of}
    words.update(word for terminal, word in _PATTERN_KEYWORDS.items() if terminal in takes)
    return Expected(tuple(sorted(words)), frozenset(takes))
