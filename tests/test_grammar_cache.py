"""The parse tables are cached as data, only where no one else can write them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from scn.grammar._driver import parse_items
from scn.grammar._lalr import Tables
from scn.grammar._lark import build_lark
from scn.grammar._tables import TableData, from_lark, grammar_digest, load_table_data, private_cache_file
from scn.grammar._transform import ToAst

from .conftest import BAD, EXAMPLES


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("SCN_GRAMMAR_CACHE", raising=False)
    return tmp_path


def test_the_cache_directory_is_private(cache_home: Path) -> None:
    path = private_cache_file("x")
    assert path is not None and path.startswith(str(cache_home / "scn"))
    assert stat.S_IMODE(os.stat(cache_home / "scn").st_mode) & 0o077 == 0


def test_no_cache_in_a_directory_others_can_write(cache_home: Path) -> None:
    (cache_home / "scn").mkdir()
    os.chmod(cache_home / "scn", 0o777)
    assert private_cache_file("x") is None


def test_no_cache_in_a_file_others_can_write(cache_home: Path) -> None:
    path = private_cache_file("x")
    assert path is not None
    Path(path).write_bytes(b"planted")
    os.chmod(path, 0o666)
    assert private_cache_file("x") is None


def test_the_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCN_GRAMMAR_CACHE", "0")
    assert private_cache_file("x") is None


def _parses(data: TableData) -> list[object]:
    """What the tables make of every example and every bad file."""
    tables = Tables(data, ToAst())
    sources = sorted(EXAMPLES.glob("*.scn")) + sorted(BAD.glob("*.scn"))
    results: list[object] = []
    for path in sources:
        parsed = parse_items(path.read_text(encoding="utf-8"), path.name, tables)
        comments = [(c.value, c.start_pos) for c in parsed.comments]
        results.append((msgspec.to_builtins((parsed.items, parsed.diagnostics)), comments, parsed.lossy))
    return results


def test_cached_tables_parse_like_freshly_built_ones(cache_home: Path) -> None:
    # Lark numbers its states differently from build to build, so the tables are
    # compared by what they do.
    first = load_table_data()  # builds and writes the cache
    (cached,) = (cache_home / "scn").glob("tables-*.msgpack")
    assert grammar_digest() in cached.name
    read_back = load_table_data()
    assert read_back == msgspec.msgpack.decode(cached.read_bytes(), type=TableData) == first
    assert _parses(read_back) == _parses(from_lark(build_lark()))


def test_a_damaged_cache_is_rebuilt(cache_home: Path) -> None:
    load_table_data()
    (cached,) = (cache_home / "scn").glob("tables-*.msgpack")
    cached.write_bytes(b"\x93not tables")
    rebuilt = load_table_data()
    assert _parses(rebuilt) == _parses(from_lark(build_lark()))


def test_a_warm_run_parses_without_importing_lark(tmp_path: Path) -> None:
    program = (
        "import sys; from scn.grammar import parse; "
        "r = parse('on order.unpaid wait 30m add to list X', 'x.scn'); "
        "print(r.ok, 'lark' in sys.modules)"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    first = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True)
    second = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True)
    assert first.stdout.split() == ["True", "True"]  # the first run analyses the grammar
    assert second.stdout.split() == ["True", "False"]
