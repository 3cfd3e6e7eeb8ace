"""The template outlines `scn check` keeps on disk do not grow without bound: an outline
no check has used for a month is deleted, at most once a day, as parses are; one in use
stays; whatever else lies in the cache folder (a damaged entry, another's, a folder)
never fails a check; checks pruning and writing at once agree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from scn.grammar import _cache
from scn.interpreter.checker import _outline
from scn.interpreter.checker._outline import outline

from .test_template_outline import check

MONTH_AGO = time.time() - _cache.PRUNE_AFTER - 60
IN_USE = "<p>{{ contact.first_name }} {% for p in products %}{{ p.name }}{% endfor %}</p>"
NEW = "<p>{{ order.total|money }}</p>"


def entry(text: str, html: bool = True) -> Path:
    file = _cache.private_cache_file(f"template-{_outline._key(text, html)}.msgpack")
    assert file is not None
    return Path(file)


def age(*paths: Path, when: float = MONTH_AGO) -> None:
    for path in paths:
        os.utime(path, (when, when))


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SCN_GRAMMAR_CACHE", raising=False)
    outline.cache_clear()
    _cache._next_prune.clear()
    yield tmp_path / "cache" / "scn"
    outline.cache_clear()
    _cache._next_prune.clear()


def test_outlines_not_used_for_a_month_are_deleted_once_a_day_and_those_in_use_kept(cache_home: Path) -> None:
    made = outline(IN_USE, True)  # written, and the first prune of the folder
    in_use = entry(IN_USE)
    kept = in_use.read_bytes()
    old, fresh, left = cache_home / "template-old.msgpack", cache_home / "template-fresh.msgpack", \
        cache_home / "template-x.msgpack.1.0.tmp"  # fmt: skip
    running = cache_home / "template-y.msgpack.2.0.tmp"  # a check writing it now
    other_kind, foreign, folder = cache_home / "parse-old.msgpack", cache_home / "notes.txt", cache_home / "template-d"
    folder.mkdir()
    for path in (old, fresh, left, running, other_kind, foreign):
        path.write_bytes(b"x")
    age(old, left, other_kind, foreign, folder, in_use)
    outline.cache_clear()
    assert outline(IN_USE, True) == made, "read from the cache"
    assert time.time() - in_use.stat().st_mtime < 60, "a check read it: it is in use"
    outline.cache_clear()
    outline(NEW, True)
    assert old.exists() and left.exists(), "pruned less than a day ago (by the first write)"
    age(cache_home / "template-pruned", when=time.time() - _cache.PRUNE_EVERY - 60)
    outline.cache_clear()
    _cache._next_prune.clear()
    outline(NEW + " ", True)
    assert not old.exists() and not left.exists()
    assert fresh.exists() and running.exists() and entry(NEW).exists() and entry(NEW + " ").exists()
    assert in_use.read_bytes() == kept, "the outline in use was neither deleted nor made again"
    assert other_kind.exists() and foreign.exists() and folder.is_dir(), "not the outlines' to delete"
    assert time.time() - (cache_home / "template-pruned").stat().st_mtime < 60


def test_a_process_checking_for_days_prunes_again_each_day(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An editor's language server checks as you type, for days, in one process."""
    outline(IN_USE, True)
    old = cache_home / "template-old.msgpack"
    old.write_bytes(b"x")
    age(old)
    outline(NEW, True)
    assert old.exists(), "this process looked less than a day ago"
    a_day_later = time.time() + _cache.PRUNE_EVERY + 60
    monkeypatch.setattr(_cache, "time", SimpleNamespace(time=lambda: a_day_later))
    outline(NEW + " ", True)
    assert not old.exists() and entry(IN_USE).exists() and entry(NEW).exists()


def test_an_unreadable_or_unwritable_folder_never_fails_an_outline(cache_home: Path) -> None:
    outline(IN_USE, True)
    (cache_home / "template-pruned").unlink()
    (cache_home / "template-pruned").mkdir()  # a marker that cannot be written
    age(cache_home / "template-pruned", when=time.time() - _cache.PRUNE_EVERY - 60)
    entry(NEW).mkdir()  # and a folder where an outline goes
    _cache._next_prune.clear()
    assert outline(NEW, True) == _outline._from_jinja(NEW, True)
    assert entry(NEW).is_dir()


def damaged(data: bytes, other: bytes) -> list[bytes]:
    """Ways an outline's file can be wrong: cut short, a byte of its outline changed,
    empty, nested past what a decoder takes, another template's outline."""
    at = len(data) - 3
    return [data[: len(data) // 2], data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :], b"",
            b"\x91" * 200_000, other]  # fmt: skip


@pytest.mark.parametrize("how", range(5))
def test_a_damaged_or_foreign_outline_is_made_again(cache_home: Path, how: int) -> None:
    text = "{% for p in products %}{{ p.name }} {{ p.price|money }}{% endfor %}{{ contact.first_name }}"
    made = outline(text, True)
    outline(NEW, True)
    file = entry(text)
    kept = file.read_bytes()
    file.write_bytes(damaged(kept, entry(NEW).read_bytes())[how])
    outline.cache_clear()
    assert outline(text, True) == made
    assert file.read_bytes() == kept, "written again"


def test_a_check_with_anything_in_the_cache_folder_finds_what_it_finds_without(tmp_path: Path) -> None:
    from .test_template_outline import HTML, WORKSPACE

    folder = tmp_path / "w"
    folder.mkdir()
    (folder / "shop.scn").write_text(WORKSPACE, encoding="utf-8")
    (folder / "thanks.html").write_text(HTML, encoding="utf-8")
    cache = tmp_path / "cache"
    first, _ = check(folder, cache)
    directory = cache / "scn"
    for path in directory.glob("template-*.msgpack"):
        path.write_bytes(b"\x91" * 200_000)
    (directory / "template-folder.msgpack").mkdir()
    (directory / "template-x.msgpack.9.9.tmp").write_bytes(b"\x00")
    (directory / "template-pruned").write_bytes(b"")
    age(*directory.iterdir(), directory / "template-folder.msgpack")
    again, imported = check(folder, cache)
    assert imported and again == first
    assert (directory / "template-folder.msgpack").is_dir() and not (directory / "template-x.msgpack.9.9.tmp").exists()


def test_checks_at_once_prune_and_write_outlines_and_agree(tmp_path: Path) -> None:
    folder = tmp_path / "w"
    folder.mkdir()
    templates = "".join(
        f'template t{n} sms\n  text "Привіт {{{{ contact.first_name }}}} {n} {{{{ contact.frist }}}}"\nend\n'
        for n in range(30)
    )  # fmt: skip
    sends = "".join(f"  send sms t{n}\n" for n in range(30))
    (folder / "w.scn").write_text(f'{templates}\nscenario s "S"\n  on order.paid\n{sends}end\n', "utf-8")
    cache = tmp_path / "cache"
    directory = cache / "scn"
    directory.mkdir(parents=True, mode=0o700)
    stale = [directory / f"template-{n:032x}.msgpack" for n in range(300)]
    for path in stale:
        path.write_bytes(b"x" * 100)
    age(*stale)
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    command = [sys.executable, "-m", "scn", "check", "--format", "json", folder.name]
    outputs: list[str] = []
    for _ in range(2):  # on a cache of stale outlines, every check pruning; then from the cache
        running = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
                   for _ in range(3)]  # fmt: skip
        outputs += [process.communicate(timeout=60)[0] for process in running]
        assert all(process.returncode == 1 for process in running)
    assert len(set(outputs)) == 1 and "frist" in outputs[0]
    assert not any(path.exists() for path in stale)
    assert not list(directory.glob("*.tmp")), "no temporary file left"
    assert len(list(directory.glob("template-*.msgpack"))) == 30
    again, imported = check(folder, cache)  # the same folder, named by its absolute path
    first = json.loads(outputs[0])
    first = first["diagnostics"] if isinstance(first, dict) else first
    assert not imported, "every outline came from the cache"
    assert [(f["message"], f["location"]) for f in again] == [(f["message"], f["location"]) for f in first]
