"""Benchmark of the store's growth: what the reads and the engine cost at 10,000, 100,000
and 1,000,000 contacts, runs and messages (issue 14, part 3; issue 16's page target).

For each size N a store is filled in bulk (setup, not measured; bench_console.fill: the
examples deployed, N contacts, N runs with their step log, N messages over 30 days with
clicks and paid orders). Then, in rounds that take the sizes in turn (the machine is
shared: each round measures every size once, so noise falls on all alike):

  cap check      `count_messages` for a scenario's frequency cap (target < 1 ms)
  step counts    `step_counts` of the busiest scenario (the diagram's numbers)
  report         a 30-day report of every scenario's totals, and one scenario's by day
  messages hour  `messages_between` over the last hour (its answer grows with traffic)
  metrics        `metrics` (/metrics)
  per event      an order.paid burst through the engine (every scenario it triggers,
                 the frequency cap included), engine time per event (target: at N =
                 1,000,000 within 1.5x of N = 10,000)
  sweep          the segment sweep: once over everyone (after a deploy that changes a
                 timed segment), then an hour later, when only contacts whose time
                 condition crossed are looked at
targets of 200 ms for every read. Then every console page at each size, as
bench_console.py measures them (target: each under 200 ms at 1,000,000).

Run: python bench/bench_scale.py [--quick] [--sizes 10000,100000,1000000] [--rounds 5] [--no-pages]
     [--no-sweep] [--keep DIR] [--json PATH]
(--quick: 10,000 only, one round, the pages asked for once each).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_console import deploy, fill  # noqa: E402
from bench_console import measure as measure_pages  # noqa: E402

from scn.interpreter.clock import VirtualClock, ms_of  # noqa: E402
from scn.interpreter.runtime import Engine, EventInput, Settings  # noqa: E402
from scn.interpreter.runtime.events import convert_event  # noqa: E402
from scn.interpreter.store import SqliteStore  # noqa: E402

DAY_MS = 86_400_000
READ_TARGET_MS = 200.0
CAP_TARGET_MS = 1.0
EVENT_RATIO_TARGET = 1.5
#: The scenario whose frequency cap is checked (examples/loyalty_groups.scn: at most 3 per 1d).
CAPPED = "order_bonus"


async def timed(call: Callable[[], Awaitable[Any]], times: int = 1) -> float:
    """Median milliseconds of ``times`` calls."""
    taken = []
    for _ in range(times):
        started = time.perf_counter()
        await call()
        taken.append((time.perf_counter() - started) * 1000)
    return statistics.median(taken)


async def reads(path: Path, size: int, rng: random.Random, calls: int) -> dict[str, float]:
    """One round of the store's reads on the store of ``size`` (milliseconds each)."""
    store = SqliteStore(str(path))
    await store.open()
    try:
        now = int(time.time() * 1000)
        contacts = [f"c{rng.randrange(size)}" for _ in range(calls)]
        cap = []
        for contact in contacts:
            started = time.perf_counter()
            await store.count_messages(contact, scenario=CAPPED, since=now - DAY_MS)
            cap.append((time.perf_counter() - started) * 1000)
        busiest = max((await store.run_counts()).items(), key=lambda kv: sum(kv[1].values()))[0]
        day = dt.timedelta(days=1)
        return {
            "cap_check_ms": statistics.median(cap),
            "step_counts_ms": await timed(lambda: store.step_counts(busiest), 3),
            "report_all_ms": await timed(lambda: store.report_counts(now - 30 * DAY_MS, now), 3),
            "report_by_day_ms": await timed(
                lambda: store.report_counts(
                    now - 30 * DAY_MS,
                    now,
                    "post_purchase",
                    origin=now - 30 * DAY_MS,
                    bucket_ms=int(day.total_seconds() * 1000),
                ),
                3,
            ),  # fmt: skip
            "messages_hour_ms": await timed(lambda: store.messages_between(now - 3_600_000, now), 3),
            "metrics_ms": await timed(store.metrics, 3),
        }
    finally:
        await store.close()


def used_contacts(path: Path) -> set[str]:
    """The contacts earlier bursts paid for (their orders' ids start with `bench-`)."""
    with sqlite3.connect(path) as db:
        return {
            row[0]
            for row in db.execute("SELECT DISTINCT contact_id FROM orders WHERE id >= 'bench-' AND id < 'bench.'")
        }


def paid_events(size: int, count: int, rng: random.Random, tag: str, used: set[str] | None = None) -> list[EventInput]:
    """A burst of orders paid by ``count`` distinct contacts of the fill, none of them in
    ``used``: a contact an earlier burst paid for has its segments entered and its
    frequency cap spent, and takes less work, which in a small store (where bursts
    meet the same contacts again) would flatter the small size."""
    events = []
    taken = set(used or ())
    if size - len(taken) < count:
        raise SystemExit(f"the store of {size:,} has too few contacts no burst paid for: fill it anew (--keep)")
    for i in range(count):
        contact = f"c{rng.randrange(size)}"
        while contact in taken:
            contact = f"c{rng.randrange(size)}"
        taken.add(contact)
        document = {
            "type": "order.paid", "key": f"bench-{tag}-{i}", "contact": {"id": contact},
            "order": {"id": f"bench-{tag}-{i}", "total": f"{rng.randrange(50, 1500)}.00", "currency": "PLN",
                      "status": "paid"},
        }  # fmt: skip
        events.append(convert_event(document))  # as the API reads a body
    return events


async def per_event(path: Path, size: int, rng: random.Random, count: int, tag: str) -> tuple[float, float]:
    """Engine milliseconds per event for a burst of order.paid events (accepted, then
    processed): wall time, and the process's CPU time (less moved by other work on the
    machine; the store's thread included)."""
    store = SqliteStore(str(path))
    await store.open()
    try:
        clock = VirtualClock(dt.datetime.now(dt.UTC))
        engine = Engine(store, clock, Settings(secret="bench"))
        await engine.load()
        events = paid_events(size, count, rng, tag, used_contacts(path))
        started, cpu = time.perf_counter(), time.process_time()
        await engine.accept([engine.event_in(e) for e in events])
        while await engine.process_events():
            pass
        return (time.perf_counter() - started) * 1000 / count, (time.process_time() - cpu) * 1000 / count
    finally:
        await store.close()


async def sweeps(path: Path) -> dict[str, float]:
    """The segment sweep: all of it once (checks made anew), then an hour later."""
    store = SqliteStore(str(path))
    await store.open()
    try:
        clock = VirtualClock(dt.datetime.now(dt.UTC))
        engine = Engine(store, clock, Settings(secret="bench"))
        await engine.load()
        figures: dict[str, float] = {}
        for label, forward in (("sweep_full", dt.timedelta(0)), ("sweep_hour", dt.timedelta(hours=1))):
            clock.advance_to(clock.now() + forward) if forward else None
            if label == "sweep_full":
                await store.reset_segment_checks("", ms_of(clock.now()))  # as after a deploy that changes one
                engine.forget_segment_checks()
            started = time.perf_counter()
            looked = 0
            while True:
                done = await engine.sweep_segments()
                if not done:
                    break
                looked += done
            figures[f"{label}_s"] = time.perf_counter() - started
            figures[f"{label}_contacts"] = looked
        # The segment.entered / left events the sweeps raised, handled (not timed), so that
        # a store kept with --keep does not start its next per-event burst behind them.
        while await engine.process_events():
            pass
        return figures
    finally:
        await store.close()


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


async def measure_all(
    paths: dict[int, Path], rounds: int, calls: int, burst: int, sweep: bool = True
) -> dict[str, Any]:
    rng = random.Random(11)
    found: dict[int, dict[str, list[float]]] = {size: {} for size in paths}
    for round_number in range(rounds):
        for size, path in paths.items():  # every size in each round: noise falls on all alike
            figures = await reads(path, size, rng, calls)
            # keys of this run only: on a store kept with --keep, earlier keys are duplicates
            tag = f"{round_number}-{time.time_ns()}"
            figures["per_event_ms"], figures["per_event_cpu_ms"] = await per_event(path, size, rng, burst, tag)
            for key, value in figures.items():
                found[size].setdefault(key, []).append(value)
            print(f"  round {round_number + 1}, {size:>9,}: " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()),
                  flush=True)  # fmt: skip
    results: dict[str, Any] = {}
    for size, path in paths.items():
        results[str(size)] = {key: summary(values) for key, values in found[size].items()}
        if not sweep:
            continue
        results[str(size)]["sweep"] = await sweeps(path)
        print(f"  sweep at {size:,}: {results[str(size)]['sweep']}", flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 only, one round, each page once")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="store sizes (contacts = runs = messages)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds over the sizes")
    parser.add_argument("--no-pages", action="store_true", help="leave the console's pages out")
    parser.add_argument("--no-sweep", action="store_true", help="leave the segment sweeps out")
    parser.add_argument("--keep", help="keep the filled stores in this folder (and reuse them when there)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    rounds, calls, burst, repeats = (1, 200, 200, 1) if args.quick else (args.rounds, 500, 500, 5)
    goals = {"read_ms": READ_TARGET_MS, "cap_ms": CAP_TARGET_MS, "per_event_ratio": EVENT_RATIO_TARGET}
    results: dict[str, Any] = {"targets": goals, "sizes": {}, "pages": {}}
    with tempfile.TemporaryDirectory(prefix="scn-bench-scale-") as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        paths: dict[int, Path] = {}
        targets: dict[int, dict[str, Any]] = {}
        for size in sizes:
            path = paths[size] = folder / f"scale-{size}.db"
            targets[size] = {"contact": "c1", "run": size // 2, "message": size // 2}
            if path.exists() and args.keep:
                continue
            started = time.perf_counter()
            asyncio.run(deploy(path))
            fill(path, size, contacts=size)
            print(f"{size:,} contacts, runs and messages: {path.stat().st_size / 1e6:.0f} MB, filled in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        results["sizes"] = asyncio.run(measure_all(paths, rounds, calls, burst, not args.no_sweep))
        first, last = str(sizes[0]), str(sizes[-1])
        ratio = results["sizes"][last]["per_event_ms"]["median"] / results["sizes"][first]["per_event_ms"]["median"]
        results["per_event_ratio"] = ratio
        cpu = (
            results["sizes"][last]["per_event_cpu_ms"]["median"] / results["sizes"][first]["per_event_cpu_ms"]["median"]
        )
        results["per_event_cpu_ratio"] = cpu
        print(f"per event at {int(last):,} / at {int(first):,}: {ratio:.2f}x (target <= {EVENT_RATIO_TARGET}x); "
              f"CPU per event {cpu:.2f}x")  # fmt: skip
        if not args.no_pages:
            for size in sizes:
                print(f"console pages at {size:,}:", flush=True)
                results["pages"][str(size)] = asyncio.run(measure_pages(paths[size], targets[size], repeats))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("SCN_SECRET", "bench")
    sys.exit(main())
