"""`scn import contacts FILE.csv --db F` in a subprocess: the durable import job the API
uses, with progress on standard error (a rich bar when asked or on a terminal, a line a
chunk otherwise), an error with its line for every row it cannot import, and an
interrupted import (Ctrl-C) that goes on where it stopped when run again."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .backends import migrated, rows

ROOT = Path(__file__).resolve().parent.parent


def _scn(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scn", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def db(db: str) -> str:
    """An empty store, as `scn serve` leaves one, on each backend (conftest's `db`)."""
    return migrated(db)


def _csv(path: Path, count: int, extra: str = "") -> Path:
    lines = ["id,email,first_name,plan"] + [f"c{i},c{i}@example.com,Jānis Ōzols {i},gold" for i in range(count)]
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def _imported(db: str) -> list[tuple[str, str]]:
    """(key, payload) of the contact.updated events the imports accepted."""
    found = rows(db, "SELECT key, payload FROM events WHERE key LIKE 'import:%' ORDER BY id")
    return [(str(k), str(p)) for k, p in found]


def test_a_csv_is_imported_with_a_line_a_chunk_and_an_error_a_bad_row(tmp_path: Path, db: str) -> None:
    bad = (
        ",nobody@example.com,No Id,\n"  # line 2502
        "c-extra,extra@example.com,Extra,gold,surplus\n"  # 2503
        "c-bad,not-an-email,Погана,\n"  # 2504
    )
    done = _scn("import", "contacts", str(_csv(tmp_path / "people.csv", 2500, bad)), "--db", db)
    assert done.returncode == 1, done.stderr  # rows were left out: findings
    assert done.stdout == "import 1: 2500 contacts imported, 0 already there, 3 rows not imported\n"
    err = done.stderr.splitlines()
    assert [e for e in err if e.startswith("imported ")] == [f"imported {n}/2501 rows" for n in (1000, 2000, 2501)]
    assert err[-3:] == [
        f"{tmp_path / 'people.csv'}:2502: no id",
        f"{tmp_path / 'people.csv'}:2503: 5 values, but the header names 4 columns",
        f"{tmp_path / 'people.csv'}:2504: email: expected an email address: one `@` with text on both sides, no spaces",
    ]
    imported = _imported(db)
    assert len(imported) == 2500 and imported[0][0] == "import:1:2" and "Jānis Ōzols 0" in imported[0][1]


def test_a_file_that_cannot_be_imported_says_where(tmp_path: Path, db: str) -> None:
    cases = {
        "email,first_name\nann@example.com,Ann\n": ":1: the CSV needs a header row naming its columns, `id` among them",
        'id,email\nann,ann@example.com\n"bob,bob@example.com\n': ":3: not readable CSV: unexpected end of data: a "
        "quoted field that starts here is never closed",
    }
    for number, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"bad{number}.csv"
        path.write_text(text, encoding="utf-8")
        refused = _scn("import", "contacts", str(path), "--db", db)
        assert (refused.returncode, refused.stdout) == (2, ""), refused
        assert refused.stderr == f"scn import: {path}{message}\n"
    (tmp_path / "latin1.csv").write_bytes("id,first_name\nz,Zażółć\n".encode("iso-8859-2"))
    refused = _scn("import", "contacts", str(tmp_path / "latin1.csv"), "--db", db)
    assert refused.returncode == 2 and "latin1.csv:2: not UTF-8 text (byte 18); save the CSV as UTF-8" in refused.stderr
    missing = _scn("import", "contacts", str(tmp_path / "bad0.csv"), "--db", str(tmp_path / "nope.db"))
    assert missing.returncode == 2 and "no store at" in missing.stderr and not (tmp_path / "nope.db").exists()
    assert _imported(db) == [], "nothing of a refused file is imported"


def test_the_progress_bar_and_an_empty_file(tmp_path: Path, db: str) -> None:
    shown = _scn("import", "contacts", str(_csv(tmp_path / "few.csv", 30)), "--db", db, "--progress", "--chunk", "7")
    assert shown.returncode == 0, shown.stderr
    assert "importing rows" in shown.stderr and "30/30" in shown.stderr and "imported 7/30" not in shown.stderr
    empty = _scn("import", "contacts", str(_csv(tmp_path / "none.csv", 0)), "--db", db)
    assert (empty.returncode, empty.stdout) == (0, "import 2: 0 contacts imported, 0 already there, 0 rows not "
                                                   "imported\n")  # fmt: skip


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_an_interrupted_import_goes_on_where_it_stopped(tmp_path: Path, db: str) -> None:
    """Ctrl-C after the first chunks: what was imported stays, and the same command again
    goes on from there (each row imported once: its key)."""
    path = _csv(tmp_path / "many.csv", 400)
    command = [sys.executable, "-m", "scn", "import", "contacts", str(path), "--db", db, "--chunk", "1"]
    # A shell without job control starts background commands with SIGINT ignored, and Python
    # then installs no KeyboardInterrupt handler: give the command Ctrl-C as a terminal would.
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_interruptible
    )
    assert process.stderr is not None
    started = time.monotonic()
    for line in process.stderr:  # the first chunks are in: stop it as Ctrl-C does
        if line.startswith("imported 3/"):
            process.send_signal(signal.SIGINT)
            break
        assert time.monotonic() - started < 60
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted: what was imported is kept; run the same command again to go on" in err
    before = len(_imported(db))
    assert 3 <= before < 400, before

    again = _scn("import", "contacts", str(path), "--db", db)
    assert again.returncode == 0, again.stderr
    assert f"import 1: going on from row {before}" in again.stderr or f"going on from row {before - 1}" in again.stderr
    assert again.stdout.startswith("import 1: ") and again.stdout.endswith(" 0 rows not imported\n")
    keys = [key for key, _ in _imported(db)]
    assert sorted(keys) == sorted(f"import:1:{n + 2}" for n in range(400)), "every row once"
    assert rows(db, "SELECT status, position, total FROM import_jobs") == [("done", 400, 400)]


async def test_codes_go_into_a_pool_coupon_and_again_adds_only_what_is_missing(tmp_path: Path, db: str) -> None:
    from .harness import Harness

    workspace = (
        'coupon POOLED discount 10% from pool "codes.csv"\ncoupon MADE discount 5% generated "MADE-{XXXXXXXX}"\n'
    )
    async with Harness(workspace, path=db, resources={"codes.csv": "code\nP-0\n"}):
        pass
    codes = tmp_path / "more.csv"
    codes.write_text("code\n" + "".join(f"P-{n}\n" for n in range(2500)), encoding="utf-8")
    done = await asyncio.to_thread(_scn, "import", "codes", "POOLED", str(codes), "--db", db)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "coupon POOLED: 2499 codes added, 1 already in the pool, 2500 free\n"
    assert [e for e in done.stderr.splitlines() if e.startswith("imported")] == [
        f"imported {n}/2500 rows" for n in (1000, 2000, 2500)
    ]
    again = await asyncio.to_thread(_scn, "import", "codes", "POOLED", str(codes), "--db", db)
    assert again.stdout == "coupon POOLED: 0 codes added, 2500 already in the pool, 2500 free\n"
    made = await asyncio.to_thread(_scn, "import", "codes", "MADE", str(codes), "--db", db)
    assert made.returncode == 2 and "coupon MADE is not drawn from a pool; its codes are generated" in made.stderr
    unknown = await asyncio.to_thread(_scn, "import", "codes", "NOPE", str(codes), "--db", db)
    assert unknown.returncode == 2 and "no coupon NOPE in the workspace deployed there (its pool coupons: POOLED)" in (
        unknown.stderr
    )
