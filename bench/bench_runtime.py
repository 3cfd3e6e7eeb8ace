"""Benchmark of the runtime: waits, step transitions, many sleeping runs.

Measures, side by side in one run:
  R1  10,000 runs reach `wait 1s` and fire, on the wall clock: total time and lateness,
      next to huey running 10,000 tasks scheduled one second ahead. Both are fed the
      same way, one event (task) a call and 100 a call, both reported: `scn serve` (its
      API and engine processes, an API key) over HTTP, huey's consumer in a process of
      its own with 4 worker threads (huey_tasks.py). Lateness is counted for both from
      the moment the work was accepted (the event's 202, the enqueue's return) plus the
      second. Targets: >= 3x faster than huey, p99 lateness <= 250 ms. --apscheduler
      adds APScheduler 3 (SQLAlchemy job store on SQLite, 4 threads, in this process);
  R2  step transitions that write state (a run wakes, moves on, waits again), next to
      raw sqlite3 doing the same work on the same table, 500 runs a transaction: read the
      due runs, UPDATE them, INSERT their step log (target >= 0.3x);
  R3  `scn worker`, then `scn serve` (both its processes, the API and the engine), on a
      file holding 100,000 and then 1,000,000 sleeping runs: resident memory once ready
      and after idling, of all the processes (target <= 150 MB and flat), restart to
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
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from scn.interpreter.checker import CheckResult, check_workspace
from scn.interpreter.clock import VirtualClock
from scn.interpreter.runtime import Engine, EventInput, Settings
from scn.interpreter.runtime.events import ContactIn
from scn.interpreter.runtime.worker import deploy
from scn.interpreter.store import SqliteStore
from scn.interpreter.workspace import workspace_from_texts

HERE = Path(__file__).resolve().parent
API_KEY = "bench-key"

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


async def post_timed(port: int, documents: list[bytes], batch: int) -> list[float]:
    """Posts the events (JSON documents) ``batch`` to a request over one keep-alive
    connection, each request after the last one's answer; the wall-clock time each
    event's 202 arrived (its acceptance), in order."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    accepted: list[float] = []
    try:
        for s in range(0, len(documents), batch):
            chunk = documents[s : s + batch]
            body = chunk[0] if batch == 1 else b"[" + b",".join(chunk) + b"]"
            writer.write(
                b"POST /api/events HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                + f"X-API-Key: {API_KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))  # fmt: skip
            answer = await reader.readexactly(length)
            assert head.split(b" ", 2)[1] == b"202", answer
            accepted.extend([time.time()] * len(chunk))
    finally:
        writer.close()
    return accepted


def finished_runs(db: Path) -> list[tuple[str, int]]:
    """(contact, when it finished, ms) of every finished run in scn's file."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(connection.execute("SELECT contact_id, updated_at FROM runs WHERE status = 'done'"))
    finally:
        connection.close()


def lateness_figures(total: float, intake: float, lateness: list[float]) -> dict[str, float]:
    return {"total_s": total, "intake_s": intake, "p50_ms": quantile(lateness, 0.5),
            "p99_ms": quantile(lateness, 0.99), "max_ms": max(lateness)}  # fmt: skip


def scn_waits(count: int, folder: Path, batch: int) -> dict[str, float]:
    """`scn serve` (API and engine processes, an API key) fed over HTTP, ``batch`` events
    a request; each run's lateness counted from its event's 202."""
    from bench_http import free_port, start_server

    workspace = folder / "tick"
    workspace.mkdir(exist_ok=True)
    (workspace / "tick.scn").write_text(TICK, encoding="utf-8")
    db = folder / f"r1-{time.monotonic_ns()}.db"
    port = free_port()
    server, _ = start_server([sys.executable, "-m", "scn", "serve", str(workspace), "--db", str(db),
                              "--port", str(port), "--api-key", API_KEY], port)  # fmt: skip
    try:
        run = uuid.uuid4().hex[:8]
        documents = [json.dumps({"type": "contact.updated", "key": f"{run}-{i}", "contact": {"id": f"c{i}"}}).encode()
                     for i in range(count)]  # fmt: skip
        started = time.time()
        accepted = asyncio.run(post_timed(port, documents, batch))
        intake = time.time() - started
        deadline = time.monotonic() + 300
        while len(done := finished_runs(db)) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"scn finished {len(done)} of {count} runs in time")
            time.sleep(0.02)
    finally:
        server.terminate()
        server.wait(30)
    due = {f"c{i}": at + 1.0 for i, at in enumerate(accepted)}
    lateness = [at - due[contact] * 1000 for contact, at in done]
    return lateness_figures(max(at for _, at in done) / 1000 - started, intake, lateness)


def huey_waits(count: int, folder: Path, batch: int) -> dict[str, float]:
    """huey as its docs describe: the consumer in a process of its own (`huey_consumer`,
    4 worker threads), SQLite storage with the same durability as scn's (huey_tasks.py);
    tasks enqueued one a call (``batch`` 1) or ``batch`` to a `map` call (huey has no
    batched enqueue: `map` enqueues in a loop); lateness counted from each enqueue's return."""
    # The producer's side of the same application (the same file) as the consumer's.
    os.environ["HUEY_DB"] = str(folder / "huey.db")
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    import huey_tasks

    huey, tick = huey_tasks.huey, huey_tasks.tick
    assert huey.storage.filename == os.environ["HUEY_DB"], "one folder a run"
    huey.flush()  # nothing left from the last attempt
    consumer_command = shutil.which("huey_consumer", path=str(Path(sys.executable).parent)) or "huey_consumer"
    consumer = subprocess.Popen([consumer_command, "huey_tasks.huey", "-w", "4", "-k", "thread", "-q"],
                                env={**os.environ, "PYTHONPATH": str(HERE)}, cwd=HERE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        time.sleep(1.0)  # the consumer up and polling
        accepted: dict[str, float] = {}
        started = time.time()
        for s in range(0, count, batch):
            if batch == 1:
                result = tick.schedule(delay=1)
                accepted[result.id] = time.time()
            else:
                results = [tick.schedule(delay=1) for _ in range(min(batch, count - s))]
                now = time.time()
                accepted.update((r.id, now) for r in results)
        intake = time.time() - started
        deadline = time.monotonic() + 600
        while huey.storage.result_store_size() < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"huey ran {huey.storage.result_store_size()} of {count} tasks in time")
            time.sleep(0.02)
        ran = {key: huey.serializer.deserialize(value) for key, value in huey.storage.result_items().items()}
    finally:
        consumer.send_signal(signal.SIGINT)
        consumer.wait(30)
    lateness = [(ran[task] - (at + 1.0)) * 1000 for task, at in accepted.items()]
    return lateness_figures(max(ran.values()) - started, intake, lateness)


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
    """APScheduler 3 with its SQLAlchemy job store on SQLite and 4 worker threads, in the
    driver's process (--apscheduler; it takes minutes for 10,000 jobs)."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    _APS_LATENESS.clear()
    _APS_DONE.clear()
    _APS_COUNT[0] = count
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{folder / f'aps-{time.monotonic_ns()}.db'}")},
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
    return lateness_figures(total, accepted, list(_APS_LATENESS))


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
    """The same work by plain sqlite3, 500 runs a transaction: read the due runs (every
    column, through the same index), move them on (the columns that change) and write
    their step log."""
    connection = sqlite3.connect(folder / "r2.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    due = int(connection.execute("SELECT max(wake_at) FROM runs").fetchone()[0])
    began = time.perf_counter()
    now = int(time.time() * 1000)
    moved = 0
    while True:
        connection.execute("BEGIN IMMEDIATE")
        rows = connection.execute(
            "SELECT * FROM runs WHERE wake_at IS NOT NULL AND wake_at <= ? ORDER BY wake_at, id LIMIT 500", (due,)
        ).fetchall()
        if not rows:
            connection.execute("COMMIT")
            break
        ids = [row[0] for row in rows]
        connection.executemany(
            "UPDATE runs SET position = ?, step = ?, status = ?, wake_at = ?, updated_at = ? WHERE id = ?",
            [(3, "s3", "waiting", due + 60_000, now, run_id) for run_id in ids],
        )
        connection.executemany(
            "INSERT INTO step_log (run_id, step, name, at, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)",
            [(run_id, "s2", "wait 1m", now, "waiting", "until 2025-01-01T00:02Z") for run_id in ids],
        )
        connection.execute("COMMIT")
        moved += len(ids)
    took = time.perf_counter() - began
    assert moved == count, moved
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


def start_to_ready(workspace: Path, db: Path, serve: bool) -> tuple[float, subprocess.Popen[bytes]]:
    """`scn worker` (ready: its JSON line on stderr) or `scn serve` (ready: its "serving"
    line, printed once the API and the engine process are both up) on ``db``."""
    began = time.perf_counter()
    command = [sys.executable, "-m", "scn", "serve" if serve else "worker", str(workspace), "--db", str(db)]
    if serve:
        from bench_http import free_port

        command += ["--port", str(free_port()), "--api-key", API_KEY]
    process = subprocess.Popen(command, stdout=subprocess.PIPE if serve else subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL if serve else subprocess.PIPE)  # fmt: skip
    stream = process.stdout if serve else process.stderr
    assert stream is not None
    line = stream.readline()
    took = time.perf_counter() - began
    assert (b"scn: serving" in line) if serve else (b'"ready": true' in line), line + stream.read()
    return took, process


def sleepers(count: int, folder: Path, idle: float, restarts_wanted: int, serve: bool) -> dict[str, Any]:
    """Restarts on a file of ``count`` sleeping runs: time to ready, and the resident
    memory of each process (for `scn serve`, the API's and the engine's) and of all."""
    import psutil

    workspace = folder / "sleep.scn"
    workspace.write_text(SLEEP, encoding="utf-8")
    db = folder / f"sleep-{count}.db"
    made = time.perf_counter()
    if not db.exists():  # the same file for `scn worker` and `scn serve`
        asyncio.run(prepare_sleepers(db, count))
    setup = time.perf_counter() - made
    restarts: list[float] = []
    resident: dict[str, list[float]] = {}
    for _ in range(restarts_wanted):
        took, process = start_to_ready(workspace, db, serve)
        restarts.append(took)
        watched = psutil.Process(process.pid)
        roles = {"worker" if not serve else "api": watched, **{f"engine{n or ''}": child for n, child in
                 enumerate(watched.children(recursive=True))}}  # fmt: skip
        ready_rss = {role: p.memory_info().rss for role, p in roles.items()}
        time.sleep(idle)  # the loop looks for due runs, finds the next in a day, and sleeps
        for role, p in roles.items():
            resident.setdefault(role, []).append(max(ready_rss[role], p.memory_info().rss) / 2**20)
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    total = [sum(values) for values in zip(*resident.values(), strict=True)]
    return {"runs": count, "command": "serve" if serve else "worker", "setup_s": setup,
            "ready_s": statistics.median(restarts), "ready_max_s": max(restarts),
            "rss_mb": statistics.median(total), "rss_max_mb": max(total),
            "rss_mb_by_process": {role: max(values) for role, values in resident.items()},
            "db_mb": db.stat().st_size / 2**20}  # fmt: skip


# ---------------------------------------------------------------- report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--only", default="R1,R2,R3", help="which parts to run, e.g. R1,R3")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--apscheduler", action="store_true", help="R1: APScheduler too (minutes; batched feed)")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    results: dict[str, Any] = {}
    repeats = 1 if args.quick else 3
    with tempfile.TemporaryDirectory(prefix="scn-bench-") as tmp:
        folder = Path(tmp)
        if "R1" in parts:
            # quick: fewer events, and one a request only for a few hundred (a round trip each)
            count = 1_000 if args.quick else 10_000
            results["R1"] = {"count": count, "feeds": {}}
            for batch in (100, 1):
                n = min(count, 300) if args.quick and batch == 1 else count
                runs, hueys, apss = [], [], []
                for attempt in range(repeats):
                    for side in ("scn", "huey") if attempt % 2 == 0 else ("huey", "scn"):
                        if side == "scn":
                            runs.append(scn_waits(n, folder, batch))
                        else:
                            hueys.append(huey_waits(n, folder, batch))
                    if args.apscheduler and batch == 100:
                        apss.append(apscheduler_waits(n, folder))
                    print(f"R1 attempt {attempt + 1}, {batch} a call: scn {runs[-1]['total_s']:.2f} s (p99 "
                          f"{runs[-1]['p99_ms']:.0f} ms), huey {hueys[-1]['total_s']:.2f} s "
                          f"(p99 {hueys[-1]['p99_ms']:.0f} ms)", flush=True)  # fmt: skip
                scn = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                huey = {k: statistics.median(r[k] for r in hueys) for k in hueys[0]}
                feed: dict[str, Any] = {"count": n, "scn": scn, "huey": huey, "scn_runs": runs, "huey_runs": hueys,
                                        "speedup": huey["total_s"] / scn["total_s"]}  # fmt: skip
                if apss:
                    feed["apscheduler"] = {k: statistics.median(r[k] for r in apss) for k in apss[0]}
                    feed["apscheduler_runs"] = apss
                results["R1"]["feeds"][str(batch)] = feed
                print(f"R1 {n:,} runs `wait 1s`, {batch} event(s) a call: scn {scn['total_s']:.2f} s (intake "
                      f"{scn['intake_s']:.2f} s; from acceptance p50 {scn['p50_ms']:.0f} ms, p99 {scn['p99_ms']:.0f} "
                      f"ms late), huey {huey['total_s']:.2f} s (intake {huey['intake_s']:.2f} s; p99 "
                      f"{huey['p99_ms']:.0f} ms late): scn {feed['speedup']:.1f}x faster (target >= 3x, "
                      "p99 <= 250 ms)", flush=True)  # fmt: skip
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
            sizes = (10_000, 30_000) if args.quick else (100_000, 1_000_000)
            idle, restarts = (0.5, 1) if args.quick else (5.0, 3)
            results["R3"] = []
            for n in sizes:
                for serve in (False, True):
                    r = sleepers(n, folder, idle, restarts, serve)
                    results["R3"].append(r)
                    each = ", ".join(f"{role} {mb:.0f}" for role, mb in r["rss_mb_by_process"].items())
                    print(f"R3 `scn {r['command']}`, {r['runs']:,} sleeping runs: ready in {r['ready_s']:.2f} s "
                          f"(max {r['ready_max_s']:.2f}), RSS {r['rss_mb']:.0f} MB (max {r['rss_max_mb']:.0f}; "
                          f"{each}), file {r['db_mb']:.0f} MB (targets: <= 5 s, <= 150 MB, flat)",
                          flush=True)  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("SCN_SECRET", "bench")
    sys.exit(main())
