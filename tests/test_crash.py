"""Crash safety: `scn worker` on a real file, killed with SIGKILL again and again.

Events stream into the interpreter's standard input; it acknowledges each once it is
on disk. At random moments the process is killed outright, then started again on the
same file, and the producer resends whatever was not acknowledged (as a real producer
would).

The first test runs the engine alone. Time runs 60 times faster than the wall clock,
from an origin shared by every restart, so the scenario's one-minute wait takes a
second and kills land before, during and after waits, sends and commits. At the end:
every acknowledged event was processed exactly once, each run sent each of its messages
exactly once, no run is lost or stuck, and no wait fired early.

The second delivers mail to a real SMTP server, on the wall clock, and kills the worker
in the middle of a burst of mail. SMTP cannot confirm "exactly once" across a crash (a
mail the server accepted just before the kill, and whose acceptance was not yet
recorded, goes again after the restart), so it counts: the mails sent twice per kill
(at most one per SMTP connection), and how long the mails the dead process had claimed
wait after the restart (not the five minutes of their lease). `SCN_CRASH_MAIL_KILLS=30`
kills it more often (the default keeps the suite fast), `SCN_CRASH_SEED` varies the
moments.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import IO

from .backends import assert_counters_match_rows, rows, scalar
from .smtp_server import SmtpServer

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

    def __init__(self, workspace: Path, db: str, origin: str | None, env: dict[str, str] | None = None) -> None:
        clock = ["--clock-speed", str(SPEED), "--clock-origin", origin] if origin is not None else []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scn", "worker", str(workspace), "--db", db, "--events", "-", *clock],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "SCN_SECRET": "crash-test", **(env or {})},
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


def settled(db: str) -> bool:
    [(events, unprocessed)] = rows(
        db,
        "SELECT count(*) FILTER (WHERE type = 'order.paid'), count(*) FILTER (WHERE processed_at IS NULL) FROM events",
    )
    live = scalar(db, "SELECT count(*) FROM runs WHERE status NOT IN ('done', 'failed')")
    return bool(events == EVENTS and unprocessed == 0 and live == 0)


def test_sigkill_at_random_points_loses_and_repeats_nothing(tmp_path: Path, db: str) -> None:
    workspace = tmp_path / "shop.scn"
    workspace.write_text(WORKSPACE, encoding="utf-8")
    (tmp_path / "hello.html").write_text("<p>Thanks for order {{ order.number }}</p>", encoding="utf-8")
    (tmp_path / "again.html").write_text("<p>How is order {{ order.number }}?</p>", encoding="utf-8")
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
        busy_kills += scalar(db, "SELECT count(*) FROM runs WHERE status = 'waiting'") > 0
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

    keys = [k for (k,) in rows(db, "SELECT key FROM events WHERE type = 'order.paid'")]
    assert sorted(keys) == sorted(acked)  # each acknowledged event stored once
    assert scalar(db, "SELECT count(*) FROM events WHERE processed_at IS NULL") == 0

    # Processed exactly once: one run per event, and every run finished.
    runs = rows(db, "SELECT trigger_event, status FROM runs")
    assert len(runs) == EVENTS
    assert len({trigger for trigger, _ in runs}) == EVENTS
    assert {status for _, status in runs} == {"done"}

    # Every message of every run is in the outbox exactly once.
    outbox = rows(db, "SELECT run_id, template FROM outbox ORDER BY run_id, id")
    per_run: dict[int, list[str]] = {}
    for run_id, template in outbox:
        per_run.setdefault(run_id, []).append(template)
    assert len(per_run) == EVENTS
    assert all(templates == ["hello", "again"] for templates in per_run.values())

    # The step log shows each step once per run: no step ran twice.
    repeated = rows(
        db, "SELECT run_id, step, count(*) FROM step_log GROUP BY run_id, step, outcome HAVING count(*) > 1"
    )
    assert repeated == []

    # No wait fired early: the second mail is at least a (compressed) minute after the event
    # that started its run (waits count from when the event happened).
    gaps = scalar(
        db,
        "SELECT min(b.created_at - e.occurred_at) FROM outbox b JOIN runs r ON r.id = b.run_id "
        "JOIN events e ON e.id = r.trigger_event WHERE b.template = 'again'",
    )
    assert gaps >= 60_000

    members = scalar(db, "SELECT count(DISTINCT contact_id) FROM list_members WHERE list = 'buyers'")
    assert members == 40
    assert kills == KILLS
    assert busy_kills >= KILLS // 2, "most kills should land while runs are mid-way"
    # The counters (runs, steps, messages, events) were kept in the transactions the kills
    # cut short or let through: they match a recount of the rows.
    assert_counters_match_rows(db)


MAIL_WORKSPACE = """\
template receipt email
  from "Shop" <shop@example.com>
  subject "Order {{ order.number }}"
  html "receipt.html"
end

scenario receipts "A receipt for each paid order"
  on order.paid
  send email receipt
end
"""

CONNECTIONS = 4
MAIL_KILLS = int(os.environ.get("SCN_CRASH_MAIL_KILLS", "3"))
#: Events (hence mails) fed to each life of the worker, all at once: a burst.
BURST = 250
#: The longest a mail claimed by the killed process may wait after the restart.
HELD_LIMIT_S = 10.0


def outbox_id(mail: object) -> int:
    """The outbox id in a Message-ID: `<scn.<id>.<created ms>@domain>`."""
    return int(str(mail).strip("<>").split(".")[1])


def arrivals(server: SmtpServer, since: int) -> dict[int, float]:
    """When each mail (by outbox id) first arrived, among those from the ``since``-th on."""
    count = len(server.handler.received_at)  # `received` grows first: it has as many
    mails = server.handler.received[since:count]
    first: dict[int, float] = {}
    for (_, mail), at in zip(mails, server.handler.received_at[since:count], strict=True):
        first.setdefault(outbox_id(mail["Message-ID"]), at)
    return first


def settle(server: SmtpServer) -> None:
    """Until the server has taken no mail for a moment."""
    count = -1
    while count != len(server.handler.received_at):
        count = len(server.handler.received_at)
        time.sleep(0.1)


def test_sigkill_during_a_mail_burst_resends_at_most_a_mail_per_connection(tmp_path: Path, db: str) -> None:
    workspace = tmp_path / "shop.scn"
    workspace.write_text(MAIL_WORKSPACE, encoding="utf-8")
    (tmp_path / "receipt.html").write_text("<p>Thanks for order {{ order.number }}</p>", encoding="utf-8")
    rng = random.Random(int(os.environ.get("SCN_CRASH_SEED", "20261207")))
    total = BURST * (MAIL_KILLS + 1)
    lines = [event(i) for i in range(total)]
    acked: set[str] = set()
    duplicates: list[int] = []  # per kill: mails the server had accepted that go again
    held_waits: list[float] = []  # per restart: how long the claimed mails of the dead process waited

    with SmtpServer() as server:
        handler = server.handler
        env = {"SCN_SMTP_URL": f"{server.url}&connections={CONNECTIONS}"}
        held: set[int] = set()
        for life in range(MAIL_KILLS + 1):
            started = time.monotonic()
            first_new = len(handler.received_at)
            worker = Interpreter(workspace, db, None, env)
            todo = [line for line in lines[: BURST * (life + 1)] if json.loads(line)["key"] not in acked]
            worker.send(todo)
            if held:
                # The claimed mails of the killed process go out soon, not when their lease ends.
                deadline = started + HELD_LIMIT_S + 5
                while True:
                    arrived = arrivals(server, first_new)
                    if held <= arrived.keys() or time.monotonic() > deadline:
                        break
                    time.sleep(0.02)
                assert held <= arrived.keys(), (
                    f"{len(held - arrived.keys())} of {len(held)} claimed mails still held "
                    f"{time.monotonic() - started:.1f} s after the restart (mails sent twice per kill: {duplicates})"
                )
                held_waits.append(max(arrived[i] for i in held) - started)
            if life == MAIL_KILLS:
                break
            # Kill in the middle of the burst: once the server has taken a random number of
            # this life's mails, while many are still to go.
            target = first_new + rng.randint(5, BURST // 2)
            deadline = time.monotonic() + 30
            while len(handler.received_at) < target:
                assert time.monotonic() < deadline, "the worker sent too little"
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.02))
            worker.kill()
            acked |= worker.acked
            settle(server)  # what the dead process wrote before it died is still being read
            accepted = Counter(outbox_id(m["Message-ID"]) for _, m in handler.received[: len(handler.received_at)])
            # Claimed and not recorded: no attempt has failed here, so a pending message
            # with an attempt counted was taken by the sender that died.
            held = {i for (i,) in rows(db, "SELECT id FROM outbox WHERE status = 'pending' AND attempts > 0")}
            left = scalar(db, "SELECT count(*) FROM outbox WHERE status = 'pending'")
            assert left > len(held), "the kill should come while mail is still to go"
            duplicates.append(sum(1 for i in held if accepted[i]))

        deadline = time.monotonic() + 60
        while True:
            [(unsent, events)] = rows(
                db,
                "SELECT (SELECT count(*) FROM outbox WHERE status != 'sent'), "
                "(SELECT count(*) FROM events WHERE processed_at IS NOT NULL)",
            )
            if unsent == 0 and events == total:
                break
            assert time.monotonic() < deadline, f"{unsent} mails not sent"
            time.sleep(0.1)
        worker.stop()
        received = Counter(outbox_id(m["Message-ID"]) for _, m in handler.received)

    print(f"duplicates per kill {duplicates}, held mail waited {[round(w, 2) for w in held_waits]} s")
    ids = {i for (i,) in rows(db, "SELECT id FROM outbox")}
    assert len(ids) == total and set(received) == ids, "every mail arrived"
    assert sum(received.values()) - len(received) == sum(duplicates), "mails went twice only across a kill"
    assert max(duplicates) <= CONNECTIONS, f"at most one mail per connection goes twice: {duplicates}"
    assert max(held_waits) <= HELD_LIMIT_S, held_waits
    assert_counters_match_rows(db)  # the kills in a burst left them exact
