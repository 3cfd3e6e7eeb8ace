"""An in-process SQLite connection with aiosqlite's call shape, for `:memory:` stores.

aiosqlite runs every statement on a helper thread so that disk waits never block the
event loop. An in-memory database never waits on a disk, and a simulation has nothing
else to run meanwhile, so the thread hop (tens of microseconds per statement, most of a
simulation's time) buys nothing there. The store talks to either connection the same way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Generator, Iterable
from types import TracebackType
from typing import Any


class DirectCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _Pending:
    """What `execute` returns: awaitable (a cursor) and an async context manager, like aiosqlite's."""

    def __init__(self, cursor: DirectCursor) -> None:
        self._cursor = cursor

    def __await__(self) -> Generator[Any, None, DirectCursor]:
        return self._ready().__await__()

    async def _ready(self) -> DirectCursor:
        return self._cursor

    async def __aenter__(self) -> DirectCursor:
        return self._cursor

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self._cursor.close()


class DirectConnection:
    def __init__(self, path: str) -> None:
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    @property
    def raw(self) -> sqlite3.Connection:
        return self._connection

    def execute(self, sql: str, parameters: Iterable[Any] = ()) -> _Pending:
        return _Pending(DirectCursor(self._connection.execute(sql, tuple(parameters))))

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> DirectCursor:
        return DirectCursor(self._connection.executemany(sql, parameters))

    async def close(self) -> None:
        self._connection.close()
