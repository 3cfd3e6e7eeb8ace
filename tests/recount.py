"""The store's counters (interpreter/store/counters.py) against a full recount of the rows."""

from __future__ import annotations

import sqlite3
from typing import Any

from scn.interpreter.store._sql import statements
from scn.interpreter.store.counters import FILL

COUNTERS = ("count_runs", "count_steps", "count_messages", "count_events")


def counted(db: sqlite3.Connection) -> dict[str, set[tuple[Any, ...]]]:
    """Every counter's rows that count something (a counter that went back to 0 stays as a row)."""
    found: dict[str, set[tuple[Any, ...]]] = {}
    for table in COUNTERS:
        number = {"count_runs": "runs", "count_steps": "runs", "count_messages": "messages"}.get(table, "events")
        found[table] = set(db.execute(f"SELECT * FROM {table} WHERE {number} != 0"))
    return found


def assert_counters_exact(db: sqlite3.Connection) -> None:
    """The counters as kept, and as recounted from the rows (in a transaction rolled back)."""
    kept = counted(db)
    db.execute("BEGIN")
    try:
        for statement in statements(FILL):
            db.execute(statement)
        recounted = counted(db)
    finally:
        db.execute("ROLLBACK")
    for table in COUNTERS:
        if table == "count_steps":  # the first entry a step was reached by may differ: compare the counts
            kept[table] = {row[:5] for row in kept[table]}
            recounted[table] = {row[:5] for row in recounted[table]}
        assert kept[table] == recounted[table], table
    assert any(kept.values())
