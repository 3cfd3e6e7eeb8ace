"""Building the Lark parser once per process, with a safe on-disk cache.

The LALR tables come from Lark with strict=True, so a conflict in the grammar fails
the build; the lexer is our own (_lexer.py) and the AST is built during parsing by an
inline transformer (_transform.py).

Analysing the LALR tables takes ~0.8 s; loading them from Lark's cache takes ~0.04 s,
which decides whether a cold `scn check` feels instant. Lark's own default cache file
lives in the shared temp directory and holds a pickle, so another local user could
plant one. We keep the cache in a per-user directory that must be owned by us and closed
to others, and fall back to building without a cache whenever that does not hold.
Set SCN_GRAMMAR_CACHE=0 to turn the cache off.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
from importlib import resources
from typing import Any

import lark
from lark import Lark

GRAMMAR_FILE = "scn.lark"


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
    """The options the grammar is built with (tests build it again without a cache).

    Lark is used for its grammar analysis and tables only: our lexer and LALR loop do
    the parsing. The options still matter: keep_all_tokens and maybe_placeholders shape
    the children each rule's AST builder receives.
    """
    from ._lexer import ScnLexer

    return {
        "parser": "lalr",
        "lexer": ScnLexer,
        "strict": True,
        "keep_all_tokens": True,
        "maybe_placeholders": True,
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
