"""What the checker needs of a Jinja template, as plain data kept on disk.

Checking a template means parsing it with Jinja, finding what Jinja's compiler would
refuse, then typing its syntax tree (_template_types.py); the template is compiled to
Python only when sending (stdlib/templates.py), or by the check where the template nests
too deeply to be sure Python takes it. Importing Jinja is a good part of a cold
`scn check`, and parsing each template costs more, for templates that rarely change
between two checks. So the parts of the tree the checker types are copied into an outline of
msgspec Structs, and outlines are kept in the per-user cache beside the analysed grammar,
named by a hash of the template's text, the kind of environment, the modules that
decide what a template may use (this one, stdlib's catalog, templates and filters),
scn's version and the installed Jinja; a check whose templates are all in the cache
never imports Jinja. Entries are kept as the parses are (grammar/_cache.py): whole,
each holding the name it was made for (a damaged or misplaced file is made again), and
deleted once no check has used them for a month, so that editing templates does not grow
the cache without bound. Like the tables, the cache is data
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
from ...grammar._cache import private_cache_file, prune_daily, read_entry, write_entry

#: Bump when the outline's shape, or what goes into it, changes.
FORMAT = 6
_PREFIX = "template-"


class Node(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A node of a template's syntax tree, as much of it as the checker types.

    ``kind`` is Jinja's node class, folded where the checker treats several alike:
    "Binary" for + - * / // % ** (``text`` the operator), "Scope" for blocks that only
    hold statements, "Else" for an `if`'s else branch, "Nothing" for a filter block's
    input. Kinds templates may not use keep their Jinja name and line.
    """

    kind: str
    line: int = 0
    #: Output: "text" when it holds text that is not blank; Name: the variable; Getattr:
    #: the field; Filter, Test: the name; Binary: the operator;
    #: Const: its type ("str", "number", "bool", "none"); For: "recursive" or "unpack" when so.
    text: str = ""
    #: Const: the value as text.
    value: str = ""
    #: The sub-expressions, in order. Filter, Test: the value, then the arguments, keyword
    #: arguments last; Call: the callee first; Compare: the first operand, then the others;
    #: If: the test; For: what it loops over, then its filter; Getitem: the object, the key.
    args: tuple[Node, ...] = ()
    #: Filter, Test, Call: the names of the last len(keywords) arguments; Compare: the operators.
    keywords: tuple[str, ...] = ()
    #: Filter, Test, Call: given *args or **kwargs (which the checker cannot type).
    spread: bool = False
    #: Statements inside: a block's body, an `if`'s branch.
    body: tuple[Node, ...] = ()
    #: If: its elif branches (If nodes) then its else (an Else node); For: its else.
    otherwise: tuple[Node, ...] = ()
    #: For, Assign, AssignBlock, With: the names bound.
    bound: tuple[str, ...] = ()


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
    key = _key(text, html)
    path = private_cache_file(f"{_PREFIX}{key}.msgpack")
    kept = read_entry(path) if path is not None else None
    if kept is not None and kept.startswith(key.encode()):
        try:
            return msgspec.msgpack.decode(kept[len(key) :], type=Outline)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            pass  # not an outline: make it again
    made = _from_jinja(text, html)
    if path is not None:
        prune_daily(os.path.dirname(path), _PREFIX)
        try:
            payload = key.encode() + msgspec.msgpack.encode(made)
        except RecursionError:
            return made  # not kept: the next check makes it again
        write_entry(path, payload)
    return made


@functools.cache
def _stamp() -> str:
    """What the outlines depend on besides the text: scn, this format, the installed Jinja."""
    parts = [__version__, str(FORMAT)]
    # Found without importing them. This module and stdlib's too: an edited checkout
    # must not read outlines an older one wrote.
    here = os.path.dirname(os.path.abspath(__file__))
    stdlib = os.path.join(os.path.dirname(os.path.dirname(here)), "stdlib")
    spec = importlib.util.find_spec("jinja2")
    own = [os.path.join(stdlib, f"{name}.py") for name in ("catalog", "templates", "template_filters")]
    for origin in (spec.origin if spec is not None else None, __file__, *own):
        if origin and os.path.exists(origin):
            info = os.stat(origin)
            parts += [origin, str(info.st_mtime_ns), str(info.st_size)]
    return "\x1f".join(parts)


def _key(text: str, html: bool) -> str:
    return hashlib.sha256(f"{_stamp()}\x1f{int(html)}\x1f{text}".encode()).hexdigest()[:32]


def _from_jinja(text: str, html: bool) -> Outline:
    from jinja2 import TemplateSyntaxError, nodes

    from ...stdlib.templates import compile_template, environment, parse

    try:
        try:
            tree = parse(text, html)
        except ValueError:
            # Jinja's lexer reads a number with int(), which refuses over 4300 digits.
            return Outline(None, error="a number in the template is too long: write at most 4300 digits", error_line=1)
        refused = _refused_when_compiled(tree, nodes, environment(html))
        if refused is not None:
            return Outline(None, error=refused[0], error_line=refused[1])
        if _depth(tree) > SHALLOW or any(True for _ in tree.find_all(_compiler_checked(nodes))):
            compile_template(text, html)  # what Jinja's compiler or Python could refuse of it
        names = tuple(sorted({n.name for n in tree.find_all(nodes.Name)}))
        return Outline(_Builder(nodes).node(tree), names)
    except TemplateSyntaxError as error:
        return Outline(None, error=str(error.message), error_line=error.lineno or 1)
    except (RecursionError, SyntaxError):
        # Jinja's own parser recursing too deep, or Python refusing the code Jinja made of it
        # (a chain of 200 attributes or filters: "too many nested parentheses").
        return Outline(None, error="the template nests too deeply", error_line=1)


#: Templates nested deeper than this (counted in nodes from the root) are compiled by the
#: check: Python refuses the code Jinja makes of deep nesting (20 nested loops, 200
#: nested parentheses, its recursion limit in Jinja's code generator). Shallower ones,
#: without the nodes below, compile whenever _refused_when_compiled finds nothing:
#: tests/test_template_outline.py compiles every kind of node nested this deep.
SHALLOW = 12


def _compiler_checked(nodes: Any) -> tuple[type, ...]:
    """Nodes Jinja's compiler has checks of its own for (the checker refuses them all)."""
    return (nodes.Macro, nodes.CallBlock, nodes.Block, nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)


def _refused_when_compiled(tree: Any, nodes: Any, env: Any) -> tuple[str, int] | None:
    """What Jinja's compiler refuses in a template of allowed nodes, without compiling it.

    An unknown filter or test anywhere: Jinja itself lets one in an `if` or a conditional
    expression through and fails only when the mail is rendered. And a loop that assigns
    to `loop`. The messages are Jinja's own.
    """
    for node in tree.find_all((nodes.Filter, nodes.Test, nodes.For)):
        if isinstance(node, nodes.For):
            # Its own target, or a `set` anywhere inside it (a nested loop's body included).
            targets = [(node.target, node.lineno)]
            targets += [(a.target, a.lineno) for a in node.find_all((nodes.Assign, nodes.AssignBlock))]
            for target, line in targets:
                if any(name.name == "loop" for name in _stored(target, nodes)):
                    return "Can't assign to special loop variable in for-loop target", line
            continue
        kind, known = ("filter", env.filters) if isinstance(node, nodes.Filter) else ("test", env.tests)
        if node.name not in known:
            return f"No {kind} named {node.name!r}.", node.lineno
    return None


def _stored(target: Any, nodes: Any) -> list[Any]:
    return [target] if isinstance(target, nodes.Name) else list(target.find_all(nodes.Name))


def _depth(tree: Any) -> int:
    """How deep the template nests, in nodes from its root (without recursing)."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return deepest


class _Builder:
    """Jinja's tree -> the outline (see Node for what each kind keeps)."""

    def __init__(self, nodes: Any) -> None:
        self.n = nodes

    def each(self, children: Any) -> tuple[Node, ...]:
        return tuple(self.node(child) for child in children)

    def call_like(self, kind: str, node: Any, first: Node, text: str = "") -> Node:
        keywords = tuple(k.key for k in node.kwargs)
        args = (first, *self.each(node.args), *(self.node(k.value) for k in node.kwargs))
        spread = node.dyn_args is not None or node.dyn_kwargs is not None
        return Node(kind, node.lineno, text, args=args, keywords=keywords, spread=spread)

    def node(self, node: Any) -> Node:  # noqa: C901 - one case per kind of Jinja node
        n, line = self.n, node.lineno
        if isinstance(node, n.Template):
            return Node("Template", 1, body=self.each(node.body))
        if isinstance(node, n.Output):
            text = any(isinstance(c, n.TemplateData) and c.data.strip() for c in node.nodes)
            args = self.each(c for c in node.nodes if not isinstance(c, n.TemplateData))
            return Node("Output", line, "text" if text else "", args=args)
        if isinstance(node, n.If):
            otherwise = self.each(node.elif_) + (
                (Node("Else", line, body=self.each(node.else_)),) if node.else_ else ()
            )
            return Node("If", line, args=(self.node(node.test),), body=self.each(node.body), otherwise=otherwise)
        if isinstance(node, n.For):
            how = "recursive" if node.recursive else "" if isinstance(node.target, n.Name) else "unpack"
            args = (self.node(node.iter), *((self.node(node.test),) if node.test is not None else ()))
            return Node("For", line, how, args=args, body=self.each(node.body), otherwise=self.each(node.else_),
                        bound=self.targets(node.target))  # fmt: skip
        if isinstance(node, n.Assign | n.AssignBlock):
            how = "" if isinstance(node.target, n.Name) else "unpack"
            value = node.node if isinstance(node, n.Assign) else node.filter
            args = (self.node(value),) if value is not None else ()
            body = self.each(node.body) if isinstance(node, n.AssignBlock) else ()
            return Node(type(node).__name__, line, how, args=args, body=body, bound=self.targets(node.target))
        if isinstance(node, n.With):
            bound = tuple(name for t in node.targets for name in self.targets(t))
            return Node("With", line, args=self.each(node.values), body=self.each(node.body), bound=bound)
        if isinstance(node, n.FilterBlock):
            return Node("FilterBlock", line, args=(self.node(node.filter),), body=self.each(node.body))
        if isinstance(node, n.Scope | n.ScopedEvalContextModifier):
            return Node("Scope", line, body=self.each(node.body))
        if isinstance(node, n.EvalContextModifier):
            return Node("Scope", line)
        if isinstance(node, n.Name):
            return Node("Name", line, node.name)
        if isinstance(node, n.Const):
            return self.const(node.value, line)
        if isinstance(node, n.Getattr):
            return Node("Getattr", line, node.attr, args=(self.node(node.node),))
        if isinstance(node, n.Getitem):
            return Node("Getitem", line, args=(self.node(node.node), self.node(node.arg)))
        if isinstance(node, n.Slice):
            parts = (node.start, node.stop, node.step)
            return Node("Slice", line, args=tuple(self.node(p) if p is not None else Node("Const", line, "none")
                                                  for p in parts))  # fmt: skip
        if isinstance(node, n.Filter | n.Test):
            value = self.node(node.node) if node.node is not None else Node("Nothing", line)
            return self.call_like(type(node).__name__, node, value, node.name)
        if isinstance(node, n.Call):
            return self.call_like("Call", node, self.node(node.node))
        if isinstance(node, n.Compare):
            args = (self.node(node.expr), *(self.node(o.expr) for o in node.ops))
            return Node("Compare", line, args=args, keywords=tuple(o.op for o in node.ops))
        if isinstance(node, n.And | n.Or):
            return Node(type(node).__name__, line, args=(self.node(node.left), self.node(node.right)))
        if isinstance(node, n.BinExpr):
            return Node("Binary", line, node.operator, args=(self.node(node.left), self.node(node.right)))
        if isinstance(node, n.Not | n.Neg | n.Pos):
            return Node(type(node).__name__, line, args=(self.node(node.node),))
        if isinstance(node, n.CondExpr):
            parts = (node.test, node.expr1, *((node.expr2,) if node.expr2 is not None else ()))
            return Node("CondExpr", line, args=self.each(parts))
        if isinstance(node, n.Concat | n.List | n.Tuple):
            items = node.nodes if isinstance(node, n.Concat) else node.items
            return Node("Concat" if isinstance(node, n.Concat) else "List", line, args=self.each(items))
        # Anything else (macros, includes, blocks, dicts...): its kind and where it is.
        return Node(type(node).__name__, line)

    def targets(self, target: Any) -> tuple[str, ...]:
        found = [target] if isinstance(target, self.n.Name) else list(target.find_all(self.n.Name))
        return tuple(t.name for t in found)

    @staticmethod
    def const(value: Any, line: int) -> Node:
        if value is None:
            return Node("Const", line, "none")
        if isinstance(value, bool):
            return Node("Const", line, "bool", str(value).lower())
        if isinstance(value, int | float):
            return Node("Const", line, "number", repr(value))
        return Node("Const", line, "str", str(value))
