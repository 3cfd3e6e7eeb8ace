"""The engine in a child process of the API (as `scn serve` runs it): it hears of events
and deploys, it is restarted when it dies without losing what was accepted, it stops
with the server; and the two processes' writes take turns through the writer lock."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import msgspec
import pytest

from scn.interpreter.clock import WallClock
from scn.interpreter.runtime import Engine, EventInput, Settings
from scn.interpreter.runtime.events import convert_event
from scn.interpreter.runtime.worker import deploy
from scn.interpreter.store import SqliteStore
from scn.server.engine_process import EngineProcess

from .harness import checked
from .server_harness import free_port, serving
from .test_server import FILES, paid

WELCOME = 'list members "Members"\n\nscenario welcome "Welcome"\n  on contact.registered\n  add to list members\nend\n'
BUYERS = 'list buyers "Buyers"\n\nscenario buyers "Buyers"\n  on order.paid\n  add to list buyers\nend\n'


def registered(contact: str) -> EventInput:
    return msgspec.convert({"type": "contact.registered", "key": f"reg-{contact}", "contact": {"id": contact}},
                           EventInput)  # fmt: skip


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Until ``check()`` is true; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "did not happen in time"
        await asyncio.sleep(0.02)


async def test_the_child_hears_of_new_events_and_new_scenarios_without_polling(tmp_path: Path) -> None:
    db = str(tmp_path / "scn.db")
    store = SqliteStore(db)
    await store.open()
    settings = Settings(secret="t")
    engine = Engine(store, WallClock(), settings)  # the API's side: intake and deploys, no loop
    await engine.load()
    await deploy(engine, checked(WELCOME))
    # It would look by itself only once a minute: whatever it does within seconds, it was told.
    child = EngineProcess(db, settings, WallClock(), poll_ms=60_000)
    engine.on_accepted.append(child.nudge)
    engine.on_installed.append(child.reload)
    await child.start()
    try:
        assert child.pid is not None and child.pid != os.getpid() and child.running()
        await engine.accept([engine.event_in(registered("ann"))])

        async def ann_is_a_member() -> bool:
            return await store.lists_of("ann") == {"members"}

        await eventually(ann_is_a_member)
        await deploy(engine, checked(WELCOME + "\n" + BUYERS))  # a new scenario: the child reloads
        event = convert_event(paid("bob", "o1"))
        await engine.accept([engine.event_in(event)])

        async def bob_is_a_buyer() -> bool:
            return await store.lists_of("bob") == {"buyers"}

        await eventually(bob_is_a_buyer)
    finally:
        await child.stop()
        await store.close()
    assert not child.running() and child.starts == 1


async def test_an_engine_that_cannot_start_says_so(tmp_path: Path) -> None:
    child = EngineProcess(str(tmp_path / "no-such-folder" / "scn.db"), Settings(), WallClock())
    with pytest.raises(RuntimeError, match="did not start: the engine process exited with code 1 before it was ready"):
        await child.start()
    assert not child.running()


async def test_a_killed_engine_is_restarted_and_nothing_accepted_meanwhile_is_lost(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES, engine_process=True) as s:
        child = s.core.engine_process
        assert child is not None and child.pid is not None
        first = child.pid
        assert (await s.client.get("/healthz")).json()["loops"]["engine"] is True
        os.kill(first, signal.SIGKILL)

        async def reported_down() -> bool:
            answer = await s.client.get("/healthz")
            return answer.status_code == 503 and answer.json()["loops"]["engine"] is False

        await eventually(reported_down)  # the restart waits half a second: long enough to see
        # Not ready for traffic meanwhile, and yet alive: the server restarts the engine itself.
        assert (await s.client.get("/healthz/ready")).status_code == 503
        assert (await s.client.get("/healthz/live")).status_code == 200
        accepted = await s.client.post("/api/events", json=[paid(f"c{i}", f"o{i}") for i in range(3)])
        assert accepted.status_code == 202, "intake does not need the engine"

        async def restarted() -> bool:
            return child.running() and child.pid != first

        await eventually(restarted)
        assert child.starts == 2
        await s.settle()
        runs = (await s.client.get("/api/runs", params={"scenario": "thanks"})).json()["items"]
        assert sorted(r["contact_id"] for r in runs) == ["c0", "c1", "c2"]
        assert (await s.client.get("/healthz")).status_code == 200
        ready = await s.client.get("/healthz/ready")
        assert ready.status_code == 200 and ready.json()["loops"]["engine"] is True, ready.text
        assert (await s.client.get("/healthz/live")).status_code == 200
        last = child.pid
    assert last is not None
    try:
        os.kill(last, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError("the engine process outlived the server")


def test_serve_stops_cleanly_when_its_whole_process_group_is_signalled(tmp_path: Path) -> None:
    """systemd, `timeout` and Ctrl-C signal every process of the group at once: the engine
    must not stop on its own (and be restarted) while the server shuts down."""
    port = free_port()
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "shop.scn").write_text(FILES["shop.scn"], encoding="utf-8")
    (tmp_path / "w" / "thanks.html").write_text(FILES["thanks.html"], encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "scn", "serve", str(tmp_path / "w"), "--db", str(tmp_path / "scn.db"),
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "SCN_SECRET": "t"},
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "the server did not start"
            time.sleep(0.1)
        answer = httpx.post(f"http://127.0.0.1:{port}/api/events", json=paid("ann", "o1"), timeout=10)
        assert answer.status_code == 202
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    text = output.decode()
    assert process.returncode == 0, text
    assert "the engine runs in process" in text and "starting a new one" not in text, text


HOLDER = textwrap.dedent(
    """
    import sys
    from scn.interpreter.store._lock import WriterLock
    lock = WriterLock(sys.argv[1])
    lock.acquire()
    print("held", flush=True)
    sys.stdin.readline()
    lock.release()
    print("released", flush=True)
    """
)


async def test_writes_wait_for_another_process_that_holds_the_writer_lock(tmp_path: Path) -> None:
    db = tmp_path / "scn.db"
    store = SqliteStore(str(db))
    await store.open()
    try:
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline() == "held\n"
        engine = Engine(store, WallClock(), Settings())
        writing = asyncio.ensure_future(store.append_events([engine.event_in(registered("ann"))], 1))
        await asyncio.sleep(0.3)
        assert not writing.done(), "the write went ahead while another process held the lock"
        holder.stdin.write("go\n")
        holder.stdin.flush()
        ((event_id, duplicate),) = await asyncio.wait_for(writing, 10)
        assert holder.stdout.readline() == "released\n" and holder.wait(10) == 0
        assert duplicate is False
        assert await store._rows("SELECT key FROM events WHERE id = ?", (event_id,)) == [("reg-ann",)]
    finally:
        await store.close()


async def test_a_stuck_engine_process_is_reported_down_and_up_again_when_it_goes_on(tmp_path: Path) -> None:
    """A loop that is alive but makes no progress used to pass /healthz: the child's
    heartbeats stop while it is stopped (SIGSTOP), and /healthz says so."""
    async with serving(tmp_path, FILES, engine_process=True) as s:
        child = s.core.engine_process
        assert child is not None and child.pid is not None
        child.stall_after = 2.0
        assert (await s.client.get("/healthz")).status_code == 200
        os.kill(child.pid, signal.SIGSTOP)
        try:

            async def reported_stuck() -> bool:
                answer = await s.client.get("/healthz")
                body = answer.json()
                return answer.status_code == 503 and body["loops"]["engine"] is False and body["engine_stalled_s"] >= 2

            await eventually(reported_stuck)
            # Stuck is a reason to restart the server (dead would not be: it restarts the engine).
            live = await s.client.get("/healthz/live")
            assert live.status_code == 503 and live.json()["engine_stalled_s"] >= 2, live.text
        finally:
            os.kill(child.pid, signal.SIGCONT)

        async def well_again() -> bool:
            return (await s.client.get("/healthz")).status_code == 200

        await eventually(well_again)
        assert child.starts == 1, "stuck is not dead: the same child goes on"


async def test_an_engine_busy_without_progress_is_reported_down(tmp_path: Path) -> None:
    """The same in one process: a step that neither finishes nor handles anything."""
    async with serving(tmp_path, FILES) as s:
        s.core.stall_after = 0.5
        release = asyncio.Event()

        async def stuck() -> bool:
            await release.wait()
            return False

        s.core.engine.step = stuck  # type: ignore[method-assign]
        s.core.engine.nudge()

        async def reported_stuck() -> bool:
            answer = await s.client.get("/healthz")
            return answer.status_code == 503 and answer.json()["loops"]["engine"] is False

        await eventually(reported_stuck)
        release.set()
