"""Benchmark of event ingest over HTTP (P1 of docs/BENCHMARKS.md).

`scn serve` runs as its own process tree on a fresh SQLite file (synchronous=FULL, WAL,
as in production: the API in one process, the engine in another), with an API key; this
driver posts events in batches of --batch with 1, 10 and 100 concurrent clients; every
answer (202) comes after the commit. In the same run, alternating with it (which side
goes first alternates too), plain sqlite3 inserts the same rows into an `events` table
of the same schema (its own file), in transactions of the same size, with the same
durability: the reference rate. scn is counted twice: until the last 202 (the ack rate)
and until its engine has processed every event it accepted (the processed rate, which
the target is judged on: scn >= 0.5x of the reference). Each side starts only once the
engine has processed everything sent before.
The full run measures `scn serve --single-process` (the engine in the API's process) the
same way.

Run: python bench/bench_http.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

try:
    import psutil
except ImportError:  # the bench extra (pip install -e ".[bench]"): without it, no CPU figures
    psutil = None

API_KEY = "bench-key"

WORKSPACE = """
template hello email
  subject "Hi"
  html "hello.html"
end

# Events of this benchmark start no run: it measures intake, not scenarios.
scenario hello "Hello"
  on contact.registered
  entry once per contact
  send email hello
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def document(i: int, run: str) -> dict[str, Any]:
    return {"type": "contact.updated", "key": f"{run}-{i}",
            "contact": {"id": f"c{i % 5000}", "email": f"c{i % 5000}@example.com", "language": "uk"}}  # fmt: skip


async def post_all(base: str, count: int, batch: int, clients: int, run: str) -> float:
    """Post every batch over ``clients`` keep-alive connections; seconds until the last 202."""
    host, port = base.removeprefix("http://").split(":")
    bodies = [json.dumps([document(i, run) for i in range(s, min(count, s + batch))]).encode()
              for s in range(0, count, batch)]  # fmt: skip
    started = await post_bodies(host, int(port), bodies, clients)
    return time.monotonic() - started


async def post_bodies(host: str, port: int, bodies: list[bytes], clients: int) -> float:
    """POST each body to /api/events (with the API key) over ``clients`` keep-alive
    connections, each answer a 202; returns time.monotonic() of the first request.

    Plain HTTP/1.1 over asyncio streams: a general-purpose client's connection pool
    (httpx's) costs more CPU than the server at 100 connections and would measure itself."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while not queue.empty():
                body = queue.get_nowait()
                writer.write(
                    b"POST /api/events HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                    + f"X-API-Key: {API_KEY}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))  # fmt: skip
                answer = await reader.readexactly(length)
                assert status == 202, answer
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return started


def raw_inserts(path: Path, count: int, batch: int, run: str) -> float:
    """The same rows into the same table, by plain sqlite3, a transaction per batch."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    now = int(time.time() * 1000)
    rows = [(f"raw-{run}-{i}", "contact.updated", f"c{i % 5000}", now, now, json.dumps(document(i, run)))
            for i in range(count)]  # fmt: skip
    started = time.perf_counter()
    for s in range(0, count, batch):
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            "INSERT INTO events (key, type, contact_id, occurred_at, received_at, payload) VALUES (?, ?, ?, ?, ?, ?)",
            rows[s : s + batch],
        )
        connection.execute("COMMIT")
    took = time.perf_counter() - started
    connection.close()
    return took


async def _schema(path: Path) -> None:
    from scn.interpreter.store import SqliteStore

    store = SqliteStore(str(path))
    await store.open()
    await store.close()


def pending_events(db: Path) -> int:
    """Events the server has accepted but not yet processed (read from its file)."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(connection.execute("SELECT count(*) FROM events WHERE processed_at IS NULL").fetchone()[0])
    finally:
        connection.close()


def wait_idle(db: Path, timeout: float = 120.0) -> float:
    """Seconds until the server has processed every event it accepted."""
    started = time.perf_counter()
    while pending_events(db):
        if time.perf_counter() - started > timeout:
            raise SystemExit("the server did not process its events in time")
        time.sleep(0.005)
    return time.perf_counter() - started


def start_server(command: list[str], port: int) -> tuple[subprocess.Popen[bytes], str]:
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "SCN_SECRET": "bench"})  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.terminate()
            raise SystemExit("the server did not start")
        time.sleep(0.1)


def measure(folder: Path, name: str, single_process: bool, count: int, batch: int, repeats: int) -> dict[str, Any]:
    """Every client count against one server; the reference in the same run, alternating."""
    db = folder / f"{name}.db"
    # The reference writes to a file of its own with the same schema: rows it put in
    # the server's file would be events for the server's engine to process.
    raw_db = folder / f"{name}-raw.db"
    asyncio.run(_schema(raw_db))
    port = free_port()
    command = [sys.executable, "-m", "scn", "serve", str(folder / "w"), "--db", str(db), "--port", str(port),
               "--api-key", API_KEY]  # fmt: skip
    server, base = start_server(command + (["--single-process"] if single_process else []), port)
    figures: dict[str, Any] = {}
    api = psutil.Process(server.pid) if psutil is not None else None
    try:
        asyncio.run(post_all(base, min(count, 2000), batch, 10, "warm-up"))
        for clients in (1, 10, 100):
            ours, raw, drains, processed = [], [], [], []
            api_cpu: list[float] = []
            engine_cpu: list[float] = []
            for attempt in range(repeats):
                run = uuid.uuid4().hex[:8]
                for side in ("raw", "scn") if attempt % 2 == 0 else ("scn", "raw"):
                    # Each side starts from a quiet machine: the server's engine has
                    # processed everything before either side is timed.
                    wait_idle(db)
                    if side == "raw":
                        raw.append(raw_inserts(raw_db, count, batch, run))
                    else:
                        started = cpu_seconds(api)
                        ours.append(asyncio.run(post_all(base, count, batch, clients, run)))
                        acked = cpu_seconds(api)
                        drains.append(wait_idle(db))
                        processed.append(ours[-1] + drains[-1])
                        if api is not None:
                            # The API's CPU until the last 202; each process's until all is processed.
                            api_cpu.append((acked[0] - started[0]) / count * 1e6)
                            engine_cpu.append((cpu_seconds(api)[1] - started[1]) / count * 1e6)
            scn_s, raw_s, done_s = statistics.median(ours), statistics.median(raw), statistics.median(processed)
            figures[str(clients)] = {
                "scn_s": scn_s, "raw_s": raw_s, "scn_per_s": count / scn_s, "raw_per_s": count / raw_s,
                "ack_ratio": raw_s / scn_s, "processed_s": done_s, "processed_per_s": count / done_s,
                "ratio": raw_s / done_s, "scn_runs": ours, "raw_runs": raw, "processed_runs": processed,
                "drain_s": statistics.median(drains), "drain_runs": drains,
            }  # fmt: skip
            cpu = ""
            if api_cpu:
                figures[str(clients)] |= {
                    "api_cpu_us": statistics.median(api_cpu),
                    "api_cpu_runs": api_cpu,
                    "engine_cpu_us": statistics.median(engine_cpu),
                    "engine_cpu_runs": engine_cpu,
                }
                cpu = (
                    f"; CPU an event: the API {statistics.median(api_cpu):.1f} us, the engine "
                    f"{statistics.median(engine_cpu):.1f} us"
                )
            print(f"P1 {name}: {clients:>3} client(s), {count:,} events in requests of {batch} (medians of "
                  f"{repeats}): scn acks {count / scn_s:,.0f}/s and processes {count / done_s:,.0f}/s, raw sqlite3 "
                  f"{count / raw_s:,.0f}/s: processed {raw_s / done_s:.2f}x of raw (target >= 0.5x), acked "
                  f"{raw_s / scn_s:.2f}x{cpu}", flush=True)  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)
    return figures


def cpu_seconds(api: Any) -> tuple[float, float]:
    """CPU seconds (user and system) of `scn serve`'s process, and of its children (the
    engine, unless --single-process); (0, 0) without psutil."""
    if api is None:
        return 0.0, 0.0
    children = 0.0
    for child in api.children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        children += times.user + times.system
    own = api.cpu_times()
    return own.user + own.system, children


def measure_floor(count: int, batch: int, repeats: int) -> dict[str, Any]:
    """The same requests to the same HTTP stack answering without storing (http_floor.py)."""
    port = free_port()
    server, base = start_server([sys.executable, str(Path(__file__).with_name("http_floor.py")), str(port)], port)
    figures: dict[str, Any] = {}
    try:
        asyncio.run(post_all(base, min(count, 2000), batch, 10, "warm-up"))
        for clients in (1, 10, 100):
            runs = [asyncio.run(post_all(base, count, batch, clients, uuid.uuid4().hex[:8])) for _ in range(repeats)]
            median = statistics.median(runs)
            figures[str(clients)] = {"s": median, "per_s": count / median, "runs": runs}
            print(f"P1 floor: {clients:>3} client(s): the HTTP stack alone answers {count / median:,.0f} events/s",
                  flush=True)  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--batch", type=int, default=100, help="events per request (and per raw transaction)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    count = 5_000 if args.quick else 20_000
    repeats = 1 if args.quick else 3
    results: dict[str, Any] = {"count": count, "batch": args.batch}
    with tempfile.TemporaryDirectory(prefix="scn-bench-http-") as tmp:
        folder = Path(tmp)
        (folder / "w").mkdir()
        (folder / "w" / "hello.scn").write_text(WORKSPACE, encoding="utf-8")
        (folder / "w" / "hello.html").write_text("<p>Hi {{ unsubscribe_url }}</p>", encoding="utf-8")
        results["floor"] = floor = measure_floor(count, args.batch, repeats)
        results["clients"] = measure(folder, "default", False, count, args.batch, repeats)
        # With one client nothing overlaps: a request is parsed, committed and answered in
        # turn, so no server on this HTTP stack beats raw / (raw + the floor's time).
        one = results["clients"]["1"]
        one["bound"] = one["raw_s"] / (one["raw_s"] + floor["1"]["s"])
        print(f"P1: with 1 client the HTTP stack allows at most {one['bound']:.2f}x of raw in this run", flush=True)
        if not args.quick:
            # The same with the engine in the API's process (`scn serve --single-process`).
            results["single_process"] = measure(folder, "single-process", True, count, args.batch, repeats)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
