"""The parse tables as plain data, kept in a private per-user cache.

Analysing the grammar takes about 0.8 s and importing Lark another 35 ms, which would
dominate a cold `scn check`. The tables our LALR loop needs are plain data (state
numbers, terminal names, the shape of each rule), so after the first run they are read
from a msgpack file in ~/.cache/scn (or $XDG_CACHE_HOME/scn), named by a hash of the
grammar. Being data rather than a pickle, a planted file could at worst break parsing,
never run code; the directory must still be ours and closed to others, or the cache
is not used. SCN_GRAMMAR_CACHE=0 turns it off.
"""

from __future__ import annotations

import hashlib
import os
import stat
from typing import Any

import msgspec

GRAMMAR_FILE = "scn.lark"

#: Bump when the shape of TableData or what the loop expects of it changes.
FORMAT = 1


class RuleShape(msgspec.Struct, array_like=True, frozen=True):
    """What a reduction needs to know about its rule."""

    size: int
    #: The nonterminal it makes (for the goto table).
    origin: str
    #: The builder method: the rule's alias, else its name.
    name: str
    #: A `?rule`: with one child it passes that child on.
    expand1: bool
    #: How many Nones go before each child (and after the last) for missing [options].
    gaps: list[int]
    #: Which children are lists to splice in (Lark's helper rules for repetitions).
    splice: list[bool]


class TableData(msgspec.Struct, array_like=True):
    grammar: str
    start_state: int
    end_state: int
    actions: list[dict[str, int]]
    gotos: list[dict[str, int]]
    rules: list[RuleShape]
    #: Keyword and punctuation text -> terminal name ("send" -> SEND, "==" -> __ANON_1).
    literals: dict[str, str]


def grammar_text() -> str:
    """The grammar source as shipped in the package (beside this module: importing
    importlib.resources for it would cost a cold `scn check` 15 ms)."""
    with open(os.path.join(os.path.dirname(__file__), GRAMMAR_FILE), encoding="utf-8") as file:
        return file.read()


def grammar_digest() -> str:
    return hashlib.sha256(grammar_text().encode()).hexdigest()[:16]


def from_lark(lark: Any) -> TableData:
    """Read the tables and rule shapes out of an analysed Lark grammar."""
    table = lark.parser.parser.parser.parse_table
    size = max(table.states) + 1
    actions: list[dict[str, int]] = [{} for _ in range(size)]
    gotos: list[dict[str, int]] = [{} for _ in range(size)]
    rules: list[RuleShape] = []
    index_of: dict[Any, int] = {}
    for state, row in table.states.items():
        for symbol, (action, arg) in row.items():
            symbol = str(symbol)  # Lark hands out its own str subclasses; keep plain data
            if action.name == "Shift":
                (actions if symbol.isupper() or symbol == "$END" else gotos)[state][symbol] = arg
                continue
            if arg not in index_of:
                index_of[arg] = len(rules)
                rules.append(_shape(arg))
            actions[state][symbol] = -1 - index_of[arg]
    literals = {str(t.pattern.value): str(t.name) for t in lark.terminals if t.pattern.type == "str"}
    return TableData(
        grammar_digest(), table.start_states["start"], table.end_states["start"], actions, gotos, rules, literals
    )


def _shape(rule: Any) -> RuleShape:
    expansion = rule.expansion
    flags = rule.options.empty_indices or ()
    if flags:  # Lark marks, per position, whether an optional part was left out there
        gaps = [len(ones) for ones in "".join(str(int(f)) for f in flags).split("0")]
    else:
        gaps = [0] * (len(expansion) + 1)
    return RuleShape(
        size=len(expansion),
        origin=str(rule.origin.name),
        name=str(rule.alias or rule.origin.name),
        expand1=bool(rule.options.expand1) and not rule.alias,
        gaps=gaps,
        splice=[not sym.is_term and sym.name.startswith("_") for sym in expansion],
    )


def private_cache_file(name: str) -> str | None:
    """A path in our per-user cache directory, or None where caching is not safe."""
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
    path = os.path.join(directory, name)
    if getuid is not None and os.path.exists(path):
        file_info = os.stat(path)
        if file_info.st_uid != getuid() or file_info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
    if not os.access(directory, os.W_OK):
        return None
    return path


def load_table_data() -> TableData:
    """The tables: from the cache when it holds this grammar's, else built (and cached)."""
    digest = grammar_digest()
    path = private_cache_file(f"tables-{digest}-v{FORMAT}.msgpack")
    if path is not None:
        try:
            with open(path, "rb") as handle:
                data = msgspec.msgpack.decode(handle.read(), type=TableData)
            if data.grammar == digest:
                return data
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            pass  # missing or unreadable: build it again
    from ._lark import build_lark

    data = from_lark(build_lark())
    if path is not None:
        encoded = msgspec.msgpack.encode(data)
        temporary = f"{path}.{os.getpid()}.tmp"
        try:
            with open(temporary, "wb") as handle:
                handle.write(encoded)
            os.replace(temporary, path)  # readers never see half a file
        except OSError:
            pass
    return data
