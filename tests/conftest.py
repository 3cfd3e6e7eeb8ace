"""Shared fixtures: paths of the repository and helpers to parse and check text."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scn.grammar import ParseResult, parse
from scn.interpreter.checker import CheckResult, check_workspace
from scn.interpreter.store import PgStore
from scn.interpreter.workspace import workspace_from_texts

from .pg_cluster import HOW_TO_ENABLE, Cluster, server_binaries

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
BAD = Path(__file__).resolve().parent / "bad"


def parse_ok(text: str, file: str = "t.scn") -> ParseResult:
    """Parse text that must be free of syntax errors."""
    result = parse(text, file)
    assert result.diagnostics == (), [d.message for d in result.diagnostics]
    assert result.module is not None
    return result


def check_texts(files: dict[str, str], resources: dict[str, str] | None = None) -> CheckResult:
    return check_workspace(workspace_from_texts(files, resources))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """`async def` tests run in a fresh event loop each (no plugin needed)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    arguments: dict[str, Any] = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**arguments))
    return True


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL cluster for the whole session (tests/pg_cluster.py)."""
    binaries = server_binaries()
    if binaries is None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL must be tested in CI (.ci/run installs it): {HOW_TO_ENABLE}")
        pytest.skip(HOW_TO_ENABLE)
    cluster = Cluster(*binaries)
    try:
        yield cluster
    finally:
        cluster.stop()


async def _migrated(url: str) -> None:
    store = PgStore(url)
    await store.open()
    await store.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's store lives, once for each backend: an SQLite file, and a fresh
    database of the session's PostgreSQL cluster (copied from one already migrated)."""
    if request.param == "sqlite":
        return str(tmp_path / "scn.db")
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    return cluster.database(template=_migrated)
