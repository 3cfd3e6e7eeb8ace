"""What the checker needs of a Jinja template, as plain data kept on disk.

Checking a template means parsing and compiling it with Jinja, then walking its syntax
tree for the variables and fields it reads. Importing Jinja alone costs a cold
`scn check` ~45 ms (of ~250), and compiling each template a millisecond or two more,
for templates that rarely change between two checks. So the parts of the tree the
checker walks (names, attribute reads, loops, assignments, macros) are copied into an
outline of msgspec Structs, and outlines are kept in the per-user cache beside the
parse tables, named by a hash of the template's text, the kind of environment, this
module (its format and its file), scn's version and the installed Jinja; a check whose
templates are all in the cache never imports Jinja. Like the tables, the cache is data
(a planted file could at worst mislead a check, never run code) and is used only when
private; SCN_GRAMMAR_CACHE=0 turns it off.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from typing import Any

import msgspec

from ... import __version__
from ...grammar._tables import private_cache_file

#: Bump when the outline's shape, or what goes into it, changes.
FORMAT = 1

# Node kinds: what the checker's walk treats differently.
NAME, GETATTR, FOR, ASSIGN, SCOPE, OTHER = range(6)


class Node(msgspec.Struct, array_like=True, frozen=True):
    kind: int
    #: NAME: the variable (read); GETATTR: the attribute.
    text: str = ""
    line: int = 0
    #: NAME: one of the environment's globals (range, dict...), not a variable.
    is_global: bool = False
    #: In order: OTHER and ASSIGN their sub-nodes, GETATTR the object, FOR its body then
    #: its filter, SCOPE (a macro or call block) its body.
    children: tuple[Node, ...] = ()
    #: FOR and ASSIGN: the names bound; SCOPE: the arguments.
    bound: tuple[str, ...] = ()
    #: FOR: the loop variable is one name (not a tuple to unpack).
    simple: bool = False
    #: FOR: what it iterates over, and its else branch.
    iterable: Node | None = None
    otherwise: tuple[Node, ...] = ()


class Outline(msgspec.Struct, array_like=True, frozen=True):
    """A template that compiles (``root``), or why it does not (``error`` at ``error_line``)."""

    root: Node | None
    #: Every name the template mentions, read or written.
    names: tuple[str, ...] = ()
    error: str = ""
    error_line: int = 0


@functools.lru_cache(maxsize=1024)
def outline(text: str, html: bool) -> Outline:
    """The outline of a template: from memory, from the cache on disk, else from Jinja."""
    path = private_cache_file(f"template-{_key(text, html)}.msgpack")
    if path is not None:
        try:
            with open(path, "rb") as handle:
                return msgspec.msgpack.decode(handle.read(), type=Outline)
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            pass  # not there yet, or unreadable: make it again
    made = _from_jinja(text, html)
    if path is not None:
        temporary = f"{path}.{os.getpid()}.tmp"
        try:
            with open(temporary, "wb") as handle:
                handle.write(msgspec.msgpack.encode(made))
            os.replace(temporary, path)  # readers never see half a file
        except OSError:
            pass
    return made


@functools.cache
def _stamp() -> str:
    """What the outlines depend on besides the text: scn, this format, the installed Jinja."""
    parts = [__version__, str(FORMAT)]
    spec = importlib.util.find_spec("jinja2")  # finds it without importing it
    # This module too: an edited checkout must not read outlines an older one wrote.
    for origin in (spec.origin if spec is not None else None, __file__):
        if origin:
            info = os.stat(origin)
            parts += [origin, str(info.st_mtime_ns), str(info.st_size)]
    return "\x1f".join(parts)


def _key(text: str, html: bool) -> str:
    return hashlib.sha256(f"{_stamp()}\x1f{int(html)}\x1f{text}".encode()).hexdigest()[:32]


def _from_jinja(text: str, html: bool) -> Outline:
    from jinja2 import TemplateSyntaxError

    from ...stdlib.templates import environment

    env = environment(html=html)
    try:
        tree = env.parse(text)
        env.compile(tree)
    except TemplateSyntaxError as error:
        return Outline(None, error=str(error.message), error_line=error.lineno or 1)
    from jinja2 import nodes

    names = tuple(sorted({n.name for n in tree.find_all(nodes.Name)}))
    return Outline(_node(tree, nodes, frozenset(env.globals)), names)


def _node(node: Any, nodes: Any, globals_: frozenset[str]) -> Node:
    """The outline of a Jinja node: the same walk as the checker's, with what it reads."""

    def targets(target: Any) -> tuple[str, ...]:
        found = [target] if isinstance(target, nodes.Name) else list(target.find_all(nodes.Name))
        return tuple(t.name for t in found)

    def each(children: Any) -> tuple[Node, ...]:
        return tuple(_node(child, nodes, globals_) for child in children)

    if isinstance(node, nodes.For):
        body = [*node.body, *([node.test] if node.test else [])]
        return Node(
            FOR, bound=targets(node.target), simple=isinstance(node.target, nodes.Name),
            iterable=_node(node.iter, nodes, globals_), children=each(body), otherwise=each(node.else_),
        )  # fmt: skip
    if isinstance(node, (nodes.Macro, nodes.CallBlock)):
        return Node(SCOPE, bound=tuple(arg.name for arg in node.args), children=each(node.body))
    if isinstance(node, nodes.Name) and node.ctx == "load":
        return Node(NAME, text=node.name, line=node.lineno, is_global=node.name in globals_)
    if isinstance(node, nodes.Getattr):
        return Node(GETATTR, text=node.attr, line=node.lineno, children=(_node(node.node, nodes, globals_),))
    kind = ASSIGN if isinstance(node, (nodes.Assign, nodes.AssignBlock)) else OTHER
    bound = targets(node.target) if kind == ASSIGN else ()
    return Node(kind, bound=bound, children=each(node.iter_child_nodes()))
