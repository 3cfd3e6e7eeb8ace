"""The outbox side of the SQLite store: the sender claims messages and records outcomes.

A claim counts the attempt, moves the message's next attempt a lease ahead and writes
who claimed it: a sender's identity for this start of its process (`_lock.SenderLocks`).
When that process dies, another sender (or the same one started again) sees its lock
free and takes its claims back at once; the lease is only the latest time another may
take them over when nobody can tell (no `fcntl`). Nothing is lost, and a message is
sent twice only if its process died between the provider's acceptance and the record
of it.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from ._sql import SqlAccess
from .records import PENDING, Claim, Delivery, EventIn, OutboxRow
from .sqlite_changes import placeholders
from .suppressions import Claimed, screened_claim

_OUTBOX_COLUMNS = (
    "id, run_id, step, scenario, contact_id, channel, template, recipient, message, coupon_code, variant, "
    "status, attempts, next_attempt_at, created_at, sent_at, error, cost, parts, failure"
)
logger = logging.getLogger("scn.store")


def _outbox_row(row: Iterable[Any]) -> OutboxRow:
    return OutboxRow(*row)  # _OUTBOX_COLUMNS are OutboxRow's fields, in order


def _claim(db: sqlite3.Connection, claim: Claim, now: int, lease_ms: int, owner: str) -> Claimed:
    where = "status = 'pending' AND next_attempt_at <= ? AND claimed_by IS NOT ?"
    params: list[Any] = [now, owner]
    if claim.channel is not None:
        where += " AND channel = ?"
        params.append(claim.channel)
    if claim.not_channels:
        where += f" AND channel NOT IN ({placeholders(len(claim.not_channels))})"
        params.extend(claim.not_channels)
    rows = db.execute(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, claimed_by = ? WHERE id IN ("
        f"SELECT id FROM outbox WHERE {where} ORDER BY next_attempt_at, id LIMIT ?) RETURNING {_OUTBOX_COLUMNS}",
        (now + lease_ms, owner, *params, claim.limit),
    ).fetchall()
    claimed = sorted((_outbox_row(r) for r in rows), key=lambda r: r.id)
    if claim.screen is not None and claim.channel is not None and claimed:
        return screened_claim(db, claim.channel, claimed, claim.screen)
    return Claimed(claimed)


class OutboxMixin(SqlAccess):
    def new_sender(self) -> str:
        if self._senders is None:  # in memory: no other process can see these claims
            return f"0-{secrets.token_hex(8)}"
        return self._senders.new_owner()

    async def exchange_outbox(
        self, deliveries: list[Delivery], events: list[EventIn], claims: Sequence[Claim], *,
        now: int, lease_ms: int, owner: str,
    ) -> list[Claimed]:  # fmt: skip
        """Outcomes, the events they raise (a bounce), then claims (each screened if it
        asks), in one transaction."""
        claims = [c for c in claims if c.limit > 0]
        if not deliveries and not events and not claims:
            return []

        def exchange(db: sqlite3.Connection) -> list[Claimed]:
            if deliveries:
                db.executemany(
                    "UPDATE outbox SET status = ?, next_attempt_at = ?, sent_at = CASE WHEN ? = 'sent' THEN ? "
                    "ELSE sent_at END, error = ?, failure = ?, cost = coalesce(?, cost), parts = coalesce(?, parts), "
                    "claimed_by = NULL WHERE id = ? AND status = 'pending'",
                    [
                        (d.status, d.next_attempt_at if d.status == PENDING else None, d.status, d.at, d.error,
                         d.failure, d.cost, d.parts, d.id)
                        for d in deliveries
                    ],
                )  # fmt: skip
            if events:
                db.executemany(
                    "INSERT INTO events (key, type, contact_id, occurred_at, received_at, payload) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                    [(e.key, e.type, e.contact_id, e.occurred_at, e.occurred_at, e.payload) for e in events],
                )
            return [_claim(db, claim, now, lease_ms, owner) for claim in claims]

        return await self._write_now(exchange)

    async def reclaim_outbox(self, now: int, owner: str) -> tuple[int, bool]:
        locks = self._senders
        if locks is None:
            return 0, False
        rows = await self._rows(
            "SELECT DISTINCT claimed_by FROM outbox WHERE claimed_by IS NOT NULL AND claimed_by != ?", (owner,)
        )
        holders = {str(h) for (h,) in rows}
        gone: dict[str, int] = {}
        for other in sorted(holders | set(locks.others())):
            fd = locks.take_if_gone(other)
            if fd is not None:
                gone[other] = fd
        taken = 0
        try:
            if gone:
                names = list(gone)

                def take(db: sqlite3.Connection) -> int:
                    return db.execute(
                        f"UPDATE outbox SET next_attempt_at = ?, claimed_by = NULL WHERE claimed_by IN "
                        f"({placeholders(len(names))}) AND status = 'pending'",
                        (now, *names),
                    ).rowcount

                taken = await self._write_now(take)
        except BaseException:
            for other, fd in gone.items():
                locks.forget(other, fd, remove=False)
            raise
        for other, fd in gone.items():
            locks.forget(other, fd)
        if taken:
            logger.info("took back %d messages claimed by senders that are gone (%s)", taken, ", ".join(gone))
        return taken, bool(holders - gone.keys())

    async def release_outbox(self, now: int, owner: str, ids: Collection[int] | None = None) -> None:
        only = list(ids) if ids is not None else []
        among = f" AND id IN ({placeholders(len(only))})" if ids is not None else ""

        def release(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE outbox SET next_attempt_at = ?, claimed_by = NULL, attempts = max(attempts - 1, 0) "
                f"WHERE claimed_by = ? AND status = 'pending'{among}",
                (now, owner, *only),
            )

        await self._write_now(release)

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
