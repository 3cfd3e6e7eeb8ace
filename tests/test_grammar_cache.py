"""Lark's cache of the analysed grammar is kept only where no one else can write it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from scn.grammar._cache import private_cache_file
from scn.grammar._driver import parse_items
from scn.grammar._parser import build_parser, cache_file, grammar_text
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
    assert private_cache_file("x") is None and cache_file() is None


def test_the_cache_is_named_by_the_grammar_lark_and_python(cache_home: Path) -> None:
    import hashlib

    import lark

    path = cache_file()
    assert path is not None
    name = Path(path).name
    assert hashlib.sha256(grammar_text().encode()).hexdigest()[:16] in name
    assert f"lark{lark.__version__}" in name and f"py{sys.version_info[0]}{sys.version_info[1]}" in name


def _parses(cache: str | None, checked: bool = False) -> list[object]:
    """What a parser built with this cache makes of every example and every bad file."""
    parser = build_parser(cache, ToAst(), checked=checked)
    sources = sorted(EXAMPLES.glob("*.scn")) + sorted(BAD.glob("*.scn"))
    results: list[object] = []
    for path in sources:
        parsed = parse_items(path.read_text(encoding="utf-8"), path.name, parser)
        comments = [(c.value, c.start_pos) for c in parsed.comments]
        results.append((msgspec.to_builtins((parsed.items, parsed.diagnostics)), comments, parsed.lossy))
    return results


def test_a_parser_from_the_cache_parses_like_one_built_afresh(cache_home: Path) -> None:
    path = cache_file()
    assert path is not None
    fresh = _parses(None)
    assert _parses(path) == fresh  # builds the parser and writes the cache
    written = Path(path).read_bytes()
    assert _parses(path) == fresh  # loads it
    assert Path(path).read_bytes() == written


def test_the_parser_made_without_larks_check_of_the_terminals_parses_like_the_checked_one() -> None:
    """scn's parser skips the check of the grammar's terminals (as Lark does from its cache);
    the checked build (strict mode with interegular) raises on terminals that collide."""
    assert _parses(None) == _parses(None, checked=True)


def test_a_damaged_cache_is_rebuilt(cache_home: Path) -> None:
    path = cache_file()
    assert path is not None
    Path(path).write_bytes(b"\x93not a grammar")
    assert _parses(path) == _parses(None)
    assert Path(path).read_bytes() != b"\x93not a grammar"


def test_a_second_run_loads_the_grammar_from_the_cache(tmp_path: Path) -> None:
    program = (
        "import sys, time; from scn.grammar import parse; "
        "r = parse('on order.unpaid wait 30m add to list X', 'x.scn'); print(r.ok)"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("SCN_GRAMMAR_CACHE", None)
    first = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True)
    (cached,) = (tmp_path / "scn").glob("grammar-*.pickle")
    written = cached.stat().st_mtime_ns
    second = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True)
    assert first.stdout.split() == second.stdout.split() == ["True"]
    assert cached.stat().st_mtime_ns == written  # read, not written again
    assert stat.S_IMODE(cached.stat().st_mode) & 0o022 == 0
