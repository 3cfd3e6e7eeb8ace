"""The parser: Lark's LALR(1) over scn.lark, with its contextual lexer and our transformer.

Built once per process. Analysing the grammar takes a few hundred milliseconds, so Lark
keeps the analysis in its cache (``cache=``), a pickle, which we put in the private
per-user cache directory (_cache.py); where that is not safe, the grammar is analysed
afresh on each run.

Keywords are contextual: Lark's contextual lexer reads in each parser state only the
terminals that state can take. Every named terminal of the grammar (NAME, STRING, the
punctuation, ...) is given to every state through the post-lexer's ``always_accept``,
so only the keywords (the grammar's quoted words) depend on the state: a word is a
keyword where the parser can take that keyword, and a NAME everywhere else.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

import lark
from lark import Lark, Token
from lark.lark import PostLex

from ._cache import private_cache_file
from ._context import current_file
from ._transform import ToAst

GRAMMAR_FILE = "scn.lark"
#: A terminal definition in the grammar: `NAME:` or `MONEY.2:` at the start of a line.
_TERMINAL_DEFINITION = re.compile(r"^([A-Z][A-Z0-9_]*)(?:\.-?\d+)?\s*:", re.MULTILINE)


def grammar_text() -> str:
    """The grammar source as shipped in the package (beside this module: importing
    importlib.resources for it would cost a cold `scn check` 15 ms)."""
    with open(os.path.join(os.path.dirname(__file__), GRAMMAR_FILE), encoding="utf-8") as file:
        return file.read()


def named_terminals(grammar: str) -> tuple[str, ...]:
    """The terminals the grammar defines by name, in the order it defines them."""
    return tuple(_TERMINAL_DEFINITION.findall(grammar))


class _NamedTerminalsEverywhere(PostLex):
    """Has the contextual lexer read the named terminals in every state (see above).

    Lark takes ``always_accept`` from the post-lexer; the token stream itself passes
    through untouched.
    """

    def __init__(self, always_accept: tuple[str, ...]) -> None:
        self.always_accept = always_accept

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        return stream


def _on_comment(token: Token) -> Token:
    """Lark calls this for every comment it skips: the parse in progress keeps them."""
    current_file.get().comments.append(token)
    return token


def lark_options(grammar: str) -> dict[str, Any]:
    """The options the grammar is built with.

    keep_all_tokens and maybe_placeholders shape the children each rule's transformer
    method receives (every token, and None where an optional part is missing).
    """
    return {
        "parser": "lalr",
        "lexer": "contextual",
        "strict": True,
        "keep_all_tokens": True,
        "maybe_placeholders": True,
        "postlex": _NamedTerminalsEverywhere(named_terminals(grammar)),
    }


class _Unchecked(Lark):
    """Lark without its check that no two of the grammar's terminals can read the same text.

    That check (interegular's, strict mode) is of the grammar, not of what is parsed, and
    is most of the time of analysing the grammar, which the first check after install
    waits for. Lark itself skips it when it loads its cache; the tests make the parser
    with it (``checked=True``), and check that both parse alike.
    """

    def _build_parser(self) -> Any:
        self.lexer_conf.skip_validation = True
        return super()._build_parser()


def build_parser(cache: str | None, transformer: Any = None, *, checked: bool = False) -> Lark:
    """Lark for scn.lark with the transformer inline (it builds the AST while parsing).

    ``cache`` is a file for Lark's cache of the analysed grammar, or None for none;
    ``checked`` has Lark check the grammar's terminals (see _Unchecked).
    """
    grammar = grammar_text()
    options = lark_options(grammar)
    options["transformer"] = transformer
    options["lexer_callbacks"] = {"COMMENT": _on_comment}
    if cache is not None:
        # Lark names the file in its cache key, so it must be the file it reads from. It
        # writes the file in place: a process that reads it half-written fails to load
        # it and analyses the grammar itself (Lark's own fallback), then writes it again.
        options["cache"] = cache
    return (Lark if checked else _Unchecked)(grammar, **options)


def cache_file() -> str | None:
    """Where Lark keeps its analysis of this grammar, for this Lark and this Python."""
    digest = hashlib.sha256(grammar_text().encode()).hexdigest()[:16]
    python = "".join(str(n) for n in sys.version_info[:2])
    return private_cache_file(f"grammar-{digest}-lark{lark.__version__}-py{python}.pickle")


@functools.cache
def parser() -> Lark:
    """The process-wide parser."""
    return build_parser(cache_file(), ToAst())


def keywords(built: Lark) -> dict[str, str]:
    """Keyword and punctuation text -> terminal name ("send" -> SEND, "==" -> EQUAL_EQUAL)."""
    return {str(t.pattern.value): t.name for t in built.terminals if t.pattern.type == "str"}


__all__ = ["build_parser", "cache_file", "grammar_text", "keywords", "lark_options", "named_terminals", "parser"]
