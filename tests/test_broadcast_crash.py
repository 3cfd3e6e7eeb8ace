"""A broadcast's runs are made a page at a time, each page in the transaction that moves
the broadcast's cursor: `scn worker`, killed with SIGKILL again and again while it makes
them, gives every member of the audience exactly one run (and one message), however the
kills fall."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from .backends import assert_counters_match_rows, execute_many, migrated, rows

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


def _make_audience(db: str) -> None:
    """The audience, written straight into a fresh store (as an import would)."""
    migrated(db)
    execute_many(
        db,
        "INSERT INTO contacts (id, email, first_name, created_at, updated_at) VALUES (?, ?, 'Ģirts', 0, 0)",
        [(f"c{i:05d}", f"c{i}@example.com") for i in range(AUDIENCE)],
    )
    execute_many(
        db,
        "INSERT INTO list_members (list, contact_id, added_at) VALUES ('everyone', ?, 0)",
        [(f"c{i:05d}",) for i in range(AUDIENCE)],
    )


def _start(workspace: Path, db: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "scn", "worker", str(workspace), "--db", db],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "SCN_SECRET": "crash-test", "SCN_BROADCAST_PAGE": str(PAGE)},
    )  # fmt: skip
    assert process.stderr is not None
    ready = process.stderr.readline()
    assert b'"ready": true' in ready, ready + process.stderr.read()
    return process


def _progress(db: str) -> tuple[int, int | None]:
    found = rows(db, "SELECT queued, expanded_at FROM broadcasts")
    return (found[0][0], found[0][1]) if found else (0, None)


def test_a_broadcast_killed_while_making_its_runs_gives_each_member_one(tmp_path: Path, db: str) -> None:
    random.seed(os.environ.get("SCN_CRASH_SEED", "broadcast"))
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "main.scn").write_text(WORKSPACE, encoding="utf-8")
    (workspace / "news.html").write_text('<p>Hi</p><a href="{{ unsubscribe_url }}">x</a>', encoding="utf-8")
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
            [(state,)] = rows(db, "SELECT state FROM broadcasts")
            if state == "done":
                break
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(30)
    assert rows(db, "SELECT state, audience, queued FROM broadcasts") == [("done", AUDIENCE, AUDIENCE)]
    runs = rows(db, "SELECT contact_id, count(*) FROM runs GROUP BY 1")
    assert len(runs) == AUDIENCE and {count for _, count in runs} == {1}
    messages = rows(db, "SELECT contact_id, count(*) FROM outbox GROUP BY 1")
    assert len(messages) == AUDIENCE and {count for _, count in messages} == {1}
    assert rows(db, "SELECT count(*) FROM runs WHERE status <> 'done'") == [(0,)]
    assert_counters_match_rows(db)
