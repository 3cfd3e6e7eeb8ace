"""What became of each message, recorded when it happens, and the reports' figures counted
per hour: a report over any period reads a few counter rows per hour, not its messages.

The rules are those of docs/api.md "Reports" (server/reports.py reads the counters):

* a message counts once as sent unless it was skipped; as delivered, failed (by class of
  failure) and bounced (failed after it left) by its status;
* opened and clicked: an open or click event names the message in its key
  (`open:{id}`, `click:{id}:{link}`); the message keeps its first open and first click;
* unsubscribed: an unsubscribe on a channel is credited to the contact's latest message
  on that channel within its scenario's attribution window before it;
* ordered and revenue: an order, when it is paid, is credited to the contact's latest
  message clicked within its scenario's window before the payment, else to the latest
  message made within it (`orders.credited_to`), its total added to that message's hour.

Triggers do it, in the transaction of the change (see counters.py), and sum the hours
into days (a report over a month reads days, not 720 hours). The windows are the
scenarios' own (`attribution_windows`, written with each bundle). Revenue is counted in
millionths of the currency, exactly (totals with more than six decimals are cut there).
"""

from __future__ import annotations

import sqlite3
from decimal import ROUND_DOWN, Decimal

import msgspec

from ..program import Bundle
from ._sql import statements
from .records import ReportCount

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
#: Figures kept for each message's hour; failures and revenue add `failure:CLASS` and
#: `revenue:CURRENCY` (millionths).
FIGURES = ("sent", "delivered", "bounced", "failed", "opened", "clicked", "unsubscribed", "ordered")

COLUMNS = """
ALTER TABLE outbox ADD COLUMN opened_at INTEGER;
ALTER TABLE outbox ADD COLUMN clicked_at INTEGER;
ALTER TABLE outbox ADD COLUMN unsubscribed_at INTEGER;
ALTER TABLE orders ADD COLUMN credited_to INTEGER;
CREATE INDEX orders_credited ON orders(credited_to) WHERE credited_to IS NOT NULL;
CREATE INDEX outbox_contact_channel ON outbox(contact_id, channel, created_at);
CREATE TABLE attribution_windows (
    scenario TEXT PRIMARY KEY,
    ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE count_reports (
    scenario TEXT NOT NULL,
    -- the hour its messages were made in (ms at the start of the hour, UTC)
    hour INTEGER NOT NULL,
    step TEXT NOT NULL,
    template TEXT NOT NULL,
    channel TEXT NOT NULL,
    variant TEXT NOT NULL,
    figure TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (scenario, hour, step, template, channel, variant, figure)
) WITHOUT ROWID;
CREATE INDEX count_reports_hour ON count_reports(hour);
-- the same figures summed per day (UTC), kept from count_reports by its own triggers
CREATE TABLE count_report_days (
    scenario TEXT NOT NULL,
    day INTEGER NOT NULL,
    step TEXT NOT NULL,
    template TEXT NOT NULL,
    channel TEXT NOT NULL,
    variant TEXT NOT NULL,
    figure TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (scenario, day, step, template, channel, variant, figure)
) WITHOUT ROWID;
CREATE INDEX count_report_days_day ON count_report_days(day);
"""


def _key(m: str) -> str:
    """The counter key of message row ``m`` (its hour included)."""
    return (
        f"coalesce({m}.scenario, ''), {m}.created_at / {HOUR_MS} * {HOUR_MS}, coalesce({m}.step, ''), "
        f"coalesce({m}.template, ''), {m}.channel, coalesce({m}.variant, '')"
    )


_INTO = "INSERT INTO count_reports (scenario, hour, step, template, channel, variant, figure, value) "
_ADDING = " ON CONFLICT DO UPDATE SET value = value + excluded.value;"


def _millionths(text: str) -> str:
    """SQL for a decimal text (``120.5``, ``-3``) in exact millionths, without floating point."""
    dot = f"instr({text}, '.')"
    sign = f"(CASE WHEN {text} LIKE '-%' THEN -1 ELSE 1 END)"
    return (
        f"(CASE WHEN {dot} = 0 THEN CAST({text} AS INTEGER) * 1000000 "
        f"ELSE CAST(substr({text}, 1, {dot} - 1) AS INTEGER) * 1000000 "
        f"+ {sign} * CAST(substr(substr({text}, {dot} + 1) || '000000', 1, 6) AS INTEGER) END)"
    )


def _window(m: str) -> str:
    return f"coalesce((SELECT ms FROM attribution_windows WHERE scenario = {m}.scenario), {{default}})"


def _status_deltas(new: str, old: str | None) -> str:
    """(figure, delta) rows of what a message's status counts for, ``new`` minus ``old``."""

    def was(condition: str) -> str:
        return f" - ({condition.format(m=old)})" if old else ""

    rows = [
        ("'delivered'", "{m}.status = 'sent'"),
        ("'failed'", "{m}.status = 'failed'"),
        ("'bounced'", "{m}.status = 'failed' AND {m}.attempts > 0"),
    ]
    parts = [f"SELECT {name} AS figure, ({cond.format(m=new)}){was(cond)} AS delta" for name, cond in rows]
    parts.append(f"SELECT 'failure:' || coalesce({new}.failure, 'unknown'), {new}.status = 'failed'")
    if old:
        parts.append(f"SELECT 'failure:' || coalesce({old}.failure, 'unknown'), -({old}.status = 'failed')")
    return " UNION ALL ".join(parts)


#: What an open or click event does (``new`` is the event).
_OPENED = """
    UPDATE outbox SET
        opened_at = min(coalesce(opened_at, new.occurred_at), new.occurred_at),
        clicked_at = CASE WHEN new.type = 'message.clicked'
            THEN min(coalesce(clicked_at, new.occurred_at), new.occurred_at) ELSE clicked_at END
    WHERE id = CAST(substr(new.key, instr(new.key, ':') + 1) AS INTEGER) AND contact_id = new.contact_id
    AND substr(new.key, instr(new.key, ':') + 1, 1) BETWEEN '0' AND '9';
"""

#: What an unsubscribe does: its contact's latest message on the channel within the window.
_UNSUBSCRIBED = f"""
    UPDATE outbox SET unsubscribed_at = coalesce(unsubscribed_at, new.occurred_at) WHERE id = (
        SELECT o.id FROM outbox o
        WHERE o.contact_id = new.contact_id
        AND o.channel = coalesce(json_extract(new.payload, '$.data.channel'), 'email')
        AND o.created_at <= new.occurred_at AND o.status != 'skipped'
        AND new.occurred_at - o.created_at <= {_window("o")}
        ORDER BY o.created_at DESC, o.id DESC LIMIT 1
    );
"""

#: What a payment does (``new`` is the order): credit it, then count it in the message's hour.
_PAID = f"""
    UPDATE orders SET credited_to = (
        SELECT id FROM (
            SELECT o.id, 0 AS pass, o.clicked_at AS moment FROM outbox o
            WHERE o.contact_id = new.contact_id AND o.status != 'skipped' AND o.clicked_at IS NOT NULL
            AND o.clicked_at <= new.paid_at AND new.paid_at - o.clicked_at <= {_window("o")}
            UNION ALL
            SELECT o.id, 1, o.created_at FROM outbox o
            WHERE o.contact_id = new.contact_id AND o.status != 'skipped'
            AND o.created_at <= new.paid_at AND new.paid_at - o.created_at <= {_window("o")}
        ) ORDER BY pass, moment DESC, id DESC LIMIT 1
    ) WHERE id = new.id;
    {_INTO}
    SELECT {_key("m")}, figure, delta FROM orders c JOIN outbox m ON m.id = c.credited_to,
        (SELECT 'ordered' AS figure, 1 AS delta
         UNION ALL SELECT 'revenue:' || coalesce(new.currency, ''), {_millionths("coalesce(new.total, '0')")})
    WHERE c.id = new.id
    {_ADDING}
"""


def _to_day(row: str, value: str) -> str:
    return (
        "INSERT INTO count_report_days (scenario, day, step, template, channel, variant, figure, value) "
        f"VALUES ({row}.scenario, {row}.hour / {DAY_MS} * {DAY_MS}, {row}.step, {row}.template, {row}.channel, "
        f"{row}.variant, {row}.figure, {value}) ON CONFLICT DO UPDATE SET value = value + excluded.value;"
    )


#: The days' counters follow the hours' (an upsert that updates fires the update trigger).
DAY_TRIGGERS = f"""
CREATE TRIGGER report_day_insert AFTER INSERT ON count_reports BEGIN {_to_day("new", "new.value")} END;
CREATE TRIGGER report_day_update AFTER UPDATE OF value ON count_reports WHEN new.value != old.value BEGIN
    {_to_day("new", "new.value - old.value")}
END;
CREATE TRIGGER report_day_delete AFTER DELETE ON count_reports BEGIN {_to_day("old", "-old.value")} END;
"""


def triggers(default_window_ms: int) -> str:
    paid = _PAID.replace("{default}", str(default_window_ms))
    unsubscribed = _UNSUBSCRIBED.replace("{default}", str(default_window_ms))
    outcomes = "\n".join(
        f"SELECT '{figure}' AS figure, (new.{column} IS NOT NULL) - (old.{column} IS NOT NULL) AS delta"
        + ("" if figure == "unsubscribed" else " UNION ALL")
        for figure, column in (("opened", "opened_at"), ("clicked", "clicked_at"), ("unsubscribed", "unsubscribed_at"))
    )
    sent = f"SELECT 'sent' AS figure, 1 AS delta UNION ALL {_status_deltas('new', None)}"
    return (
        DAY_TRIGGERS
        + f"""
CREATE TRIGGER report_message_insert AFTER INSERT ON outbox WHEN new.status != 'skipped' BEGIN
    {_INTO}
    SELECT {_key("new")}, figure, delta FROM ({sent}) WHERE delta != 0
    {_ADDING}
END;
CREATE TRIGGER report_message_status AFTER UPDATE OF status, failure ON outbox
WHEN old.status != 'skipped' AND (old.status IS NOT new.status OR old.failure IS NOT new.failure) BEGIN
    {_INTO}
    SELECT {_key("new")}, figure, delta FROM ({_status_deltas("new", "old")}) WHERE delta != 0
    {_ADDING}
END;
CREATE TRIGGER report_message_outcome AFTER UPDATE OF opened_at, clicked_at, unsubscribed_at ON outbox
WHEN new.status != 'skipped' BEGIN
    {_INTO}
    SELECT {_key("new")}, figure, delta FROM ({outcomes}) WHERE delta != 0
    {_ADDING}
END;
CREATE TRIGGER report_opened AFTER INSERT ON events
WHEN new.type IN ('message.opened', 'message.clicked') BEGIN {_OPENED} END;
CREATE TRIGGER report_unsubscribed AFTER INSERT ON events
WHEN new.type = 'message.unsubscribed' BEGIN {unsubscribed} END;
CREATE TRIGGER report_paid_insert AFTER INSERT ON orders WHEN new.paid_at IS NOT NULL BEGIN {paid} END;
CREATE TRIGGER report_paid_update AFTER UPDATE OF paid_at ON orders
WHEN new.paid_at IS NOT NULL AND old.paid_at IS NULL AND new.credited_to IS NULL BEGIN {paid} END;
"""
    )


def _trigger_names(script: str) -> list[str]:
    return [line.split()[2] for line in script.splitlines() if line.startswith("CREATE TRIGGER")]


def without_counting(db: sqlite3.Connection) -> None:
    """Drop the report triggers, for a bulk import that calls `recount` at its end."""
    for name in _trigger_names(triggers(0)):
        db.execute(f"DROP TRIGGER IF EXISTS {name}")


def recount(db: sqlite3.Connection, default_window_ms: int) -> None:
    """Every message's outcome and every report counter again from the rows: messages by
    status, then each open, click and unsubscribe event and each paid order replayed, in
    the order they happened, through the same statements the triggers run."""
    without_counting(db)
    for statement in statements(triggers(default_window_ms)):
        db.execute(statement)
    db.execute("UPDATE orders SET credited_to = NULL WHERE credited_to IS NOT NULL")
    db.execute(
        "UPDATE outbox SET opened_at = NULL, clicked_at = NULL, unsubscribed_at = NULL WHERE opened_at IS NOT NULL "
        "OR clicked_at IS NOT NULL OR unsubscribed_at IS NOT NULL"
    )
    db.execute("DELETE FROM count_reports")
    db.execute("DELETE FROM count_report_days")
    _count_statuses(db)
    # Replayed in the order they happened (an event before an order paid at the same
    # moment) through a temporary view whose INSTEAD OF triggers run the triggers' bodies.
    window = str(default_window_ms)
    db.execute(
        "CREATE TEMP VIEW replay (kind, id, key, type, contact_id, occurred_at, payload, paid_at, total, currency) "
        "AS SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0"
    )
    try:
        for name, when, body in (
            ("opened", "new.type IN ('message.opened', 'message.clicked')", _OPENED),
            ("unsubscribed", "new.type = 'message.unsubscribed'", _UNSUBSCRIBED.replace("{default}", window)),
            ("paid", "new.kind = 1", _PAID.replace("{default}", window)),
        ):
            db.execute(f"CREATE TEMP TRIGGER replay_{name} INSTEAD OF INSERT ON replay WHEN {when} BEGIN {body} END")
        db.execute(
            "INSERT INTO replay SELECT * FROM ("
            "SELECT 0 AS kind, id, key, type, contact_id, occurred_at, payload, NULL, NULL, NULL FROM events "
            "WHERE type IN ('message.opened', 'message.clicked', 'message.unsubscribed') "
            "UNION ALL SELECT 1, id, NULL, NULL, contact_id, paid_at, NULL, paid_at, total, currency FROM orders "
            "WHERE paid_at IS NOT NULL) ORDER BY occurred_at, kind, id"
        )
    finally:
        db.execute("DROP VIEW IF EXISTS temp.replay")


def _count_statuses(db: sqlite3.Connection) -> None:
    """sent, delivered, failed, bounced and failures of every message not skipped, grouped."""
    for figure, where in (
        ("'sent'", "m.status != 'skipped'"),
        ("'delivered'", "m.status = 'sent'"),
        ("'failed'", "m.status = 'failed'"),
        ("'bounced'", "m.status = 'failed' AND m.attempts > 0"),
        ("'failure:' || coalesce(m.failure, 'unknown')", "m.status = 'failed'"),
    ):
        db.execute(f"{_INTO} SELECT {_key('m')}, {figure}, count(*) FROM outbox m WHERE {where} "
                   f"GROUP BY 1, 2, 3, 4, 5, 6, 7 {_ADDING}")  # fmt: skip


def _millionths_of(total: str | None) -> int:
    """A decimal text in exact millionths, cut as `_millionths` cuts it in SQL."""
    amount = (Decimal(total or "0") * 1_000_000).to_integral_value(rounding=ROUND_DOWN)
    return int(amount)


def read(
    db: sqlite3.Connection, since: int, until: int, scenario: str | None, origin: int, bucket_ms: int | None
) -> list[ReportCount]:
    """The figures of the messages made in [since, until) (of one scenario, or all), summed
    by bucket (``bucket_ms`` wide from ``origin``; one bucket when None), scenario, step,
    template, channel and variant. Whole days come from the days' counters (when the
    buckets allow), whole hours from the hours'; the parts of an hour at either end, from
    their messages' own outcomes."""
    first = -(-since // HOUR_MS) * HOUR_MS  # the first whole hour
    last = until // HOUR_MS * HOUR_MS  # where the last whole hour ends
    if first >= last:
        first = last = until  # no whole hour: every message from its row
    sums: dict[tuple[int, str, str, str, str, str, str], int] = {}
    # Whole days from the days' counters, when each lies inside one bucket (no buckets,
    # or buckets of whole days from a midnight, UTC); the hours around them from the hours'.
    day_first, day_last = -(-first // DAY_MS) * DAY_MS, last // DAY_MS * DAY_MS
    if day_first < day_last and (bucket_ms is None or (bucket_ms % DAY_MS == 0 and origin % DAY_MS == 0)):
        _add_counters(db, sums, "count_report_days", "day", day_first, day_last, scenario, origin, bucket_ms)
        hours = [(first, day_first), (day_last, last)]
    else:
        hours = [(first, last)]
    for start, end in hours:
        if start < end:
            _add_counters(db, sums, "count_reports", "hour", start, end, scenario, origin, bucket_ms)
    for start, end in ((since, first), (last, until)):
        if start < end:
            _add_messages(db, sums, start, end, scenario, origin, bucket_ms)
    return [ReportCount(*key, value) for key, value in sums.items() if value]


def _add_counters(
    db: sqlite3.Connection, sums: dict[tuple[int, str, str, str, str, str, str], int], table: str, moment: str,
    since: int, until: int, scenario: str | None, origin: int, bucket_ms: int | None,
) -> None:  # fmt: skip
    """The counters of ``table`` (per hour or per day: ``moment``) in [since, until), by bucket."""
    # floor division (SQLite's `/` truncates towards 0): a moment before the origin falls
    # in bucket -1, as in `_add_messages`
    since_origin, width = f"({moment} - {int(origin)})", int(bucket_ms or 1)
    bucket = f"({since_origin} - ({since_origin} % {width} + {width}) % {width}) / {width}" if bucket_ms else "0"
    where = f"{moment} >= ? AND {moment} < ?" + (" AND scenario = ?" if scenario is not None else "")
    params: tuple[object, ...] = (since, until, scenario) if scenario is not None else (since, until)
    for row in db.execute(
        f"SELECT {bucket}, scenario, step, template, channel, variant, figure, sum(value) FROM {table} "
        f"WHERE {where} GROUP BY 1, 2, 3, 4, 5, 6, 7",
        params,
    ):
        sums[row[:7]] = sums.get(row[:7], 0) + int(row[7])


def _add_messages(
    db: sqlite3.Connection, sums: dict[tuple[int, str, str, str, str, str, str], int], since: int, until: int,
    scenario: str | None, origin: int, bucket_ms: int | None,
) -> None:  # fmt: skip
    sql = (
        "SELECT id, coalesce(scenario, ''), coalesce(step, ''), coalesce(template, ''), channel, "
        "coalesce(variant, ''), status, attempts, coalesce(failure, 'unknown'), opened_at, clicked_at, "
        "unsubscribed_at, created_at FROM outbox WHERE created_at >= ? AND created_at < ? AND status != 'skipped'"
    )
    params: tuple[object, ...] = (since, until)
    if scenario is not None:
        sql, params = sql + " AND scenario = ?", (*params, scenario)
    messages = db.execute(sql, params).fetchall()
    keys: dict[int, tuple[int, str, str, str, str, str]] = {}
    for (message_id, name, step, template, channel, variant, status, attempts, failure, opened, clicked, unsub,
         made) in messages:  # fmt: skip
        bucket = (made // HOUR_MS * HOUR_MS - origin) // bucket_ms if bucket_ms else 0
        key = keys[message_id] = (bucket, name, step, template, channel, variant)
        figures = {
            "sent": 1, "delivered": status == "sent", "failed": status == "failed",
            "bounced": status == "failed" and attempts > 0, f"failure:{failure}": status == "failed",
            "opened": opened is not None, "clicked": clicked is not None, "unsubscribed": unsub is not None,
        }  # fmt: skip
        for figure, value in figures.items():
            if value:
                sums[(*key, figure)] = sums.get((*key, figure), 0) + int(value)
    ids = list(keys)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for credited, total, currency in db.execute(
            f"SELECT credited_to, total, currency FROM orders WHERE credited_to IN ({','.join('?' * len(chunk))})",
            chunk,
        ):
            key = keys[credited]
            sums[(*key, "ordered")] = sums.get((*key, "ordered"), 0) + 1
            revenue = (*key, f"revenue:{currency or ''}")
            sums[revenue] = sums.get(revenue, 0) + _millionths_of(total)


def remember_windows(db: sqlite3.Connection, blob: bytes | None = None) -> None:
    """The attribution windows of a bundle's scenarios (the latest stored, if not given)."""
    if blob is None:
        row = db.execute("SELECT blob FROM bundles ORDER BY version DESC LIMIT 1").fetchone()
        if row is None:
            return
        blob = bytes(row[0])
    try:
        bundle = msgspec.msgpack.decode(blob, type=Bundle)
    except msgspec.DecodeError:  # not a bundle (a test's placeholder): nothing to remember
        return
    db.executemany(
        "INSERT INTO attribution_windows (scenario, ms) VALUES (?, ?) "
        "ON CONFLICT (scenario) DO UPDATE SET ms = excluded.ms",
        [(name, program.attribution_ms) for name, program in bundle.scenarios.items()],
    )
