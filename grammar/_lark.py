"""Lark's part: analysing the grammar into LALR tables.

Lark reads scn.lark and builds the LALR(1) tables with strict=True, so any conflict in
the grammar fails the build. That is all Lark is used for: parsing itself runs in our
own lexer (_lexer.py) and LALR loop (_lalr.py), from tables that _tables.py keeps in
a per-user cache, so a normal run does not even import Lark.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lark import Lark
from lark.lexer import Lexer, LexerState

from ._tables import grammar_text


class ScnLexer(Lexer):
    """Given to Lark so that it builds no lexer of its own (its lexer is never used)."""

    __future_interface__ = 2

    def __init__(self, lexer_conf: Any) -> None:
        pass

    def lex(self, lexer_state: LexerState, parser_state: Any) -> Iterator[Any]:
        raise NotImplementedError("scn parses with grammar._driver, not with Lark.parse")


def lark_options() -> dict[str, Any]:
    """The options the grammar is analysed with.

    keep_all_tokens and maybe_placeholders shape the children each rule's AST builder
    receives (every token, and None where an optional part is missing).
    """
    return {
        "parser": "lalr",
        "lexer": ScnLexer,
        "strict": True,
        "keep_all_tokens": True,
        "maybe_placeholders": True,
    }


def build_lark() -> Lark:
    """Analyse the grammar afresh (about 0.8 s)."""
    return Lark(grammar_text(), **lark_options())
