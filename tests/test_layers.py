"""The layers of docs/architecture.md, read from the imports of every module.

Bottom to top: the kernel (spans, codes, diagnostics, AST, values, types, clock, the
compiled program, the expression environment, the store), the grammar, the standard
library, the interpreter (checker, compiler, runtime, workspace, simulate), the server,
the language server (scn/lsp/), the command line. A module imports only from its own layer
and those below; and no two modules import each other. Inside the server, handlers and
console pages reach the store and the engine only through the services (server/services/).
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
INTERPRETER = ("checker", "compiler", "runtime", "workspace", "simulate", "versions")
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
        return "cli" if len(parts) > 1 else "kernel"  # `scn` itself holds only the version and the address
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


#: Modules of the server that may use `core.store` and `core.engine` themselves: the services,
#: the Core, the queries of reports and of the console's figures, and the process plumbing.
#: Everything else (the API's handlers, the console's pages) goes through a service.
STATE_OWNERS = ("server.services", "server.core", "server.reports", "server.console.figures", "server.serve",
                "server.engine_process", "server.demo", "server.app")  # fmt: skip


def reaches_into_core(source: str) -> list[str]:
    """Each `core.store` / `core.engine` (also `self.core.store`) in ``source``, as `line: text`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute) or node.attr not in ("store", "engine"):
            continue
        owner = node.value
        if (isinstance(owner, ast.Name) and owner.id == "core") or (
            isinstance(owner, ast.Attribute) and owner.attr == "core"
        ):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def owns_state(module: str) -> bool:
    return any(module == owner or module.startswith(owner + ".") for owner in STATE_OWNERS)


def reaching(sources: dict[str, str]) -> dict[str, list[str]]:
    """The modules (by name) outside STATE_OWNERS that reach into the core, with where."""
    return {
        module: found
        for module, source in sources.items()
        if module.startswith("server.") and not owns_state(module) and (found := reaches_into_core(source))
    }


def server_sources() -> dict[str, str]:
    return {
        module_name(p): p.read_text(encoding="utf-8") for p in project_files() if module_name(p).startswith("server")
    }


def test_handlers_and_pages_reach_the_store_and_engine_only_through_services() -> None:
    sources = server_sources()
    assert "server.api_data" in sources and "server.console.run_pages" in sources, "every module is read"
    assert reaching(sources) == {}


@pytest.mark.parametrize(
    ("module", "planted", "found"),
    [
        ("server.api_data", "async def x(core):\n    return await core.store.run(1)\n", True),
        ("server.console.template_pages", "def x(core):\n    return core.engine.current\n", True),
        ("server.console.run_pages", "def x(self):\n    return self.core.store\n", True),
        ("server.services.runs", "async def x(core):\n    return await core.store.run(1)\n", False),
        ("server.console.figures", "def x(core):\n    return core.engine.current\n", False),
        ("server.api_data", "def x(core):\n    return core.settings, core.engine_process\n", False),
    ],
)
def test_a_planted_reach_into_the_core_is_found(module: str, planted: str, found: bool) -> None:
    """The check catches what it is for: a use of `core.store` / `core.engine` planted in a real
    module, and only outside the services and the modules allowed to."""
    sources = server_sources()
    sources[module] += "\n\n" + planted
    assert (module in reaching(sources)) is found


def from_handlers(edges: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Imports of the API's handler modules (server/api_*.py) by the console or the services:
    what both share lives in the services."""
    return {
        (a, b)
        for a, targets in edges.items()
        if a.startswith(("server.console", "server.services"))
        for b in targets
        if b.startswith("server.api_")
    }


def test_console_and_services_import_no_handler_module() -> None:
    assert from_handlers(graph()) == set()


def test_a_planted_handler_import_is_found() -> None:
    edges = graph()
    edges["server.console.run_pages"] = edges["server.console.run_pages"] | {"server.api_data"}
    assert from_handlers(edges) == {("server.console.run_pages", "server.api_data")}
