"""Nudges between the processes on one PostgreSQL database, by LISTEN/NOTIFY.

A process that commits work another process does tells the others at once: an API that
accepted events (the engines look), an engine that put messages in the outbox (the
senders look), a process that installed, paused or resumed scenarios or changed a
broadcast (every process reloads them). Each kind is one NOTIFY on the channel `scn`,
its payload the kind and who sent it; a process ignores its own.

A notice is a hint, never the record: the work is in the database before it is sent,
and every process also looks on its own every `Settings.poll_ms`. So a notice that is
lost (the connection dropped, the database restarted, a NOTIFY sent while this process
was reconnecting) costs a poll interval, not the work. The notices go over one dedicated
connection (`application_name` scn-notify): asyncpg's `add_listener` needs one that is
not used for anything else meanwhile. When it is lost it is made again, after a pause
that grows while it keeps failing; the process goes on meanwhile, and every handler runs
once after a reconnection (what came while it was away is looked for).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Any

from .locations import is_postgresql
from .sqlite import SqliteStore

logger = logging.getLogger("scn.store")

#: The one channel every process of a database listens on.
CHANNEL = "scn"
#: The kinds of notice: events were accepted, messages are in the outbox, scenarios or
#: broadcasts changed.
EVENTS, OUTBOX, INSTALLED = "events", "outbox", "installed"
KINDS = (EVENTS, OUTBOX, INSTALLED)
#: The listening connection's name in `pg_stat_activity`.
APPLICATION = "scn-notify"
#: Pauses before connecting again, growing while connecting keeps failing (seconds).
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
#: How often an idle listening connection is checked (a machine that vanished sends no
#: reset: only a statement that gets no answer shows the connection is gone).
CHECK_EVERY_S = 10.0


class Notices:
    """LISTEN/NOTIFY for one process: `on(kind, handler)` to hear, `tell(kind)` to say.

    ``tell`` is cheap and never waits: the kinds told in one turn of the event loop go
    out together, one NOTIFY each, over the listening connection (once it is connected,
    when it is not; the others' polls find the work meanwhile)."""

    def __init__(self, url: str) -> None:
        self.url = url
        #: This process's name in the payloads (its own notices come back to it).
        self.me = secrets.token_hex(6)
        self._handlers: dict[str, list[Callable[[], None]]] = {kind: [] for kind in KINDS}
        self._told: set[str] = set()
        self._connection: Any = None
        self._running: asyncio.Task[None] | None = None
        self._sending: asyncio.Task[None] | None = None
        #: Set while the channel is listened to (tests wait for it).
        self.listening = asyncio.Event()
        #: How many times a listening connection was made (1 after the first).
        self.connections = 0

    def on(self, kind: str, handler: Callable[[], None]) -> None:
        self._handlers[kind].append(handler)

    def start(self) -> None:
        """Listen from now on, in the background, until `close`."""
        if self._running is None:
            self._running = asyncio.create_task(self._listen_forever())

    def tell(self, kind: str) -> None:
        """Tell the other processes that work of this ``kind`` was committed."""
        self._told.add(kind)
        if self._sending is None or self._sending.done():
            self._sending = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        await asyncio.sleep(0)  # what the rest of this turn tells goes out too
        while self._told:
            connection = self._connection
            if connection is None or connection.is_closed():
                return  # told once connected again
            told, self._told = self._told, set()
            try:
                for kind in sorted(told):
                    await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, f"{kind} {self.me}")
            except Exception as error:  # the connection is going: it is made again
                logger.info("a notice to the other processes was not sent (%s); their polls find the work", error)

    def _heard(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        kind, _, sender = payload.partition(" ")
        if sender != self.me:
            self._call(self._handlers.get(kind, ()))

    def _call(self, handlers: Any) -> None:
        for handler in handlers:
            try:
                handler()
            except Exception:  # a handler's bug must not stop the notices
                logger.exception("a handler of a notice failed")

    async def _listen_forever(self) -> None:
        failures = 0
        while True:
            try:
                import asyncpg  # here: a process on SQLite imports this module and never listens

                connection = await asyncpg.connect(self.url, server_settings={"application_name": APPLICATION})
            except Exception as error:  # the database is away: the process goes on, and polls
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                failures += 1
                logger.warning("cannot listen for the other processes' notices (%s); trying again in %.1f s",
                               error, delay)  # fmt: skip
                await asyncio.sleep(delay)
                continue
            failures = 0
            try:
                await self._listen_on(connection)
            except Exception as error:
                logger.warning("the connection for the other processes' notices failed (%s)", error)
            finally:
                self.listening.clear()
                self._connection = None
                connection.terminate()
            logger.warning("the connection for the other processes' notices was lost; connecting again")
            await asyncio.sleep(RECONNECT_DELAYS[0])

    async def _listen_on(self, connection: Any) -> None:
        """Listen on ``connection`` until it is lost."""
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _c: lost.set())
        await connection.add_listener(CHANNEL, self._heard)
        self._connection = connection
        self.connections += 1
        self.listening.set()
        if self._told:  # what this process told while it was not connected
            self.tell(next(iter(self._told)))
        if self.connections > 1:  # what the others told while this process was away
            self._call([h for kind in KINDS for h in self._handlers[kind]])
        while not lost.is_set():
            try:
                await asyncio.wait_for(lost.wait(), CHECK_EVERY_S)
            except TimeoutError:
                await connection.execute("SELECT 1", timeout=CHECK_EVERY_S)

    async def close(self) -> None:
        """Stop listening (what was told and not yet sent is dropped: the others' polls find it)."""
        for task in (self._running, self._sending):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._running = self._sending = None


def notices_for(store: object) -> Notices | None:
    """The notices of a process using ``store``: on PostgreSQL only (on SQLite `scn serve`'s
    processes tell each other over a pipe, and anything else is found by polling)."""
    if isinstance(store, SqliteStore) and is_postgresql(store.path):  # a PgStore, whose path is its URL
        return Notices(store.path)
    return None
