"""The checker: every finding about a workspace, like a compiler's front end.

It resolves names across all files, types every expression, checks templates and the
flow of each scenario, and reports everything it finds in one pass.
"""

from __future__ import annotations

import msgspec

from ..diagnostics import Diagnostic, DiagnosticSink
from ..gcpause import paused_gc
from ..workspace import Workspace, past
from ._decls import DeclChecker, pool_codes
from ._exprs import ExprChecker, Scope
from ._policy import check_policy
from ._scenarios import ScenarioChecker
from ._suppressions import apply_suppressions
from ._symbols import DECL_KINDS, Symbols, collect_symbols
from ._templates import TemplateChecker, TemplateInfo
from ._unset import UnsetChecker


class CheckResult(msgspec.Struct, frozen=True):
    workspace: Workspace
    symbols: Symbols
    templates: dict[str, TemplateInfo]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diagnostics if d.is_error)

    @property
    def warnings(self) -> int:
        return sum(1 for d in self.diagnostics if not d.is_error)

    @property
    def ok(self) -> bool:
        return self.errors == 0


def check_workspace(workspace: Workspace, *, deadline: float | None = None) -> CheckResult:
    """Check every file of ``workspace``.

    A file whose syntax errors were repaired (a misspelt keyword, a missing `end`) is
    checked in full. A file where the parser had to skip input still lends its
    declarations to name resolution, so one typo does not flood the other files with
    unknown names, but its own contents are not checked further: a tree rebuilt
    around skipped input would mislead.
    """
    with paused_gc():
        return _check(workspace, deadline)


def _check(workspace: Workspace, deadline: float | None) -> CheckResult:
    """Raises CheckTimeout when ``deadline`` (time.monotonic()) passes before the end."""
    sink = DiagnosticSink()
    sink.extend(workspace.load_errors)
    broken: set[str] = set()
    for source in workspace.files:
        sink.extend(source.parsed.diagnostics)
        if source.parsed.lossy:
            broken.add(source.path)
    semantic = DiagnosticSink()
    symbols = collect_symbols(workspace, semantic)
    exprs = ExprChecker(symbols, semantic)
    templates = TemplateChecker(workspace, symbols, semantic)
    infos = templates.check_all()
    past(deadline)
    unset = UnsetChecker(symbols, semantic)
    DeclChecker(workspace, symbols, exprs, unset, semantic).check_all()
    if symbols.policy is not None:
        check_policy(symbols.policy, semantic)
    scenarios = ScenarioChecker(symbols, exprs, unset, templates, semantic)
    for scenario in symbols.scenarios.values():
        past(deadline)
        scenarios.check(scenario)
    for diagnostic in semantic.sorted():
        if diagnostic.span.file not in broken:
            sink.add(diagnostic)
    scn = [(f.path, f.text, f.parsed.comments) for f in workspace.files]
    found = apply_suppressions(sink.sorted(), scn, broken)
    return CheckResult(workspace, symbols, infos, tuple(sorted(found, key=Diagnostic.sort_key)))


__all__ = [
    "DECL_KINDS",
    "CheckResult",
    "ExprChecker",
    "Scope",
    "Symbols",
    "check_workspace",
    "pool_codes",
]
