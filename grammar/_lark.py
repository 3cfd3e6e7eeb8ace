"""Building the Lark parser once per process, with a safe on-disk cache.

Analysing the LALR tables takes ~0.8 s; loading them from Lark's cache takes ~0.04 s,
which decides whether a cold `scn check` feels instant. Lark's own default cache file
lives in the shared temp directory and holds a pickle, so another local user could
plant one. We keep the cache in a per-user directory that must be owned by us and closed
to others, and fall back to building without a cache whenever that does not hold.
Set SCN_GRAMMAR_CACHE=0 to turn the cache off.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import os
import stat
from collections.abc import Iterator
from importlib import resources
from typing import Any

import lark
from lark import Lark, Token
from lark.lark import PostLex

GRAMMAR_FILE = "scn.lark"


class KeepNames(PostLex):
    """Keep NAME in every contextual-lexer state.

    Without it, a state that accepts only keywords would lex `sender` as `send` + `er`.
    With NAME always present a whole word is read first and becomes a keyword only if
    it is exactly one that the state accepts.
    """

    always_accept = ("NAME",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        return stream


#: Comments of the file being parsed. The parser is shared, so the lexer callback
#: appends to whatever list the current parse has installed here.
current_comments: contextvars.ContextVar[list[Token] | None] = contextvars.ContextVar(
    "scn_current_comments", default=None
)


def _collect_comment(token: Token) -> Token:
    comments = current_comments.get()
    if comments is not None:
        comments.append(token)
    return token


def grammar_text() -> str:
    """The grammar source as shipped in the package."""
    return resources.files(__package__).joinpath(GRAMMAR_FILE).read_text(encoding="utf-8")


def _private_cache_file() -> str | None:
    if os.environ.get("SCN_GRAMMAR_CACHE", "1") == "0":
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    directory = os.path.join(base, "scn")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        info = os.stat(directory)
    except OSError:
        return None
    getuid = getattr(os, "getuid", None)
    if getuid is not None and (info.st_uid != getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
        return None
    digest = hashlib.sha256(grammar_text().encode()).hexdigest()[:16]
    path = os.path.join(directory, f"grammar-{digest}-lark{lark.__version__}.cache")
    if getuid is not None and os.path.exists(path):
        file_info = os.stat(path)
        if file_info.st_uid != getuid() or file_info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
    if not os.access(directory, os.W_OK):
        return None
    return path


def lark_options() -> dict[str, Any]:
    """The options the grammar is built with (tests build it again without a cache)."""
    return {
        "parser": "lalr",
        "lexer": "contextual",
        "strict": True,
        "propagate_positions": True,
        "maybe_placeholders": True,
        "postlex": KeepNames(),
        "lexer_callbacks": {"COMMENT": _collect_comment},
    }


@functools.cache
def get_lark() -> Lark:
    """The process-wide parser."""
    cache = _private_cache_file()
    return Lark.open_from_package(__package__, GRAMMAR_FILE, ("",), cache=cache if cache else False, **lark_options())


@functools.cache
def keyword_terminals() -> dict[str, str]:
    """Keyword text -> terminal name, for words the grammar spells out ("send" -> SEND)."""
    return {t.pattern.value: t.name for t in get_lark().terminals if t.pattern.type == "str"}
