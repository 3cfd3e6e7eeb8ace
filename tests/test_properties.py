"""Properties over generated input: parsing never crashes, formatting keeps meaning.

Programs are generated from the grammar itself (hypothesis.extra.lark), with a space
after every token, and must parse: the generator draws each token from its terminal's
own pattern, so what it makes is what the lexer reads. Arbitrary text and damaged
copies of the examples check that nothing but our own diagnostics ever comes out.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

from scn.grammar import parse
from scn.grammar._format import format_source
from scn.grammar._parser import grammar_text, lark_options
from scn.interpreter.ast import same_meaning
from scn.interpreter.checker import check_workspace
from scn.interpreter.workspace import workspace_from_texts

from .conftest import EXAMPLES

# Built without the on-disk cache: this is also the proof that the grammar is
# conflict-free under strict=True.
GRAMMAR = Lark(grammar_text(), **lark_options(grammar_text()))


def _whole_tokens(regex: re.Pattern[str]) -> st.SearchStrategy[str]:
    """Printable strings the lexer would read as one whole token, plus a space."""

    def whole(text: str) -> bool:
        match = regex.match(text)
        return match is not None and match.end() == len(text)

    printable = st.characters(codec="ascii", min_codepoint=32)
    return st.from_regex(regex, fullmatch=True, alphabet=printable).filter(whole).map(lambda s: s + " ")


def _spaced_terminals() -> dict[str, st.SearchStrategy[str]]:
    """Every token followed by whitespace, so keywords never run into each other."""
    explicit: dict[str, st.SearchStrategy[str]] = {}
    for terminal in GRAMMAR.terminals:
        if terminal.name in ("WS", "COMMENT") or terminal.priority < 0:
            continue  # negative priorities: text no rule takes, for the recovery driver
        pattern = terminal.pattern
        if pattern.type == "str":
            explicit[terminal.name] = st.just(pattern.value + " ")
        else:
            explicit[terminal.name] = _whole_tokens(re.compile(pattern.to_regexp()))
    explicit["COMMENT"] = st.from_regex(r"#[^\n]{0,10}", fullmatch=True).map(lambda s: s + "\n")
    explicit["WS"] = st.sampled_from([" ", "\n", "\n\n  "])
    return explicit


def _generating_grammar() -> Lark:
    """The grammar, where only a field path comes before `is set` and `is not set`.

    The language's grammar takes any value there, so that the transformer can say what
    is wrong with `1 + x is set` (SCN012); the generator makes only programs that parse.
    """
    text = grammar_text()
    for test in ('sum "is" "set"', 'sum "is" "not" "set"'):
        assert text.count(test) == 1, test
        text = text.replace(test, "path" + test.removeprefix("sum"))
    return Lark(text, **lark_options(text))


PROGRAMS = from_lark(_generating_grammar(), explicit=_spaced_terminals())
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)


def _spans_inside(text: str, result_diagnostics: tuple) -> None:  # type: ignore[type-arg]
    for d in result_diagnostics:
        assert 0 <= d.span.start <= d.span.end <= len(text) + 1
        assert d.span.line >= 1 and d.span.column >= 1


@SETTINGS
@given(PROGRAMS)
def test_generated_programs_parse(text: str) -> None:
    result = parse(text, "gen.scn")
    assert result.ok, [d.message for d in result.diagnostics]
    check_workspace(workspace_from_texts({"gen.scn": text}))  # never raises


@SETTINGS
@given(PROGRAMS)
def test_formatting_generated_programs_keeps_meaning_and_is_idempotent(text: str) -> None:
    result = parse(text, "gen.scn")
    assert result.ok, [d.message for d in result.diagnostics]
    formatted = format_source(result)
    again = parse(formatted, "gen.scn")
    assert again.ok, [d.message for d in again.diagnostics]
    assert again.module is not None and result.module is not None
    assert same_meaning(again.module.items, result.module.items)
    assert format_source(again) == formatted


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    result = parse(text, "junk.scn")
    _spans_inside(text, result.diagnostics)


EXAMPLE_TEXTS = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.scn"))]


JUNK = st.sampled_from(["", "end", "(", '"', "if", "@", " 3", "“", "ü"])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(EXAMPLE_TEXTS), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 6), JUNK), max_size=4))
def test_damaged_examples_never_raise(text: str, edits: list[tuple[float, int, str]]) -> None:
    """Cut pieces out of real files and drop junk in: only diagnostics come out."""
    for where, cut, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + cut :]
    result = parse(text, "damaged.scn")
    _spans_inside(text, result.diagnostics)
    check_workspace(workspace_from_texts({"damaged.scn": text}))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.scn")), ids=lambda p: Path(p).stem)
def test_formatting_examples_keeps_meaning(path: Path) -> None:
    result = parse(path.read_text(encoding="utf-8"), path.name)
    formatted = format_source(result)
    again = parse(formatted, path.name)
    assert again.module is not None and result.module is not None
    assert same_meaning(again.module.items, result.module.items)
    assert format_source(again) == formatted
