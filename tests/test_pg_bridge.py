"""The PostgreSQL store's bridge (interpreter/store/_pg.py) runs the SQLite store's write
functions: what they see of an `executemany` (its row count, the connection's
`total_changes`, the rows' effects in order) must be what sqlite3 shows them, though the
bridge sends all the rows of one `executemany` together."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from scn.interpreter.store import _pg

from .pg_cluster import Cluster

SCHEMA = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 0)"


def work(db: Any) -> list[Any]:
    """A write function as the store writes them, for sqlite3: what it saw, step by step."""
    seen: list[Any] = []

    def counted(sql: str, rows: list[Any]) -> None:
        before = db.total_changes
        cursor = db.executemany(sql, rows)
        seen.append((cursor.rowcount, db.total_changes - before))

    # a key twice: the second row meets the first's conflict and is not counted
    counted("INSERT INTO t (id, v) VALUES (?, ?) ON CONFLICT (id) DO NOTHING", [(1, "a"), (2, "b"), (1, "c")])
    # the rows apply one after another: the last one for a key wins
    counted(
        "INSERT INTO t (id, v) VALUES (:id, :v) ON CONFLICT (id) DO UPDATE SET v = excluded.v, n = t.n + 1",
        [{"id": 3, "v": "x"}, {"id": 3, "v": "y"}, {"id": 3, "v": "z"}],
    )
    counted("UPDATE t SET v = ? WHERE id = ?", [("b2", 2), ("none", 9)])  # a row that matches nothing
    counted("UPDATE t SET n = n + 1 WHERE id >= ?", [(1,), (2,)])  # a row that changes several
    counted("DELETE FROM t WHERE id = ?", [])  # no rows at all
    counted("DELETE FROM t WHERE id = ?", [(1,), (1,)])
    seen.append(list(db.execute("SELECT id, v, n FROM t ORDER BY id")))
    return seen


def on_sqlite(path: Path) -> list[Any]:
    connection = sqlite3.connect(path)
    try:
        connection.execute(SCHEMA)
        return work(connection)
    finally:
        connection.close()


async def test_executemany_through_the_bridge_counts_and_applies_rows_as_sqlite3_does(
    pg_cluster: Cluster, tmp_path: Path
) -> None:
    expected = on_sqlite(tmp_path / "t.db")
    assert expected[:6] == [(2, 2), (3, 3), (1, 1), (5, 5), (0, 0), (1, 1)]
    connection = await _pg.connect(pg_cluster.database())
    try:
        await connection.raw.execute(SCHEMA.replace("INTEGER PRIMARY KEY", "BIGINT PRIMARY KEY"))
        async with connection.raw.transaction():
            seen = await connection.call(work)
    finally:
        await connection.close()
    assert seen == expected
