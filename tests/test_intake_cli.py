"""Events from files: `scn worker` reading a redirected file, `scn simulate` refusing an
events file with an error per bad line (file:line: field: what was expected)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

WORKSPACE = """
event quiz.passed(course: string, score: number)
list quizzed "Took a quiz"

scenario quiz "Quiz"
  on quiz.passed where event.score >= 90
  add to list quizzed
end
"""


def lines(*events: object) -> str:
    return "".join((e if isinstance(e, str) else json.dumps(e, ensure_ascii=False)) + "\n" for e in events)


def quiz(contact: str, score: object, at: str = "2025-03-01T10:00:00+02:00") -> dict[str, object]:
    return {"type": "quiz.passed", "key": f"q-{contact}", "at": at, "contact": {"id": contact},
            "data": {"course": "c-1", "score": score}}  # fmt: skip


def test_worker_reads_events_from_a_redirected_file(tmp_path: Path) -> None:
    workspace = tmp_path / "w"
    workspace.mkdir()
    (workspace / "quiz.scn").write_text(WORKSPACE, encoding="utf-8")
    events = tmp_path / "events.jsonl"
    conflict = {**quiz("ann", 91), "key": "q-ann"}  # a key accepted on line 1, with other content
    events.write_text(lines(quiz("ann", 95), "# a comment", quiz("bob", "many"), quiz("cid", "90"), conflict,
                            quiz("dan", 99)), encoding="utf-8")  # fmt: skip
    db = tmp_path / "scn.db"
    with events.open("rb") as stdin:
        process = subprocess.Popen(
            [sys.executable, "-m", "scn", "worker", str(workspace), "--db", str(db), "--events", "-"],
            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            assert process.stdout is not None
            replies = [json.loads(process.stdout.readline()) for _ in range(5)]
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with sqlite3.connect(db) as conn:
                    if conn.execute("SELECT count(*) FROM events WHERE processed_at IS NULL").fetchone()[0] == 0:
                        break
                time.sleep(0.05)
        finally:
            process.send_signal(signal.SIGTERM)
            _, errors = process.communicate(timeout=20)
    assert process.returncode == 0, errors.decode()
    assert "Pipe transport" not in errors.decode()
    assert [r["line"] for r in replies] == [1, 3, 4, 5, 6]
    assert replies[0]["key"] == "q-ann" and replies[2]["key"] == "q-cid" and replies[4]["key"] == "q-dan"
    assert replies[3]["errors"][0]["field"] == "key" and "accepted before with other content" in replies[3]["error"]
    assert replies[1]["errors"] == [{"field": "data.score", "message": replies[1]["errors"][0]["message"]}]
    assert "'many' is not a decimal number" in replies[1]["error"]
    with sqlite3.connect(db) as conn:
        members = conn.execute("SELECT contact_id FROM list_members ORDER BY contact_id").fetchall()
        assert members == [("ann",), ("cid",), ("dan",)]


def simulate(workspace: Path, events: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scn", "simulate", str(workspace), "--events", str(events)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip


def test_simulate_refuses_an_events_file_with_a_located_error_per_bad_line(tmp_path: Path) -> None:
    (tmp_path / "quiz.scn").write_text(WORKSPACE, encoding="utf-8")
    events = tmp_path / "quiz.events.jsonl"
    good, wrong_type, missing = quiz("ann", 95), quiz("bob", "many"), {**quiz("dan", 1), "data": {"course": "c"}}
    # Lines that are not events at all: every one is reported, nothing is simulated.
    events.write_text(lines(good, wrong_type, '{"type": "quiz.passed", "type": "x"}',
                            quiz("cid", 90, at="2025-03-01T10:00:00"), missing), encoding="utf-8")  # fmt: skip
    done = simulate(tmp_path / "quiz.scn", events)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"scn simulate: {events}:3: the key 'type' appears twice in one object",
        f"scn simulate: {events}:4: at: a simulated event needs `at` with its offset (...+02:00 or ...Z)",
    ]
    # Events that do not fit the workspace's declarations: likewise, one line each.
    events.write_text(lines(good, wrong_type, missing), encoding="utf-8")
    done = simulate(tmp_path / "quiz.scn", events)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"scn simulate: {events}:2: data.score: 'many' is not a decimal number: write digits with an optional "
        "point, e.g. 12.50 (at most 15 digits before the point and 10 after it; no exponent, NaN or Infinity)",
        f"scn simulate: {events}:3: data.score: missing: quiz.passed needs score (number)",
    ]
    events.write_text(lines(good), encoding="utf-8")
    done = simulate(tmp_path / "quiz.scn", events)
    assert done.returncode == 0 and "add to list quizzed" in done.stdout, done.stderr


def test_worker_refuses_a_conflicting_key_alone_on_its_line_and_goes_on(tmp_path: Path) -> None:
    workspace = tmp_path / "w"
    workspace.mkdir()
    (workspace / "quiz.scn").write_text(WORKSPACE, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "scn", "worker", str(workspace), "--db", str(tmp_path / "scn.db"), "--events", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdin is not None and process.stdout is not None
        replies = []
        for event in (quiz("ann", 95), quiz("ann", 91), quiz("bob", 92)):  # one at a time, each its own commit
            process.stdin.write(lines(event).encode())
            process.stdin.flush()
            replies.append(json.loads(process.stdout.readline()))
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=20)
    assert process.returncode == 0, errors.decode()
    assert [r.get("key") for r in replies] == ["q-ann", None, "q-bob"]
    assert replies[1]["line"] == 2 and replies[1]["errors"][0]["field"] == "key"
