"""How the PostgreSQL store reaches its connections, in the shape the SQLite store's code
already speaks (see _sql.py): an awaitable `execute` inside a write transaction, and whole
functions of a sqlite3-like connection run on a worker thread (`call`).

Such a function runs on a thread of the default executor with a `SyncBridge`: each of its
statements is handed back to the event loop's asyncpg connection and waited for. So the
SQL of the writes (a batch's changes, intake, the sender's exchanges) is written once for
both stores; `pg_dialect` says each statement PostgreSQL's way.

Statements are prepared once per connection (an LRU of them): a prepared statement knows
its parameters' types, so a value SQLite would take as it is (an integer for a text
column) is converted to what PostgreSQL expects.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from .pg_dialect import statement

T = TypeVar("T")

#: Prepared statements kept per connection.
STATEMENT_CACHE = 512
#: Tables whose id an INSERT reports (`lastrowid`), and the column that is their id.
_ROW_IDS = {
    "bundles": "version",
    "events": "id",
    "step_log": "id",
    "coupon_codes": "id",
    "outbox": "id",
    "bonus_ledger": "id",
    "import_jobs": "id",
    "scenario_audit": "id",
    "privacy_audit": "id",
}
_TEXT = frozenset({"text", "varchar", "bpchar", "name", "json", "jsonb"})
_INTEGER = frozenset({"int2", "int4", "int8"})


@dataclass
class Result:
    names: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    rowcount: int = -1
    lastrowid: int | None = None


def _ordered(params: Sequence[Any] | Mapping[str, Any], names: tuple[str, ...] | None) -> Sequence[Any]:
    """A statement's values in placeholder order (``names`` when it used `:name`s)."""
    if names is None:
        return list(params)
    assert isinstance(params, Mapping)
    return [params[name] for name in names]


def _convert(value: Any, kind: str) -> Any:
    """A value as the parameter's type wants it (SQLite is not particular about types)."""
    if value is None:
        return None
    if kind in _TEXT and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if kind in _INTEGER and isinstance(value, bool):
        return int(value)
    if kind == "bool" and isinstance(value, int):
        return bool(value)
    if kind == "bytea" and isinstance(value, memoryview):
        return bytes(value)
    return value


class PgConnection:
    """One asyncpg connection with its prepared statements."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self._prepared: OrderedDict[str, Any] = OrderedDict()
        #: Rows changed by the statements run here so far (sqlite3's `total_changes`).
        self.total_changes = 0

    async def _prepare(self, sql: str) -> Any:
        prepared = self._prepared.get(sql)
        if prepared is None:
            prepared = await self.raw.prepare(sql)
            self._prepared[sql] = prepared
            if len(self._prepared) > STATEMENT_CACHE:
                self._prepared.popitem(last=False)
        else:
            self._prepared.move_to_end(sql)
        return prepared

    async def run(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Result:
        """One statement of the SQLite store's SQL, said PostgreSQL's way."""
        said = statement(sql)
        if said is None:
            return Result()
        text = said.sql
        values = _ordered(params, said.names)
        words = text.lstrip().split(None, 3)
        returning_id = None
        if words[:2] == ["INSERT", "INTO"] and " RETURNING " not in text.upper():
            returning_id = _ROW_IDS.get(words[2].split("(")[0])
            if returning_id is not None:
                text += f" RETURNING {returning_id}"
        prepared = await self._prepare(text)
        kinds = [p.name for p in prepared.get_parameters()]
        values = [_convert(v, k) for v, k in zip(values, kinds, strict=True)]
        records = await prepared.fetch(*values)
        names = [a.name for a in prepared.get_attributes()]
        rows = [tuple(r) for r in records]
        status = prepared.get_statusmsg() or ""
        tail = status.rsplit(" ", 1)[-1]
        count = int(tail) if tail.isdigit() else len(rows)
        if status.split(" ", 1)[0] in ("INSERT", "UPDATE", "DELETE"):
            self.total_changes += count
        result = Result(names, rows, count)
        if returning_id is not None:
            result.lastrowid = rows[-1][0] if rows else None
            result.names, result.rows = [], []
        return result

    async def run_many(self, sql: str, rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> Result:
        """One statement for each of ``rows``, sent together: one round trip, not one a row.

        A row's changes are counted as sqlite3 counts them (the total is the `rowcount`, and
        `total_changes` grows by it): the statement returns a row for each row it changed,
        and those are counted."""
        said = statement(sql)
        every = list(rows)
        if said is None or not every:
            return Result(rowcount=0)
        words = said.sql.lstrip().split(None, 1)
        if words[0] not in ("INSERT", "UPDATE", "DELETE") or " RETURNING " in said.sql.upper():
            total = 0
            for params in every:
                total += max((await self.run(sql, params)).rowcount, 0)
            return Result(rowcount=total)
        prepared = await self._prepare(said.sql.rstrip().rstrip(";") + " RETURNING 1")
        kinds = [p.name for p in prepared.get_parameters()]
        names = said.names
        values = [[_convert(v, k) for v, k in zip(_ordered(params, names), kinds, strict=True)] for params in every]
        changed = len(await prepared.fetchmany(values))
        self.total_changes += changed
        return Result(rowcount=changed)

    # ------------------------------------------------------------ aiosqlite's shape

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> _Pending:
        return _Pending(self.run(sql, params))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> Cursor:
        return Cursor(await self.run_many(sql, rows))

    async def call(self, work: Callable[..., T], *args: Any) -> T:
        """``work(connection, *args)``, a function written for sqlite3, on a worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: work(SyncBridge(self, loop), *args))

    async def close(self) -> None:
        await self.raw.close()


class Cursor:
    """A finished statement's rows, as sqlite3's and aiosqlite's cursors give them."""

    def __init__(self, result: Result) -> None:
        self._result = result
        self._rows = iter(result.rows)

    @property
    def description(self) -> list[tuple[str, None, None, None, None, None, None]]:
        return [(n, None, None, None, None, None, None) for n in self._result.names]

    @property
    def rowcount(self) -> int:
        return self._result.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._result.lastrowid

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return self._rows

    def __next__(self) -> tuple[Any, ...]:
        return next(self._rows)

    # Both sqlite3's (plain) and aiosqlite's (awaited) callers: a finished result serves
    # either, so these return what an awaiting caller awaits.
    def fetchone(self) -> Any:
        return next(self._rows, None)

    def fetchall(self) -> Any:
        return list(self._rows)

    def close(self) -> None:
        pass


class AsyncCursor(Cursor):
    async def fetchone(self) -> Any:
        return next(self._rows, None)

    async def fetchall(self) -> Any:
        return list(self._rows)

    async def close(self) -> None:  # type: ignore[override]
        pass


class _Pending:
    """What `execute` returns: awaitable (a cursor) and an async context manager, like aiosqlite's."""

    def __init__(self, running: Awaitable[Result]) -> None:
        self._running = running
        self._cursor: AsyncCursor | None = None

    def __await__(self) -> Generator[Any, None, AsyncCursor]:
        return self._ready().__await__()

    async def _ready(self) -> AsyncCursor:
        if self._cursor is None:
            self._cursor = AsyncCursor(await self._running)
        return self._cursor

    async def __aenter__(self) -> AsyncCursor:
        return await self._ready()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        pass


class SyncBridge:
    """A sqlite3-like connection for a worker thread: each statement runs on the loop's
    asyncpg connection, and the thread waits for it."""

    in_transaction = True

    def __init__(self, connection: PgConnection, loop: asyncio.AbstractEventLoop) -> None:
        self._connection = connection
        self._loop = loop

    def _wait(self, work: Awaitable[Result]) -> Cursor:
        async def run() -> Result:
            return await work

        return Cursor(asyncio.run_coroutine_threadsafe(run(), self._loop).result())

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Cursor:
        return self._wait(self._connection.run(sql, params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> Cursor:
        return self._wait(self._connection.run_many(sql, list(rows)))

    @property
    def total_changes(self) -> int:
        return self._connection.total_changes


class Readers:
    """A few connections for reads outside transactions, each used by one call at a time."""

    def __init__(self, connections: list[PgConnection]) -> None:
        self._all = connections
        self._free: asyncio.Queue[PgConnection] = asyncio.Queue()
        for connection in connections:
            self._free.put_nowait(connection)

    async def using(self, work: Callable[[PgConnection], Awaitable[T]]) -> T:
        connection = await self._free.get()
        try:
            return await work(connection)
        finally:
            self._free.put_nowait(connection)

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> _Pending:
        return _Pending(self.using(lambda c: c.run(sql, params)))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> Cursor:
        return Cursor(await self.using(lambda c: c.run_many(sql, rows)))

    async def call(self, work: Callable[..., T], *args: Any) -> T:
        return await self.using(lambda c: c.call(work, *args))

    async def close(self) -> None:
        for connection in self._all:
            await connection.close()


async def connect(url: str) -> PgConnection:
    import asyncpg  # here, not at the top: _sql imports this module on SQLite too

    return PgConnection(await asyncpg.connect(url))
