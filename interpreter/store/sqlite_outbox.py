"""The outbox side of the SQLite store: the sender claims messages and records outcomes.

A claim moves a message's next attempt a lease ahead (and counts the attempt) in one
statement, so a sender that crashes mid-delivery leaves the message to be tried again
when the lease runs out; nothing is lost, and a message is sent twice only if the
process died between the provider's acceptance and the record of it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable
from typing import Any

from ._sql import SqlAccess
from .records import PENDING, Delivery, EventIn, OutboxRow
from .sqlite_changes import placeholders

_OUTBOX_COLUMNS = (
    "id, run_id, step, scenario, contact_id, channel, template, recipient, message, coupon_code, variant, "
    "status, attempts, next_attempt_at, created_at, sent_at, error, cost, parts, failure"
)


def _outbox_row(row: Iterable[Any]) -> OutboxRow:
    return OutboxRow(*row)  # _OUTBOX_COLUMNS are OutboxRow's fields, in order


class OutboxMixin(SqlAccess):
    async def claim_outbox(self, now: int, limit: int, lease_ms: int, exclude: Collection[int] = ()) -> list[OutboxRow]:
        """Pending messages due by ``now``, oldest first, each leased for ``lease_ms``;
        never those in ``exclude`` (the caller's own, in flight)."""
        busy = list(exclude)
        skip = f"AND id NOT IN ({placeholders(len(busy))}) " if busy else ""

        def claim(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return db.execute(
                f"UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id IN ("
                f"SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? {skip}"
                f"ORDER BY next_attempt_at, id LIMIT ?) RETURNING {_OUTBOX_COLUMNS}",
                (now + lease_ms, now, *busy, limit),
            ).fetchall()

        rows = await self._write_now(claim)
        return sorted((_outbox_row(r) for r in rows), key=lambda r: r.id)

    async def record_deliveries(self, deliveries: list[Delivery], events: list[EventIn]) -> None:
        """Outcomes of attempts, and the events they raise (a bounce), in one transaction."""
        if not deliveries and not events:
            return

        def record(db: sqlite3.Connection) -> None:
            db.executemany(
                "UPDATE outbox SET status = ?, next_attempt_at = ?, sent_at = CASE WHEN ? = 'sent' THEN ? "
                "ELSE sent_at END, error = ?, failure = ?, cost = coalesce(?, cost), parts = coalesce(?, parts) "
                "WHERE id = ? AND status = 'pending'",
                [
                    (d.status, d.next_attempt_at if d.status == PENDING else None, d.status, d.at, d.error, d.failure,
                     d.cost, d.parts, d.id)
                    for d in deliveries
                ],
            )  # fmt: skip
            if events:
                db.executemany(
                    "INSERT INTO events (key, type, contact_id, occurred_at, received_at, payload) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                    [(e.key, e.type, e.contact_id, e.occurred_at, e.occurred_at, e.payload) for e in events],
                )

        await self._write_now(record)

    async def next_outbox_attempt(self) -> int | None:
        value = await self._scalar("SELECT min(next_attempt_at) FROM outbox WHERE status = 'pending'")
        return int(value) if value is not None else None

    async def outbox(
        self, *, contact_id: str | None = None, status: str | None = None, channel: str | None = None,
        scenario: str | None = None, after: int = 0, limit: int = 100,
    ) -> list[OutboxRow]:  # fmt: skip
        """Messages by id (after ``after``), filtered by contact, status, channel and scenario."""
        clauses: list[str] = ["id > ?"]
        params: list[Any] = [after]
        for column, value in (("contact_id", contact_id), ("status", status), ("channel", channel),
                              ("scenario", scenario)):  # fmt: skip
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        params.append(limit)
        rows = await self._rows(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?", params
        )
        return [_outbox_row(r) for r in rows]
