"""Benchmark of the runtime: waits, step transitions, many sleeping runs.

Measures, side by side in one run:
  R1  10,000 runs reach `wait 1s` and fire, on the wall clock: total time and p99
      lateness, next to huey (SQLite storage, 4 worker threads) and APScheduler 3
      (SQLAlchemy job store on SQLite, 4 threads) each running 10,000 tasks scheduled
      one second ahead (targets: >= 3x faster than the faster peer, p99 <= 100 ms);
  R2  step transitions that write state (a run wakes, moves on, waits again), next to a
      raw sqlite3 batched UPDATE of the same rows in the same table (target >= 0.3x);
  R3  `scn worker` on a file holding 100,000 and then 1,000,000 sleeping runs: resident
      memory once ready and after idling (target <= 150 MB and flat), restart to
      ready (target <= 5 s).

Run: python bench/bench_runtime.py [--quick] [--only R1,R2,R3] [--json PATH]
Needs the bench extras: pip install -e ".[bench]" (huey, APScheduler, SQLAlchemy, psutil)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from scn.interpreter.checker import CheckResult, check_workspace
from scn.interpreter.clock import VirtualClock, WallClock
from scn.interpreter.runtime import Engine, EventInput, Settings
from scn.interpreter.runtime.events import ContactIn
from scn.interpreter.runtime.worker import deploy, freeze_heap
from scn.interpreter.store import DONE, SqliteStore
from scn.interpreter.workspace import workspace_from_texts

TICK = """
list fired "Fired"

scenario tick "One second later"
  on contact.updated
  entry once per contact
  wait 1s
  add to list fired
end
"""

HOP = """
scenario hop "Wake, move on, wait again"
  on contact.updated
  entry once per contact
  wait 1m
  wait 1m
end
"""

SLEEP = """
scenario sleeper "Sleeps for a month"
  on contact.updated
  entry once per contact
  wait 30d
  add to list woke
end

list woke "Woke"
"""


def checked(text: str) -> CheckResult:
    result = check_workspace(workspace_from_texts({"bench.scn": text}))
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    return result


def event(i: int) -> EventInput:
    return EventInput(type="contact.updated", key=f"e{i}", contact=ContactIn(id=f"c{i}"))


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---------------------------------------------------------------- R1


async def scn_waits(count: int, folder: Path) -> dict[str, float]:
    store = SqliteStore(str(folder / "r1.db"))
    await store.open()
    engine = Engine(store, WallClock(), Settings())
    await deploy(engine, checked(TICK))
    lateness: list[float] = []
    finished = asyncio.Event()
    commit = store.commit

    async def timed_commit(changes: Any) -> None:
        await commit(changes)
        done_at = time.time() * 1000
        for run in changes.runs:
            if run.status == DONE:
                lateness.append(done_at - (run.started_at + 1000))
        if len(lateness) >= count:
            finished.set()

    store.commit = timed_commit  # type: ignore[method-assign]
    freeze_heap()  # as `scn worker` and `scn serve` do once they are up
    stop = asyncio.Event()
    loop = asyncio.create_task(engine.run_forever(stop))
    started = time.perf_counter()
    events = [engine.event_in(event(i)) for i in range(count)]
    # Producers as an API would see them: 100 requests of 100 events, concurrently.
    await asyncio.gather(*(engine.accept(events[i : i + 100]) for i in range(0, count, 100)))
    accepted = time.perf_counter() - started
    await asyncio.wait_for(finished.wait(), 120)
    total = time.perf_counter() - started
    stop.set()
    engine.nudge()
    await loop
    await store.close()
    return {"total_s": total, "intake_s": accepted, "p50_ms": quantile(lateness, 0.5),
            "p99_ms": quantile(lateness, 0.99), "max_ms": max(lateness)}  # fmt: skip


_APS_LATENESS: list[float] = []
_APS_LOCK = threading.Lock()
_APS_DONE = threading.Event()
_APS_COUNT = [0]


def _aps_tick(due: float) -> None:
    """An APScheduler job (module level: the SQLite job store pickles a reference to it)."""
    with _APS_LOCK:
        _APS_LATENESS.append((time.time() - due) * 1000)
        if len(_APS_LATENESS) >= _APS_COUNT[0]:
            _APS_DONE.set()


def apscheduler_waits(count: int, folder: Path) -> dict[str, float]:
    """APScheduler 3 with its SQLAlchemy job store on SQLite and 4 worker threads."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    _APS_LATENESS.clear()
    _APS_DONE.clear()
    _APS_COUNT[0] = count
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{folder / 'aps.db'}")},
        executors={"default": ThreadPoolExecutor(4)},
        job_defaults={"misfire_grace_time": 3600, "coalesce": False},
        timezone="UTC",
    )
    scheduler.start()
    started = time.perf_counter()
    for i in range(count):
        due = time.time() + 1
        scheduler.add_job(_aps_tick, "date", run_date=dt.datetime.fromtimestamp(due, dt.UTC), args=[due], id=f"j{i}")
    accepted = time.perf_counter() - started
    _APS_DONE.wait(600)
    total = time.perf_counter() - started
    scheduler.shutdown(wait=True)
    lateness = list(_APS_LATENESS)
    return {"total_s": total, "intake_s": accepted, "p50_ms": quantile(lateness, 0.5),
            "p99_ms": quantile(lateness, 0.99), "max_ms": max(lateness)}  # fmt: skip


def huey_waits(count: int, folder: Path) -> dict[str, float]:
    from huey import SqliteHuey

    huey = SqliteHuey("bench", filename=str(folder / "huey.db"))
    lateness: list[float] = []
    lock = threading.Lock()
    finished = threading.Event()

    @huey.task()  # type: ignore[misc]
    def tick(due: float) -> None:
        with lock:
            lateness.append((time.time() - due) * 1000)
            if len(lateness) >= count:
                finished.set()

    consumer = huey.create_consumer(workers=4, worker_type="thread", periodic=False, check_worker_health=False)
    consumer.start()
    started = time.perf_counter()
    for _ in range(count):
        tick.schedule(args=(time.time() + 1,), delay=1)
    accepted = time.perf_counter() - started
    finished.wait(300)
    total = time.perf_counter() - started
    consumer.stop(graceful=True)
    return {"total_s": total, "intake_s": accepted, "p50_ms": quantile(lateness, 0.5),
            "p99_ms": quantile(lateness, 0.99), "max_ms": max(lateness)}  # fmt: skip


# ---------------------------------------------------------------- R2


async def scn_transitions(count: int, folder: Path) -> float:
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    clock = VirtualClock(start)
    store = SqliteStore(str(folder / "r2.db"))
    await store.open()
    engine = Engine(store, clock, Settings())
    await deploy(engine, checked(HOP))
    for i in range(0, count, 1000):
        await engine.accept([engine.event_in(event(j)) for j in range(i, min(count, i + 1000))])
    while await engine.process_events():
        pass
    clock.advance_to(start + dt.timedelta(minutes=1, seconds=1))
    began = time.perf_counter()
    moved = 0
    while batch := await engine.run_due():
        moved += batch
    took = time.perf_counter() - began
    assert moved == count, moved
    await store.close()
    return took


def raw_updates(count: int, folder: Path) -> float:
    """The same rows of the same table, moved on by plain sqlite3 in batches of 500."""
    connection = sqlite3.connect(folder / "r2.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    ids = [r[0] for r in connection.execute("SELECT id FROM runs ORDER BY id")]
    assert len(ids) == count
    began = time.perf_counter()
    now = int(time.time() * 1000)
    for i in range(0, count, 500):
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            "UPDATE runs SET position = ?, step = ?, status = ?, wake_at = ?, updated_at = ? WHERE id = ?",
            [(3, "s3", "waiting", now + 60_000, now, run_id) for run_id in ids[i : i + 500]],
        )
        connection.execute("COMMIT")
    took = time.perf_counter() - began
    connection.close()
    return took


# ---------------------------------------------------------------- R3


async def prepare_sleepers(path: Path, count: int) -> None:
    """A deployed workspace and ``count`` runs asleep, written in bulk (setup, not measured)."""
    store = SqliteStore(str(path))
    await store.open()
    engine = Engine(store, VirtualClock(dt.datetime(2025, 1, 1, tzinfo=dt.UTC)), Settings())
    await deploy(engine, checked(SLEEP))
    row = (await store.scenarios())[0]
    await store.close()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    now = int(time.time() * 1000)
    connection.execute("BEGIN")
    for start in range(0, count, 100_000):
        chunk = range(start, min(count, start + 100_000))
        connection.executemany(
            "INSERT INTO contacts (id, email, created_at, updated_at) VALUES (?, ?, ?, ?)",
            ((f"c{i}", f"c{i}@example.com", now, now) for i in chunk),
        )
        connection.executemany(
            "INSERT INTO events (id, key, type, contact_id, occurred_at, received_at, payload, processed_at) "
            "VALUES (?, ?, 'contact.updated', ?, ?, ?, '{}', ?)",
            ((i + 1, f"e{i}", f"c{i}", now, now, now) for i in chunk),
        )
        connection.executemany(
            "INSERT INTO runs (id, scenario, version, bundle, contact_id, trigger_event, position, step, status, "
            "wake_at, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, 's1', 'waiting', ?, ?, ?)",
            ((i + 1, row.name, row.version, row.bundle, f"c{i}", i + 1, now + 86_400_000 + i * 1000, now, now)
             for i in chunk),
        )  # fmt: skip
    connection.execute("COMMIT")
    connection.close()


def start_to_ready(workspace: Path, db: Path) -> tuple[float, subprocess.Popen[bytes]]:
    began = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "scn", "worker", str(workspace), "--db", str(db)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    line = process.stderr.readline()
    took = time.perf_counter() - began
    assert b'"ready": true' in line, line + process.stderr.read()
    return took, process


def sleepers(count: int, folder: Path, idle: float, restarts_wanted: int = 3) -> dict[str, float]:
    import psutil

    workspace = folder / "sleep.scn"
    workspace.write_text(SLEEP, encoding="utf-8")
    db = folder / f"sleep-{count}.db"
    made = time.perf_counter()
    asyncio.run(prepare_sleepers(db, count))
    setup = time.perf_counter() - made
    restarts, resident = [], []
    for _ in range(restarts_wanted):
        took, process = start_to_ready(workspace, db)
        restarts.append(took)
        watched = psutil.Process(process.pid)
        ready_rss = watched.memory_info().rss
        time.sleep(idle)  # the loop looks for due runs, finds the next in a day, and sleeps
        resident.append(max(ready_rss, watched.memory_info().rss) / 2**20)
        process.terminate()
        process.wait(20)
    return {"runs": count, "setup_s": setup, "ready_s": statistics.median(restarts), "ready_max_s": max(restarts),
            "rss_mb": statistics.median(resident), "rss_max_mb": max(resident),
            "db_mb": db.stat().st_size / 2**20}  # fmt: skip


# ---------------------------------------------------------------- report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--only", default="R1,R2,R3", help="which parts to run, e.g. R1,R3")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    results: dict[str, Any] = {}
    repeats = 1 if args.quick else 3
    with tempfile.TemporaryDirectory(prefix="scn-bench-") as tmp:
        folder = Path(tmp)
        if "R1" in parts:
            count = 500 if args.quick else 10_000  # quick: APScheduler alone takes 12 s for 1,000
            runs, hueys, apss = [], [], []
            for attempt in range(repeats):
                for leftover in [*folder.glob("huey.db*"), *folder.glob("aps.db*"), *folder.glob("r1.db*")]:
                    leftover.unlink()
                runs.append(asyncio.run(scn_waits(count, folder)))
                hueys.append(huey_waits(count, folder))
                apss.append(apscheduler_waits(count, folder))
                print(f"R1 attempt {attempt + 1}: scn {runs[-1]['total_s']:.2f} s (p99 {runs[-1]['p99_ms']:.0f} ms), "
                      f"huey {hueys[-1]['total_s']:.2f} s (p99 {hueys[-1]['p99_ms']:.0f} ms), APScheduler "
                      f"{apss[-1]['total_s']:.2f} s (p99 {apss[-1]['p99_ms']:.0f} ms)", flush=True)  # fmt: skip
            scn = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            huey = {k: statistics.median(r[k] for r in hueys) for k in hueys[0]}
            aps = {k: statistics.median(r[k] for r in apss) for k in apss[0]}
            faster = min(huey["total_s"], aps["total_s"])
            results["R1"] = {"count": count, "scn": scn, "huey": huey, "apscheduler": aps,
                             "scn_runs": runs, "huey_runs": hueys, "apscheduler_runs": apss,
                             "speedup": faster / scn["total_s"]}  # fmt: skip
            print(f"R1 {count} runs `wait 1s`: scn {scn['total_s']:.2f} s (p50 {scn['p50_ms']:.0f} ms, "
                  f"p99 {scn['p99_ms']:.0f} ms late); huey {huey['total_s']:.2f} s; "
                  f"APScheduler {aps['total_s']:.2f} s; "
                  f"scn is {results['R1']['speedup']:.1f}x faster than the faster of them "
                  "(target >= 3x, p99 <= 100 ms)", flush=True)  # fmt: skip
        if "R2" in parts:
            count = 5_000 if args.quick else 20_000
            ours, raw = [], []
            for _ in range(repeats):
                for leftover in folder.glob("r2.db*"):
                    leftover.unlink()
                ours.append(asyncio.run(scn_transitions(count, folder)))
                raw.append(raw_updates(count, folder))
            scn_s, raw_s = statistics.median(ours), statistics.median(raw)
            results["R2"] = {"count": count, "scn_s": scn_s, "raw_s": raw_s, "ratio": raw_s / scn_s,
                             "scn_per_s": count / scn_s, "raw_per_s": count / raw_s, "scn_runs": ours,
                             "raw_runs": raw}  # fmt: skip
            print(
                f"R2 {count} step transitions: scn {scn_s:.2f} s ({count / scn_s:,.0f}/s), raw UPDATE "
                f"{raw_s:.2f} s ({count / raw_s:,.0f}/s): {raw_s / scn_s:.2f}x of raw (target >= 0.3x)",
                flush=True,
            )
        if "R3" in parts:
            sizes = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
            idle, restarts = (1.0, 2) if args.quick else (5.0, 3)
            results["R3"] = [sleepers(n, folder, idle, restarts) for n in sizes]
            for r in results["R3"]:
                print(f"R3 {r['runs']:,} sleeping runs: ready in {r['ready_s']:.2f} s (max {r['ready_max_s']:.2f}), "
                      f"RSS {r['rss_mb']:.0f} MB (max {r['rss_max_mb']:.0f}), file {r['db_mb']:.0f} MB "
                      "(targets: <= 5 s, <= 150 MB, flat)", flush=True)  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("SCN_SECRET", "bench")
    sys.exit(main())
