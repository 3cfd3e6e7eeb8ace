"""Reading and writing a store behind its back, on either backend (the `db` fixture: an
SQLite path or a PostgreSQL URL), for tests that look at the rows a process left: SQL in
SQLite's words with `?` placeholders, said PostgreSQL's way by the store's own dialect."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import asyncpg

from scn.interpreter.store import is_postgresql, store_at
from scn.interpreter.store.pg_dialect import statement

from .recount import assert_counters_exact

T = TypeVar("T")


def _on_own_loop(work: Coroutine[Any, Any, T]) -> T:
    """``work`` on a loop of its own, in a thread: the caller's loop may be running."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, work).result()


async def _pg(db: str, sql: str, params: tuple[Any, ...], many: list[tuple[Any, ...]] | None) -> list[tuple[Any, ...]]:
    said = statement(sql)
    assert said is not None, sql
    connection = await asyncpg.connect(db)
    try:
        if many is not None:
            await connection.executemany(said.sql, many)
            return []
        return [tuple(r) for r in await connection.fetch(said.sql, *params)]
    finally:
        await connection.close()


def rows(db: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """The rows of a statement, run in a transaction of its own."""
    if is_postgresql(db):
        return _on_own_loop(_pg(db, sql, params, None))
    with sqlite3.connect(db, timeout=30) as connection:
        return connection.execute(sql, params).fetchall()


def scalar(db: str, sql: str, *params: Any) -> Any:
    [(value,)] = rows(db, sql, *params)
    return value


def execute_many(db: str, sql: str, params: list[tuple[Any, ...]]) -> None:
    """One statement for each of ``params``, in one transaction."""
    if is_postgresql(db):
        _on_own_loop(_pg(db, sql, (), params))
        return
    with sqlite3.connect(db, timeout=30) as connection:
        connection.executemany(sql, params)


def execute(db: str, sql: str, *params: Any) -> None:
    execute_many(db, sql, [params])


def columns(db: str) -> dict[str, list[str]]:
    """Every table of the store, with its columns in order."""
    found: dict[str, list[str]] = {}
    if is_postgresql(db):
        for table, column in rows(
            db,
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "ORDER BY table_name, ordinal_position",
        ):
            found.setdefault(table, []).append(column)
        return found
    for (table,) in rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'"):
        found[table] = [column[1] for column in rows(db, f"PRAGMA table_info({table})")]
    return found


def texts(db: str) -> list[tuple[str, str, str]]:
    """(table, column, value as text) of every value the store holds (blobs decoded as
    UTF-8, what is not text replaced), to look for what must not be there."""
    found = []
    for table, names in columns(db).items():
        for row in rows(db, f'SELECT * FROM "{table}"'):
            for column, value in zip(names, row, strict=True):
                if value is not None:
                    text = (
                        bytes(value).decode("utf-8", "replace") if isinstance(value, bytes | memoryview) else str(value)
                    )
                    found.append((table, column, text))
    return found


def migrated(db: str) -> str:
    """``db`` with the store's schema (a store opened and closed there), as `scn serve` leaves it."""

    async def make() -> None:
        store = store_at(db)
        await store.open()
        await store.close()

    _on_own_loop(make())
    return db


async def _figures_match_rows(db: str) -> None:
    store = store_at(db)
    await store.open()
    try:
        runs: dict[str, dict[str, int]] = {}
        for scenario, status, count in await store._rows("SELECT scenario, status, count(*) FROM runs GROUP BY 1, 2"):
            runs.setdefault(scenario, {})[status] = count
        assert await store.run_counts() == runs
        messages = await store._rows(
            "SELECT coalesce(scenario, ''), channel, coalesce(template, ''), status, coalesce(failure, ''), count(*) "
            "FROM outbox "
            "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
        )
        assert await store.message_counts() == messages
        events = await store._rows(
            "SELECT CASE WHEN processed_at IS NULL THEN 'pending' WHEN error IS NOT NULL THEN 'failed' "
            "ELSE 'processed' END, count(*) FROM events GROUP BY 1"
        )
        assert (await store.metrics())["events"] == dict(events)
        for scenario in runs:
            last: dict[tuple[int, str], str] = {}
            for run_id, step, outcome in await store._rows(
                "SELECT l.run_id, l.step, l.outcome FROM step_log l JOIN runs r ON r.id = l.run_id "
                "WHERE r.scenario = ? ORDER BY l.id",
                (scenario,),
            ):
                last[(run_id, step)] = outcome
            expected: dict[tuple[str, str], int] = {}
            for (_run, step), outcome in last.items():
                expected[(step, outcome)] = expected.get((step, outcome), 0) + 1
            counted = {(step, outcome): n for step, _name, outcome, n in await store.step_counts(scenario)}
            assert counted == expected, scenario
    finally:
        await store.close()


def assert_counters_match_rows(db: str) -> None:
    """The store's counters agree with its rows: on SQLite each counter equals a full
    recount (recount.py); on PostgreSQL (whose counters are its own triggers, laid out its
    own way) the figures read from them (runs, messages, pending events, steps) equal
    counts of the rows."""
    if is_postgresql(db):
        _on_own_loop(_figures_match_rows(db))
    else:
        assert_counters_exact(sqlite3.connect(db, isolation_level=None))
