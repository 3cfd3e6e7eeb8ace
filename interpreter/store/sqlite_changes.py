"""The SQLite store's writes of a batch and of intake, as plain functions of a sqlite3
connection: they run whole on the connection's own thread (see `_sql.in_thread`), so a
transaction costs one hand-off to that thread however many statements it has.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from .base import StoreError
from .records import Changes, ContactUpdate, EventIn, RunRow

#: Rows per multi-row INSERT (6 parameters each; SQLite allows 32,766 parameters).
INSERT_CHUNK = 1000
RUN_COLUMNS = (
    "id, scenario, version, bundle, contact_id, order_id, trigger_event, position, step, vars, variant, "
    "status, wake_at, await_event, started_at, updated_at, ended_at, reason"
)
CONTACT_FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "language",
    "timezone",
    "country",
    "grp",
    "last_activity_at",
    "attributes",
    "channels",
    "tags",
    "currency",
    "bonus_balance",
    "lifetime_spend",
    "orders_count",
    "first_order_at",
    "last_order_at",
    "last_paid_at",
)
ORDER_FIELDS = ("number", "status", "offer", "tariff", "total", "currency", "coupon", "items", "paid_at", "seen_at")


JSON_FIELDS = frozenset({"attributes", "channels", "tags", "items"})


def placeholders(count: int) -> str:
    return ",".join("?" * count)


decode_vars = msgspec.json.Decoder(dict[str, Any]).decode
encode_vars = msgspec.json.Encoder().encode


def run_row(row: tuple[Any, ...]) -> RunRow:
    """A row of RUN_COLUMNS as a RunRow (positional: the columns are in the fields' order)."""
    variables = {} if row[9] == "{}" else decode_vars(row[9])
    return RunRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], variables, row[10],
                  row[11], row[12], row[13], row[14], row[15], row[16], row[17])  # fmt: skip


def run_values(run: RunRow) -> tuple[Any, ...]:
    return (
        run.id,
        run.scenario,
        run.version,
        run.bundle,
        run.contact_id,
        run.order_id,
        run.trigger_event,
        run.position,
        run.step,
        encode_vars(run.vars).decode(),
        run.variant,
        run.status,
        run.wake_at,
        run.await_event,
        run.started_at,
        run.updated_at,
        run.ended_at,
        run.reason,
    )


def insert_events(db: sqlite3.Connection, events: list[EventIn], now: int) -> list[tuple[int, bool]]:
    """Add events (inside the caller's transaction); (id, duplicate) for each, in order.

    A key seen before is not added again: its first id is reported, as a duplicate."""
    first: dict[str, EventIn] = {}
    for event in events:
        first.setdefault(event.key, event)
    unique = list(first.values())
    ids: dict[str, int] = {}
    for start in range(0, len(unique), INSERT_CHUNK):
        chunk = unique[start : start + INSERT_CHUNK]
        values = [v for e in chunk for v in (e.key, e.type, e.contact_id, e.occurred_at, now, e.payload)]
        # One multi-row INSERT ... RETURNING: new rows report their ids in the same statement.
        rows = db.execute(
            "INSERT INTO events (key, type, contact_id, occurred_at, received_at, payload) VALUES "
            + ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk))
            + " ON CONFLICT (key) DO NOTHING RETURNING key, id",
            values,
        ).fetchall()
        ids.update((key, event_id) for key, event_id in rows)
    fresh = set(ids)
    known = [k for k in first if k not in fresh]
    for start in range(0, len(known), 500):
        keys = known[start : start + 500]
        ids.update(db.execute(f"SELECT key, id FROM events WHERE key IN ({placeholders(len(keys))})", keys))
    return [(ids[e.key], e.key not in fresh or first[e.key] is not e) for e in events]


def payloads_of(db: sqlite3.Connection, keys: Iterable[str]) -> dict[str, str]:
    """The payloads of the events accepted under these idempotency keys."""
    unique = list(dict.fromkeys(keys))
    found: dict[str, str] = {}
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        found.update(db.execute(f"SELECT key, payload FROM events WHERE key IN ({placeholders(len(chunk))})", chunk))
    return found


def insert_batches(
    db: sqlite3.Connection, batches: list[list[EventIn]], now: int,
    refusals: Callable[[dict[str, str]], list[str | None]],
) -> list[list[tuple[int, bool]] | str]:  # fmt: skip
    """`Store.append_batches` inside the caller's transaction. Keys the door made up
    (`auto:`) are new by construction: they are not looked up."""
    keys = [e.key for batch in batches for e in batch if not e.key.startswith("auto:")]
    refused = refusals(payloads_of(db, keys)) if keys else [None] * len(batches)
    admitted = [e for batch, key in zip(batches, refused, strict=True) if key is None for e in batch]
    results = insert_events(db, admitted, now) if admitted else []
    answers: list[list[tuple[int, bool]] | str] = []
    offset = 0
    for batch, key in zip(batches, refused, strict=True):
        if key is None:
            answers.append(results[offset : offset + len(batch)])
            offset += len(batch)
        else:
            answers.append(key)
    return answers


def apply_changes(db: sqlite3.Connection, c: Changes) -> None:
    """Write a batch's changes (inside the caller's transaction), one `executemany` per table."""
    _upsert_contacts(db, c.contacts)
    # Orders in their order, each run of the same statement sent as one `executemany`;
    # then their status changes (nothing of an order's upsert reads them).
    upserts = [_order_upsert(o.id, o.contact_id, o.at, o.fields) for o in c.orders]
    for sql, same in itertools.groupby(upserts, key=lambda upsert: upsert[0]):
        db.executemany(sql, [values for _, values in same])
    statuses = [(o.id, o.status_changed_to, o.at) for o in c.orders if o.status_changed_to is not None]
    if statuses:
        db.executemany("INSERT INTO order_statuses (order_id, status, at) VALUES (?, ?, ?)", statuses)
    if c.products:
        db.executemany(
            "INSERT INTO products (id, name, category, price, currency, url, image, created_at) "
            "VALUES (:id, :name, :category, :price, :currency, :url, :image, :created_at) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, category = excluded.category, "
            "price = excluded.price, currency = excluded.currency, url = excluded.url, image = excluded.image",
            c.products,
        )
    if c.seen_products:
        db.executemany(
            "INSERT INTO products (id, name, category, price, currency, url, image, created_at) "
            "VALUES (:id, :name, :category, :price, :currency, :url, :image, :created_at) "
            "ON CONFLICT (id) DO NOTHING",
            c.seen_products,
        )
    if c.course_access:
        db.executemany(
            "INSERT INTO course_access (contact_id, course, tariff, progress, granted_at) "
            "VALUES (:contact_id, :course, :tariff, :progress, :granted_at) "
            "ON CONFLICT (contact_id, course) DO UPDATE SET "
            "tariff = coalesce(excluded.tariff, course_access.tariff), progress = excluded.progress",
            c.course_access,
        )
    if c.new_runs:
        db.executemany(
            f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({placeholders(18)})", [run_values(r) for r in c.new_runs]
        )
    if c.runs:
        db.executemany(
            "UPDATE runs SET position = ?, step = ?, vars = ?, variant = ?, status = ?, wake_at = ?, "
            "await_event = ?, updated_at = ?, ended_at = ?, reason = ? WHERE id = ? AND status != 'cancelled' "
            # A run moved to another version while this batch ran is the move's: its
            # position here is the old program's.
            "AND bundle = ?",
            [
                (r.position, r.step, encode_vars(r.vars).decode(), r.variant, r.status, r.wake_at,
                 r.await_event, r.updated_at, r.ended_at, r.reason, r.id, r.bundle)
                for r in c.runs
            ],
        )  # fmt: skip
    if (c.runs or c.new_runs) and db.execute("SELECT 1 FROM scenarios WHERE state = 'paused' LIMIT 1").fetchone():
        # A batch that began before a scenario was paused must not wake its runs:
        # their wake-up time is held until the scenario is resumed.
        db.execute(
            "UPDATE runs SET held_wake_at = wake_at, wake_at = NULL WHERE wake_at IS NOT NULL "
            "AND scenario IN (SELECT name FROM scenarios WHERE state = 'paused')"
        )
    if c.step_log:
        db.executemany(
            "INSERT INTO step_log (run_id, step, name, at, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)",
            [(s.run_id, s.step, s.name, s.at, s.outcome, s.detail) for s in c.step_log],
        )
    if c.outbox:
        db.executemany(
            "INSERT INTO outbox (run_id, step, scenario, contact_id, channel, template, recipient, message, "
            "coupon_code, variant, status, error, failure, created_at, next_attempt_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, step) DO NOTHING",
            [
                (m.run_id, m.step, m.scenario, m.contact_id, m.channel, m.template, m.recipient, m.message,
                 m.coupon_code, m.variant, m.status, m.error, m.failure, m.created_at, m.created_at)
                for m in c.outbox
            ],
        )  # fmt: skip
    if c.list_adds:
        db.executemany(
            "INSERT INTO list_members (list, contact_id, added_at) VALUES (?, ?, ?) "
            "ON CONFLICT (list, contact_id) DO NOTHING",
            c.list_adds,
        )
    if c.list_removes:
        db.executemany("DELETE FROM list_members WHERE list = ? AND contact_id = ?", c.list_removes)
    if c.segment_adds:
        db.executemany(
            "INSERT INTO segment_members (segment, contact_id, since) VALUES (?, ?, ?) "
            "ON CONFLICT (segment, contact_id) DO NOTHING",
            c.segment_adds,
        )
    if c.segment_removes:
        db.executemany("DELETE FROM segment_members WHERE segment = ? AND contact_id = ?", c.segment_removes)
    if c.segment_checks:
        db.executemany(
            # most events leave the moment as it was: no write then (a page of the index
            # by moment per event, at a million contacts)
            "INSERT INTO segment_checks (contact_id, due_at) VALUES (?, ?) "
            "ON CONFLICT (contact_id) DO UPDATE SET due_at = excluded.due_at "
            "WHERE segment_checks.due_at IS NOT excluded.due_at",
            c.segment_checks,
        )
    if c.date_checks:
        db.executemany(
            "INSERT INTO date_checks (contact_id, due_at) VALUES (?, ?) "
            "ON CONFLICT (contact_id) DO UPDATE SET due_at = excluded.due_at",
            c.date_checks,
        )
    if c.date_states:
        db.executemany(
            "INSERT INTO date_triggers (trigger_key, contact_id, basis, done_until) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (contact_id, trigger_key) DO UPDATE SET basis = excluded.basis, "
            "done_until = excluded.done_until",
            c.date_states,
        )
    for issue in c.coupons:
        if issue.from_pool:
            cursor = db.execute(
                "UPDATE coupon_codes SET contact_id = ?, run_id = ?, issued_at = ?, valid_until = ? "
                "WHERE coupon = ? AND code = ? AND contact_id IS NULL",
                (issue.contact_id, issue.run_id, issue.issued_at, issue.valid_until, issue.coupon, issue.code),
            )
            if cursor.rowcount != 1:  # drawn meanwhile by another batch: this batch must be redone
                raise StoreError(f"pool code {issue.code} of {issue.coupon} is no longer free")
        else:
            db.execute(
                "INSERT INTO coupon_codes (coupon, code, shared, contact_id, run_id, issued_at, valid_until) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (issue.coupon, issue.code, int(issue.shared), issue.contact_id, issue.run_id, issue.issued_at,
                 issue.valid_until),
            )  # fmt: skip
    if c.redemptions:
        db.executemany(
            "UPDATE coupon_codes SET redeemed_order = ?, redeemed_at = ? WHERE id = ? AND redeemed_order IS NULL",
            [(order, at, row_id) for row_id, order, at in c.redemptions],
        )
    if c.bonus:
        db.executemany(
            "INSERT INTO bonus_ledger (contact_id, order_id, run_id, amount, currency, reason, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (contact_id, order_id, reason) DO NOTHING",
            [(b.contact_id, b.order_id, b.run_id, b.amount, b.currency, b.reason, b.at) for b in c.bonus],
        )
    if c.emitted_events:
        db.executemany(
            "INSERT INTO events (key, type, contact_id, occurred_at, received_at, payload) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            [(e.key, e.type, e.contact_id, e.occurred_at, e.occurred_at, e.payload) for e in c.emitted_events],
        )
    if c.failed_events:
        db.executemany(
            "UPDATE events SET processed_at = ?, error = ? WHERE id = ?",
            [(at, error, event_id) for event_id, at, error in c.failed_events],
        )
    if c.processed_events:
        db.executemany(
            "UPDATE events SET processed_at = ? WHERE id = ?",
            [(at, event_id) for event_id, at in c.processed_events],
        )


def _upsert_contacts(db: sqlite3.Connection, updates: list[ContactUpdate]) -> None:
    # A batch may change a contact several times: merge them in order (the last value
    # of a field wins), then write contacts that change the same fields together.
    merged: dict[str, tuple[int, int, dict[str, Any]]] = {}
    for update in updates:
        first, last, fields = merged.get(update.id, (update.at, update.at, {}))
        merged[update.id] = (min(first, update.at), max(last, update.at), {**fields, **update.fields})
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for contact_id, (first, last, fields) in merged.items():
        values = {k: (json.dumps(v) if k in JSON_FIELDS else v) for k, v in fields.items() if k in CONTACT_FIELDS}
        groups.setdefault(tuple(values), []).append((contact_id, first, last, *values.values()))
    for names, rows in groups.items():
        columns = ["id", "created_at", "updated_at", *names]
        changes = ", ".join(f"{k} = excluded.{k}" for k in ["updated_at", *names])
        db.executemany(
            f"INSERT INTO contacts ({', '.join(columns)}) VALUES ({placeholders(len(columns))}) "
            f"ON CONFLICT (id) DO UPDATE SET {changes}",
            rows,
        )


def _order_upsert(order_id: str, contact_id: str, at: int, fields: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """The statement that writes an order's fields, and its values."""
    values = {k: (json.dumps(v) if k in JSON_FIELDS else v) for k, v in fields.items() if k in ORDER_FIELDS}
    updates = ", ".join(f"{k} = excluded.{k}" for k in ["updated_at", *values])  # only what was given
    values.setdefault("status", "created")
    values.setdefault("total", "0")
    columns = ["id", "contact_id", "created_at", "updated_at", *values]
    return (
        f"INSERT INTO orders ({', '.join(columns)}) VALUES ({placeholders(len(columns))}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}",
        (order_id, contact_id, fields.get("created_at", at), at, *values.values()),
    )
