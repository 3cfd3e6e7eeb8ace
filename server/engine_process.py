"""The engine loop of `scn serve` in a process of its own.

One Python process runs one thread of Python at a time. With the API and the engine in
one process, every request waits for the engine's batches and the engine for the
requests; on a machine with two cores, the second one idles. So `scn serve` starts the
engine (events, due runs, segment sweeps) as a child process on the same SQLite file,
and keeps in its own process what answers requests: intake, the control plane, the
sender and the development mail sink.

The two talk over the child's standard streams, one line per message:

* parent -> child: the settings (first line, JSON), then ``e`` (events were accepted
  or runs changed: look now) and ``r`` (scenarios were installed, paused, resumed or
  archived: reload them). End of input means stop.
* child -> parent: ``ready`` once the engine is loaded, ``o`` after a commit that put
  messages in the outbox (the sender's nudge), and every second ``h SECONDS``: a
  heartbeat with how long the engine has been busy without handling an event or a run.
  A child whose heartbeats stop (its loop is stuck) or say it is stuck is reported by
  /healthz as down, so that a supervisor restarts the server.

Everything else goes through the database: events are on disk before a request is
answered, so a nudge that is lost (or a child that restarts) loses nothing; the child
also looks for work every `Settings.poll_ms` without being told. On PostgreSQL the
child also hears the other processes of the database (their events accepted, their
uploads) and tells them of its outbox messages, by LISTEN/NOTIFY (runtime/nudges.py).
Writes of the two processes are serialised by the store's writer lock. If the child dies, the parent starts a new one
(after a pause that grows while it keeps dying) and /healthz says so meanwhile.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import signal
import sys
from collections.abc import Callable

import msgspec

from ..interpreter.clock import WallClock
from ..interpreter.runtime import Settings
from ..interpreter.runtime.nudges import in_background, poll, share
from ..interpreter.runtime.worker import freeze_heap, open_engine
from ..interpreter.store.pg_notify import notices_for
from .event_loop import loop_factory
from .logs import configure_logging

logger = logging.getLogger("scn.server")

#: Waits before restarting a child that died, growing while it keeps dying (seconds).
RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
#: A child that ran this long before dying counts as healthy: the next restart is quick.
HEALTHY_AFTER_S = 60.0
#: How often the child says it is alive (seconds).
HEARTBEAT_S = 1.0
#: An engine is down for /healthz when no heartbeat came for this long, or when it has
#: been busy without handling anything for this long (seconds): a render takes at most a
#: second, and the loop hands the turn on every few events.
STALLED_AFTER_S = 30.0


class ChildConfig(msgspec.Struct, kw_only=True):
    db: str
    settings: Settings
    clock_speed: float
    clock_origin: dt.datetime
    #: How often the child looks for work even when nobody told it to (milliseconds).
    poll_ms: int


class EngineProcess:
    """The parent's handle on the engine child: start, nudge, reload, watch, stop."""

    def __init__(
        self, db: str, settings: Settings, clock: WallClock, *, on_outbox: Callable[[], None] | None = None,
        start_timeout: float = 60.0, poll_ms: int | None = None,
    ) -> None:  # fmt: skip
        """``poll_ms``: how often the child looks for work unasked (`Settings.poll_ms` unless given)."""
        self.config = ChildConfig(db=db, settings=settings, clock_speed=clock.speed, clock_origin=clock.origin,
                                  poll_ms=poll_ms if poll_ms is not None else settings.poll_ms)  # fmt: skip
        self.on_outbox = on_outbox
        self.start_timeout = start_timeout
        self._process: asyncio.subprocess.Process | None = None
        self._ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._pending: set[bytes] = set()
        self._watcher: asyncio.Task[None] | None = None
        #: How many children have been started (1 while the first one lives).
        self.starts = 0
        #: After how long without progress the child counts as stuck (tests shorten it).
        self.stall_after = STALLED_AFTER_S
        #: The last heartbeat (the loop's time) and what it said (see stalled_for()).
        self._heartbeat_at = 0.0
        self._stalled_for = 0.0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def running(self) -> bool:
        """True while a child is up, has loaded the engine, and is not stuck."""
        alive = self._process is not None and self._process.returncode is None and self._ready.is_set()
        return alive and self.stalled_for() < self.stall_after

    def stalled_for(self) -> float:
        """Seconds without progress: since the last heartbeat, or what it said, whichever is more."""
        silent = asyncio.get_running_loop().time() - self._heartbeat_at
        return max(silent - HEARTBEAT_S, self._stalled_for, 0.0)

    async def start(self) -> None:
        """Start the child and wait until its engine is loaded."""
        self._watcher = asyncio.create_task(self._supervise())
        ready = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait({ready, self._watcher}, timeout=self.start_timeout,
                                     return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        if ready not in done:
            ready.cancel()
            watcher = self._watcher
            failure = watcher.exception() if watcher.done() and not watcher.cancelled() else None
            await self.stop()
            reason = str(failure) if failure is not None else f"not ready within {self.start_timeout:.0f} s"
            raise RuntimeError(f"the engine process did not start: {reason} (see its messages above)")

    def nudge(self) -> None:
        """Events were accepted or runs changed: the child should look now."""
        self._send(b"e\n")

    def reload(self) -> None:
        """Scenarios changed: the child should reload them."""
        self._send(b"r\n")

    def _send(self, message: bytes) -> None:
        # Many requests in one turn of the loop make one line each kind, not one each.
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.add(message)

    def _flush(self) -> None:
        messages, self._pending = self._pending, set()
        process = self._process
        if process is None or process.stdin is None or process.returncode is not None:
            return  # a child that starts next reads everything from the database anyway
        try:
            process.stdin.write(b"".join(sorted(messages, reverse=True)))  # reload before nudge
        except (BrokenPipeError, ConnectionResetError):
            pass

    async def _supervise(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            started = asyncio.get_running_loop().time()
            code = await self._run_child()
            if self._stopping.is_set():
                return
            lived = asyncio.get_running_loop().time() - started
            failures = 0 if lived > HEALTHY_AFTER_S else failures + 1
            if self.starts == 1 and not self._ready.is_set():
                raise RuntimeError(f"the engine process exited with code {code} before it was ready")
            delay = RESTART_DELAYS[min(max(failures - 1, 0), len(RESTART_DELAYS) - 1)]
            logger.error("the engine process exited with code %s; starting a new one in %.1f s", code, delay)
            await asyncio.sleep(delay)

    async def _run_child(self) -> int:
        self._ready.clear()
        self.starts += 1
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scn.server.engine_process",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=None,
        )  # fmt: skip
        self._process = process
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(msgspec.json.encode(self.config) + b"\n")
        while line := await process.stdout.readline():
            if line == b"o\n":
                if self.on_outbox is not None:
                    self.on_outbox()
            elif line.startswith(b"h "):
                self._heartbeat_at = asyncio.get_running_loop().time()
                self._stalled_for = float(line[2:])
            elif line == b"ready\n":
                self._heartbeat_at = asyncio.get_running_loop().time()
                self._ready.set()
                logger.info("the engine runs in process %s", process.pid)
        return await process.wait()

    async def stop(self, timeout: float = 30.0) -> None:
        """Ask the child to finish its batch and exit; kill it if it does not in time."""
        self._stopping.set()
        process = self._process
        if process is not None and process.returncode is None:
            if process.stdin is not None:
                process.stdin.close()  # end of input: the child stops
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                logger.error("the engine process did not stop within %.0f s; killing it", timeout)
                process.kill()
                await process.wait()
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)


# ---------------------------------------------------------------- the child


async def _child(config: ChildConfig, commands: asyncio.StreamReader, out: asyncio.StreamWriter | None) -> None:
    engine = await open_engine(config.db, WallClock(config.clock_speed, config.clock_origin), config.settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        # Ctrl-C, `timeout` and systemd signal the whole process group (or cgroup): the
        # parent stops gracefully and then closes our input, which is when this one stops.
        loop.add_signal_handler(signum, lambda: None)

    def say(line: bytes) -> None:
        if out is not None and not out.is_closing():
            out.write(line)

    outbox_told = False

    def outbox() -> None:
        nonlocal outbox_told
        if not outbox_told:  # one line per turn of the loop, however many commits
            outbox_told = True
            loop.call_soon(flush_outbox)

    def flush_outbox() -> None:
        nonlocal outbox_told
        outbox_told = False
        say(b"o\n")

    async def reload() -> None:
        await engine.load()
        engine.nudge()

    reloading = in_background(reload)
    notices = notices_for(engine.store)
    if notices is not None:  # the API's events and uploads come by the parent's pipe too
        share(notices, engine, sender=None, engine_here=True, reload=reloading)

    async def listen() -> None:
        while line := await commands.readline():
            if line.startswith(b"r"):
                await engine.load()
            engine.nudge()
        stop.set()  # the parent closed our input (or died)

    async def heartbeat() -> None:
        # A task of its own: it goes silent only when the loop itself is stuck.
        while not stop.is_set():
            say(f"h {engine.stalled_for():.1f}\n".encode())
            await asyncio.sleep(HEARTBEAT_S)

    try:
        engine.on_outbox.append(outbox)
        freeze_heap()
        say(b"ready\n")
        looking = poll(config.poll_ms, stop, engine, [engine.nudge], reloading)
        tasks = [asyncio.create_task(t) for t in (engine.run_forever(stop), listen(), looking, heartbeat())]
        _, waiting = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        for task in waiting:
            if task is not tasks[0]:
                task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        failure = next((r for r in results if isinstance(r, Exception)), None)
        if failure is not None:
            raise failure
    finally:
        if notices is not None:
            await notices.close()
        await engine.store.close()


async def _child_main() -> None:
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    first = await commands.readline()
    config = msgspec.json.decode(first, type=ChildConfig)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, sys.stdout)
    out = asyncio.StreamWriter(transport, protocol, None, loop)
    await _child(config, commands, out)


def main() -> int:
    form = os.environ.get("SCN_LOG_FORMAT", "console")
    configure_logging("json" if form == "json" else "console")
    # Answering requests comes first: when both processes want a core, the API gets it.
    try:
        os.nice(5)
    except OSError:  # pragma: no cover - not allowed here: run at the same priority
        pass
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(_child_main())
    except Exception:
        logger.exception("the engine process failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
