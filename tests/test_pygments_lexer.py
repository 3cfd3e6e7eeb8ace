"""The Pygments lexer for .scn (scn/pygments_lexer.py): registered, total on every valid
file, and giving chosen words and literals the token types a style colours."""

from __future__ import annotations

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Literal, Name, Number, Operator, String, _TokenType

from scn.pygments_lexer import ScnLexer

from .conftest import EXAMPLES
from .test_docs import SCN_BLOCKS

VALID = {path.name: path.read_text(encoding="utf-8") for path in sorted(EXAMPLES.glob("*.scn"))}
VALID.update({f"language.md:{block.line}": block.text for block in SCN_BLOCKS})

SAMPLE = """# Welcome new contacts.
list vip
event lesson.done(course: string, score: number)
coupon WELCOME discount 10% generated "W-{XXXXXXXX}" valid 7d
template hi email
  from "Shop" <shop@example.com>
  subject "Hi {{ contact.first_name }}\\n"
  html "hi.html"
end
scenario welcome
  on contact.registered where contact.orders.total > 100 EUR and not contact.vip
  quiet hours 21:00 to 09:00
  @first wait 1h30m
  if days_since(contact.registered_at) >= 2 or order.total == 99.50 PLN
    send email hi with coupon WELCOME
  end
  add to list vip
  stop if contact.birthday is set and contact.birthday < 2000-01-01
end
"""


def tokens(text: str) -> list[tuple[_TokenType, str]]:
    return [(kind, value) for kind, value in ScnLexer().get_tokens(text) if value.strip()]


def kind_of(text: str, value: str, occurrence: int = 0) -> _TokenType:
    found = [kind for kind, v in tokens(text) if v == value]
    assert len(found) > occurrence, f"no token {value!r} (#{occurrence}) in {tokens(text)}"
    return found[occurrence]


def test_pygments_finds_the_lexer_by_name_and_by_file_name() -> None:
    assert isinstance(get_lexer_by_name("scn"), ScnLexer)
    assert isinstance(get_lexer_for_filename("scenarios/welcome.scn"), ScnLexer)


def test_there_are_files_to_lex() -> None:
    assert len(VALID) >= 45


@pytest.mark.parametrize("name", sorted(VALID))
def test_every_valid_file_lexes_without_errors_and_loses_nothing(name: str) -> None:
    text = VALID[name]
    lexed = list(ScnLexer().get_tokens(text))
    assert [value for kind, value in lexed if kind in Error] == []
    assert "".join(value for _, value in lexed) == text if text.endswith("\n") else text + "\n"


@pytest.mark.parametrize(
    ("value", "kind", "occurrence"),
    [
        ("# Welcome new contacts.", Comment.Single, 0),
        ("list", Keyword.Declaration, 0),
        ("vip", Name.Class, 0),
        ("lesson.done", Name.Class, 0),
        ("string", Keyword.Type, 0),
        ("coupon", Keyword.Declaration, 0),
        ("discount", Keyword.Reserved, 0),
        ("10%", Number.Percent, 0),
        ("7d", Number.Duration, 0),
        ("1h30m", Number.Duration, 0),
        ("100 EUR", Number.Money, 0),
        ("99.50 PLN", Number.Money, 0),
        ("2", Number.Integer, 0),
        ("21:00", Literal.Date, 0),
        ("2000-01-01", Literal.Date, 0),
        ("<shop@example.com>", String.Other, 0),
        ("{{ contact.first_name }}", String.Interpol, 0),
        ("\\n", String.Escape, 0),
        ("@first", Name.Label, 0),
        ("email", Keyword.Type, 0),
        ("on", Keyword, 0),
        ("wait", Keyword, 0),
        ("send", Keyword, 0),
        ("end", Keyword, 0),
        ("and", Operator.Word, 0),
        ("not", Operator.Word, 0),
        (">=", Operator, 0),
        ("days_since", Name.Function, 0),
        ("contact", Name.Builtin, 0),
        ("registered", Name.Attribute, 0),
        ("WELCOME", Name.Variable, 1),
        ("coupon", Keyword.Reserved, 1),
        ("hi", Name, 1),
    ],
)
def test_chosen_tokens(value: str, kind: _TokenType, occurrence: int) -> None:
    assert kind_of(SAMPLE, value, occurrence) == kind


def test_a_string_is_one_token_between_its_quotes() -> None:
    assert tokens('template t sms\n  text "Hello, wait 30m if"\nend\n')[4:7] == [
        (String.Double, '"'),
        (String.Double, "Hello, wait 30m if"),
        (String.Double, '"'),
    ]


def test_an_unclosed_string_ends_with_its_line() -> None:
    lexed = tokens('list a "open\nlist b\n')
    assert (Keyword.Declaration, "list") in lexed[3:]
    assert not any(kind in Error for kind, _ in lexed)


def test_a_field_named_like_a_keyword_is_a_field() -> None:
    assert kind_of("scenario s\n  on order.paid where order.end > 1\nend\n", "end", 0) == Name.Attribute


def test_what_is_not_scn_is_an_error_token() -> None:
    assert (Error, "н") in tokens("list неоплачені\n")
