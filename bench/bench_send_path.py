"""The engine's share of the E2E path, alone: CPU per event from an accepted `order.paid`
to its email in the outbox, in one process, before and after a change.

The workspace, template and events of bench_e2e.py; an engine on a fresh SQLite file
(WAL, synchronous=FULL, as `scn serve` runs it) processes N accepted events in batches,
as its loop does, and the process's CPU time over that is divided by N. With --compare
REF the same runs in processes of their own from the tree as of REF (git archive) and
from this one, alternating, so that each figure is a median beside the other's.

Run: python bench/bench_send_path.py [--count N] [--repeats R] [--compare REF] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


async def engine_cpu(count: int, folder: Path) -> dict[str, float]:
    """CPU seconds and wall seconds per event of an engine turning ``count`` events into mails."""
    import msgspec
    from bench_e2e import TEMPLATE, WORKSPACE, document

    from scn.interpreter.checker import check_workspace
    from scn.interpreter.clock import WallClock
    from scn.interpreter.runtime import Engine, Settings, events
    from scn.interpreter.runtime.worker import deploy, freeze_heap
    from scn.interpreter.store import SqliteStore
    from scn.interpreter.workspace import workspace_from_texts

    # As the API reads an event (its amounts kept as written); trees before it had no such function.
    convert = getattr(events, "convert_event", None) or (lambda d: msgspec.convert(d, events.EventInput))
    store = SqliteStore(str(folder / f"send-{time.monotonic_ns()}.db"))
    await store.open()
    engine = Engine(store, WallClock(), Settings(secret="bench", public_url="http://127.0.0.1:8000"))
    result = check_workspace(workspace_from_texts({"thanks.scn": WORKSPACE}, {"thanks.html": TEMPLATE}))
    assert result.ok, [d.message for d in result.diagnostics]
    await deploy(engine, result)

    async def accept(first: int, n: int, run: str) -> None:
        for start in range(first, first + n, 500):
            documents = [document(i, run) for i in range(start, min(first + n, start + 500))]
            await engine.accept([engine.event_in(convert(d)) for d in documents])

    await accept(0, 300, "warm")  # templates compiled, locales loaded: as in a server that runs
    while await engine.process_events():
        pass
    freeze_heap()
    await accept(0, count, "timed")
    cpu, wall = time.process_time(), time.perf_counter()
    done = 0
    while processed := await engine.process_events():
        done += processed
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert done == count, done
    await store.close()
    return {"cpu_ms": cpu / count * 1000, "wall_ms": wall / count * 1000}


def in_process(tree: Path | None, count: int, folder: Path) -> dict[str, float]:
    """One measurement in a fresh process, of this tree or of ``tree``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(tree or ""), str(HERE)) if p)}
    out = folder / f"figures-{time.monotonic_ns()}.json"
    subprocess.run([sys.executable, str(Path(__file__)), "--side", str(count), "--json", str(out)], env=env,
                   cwd=folder, check=True)  # fmt: skip
    figures: dict[str, float] = json.loads(out.read_text(encoding="utf-8"))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compare", metavar="REF", help="also measure the tree as of this git commit, alternating")
    parser.add_argument("--side", type=int, help=argparse.SUPPRESS)  # measure here, this many events
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.side is not None:
        with tempfile.TemporaryDirectory(prefix="scn-bench-send-") as tmp:
            figures = asyncio.run(engine_cpu(args.side, Path(tmp)))
        assert args.json is not None
        args.json.write_text(json.dumps(figures), encoding="utf-8")
        return 0
    from bench_e2e import export_tree

    results: dict[str, Any] = {"count": args.count}
    with tempfile.TemporaryDirectory(prefix="scn-bench-send-") as tmp:
        folder = Path(tmp)
        trees: dict[str, Path | None] = {"now": None}
        if args.compare:
            trees["before"] = export_tree(args.compare, folder)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        names = list(trees)
        for attempt in range(args.repeats):
            for name in names[attempt % len(names) :] + names[: attempt % len(names)]:
                runs[name].append(in_process(trees[name], args.count, folder))
                print(f"{name:6} {runs[name][-1]['cpu_ms'] * 1000:6.0f} µs of CPU an event", flush=True)
    for name, figures in runs.items():
        cpu = [f["cpu_ms"] * 1000 for f in figures]
        results[name] = {"cpu_us": statistics.median(cpu), "cpu_us_runs": cpu}
        print(f"{name}: {statistics.median(cpu):.0f} µs of CPU an event (median of {len(cpu)}; {min(cpu):.0f}–"
              f"{max(cpu):.0f})")  # fmt: skip
    if "before" in results:
        ratio = results["now"]["cpu_us"] / results["before"]["cpu_us"]
        results["ratio"] = ratio
        print(f"now / before ({args.compare}): {ratio:.2f}x the CPU an event")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
