"""The grammar's on-disk cache is used only where no one else can write it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from scn.grammar._lark import _private_cache_file


def test_cache_lives_in_a_private_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("SCN_GRAMMAR_CACHE", raising=False)
    path = _private_cache_file()
    assert path is not None and path.startswith(str(tmp_path / "scn"))
    mode = stat.S_IMODE(os.stat(tmp_path / "scn").st_mode)
    assert mode & 0o077 == 0


def test_no_cache_in_a_directory_others_can_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "scn").mkdir()
    os.chmod(tmp_path / "scn", 0o777)
    assert _private_cache_file() is None


def test_no_cache_in_a_file_others_can_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = _private_cache_file()
    assert path is not None
    Path(path).write_bytes(b"planted")
    os.chmod(path, 0o666)
    assert _private_cache_file() is None


def test_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCN_GRAMMAR_CACHE", "0")
    assert _private_cache_file() is None


def test_a_cached_parser_parses_the_same(tmp_path: Path) -> None:
    """The second process loads the tables from the cache the first one wrote."""
    program = (
        "from scn.grammar import parse; "
        "r = parse('on order.unpaid wait 30m add to list X', 'x.scn'); "
        "print(repr(r.module))"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    first = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True)
    assert list((tmp_path / "scn").iterdir()), "the first run writes the cache"
    second = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True)
    assert first.stdout == second.stdout and "AddToList" in first.stdout
