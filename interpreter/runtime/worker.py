"""Running the interpreter on a database: deploy a workspace, take events, run forever.

`scn worker` uses this directly (events from standard input, one JSON object per line,
each acknowledged on standard output once it is on disk); the HTTP server runs the
same engine loop next to its API.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import stat
import sys
from collections.abc import Callable
from typing import IO, Any

from ...stdlib.delivery import Sender
from ...stdlib.delivery.config import DeliveryConfig, build_sender
from .. import ast
from ..checker import CheckResult, pool_codes
from ..clock import Clock
from ..compiler import compile_workspace
from ..program import Bundle
from ..settings import Settings
from ..store import EventIn, Store, store_at
from ..store._lock import EngineLock
from ..store.pg_notify import notices_for
from ..store.unavailable import engine_lock, opened
from .engine import Engine, KeyConflict
from .events import EventError, read_event
from .nudges import in_background, poll, share

#: Most events acknowledged together in one group commit from one stream.
INTAKE_BATCH = 1000


def freeze_heap() -> None:
    """Once a long-running process has started: what exists by now (modules, programs,
    catalogues, templates) lives as long as it does, so it is moved out of the cycle
    collector's reach. Full collections otherwise walk it all, in a burst of wake-ups,
    straight into the lateness of the runs behind them."""
    gc.collect()
    gc.freeze()


async def deploy(
    engine: Engine, checked: CheckResult, files: dict[str, str] | None = None, bundle: Bundle | None = None,
    *, draft: bool = False, actor: str = "system",
) -> dict[str, int]:  # fmt: skip
    """Install a checked workspace (new versions only where programs changed; ``draft``
    ones take no runs until published) and its code pools; ``files`` (path -> text) are kept
    with the bundle as its source; ``bundle`` is the workspace compiled already (else it is
    compiled here)."""
    compiled = bundle if bundle is not None else compile_workspace(checked)
    versions = await engine.install(compiled, files, draft=draft, actor=actor)
    await import_pools(engine.store, checked)
    return versions


async def import_pools(store: Store, checked: CheckResult) -> dict[str, int]:
    """Load the CSV code pools the workspace's coupons name; returns how many codes were new."""
    imported: dict[str, int] = {}
    for name, decl in checked.symbols.decls.items():
        if not isinstance(decl, ast.CouponDecl):
            continue
        pool = decl.first(ast.CouponPool)
        if isinstance(pool, ast.CouponPool):
            text = checked.workspace.read_resource(checked.symbols.decl_files[name], pool.path.value) or ""
            imported[name] = await store.import_pool(name, pool_codes(text))
    return imported


#: The lock of this process's engine on its SQLite file (`store.unavailable.engine_lock`).
_ENGINE_LOCKS: list[EngineLock] = []


async def open_engine(path: str, clock: Clock, settings: Settings) -> Engine:
    lock = engine_lock(path)
    if lock is not None:
        _ENGINE_LOCKS.append(lock)  # held until the process exits (the kernel releases it then)
    store = store_at(path)
    await opened(store, path)
    engine = Engine(store, clock, settings)
    await engine.load()
    return engine


async def intake_lines(engine: Engine, lines: asyncio.Queue[str | None], out: IO[str]) -> None:
    """Accept events from a queue of JSON lines; write one acknowledgement line for each.

    Lines that are waiting together are committed together (a group commit), and their
    acknowledgements are written only after that commit: an acknowledged event is on disk.
    """
    number = 0
    done = False
    while not done:
        chunk = [await lines.get()]
        while len(chunk) < INTAKE_BATCH and not lines.empty():
            chunk.append(lines.get_nowait())
        if chunk[-1] is None:
            done = True
        accepted: list[EventIn] = []
        numbers: list[int] = []
        replies: list[dict[str, Any]] = []
        for line in chunk:
            if line is None:
                continue
            number += 1
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                event = engine.event_in(read_event(line))
            except EventError as error:
                replies.append({"line": number, "error": str(error), "errors": error.errors})
                continue
            accepted.append(event)
            numbers.append(number)
        if accepted:
            replies.extend(await _accept(engine, accepted, numbers))
        replies.sort(key=lambda r: int(r["line"]))
        if replies:
            out.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in replies))
            out.flush()


async def _accept(engine: Engine, events: list[EventIn], numbers: list[int]) -> list[dict[str, Any]]:
    """Commit the events of some lines; one whose key was accepted before with other content
    is refused on its own line (the others are then committed one by one)."""
    try:
        results = await engine.accept(events)
    except KeyConflict as error:
        if len(events) == 1:
            errors = [{"field": "key", "message": str(error)}]
            return [{"line": numbers[0], "error": str(error), "errors": errors}]
        replies = []
        for event, number in zip(events, numbers, strict=True):
            replies += await _accept(engine, [event], [number])
        return replies
    return [
        {"line": n, "key": e.key, "id": event_id, "duplicate": duplicate}
        for n, e, (event_id, duplicate) in zip(numbers, events, results, strict=True)
    ]


async def _read_stdin(queue: asyncio.Queue[str | None]) -> None:
    if stat.S_ISREG(os.fstat(sys.stdin.fileno()).st_mode):
        # A redirected file (`< events.jsonl`): the pipe transport takes only pipes, sockets
        # and terminals, so a file is read in a thread, about a megabyte of lines at a time.
        while lines := await asyncio.to_thread(sys.stdin.buffer.readlines, 1 << 20):
            for line in lines:
                await queue.put(line.decode("utf-8", errors="replace"))
        await queue.put(None)
        return
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 22)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        await queue.put(line.decode("utf-8", errors="replace"))
    await queue.put(None)


async def run(
    checked: CheckResult,
    path: str,
    clock: Clock,
    settings: Settings,
    *,
    stdin_events: bool,
    ready: Callable[[dict[str, Any]], None] | None = None,
    delivery: DeliveryConfig | None = None,
) -> None:
    """Deploy, then run until SIGTERM or SIGINT (and, with stdin events, keep running after EOF).

    With delivery settings, a sender delivers the outbox next to the engine. Work that
    other processes put in the database (events accepted by an API, messages by another
    engine, an upload) is heard of by their notices on PostgreSQL, and looked for every
    `Settings.poll_ms` on any store (nudges.py)."""
    engine = await open_engine(path, clock, settings)
    sender: Sender | None = None
    if delivery is not None:
        sender = build_sender(engine.store, clock, delivery, settings.secret)
        engine.on_outbox.append(sender.nudge)

    def pace() -> None:
        policy = engine.current.policy if engine.current is not None else None
        if sender is not None and policy is not None:
            sender.set_rates(policy.rates)  # the workspace policy paces the providers, as `scn serve` does

    async def reload() -> None:
        await engine.load()
        pace()
        engine.nudge()

    reloading = in_background(reload)
    notices = notices_for(engine.store)
    if notices is not None:
        share(notices, engine, sender=sender, engine_here=True, reload=reloading)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        versions = await deploy(engine, checked)
        pace()
        if ready is not None:
            ready({"ready": True, "scenarios": versions})
        freeze_heap()
        tasks = [asyncio.create_task(engine.run_forever(stop))]
        if sender is not None:
            tasks.append(asyncio.create_task(sender.run_forever(stop)))
        looks = [engine.nudge, *([sender.nudge] if sender is not None else [])]
        tasks.append(asyncio.create_task(poll(settings.poll_ms, stop, engine, looks, reloading)))
        if stdin_events:
            queue: asyncio.Queue[str | None] = asyncio.Queue()
            tasks.append(asyncio.create_task(_read_stdin(queue)))
            tasks.append(asyncio.create_task(intake_lines(engine, queue, sys.stdout)))
        stopping = asyncio.create_task(stop.wait())
        waiting: set[asyncio.Task[Any]] = {stopping, *tasks}
        failure: BaseException | None = None
        while failure is None and not stop.is_set():
            # Intake ends normally at the end of its input and the loop goes on; a task
            # that fails means something broke: the process exits non-zero so that a
            # supervisor restarts it (nothing acknowledged is lost).
            finished, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            failure = next((t.exception() for t in finished if not t.cancelled() and t.exception()), None)
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        if failure is not None:
            raise failure
    finally:
        if notices is not None:
            await notices.close()
        if sender is not None:
            await sender.close()
        await engine.store.close()
