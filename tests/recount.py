"""The store's counters (interpreter/store/counters.py) against a full recount of the rows."""

from __future__ import annotations

import sqlite3
from typing import Any

from scn.interpreter.store import SqliteStore
from scn.interpreter.store.counters import recount

COUNTERS = ("count_runs", "count_steps", "count_messages", "count_events", "count_reports", "count_report_days")
#: What became of each message, and whom each order was credited to (recounted too).
OUTCOMES = {
    "outcomes": "SELECT id, opened_at, clicked_at, unsubscribed_at FROM outbox",
    "credits": "SELECT id, credited_to FROM orders",
}


#: Each counter's key and what it counts (count_steps: and the first log entry counted).
_KEYS = {
    "count_runs": ("scenario, step, status", "sum(runs)"),
    "count_steps": ("scenario, step, name, outcome", "sum(runs), min(first_id)"),
    "count_messages": ("scenario, channel, template, status, failure", "sum(messages)"),
    "count_events": ("state", "sum(events)"),
    "count_reports": ("scenario, hour, step, template, channel, variant, figure", "sum(value)"),
    "count_report_days": ("scenario, day, step, template, channel, variant, figure", "sum(value)"),
}


def _readings() -> dict[str, str]:
    """The statement that reads each counter's keys that count something (a counter that
    went back to 0 stays as a row), summed over the rows a key may be spread on
    (PostgreSQL's buckets), and each outcome."""
    found: dict[str, str] = {}
    for table in COUNTERS:
        key, amounts = _KEYS[table]
        total = amounts.split(",")[0]
        found[table] = f"SELECT {key}, {amounts} FROM {table} GROUP BY {key} HAVING {total} != 0"
    return {**found, **OUTCOMES}


def counted(db: sqlite3.Connection) -> dict[str, set[tuple[Any, ...]]]:
    """Every counter's rows that count something, and what became of messages and orders."""
    return {name: set(db.execute(sql)) for name, sql in _readings().items()}


async def counted_by(store: SqliteStore) -> dict[str, set[tuple[Any, ...]]]:
    """`counted`, read through a store of either backend."""
    return {name: set(await store._rows(sql)) for name, sql in _readings().items()}


def assert_counters_exact(db: sqlite3.Connection) -> None:
    """The counters as kept, and as recounted from the rows (in a transaction rolled back)."""
    kept = counted(db)
    db.execute("BEGIN")
    try:
        recount(db)
        recounted = counted(db)
    finally:
        db.execute("ROLLBACK")
    for table in (*COUNTERS, *OUTCOMES):
        if table == "count_steps":  # the first entry a step was reached by may differ: compare the counts
            kept[table] = {row[:5] for row in kept[table]}
            recounted[table] = {row[:5] for row in recounted[table]}
        assert kept[table] == recounted[table], (table, sorted(kept[table] ^ recounted[table])[:10])
    assert any(kept.values())
