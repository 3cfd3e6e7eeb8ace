"""How the SQLite store reaches its connections, and what its mixins (outbox,
control-plane queries) use of the store.

aiosqlite runs each call on the connection's own thread, and every call is a hand-off
there and back: about 0.1-0.2 ms on a small VM, more than the statement itself. So the
store asks one call per query (`query`) and one per write transaction (`transaction`),
whatever the number of statements in it, through `in_thread`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import aiosqlite

from ._direct import DirectConnection
from ._lock import SenderLocks, WriterLock
from ._pg import PgConnection, Readers

#: Rows ANALYZE reads of each index (SQLite's own advice: a few hundred give the planner
#: what it needs, in milliseconds even at millions of rows).
ANALYSIS_LIMIT = 400


def statements(script: str) -> list[str]:
    """The statements of a migration, whole (a trigger's body has semicolons of its own)."""
    found: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                found.append(pending.strip())
            pending = ""
    if pending.strip(" \n;"):
        found.append(pending.strip())
    return found


T = TypeVar("T")
Connection = aiosqlite.Connection | DirectConnection | PgConnection | Readers


async def in_thread(connection: Connection, work: Callable[..., T], *args: Any) -> T:
    """``work(sqlite3_connection, *args)`` on the connection's own thread, in one hand-off.

    aiosqlite has no public call for this; `_execute` is the one its own methods are made
    of (the same from 0.17 to 0.22), and tests/test_store.py fails if that ever changes."""
    if isinstance(connection, DirectConnection):
        return work(connection.raw, *args)
    if isinstance(connection, PgConnection | Readers):  # the PostgreSQL store (see _pg.py)
        return await connection.call(work, *args)
    return cast(T, await connection._execute(work, connection._conn, *args))  # type: ignore[no-untyped-call]


def query(db: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of a statement."""
    cursor = db.execute(sql, params)
    try:
        names = [d[0] for d in cursor.description or ()]
        return names, cursor.fetchall()
    finally:
        cursor.close()


def transaction(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], T], lock: WriterLock | None = None) -> T:
    """``work`` in one write transaction; rolled back if anything in it (or the commit) fails.

    `BEGIN IMMEDIATE` takes the write lock up front, so it never fails half-way on a lock;
    ``lock`` (other processes' writers on the same file) is taken before it, on this thread."""
    if lock is not None:
        lock.acquire()
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work(db)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    finally:
        if lock is not None:
            lock.release()
    return result


class SqlAccess:
    """Declared here for the type checker; `SqliteStore` implements them."""

    if TYPE_CHECKING:
        #: Who sends this database's outbox (None in memory).
        _senders: SenderLocks | None

        @property
        def db(self) -> Connection: ...

        async def _write(self, work: Callable[[], Awaitable[T]]) -> T: ...

        async def _write_now(self, work: Callable[[sqlite3.Connection], T]) -> T: ...

        async def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]: ...

        async def _dicts(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]: ...

        async def _scalar(self, sql: str, params: Iterable[Any] = ()) -> Any: ...
