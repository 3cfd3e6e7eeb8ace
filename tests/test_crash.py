"""Crash safety: `scn worker` on a real file, killed with SIGKILL again and again.

Events stream into the interpreter's standard input; it acknowledges each once it is
on disk. At random moments the process is killed outright, then started again on the
same file, and the producer resends whatever was not acknowledged (as a real producer
would). Time runs 60 times faster than the wall clock, from an origin shared by every
restart, so the scenario's one-minute wait takes a second and kills land before,
during and after waits, sends and commits.

At the end: every acknowledged event was processed exactly once, each run sent each of
its messages exactly once, no run is lost or stuck, and no wait fired early.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

WORKSPACE = """\
template hello email
  from "Shop" <shop@example.com>
  subject "Hello {{ contact.first_name }}"
  html "hello.html"
end

template again email
  from "Shop" <shop@example.com>
  subject "Still happy?"
  html "again.html"
end

list buyers "Buyers"

scenario crash_test "Two mails a minute apart"
  on order.paid
  add to list buyers
  send email hello
  wait 1m
  send email again
end
"""

EVENTS = 400
SPEED = 60
KILLS = 6


def event(i: int) -> str:
    contact = f"c{i % 40}"
    return json.dumps(
        {
            "type": "order.paid",
            "key": f"paid-{i}",
            "contact": {"id": contact, "email": f"{contact}@example.com", "first_name": "Ганна"},
            "order": {"id": f"o{i}", "number": str(1000 + i), "total": "10.00", "currency": "EUR"},
        },
        ensure_ascii=False,
    )


class Interpreter:
    """One `scn worker` process: feeds it events and collects its acknowledgements."""

    def __init__(self, workspace: Path, db: Path, origin: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scn", "worker", str(workspace), "--db", str(db), "--events", "-",
             "--clock-speed", str(SPEED), "--clock-origin", origin],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "SCN_SECRET": "crash-test"},
        )  # fmt: skip
        self.acked: set[str] = set()
        assert self.process.stdout is not None and self.process.stderr is not None
        ready = self.process.stderr.readline()
        assert b'"ready": true' in ready, ready + self.process.stderr.read()
        self._reader = threading.Thread(target=self._read_acks, args=(self.process.stdout,), daemon=True)
        self._reader.start()

    def _read_acks(self, stream: IO[bytes]) -> None:
        for line in stream:
            reply = json.loads(line)
            assert "error" not in reply, reply
            self.acked.add(reply["key"])

    def send(self, lines: list[str]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write("".join(line + "\n" for line in lines).encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            pass

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._reader.join(10)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(20) == 0, self.process.stderr.read() if self.process.stderr else ""
        self._reader.join(10)


def settled(db: Path) -> bool:
    with sqlite3.connect(db, timeout=30) as conn:
        events, unprocessed = conn.execute(
            "SELECT count(*) FILTER (WHERE type = 'order.paid'), count(*) FILTER (WHERE processed_at IS NULL) "
            "FROM events"
        ).fetchone()
        live = conn.execute("SELECT count(*) FROM runs WHERE status NOT IN ('done', 'failed')").fetchone()[0]
    return bool(events == EVENTS and unprocessed == 0 and live == 0)


def test_sigkill_at_random_points_loses_and_repeats_nothing(tmp_path: Path) -> None:
    workspace = tmp_path / "shop.scn"
    workspace.write_text(WORKSPACE, encoding="utf-8")
    (tmp_path / "hello.html").write_text("<p>Thanks for order {{ order.number }}</p>", encoding="utf-8")
    (tmp_path / "again.html").write_text("<p>How is order {{ order.number }}?</p>", encoding="utf-8")
    db = tmp_path / "scn.db"
    origin = dt.datetime.now(dt.UTC).isoformat()
    rng = random.Random(20261123)
    pending = [event(i) for i in range(EVENTS)]
    acked: set[str] = set()
    kills = 0
    busy_kills = 0  # kills that found runs in the middle of a wait

    while kills < KILLS:
        interpreter = Interpreter(workspace, db, origin)
        # Spread this round's share of events over a random lifetime, so that the kill
        # comes while they still stream in.
        lifetime = rng.uniform(0.4, 1.2)
        share = pending[: EVENTS // (KILLS + 1)]
        deadline = time.monotonic() + lifetime
        cursor = 0
        while time.monotonic() < deadline:
            step = rng.randint(1, 3)
            interpreter.send(share[cursor : cursor + step])
            cursor += step
            time.sleep(lifetime / len(share) * step * rng.uniform(0.5, 1.5))
        interpreter.kill()
        with sqlite3.connect(db) as conn:
            busy_kills += conn.execute("SELECT count(*) FROM runs WHERE status = 'waiting'").fetchone()[0] > 0
        kills += 1
        acked |= interpreter.acked
        pending = [line for line in pending if json.loads(line)["key"] not in acked]
        # Producers retry what was not acknowledged; some of it may be on disk already.

    final = Interpreter(workspace, db, origin)
    final.send(pending)
    deadline = time.monotonic() + 60
    while not settled(db):
        assert time.monotonic() < deadline, "the interpreter did not finish the work in time"
        time.sleep(0.2)
    final.stop()
    acked |= final.acked
    assert acked == {f"paid-{i}" for i in range(EVENTS)}

    conn = sqlite3.connect(db)
    keys = [k for (k,) in conn.execute("SELECT key FROM events WHERE type = 'order.paid'")]
    assert sorted(keys) == sorted(acked)  # each acknowledged event stored once
    assert conn.execute("SELECT count(*) FROM events WHERE processed_at IS NULL").fetchone()[0] == 0

    # Processed exactly once: one run per event, and every run finished.
    runs = conn.execute("SELECT trigger_event, status FROM runs").fetchall()
    print("RUNS", len(runs), len({t for t, _ in runs}), conn.execute("select count(*) from events").fetchone())
    assert len(runs) == EVENTS
    assert len({trigger for trigger, _ in runs}) == EVENTS
    assert {status for _, status in runs} == {"done"}

    # Every message of every run is in the outbox exactly once.
    outbox = conn.execute("SELECT run_id, template FROM outbox ORDER BY run_id, id").fetchall()
    per_run: dict[int, list[str]] = {}
    for run_id, template in outbox:
        per_run.setdefault(run_id, []).append(template)
    assert len(per_run) == EVENTS
    assert all(templates == ["hello", "again"] for templates in per_run.values())

    # The step log shows each step once per run: no step ran twice.
    repeated = conn.execute(
        "SELECT run_id, step, count(*) FROM step_log GROUP BY run_id, step, outcome HAVING count(*) > 1"
    ).fetchall()
    assert repeated == []

    # No wait fired early: the second mail is at least a (compressed) minute after the event
    # that started its run (waits count from when the event happened).
    gaps = conn.execute(
        "SELECT min(b.created_at - e.occurred_at) FROM outbox b JOIN runs r ON r.id = b.run_id "
        "JOIN events e ON e.id = r.trigger_event WHERE b.template = 'again'"
    ).fetchone()[0]
    assert gaps >= 60_000

    members = conn.execute("SELECT count(DISTINCT contact_id) FROM list_members WHERE list = 'buyers'").fetchone()[0]
    assert members == 40
    assert kills == KILLS
    assert busy_kills >= KILLS // 2, "most kills should land while runs are mid-way"
