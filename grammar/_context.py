"""The file being parsed, and how deep its tree may grow.

Everything downstream walks trees by recursion (the checker, the compiler, the
evaluator, the formatter, and msgspec when a tree is stored), so the AST builder
bounds them here as it builds them: an operator one deeper than ast.MAX_EXPRESSION_DEPTH,
or a step with blocks one deeper than ast.MAX_BLOCK_DEPTH, is reported (SCN011) and
replaced by a stand-in; whatever is built around a stand-in becomes one too, without a
second report, and the file counts as lossy. Depths are kept beside the nodes, by id,
so the tree itself stays as it is.
"""

from __future__ import annotations

import contextvars
import re
from typing import Any, TypeVar

from lark import Token

from ..interpreter import ast, codes
from ..interpreter.codes import Code
from ..interpreter.diagnostics import DiagnosticSink, Fix, Related
from ..interpreter.span import Span, span_of_offsets

_N = TypeVar("_N", bound=ast.Node)
#: Expression nodes with operands, whose depth ParseContext.depths keeps.
_OPERATORS: frozenset[type] = frozenset({ast.Binary, ast.Unary, ast.Call, ast.ListLit, ast.IsSet})
#: Steps with blocks of steps, whose nesting ParseContext.nesting keeps.
_BLOCK_STEPS: frozenset[type] = frozenset({ast.If, ast.Bands, ast.Split, ast.WaitFor})
_WORD = re.compile(r"@?[A-Za-z_][A-Za-z0-9_]*")
#: Errors reported of one file at most; parsing stops at the error after the last.
MAX_ERRORS_PER_FILE = 50


class TooManyErrors(Exception):
    """A file has MAX_ERRORS_PER_FILE errors: the rest of it is not read."""


class ParseContext:
    """The file being parsed: its syntax diagnostics, its comments, and what the
    transformer needs to know about it."""

    def __init__(self, file: str, text: str, limit: int | None = MAX_ERRORS_PER_FILE) -> None:
        self.file = file
        self.text = text
        self.sink = DiagnosticSink()
        self.limit = limit
        #: The comments Lark's lexer skipped, in order.
        self.comments: list[Token] = []
        #: Operator node (by id) -> how many operators deep its expression goes.
        self.depths: dict[int, int] = {}
        #: Step with blocks (by id) -> how many blocks deep its steps go.
        self.nesting: dict[int, int] = {}
        #: Stand-ins for input nested too deep to keep, by id; holding them here keeps
        #: their ids from being reused while the file is parsed.
        self.stand_ins: dict[int, ast.Node] = {}
        #: Input was replaced by a stand-in, so the tree is not what the author wrote.
        self.lossy = False

    def report(
        self,
        code: Code,
        message: str,
        span: Span,
        *help: str,
        related: tuple[Related, ...] = (),
        fix: Fix | None = None,
    ) -> None:
        """Record a syntax error; raises TooManyErrors, reporting nothing, for one more than
        ``limit`` (repaired or not: a file of a hundred thousand typos stops early too)."""
        if self.limit is not None and len(self.sink) >= self.limit:
            raise TooManyErrors
        self.sink.report(code, message, span, *help, related=related, fix=fix)

    def scratch(self) -> ParseContext:
        """A context for trying tokens on a copy of the parser: what the transformer
        reports or puts in the place of deep input there is thrown away with it."""
        trial = ParseContext(self.file, self.text, limit=None)
        # Depths are kept by the id of a live node, written when the node is made, so the
        # trial may share them; stand-ins it makes must not count outside it.
        trial.depths, trial.nesting, trial.stand_ins = self.depths, self.nesting, dict(self.stand_ins)
        return trial

    def stand_in(self, node: _N, span: Span, what: str | None) -> _N:
        """Keep ``node`` in the place of input too deep to build; report it unless ``what``
        is None (the input around a stand-in is reported already)."""
        if what is not None:
            self.report(codes.TOO_DEEP, what, span)
        self.lossy = True
        self.stand_ins[id(node)] = node
        return node


current_file: contextvars.ContextVar[ParseContext] = contextvars.ContextVar("scn_current_file")


def bounded_operator(node: ast.Expr, operands: list[Any]) -> ast.Expr:
    """``node``, one operator deeper than its deepest operand, or a stand-in when that
    is deeper than a tree may be."""
    context = current_file.get()
    depths, stand_ins = context.depths, context.stand_ins
    depth = 0
    for operand in operands:
        if type(operand) in _OPERATORS:
            depth = max(depth, depths[id(operand)])
        elif id(operand) in stand_ins:
            return context.stand_in(ast.BoolLit(value=False, span=node.span), node.span, None)
    depth += 1
    if depth > ast.MAX_EXPRESSION_DEPTH:
        what = f"this expression nests more than {ast.MAX_EXPRESSION_DEPTH} operators inside one another"
        return context.stand_in(ast.BoolLit(value=False, span=node.span), node.span, what)
    depths[id(node)] = depth
    return node


def bounded_step(step: ast.Step) -> ast.Step:
    """``step`` (which has blocks), or a stand-in when its steps nest too deep; the
    report points at its keyword."""
    context = current_file.get()
    nesting, stand_ins = context.nesting, context.stand_ins
    depth = 0
    for block in ast.child_blocks(step):
        for inner in block:
            if type(inner) in _BLOCK_STEPS:
                depth = max(depth, nesting[id(inner)])
            elif id(inner) in stand_ins:
                return context.stand_in(ast.Stop(span=step.span), step.span, None)
    depth += 1
    if depth > ast.MAX_BLOCK_DEPTH:
        keyword = _WORD.match(context.text, step.span.start)
        end = keyword.end() if keyword is not None else step.span.start + 1
        what = f"the steps in this block are nested more than {ast.MAX_BLOCK_DEPTH} blocks deep"
        where = span_of_offsets(context.file, context.text, step.span.start, end)
        return context.stand_in(ast.Stop(span=step.span), where, what)
    nesting[id(step)] = depth
    return step


def relabelled(step: ast.Step, labelled: ast.Step) -> ast.Step:
    """``labelled``, a copy of ``step`` with its label, keeping what is known of its depth."""
    if type(step) in _BLOCK_STEPS:
        nesting = current_file.get().nesting
        nesting[id(labelled)] = nesting[id(step)]
    return labelled
