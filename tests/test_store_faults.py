"""A store that cannot be used for a while: the SQLite file locked by another process for
longer than the server waits, the disk full. Nothing is a 500, nothing is lost, and the
sender goes on once the store is back (it stopped for good, leaving mail unsent until a
restart).

The waits are shortened on the connection under test (`busy_timeout`), and the disk is
"full" by SQLite's `max_page_count` on that connection: the real file, the real error."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from scn.interpreter.store import SENT
from scn.stdlib.delivery import Sender
from scn.stdlib.delivery.email import MailDefaults, SmtpChannel, SmtpConfig

from .backends import rows
from .console_client import ConsoleUser
from .harness import Harness
from .server_harness import free_port, serving
from .smtp_server import SmtpServer
from .test_email import POLICY, RESOURCES, WORKSPACE, outbox_rows, registered
from .test_serve_process import workspace_files
from .test_server import FILES, is_problem, paid

#: Holds the database's write lock (another process: a backup, a `sqlite3` session) until
#: its standard input closes.
HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
db.execute("ROLLBACK")
"""


@contextmanager
def locked(path: Path) -> Iterator[subprocess.Popen[str]]:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    try:
        yield holder
    finally:
        release(holder)


def release(holder: subprocess.Popen[str]) -> None:
    if holder.poll() is None:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)


def _writer(store: Any) -> aiosqlite.Connection:
    """The writing connection of a store on an SQLite file (the API process's, in `serving`)."""
    connection = store._db
    assert isinstance(connection, aiosqlite.Connection)
    return connection


async def _wait_for(condition: Any, what: str, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        assert loop.time() < deadline, what
        await asyncio.sleep(0.02)


async def test_a_full_disk_answers_503_with_retry_after_and_accepts_nothing(tmp_path: Path) -> None:
    """An event the store cannot write was a 500 "internal error" with a traceback in the
    log; it is a 503 the producer retries, and the same request goes once there is room."""
    async with serving(tmp_path, FILES, engine_process=True) as s:
        writer = _writer(s.core.store)  # the API process's (the engine, a child process, has its own)
        async with writer.execute("PRAGMA page_count") as cursor:
            row = await cursor.fetchone()
        assert row is not None
        await writer.execute(f"PRAGMA max_page_count = {row[0]}")
        events = [paid(f"c{i}", f"o{i}") for i in range(200)]
        problem = is_problem(await s.client.post("/api/events", json=events), 503)
        assert problem["type"] == "/problems/store-unavailable", problem
        assert problem["detail"].startswith("the disk (or the database's size limit) is full: nothing of this")
        assert (await s.client.post("/api/events", json=events)).headers["Retry-After"] == "5"
        assert await s.count("SELECT count(*) FROM events") == 0
        await writer.execute("PRAGMA max_page_count = 1073741823")
        assert (await s.client.post("/api/events", json=events)).status_code == 202
        assert await s.count("SELECT count(*) FROM events") == 200


async def test_the_sender_waits_for_a_locked_store_and_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process holds the database's lock past the busy timeout: the sender's loop
    stopped for good on "database is locked" (/healthz failing, no mail until a restart).
    It waits and goes on; each mail goes once (nothing was claimed while it was locked)."""
    path = tmp_path / "scn.db"
    with SmtpServer() as server:
        async with Harness(WORKSPACE, path=path, resources=RESOURCES) as h:
            await h.play([registered(h, f"c{i}") for i in range(3)])
            await _writer(h.store).execute("PRAGMA busy_timeout = 100")  # 10 s in production
            channel = SmtpChannel(SmtpConfig.from_url(server.url), MailDefaults())
            sender = Sender(h.store, h.clock, {"email": channel}, policy=POLICY)
            stop = asyncio.Event()
            with caplog.at_level(logging.WARNING, "scn.delivery"), locked(path) as holder:
                loop = asyncio.create_task(sender.run_forever(stop))

                async def told() -> bool:
                    assert not loop.done(), loop.exception()
                    return any("the database is locked by another process" in r.getMessage() for r in caplog.records)

                await _wait_for(told, "the sender did not say the store is locked")
                release(holder)

                async def all_sent() -> bool:
                    assert not loop.done(), loop.exception()
                    return {row[1] for row in await outbox_rows(h)} == {SENT}

                await _wait_for(all_sent, "the mail did not go once the lock was released")
            stop.set()
            await loop
            await channel.close()
    assert sorted(rcpts[0] for rcpts, _ in server.handler.received) == [f"c{i}@example.com" for i in range(3)]


def _no_database(tmp_path: Path, kind: str) -> Path:
    if kind == "a directory":
        (tmp_path / "db").mkdir()
        return tmp_path / "db"
    (tmp_path / "notes.db").write_text("these are my notes, not a database\n" * 50, encoding="utf-8")
    return tmp_path / "notes.db"


@pytest.mark.parametrize("command", ["worker", "serve"])
@pytest.mark.parametrize(("kind", "said"), [("a directory", "the database file cannot be opened"),
                                            ("a text file", "the file is not an SQLite database")])  # fmt: skip
def test_a_store_that_is_no_database_is_named_and_the_process_exits(
    tmp_path: Path, command: str, kind: str, said: str
) -> None:
    """`--db` naming a directory or a text file: "internal error: DatabaseError: file is not
    a database ... this is a bug in scn" and then the process hung for ever (`scn worker`),
    or a traceback of a failed application startup (`scn serve`)."""
    db = _no_database(tmp_path, kind)
    (tmp_path / "shop.scn").write_text('list buyers "Buyers"\n', encoding="utf-8")
    extra = ["--port", str(free_port())] if command == "serve" else []
    done = subprocess.run([sys.executable, "-m", "scn", command, str(tmp_path / "shop.scn"), "--db", str(db), *extra],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={**os.environ, "SCN_SECRET": "s"})  # fmt: skip
    assert done.returncode != 0
    assert f"scn {command}: cannot use the store {db}: {said}" in done.stderr, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_one_engine_per_sqlite_file_and_apis_beside_it(tmp_path: Path) -> None:
    """`scn serve` started twice on one file ran two engines, which took the same run ids:
    the events whose runs clashed were set aside as failed ("IntegrityError: UNIQUE
    constraint failed: runs.id"), lost. A second engine is refused naming the first; an
    API without an engine beside it is welcome, and its events are processed once; after
    a kill -9 of the engine, a new one starts at once."""
    from .scn_processes import Api, environment, paid, receipts_workspace, worker

    workspace = receipts_workspace(tmp_path / "shop")
    db = str(tmp_path / "scn.db")
    env = environment()
    first = worker("first", workspace, db, tmp_path / "first.log", env)
    api: Api | None = None
    try:
        for command in (["serve", "--port", str(free_port())], ["worker"]):
            refused = subprocess.run([sys.executable, "-m", "scn", command[0], str(workspace), "--db", db,
                                      *command[1:]], capture_output=True, text=True, timeout=60, env=env,
                                     stdin=subprocess.DEVNULL)  # fmt: skip
            assert refused.returncode != 0, refused.stderr
            assert f"another scn engine (process {first.pid}) works on {db}" in refused.stderr, refused.stderr
        api = Api("api", db, tmp_path / "api.log", env)
        for i in range(20):
            assert api.client.post("/api/events", json=paid(i)).status_code == 202
        first.kill()
        second = worker("second", workspace, db, tmp_path / "second.log", env)  # the kernel freed the lock
        try:
            deadline = time.monotonic() + 60  # a loaded machine: a start takes seconds
            while rows(db, "SELECT count(*) FROM events WHERE processed_at IS NULL") != [(0,)]:
                assert time.monotonic() < deadline, "the events were not processed"
                time.sleep(0.05)
        finally:
            second.stop()
    finally:
        if first.alive():
            first.stop()
        if api is not None:
            api.stop()
    assert rows(db, "SELECT count(*) FROM events WHERE error IS NOT NULL") == [(0,)]
    assert rows(db, "SELECT count(*), count(DISTINCT trigger_event) FROM runs") == [(20, 20)]


async def test_a_console_form_while_the_store_is_locked_says_so_and_changes_nothing(tmp_path: Path) -> None:
    """A console form the store could not take was "Something went wrong: the server failed
    on this page", with a traceback in the log: it says what holds it up, and goes once free."""
    async with serving(tmp_path, workspace_files()) as s, ConsoleUser(s) as user:
        await user.sign_in()
        page = "/scenarios/unpaid_recovery"
        await _writer(s.core.store).execute("PRAGMA busy_timeout = 100")  # 10 s in production
        with locked(tmp_path / "scn.db"):
            refused = await user.submit(page, f"{page}/pause")
        assert refused.status_code == 503, refused.text
        assert "the database is locked by another process" in refused.text and "failed" not in refused.text
        assert (await s.client.get(f"/api{page}")).json()["state"] == "active"
        done = await user.submit(page, f"{page}/pause")
        assert done.status_code == 303 and (await s.client.get(f"/api{page}")).json()["state"] == "paused"


ENGINE_WORKSPACE = (
    'template hi sms\n  text "Hi"\nend\n\nscenario hi "Hi"\n  on contact.registered\n  send sms hi\nend\n'
)


async def test_the_engine_waits_for_a_locked_store_and_sets_nothing_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the database's lock past the busy timeout while the engine has
    events to process: a batch that broke on "database is locked" was redone event by
    event and each event set aside as failed ("OperationalError: database is locked"),
    although none was at fault. The engine waits for the store and processes them all."""
    from scn.interpreter.runtime import engine as engine_module

    monkeypatch.setattr(engine_module, "STORE_RETRY_S", 0.05)
    path = tmp_path / "scn.db"
    async with Harness(ENGINE_WORKSPACE, path=path) as h:
        person = {"phone": "+48500100200"}
        await h.engine.accept([h.engine.event_in(h.event("contact.registered", f"c{i}", person=person))
                               for i in range(5)])  # fmt: skip
        await _writer(h.store).execute("PRAGMA busy_timeout = 100")  # 10 s in production
        stop = asyncio.Event()
        with caplog.at_level(logging.WARNING, "scn.runtime"), locked(path) as holder:
            loop = asyncio.create_task(h.engine.run_forever(stop))

            async def told() -> bool:
                assert not loop.done(), loop.exception()
                return any("the store cannot be used for now" in r.getMessage() for r in caplog.records)

            await _wait_for(told, "the engine did not say the store is locked")
            release(holder)

            async def processed() -> bool:
                assert not loop.done(), loop.exception()
                return await h.rows("SELECT count(*) FROM events WHERE processed_at IS NULL") == [(0,)]

            await _wait_for(processed, "the events were not processed once the lock was released")
        stop.set()
        await loop
        assert await h.rows("SELECT count(*) FROM events WHERE error IS NOT NULL") == [(0,)]
        assert await h.rows("SELECT count(*) FROM runs WHERE status = 'done'") == [(5,)]
