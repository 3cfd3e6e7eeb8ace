"""Nudges between the processes of one PostgreSQL database (interpreter/store/pg_notify.py,
interpreter/runtime/nudges.py): an event accepted by an API process is processed by an
engine in another process at once, and its mail sent by the API's sender at once, though
both poll only once a minute; a lost listening connection is made again; with the
notices broken, polling still finds the work."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

from scn.interpreter.clock import WallClock
from scn.interpreter.runtime import Engine, Settings
from scn.interpreter.runtime.nudges import in_background, poll, share
from scn.interpreter.store import PgStore
from scn.interpreter.store.pg_notify import APPLICATION, EVENTS, INSTALLED, OUTBOX, Notices
from scn.server.core import Core
from scn.server.options import serve_arguments

from .harness import Harness
from .pg_cluster import Cluster
from .scn_processes import Api, environment, paid, receipts_workspace, worker
from .server_harness import free_port
from .smtp_server import SmtpServer

#: Long enough that only a nudge explains work done within seconds.
MINUTE_POLL = "60000"
#: Well under the poll interval: a receipt's two-second wait, the processes' work, a busy machine.
PROMPTLY_S = 12.0


def processed(url: str, key: str) -> bool:
    async def look() -> bool:
        connection = await asyncpg.connect(url)
        try:
            found = await connection.fetchval("SELECT processed_at FROM events WHERE key = $1", key)
        finally:
            await connection.close()
        return found is not None

    return asyncio.run(look())


def _on_cluster(url: str, sql: str) -> list[tuple[Any, ...]]:
    """``sql`` about the database of ``url`` ($1 its name, $2 the listeners' name), run
    from the cluster's own database (the test's may refuse connections)."""
    base, name = url.rsplit("/", 1)

    async def run() -> list[tuple[Any, ...]]:
        connection = await asyncpg.connect(f"{base}/postgres")
        try:
            return [tuple(r) for r in await connection.fetch(sql, name, APPLICATION)]
        finally:
            await connection.close()

    return asyncio.run(run())


def listeners(url: str) -> int:
    """The database's listening connections."""
    found = _on_cluster(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2")
    return int(found[0][0])


def drop_listeners(url: str) -> int:
    """pg_terminate_backend on every listening connection of the database: what a network
    cut or a restarted database does to them."""
    return len(_on_cluster(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = $1 AND application_name = $2"))  # fmt: skip


def test_an_event_posted_to_an_api_process_is_processed_and_mailed_by_other_processes_at_once(
    pg_cluster: Cluster, tmp_path: Path
) -> None:
    url = pg_cluster.database()
    env = environment(SCN_POLL_MS=MINUTE_POLL)
    with SmtpServer() as smtp:
        engine = worker("worker", receipts_workspace(tmp_path / "shop"), url, tmp_path / "worker.log", env)
        api = Api("api", url, tmp_path / "api.log", env, smtp=smtp.url)
        try:
            deadline = time.monotonic() + 30
            while listeners(url) < 2:  # both processes listen (engine and API)
                assert time.monotonic() < deadline, "the processes did not listen"
                time.sleep(0.05)
            for round_, i in enumerate((1, 2)):
                if round_:
                    # The listening connections are cut: both processes connect again and
                    # go on; the nudges work as before.
                    assert drop_listeners(url) == 2
                    deadline = time.monotonic() + 30
                    while listeners(url) < 2:
                        assert time.monotonic() < deadline, "the processes did not listen again"
                        time.sleep(0.05)
                posted = time.monotonic()
                answer = api.client.post("/api/events", json=[paid(i)])
                assert answer.status_code == 202, answer.text
                while not any(m["To"] == f"c{i}@example.com" for _, m in smtp.handler.received):
                    assert time.monotonic() - posted < PROMPTLY_S, (
                        f"no receipt {PROMPTLY_S} s after the event (processed: {processed(url, f'paid-{i}')}):\n"
                        f"{engine.output()[-2000:]}\n{api.output()[-2000:]}"
                    )
                    time.sleep(0.05)
            assert engine.alive() and api.alive()
            assert len(smtp.handler.received) == 2
        finally:
            api.stop()
            engine.stop()


def test_with_listen_broken_the_processes_go_on_and_find_the_work_by_polling(
    pg_cluster: Cluster, tmp_path: Path
) -> None:
    url = pg_cluster.database()
    name = url.rsplit("/", 1)[1]
    env = environment(SCN_POLL_MS="1000")
    with SmtpServer() as smtp:
        engine = worker("worker", receipts_workspace(tmp_path / "shop"), url, tmp_path / "worker.log", env)
        api = Api("api", url, tmp_path / "api.log", env, smtp=smtp.url)
        try:
            deadline = time.monotonic() + 30
            while listeners(url) < 2:
                assert time.monotonic() < deadline, "the processes did not listen"
                time.sleep(0.05)
            # No new connection to the database from now on: the listening connections,
            # cut, cannot be made again (the stores' connections stay).
            pg_cluster.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false")
            try:
                assert drop_listeners(url) == 2
                answer = api.client.post("/api/events", json=[paid(1)])
                assert answer.status_code == 202, answer.text
                deadline = time.monotonic() + PROMPTLY_S
                while not smtp.handler.received:
                    assert time.monotonic() < deadline, f"no receipt by polling:\n{engine.output()[-2000:]}"
                    time.sleep(0.05)
                assert listeners(url) == 0, "nothing listened meanwhile: the polls found the work"
                assert engine.alive() and api.alive()
                assert "cannot listen for the other processes' notices" in engine.output()
            finally:
                pg_cluster.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true")
            deadline = time.monotonic() + 30
            while listeners(url) < 2:  # and once the database lets them, they listen again
                assert time.monotonic() < deadline, "the processes did not listen again"
                time.sleep(0.05)
        finally:
            api.stop()
            engine.stop()


async def test_notices_reach_the_other_processes_not_the_teller(pg_cluster: Cluster) -> None:
    url = pg_cluster.database()
    one, other = Notices(url), Notices(url)
    heard: list[str] = []
    for name, notices in (("one", one), ("other", other)):
        for kind in (EVENTS, OUTBOX, INSTALLED):
            notices.on(kind, lambda name=name, kind=kind: heard.append(f"{name} {kind}"))  # type: ignore[misc]
        notices.start()
    try:
        await asyncio.wait_for(asyncio.gather(one.listening.wait(), other.listening.wait()), 10)
        one.tell(EVENTS)
        one.tell(EVENTS)  # in one turn of the loop: one notice
        one.tell(INSTALLED)
        await _until(lambda: len(heard) >= 2)
        await asyncio.sleep(0.2)
        assert sorted(heard) == ["other events", "other installed"]
    finally:
        await one.close()
        await other.close()


async def test_what_is_told_before_the_connection_is_up_goes_out_once_it_is(pg_cluster: Cluster) -> None:
    url = pg_cluster.database()
    teller, hearer = Notices(url), Notices(url)
    heard: list[str] = []
    hearer.on(OUTBOX, lambda: heard.append("outbox"))
    hearer.start()
    try:
        await asyncio.wait_for(hearer.listening.wait(), 10)
        teller.tell(OUTBOX)  # not listening yet: kept until it is
        teller.start()
        await _until(lambda: heard == ["outbox"])
    finally:
        await teller.close()
        await hearer.close()


async def test_a_lost_listening_connection_is_made_again_and_its_handlers_look_once(pg_cluster: Cluster) -> None:
    url = pg_cluster.database()
    notices = Notices(url)
    looked: list[str] = []
    notices.on(EVENTS, lambda: looked.append("events"))
    notices.on(OUTBOX, lambda: looked.append("outbox"))
    notices.start()
    try:
        await asyncio.wait_for(notices.listening.wait(), 10)
        assert await asyncio.to_thread(drop_listeners, url) == 1
        await _until(lambda: notices.connections == 2 and notices.listening.is_set())
        # What was told while it was away is looked for: every handler once.
        assert sorted(looked) == ["events", "outbox"]
    finally:
        await notices.close()


async def test_with_the_notices_broken_an_engine_still_finds_the_work_by_polling(pg_cluster: Cluster) -> None:
    url = pg_cluster.database()
    api = Harness(RECEIPT_NOW, url)
    await api.__aenter__()
    store = PgStore(url)
    await store.open()
    engine = Engine(store, WallClock(), Settings(secret="test", poll_ms=300))
    await engine.load()
    # Nothing listens on this port: the notices never connect (and never stop trying).
    broken = Notices(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    reload = in_background(engine.load)
    share(broken, engine, sender=None, engine_here=True, reload=reload)
    stop = asyncio.Event()
    loops = [asyncio.create_task(engine.run_forever(stop)),
             asyncio.create_task(poll(engine.settings.poll_ms, stop, engine, [engine.nudge], reload))]  # fmt: skip
    try:
        await asyncio.sleep(0.5)  # the engine idles: nothing due, nobody tells it anything
        await api.engine.accept([api.engine.event_in(api.event("order.paid", "ann", key="k1", **ORDER))])
        await _until_processed(api, timeout=5.0)
        assert broken.connections == 0 and not any(loop.done() for loop in loops)
    finally:
        stop.set()
        await asyncio.gather(*loops, return_exceptions=True)
        await broken.close()
        await store.close()
        await api.__aexit__()


async def test_an_upload_to_one_api_process_reaches_the_others_at_once(pg_cluster: Cluster, tmp_path: Path) -> None:
    url = pg_cluster.database()
    settings = Settings(secret="test", poll_ms=60_000)
    one = Core(url, settings, run_engine=False)
    other = Core(url, settings, run_engine=False)
    await one.start()
    await other.start()
    try:
        assert other.notices is not None
        await asyncio.wait_for(other.notices.listening.wait(), 10)
        assert one.notices is not None
        await asyncio.wait_for(one.notices.listening.wait(), 10)
        files = {"shop.scn": RECEIPT_NOW, "receipt.html": "<p>{{ contact.id }}</p>"}
        await one.deploy(files, replace=True)
        await _until(lambda: set(other.engine.scenarios) == {"receipt_now"})
        assert other.files == files
        # An upload that adds a file to the served workspace builds on what the other
        # process installed just before, whether its notice came yet or not.
        await one.deploy({"note.txt": "one"})
        await other.deploy({"extra.html": "<p>x</p>"})
        assert set(other.files) == {"shop.scn", "receipt.html", "note.txt", "extra.html"}
        await _until(lambda: set(one.files) == set(other.files))
    finally:
        await one.stop()
        await other.stop()


def test_an_api_only_replica_is_asked_for_by_flag_or_environment(monkeypatch: Any) -> None:
    def engine(*args: str) -> bool:
        parser = argparse.ArgumentParser()
        serve_arguments(parser)
        return bool(parser.parse_args(list(args)).engine)

    monkeypatch.delenv("SCN_ENGINE", raising=False)
    assert engine() and not engine("--no-engine")
    for off in ("0", "false", "no", "off", "OFF"):
        monkeypatch.setenv("SCN_ENGINE", off)
        assert not engine(), off
    monkeypatch.setenv("SCN_ENGINE", "1")
    assert engine()


def test_the_demo_without_its_engine_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scn", "serve", "--demo", "--no-engine", "--db", str(tmp_path / "scn.db")],
        capture_output=True, text=True, timeout=60, env=environment(),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "--demo needs the engine here: leave out --no-engine" in done.stderr
    assert not (tmp_path / "scn.db").exists(), "nothing was started"


RECEIPT_NOW = """
template receipt email
  from "Shop" <shop@example.com>
  subject "Thanks"
  html "receipt.html"
end

scenario receipt_now "A receipt"
  on order.paid
  send email receipt
end
"""
ORDER: dict[str, Any] = {"order": {"id": "o1", "total": "10.00", "currency": "EUR"}}


async def _until(condition: object, timeout: float = 10.0) -> None:
    assert callable(condition)
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "not in time"
        await asyncio.sleep(0.02)


async def _until_processed(harness: Harness, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (await harness.rows("SELECT count(*) FROM events WHERE processed_at IS NULL"))[0][0]:
        assert asyncio.get_running_loop().time() < deadline, "the event was not processed by the poll"
        await asyncio.sleep(0.05)
