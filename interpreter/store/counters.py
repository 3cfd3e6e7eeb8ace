"""Counters the SQLite store keeps as rows change, so that the figures read most (runs by
scenario, step and status; each step's runs by outcome; messages by status and failure;
events by state) cost a read of a few rows however big the store grows.

They are kept by triggers: each is written by the same statement, so in the same
transaction, as the change it counts, whichever path makes the change (a batch, intake,
the sender, cancelling runs, a bulk import). A crash can lose the change and its count
together, never one without the other. `FILL` recounts everything from the rows; the
migration that made the counters ran it, and tests compare the counters with it.

Keys are never NULL (a missing scenario, template, step or failure is '').
"""

from __future__ import annotations

import sqlite3

from ..program import DEFAULT_ATTRIBUTION_MS
from . import report_counts
from ._sql import statements

TABLES = """
CREATE TABLE count_runs (
    scenario TEXT NOT NULL,
    step TEXT NOT NULL,
    status TEXT NOT NULL,
    runs INTEGER NOT NULL,
    PRIMARY KEY (scenario, step, status)
) WITHOUT ROWID;
CREATE TABLE count_steps (
    scenario TEXT NOT NULL,
    step TEXT NOT NULL,
    name TEXT NOT NULL,
    outcome TEXT NOT NULL,
    runs INTEGER NOT NULL,
    -- the log entry that first counted here: steps are listed in the order first reached
    first_id INTEGER NOT NULL,
    PRIMARY KEY (scenario, step, name, outcome)
) WITHOUT ROWID;
CREATE TABLE count_messages (
    scenario TEXT NOT NULL,
    channel TEXT NOT NULL,
    template TEXT NOT NULL,
    status TEXT NOT NULL,
    failure TEXT NOT NULL,
    messages INTEGER NOT NULL,
    PRIMARY KEY (scenario, channel, template, status, failure)
) WITHOUT ROWID;
CREATE TABLE count_events (
    state TEXT PRIMARY KEY,
    events INTEGER NOT NULL
) WITHOUT ROWID;
"""


def _run_key(row: str) -> str:
    return f"{row}.scenario, coalesce({row}.step, ''), {row}.status"


def _message_key(row: str) -> str:
    return (
        f"coalesce({row}.scenario, ''), {row}.channel, coalesce({row}.template, ''), {row}.status, "
        f"coalesce({row}.failure, '')"
    )


def _event_state(row: str) -> str:
    prefix = f"{row}." if row else ""
    return (
        f"CASE WHEN {prefix}processed_at IS NULL THEN 'pending' WHEN {prefix}error IS NOT NULL THEN 'failed' "
        "ELSE 'processed' END"
    )


def _add(table: str, columns: str, count: str, key: str, amount: int) -> str:
    return (
        f"INSERT INTO {table} ({columns}, {count}) VALUES ({key}, {amount}) "
        f"ON CONFLICT DO UPDATE SET {count} = {count} + {amount};"
    )


_RUNS = "scenario, step, status"
_MESSAGES = "scenario, channel, template, status, failure"

TRIGGERS = f"""
CREATE TRIGGER count_runs_insert AFTER INSERT ON runs BEGIN
    {_add("count_runs", _RUNS, "runs", _run_key("new"), 1)}
END;
CREATE TRIGGER count_runs_update AFTER UPDATE OF step, status ON runs
WHEN old.step IS NOT new.step OR old.status IS NOT new.status BEGIN
    UPDATE count_runs SET runs = runs - 1
    WHERE scenario = old.scenario AND step = coalesce(old.step, '') AND status = old.status;
    {_add("count_runs", _RUNS, "runs", _run_key("new"), 1)}
END;
CREATE TRIGGER count_runs_delete AFTER DELETE ON runs BEGIN
    UPDATE count_runs SET runs = runs - 1
    WHERE scenario = old.scenario AND step = coalesce(old.step, '') AND status = old.status;
END;

CREATE TRIGGER count_steps_insert AFTER INSERT ON step_log BEGIN
    UPDATE count_steps SET runs = runs - 1
    WHERE (scenario, step, name, outcome) IN (
        SELECT r.scenario, l.step, l.name, l.outcome FROM step_log l, runs r
        WHERE l.run_id = new.run_id AND l.step = new.step AND l.id < new.id AND r.id = new.run_id
        ORDER BY l.id DESC LIMIT 1
    );
    INSERT INTO count_steps (scenario, step, name, outcome, runs, first_id)
    SELECT r.scenario, new.step, new.name, new.outcome, 1, new.id FROM runs r WHERE r.id = new.run_id
    ON CONFLICT DO UPDATE SET runs = runs + 1;
END;

CREATE TRIGGER count_messages_insert AFTER INSERT ON outbox BEGIN
    {_add("count_messages", _MESSAGES, "messages", _message_key("new"), 1)}
END;
CREATE TRIGGER count_messages_update AFTER UPDATE OF status, failure ON outbox
WHEN old.status IS NOT new.status OR old.failure IS NOT new.failure BEGIN
    UPDATE count_messages SET messages = messages - 1
    WHERE (scenario, channel, template, status, failure) = ({_message_key("old")});
    {_add("count_messages", _MESSAGES, "messages", _message_key("new"), 1)}
END;
CREATE TRIGGER count_messages_delete AFTER DELETE ON outbox BEGIN
    UPDATE count_messages SET messages = messages - 1
    WHERE (scenario, channel, template, status, failure) = ({_message_key("old")});
END;

CREATE TRIGGER count_events_insert AFTER INSERT ON events BEGIN
    {_add("count_events", "state", "events", _event_state("new"), 1)}
END;
CREATE TRIGGER count_events_update AFTER UPDATE OF processed_at, error ON events
WHEN ({_event_state("old")}) != ({_event_state("new")}) BEGIN
    UPDATE count_events SET events = events - 1 WHERE state = {_event_state("old")};
    {_add("count_events", "state", "events", _event_state("new"), 1)}
END;
CREATE TRIGGER count_events_delete AFTER DELETE ON events BEGIN
    UPDATE count_events SET events = events - 1 WHERE state = {_event_state("old")};
END;
"""

#: Every counter recounted from the rows (the migration's fill, and the tests' reference).
FILL = f"""
DELETE FROM count_runs;
INSERT INTO count_runs (scenario, step, status, runs)
SELECT {_run_key("r")}, count(*) FROM runs r GROUP BY 1, 2, 3;
DELETE FROM count_steps;
INSERT INTO count_steps (scenario, step, name, outcome, runs, first_id)
SELECT r.scenario, l.step, l.name, l.outcome, count(*), min(l.id)
FROM step_log l JOIN (SELECT max(id) AS id FROM step_log GROUP BY run_id, step) last ON last.id = l.id
JOIN runs r ON r.id = l.run_id
GROUP BY 1, 2, 3, 4;
DELETE FROM count_messages;
INSERT INTO count_messages (scenario, channel, template, status, failure, messages)
SELECT {_message_key("o")}, count(*) FROM outbox o GROUP BY 1, 2, 3, 4, 5;
DELETE FROM count_events;
INSERT INTO count_events (state, events) SELECT {_event_state("")}, count(*) FROM events GROUP BY 1;
"""

_TRIGGER_NAMES = [
    line.split()[2] for line in TRIGGERS.splitlines() if line.startswith("CREATE TRIGGER")
]  # fmt: skip


def without_counting(db: sqlite3.Connection) -> None:
    """Drop the counting triggers (these and the reports'), for a bulk import that
    recounts once at its end (`recount`): a row at a time is the slow way to count
    millions of rows."""
    for name in _TRIGGER_NAMES:
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    report_counts.without_counting(db)


def recount(db: sqlite3.Connection) -> None:
    """Recount every counter from the rows (the reports' too) and keep them counted from
    here on."""
    without_counting(db)
    for statement in statements(FILL + TRIGGERS):
        db.execute(statement)
    report_counts.recount(db, DEFAULT_ATTRIBUTION_MS)
