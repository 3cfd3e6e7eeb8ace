"""The layers of docs/architecture.md, read from the imports of every module.

Bottom to top: the kernel (spans, codes, diagnostics, AST, values, types, clock, the
compiled program, the expression environment, the store), the grammar, the standard
library, the interpreter (checker, compiler, runtime, workspace, simulate), the server,
the language server (scn/lsp/), the command line. A module imports only from its own layer and those below; and no two
modules import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import ROOT

#: The folders that install as scn.<name> (pyproject.toml's package-dir), and scn itself.
PACKAGES = {"grammar": "grammar", "interpreter": "interpreter", "server": "server", "stdlib": "stdlib", "scn": "scn"}
LAYERS = ("kernel", "grammar", "stdlib", "interpreter", "server", "lsp", "cli")
#: Modules of the interpreter package that sit above the kernel.
INTERPRETER = ("checker", "compiler", "runtime", "workspace", "simulate")
#: Imports that go upwards today, until they move (docs/architecture.md says where to):
#: the list may only shrink.
KNOWN_UPWARDS: set[tuple[str, str]] = set()


def layer(module: str) -> str:
    """The layer of a module named as in the repository (`interpreter.runtime.engine`)."""
    parts = module.split(".")
    top = parts[0]
    if top == "interpreter":
        return "interpreter" if len(parts) > 1 and parts[1] in INTERPRETER else "kernel"
    if top == "scn":
        if len(parts) > 1 and parts[1] == "lsp":
            return "lsp"
        return "cli" if len(parts) > 1 else "kernel"  # `scn` itself holds only the version
    return {"grammar": "grammar", "stdlib": "stdlib", "server": "server"}[top]


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """The modules a file imports from this project, as repository names."""
    own = module_name(path)
    package = own.split(".") if path.name == "__init__.py" else own.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package[: len(package) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            if not target:  # `from ... import __version__`: the top package
                continue
            names = [f"{target}.{alias.name}" for alias in node.names]
            found.update(name if _is_module(name) else target for name in names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scn."):
            found.add(node.module.removeprefix("scn."))
    # scn/lsp/ reaches the other folders through scn/'s links: `..interpreter` is scn.interpreter.
    return {_unlinked(name) for name in found}


def _unlinked(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[1:]) if len(parts) > 1 and parts[0] == "scn" and parts[1] in PACKAGES else name


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def project_files() -> list[Path]:
    files = []
    for folder in PACKAGES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if not any(part.startswith(".") or part == "__pycache__" for part in path.relative_to(ROOT).parts):
                # scn/ links to the other folders; scn/lsp/ is its own package
                if folder != "scn" or path.parent in (ROOT / "scn", ROOT / "scn" / "lsp"):
                    files.append(path)
    return files


def graph() -> dict[str, set[str]]:
    return {module_name(path): imports(path) for path in project_files()}


def upward(edges: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Imports from a lower layer into a higher one."""
    rank = {name: index for index, name in enumerate(LAYERS)}
    return {(a, b) for a, targets in edges.items() for b in targets if rank[layer(b)] > rank[layer(a)]}


def mutual(edges: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Pairs of modules that import each other (a package and its own modules aside)."""
    return {
        (a, b)
        for a, targets in edges.items()
        for b in targets
        if a < b and a in edges.get(b, set()) and not b.startswith(a + ".") and not a.startswith(b + ".")
    }


def test_no_module_imports_from_a_layer_above_it() -> None:
    edges = graph()
    assert len(edges) > 100, "every module is read"
    found = upward(edges)
    assert found - KNOWN_UPWARDS == set(), "new imports that go upwards"
    assert KNOWN_UPWARDS - found == set(), "gone: take them off KNOWN_UPWARDS"


def test_no_two_modules_import_each_other() -> None:
    assert mutual(graph()) == set()


@pytest.mark.parametrize(
    ("planted", "kind"),
    [
        (("interpreter.values", "interpreter.runtime.engine"), "upward"),
        (("stdlib.coupons", "server.core"), "upward"),
        (("grammar._format", "stdlib.templates"), "upward"),
        (("server.core", "scn.cli"), "upward"),
        (("server.app", "scn.lsp._server"), "upward"),
        (("scn.lsp._project", "scn.cli"), "upward"),
        (("interpreter.runtime.engine", "interpreter.runtime.executor"), "mutual"),
    ],
)
def test_a_planted_import_is_found(planted: tuple[str, str], kind: str) -> None:
    """The checks catch what they are for: an import planted in the real graph."""
    edges = graph()
    source, target = planted
    edges[source] = edges[source] | {target}
    if kind == "mutual":
        edges[target] = edges[target] | {source}
        assert (min(planted), max(planted)) in mutual(edges)
    else:
        assert planted in upward(edges) - KNOWN_UPWARDS
