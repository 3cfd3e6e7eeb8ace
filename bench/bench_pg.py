"""Benchmark of the PostgreSQL store: events and due runs processed per second by 1, 2
and 4 engine processes on one PostgreSQL database, next to one engine on an SQLite file.

Each round: N events (`order.paid`, each starting a run that waits a day, then sends an
email) are accepted into a fresh store; then E engine processes, each its own store (its
own connections), process them (phase "events"), then, on a virtual clock two days on,
wake the runs and write their messages (phase "due runs"). Figures are the phase's
wall-clock time, from the first engine ready (connected, bundle loaded) to the last one
done, and every event and run is checked to have been done once. The throwaway
cluster runs with fsync off (tests/pg_cluster.py); the SQLite file with synchronous FULL.

Run: python bench/bench_pg.py [--events N] [--engines 1,2,4] [--url postgresql://...]
Without --url it starts a throwaway cluster (tests/pg_cluster.py: initdb and pg_ctl on PATH).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


async def engine_process(location: str, phase: str) -> None:
    """One engine: its batches of the phase's work until there is none left for it."""
    store = store_at(location)
    await store.open()
    at = START if phase == "events" else START + dt.timedelta(days=2)
    engine = Engine(store, VirtualClock(at), settings())
    await engine.load()
    started = time.time()
    idle = 0
    while idle < 3:  # the others may hold the last contacts a moment: look again
        done = await (engine.process_events() if phase == "events" else engine.run_due())
        idle = 0 if done else idle + 1
        if not done:
            await asyncio.sleep(0.02)
    print(json.dumps({"started": started, "ended": time.time() - 3 * 0.02}), flush=True)
    await store.close()


def timed_phase(location: str, phase: str, engines: int) -> float:
    """From the first engine ready (connected, bundle loaded) to the last one done."""
    children = [
        subprocess.Popen([sys.executable, __file__, "--engine", location, "--phase", phase], stdout=subprocess.PIPE)
        for _ in range(engines)
    ]
    spans = []
    for child in children:
        output, _ = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"an engine process failed ({child.returncode})")
        spans.append(json.loads(output.decode().strip().splitlines()[-1]))
    return max(s["ended"] for s in spans) - min(s["started"] for s in spans)


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


def round_of(location: str, events: int, engines: int) -> dict[str, Any]:
    asyncio.run(prepare(location, events))
    took = {phase: timed_phase(location, phase, engines) for phase in ("events", "due runs")}
    found = asyncio.run(counts(location))
    assert found["runs"] == events and found["messages"] == events and found["steps logged twice"] == 0, found
    return {
        "engines": engines,
        **{f"{phase} s": round(seconds, 2) for phase, seconds in took.items()},
        **{f"{phase} per s": round(events / seconds) for phase, seconds in took.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--engines", default="1,2,4")
    parser.add_argument("--url", help="a PostgreSQL server to make databases on (postgresql://user@host:port)")
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        asyncio.run(engine_process(args.engine, args.phase))
        return
    sys.path.insert(0, str(ROOT))
    from tests.pg_cluster import Cluster, server_binaries

    binaries = server_binaries()
    if binaries is None:
        raise SystemExit("no PostgreSQL server binaries: install postgresql (initdb, pg_ctl)")
    cluster = Cluster(*binaries)
    results: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            sqlite = round_of(str(Path(folder) / "bench.db"), args.events, 1)
            results.append({"store": "sqlite", **sqlite})
            print(json.dumps(results[-1]), flush=True)
        for engines in (int(e) for e in args.engines.split(",")):
            result = round_of(cluster.database(), args.events, engines)
            results.append({"store": "postgresql", **result})
            print(json.dumps(results[-1]), flush=True)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
