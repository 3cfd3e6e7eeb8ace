"""Benchmark of the console's pages: how long each takes to answer on a store of a given size.

For each size N, a store is filled (setup, not measured) with the five examples deployed,
N runs spread over their scenarios and steps (done, waiting, stopped, exited, each with its
step log), N messages over the last 30 days (sent, failed, skipped, pending; a tenth
clicked), the contacts they concern and some paid orders. Then the app serves it under
uvicorn, as `scn serve` does, and every page is asked for over HTTP: one warm-up, then
the median and the slowest of the timed requests (target: every page under 200 ms at
1,000,000 runs and 1,000,000 messages).

Run: python bench/bench_console.py [--quick] [--sizes 10000,100000] [--repeats 5] [--json PATH]
(--quick: 10,000 only, three requests each).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from scn.interpreter import program as p
from scn.interpreter.runtime import Settings
from scn.interpreter.store.counters import recount, without_counting
from scn.server.app import create_app
from scn.server.core import Core, read_directory

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
KEY = "bench"
DAY_MS = 86_400_000
#: Targets of issue 16: every page under this, at a million runs and a million messages.
TARGET_MS = 200.0


def pages(contact: str, run: int, message: int) -> list[str]:
    return [
        "/", "/live", "/scenarios/post_purchase", "/scenarios/post_purchase/live",
        "/scenarios/post_purchase/steps/s1", "/runs", "/runs?scenario=post_purchase&status=done",
        f"/runs/{run}", f"/contacts/{contact}", "/contacts?q=c1", f"/messages/{message}",
        f"/templates/post_small?contact={contact}", "/reports", "/reports/post_purchase", "/upload",
    ]  # fmt: skip


async def deploy(path: Path) -> None:
    """The examples deployed on a new store (the engine's own path, as `scn serve` takes it)."""
    core = Core(str(path), Settings(secret="bench"))
    await core.start(read_directory(EXAMPLES))
    await core.stop()


def fill(path: Path, count: int, seed: int = 7, contacts: int | None = None) -> dict[str, Any]:
    """N runs, N messages and what they concern (N/10 contacts unless told), written in
    bulk straight into the file: the store's counters are left aside while the rows go in
    and recounted once at the end, as a bulk import should (`counters.recount`)."""
    rng = random.Random(seed)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")  # the fill only: what is measured runs as scn does
    now = int(time.time() * 1000)
    scenarios = {name: (version, bundle) for name, version, bundle in
                 db.execute("SELECT name, version, bundle FROM scenarios")}  # fmt: skip
    from msgspec import msgpack

    blob = db.execute("SELECT blob FROM bundles ORDER BY version DESC LIMIT 1").fetchone()[0]
    programs = msgpack.decode(blob, type=p.Bundle).scenarios
    steps = {n: [i for i in programs[n].instructions if not isinstance(i, p.Jump | p.End)] for n in scenarios}
    contacts = contacts or max(count // 10, 10)
    db.execute("BEGIN")
    without_counting(db)
    # Activity over the last 60 days, and a payment before 2025 for a fifth: the examples'
    # "sleeping" segment (inactive for 30 days) has members to find and crossings to come.
    paid_before = 1_700_000_000_000
    db.executemany(
        "INSERT INTO contacts (id, email, first_name, language, created_at, updated_at, lifetime_spend, orders_count,"
        " last_activity_at, last_paid_at) VALUES (?, ?, ?, ?, ?, ?, '0', 0, ?, ?)",
        ((f"c{i}", f"c{i}@example.com", f"Name {i}", rng.choice(["pl", "en", "uk"]), now - 90 * DAY_MS,
          now - 90 * DAY_MS, now - rng.randrange(60 * DAY_MS), paid_before if i % 5 == 0 else None)
         for i in range(contacts)),
    )  # fmt: skip
    names = sorted(scenarios)
    runs, logs, events = [], [], []
    for run in range(1, count + 1):
        name = names[run % len(names)]
        version, bundle = scenarios[name]
        contact = f"c{run % contacts}"
        started = now - rng.randrange(30 * DAY_MS)
        kind = rng.random()
        chain = steps[name]
        at = rng.randrange(len(chain))
        status, step, wake, reason = "done", "end", None, None
        if kind < 0.2:
            status, step, wake = "waiting", chain[at].id, now + 30 * DAY_MS
        elif kind < 0.3:
            status, step, reason = "stopped", chain[at].id, "stop"
        elif kind < 0.35:
            status, step, reason = "exited", chain[at].id, "exit when order.cancelled"
        events.append((run, f"e{run}", contact, started, started, started))
        runs.append((run, name, version, bundle, contact, run, step, status, wake, started, started,
                     None if status == "waiting" else started, reason))  # fmt: skip
        logs.append((run, "start", "start", started, "started", f"run {run}"))
        for instr in chain[: at + 1] if status != "done" else chain:
            logs.append((run, instr.id, instr.name, started, "done", None))
        if status == "done":
            logs.append((run, "end", "end", started, "done", None))
    db.executemany(
        "INSERT INTO events (id, key, type, contact_id, occurred_at, received_at, payload, processed_at) "
        "VALUES (?, ?, 'order.paid', ?, ?, ?, '{}', ?)", events,
    )  # fmt: skip
    db.executemany(
        "INSERT INTO runs (id, scenario, version, bundle, contact_id, trigger_event, position, step, status, wake_at,"
        " started_at, updated_at, ended_at, reason) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)", runs,
    )  # fmt: skip
    db.executemany("INSERT INTO step_log (run_id, step, name, at, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)", logs)
    sends = {n: [i for i in steps[n] if isinstance(i, p.Send)] for n in names}
    senders = [n for n in names if sends[n]]
    messages, clicks = [], []
    body = json.dumps({"subject": "Hello", "html": "<p>Hello</p>", "plain": "Hello", "links": []})
    for message in range(1, count + 1):
        name = senders[message % len(senders)]
        instr = rng.choice(sends[name])
        status = rng.choices(["sent", "failed", "skipped", "pending"], [85, 5, 5, 5])[0]
        made = now - rng.randrange(30 * DAY_MS)
        contact = f"c{message % contacts}"
        why = {"failed": "refused", "skipped": "frequency cap: 1"}.get(status)
        messages.append((message, name, instr.id, contact, instr.channel, instr.template, f"{contact}@example.com",
                         body if status != "skipped" else "{}", status, made, made if status == "sent" else None,
                         why))  # fmt: skip
        if status == "sent" and rng.random() < 0.1:
            clicks.append((count + message, f"click:{message}:0", contact, made + 60_000))
    db.executemany(
        "INSERT INTO outbox (id, run_id, scenario, step, contact_id, channel, template, recipient, message, status,"
        " attempts, created_at, sent_at, error) VALUES (?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)", messages,
    )  # fmt: skip
    db.executemany(
        "INSERT INTO events (id, key, type, contact_id, occurred_at, received_at, payload, processed_at) "
        "VALUES (?, ?, 'message.clicked', ?, ?, ?, '{}', ?)", [(i, k, c, t, t, t) for i, k, c, t in clicks],
    )  # fmt: skip
    orders = [(f"o{i}", f"c{rng.randrange(contacts)}", "paid", "120.00", "PLN", now - rng.randrange(30 * DAY_MS))
              for i in range(count // 20)]  # fmt: skip
    db.executemany(
        "INSERT INTO orders (id, contact_id, status, total, currency, created_at, paid_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [(*o, o[5], o[5]) for o in orders],
    )  # fmt: skip
    recount(db)
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()
    return {"contact": "c1", "run": count // 2, "message": count // 2}


async def measure(path: Path, targets: dict[str, Any], repeats: int) -> dict[str, dict[str, float]]:
    """Each page's answer times (ms) over HTTP against the app on ``path``."""
    port = _free_port()
    core = Core(str(path), Settings(secret="bench", public_url=f"http://127.0.0.1:{port}"))
    app = create_app(core, api_key=KEY)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    figures: dict[str, dict[str, float]] = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": KEY},
                                     timeout=600) as client:  # fmt: skip
            for page in pages(**targets):
                answer = await client.get(page)
                assert answer.status_code == 200, (page, answer.status_code, answer.text[:500])
                times = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    await client.get(page)
                    times.append((time.perf_counter() - started) * 1000)
                figures[page] = {"median_ms": statistics.median(times), "max_ms": max(times)}
                print(f"  {page:48} median {figures[page]['median_ms']:8.1f} ms   slowest {max(times):8.1f} ms",
                      flush=True)  # fmt: skip
    finally:
        server.should_exit = True
        await task
    return figures


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 runs and messages, three requests a page")
    parser.add_argument("--sizes", default="10000,100000", help="store sizes (runs = messages), e.g. 1000000")
    parser.add_argument("--repeats", type=int, default=5, help="timed requests per page")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeats = 3 if args.quick else args.repeats
    results: dict[str, Any] = {"target_ms": TARGET_MS, "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="scn-bench-console-") as tmp:
        for size in sizes:
            path = Path(tmp) / f"console-{size}.db"
            started = time.perf_counter()
            asyncio.run(deploy(path))
            targets = fill(path, size)
            print(f"{size:,} runs and {size:,} messages ({path.stat().st_size / 1e6:.0f} MB, "
                  f"filled in {time.perf_counter() - started:.0f} s):", flush=True)  # fmt: skip
            figures = asyncio.run(measure(path, targets, repeats))
            slowest = max(figures.items(), key=lambda kv: kv[1]["median_ms"])
            results["sizes"][str(size)] = figures
            verdict = "met" if slowest[1]["median_ms"] < TARGET_MS else "missed"
            print(f"  slowest page: {slowest[0]} at {slowest[1]['median_ms']:.0f} ms "
                  f"(target {TARGET_MS:.0f} ms: {verdict})", flush=True)  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("SCN_SECRET", "bench")
    sys.exit(main())
