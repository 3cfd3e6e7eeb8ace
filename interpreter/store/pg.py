"""The PostgreSQL store: the SQLite store's behaviour on a shared PostgreSQL database, for
several API and engine processes on several machines (docs/postgresql.md).

It is the SQLite store with other connections: the same methods and the same SQL, said
PostgreSQL's way by `pg_dialect` (`_pg` runs it, and the write functions written for
sqlite3 run on a worker thread against the loop's asyncpg connection). What differs:

* connections: one writer, on which every write transaction of this process runs in turn
  (as in SQLite: the runtime's tasks never interleave their writes), and a few readers;
* transactions: PostgreSQL's own locks order writers of other processes; a transaction
  that loses a deadlock or a serialization conflict is run again (a few times);
* migrations: the one ordered list of schema.MIGRATIONS, PostgreSQL's SQL from
  pg_schema, applied in one transaction under an advisory lock (two processes starting
  at once do not both migrate);
* run ids come from the database: blocks of `pg_schema.RUN_ID_BLOCK` from the runs'
  identity sequence, taken before the block in hand runs low.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from typing import Any, TypeVar

import asyncpg

from . import _pg
from .base import ControlStore, StoreError
from .locations import shown
from .pg_leases import Leases, lease_ms, new_owner
from .pg_schema import RUN_ID_BLOCK, script
from .pg_senders import SenderLocks
from .records import Changes, EventRow, RunRow
from .schema import MIGRATIONS
from .sqlite import _WAITS_FOR_EVENTS, SqliteStore
from .sqlite_changes import RUN_COLUMNS, apply_changes, run_row

T = TypeVar("T")
logger = logging.getLogger("scn.store")

#: Connections for reads outside write transactions.
READERS = 3
#: Times a write transaction is tried when PostgreSQL aborts it for a deadlock or conflict.
ATTEMPTS = 5
#: The advisory lock key migrations hold (any fixed number; "scn" in ASCII).
_MIGRATION_LOCK = 0x73636E
_RETRYABLE = (asyncpg.exceptions.DeadlockDetectedError, asyncpg.exceptions.SerializationError)


def _plain(value: Any) -> Any:
    # sums of integer columns come back as numeric; the store has no numeric columns
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


class PgStore(SqliteStore):
    """A store in a PostgreSQL database, named by its URL (postgresql://user@host/db)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url
        self._writer: _pg.PgConnection | None = None
        self._readers: _pg.Readers | None = None
        self._run_ids: list[range] = []
        self._taking_ids: asyncio.Task[None] | None = None
        #: The contacts this store's engine works on now (pg_leases.py).
        self.leases = Leases(new_owner(), lease_ms(os.environ))
        self._renewing: asyncio.Task[None] | None = None
        #: The contacts of the last claim made in this task (the engine's loop), until a
        #: commit of their work succeeds (a batch, or the runs or events of a failed batch
        #: one by one). A context variable, so that a request that commits something else
        #: (a product feed) in the same process is not taken for the engine's work.
        self._held: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(f"held-{id(self)}", default=())
        #: This process's senders, alive while their advisory locks are held (pg_senders.py).
        self._sender_locks = SenderLocks()

    async def open(self) -> None:
        try:
            self._writer = await _pg.connect(self.url)
            self._readers = _pg.Readers([await _pg.connect(self.url) for _ in range(READERS)])
        except (OSError, asyncpg.PostgresError) as error:
            await self.close()
            raise StoreError(f"cannot connect to {shown(self.url)}: {error}") from error
        self._db, self._reader = self._writer, self._readers
        await self._migrate()
        await self._take_run_ids()

    async def close(self) -> None:
        self.stop_renewing()
        if self._writer is not None:
            try:  # the next engine need not wait for this one's leases to expire
                await self._write(lambda: self.leases.release(self._fetch))
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:  # a connection already gone
                logger.warning("the contacts' leases were not given back: %s", error)
        if self._taking_ids is not None:
            await asyncio.gather(self._taking_ids, return_exceptions=True)
            self._taking_ids = None
        for connection in (self._writer, self._readers):
            if connection is not None:
                await connection.close()
        self._writer = self._readers = None
        self._db = self._reader = None
        self._sender_locks.own.clear()  # their locks went with the writer connection
        self.leases.locked = False

    async def optimize(self) -> None:
        """PostgreSQL's autovacuum keeps the planner's statistics: nothing to do here."""

    async def _migrate(self) -> None:
        async def work() -> None:
            writer = self._writer
            assert writer is not None
            await writer.raw.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            await writer.raw.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            version = await writer.raw.fetchval("SELECT version FROM schema_version")
            if version is None:
                await writer.raw.execute("INSERT INTO schema_version (version) VALUES (0)")
            current = int(version or 0)
            if current > len(MIGRATIONS):
                raise StoreError(
                    f"{shown(self.url)} has schema version {current}, but this scn knows only {len(MIGRATIONS)}: "
                    "it was written by a newer scn; upgrade scn to open it"
                )
            for number in range(current + 1, len(MIGRATIONS) + 1):
                await writer.raw.execute(script(number))
            if current < len(MIGRATIONS):
                await writer.raw.execute("UPDATE schema_version SET version = $1", len(MIGRATIONS))

        await self._write(work)

    async def _write(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction on the writer (again, should PostgreSQL abort it
        for a deadlock with another process's transaction)."""
        async with self._write_lock:
            writer = self._writer
            if writer is None:
                raise RuntimeError("the store is not open")
            token = self._writing.set(True)
            try:
                for attempt in range(1, ATTEMPTS + 1):
                    transaction = writer.raw.transaction()
                    await transaction.start()
                    try:
                        result = await work()
                    except _RETRYABLE as error:
                        await transaction.rollback()
                        if attempt == ATTEMPTS:
                            raise
                        logger.info("write transaction tried again (%s)", error)
                        await asyncio.sleep(0.01 * attempt)
                        continue
                    except BaseException:
                        await transaction.rollback()
                        raise
                    await transaction.commit()
                    return result
                raise AssertionError("unreachable")
            finally:
                self._writing.reset(token)

    async def _write_now(self, work: Callable[[Any], T]) -> T:
        async def run() -> T:
            writer = self._writer
            assert writer is not None
            return await writer.call(work)

        return await self._write(run)

    async def _result(self, sql: str, params: Iterable[Any]) -> _pg.Result:
        values = tuple(params)
        connection = self.db
        if isinstance(connection, _pg.PgConnection):
            return await connection.run(sql, values)
        if isinstance(connection, _pg.Readers):
            return await connection.using(lambda c: c.run(sql, values))
        raise RuntimeError("the store is not open")

    async def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(_plain(v) for v in row) for row in (await self._result(sql, params)).rows]

    async def _dicts(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        result = await self._result(sql, params)
        return [{n: _plain(v) for n, v in zip(result.names, row, strict=True)} for row in result.rows]

    # ------------------------------------------------------------ run ids from the database

    def allocate_run_id(self) -> int:
        """The next id of the blocks this process took from the database; another block
        is asked for in the background once the ones in hand run low."""
        while self._run_ids and not self._run_ids[0]:
            self._run_ids.pop(0)
        if not self._run_ids:
            raise StoreError("run ids ran out before more could be taken from the database")
        block = self._run_ids[0]
        self._run_ids[0] = block[1:]
        if sum(len(b) for b in self._run_ids) < RUN_ID_BLOCK // 2 and self._taking_ids is None:
            self._taking_ids = asyncio.ensure_future(self._take_run_ids())
        return block[0]

    async def _take_run_ids(self) -> None:
        try:
            start = await self._scalar("SELECT nextval(pg_get_serial_sequence('runs', 'id'))")
            self._run_ids.append(range(int(start), int(start) + RUN_ID_BLOCK))
        finally:
            self._taking_ids = None

    async def _ids_in_hand(self) -> None:
        """Before a batch: a block in hand (the batch allocates ids without waiting)."""
        if self._taking_ids is not None:
            await asyncio.shield(self._taking_ids)
        if sum(len(b) for b in self._run_ids) < RUN_ID_BLOCK // 2:
            await self._take_run_ids()

    # ------------------------------------------------------------ several engines (pg_leases.py)

    async def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """A statement in PostgreSQL's own words on the writer (in its transaction)."""
        writer = self._writer
        if writer is None:
            raise RuntimeError("the store is not open")
        return [tuple(r) for r in await writer.raw.fetch(sql, *params)]

    async def _claimed(self, candidates: str, params: tuple[Any, ...], work: Callable[[list[str]], Awaitable[T]]) -> T:
        """In one transaction: the contacts ``candidates`` selects, leased to this store's
        engine, then ``work`` for those won. ``candidates`` says `{free}` where its rows
        (aliased `c`) must leave out contacts another engine holds, before its LIMIT."""
        self._renew_while_open()
        free = (
            "NOT EXISTS (SELECT 1 FROM contact_leases l WHERE l.contact_id = c.contact_id AND l.owner != ? "
            "AND l.until >= (extract(epoch from clock_timestamp()) * 1000)::bigint)"
        )

        async def claim() -> T:
            await self.leases.lock(self._fetch)
            found = await self._rows(candidates.format(free=free), (*params[:-1], self.leases.owner, params[-1]))
            won = await self.leases.claim(self._fetch, list(dict.fromkeys(r[0] for r in found)))
            held = sorted(won)
            self._held.set(tuple(held))
            return await work(held)

        return await self._write(claim)

    async def unprocessed_events(self, limit: int) -> list[EventRow]:
        """The oldest unprocessed events of the contacts this engine won, oldest first."""
        await self._ids_in_hand()

        async def read(won: list[str]) -> list[EventRow]:
            rows = await self._rows(
                "SELECT id, key, type, contact_id, occurred_at, received_at, payload FROM events "
                "WHERE processed_at IS NULL AND contact_id = ANY(?) ORDER BY id LIMIT ?",
                (won, limit),
            )
            return [EventRow(*r) for r in rows]

        return await self._claimed(
            "SELECT contact_id FROM events c WHERE processed_at IS NULL AND {free} ORDER BY id LIMIT ?", (limit,), read
        )

    async def due_runs(self, now: int, limit: int) -> list[RunRow]:
        """Due runs of the contacts this engine won (a run still waits for its contact's
        earlier events, as on SQLite)."""
        await self._ids_in_hand()

        async def read(won: list[str]) -> list[RunRow]:
            rows = await self._rows(
                f"SELECT {RUN_COLUMNS} FROM runs r WHERE wake_at IS NOT NULL AND wake_at <= ? AND contact_id = ANY(?) "
                f"{_WAITS_FOR_EVENTS}ORDER BY wake_at, id LIMIT ?",
                (now, won, limit),
            )
            return [run_row(r) for r in rows]

        return await self._claimed(
            "SELECT contact_id FROM runs c WHERE wake_at IS NOT NULL AND wake_at <= ? AND {free} "
            "ORDER BY wake_at, id LIMIT ?",
            (now, limit),
            read,
        )

    async def due_segment_checks(self, now: int, limit: int) -> list[str]:
        async def read(won: list[str]) -> list[str]:
            rows = await self._rows(
                "SELECT contact_id FROM segment_checks WHERE due_at IS NOT NULL AND due_at <= ? "
                "AND contact_id = ANY(?) ORDER BY due_at LIMIT ?",
                (now, won, limit),
            )
            return [r[0] for r in rows]

        return await self._claimed(
            "SELECT contact_id FROM segment_checks c WHERE due_at IS NOT NULL AND due_at <= ? AND {free} "
            "ORDER BY due_at LIMIT ?",
            (now, limit),
            read,
        )

    async def commit(self, changes: Changes) -> None:
        """Apply a batch of changes in one transaction, if the contacts of the claim it
        comes from are still this engine's (WorkTakenOver, and nothing applied, if not: an
        engine held up past its leases must not do again what another did meanwhile)."""
        if changes.empty():
            return
        held = self._held.get()

        async def run() -> None:
            writer = self._writer
            assert writer is not None
            if held:
                await self.leases.keep(self._fetch, held)
            await writer.call(lambda db: apply_changes(db, changes))

        await self._write(run)
        self._held.set(())  # the claim's work is done: what this task commits next is not

    async def reclaim_outbox(self, now: int, owner: str) -> tuple[int, bool]:
        taken, others = await self._write(lambda: self._sender_locks.reclaim(self._fetch, now, owner))
        if taken:
            logger.info("took back %d messages claimed by senders that are gone", taken)
        return taken, others

    def _renew_while_open(self) -> None:
        if self._renewing is None:
            self._renewing = asyncio.ensure_future(self._renew())

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.leases.renew_every_s)
            try:
                await self._write(lambda: self.leases.renew(self._fetch))
            except (OSError, asyncpg.PostgresError) as error:  # the next claim takes them again, if still free
                logger.warning("the contacts' leases were not renewed: %s", error)

    def stop_renewing(self) -> None:
        """Stop renewing this engine's leases (when it stops; tests of an engine's death)."""
        if self._renewing is not None:
            self._renewing.cancel()
            self._renewing = None


def _satisfies_protocol(store: PgStore) -> ControlStore:
    return store  # mypy checks here that PgStore implements the whole interface
