"""What is committed is source: no binaries, packages, databases or build output.

A wheel of a profiler once sat at the repository root (2.9 MB); nothing catches that
in review as reliably as a test over `git ls-files`.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import PurePosixPath

import pytest

from .conftest import ROOT

#: Endings of packages, compiled code and databases.
BUILT_SUFFIXES = (
    ".whl",
    ".tar.gz",
    ".tgz",
    ".zip",
    ".egg",
    ".so",
    ".pyd",
    ".dylib",
    ".dll",
    ".exe",
    ".o",
    ".a",
    ".pyc",
    ".pyo",
    ".db",
    ".db-wal",
    ".db-shm",
    ".sqlite",
    ".sqlite3",
)
#: Folders that only builds, installs and tools make.
BUILT_FOLDERS = frozenset({"__pycache__", ".eggs", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache"})
#: Top-level folders of build output.
BUILT_ROOTS = frozenset({"build", "dist"})
#: Larger committed files are data nobody reviews; keep them out of the repository.
MAX_BYTES = 512 * 1024
#: Bytes read to tell text from binary (a NUL byte among them means binary).
SNIFF_BYTES = 8192


def offences(paths: list[str], read: Callable[[str], bytes], size: Callable[[str], int]) -> list[str]:
    """What is wrong with each committed path that should not be there."""
    found = []
    for path in paths:
        parts = PurePosixPath(path).parts
        name = parts[-1]
        if name.endswith(BUILT_SUFFIXES):
            found.append(f"{path}: a package, compiled file or database")
        elif any(p in BUILT_FOLDERS or p.endswith(".egg-info") for p in parts[:-1]) or parts[0] in BUILT_ROOTS:
            found.append(f"{path}: build or install output")
        elif size(path) > MAX_BYTES:
            found.append(f"{path}: {size(path)} bytes, larger than any source file should be")
        elif b"\0" in read(path)[:SNIFF_BYTES]:
            found.append(f"{path}: binary content")
    return found


def _committed() -> list[str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if listed.returncode != 0:  # a source archive without .git has nothing to list
        pytest.skip("not a git checkout")
    return [p for p in listed.stdout.decode().split("\0") if p]


def _read(path: str) -> bytes:
    target = ROOT / path
    return target.read_bytes() if target.is_file() else b""  # symlinks to folders, deleted files


def _size(path: str) -> int:
    target = ROOT / path
    return target.stat().st_size if target.is_file() else 0


def test_nothing_built_or_binary_is_committed() -> None:
    paths = _committed()
    assert len(paths) > 100  # the listing really is the repository
    assert offences(paths, _read, _size) == []


@pytest.mark.parametrize(
    "path",
    [
        "py_spy-0.3.14-py2.py3-none-manylinux_2_5_x86_64.whl",
        "scn-0.1.0.tar.gz",
        "grammar/_speedups.cpython-311-x86_64-linux-gnu.so",
        "scn.db",
        "tests/data/runs.sqlite",
        "interpreter/__pycache__/ast.cpython-311.pyc",
        "scn.egg-info/PKG-INFO",
        "dist/scn-0.1.0-py3-none-any.whl",
        "build/lib/scn/__init__.py",
    ],
)
def test_each_kind_of_built_file_is_caught(path: str) -> None:
    assert offences([path], lambda _: b"text", lambda _: 10) != []


def test_binary_and_oversized_files_are_caught_and_source_is_not() -> None:
    contents = {"logo.png": b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "big.csv": b"a,b\n", "ok.scn": b"list a\n"}
    sizes = {"logo.png": 16, "big.csv": MAX_BYTES + 1, "ok.scn": 7}
    found = offences(list(contents), contents.__getitem__, sizes.__getitem__)
    assert [f.split(":")[0] for f in found] == ["logo.png", "big.csv"]
