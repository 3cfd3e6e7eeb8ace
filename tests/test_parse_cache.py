"""`scn check` keeps each file's parse in the per-user cache: a check from the cache says
exactly what a check that parses says (cross-file names, file:line:col), without importing
Lark; a changed file, a damaged or foreign entry, another scn or grammar all parse again;
checks running at once never see half an entry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scn.grammar import _cache, _parse_cache
from scn.grammar._parse_cache import cached_parse, keep_parse
from scn.interpreter.checker import check_workspace
from scn.interpreter.workspace import load_workspace

SHARED = """
currency UAH
list buyers "Buyers"

template thanks email
  from "Shop" <shop@example.com>
  subject "Hi {{ contact.first_nme }}"
  html "thanks.html"
end
"""
#: Errors in several files: a syntax error, names from another file misspelt, a template's.
FILES = {
    "shared.scn": SHARED,
    "a.scn": 'scenario a "A"\n  on order.paid\n  add to list buyrs\n  send email thanks\nend\n',
    "b.scn": 'scenario b "B"\n  on order.paid\n  wait 30x\n  send email thank\nend\n',
    "c.scn": 'scenario c "Привіт, Jānis, Łódź"\n  on order.paid where order.total > 10 EUR\n'
    "  add to list buyers\nend\n",
    "d.scn": 'scenario d "D"\n  on order.paid\n  iff contact.orders.count > 2\n    add to list buyers\n  end\nend\n',
}
HTML = "<p>{{ contact.first_name }} {{ cupon }}</p>"

CHECK = """
import json, sys
from scn.cli import main
code = main(["check", "--format", "json", sys.argv[1]])
print(json.dumps({"code": code, "lark": "lark" in sys.modules}), file=sys.stderr)
"""


def check(folder: Path, cache: Path, **env: str) -> tuple[list[dict[str, object]], bool]:
    """`scn check --format json` in a fresh process: its findings, and whether it imported Lark."""
    done = subprocess.run(
        [sys.executable, "-c", CHECK, folder.name], capture_output=True, text=True, timeout=60, cwd=folder.parent,
        env={**os.environ, "XDG_CACHE_HOME": str(cache), **env},
    )  # fmt: skip
    status = json.loads(done.stderr.strip().splitlines()[-1])
    assert status["code"] == 1, done.stdout + done.stderr
    findings = json.loads(done.stdout)
    return findings["diagnostics"] if isinstance(findings, dict) else findings, bool(status["lark"])


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "scn").glob("parse-*.msgpack"))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "w"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "thanks.html").write_text(HTML, encoding="utf-8")
    return folder


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SCN_GRAMMAR_CACHE", raising=False)
    return tmp_path / "cache"


def test_a_check_from_the_cache_finds_what_parsing_finds_without_lark(workspace: Path, tmp_path: Path) -> None:
    uncached, _ = check(workspace, tmp_path / "off", SCN_GRAMMAR_CACHE="0")
    assert not list((tmp_path / "off").rglob("parse-*")), "with the cache off nothing is kept"
    places = {f"{f['filename']}:{f['location']['row']}:{f['location']['column']}" for f in uncached}  # type: ignore[index]
    for file in ("a.scn", "b.scn", "d.scn", "thanks.html", "shared.scn"):
        assert any(place.startswith(f"w/{file}:") for place in places), (file, places)
    cache = tmp_path / "cache"
    first, imported = check(workspace, cache)
    assert imported and first == uncached
    assert len(entries(cache)) == len(FILES)
    second, imported = check(workspace, cache)
    assert not imported, "every file came from the cache"
    assert second == uncached


def test_a_changed_file_is_parsed_again(workspace: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    check(workspace, cache)
    (workspace / "a.scn").write_text(FILES["a.scn"].replace("buyrs", "buyers"), encoding="utf-8")
    again, imported = check(workspace, cache)
    assert imported, "a.scn was parsed"
    assert not any("buyrs" in str(f["message"]) for f in again)
    assert len(entries(cache)) == len(FILES), "the changed file's entry was written over"
    assert again == check(workspace, tmp_path / "off", SCN_GRAMMAR_CACHE="0")[0]


def damaged(data: bytes) -> list[bytes]:
    """Ways an entry can be wrong: cut short, a byte changed in its tree, empty, not ours."""
    middle = len(data) // 2
    return [data[: len(data) // 3], data[:middle] + bytes([data[middle] ^ 0x20]) + data[middle + 1 :], b"",
            b"\x00" * 16 + b"\x92\xa1x\x01"]  # fmt: skip


@pytest.mark.parametrize("how", range(4))
def test_a_damaged_entry_is_ignored_and_written_again(workspace: Path, tmp_path: Path, how: int) -> None:
    cache = tmp_path / "cache"
    first, _ = check(workspace, cache)
    kept = {path: path.read_bytes() for path in entries(cache)}
    for path, data in kept.items():
        path.write_bytes(damaged(data)[how])
    again, imported = check(workspace, cache)
    assert imported and again == first
    assert {path: path.read_bytes() for path in entries(cache)} == kept, "each entry was written again"


def test_another_files_entry_in_the_place_of_one_is_not_used(workspace: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first, _ = check(workspace, cache)
    found = entries(cache)
    data = found[0].read_bytes()
    for path in found[1:]:
        path.write_bytes(data)  # a whole, valid entry: of another file
    again, _ = check(workspace, cache)
    assert again == first


def test_in_process_the_cache_is_what_a_parse_is(workspace: Path, cache_home: Path) -> None:
    os.chdir(workspace.parent)
    try:
        parsed = load_workspace([workspace.name], keep=False)
        assert not (cache_home / "scn").exists() or not entries(cache_home)
        kept = load_workspace([workspace.name])  # parses and keeps
        cached = load_workspace([workspace.name])
    finally:
        os.chdir(Path(__file__).parent)
    assert [f.parsed for f in cached.files] == [f.parsed for f in parsed.files] == [f.parsed for f in kept.files]
    assert check_workspace(cached).diagnostics == check_workspace(parsed).diagnostics


def test_another_scn_version_or_format_reads_no_entry(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scn.grammar import parse

    text = FILES["b.scn"]
    keep_parse("b.scn", parse(text, "b.scn"))
    assert cached_parse("b.scn", text) == parse(text, "b.scn")
    assert cached_parse("b.scn", text + "\n") is None, "another text"
    assert cached_parse("other/b.scn", text) is None, "another file"
    for name, value in (("__version__", "0.0.0-other"), ("FORMAT", _parse_cache.FORMAT + 1)):
        with monkeypatch.context() as patch:
            patch.setattr(_parse_cache, name, value)
            _parse_cache._stamp.cache_clear()
            assert cached_parse("b.scn", text) is None, name
        _parse_cache._stamp.cache_clear()
    assert cached_parse("b.scn", text) is not None


def test_the_stamp_covers_the_grammar_its_modules_and_lark() -> None:
    import importlib.util

    import scn.grammar

    stamp = _parse_cache._stamp().split("\x1f")
    grammar = Path(scn.grammar.__file__).parent
    lark = importlib.util.find_spec("lark")
    assert lark is not None
    for path in [*grammar.glob("*.py"), grammar / "scn.lark", Path(str(lark.origin))]:
        info = path.stat()
        at = stamp.index(str(path))
        assert stamp[at + 1 : at + 3] == [str(info.st_mtime_ns), str(info.st_size)], path
    assert any(p.endswith(os.path.join("interpreter", "ast.py")) for p in stamp)


def test_checks_at_once_on_an_empty_cache_agree(workspace: Path, tmp_path: Path) -> None:
    for n in range(40):  # enough files that the entries are written while the others read
        (workspace / f"more_{n}.scn").write_text(FILES["c.scn"].replace("scenario c", f"scenario c{n}"), "utf-8")
    cache = tmp_path / "cache"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    command = [sys.executable, "-m", "scn", "check", "--format", "json", workspace.name]
    for _ in range(2):
        running = [subprocess.Popen(command, cwd=workspace.parent, env=env, stdout=subprocess.PIPE, text=True)
                   for _ in range(3)]  # fmt: skip
        outputs = [process.communicate(timeout=60)[0] for process in running]
        assert all(process.returncode == 1 for process in running)
        assert outputs[0] == outputs[1] == outputs[2]
    assert not list((cache / "scn").glob("*.tmp")), "no temporary file left"
    after, imported = check(workspace, cache)
    first = json.loads(outputs[0])
    assert not imported and after == (first["diagnostics"] if isinstance(first, dict) else first)


def test_entries_not_used_for_a_month_are_deleted_once_a_day(cache_home: Path) -> None:
    from scn.grammar import parse

    keep_parse("b.scn", parse(FILES["b.scn"], "b.scn"))
    directory = cache_home / "scn"
    old, fresh, left = directory / "parse-old.msgpack", directory / "parse-fresh.msgpack", directory / "parse-x.tmp"
    for path in (old, fresh, left):
        path.write_bytes(b"x")
    month_ago = time.time() - _cache.PRUNE_AFTER - 60
    os.utime(old, (month_ago, month_ago))
    os.utime(left, (month_ago, month_ago))
    _cache._next_prune.clear()
    keep_parse("b.scn", parse(FILES["b.scn"], "b.scn"))
    assert old.exists() and left.exists(), "pruned less than a day ago (by the first keep)"
    (in_use,) = set(entries(cache_home)) - {old, fresh}
    kept = in_use.read_bytes()
    os.utime(in_use, (month_ago, month_ago))
    assert cached_parse("b.scn", FILES["b.scn"]) is not None  # a check reads it: it is in use
    os.utime(directory / "parse-pruned", (month_ago, month_ago))
    _cache._next_prune.clear()
    keep_parse("a.scn", parse(FILES["a.scn"], "a.scn"))
    assert not old.exists() and not left.exists() and fresh.exists()
    assert in_use.read_bytes() == kept and cached_parse("b.scn", FILES["b.scn"]) is not None
