"""scn.lark is the one source of the terminals: everything that names them or reads
their text follows it, and drifts from it fail here.

The lexer is Lark's, built from the grammar's own patterns; what is derived from the
terminals is checked against the grammar as Lark compiled it: which terminals are read
in every lexer state, the words error messages use, the keywords that start a step, a
header or a declaration, the blocks an `end` closes, the driver's handling of the text
no rule takes, and how the transformer and the formatter read and write literals.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lark import Lark
from lark.grammar import Terminal

from scn.grammar import _driver, _messages, _transform, parse
from scn.grammar._format import literal_text
from scn.grammar._parser import build_parser, grammar_text, keywords, named_terminals
from scn.interpreter import ast

#: Built afresh, the grammar as Lark compiles it, with Lark's check that no two
#: terminals can read the same text (which scn's own parser skips).
LARK: Lark = build_parser(None, checked=True)
TERMINALS = {t.name: t for t in LARK.terminals}
KEYWORDS = {word: name for word, name in keywords(LARK).items() if word.isalpha()}
#: Terminals of text no rule takes (negative priority): the recovery driver's.
NOT_THE_LANGUAGE = {name for name, t in TERMINALS.items() if t.priority < 0}
IGNORED = set(LARK.ignore_tokens)
LITERALS: dict[str, type[ast.Node]] = {
    "NUMBER": ast.NumberLit,
    "MONEY": ast.MoneyLit,
    "PERCENT": ast.PercentLit,
    "DURATION": ast.DurationLit,
    "DATE": ast.DateLit,
    "TIME": ast.TimeLit,
    "STRING": ast.StringLit,
}


def test_every_terminal_but_the_keywords_is_named_in_the_grammar() -> None:
    # Named terminals are read in every lexer state, so only keywords are contextual: a
    # quoted "!" in a rule would get a name from Lark and be read only where it fits.
    named = set(named_terminals(grammar_text()))
    assert named == set(TERMINALS) - set(KEYWORDS.values())
    assert all(TERMINALS[name].pattern.type == "str" for name in KEYWORDS.values())


def test_the_words_for_terminals_in_messages_are_the_grammars() -> None:
    language = {
        name
        for name, t in TERMINALS.items()
        if t.pattern.type == "re" and name not in NOT_THE_LANGUAGE and name not in IGNORED
    }
    assert set(_messages._TERMINAL_WORDS) - {"$END"} == language
    named_in_code = (
        set(_messages._TOKEN_WORDS)
        | _messages.VALUE_STARTS
        | set(_messages.BLOCK_OPENERS)
        | _transform._VALUE_TERMINALS
    )
    assert named_in_code <= set(TERMINALS)


def test_the_driver_names_every_kind_of_text_no_rule_takes() -> None:
    assert set(_driver._NOT_THE_LANGUAGE) == NOT_THE_LANGUAGE
    used = {sym.name for rule in LARK.rules for sym in rule.expansion if isinstance(sym, Terminal)}
    assert not NOT_THE_LANGUAGE & used


def _first_words(origin: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """The keywords a rule can start with (through `?rules` and aliases alike)."""
    words: set[str] = set()
    for rule in LARK.rules:
        if rule.origin.name != origin or not rule.expansion:
            continue
        first = rule.expansion[0]
        if isinstance(first, Terminal):
            pattern = TERMINALS[first.name].pattern
            if pattern.type == "str" and str(pattern.value).isalpha():
                words.add(str(pattern.value))
            elif first.name.startswith("STOP_"):
                words.add("stop")
        elif first.name not in seen:
            words |= _first_words(first.name, seen | {origin})
    return words


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("step_body", _messages.STEP_WORDS),
        ("header", _messages.HEADER_WORDS),
        ("item", _messages.DECLARATION_WORDS),
    ],
)
def test_the_keywords_that_start_a_statement_are_the_grammars(rule: str, words: frozenset[str]) -> None:
    assert _first_words(rule) == set(words)


def test_the_blocks_an_end_closes_are_the_grammars() -> None:
    openers = set()
    for rule in LARK.rules:
        if rule.expansion and rule.expansion[-1].name == "END":
            leading = []
            for sym in rule.expansion:
                if not (isinstance(sym, Terminal) and sym.name in KEYWORDS.values()):
                    break
                leading.append(sym.name)
            openers.add(leading[-1])
    assert openers == set(_messages.BLOCK_OPENERS)


def test_operators_and_duration_words_are_the_grammars() -> None:
    texts = set(keywords(LARK))
    assert _messages.OPERATORS <= texts
    units = set(re.findall(r"ms|s|m|h|d|w", TERMINALS["DURATION"].pattern.value))
    assert set(_messages.DURATION_WORDS.values()) == units


def _token_texts(name: str) -> st.SearchStrategy[str]:
    regex = re.compile(TERMINALS[name].pattern.to_regexp())
    alphabet = st.characters(codec="utf-8")
    return st.from_regex(regex, fullmatch=True, alphabet=alphabet).filter(lambda s: "\n" not in s)


def _value(text: str) -> ast.Expr:
    result = parse(f"segment s where x == {text}\n", "t.scn")
    assert result.ok and result.module is not None, (text, [d.message for d in result.diagnostics])
    (segment,) = result.module.items
    assert isinstance(segment, ast.SegmentDecl) and isinstance(segment.condition, ast.Binary)
    return segment.condition.right


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(LITERALS)).flatmap(lambda name: st.tuples(st.just(name), _token_texts(name))))
def test_the_transformer_and_the_formatter_read_and_write_what_the_lexer_reads(case: tuple[str, str]) -> None:
    name, text = case
    node = _value(text)
    assert isinstance(node, LITERALS[name])
    assert ast.same_meaning(_value(literal_text(node)), node)


def test_every_rule_that_makes_a_node_has_its_transformer_method() -> None:
    # A rule without one would leave one of Lark's trees in the AST.
    missing = set()
    for rule in LARK.rules:
        name = str(rule.alias or rule.origin.name)
        passes_through = rule.options.expand1 and not rule.alias and len(rule.expansion) == 1
        if not name.startswith("_") and not passes_through and not callable(getattr(_transform.ToAst, name, None)):
            missing.add(name)
    assert missing == set()
