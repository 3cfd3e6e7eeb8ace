"""GDPR in the SQLite store: everything held about a contact, erasing it, and the audit.

Erasing keeps what is counted and drops who it was: every row of the contact moves to a
pseudonym (`erased-...`), the personal columns are emptied (names, addresses, attributes,
run variables, message contents, event payloads), free text that quotes the contact
(errors, reasons, step details, import errors) has its values blanked, suppressed
addresses stay suppressed as digests (`suppressions.erased_key`), and the contact's rows
in contact imports (their CSV rows, kept until a job is done) are emptied: a job that
goes on skips them rather than make the contact again. Statuses, steps, amounts and times are
untouched, so the counters (counters.py, report_counts.py) still equal a recount.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from ._sql import SqlAccess
from .records import CANCELLED, LIVE
from .suppressions import erased_key

#: The rows of a contact, table by table: (table, the column holding the contact's id).
CONTACT_TABLES = (("orders", "contact_id"), ("course_access", "contact_id"), ("list_members", "contact_id"),
                  ("segment_members", "contact_id"), ("segment_checks", "contact_id"), ("date_checks", "contact_id"),
                  ("date_triggers", "contact_id"), ("events", "contact_id"),
                  ("runs", "contact_id"), ("outbox", "contact_id"), ("coupon_codes", "contact_id"),
                  ("bonus_ledger", "contact_id"))  # fmt: skip
#: Columns holding JSON text, decoded in an export.
_JSON = {"attributes", "channels", "tags", "items", "vars", "payload", "message"}
#: Events whose key points at a message (`open:<outbox id>`): the reports replay them, so they stay.
_MESSAGE_EVENTS = ("message.opened", "message.clicked", "message.unsubscribed")
ERASED = "[erased]"


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    for name in _JSON & row.keys():
        if isinstance(row[name], str):
            try:
                row[name] = json.loads(row[name])
            except ValueError:
                pass
    return row


def _of_contact(row: object, contact_id: str) -> bool:
    """Whether a stored import row ([line, {column: value}]) is the contact's: its `id`,
    as the import reads it."""
    return isinstance(row, list) and len(row) == 2 and isinstance(row[1], dict) \
        and str(row[1].get("id") or "").strip() == contact_id  # fmt: skip


def _import_rows(db: sqlite3.Connection, contact_id: str) -> list[dict[str, Any]]:
    """The contact's rows in imports not done yet: job, line and the CSV row."""
    found = []
    for job_id, rows in db.execute("SELECT id, rows FROM import_jobs WHERE rows IS NOT NULL ORDER BY id"):
        found += [{"job": job_id, "line": row[0], "row": row[1]} for row in json.loads(rows)
                  if _of_contact(row, contact_id)]  # fmt: skip
    return found


def _erase_imports(db: sqlite3.Connection, contact_id: str, values: Sequence[str]) -> int:
    """Empty the contact's rows of imports (the import skips an empty row) and blank
    ``values`` in every job's errors; how many rows were emptied."""
    emptied = 0
    for job_id, rows_text, errors_text in db.execute("SELECT id, rows, errors FROM import_jobs").fetchall():
        rows = json.loads(rows_text) if rows_text else None
        mine = [i for i, row in enumerate(rows or ()) if _of_contact(row, contact_id)]
        for i in mine:
            rows[i][1] = {}  # type: ignore[index]
        errors = json.loads(errors_text)
        for error in errors:
            for value in values:
                error["error"] = str(error.get("error", "")).replace(value, ERASED)
        scrubbed = json.dumps(errors, ensure_ascii=False)
        if mine or scrubbed != errors_text:
            kept = json.dumps(rows, ensure_ascii=False) if rows is not None else None
            db.execute("UPDATE import_jobs SET rows = ?, errors = ? WHERE id = ?", (kept, scrubbed, job_id))
        emptied += len(mine)
    return emptied


def _dicts(db: sqlite3.Connection, sql: str, params: Sequence[object]) -> list[dict[str, Any]]:
    cursor = db.execute(sql, tuple(params))
    names = [d[0] for d in cursor.description]
    return [_decoded(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]


class PrivacyMixin(SqlAccess):
    async def contact_data(self, contact_id: str, addresses: Sequence[tuple[str, str]]) -> dict[str, Any] | None:
        """Every row held about a contact, by table (None if there is no such contact); the
        suppressions of ``addresses`` ((channel, normal address) pairs); run step logs and
        order status histories under their run and order."""

        def read(db: sqlite3.Connection) -> dict[str, Any] | None:
            contact = _dicts(db, "SELECT * FROM contacts WHERE id = ?", (contact_id,))
            if not contact:
                return None
            found: dict[str, Any] = {"contact": contact[0]}
            for table, column in CONTACT_TABLES:
                found[table] = _dicts(db, f"SELECT * FROM {table} WHERE {column} = ? ORDER BY 1", (contact_id,))
            for run in found["runs"]:
                run["step_log"] = _dicts(db, "SELECT * FROM step_log WHERE run_id = ? ORDER BY id", (run["id"],))
            for order in found["orders"]:
                order["statuses"] = _dicts(db, "SELECT status, at FROM order_statuses WHERE order_id = ? ORDER BY at",
                                           (order["id"],))  # fmt: skip
            found["suppressions"] = [
                row for channel, address in addresses
                for row in _dicts(db, "SELECT * FROM suppressions WHERE channel = ? AND address IN (?, ?)",
                                  (channel, address, erased_key(address)))
            ]  # fmt: skip
            found["imports"] = _import_rows(db, contact_id)
            found["audit"] = _dicts(db, "SELECT * FROM privacy_audit WHERE contact_id = ? ORDER BY id", (contact_id,))
            return found

        return await self._write_now(read)

    async def audit(self, contact_id: str, action: str, actor: str, now: int, detail: dict[str, Any]) -> None:
        """Record who did what to a contact's data, when."""
        await self._write_now(lambda db: db.execute(
            "INSERT INTO privacy_audit (at, actor, action, contact_id, detail) VALUES (?, ?, ?, ?, ?)",
            (now, actor, action, contact_id, json.dumps(detail, sort_keys=True)),
        ))  # fmt: skip

    async def erase_contact(
        self, contact_id: str, pseudonym: str, secrets: Sequence[str], addresses: Sequence[tuple[str, str]],
        actor: str, now: int,
    ) -> dict[str, int] | None:  # fmt: skip
        """Erase a contact in one transaction (None if there is no such contact): live runs
        cancelled, rows moved to ``pseudonym``, personal columns emptied, ``secrets`` (its id,
        addresses, names) blanked in free text, the suppressions of ``addresses`` kept as
        digests, and an audit record. Returns the rows changed by table."""
        values = sorted({s for s in secrets if s} | {s.lower() for s in secrets if s}, key=len, reverse=True)

        def scrubbed(column: str) -> str:
            expression = column
            for _ in values:
                expression = f"replace({expression}, ?, '{ERASED}')"
            return expression

        def erase(db: sqlite3.Connection) -> dict[str, int] | None:
            if db.execute("SELECT 1 FROM contacts WHERE id = ?", (contact_id,)).fetchone() is None:
                return None
            changed: dict[str, int] = {}
            # The contact's rows and the contact itself move to the pseudonym one after the other:
            # the references hold again by the commit (this setting ends with the transaction).
            db.execute("PRAGMA defer_foreign_keys = ON")
            live = [r[0] for r in db.execute(
                f"SELECT id FROM runs WHERE contact_id = ? AND status IN ({', '.join('?' * len(LIVE))})",
                (contact_id, *sorted(LIVE)),
            )]  # fmt: skip
            for run_id in live:
                db.execute(
                    "UPDATE runs SET status = ?, wake_at = NULL, held_wake_at = NULL, await_event = NULL, "
                    "ended_at = ?, updated_at = ?, reason = 'contact erased' WHERE id = ?",
                    (CANCELLED, now, now, run_id),
                )
                db.execute(
                    "INSERT INTO step_log (run_id, step, name, at, outcome, detail) "
                    "VALUES (?, 'cancel', 'cancel', ?, 'cancelled', 'contact erased')",
                    (run_id, now),
                )
            changed["runs cancelled"] = len(live)
            free_text = (("runs", "reason"), ("outbox", "error"), ("events", "error"))
            for table, column in free_text:
                db.execute(
                    f"UPDATE {table} SET {column} = {scrubbed(column)} WHERE contact_id = ? AND {column} IS NOT NULL",
                    (*values, contact_id),
                )
            db.execute(
                f"UPDATE step_log SET detail = {scrubbed('detail')} WHERE detail IS NOT NULL "
                "AND run_id IN (SELECT id FROM runs WHERE contact_id = ?)",
                (*values, contact_id),
            )
            db.execute("UPDATE runs SET vars = '{}' WHERE contact_id = ?", (contact_id,))
            db.execute(
                f"UPDATE outbox SET recipient = '{ERASED}', message = '{{}}' WHERE contact_id = ?", (contact_id,)
            )
            # Events not yet processed never will be: the contact they are about is gone.
            db.execute(
                "UPDATE events SET processed_at = ?, error = 'contact erased' "
                "WHERE contact_id = ? AND processed_at IS NULL",
                (now, contact_id),
            )
            marks = ", ".join("?" * len(_MESSAGE_EVENTS))
            db.execute(
                "UPDATE events SET payload = CASE WHEN type = 'message.unsubscribed' THEN json_object('type', type, "
                "'data', json_object('channel', json_extract(payload, '$.data.channel'))) "
                "ELSE json_object('type', type) "
                f"END, key = CASE WHEN type IN ({marks}) THEN key ELSE 'erased:' || id END WHERE contact_id = ?",
                (*_MESSAGE_EVENTS, contact_id),
            )
            for table, column in CONTACT_TABLES:
                changed[table] = db.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?",
                                            (pseudonym, contact_id)).rowcount  # fmt: skip
            changed["contacts"] = db.execute(
                "UPDATE contacts SET id = ?, email = NULL, phone = NULL, first_name = NULL, last_name = NULL, "
                "timezone = NULL, attributes = '{}', channels = '{}', tags = '[]', updated_at = ? WHERE id = ?",
                (pseudonym, now, contact_id),
            ).rowcount
            suppressed = 0
            for channel, address in addresses:
                db.execute("DELETE FROM soft_bounces WHERE channel = ? AND address = ?", (channel, address))
                # The digest replaces a row it may have already (an address erased before):
                # SQLite's UPDATE OR REPLACE, said so that PostgreSQL says it too.
                db.execute(
                    "DELETE FROM suppressions WHERE channel = ? AND address = ? "
                    "AND EXISTS (SELECT 1 FROM suppressions WHERE channel = ? AND address = ?)",
                    (channel, erased_key(address), channel, address),
                )
                suppressed += db.execute(
                    "UPDATE suppressions SET address = ?, detail = NULL WHERE channel = ? AND address = ?",
                    (erased_key(address), channel, address),
                ).rowcount
            changed["suppressions"] = suppressed
            changed["import rows"] = _erase_imports(db, contact_id, values)
            db.execute("UPDATE privacy_audit SET contact_id = ? WHERE contact_id = ?", (pseudonym, contact_id))
            db.execute("INSERT INTO privacy_audit (at, actor, action, contact_id, detail) VALUES (?, ?, 'erase', ?, ?)",
                       (now, actor, pseudonym, json.dumps(changed, sort_keys=True)))  # fmt: skip
            return changed

        return await self._write_now(erase)
