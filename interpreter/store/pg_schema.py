"""The PostgreSQL side of the one ordered list of migrations (schema.MIGRATIONS).

Each migration's SQLite script, said PostgreSQL's way by `pg_dialect.schema`, unless the
migration has PostgreSQL SQL of its own here (`OWN`): the first (whose run ids come in
blocks from the database), and the counters' and reports' triggers (plpgsql functions
doing what the SQLite triggers of counters.py and report_counts.py do, in the same
transaction as the change they count).

A PostgreSQL database is always made by this code from migration 1 on, so the fills
SQLite's later migrations did for rows already there (`schema.AFTER`) have nothing to do.
"""

from __future__ import annotations

from ..program import DEFAULT_ATTRIBUTION_MS
from . import counters, report_counts
from .pg_dialect import schema
from .report_counts import DAY_MS, HOUR_MS
from .schema import MIGRATIONS

#: Run ids a process takes from the database at once (it asks for more before it runs out).
RUN_ID_BLOCK = 10_000
#: The counters' rows are spread over buckets, one chosen by each database connection
#: (migration 22): engines writing at once update rows of their own instead of queueing
#: on one row lock until the other commits. Readers sum a key's buckets.
BUCKETS = 64
BUCKET = f"(pg_backend_pid() % {BUCKETS})"


def _function(name: str, body: str, replace: bool = False) -> str:
    return (
        f"CREATE {'OR REPLACE ' if replace else ''}FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
        f"BEGIN\n{body}\nRETURN NULL;\nEND\n$body$;\n"
    )


def _trigger(name: str, when: str, table: str, function: str, condition: str | None = None) -> str:
    where = f" WHEN ({condition})" if condition else ""
    return f"CREATE TRIGGER {name} AFTER {when} ON {table} FOR EACH ROW{where} EXECUTE FUNCTION {function}();\n"


def _add(table: str, alias: str, columns: str, count: str, key: str, amount: str, spread: bool = False) -> str:
    if spread:
        columns, key = f"{columns}, bucket", f"{key}, {BUCKET}"
    return (
        f"INSERT INTO {table} AS {alias} ({columns}, {count}) VALUES ({key}, {amount}) "
        f"ON CONFLICT ({columns}) DO UPDATE SET {count} = {alias}.{count} + excluded.{count};"
    )


_RUNS = "scenario, step, status"
_MESSAGES = "scenario, channel, template, status, failure"


def _run_key(row: str) -> str:
    return f"{row}.scenario, coalesce({row}.step, ''), {row}.status"


def _message_key(row: str) -> str:
    return (
        f"coalesce({row}.scenario, ''), {row}.channel, coalesce({row}.template, ''), {row}.status, "
        f"coalesce({row}.failure, '')"
    )


def _event_state(row: str) -> str:
    return (
        f"CASE WHEN {row}.processed_at IS NULL THEN 'pending' WHEN {row}.error IS NOT NULL THEN 'failed' "
        "ELSE 'processed' END"
    )


def _both(remove: str, add: str) -> str:
    return (
        f"IF TG_OP IN ('UPDATE', 'DELETE') THEN\n{remove}\nEND IF;\n"
        f"IF TG_OP IN ('INSERT', 'UPDATE') THEN\n{add}\nEND IF;"
    )


def _steps_body(spread: bool) -> str:
    """count_steps: the run's previous entry for the step is counted no more, this one is."""
    if not spread:
        return """UPDATE count_steps SET runs = runs - 1
    WHERE (scenario, step, name, outcome) IN (
        SELECT r.scenario, l.step, l.name, l.outcome FROM step_log l, runs r
        WHERE l.run_id = NEW.run_id AND l.step = NEW.step AND l.id < NEW.id AND r.id = NEW.run_id
        ORDER BY l.id DESC LIMIT 1
    );
INSERT INTO count_steps AS c (scenario, step, name, outcome, runs, first_id)
    SELECT r.scenario, NEW.step, NEW.name, NEW.outcome, 1, NEW.id FROM runs r WHERE r.id = NEW.run_id
    ON CONFLICT (scenario, step, name, outcome) DO UPDATE SET runs = c.runs + 1;"""
    return f"""INSERT INTO count_steps AS c (scenario, step, name, outcome, bucket, runs, first_id)
    SELECT r.scenario, l.step, l.name, l.outcome, {BUCKET}, -1, l.id FROM step_log l, runs r
    WHERE l.run_id = NEW.run_id AND l.step = NEW.step AND l.id < NEW.id AND r.id = NEW.run_id
    ORDER BY l.id DESC LIMIT 1
    ON CONFLICT (scenario, step, name, outcome, bucket) DO UPDATE SET runs = c.runs - 1;
INSERT INTO count_steps AS c (scenario, step, name, outcome, bucket, runs, first_id)
    SELECT r.scenario, NEW.step, NEW.name, NEW.outcome, {BUCKET}, 1, NEW.id FROM runs r WHERE r.id = NEW.run_id
    ON CONFLICT (scenario, step, name, outcome, bucket) DO UPDATE SET runs = c.runs + 1;"""


def _counter_bodies(spread: bool) -> dict[str, str]:
    """The counters' trigger functions; ``spread``: each connection counts in its bucket,
    a change taken back as an amount of -1 in it (the key's sum is right, one bucket's
    count may go below 0)."""
    if spread:
        runs = _add("count_runs", "c", _RUNS, "runs", _run_key("OLD"), "-1", True)
        messages = _add("count_messages", "c", _MESSAGES, "messages", _message_key("OLD"), "-1", True)
        events = _add("count_events", "c", "state", "events", _event_state("OLD"), "-1", True)
    else:
        runs = (
            "UPDATE count_runs SET runs = runs - 1 "
            "WHERE scenario = OLD.scenario AND step = coalesce(OLD.step, '') AND status = OLD.status;"
        )
        messages = f"UPDATE count_messages SET messages = messages - 1 WHERE ({_MESSAGES}) = ({_message_key('OLD')});"
        events = f"UPDATE count_events SET events = events - 1 WHERE state = {_event_state('OLD')};"
    return {
        "count_runs_change": _both(runs, _add("count_runs", "c", _RUNS, "runs", _run_key("NEW"), "1", spread)),
        "count_steps_insert": _steps_body(spread),
        "count_messages_change": _both(
            messages, _add("count_messages", "c", _MESSAGES, "messages", _message_key("NEW"), "1", spread)
        ),
        "count_events_change": _both(
            events, _add("count_events", "c", "state", "events", _event_state("NEW"), "1", spread)
        ),
    }


_COUNTERS = _counter_bodies(spread=False)
COUNTERS = (
    schema(counters.TABLES)
    + _function("count_runs_change", _COUNTERS["count_runs_change"])
    + _trigger("count_runs_insert", "INSERT OR DELETE", "runs", "count_runs_change")
    + _trigger(
        "count_runs_update",
        "UPDATE OF step, status",
        "runs",
        "count_runs_change",
        "OLD.step IS DISTINCT FROM NEW.step OR OLD.status IS DISTINCT FROM NEW.status",
    )  # fmt: skip
    + _function("count_steps_insert", _COUNTERS["count_steps_insert"])
    + _trigger("count_steps_insert", "INSERT", "step_log", "count_steps_insert")
    + _function("count_messages_change", _COUNTERS["count_messages_change"])
    + _trigger("count_messages_insert", "INSERT OR DELETE", "outbox", "count_messages_change")
    + _trigger(
        "count_messages_update",
        "UPDATE OF status, failure",
        "outbox",
        "count_messages_change",
        "OLD.status IS DISTINCT FROM NEW.status OR OLD.failure IS DISTINCT FROM NEW.failure",
    )  # fmt: skip
    + _function("count_events_change", _COUNTERS["count_events_change"])
    + _trigger("count_events_insert", "INSERT OR DELETE", "events", "count_events_change")
    + _trigger(
        "count_events_update",
        "UPDATE OF processed_at, error",
        "events",
        "count_events_change",
        f"({_event_state('OLD')}) IS DISTINCT FROM ({_event_state('NEW')})",
    )  # fmt: skip
)


def _key(m: str) -> str:
    return (
        f"coalesce({m}.scenario, ''), {m}.created_at / {HOUR_MS} * {HOUR_MS}, coalesce({m}.step, ''), "
        f"coalesce({m}.template, ''), {m}.channel, coalesce({m}.variant, '')"
    )


_REPORT_KEY = "scenario, hour, step, template, channel, variant, figure"
_INTO = f"INSERT INTO count_reports AS c ({_REPORT_KEY}, value) "
_ADDING = f" ON CONFLICT ({_REPORT_KEY}) DO UPDATE SET value = c.value + excluded.value;"


def _flag(condition: str) -> str:
    return f"(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _status_deltas(new: str, old: str | None) -> str:
    """(figure, delta) rows of what a message's status counts for, ``new`` minus ``old``."""
    rows = [
        ("'delivered'", "{m}.status = 'sent'"),
        ("'failed'", "{m}.status = 'failed'"),
        ("'bounced'", "{m}.status = 'failed' AND {m}.attempts > 0"),
    ]
    parts = []
    for name, condition in rows:
        was = f" - {_flag(condition.format(m=old))}" if old else ""
        parts.append(f"SELECT {name} AS figure, {_flag(condition.format(m=new))}{was} AS delta")
    failed = "{m}.status = 'failed'"
    parts.append(f"SELECT 'failure:' || coalesce({new}.failure, 'unknown'), {_flag(failed.format(m=new))}")
    if old:
        parts.append(f"SELECT 'failure:' || coalesce({old}.failure, 'unknown'), -{_flag(failed.format(m=old))}")
    return " UNION ALL ".join(parts)


def _window(m: str) -> str:
    return f"coalesce((SELECT ms FROM attribution_windows WHERE scenario = {m}.scenario), {DEFAULT_ATTRIBUTION_MS})"


#: The message an open or click event names: `open:{id}`, `click:{id}:{link}`.
_NAMED_MESSAGE = "CAST(substring(NEW.key from '^[^:]*:([0-9]{1,18})') AS BIGINT)"

_OPENED = f"""
UPDATE outbox SET
    opened_at = LEAST(coalesce(opened_at, NEW.occurred_at), NEW.occurred_at),
    clicked_at = CASE WHEN NEW.type = 'message.clicked'
        THEN LEAST(coalesce(clicked_at, NEW.occurred_at), NEW.occurred_at) ELSE clicked_at END
WHERE id = {_NAMED_MESSAGE} AND contact_id = NEW.contact_id;
"""

_UNSUBSCRIBED = f"""
UPDATE outbox SET unsubscribed_at = coalesce(unsubscribed_at, NEW.occurred_at) WHERE id = (
    SELECT o.id FROM outbox o
    WHERE o.contact_id = NEW.contact_id
    AND o.channel = coalesce(NEW.payload::jsonb #>> '{{data,channel}}', 'email')
    AND o.created_at <= NEW.occurred_at AND o.status != 'skipped'
    AND NEW.occurred_at - o.created_at <= {_window("o")}
    ORDER BY o.created_at DESC, o.id DESC LIMIT 1
);
"""

#: A decimal text in exact millionths, cut towards zero (as report_counts._millionths_of).
_MILLIONTHS = "trunc(CAST(coalesce(NEW.total, '0') AS NUMERIC) * 1000000)::BIGINT"

_PAID = f"""
UPDATE orders SET credited_to = (
    SELECT id FROM (
        SELECT o.id, 0 AS pass, o.clicked_at AS moment FROM outbox o
        WHERE o.contact_id = NEW.contact_id AND o.status != 'skipped' AND o.clicked_at IS NOT NULL
        AND o.clicked_at <= NEW.paid_at AND NEW.paid_at - o.clicked_at <= {_window("o")}
        UNION ALL
        SELECT o.id, 1, o.created_at FROM outbox o
        WHERE o.contact_id = NEW.contact_id AND o.status != 'skipped'
        AND o.created_at <= NEW.paid_at AND NEW.paid_at - o.created_at <= {_window("o")}
    ) AS candidates ORDER BY pass, moment DESC, id DESC LIMIT 1
) WHERE id = NEW.id;
{_INTO}
SELECT {_key("m")}, figure, delta FROM orders p JOIN outbox m ON m.id = p.credited_to,
    (SELECT 'ordered' AS figure, 1::BIGINT AS delta
     UNION ALL SELECT 'revenue:' || coalesce(NEW.currency, ''), {_MILLIONTHS}) AS figures
WHERE p.id = NEW.id
{_ADDING}
"""


def _to_day(row: str, value: str, spread: bool = False) -> str:
    bucket = (", bucket", f", {row}.bucket") if spread else ("", "")
    return (
        f"INSERT INTO count_report_days AS d (scenario, day, step, template, channel, variant, figure{bucket[0]}, "
        f"value) VALUES ({row}.scenario, {row}.hour / {DAY_MS} * {DAY_MS}, {row}.step, {row}.template, "
        f"{row}.channel, {row}.variant, {row}.figure{bucket[1]}, {value}) "
        f"ON CONFLICT (scenario, day, step, template, channel, variant, figure{bucket[0]}) "
        "DO UPDATE SET value = d.value + excluded.value;"
    )


def _day_body(spread: bool) -> str:
    return (
        "IF TG_OP = 'INSERT' THEN " + _to_day("NEW", "NEW.value", spread) + "\n"
        "ELSIF TG_OP = 'UPDATE' THEN " + _to_day("NEW", "NEW.value - OLD.value", spread) + "\n"
        "ELSE " + _to_day("OLD", "-OLD.value", spread) + "\nEND IF;"
    )


def _outcomes() -> str:
    return " UNION ALL ".join(
        f"SELECT '{figure}' AS figure, {_flag(f'NEW.{column} IS NOT NULL')} - {_flag(f'OLD.{column} IS NOT NULL')}"
        " AS delta"
        for figure, column in (("opened", "opened_at"), ("clicked", "clicked_at"), ("unsubscribed", "unsubscribed_at"))
    )


_REPORT_MESSAGE_INSERT = (
    f"{_INTO} SELECT {_key('NEW')}, figure, delta FROM (SELECT 'sent' AS figure, 1 AS delta UNION ALL "
    f"{_status_deltas('NEW', None)}) AS deltas WHERE delta != 0 {_ADDING}"
)
_REPORT_MESSAGE_STATUS = (
    f"{_INTO} SELECT {_key('NEW')}, figure, delta FROM ({_status_deltas('NEW', 'OLD')}) AS deltas "
    f"WHERE delta != 0 {_ADDING}"
)
_REPORT_MESSAGE_OUTCOME = (
    f"{_INTO} SELECT {_key('NEW')}, figure, delta FROM ({_outcomes()}) AS deltas WHERE delta != 0 {_ADDING}"
)

REPORTS = (
    schema(report_counts.COLUMNS)
    + _function("report_day_change", _day_body(spread=False))
    + _trigger("report_day_insert", "INSERT OR DELETE", "count_reports", "report_day_change")
    + _trigger(
        "report_day_update", "UPDATE OF value", "count_reports", "report_day_change", "NEW.value != OLD.value"
    )  # fmt: skip
    + _function("report_message_insert", _REPORT_MESSAGE_INSERT)
    + _trigger("report_message_insert", "INSERT", "outbox", "report_message_insert", "NEW.status != 'skipped'")
    + _function("report_message_status", _REPORT_MESSAGE_STATUS)
    + _trigger(
        "report_message_status",
        "UPDATE OF status, failure",
        "outbox",
        "report_message_status",
        "OLD.status != 'skipped' AND (OLD.status IS DISTINCT FROM NEW.status "
        "OR OLD.failure IS DISTINCT FROM NEW.failure)",
    )  # fmt: skip
    + _function("report_message_outcome", _REPORT_MESSAGE_OUTCOME)
    + _trigger(
        "report_message_outcome",
        "UPDATE OF opened_at, clicked_at, unsubscribed_at",
        "outbox",
        "report_message_outcome",
        "NEW.status != 'skipped'",
    )  # fmt: skip
    + _function("report_opened", _OPENED)
    + _trigger(
        "report_opened", "INSERT", "events", "report_opened", "NEW.type IN ('message.opened', 'message.clicked')"
    )
    + _function("report_unsubscribed", _UNSUBSCRIBED)
    + _trigger("report_unsubscribed", "INSERT", "events", "report_unsubscribed", "NEW.type = 'message.unsubscribed'")
    + _function("report_paid", _PAID)
    + _trigger("report_paid_insert", "INSERT", "orders", "report_paid", "NEW.paid_at IS NOT NULL")
    + _trigger(
        "report_paid_update",
        "UPDATE OF paid_at",
        "orders",
        "report_paid",
        "NEW.paid_at IS NOT NULL AND OLD.paid_at IS NULL AND NEW.credited_to IS NULL",
    )  # fmt: skip
)


def _spread_report(body: str) -> str:
    """A report function's body writing to its connection's bucket of count_reports."""
    assert body.count(_INTO) == body.count(_ADDING) == body.count("figure, delta FROM") == 1, body
    return (
        body.replace(_INTO, f"INSERT INTO count_reports AS c ({_REPORT_KEY}, bucket, value) ")
        .replace(_ADDING, f" ON CONFLICT ({_REPORT_KEY}, bucket) DO UPDATE SET value = c.value + excluded.value;")
        .replace("figure, delta FROM", f"figure, {BUCKET}, delta FROM")
    )


def _spread_table(table: str, key: str) -> str:
    return (
        f"ALTER TABLE {table} ADD COLUMN bucket SMALLINT NOT NULL DEFAULT 0;\n"
        f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey;\n"
        f"ALTER TABLE {table} ADD PRIMARY KEY ({key}, bucket);\n"
    )


#: The counters' rows spread over buckets (see BUCKETS): a bucket column in each key, and
#: the trigger functions that write them replaced (their triggers stay).
SPREAD = (
    _spread_table("count_runs", _RUNS)
    + _spread_table("count_steps", "scenario, step, name, outcome")
    + _spread_table("count_messages", _MESSAGES)
    + _spread_table("count_events", "state")
    + _spread_table("count_reports", _REPORT_KEY)
    + _spread_table("count_report_days", "scenario, day, step, template, channel, variant, figure")
    + "".join(_function(name, body, replace=True) for name, body in _counter_bodies(spread=True).items())
    + _function("report_day_change", _day_body(spread=True), replace=True)
    + "".join(
        _function(name, _spread_report(body), replace=True)
        for name, body in (
            ("report_message_insert", _REPORT_MESSAGE_INSERT),
            ("report_message_status", _REPORT_MESSAGE_STATUS),
            ("report_message_outcome", _REPORT_MESSAGE_OUTCOME),
            ("report_paid", _PAID),
        )
    )
)

#: Migrations (numbered from 1) whose PostgreSQL SQL is their own rather than translated.
OWN: dict[int, str] = {
    1: schema(MIGRATIONS[0][1]) + f"ALTER TABLE runs ALTER COLUMN id SET INCREMENT BY {RUN_ID_BLOCK};\n",
    10: COUNTERS,
    11: REPORTS,
    22: SPREAD,
}


def script(number: int) -> str:
    """The PostgreSQL SQL of migration ``number`` (from 1)."""
    return OWN.get(number) or schema(MIGRATIONS[number - 1][1])
