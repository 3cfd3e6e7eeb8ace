"""A broadcast's runs are made a page at a time, each page in the transaction that moves
the broadcast's cursor: `scn worker`, killed with SIGKILL again and again while it makes
them, gives every member of the audience exactly one run (and one message), however the
kills fall."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from scn.interpreter.store import SqliteStore

from .recount import assert_counters_exact

WORKSPACE = """\
list everyone "Everyone"

template news email
  from "Shop" <shop@example.com>
  subject "News for {{ contact.first_name }}"
  html "news.html"
end

broadcast news_now to list everyone
  send email news
end
"""
AUDIENCE = 1200
PAGE = 20
KILLS = 6


async def _make_store(path: Path) -> None:
    store = SqliteStore(str(path))
    await store.open()
    await store.close()


def _make_audience(path: Path) -> None:
    """The audience, written straight into a fresh file (as an import would)."""
    asyncio.run(_make_store(path))
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO contacts (id, email, first_name, created_at, updated_at) VALUES (?, ?, 'Ģirts', 0, 0)",
            [(f"c{i:05d}", f"c{i}@example.com") for i in range(AUDIENCE)],
        )
        db.executemany(
            "INSERT INTO list_members (list, contact_id, added_at) VALUES ('everyone', ?, 0)",
            [(f"c{i:05d}",) for i in range(AUDIENCE)],
        )


def _start(workspace: Path, db: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "scn", "worker", str(workspace), "--db", str(db)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "SCN_SECRET": "crash-test", "SCN_BROADCAST_PAGE": str(PAGE)},
    )  # fmt: skip
    assert process.stderr is not None
    ready = process.stderr.readline()
    assert b'"ready": true' in ready, ready + process.stderr.read()
    return process


def _progress(db: Path) -> tuple[int, int | None]:
    with sqlite3.connect(db, timeout=30) as connection:
        row = connection.execute("SELECT queued, expanded_at FROM broadcasts").fetchone()
    return (row[0], row[1]) if row else (0, None)


def test_a_broadcast_killed_while_making_its_runs_gives_each_member_one(tmp_path: Path) -> None:
    random.seed(os.environ.get("SCN_CRASH_SEED", "broadcast"))
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "main.scn").write_text(WORKSPACE, encoding="utf-8")
    (workspace / "news.html").write_text('<p>Hi</p><a href="{{ unsubscribe_url }}">x</a>', encoding="utf-8")
    db = tmp_path / "scn.db"
    _make_audience(db)
    kills_mid_way = 0
    for _ in range(KILLS):
        process = _start(workspace, db)
        before = _progress(db)[0]
        deadline = time.monotonic() + 30
        # Kill once it has gone a little further, at a random moment of a page.
        while _progress(db)[0] <= before and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(random.uniform(0, 0.05))
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        queued, expanded = _progress(db)
        if expanded is not None:
            break
        kills_mid_way += 1
    assert kills_mid_way >= 2, "the kills came too late to test anything: make the audience larger"
    process = _start(workspace, db)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            with sqlite3.connect(db, timeout=30) as connection:
                [(state,)] = connection.execute("SELECT state FROM broadcasts").fetchall()
            if state == "done":
                break
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(30)
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT state, audience, queued FROM broadcasts").fetchall() == [
            ("done", AUDIENCE, AUDIENCE)
        ]
        runs = connection.execute("SELECT contact_id, count(*) FROM runs GROUP BY 1").fetchall()
        assert len(runs) == AUDIENCE and {count for _, count in runs} == {1}
        messages = connection.execute("SELECT contact_id, count(*) FROM outbox GROUP BY 1").fetchall()
        assert len(messages) == AUDIENCE and {count for _, count in messages} == {1}
        assert connection.execute("SELECT count(*) FROM runs WHERE status <> 'done'").fetchone() == (0,)
        assert_counters_exact(connection)
