"""Benchmark of a broadcast (issue 15): a mail to 100,000 contacts, built and queued in
seconds, then handed to SMTP.

On a fresh SQLite file (WAL, synchronous=FULL, as `scn serve` runs it) with N contacts in
a list, an engine deploys `broadcast news to list everyone send email news` (no time: it
goes at once) and is timed in the three stages its loop goes through:

* queue: the broadcast's audience becomes runs, a page per transaction with the cursor
  (contacts queued/s);
* send steps: the due runs render the mail into the outbox, as the loop wakes them
  (messages into the outbox/s);
* SMTP: the sender `scn serve` builds from its settings (SCN_SMTP_URL to a local aiosmtpd
  sink in its own process) delivers the first M of them (`deliver_all`, as its loop does),
  beside a bare aiosmtplib loop over as many connections sending M messages
  (bench_email.py's reference, measured in the same run): messages handed to SMTP/s.

Run: python bench/bench_broadcast.py [--quick] [--contacts N] [--smtp M] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_email import SINK, bare_send, free_port

from scn.interpreter.checker import check_workspace
from scn.interpreter.clock import WallClock
from scn.interpreter.runtime import Engine, Settings
from scn.interpreter.runtime.worker import deploy
from scn.interpreter.store import SENT, SqliteStore
from scn.interpreter.workspace import workspace_from_texts
from scn.stdlib.delivery.config import build_sender, load_delivery
from scn.stdlib.delivery.email import SmtpConfig

WORKSPACE = """
list everyone "Everyone"

template news email
  from "Northwind Shop" <news@northwind.example>
  subject "{{ contact.first_name or 'Friends' }}, our winter news"
  html "news.html"
end

broadcast news to list everyone
  send email news
end
"""
TEMPLATE = (
    "<p>Sveiki, {{ contact.first_name }}!</p>"
    + "<p>Jaunumi ziemai: <a href='https://shop.example/winter'>katalogs</a>.</p>" * 10
    + "<a href='{{ unsubscribe_url }}'>Atrakstīties</a>"
)


async def _empty_store(path: Path) -> None:
    store = SqliteStore(str(path))
    await store.open()
    await store.close()


def make_audience(path: Path, count: int) -> None:
    """N contacts in the list, written straight into the file (as an import would)."""
    asyncio.run(_empty_store(path))
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO contacts (id, email, first_name, language, created_at, updated_at) "
            "VALUES (?, ?, 'Līga', 'lv', 0, 0)",
            ((f"c{i:07d}", f"c{i}@example.com") for i in range(count)),
        )
        db.executemany(
            "INSERT INTO list_members (list, contact_id, added_at) VALUES ('everyone', ?, 0)",
            ((f"c{i:07d}",) for i in range(count)),
        )


async def broadcast(path: Path, count: int, smtp_url: str | None, smtp_count: int) -> dict[str, float]:
    """Seconds for each stage."""
    store = SqliteStore(str(path))
    await store.open()
    clock = WallClock()
    engine = Engine(store, clock, Settings(secret="bench", public_url="http://127.0.0.1:8000"))
    result = check_workspace(workspace_from_texts({"news.scn": WORKSPACE}, {"news.html": TEMPLATE}))
    assert result.ok, [d.message for d in result.diagnostics]
    await engine.load()
    await deploy(engine, result)
    started = time.perf_counter()
    while await engine.broadcasts.step(engine.scenarios, engine.bundles):
        if engine.broadcasts.rows["news"].expanded_at is not None:
            break
    queued_s = time.perf_counter() - started
    [(queued,)] = await store._rows("SELECT queued FROM broadcasts")
    assert queued == count, queued
    started = time.perf_counter()
    while await engine.run_due():
        pass
    outbox_s = time.perf_counter() - started
    [(made,)] = await store._rows("SELECT count(*) FROM outbox WHERE status = 'pending'")
    assert made == count, made
    figures = {"queue_s": queued_s, "outbox_s": outbox_s}
    if smtp_url is not None:
        # The sender takes the first M (the rest are put off, out of its sight).
        await store._write_now(
            lambda db: db.execute("UPDATE outbox SET next_attempt_at = 9e15 WHERE id > ?", (smtp_count,))
        )
        sender = build_sender(store, clock, load_delivery(None, {"SCN_SMTP_URL": smtp_url}), "bench")
        started = time.perf_counter()
        await sender.deliver_all()
        figures["smtp_s"] = time.perf_counter() - started
        sent = await store.outbox(status=SENT, limit=smtp_count + 1)
        assert len(sent) == smtp_count, len(sent)
        await sender.channels["email"].close()
    await store.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5,000 contacts, 500 by SMTP, one run")
    parser.add_argument("--contacts", type=int)
    parser.add_argument("--smtp", type=int, help="how many of the mails go to the SMTP sink")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    count = args.contacts or (5_000 if args.quick else 100_000)
    smtp_count = min(args.smtp or (500 if args.quick else 5_000), count)
    repeats = args.repeats or (1 if args.quick else 3)
    connections = SmtpConfig.from_url("smtp://localhost").connections
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    runs: list[dict[str, float]] = []
    bare: list[float] = []
    try:
        assert sink.stdout is not None and sink.stdout.readline().strip() == b"ready"
        url = f"smtp://127.0.0.1:{port}?starttls=off"
        with tempfile.TemporaryDirectory(prefix="scn-bench-broadcast-") as tmp:
            for attempt in range(repeats):
                path = Path(tmp) / f"broadcast-{attempt}.db"
                make_audience(path, count)
                runs.append(asyncio.run(broadcast(path, count, url, smtp_count)))
                bare.append(asyncio.run(bare_send(port, smtp_count, connections)))
                print(f"run {attempt + 1}: queued {count / runs[-1]['queue_s']:,.0f} contacts/s, outbox "
                      f"{count / runs[-1]['outbox_s']:,.0f}/s, SMTP {smtp_count / runs[-1]['smtp_s']:,.0f}/s "
                      f"(bare {smtp_count / bare[-1]:,.0f}/s)", flush=True)  # fmt: skip
    finally:
        sink.communicate(b"", timeout=30)

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    figures: dict[str, Any] = {
        "contacts": count, "smtp_count": smtp_count, "connections": connections,
        "queued_per_s_runs": [count / r["queue_s"] for r in runs],
        "outbox_per_s_runs": [count / r["outbox_s"] for r in runs],
        "smtp_per_s_runs": [smtp_count / r["smtp_s"] for r in runs],
        "bare_per_s_runs": [smtp_count / b for b in bare],
        "queue_s": median([r["queue_s"] for r in runs]),
    }  # fmt: skip
    for key in ("queued", "outbox", "smtp", "bare"):
        figures[f"{key}_per_s"] = median(figures[f"{key}_per_s_runs"])
    figures["smtp_ratio"] = figures["smtp_per_s"] / figures["bare_per_s"]
    print(f"B1 a broadcast to {count:,} contacts: queued in {figures['queue_s']:.1f} s "
          f"({figures['queued_per_s']:,.0f} contacts/s); send steps {figures['outbox_per_s']:,.0f} mails/s into "
          f"the outbox; SMTP {figures['smtp_per_s']:,.0f}/s against bare aiosmtplib {figures['bare_per_s']:,.0f}/s "
          f"({figures['smtp_ratio']:.2f}x)")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
