"""The embedded store: one SQLite file in WAL mode, through aiosqlite (in-memory
stores for simulations skip aiosqlite's thread: see `_direct`).

Every write is a `BEGIN IMMEDIATE` transaction (it takes the write lock up front, so
it never fails half-way on a lock); `busy_timeout` lets a second process wait its turn;
foreign keys are on. The runtime is the only writer of runs; it hands the store a
whole batch of changes at a time, written with one `executemany` per table.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any, TypeVar

import aiosqlite

from ._direct import DirectConnection
from ._lock import SenderLocks, WriterLock
from ._sql import ANALYSIS_LIMIT, Connection, in_thread, query, statements, transaction
from .base import ControlStore, StoreError
from .imports import ImportMixin
from .privacy import PrivacyMixin
from .records import (
    LIVE,
    Changes,
    EventIn,
    EventRow,
    RunRow,
    RunStart,
    ScenarioRow,
    decode_json,
)
from .schema import AFTER, MIGRATIONS
from .sqlite_broadcasts import BroadcastsMixin
from .sqlite_changes import (
    JSON_FIELDS,
    RUN_COLUMNS,
    apply_changes,
    insert_batches,
    insert_events,
    payloads_of,
    placeholders,
    run_row,
)
from .sqlite_coupons import CouponsMixin
from .sqlite_dates import DateChecksMixin
from .sqlite_outbox import OutboxMixin
from .sqlite_overview import OverviewMixin
from .sqlite_queries import QueriesMixin
from .sqlite_segments import SegmentChecksMixin
from .sqlite_versions import VersionsMixin
from .suppressions import SuppressionMixin

T = TypeVar("T")


#: A run is not due while an event about its contact, received before its wake-up, waits.
_WAITS_FOR_EVENTS = (
    "AND NOT EXISTS (SELECT 1 FROM events e WHERE e.processed_at IS NULL AND e.contact_id = r.contact_id "
    "AND e.received_at < r.wake_at) "
)


def _optimize(db: sqlite3.Connection) -> None:
    db.execute(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
    db.execute("PRAGMA optimize")


def _item_key(alias: str) -> str:
    """SQL for what identifies the product of an order item (as stdlib.recommend.item_key)."""
    return (
        f"coalesce(json_extract({alias}.value, '$.product_id'), json_extract({alias}.value, '$.sku'), "
        f"json_extract({alias}.value, '$.offer'))"
    )


class SqliteStore(
    OutboxMixin,
    QueriesMixin,
    OverviewMixin,
    SegmentChecksMixin,
    DateChecksMixin,
    SuppressionMixin,
    ImportMixin,
    VersionsMixin,
    CouponsMixin,
    PrivacyMixin,
    BroadcastsMixin,
):
    """A store in one SQLite file (or `:memory:` for simulations and tests)."""

    def __init__(self, path: str, *, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._db: Connection | None = None
        self._reader: Connection | None = None
        # One write transaction at a time: the runtime's tasks (intake, events, due runs)
        # share the writer connection, and their statements must not interleave.
        self._write_lock = asyncio.Lock()
        self._writing: contextvars.ContextVar[bool] = contextvars.ContextVar("writing", default=False)
        # ... and across processes on the same file (`scn serve` writes from two).
        self._process_lock: WriterLock | None = None
        self._senders: SenderLocks | None = None
        self._next_run_id = 1

    # ------------------------------------------------------------ lifecycle

    @property
    def db(self) -> Connection:
        """The writer inside a write transaction; otherwise the reader, which sees only
        committed data (a task never reads another task's transaction half-way)."""
        connection = self._db if self._writing.get() else self._reader
        if connection is None:
            raise RuntimeError("the store is not open")
        return connection

    async def open(self) -> None:
        if self.path != ":memory:":
            self._process_lock = WriterLock(self.path)
            self._senders = SenderLocks(self.path)
        self._db = await self._connect()
        # An in-memory database exists once per connection: there the writer reads too.
        self._reader = self._db if self.path == ":memory:" else await self._connect()
        await self._migrate()
        self._next_run_id = await self._scalar("SELECT coalesce(max(id), 0) + 1 FROM runs")

    async def _connect(self) -> Connection:
        connection: Connection
        if self.path == ":memory:":
            connection = DirectConnection(self.path)  # no disk to wait for: no thread needed
        else:
            connection = await aiosqlite.connect(self.path, isolation_level=None)
        await connection.execute("PRAGMA journal_mode = WAL")
        await connection.execute(f"PRAGMA synchronous = {self.synchronous}")
        await connection.execute("PRAGMA busy_timeout = 10000")
        await connection.execute("PRAGMA foreign_keys = ON")
        return connection

    async def close(self) -> None:
        if self._senders is not None and self._senders.owners and self._reader is not None:
            # Claims left (a sender that did not give them back) keep the owner's file for
            # the next sender to find unlocked and take them back.
            owners = self._senders.owners
            held = await self._rows(
                f"SELECT DISTINCT claimed_by FROM outbox WHERE claimed_by IN ({placeholders(len(owners))})", owners
            )
            self._senders.close(holding={owner for (owner,) in held})
        try:
            await self.optimize()
        except sqlite3.Error as error:  # statistics are an optimisation: never a reason not to close
            logging.getLogger("scn.store").warning("PRAGMA optimize at close failed: %s", error)
        for connection in {id(c): c for c in (self._reader, self._db) if c is not None}.values():
            await connection.close()
        self._db = self._reader = None
        if self._process_lock is not None:
            self._process_lock.close()
            self._process_lock = None

    async def schema_version(self) -> int:
        return int(await self._scalar("SELECT version FROM schema_version"))

    async def _migrate(self) -> None:
        async def read_version() -> int:
            # In a write transaction, so two processes opening a new file agree on it.
            await self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            version = await self._scalar("SELECT version FROM schema_version")
            if version is None:
                await self.db.execute("INSERT INTO schema_version (version) VALUES (0)")
            return int(version or 0)

        current = await self._write(read_version)
        if current > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} has schema version {current}, but this scn knows only {len(MIGRATIONS)}: "
                "it was written by a newer scn; upgrade scn to open it"
            )
        for number, (_, script) in enumerate(MIGRATIONS, start=1):
            if number <= current:
                continue
            parts = statements(script)

            async def apply(parts: list[str] = parts, number: int = number) -> None:
                if int(await self._scalar("SELECT version FROM schema_version")) >= number:
                    return  # another process applied it meanwhile
                for statement in parts:
                    await self.db.execute(statement)
                if number in AFTER:
                    await in_thread(self.db, AFTER[number])
                await self.db.execute("UPDATE schema_version SET version = ?", (number,))

            await self._write(apply)
        if current < len(MIGRATIONS) and self.path != ":memory:":
            # New indexes get their statistics at once: without them SQLite may choose an
            # index by its columns alone (a scenario's messages for one contact's cap).
            await self._write(self._analyze)

    async def _analyze(self) -> None:
        await self.db.execute(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
        await self.db.execute("ANALYZE")

    async def optimize(self) -> None:
        """Refresh the planner's statistics where they went stale, as SQLite advises for a
        long-lived connection: `PRAGMA optimize` now and then (the engine calls this every
        few hours) and when the connection closes. Each connection looks at the tables it
        queried, so both run it; with an analysis limit it takes milliseconds."""
        if self._db is None or self._reader is None or self.path == ":memory:":
            return
        async with self._write_lock:
            await self._hold_process_lock()
            try:
                for connection in (self._db, self._reader):
                    await in_thread(connection, _optimize)
            finally:
                if self._process_lock is not None:
                    self._process_lock.release()

    async def _write(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` in one write transaction."""
        async with self._write_lock:
            await self._hold_process_lock()
            token = self._writing.set(True)
            try:
                await self.db.execute("BEGIN IMMEDIATE")
                try:
                    result = await work()
                except BaseException:
                    await self.db.execute("ROLLBACK")
                    raise
                await self.db.execute("COMMIT")
            finally:
                self._writing.reset(token)
                if self._process_lock is not None:
                    self._process_lock.release()
        return result

    async def _hold_process_lock(self) -> None:
        """Take the cross-process writer lock for a transaction of several hand-offs."""
        lock = self._process_lock
        if self._db is None:
            raise RuntimeError("the store is not open")
        if lock is None or lock.try_acquire():
            return
        waiting = asyncio.ensure_future(in_thread(self._db, lambda _: lock.acquire()))
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            # The thread takes the lock anyway: give it back as soon as it has it.
            waiting.add_done_callback(lambda f: None if f.cancelled() or f.exception() else lock.release())
            raise

    async def _write_now(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one write transaction, wholly on the writer's thread: one
        hand-off however many statements (the hot paths: intake and a batch's changes)."""
        async with self._write_lock:
            if self._db is None:
                raise RuntimeError("the store is not open")
            return await in_thread(self._db, transaction, work, self._process_lock)

    async def _scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        rows = await self._rows(sql, params)
        return rows[0][0] if rows else None

    async def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        return (await in_thread(self.db, query, sql, tuple(params)))[1]

    async def _dicts(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts by column name."""
        names, rows = await in_thread(self.db, query, sql, tuple(params))
        return [dict(zip(names, row, strict=True)) for row in rows]

    def allocate_run_id(self) -> int:
        """A fresh run id (the runtime is the only creator of runs)."""
        run_id = self._next_run_id
        self._next_run_id += 1
        return run_id

    # ------------------------------------------------------------ bundles and scenarios

    async def bundle_blob(self, version: int) -> bytes | None:
        blob = await self._scalar("SELECT blob FROM bundles WHERE version = ?", (version,))
        return bytes(blob) if blob is not None else None

    async def scenarios(self) -> list[ScenarioRow]:
        rows = await self._rows("SELECT name, state, version, bundle, updated_at FROM scenarios ORDER BY name")
        return [ScenarioRow(name=r[0], state=r[1], version=r[2], bundle=r[3], updated_at=r[4]) for r in rows]

    async def set_scenario_state(self, name: str, state: str, now: int) -> None:
        """Pause (runs hold where they are), resume (they go on) or archive a scenario."""

        async def work() -> None:
            await self.db.execute("UPDATE scenarios SET state = ?, updated_at = ? WHERE name = ?", (state, now, name))
            if state == "paused":
                await self.db.execute(
                    "UPDATE runs SET held_wake_at = wake_at, wake_at = NULL WHERE scenario = ? AND wake_at IS NOT NULL",
                    (name,),
                )
            elif state == "active":
                # Time spent paused still counts: a run due during the pause is due now.
                await self.db.execute(
                    "UPDATE runs SET wake_at = held_wake_at, held_wake_at = NULL "
                    "WHERE scenario = ? AND held_wake_at IS NOT NULL",
                    (name,),
                )

        await self._write(work)

    # ------------------------------------------------------------ events

    async def append_events(self, events: list[EventIn], now: int) -> list[tuple[int, bool]]:
        """Accept events durably. Returns (id, duplicate) for each; a known key is not added again."""
        return await self._write_now(lambda db: insert_events(db, events, now))

    async def append_batches(
        self, batches: list[list[EventIn]], now: int, refusals: Callable[[dict[str, str]], list[str | None]]
    ) -> list[list[tuple[int, bool]] | str]:
        # The keys are read in the write transaction: one hand-off to the writer's thread
        # for a request's commit, not two, and no writer can add a key in between.
        return await self._write_now(lambda db: insert_batches(db, batches, now, refusals))

    async def unprocessed_events(self, limit: int) -> list[EventRow]:
        rows = await self._rows(
            "SELECT id, key, type, contact_id, occurred_at, received_at, payload FROM events "
            "WHERE processed_at IS NULL ORDER BY id LIMIT ?",
            (limit,),
        )
        return [EventRow(*r) for r in rows]  # the columns are EventRow's first fields, in order

    async def event(self, event_id: int) -> EventRow | None:
        return (await self.events([event_id])).get(event_id)

    async def events(self, ids: Collection[int]) -> dict[int, EventRow]:
        unique = list(dict.fromkeys(ids))
        found: dict[int, EventRow] = {}
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            rows = await self._rows(
                "SELECT id, key, type, contact_id, occurred_at, received_at, payload, processed_at"
                f" FROM events WHERE id IN ({placeholders(len(chunk))})",
                chunk,
            )
            for r in rows:
                found[r[0]] = EventRow(*r)
        return found

    async def payloads_by_key(self, keys: Collection[str]) -> dict[str, str]:
        return await in_thread(self.db, payloads_of, keys)

    # ------------------------------------------------------------ records

    async def group_stats(self) -> list[tuple[str | None, str | None, int, int, int]]:
        # Thousandths as integers: exact for amounts with up to three decimals, and summed
        # by SQLite without going through floating point totals.
        rows = await self._rows(
            "SELECT grp, currency, count(*), sum(orders_count), "
            "sum(CAST(round(CAST(lifetime_spend AS REAL) * 1000) AS INTEGER)) "
            "FROM contacts GROUP BY grp, currency ORDER BY grp, currency"
        )
        return [(r[0], r[1], int(r[2]), int(r[3] or 0), int(r[4] or 0)) for r in rows]

    async def contact_ids(self, after: str, limit: int) -> list[str]:
        rows = await self._rows("SELECT id FROM contacts WHERE id > ? ORDER BY id LIMIT ?", (after, limit))
        return [r[0] for r in rows]

    async def contacts(self, ids: Collection[str]) -> dict[str, dict[str, Any]]:
        return await self._records("contacts", ids)

    async def orders(self, ids: Collection[str]) -> dict[str, dict[str, Any]]:
        return await self._records("orders", ids)

    async def _records(self, table: str, ids: Collection[str]) -> dict[str, dict[str, Any]]:
        unique = list(dict.fromkeys(ids))
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            for record in await self._dicts(f"SELECT * FROM {table} WHERE id IN ({placeholders(len(chunk))})", chunk):
                for name in JSON_FIELDS & record.keys():
                    record[name] = decode_json(record[name])
                out[record["id"]] = record
        return out

    async def contact_orders(self, contact_id: str) -> list[dict[str, Any]]:
        """A contact's orders, oldest first."""
        rows = await self._dicts("SELECT * FROM orders WHERE contact_id = ? ORDER BY created_at, id", (contact_id,))
        for row in rows:
            row["items"] = decode_json(row["items"])
        return rows

    async def course_access(self, contact_id: str) -> dict[str, tuple[str | None, str]]:
        """course -> (tariff, progress) for a contact."""
        rows = await self._rows(
            "SELECT course, tariff, progress FROM course_access WHERE contact_id = ?", (contact_id,)
        )
        return {r[0]: (r[1], r[2]) for r in rows}

    async def lists_of_many(self, contact_ids: Collection[str]) -> dict[str, set[str]]:
        return await self._sets_of("SELECT contact_id, list FROM list_members WHERE contact_id IN ", contact_ids)

    async def segments_of_many(self, contact_ids: Collection[str]) -> dict[str, set[str]]:
        return await self._sets_of("SELECT contact_id, segment FROM segment_members WHERE contact_id IN ", contact_ids)

    async def _sets_of(self, sql: str, contact_ids: Collection[str]) -> dict[str, set[str]]:
        unique = list(dict.fromkeys(contact_ids))
        found: dict[str, set[str]] = {c: set() for c in unique}
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            for contact_id, name in await self._rows(f"{sql}({placeholders(len(chunk))})", chunk):
                found[contact_id].add(name)
        return found

    async def segments_of(self, contact_id: str) -> set[str]:
        rows = await self._rows("SELECT segment FROM segment_members WHERE contact_id = ?", (contact_id,))
        return {r[0] for r in rows}

    async def lists_of(self, contact_id: str) -> set[str]:
        rows = await self._rows("SELECT list FROM list_members WHERE contact_id = ?", (contact_id,))
        return {r[0] for r in rows}

    async def products(self, ids: Collection[str] | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        params: tuple[Any, ...]
        if ids is None:
            sql, params = "SELECT * FROM products ORDER BY created_at DESC, id LIMIT ?", (limit,)
        else:
            chosen = list(ids)[:500]
            sql, params = f"SELECT * FROM products WHERE id IN ({placeholders(len(chosen))})", tuple(chosen)
        return await self._dicts(sql, params)

    async def product_counts(
        self, since: int, limit: int, *, category: str | None = None, segment: str | None = None
    ) -> list[tuple[str, int]]:
        """Products by how many paid orders since ``since`` hold them, most first."""
        sql = (
            f"SELECT {_item_key('j')} AS product, count(DISTINCT o.id) AS n FROM orders o, json_each(o.items) j "
            "WHERE o.paid_at >= ?"
        )
        params: list[Any] = [since]
        if category is not None:
            sql += " AND json_extract(j.value, '$.category') = ?"
            params.append(category)
        if segment is not None:
            sql += " AND o.contact_id IN (SELECT contact_id FROM segment_members WHERE segment = ?)"
            params.append(segment)
        # HAVING names the expression, not its alias: PostgreSQL sees no aliases there
        sql += f" GROUP BY product HAVING {_item_key('j')} IS NOT NULL ORDER BY n DESC, product LIMIT ?"
        return [(str(r[0]), int(r[1])) for r in await self._rows(sql, (*params, limit))]

    async def bought_with(self, product: str, since: int, limit: int) -> list[tuple[str, int]]:
        """Products in the same paid orders as ``product`` since ``since``, most often first."""
        sql = (
            f"SELECT {_item_key('other')} AS product, count(DISTINCT o.id) AS n "
            "FROM orders o, json_each(o.items) j, json_each(o.items) other "
            f"WHERE o.paid_at >= ? AND {_item_key('j')} = ? "
            f"GROUP BY product HAVING {_item_key('other')} IS NOT NULL AND {_item_key('other')} != ? "
            "ORDER BY n DESC, product LIMIT ?"
        )
        return [(str(r[0]), int(r[1])) for r in await self._rows(sql, (since, product, product, limit))]

    # ------------------------------------------------------------ runs

    async def due_runs(self, now: int, limit: int) -> list[RunRow]:
        def read(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
            # The per-contact ordering rule costs a probe per run; with no event pending at
            # all (the usual case between bursts) there is nothing to wait for.
            pending = db.execute("SELECT 1 FROM events WHERE processed_at IS NULL LIMIT 1").fetchone()
            return db.execute(
                f"SELECT {RUN_COLUMNS} FROM runs r WHERE wake_at IS NOT NULL AND wake_at <= ? "
                f"{_WAITS_FOR_EVENTS if pending else ''}ORDER BY wake_at, id LIMIT ?",
                (now, limit),
            ).fetchall()

        return [run_row(r) for r in await in_thread(self.db, read)]

    async def next_wake(self) -> int | None:
        value = await self._scalar("SELECT min(wake_at) FROM runs WHERE wake_at IS NOT NULL")
        return int(value) if value is not None else None

    async def awaiting_runs(self, contact_id: str, event_type: str) -> list[RunRow]:
        rows = await self._rows(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE contact_id = ? AND await_event = ?", (contact_id, event_type)
        )
        return [run_row(r) for r in rows if r[11] in LIVE]

    async def live_runs(self, contact_id: str, scenarios: Collection[str]) -> list[RunRow]:
        if not scenarios:
            return []
        names = list(scenarios)
        rows = await self._rows(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE contact_id = ? AND scenario IN ({placeholders(len(names))}) "
            f"AND status IN ('running', 'waiting', 'awaiting')",
            (contact_id, *names),
        )
        return [run_row(r) for r in rows]

    async def live_runs_of(self, contact_ids: Collection[str]) -> list[RunRow]:
        unique = list(dict.fromkeys(contact_ids))
        found: list[RunRow] = []
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            rows = await self._rows(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE contact_id IN ({placeholders(len(chunk))}) "
                "AND status IN ('running', 'waiting', 'awaiting')",
                chunk,
            )
            found.extend(run_row(r) for r in rows)
        return found

    async def run_starts(self, contact_ids: Collection[str], scenarios: Collection[str]) -> list[RunStart]:
        unique, names = list(dict.fromkeys(contact_ids)), list(scenarios)
        found: list[RunStart] = []
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            # By the contacts' own runs, whatever the statistics say: SQLite's ANALYZE with
            # an analysis limit sees one scenario in the first entries of an index led by
            # the scenario, takes it for a few hundred runs, and would read every run of
            # the scenarios instead (a cost that grows with the store).
            rows = await self._rows(
                "SELECT scenario, contact_id, order_id, started_at FROM runs INDEXED BY runs_contact "
                f"WHERE contact_id IN ({placeholders(len(chunk))}) AND scenario IN ({placeholders(len(names))})",
                [*chunk, *names],
            )
            found.extend(RunStart(*r) for r in rows)
        return found

    async def run(self, run_id: int) -> RunRow | None:
        rows = await self._rows(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
        return run_row(rows[0]) if rows else None

    async def count_runs(
        self, scenario: str, *, contact_id: str | None = None, order_id: str | None = None, since: int | None = None
    ) -> int:
        sql = "SELECT count(*) FROM runs WHERE scenario = ?"
        params: list[Any] = [scenario]
        if contact_id is not None:
            sql += " AND contact_id = ?"
            params.append(contact_id)
        if order_id is not None:
            sql += " AND order_id = ?"
            params.append(order_id)
        if since is not None:
            sql += " AND started_at >= ?"
            params.append(since)
        return int(await self._scalar(sql, params))

    async def count_messages(
        self, contact_id: str, *, scenario: str | None, since: int, channel: str | None = None,
        exempt: Collection[str] = (),
    ) -> int:  # fmt: skip
        """Messages to a contact (from one scenario, on one channel, if given) since a
        moment; skipped and failed ones aside (they never reached the contact), and those of
        the templates in ``exempt``."""
        sql = (
            "SELECT count(*) FROM outbox WHERE contact_id = ? AND created_at >= ? "
            "AND status NOT IN ('skipped', 'failed')"
        )
        params: list[Any] = [contact_id, since]
        if scenario is not None:
            sql += " AND scenario = ?"
            params.append(scenario)
        if channel is not None:
            sql += " AND channel = ?"
            params.append(channel)
        if exempt:
            sql += f" AND template NOT IN ({', '.join('?' for _ in exempt)})"
            params.extend(sorted(exempt))
        return int(await self._scalar(sql, params))

    async def last_message_at(self, contact_id: str, channel: str | None) -> int | None:
        sql = "SELECT max(created_at) FROM outbox WHERE contact_id = ? AND status NOT IN ('skipped', 'failed')"
        params: list[Any] = [contact_id]
        if channel is not None:
            sql += " AND channel = ?"
            params.append(channel)
        value = await self._scalar(sql, params)
        return int(value) if value is not None else None

    async def run_counts(self) -> dict[str, dict[str, int]]:
        """scenario -> status -> number of runs."""
        counts: dict[str, dict[str, int]] = {}
        for scenario, status, count in await self._rows(
            "SELECT scenario, status, sum(runs) FROM count_runs GROUP BY 1, 2 HAVING sum(runs) > 0 ORDER BY 1, 2"
        ):
            counts.setdefault(scenario, {})[status] = count
        return counts

    async def message_counts(self) -> list[tuple[str, str, str, str, str, int]]:
        """(scenario, channel, template, status, failure class or "", count) over the whole outbox."""
        return await self._rows(
            "SELECT scenario, channel, template, status, failure, sum(messages) FROM count_messages "
            "GROUP BY 1, 2, 3, 4, 5 HAVING sum(messages) > 0 ORDER BY 1, 2, 3, 4, 5"
        )

    # ------------------------------------------------------------ writing a batch

    async def commit(self, changes: Changes) -> None:
        """Apply a batch of changes in one transaction."""
        if changes.empty():
            return
        await self._write_now(lambda db: apply_changes(db, changes))


def _satisfies_protocol(store: SqliteStore) -> ControlStore:
    return store  # mypy checks here that SqliteStore implements the whole interface
