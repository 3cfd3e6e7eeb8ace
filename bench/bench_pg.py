"""Benchmark of the PostgreSQL store: events and due runs processed per second by 1, 2
and 4 engine processes on one PostgreSQL database, next to the same work by a raw asyncpg
loop (the limit) and by one engine on an SQLite file.

The work is the engine's half of R1/P2 and P3 (bench_runtime.py): N events (`order.paid`,
each starting a run that waits a day, then sends an email) are accepted into a fresh
store; then E engine processes, each its own store (its own connections), process them
(phase "events": a run started and put to sleep per event, the contact and order
written), then, on a virtual clock two days on, wake the runs and write their messages
(phase "due runs": a step transition that writes state, the step log and the outbox).
Figures are the phase's wall-clock time, from the first engine ready (connected, bundle
loaded) to the last one done, and every event and run is checked to have been done once.

The limit (pg_raw.py) sends the statements and transactions scn sends for this work,
written directly with asyncpg, in E processes sharing the work by the same leases, on the
same schema (its counter triggers included). Each setup is measured once a round, in
turn, for --rounds rounds; figures are medians. Both stores are durable: the cluster
runs with fsync, full_page_writes and synchronous_commit on (a commit waits for its WAL
flush), the SQLite file in WAL mode with synchronous FULL. The cluster is on the same
machine as the engines: its processes and the engines share the CPUs. Also reported per
phase: the engines' CPU seconds, the database processes' CPU seconds, and what the
database's processes were doing (pg_stat_activity sampled every 10 ms: on CPU, waiting
for a lock, for the WAL, or for their client).

--ordering adds the raw loop keeping each contact with one process by other means than
leases (pg_raw.py: "advisory", "xact", "partition"), each a setup of its own ("raw
asyncpg, advisory", ...); --raw-only measures the raw loops alone (no scn, no SQLite).

Run: python bench/bench_pg.py [--events N] [--engines 1,2,4] [--rounds 3] [--quick] [--json PATH]
     [--ordering leases,advisory,xact,partition] [--raw-only]
It starts a throwaway cluster (tests/pg_cluster.py: initdb and pg_ctl on PATH or under
/usr/lib/postgresql/*/bin); without them it says so and measures nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from pg_raw import ORDERINGS, RawEngine

from scn.interpreter.checker import check_workspace
from scn.interpreter.clock import VirtualClock
from scn.interpreter.runtime import Engine, Settings
from scn.interpreter.runtime.events import convert_event
from scn.interpreter.runtime.worker import deploy
from scn.interpreter.store import store_at
from scn.interpreter.workspace import workspace_from_texts

ROOT = Path(__file__).resolve().parent.parent
START = dt.datetime(2025, 3, 3, 8, 0, tzinfo=dt.UTC)
WORKSPACE = {
    "w.scn": """
template t_a email
  from "Shop" <shop@example.com>
  subject "Thanks"
  html "a.html"
end

scenario later "A day later"
  on order.paid
  wait 1d
  send email t_a
end
"""
}
RESOURCES = {"a.html": "<p>Thanks, {{ contact.id }}</p>"}
PHASES = ("events", "due runs")


def settings() -> Settings:
    return Settings(secret="bench", code_seed=7, batch_size=200)


async def prepare(location: str, events: int) -> None:
    store = store_at(location)
    await store.open()
    engine = Engine(store, VirtualClock(START), settings())
    await engine.load()
    await deploy(engine, check_workspace(workspace_from_texts(WORKSPACE, RESOURCES)))
    documents = [
        {"type": "order.paid", "key": f"k{i}", "at": START.isoformat(),
         "contact": {"id": f"c{i}", "email": f"c{i}@example.com"},
         "order": {"id": f"o{i}", "total": "10.00", "currency": "EUR"}}
        for i in range(events)
    ]  # fmt: skip
    for start in range(0, events, 1000):
        await engine.accept([engine.event_in(convert_event(d)) for d in documents[start : start + 1000]])
    await store.close()


async def engine_process(location: str, phase: str, raw: bool, ordering: str = "leases", part: int = 0,
                         parts: int = 1) -> None:  # fmt: skip
    """One engine (or, ``raw``, the limit's loop, keeping its contacts by ``ordering``; the
    ``part``-th of ``parts`` processes): its batches of the phase's work until there is
    none left for it."""
    at = START if phase == "events" else START + dt.timedelta(days=2)
    if raw:
        connection = await asyncpg.connect(location)
        loop = RawEngine(connection, f"raw-{os.getpid()}", settings().batch_size, ordering, part, parts)
        now = int(at.timestamp() * 1000)
        step: Callable[[], Awaitable[int]] = loop.events if phase == "events" else lambda: loop.due_runs(now)
        close: Callable[[], Awaitable[None]] = connection.close
    else:
        store = store_at(location)
        await store.open()
        engine = Engine(store, VirtualClock(at), settings())
        await engine.load()
        step = engine.process_events if phase == "events" else engine.run_due
        close = store.close
    started, cpu = time.time(), time.process_time()
    idle = 0
    while idle < 3:  # the others may hold the last contacts a moment: look again
        done = await step()
        idle = 0 if done else idle + 1
        if not done:
            await asyncio.sleep(0.02)
    ended = time.time() - 3 * 0.02
    print(json.dumps({"started": started, "ended": ended, "cpu": time.process_time() - cpu}), flush=True)
    await close()


def _postgres_cpu(data: Path) -> float:
    """CPU seconds of the cluster's processes so far: the postmaster, its living children,
    and (counted into the postmaster when it reaps them) its children that ended."""
    postmaster = int((data / "postmaster.pid").read_text().split()[0])
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == postmaster:
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        elif ppid == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


class Waits:
    """What the benchmark database's server processes are doing, sampled every few
    milliseconds while a phase runs (pg_stat_activity): on CPU, waiting for a lock (a
    row another transaction holds), for the WAL (commits), or for their client."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._sample()), daemon=True)

    async def _sample(self) -> None:
        connection = await asyncpg.connect(self.url)
        try:
            while not self._stop.is_set():
                for state, kind, event in await connection.fetch(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid != pg_backend_pid() AND backend_type = 'client backend'"
                ):
                    if state == "idle":
                        continue
                    self.seen[_what(state, kind, event)] += 1
                await asyncio.sleep(0.01)
        finally:
            await connection.close()

    def __enter__(self) -> Waits:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def shares(self) -> dict[str, float]:
        total = sum(self.seen.values()) or 1
        return {k: round(v / total, 3) for k, v in self.seen.most_common()}


def _what(state: str, kind: str | None, event: str | None) -> str:
    if kind is None:
        return "on CPU"
    if kind == "Client" and event == "ClientRead":
        return "waiting for its client" + (" in a transaction" if state.startswith("idle in transaction") else "")
    if kind == "Lock":
        return f"lock ({event})"
    if event and event.startswith("WAL"):
        return f"WAL ({event})"
    return f"{kind} ({event})"


def timed_phase(
    location: str, phase: str, engines: int, raw: bool, data: Path | None, ordering: str = "leases"
) -> dict[str, Any]:
    """From the first engine ready (connected, bundle loaded) to the last one done; with
    the CPU seconds of the engines over that time, of the database's processes over the
    phase (their start included), and what the database's processes were doing."""
    command = [sys.executable, __file__, "--engine", location, "--phase", phase, *(["--raw"] if raw else [])]
    command += ["--ordering", ordering]
    postgres_before = _postgres_cpu(data) if data else 0.0
    waits = Waits(location) if data else None
    with waits or contextlib.nullcontext():
        children = [
            subprocess.Popen([*command, "--part", str(part), "--parts", str(engines)], stdout=subprocess.PIPE)
            for part in range(engines)
        ]
        spans = []
        for child in children:
            output, _ = child.communicate()
            if child.returncode != 0:
                raise SystemExit(f"an engine process failed ({child.returncode})")
            spans.append(json.loads(output.decode().strip().splitlines()[-1]))
    return {
        "seconds": max(s["ended"] for s in spans) - min(s["started"] for s in spans),
        "engine_cpu_s": sum(s["cpu"] for s in spans),
        "postgres_cpu_s": (_postgres_cpu(data) - postgres_before) if data else None,
        "waits": waits.shares() if waits else None,
    }


async def counts(location: str) -> dict[str, Any]:
    store = store_at(location)
    await store.open()
    try:
        return {
            "runs": await store._scalar("SELECT count(*) FROM runs"),
            "messages": await store._scalar("SELECT count(*) FROM outbox"),
            "steps logged twice": await store._scalar(
                "SELECT count(*) FROM (SELECT run_id, step, outcome FROM step_log GROUP BY 1, 2, 3 "
                "HAVING count(*) > 1) AS twice"
            ),
        }
    finally:
        await store.close()


def round_of(
    location: str, events: int, engines: int, raw: bool = False, data: Path | None = None, ordering: str = "leases"
) -> dict[str, Any]:
    asyncio.run(prepare(location, events))
    took = {phase: timed_phase(location, phase, engines, raw, data, ordering) for phase in PHASES}
    found = asyncio.run(counts(location))
    assert found["runs"] == events and found["messages"] == events and found["steps logged twice"] == 0, found
    return {phase: {**figures, "per_s": events / figures["seconds"]} for phase, figures in took.items()}


def load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def medians(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per phase: the median rate and its spread, the median CPU figures, the waits summed."""
    summary: dict[str, Any] = {}
    for phase in PHASES:
        rates = [r[phase]["per_s"] for r in rounds]
        waits: Counter[str] = Counter()
        for r in rounds:
            waits.update(r[phase]["waits"] or {})
        summary[phase] = {
            "per_s": statistics.median(rates),
            "per_s_runs": rates,
            "engine_cpu_s": statistics.median(r[phase]["engine_cpu_s"] for r in rounds),
            "postgres_cpu_s": (
                statistics.median(r[phase]["postgres_cpu_s"] for r in rounds)
                if rounds[0][phase]["postgres_cpu_s"] is not None
                else None
            ),
            "seconds": statistics.median(r[phase]["seconds"] for r in rounds),
            "waits": {k: round(v / len(rounds), 3) for k, v in waits.most_common()} if waits else None,
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--engines", default="1,2,4")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="500 events, one round, 1 engine")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--ordering",
        default="leases",
        help=f"how the raw loops keep a contact with one process, comma-separated: {', '.join(ORDERINGS)}",
    )
    parser.add_argument("--raw-only", action="store_true", help="only the raw loops: no scn engines, no SQLite")
    parser.add_argument("--part", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--parts", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        asyncio.run(engine_process(args.engine, args.phase, args.raw, args.ordering, args.part, args.parts))
        return
    events, rounds = (500, 1) if args.quick else (args.events, args.rounds)
    default_engines = parser.get_default("engines")
    engines = "1" if args.quick and args.engines == default_engines else args.engines  # quick: under a minute in all
    engine_counts = [int(e) for e in engines.split(",")]
    orderings = args.ordering.split(",")
    if unknown := [o for o in orderings if o not in ORDERINGS]:
        parser.error(f"--ordering {','.join(unknown)}: give one or more of {','.join(ORDERINGS)}")
    sys.path.insert(0, str(ROOT))
    from tests.pg_cluster import Cluster, server_binaries

    binaries = server_binaries()
    if binaries is None:
        reason = "no PostgreSQL server binaries (initdb, pg_ctl): install postgresql to measure it"
        print(reason)
        if args.json:
            Path(args.json).write_text(json.dumps({"skipped": reason}) + "\n", encoding="utf-8")
        return
    cluster = Cluster(*binaries, durable=True)
    raws = [_raw_setup(o) for o in orderings]
    stores = [] if args.raw_only else ["postgresql"]
    setups = ([] if args.raw_only else [("sqlite", 1)]) + [(kind, n) for n in engine_counts for kind in stores + raws]
    measured: dict[tuple[str, int], list[dict[str, Any]]] = {setup: [] for setup in setups}
    loads = [load()]
    print(f"{events:,} events, {rounds} round(s); {loads[0]}", flush=True)
    try:
        settings_row = asyncio.run(_settings(cluster.url()))
        for number in range(rounds):  # every setup once a round: the machine's load falls on all alike
            for kind, engines in setups:
                if kind == "sqlite":
                    with tempfile.TemporaryDirectory() as folder:
                        result = round_of(str(Path(folder) / "bench.db"), events, 1)
                else:
                    ordering = next((o for o in orderings if _raw_setup(o) == kind), "leases")
                    raw = kind.startswith("raw asyncpg")
                    result = round_of(cluster.database(), events, engines, raw, cluster.data, ordering)
                measured[(kind, engines)].append(result)
                rates = {f"{p} per s": round(result[p]["per_s"]) for p in PHASES}
                print(json.dumps({"round": number + 1, "store": kind, "engines": engines, **rates}), flush=True)
            loads.append(load())
    finally:
        cluster.stop()
    results = {
        "events": events,
        "rounds": rounds,
        "cpus": os.cpu_count(),
        "loads": loads,
        "postgresql_settings": settings_row,
        "sqlite_settings": {"journal_mode": "wal", "synchronous": "full"},
        "setups": [{"store": kind, "engines": n, **medians(measured[(kind, n)])} for kind, n in setups],
    }
    for engines in engine_counts if "leases" in orderings and not args.raw_only else []:
        scn = next(s for s in results["setups"] if s["store"] == "postgresql" and s["engines"] == engines)
        raw = next(s for s in results["setups"] if s["store"] == "raw asyncpg" and s["engines"] == engines)
        scn["ratio_to_raw"] = {p: scn[p]["per_s"] / raw[p]["per_s"] for p in PHASES}
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def _raw_setup(ordering: str) -> str:
    """The name of the raw loop's setup keeping contacts by ``ordering``."""
    return "raw asyncpg" if ordering == "leases" else f"raw asyncpg, {ordering}"


async def _settings(url: str) -> dict[str, str]:
    """The cluster's durability settings, as the server reports them."""
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'server_version')"
        )
        return {r["name"]: r["setting"] for r in rows}
    finally:
        await connection.close()


if __name__ == "__main__":
    main()
