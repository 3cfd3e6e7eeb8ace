"""The limit for bench_pg.py: the SQL an scn engine sends for the benchmark's work, written
directly with asyncpg, without scn's layers (no interpreter, no store, no bridge).

Each batch is what an engine's batch is on PostgreSQL (the statements and transactions
bench_pg.py's workload makes scn send, read off its connections): one transaction that
gives back the engine's leases, picks the next contacts with work, leases them and reads
their work; the reads of the contacts, their lists and orders outside a transaction; then
one transaction writing the batch (one `executemany` per table, pipelined by asyncpg).
The rows written are the ones scn writes for the workload, made here from the event's
payload with no interpretation: a run that waits a day, its two step-log rows, the contact
and order upserts, the order's status; then, a day on, each run moved to its end with its
step log and a message in the outbox (a message of the same size as scn's). The schema,
with its counter triggers, is scn's: the limit does the same work in the database.

Several of these loops share the work as engines do: by the same leases.
"""

from __future__ import annotations

import json
from typing import Any

LEASE_MS = 30_000
_NOW = "(extract(epoch from clock_timestamp()) * 1000)::bigint"
_FREE = (
    "NOT EXISTS (SELECT 1 FROM contact_leases l WHERE l.contact_id = c.contact_id AND l.owner != $2 "
    f"AND l.until >= {_NOW})"
)
_LEASE = (
    "INSERT INTO contact_leases AS l (contact_id, owner, until) "
    f"SELECT c, $2, {_NOW} + $3 FROM unnest($1::text[]) AS c "
    "ON CONFLICT (contact_id) DO UPDATE SET owner = excluded.owner, until = excluded.until "
    f"WHERE l.until < {_NOW} OR l.owner = excluded.owner RETURNING contact_id"
)
_CONTACTS = (
    "INSERT INTO contacts (id, created_at, updated_at, email, first_order_at, last_order_at, currency, "
    "lifetime_spend, orders_count, last_paid_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
    "ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, email = excluded.email, "
    "first_order_at = excluded.first_order_at, last_order_at = excluded.last_order_at, "
    "currency = excluded.currency, lifetime_spend = excluded.lifetime_spend, orders_count = excluded.orders_count, "
    "last_paid_at = excluded.last_paid_at"
)
_ORDERS = (
    "INSERT INTO orders (id, contact_id, created_at, updated_at, currency, total, status, paid_at, seen_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, "
    "currency = excluded.currency, total = excluded.total, status = excluded.status, paid_at = excluded.paid_at, "
    "seen_at = excluded.seen_at"
)
_RUN_COLUMNS = (
    "id, scenario, version, bundle, contact_id, order_id, trigger_event, position, step, vars, variant, "
    "status, wake_at, await_event, started_at, updated_at, ended_at, reason"
)
_STEP_LOG = "INSERT INTO step_log (run_id, step, name, at, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6)"
_OUTBOX = (
    "INSERT INTO outbox (run_id, step, scenario, contact_id, channel, template, recipient, message, coupon_code, "
    "variant, status, error, failure, created_at, next_attempt_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (run_id, step) DO NOTHING"
)
DAY_MS = 86_400_000


class RawEngine:
    """One loop on one asyncpg connection: ``events()`` and ``due_runs(now)`` do a batch
    each and return how much they did (0: nothing left for this loop)."""

    def __init__(self, connection: Any, owner: str, batch: int) -> None:
        self.db = connection
        self.owner = owner
        self.batch = batch
        self._ids: list[int] = []

    async def _claim(self, candidates: str, *args: Any) -> list[str]:
        await self.db.execute("DELETE FROM contact_leases WHERE owner = $1", self.owner)
        found = await self.db.fetch(candidates, *args)
        if not found:
            return []
        won = await self.db.fetch(_LEASE, sorted({r[0] for r in found}), self.owner, LEASE_MS)
        return sorted(r[0] for r in won)

    async def _run_id(self) -> int:
        if not self._ids:  # a block of ids, as scn's store takes them (the sequence steps by the block)
            start = await self.db.fetchval("SELECT nextval(pg_get_serial_sequence('runs', 'id'))")
            self._ids = list(range(start + 9_999, start - 1, -1))
        return self._ids.pop()

    async def _reads(self, contacts: list[str], orders: list[str]) -> None:
        """What the engine reads outside a transaction before its batch."""
        await self.db.fetch("SELECT * FROM contacts WHERE id = ANY($1)", contacts)
        await self.db.fetch("SELECT contact_id, list FROM list_members WHERE contact_id = ANY($1)", contacts)
        await self.db.fetch("SELECT * FROM orders WHERE id = ANY($1)", orders)

    async def events(self) -> int:
        async with self.db.transaction():
            won = await self._claim(
                f"SELECT contact_id FROM events c WHERE processed_at IS NULL AND {_FREE} ORDER BY id LIMIT $1",
                self.batch,
                self.owner,
            )
            rows = await self.db.fetch(
                "SELECT id, key, type, contact_id, occurred_at, received_at, payload FROM events "
                "WHERE processed_at IS NULL AND contact_id = ANY($1) ORDER BY id LIMIT $2",
                won,
                self.batch,
            )
        if not rows:
            return 0
        documents = [json.loads(r["payload"]) for r in rows]
        await self._reads(sorted({r["contact_id"] for r in rows}), sorted({d["order"]["id"] for d in documents}))
        contacts, orders, statuses, runs, log, done = [], [], [], [], [], []
        for row, d in zip(rows, documents, strict=True):
            at, contact, order = row["occurred_at"], d["contact"], d["order"]
            run_id = await self._run_id()
            contacts.append((contact["id"], at, at, contact["email"], at, at, order["currency"], order["total"], 1, at))
            orders.append((order["id"], contact["id"], at, at, order["currency"], order["total"], "paid", at, at))
            statuses.append((order["id"], "paid", at))
            runs.append((run_id, "later", 1, 1, contact["id"], order["id"], row["id"], 1, "s1", "{}", None,
                         "waiting", at + DAY_MS, None, at, at, None, None))  # fmt: skip
            log.append((run_id, "start", "on order.paid", at, "started", f"run {run_id}"))
            log.append((run_id, "s1", "wait 1d", at, "waiting", "until 2025-03-04T08:00Z"))
            done.append((at, row["id"]))
        async with self.db.transaction():
            await self.db.executemany(_CONTACTS, contacts)
            await self.db.executemany(_ORDERS, orders)
            await self.db.executemany("INSERT INTO order_statuses (order_id, status, at) VALUES ($1, $2, $3)", statuses)
            await self.db.executemany(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({_marks(18)})", runs)
            await self.db.fetch("SELECT 1 FROM scenarios WHERE state = 'paused' LIMIT 1")
            await self.db.executemany(_STEP_LOG, log)
            await self.db.executemany("UPDATE events SET processed_at = $1 WHERE id = $2", done)
        return len(rows)

    async def due_runs(self, now: int) -> int:
        async with self.db.transaction():
            won = await self._claim(
                f"SELECT contact_id FROM runs c WHERE wake_at IS NOT NULL AND wake_at <= $1 AND {_FREE} "
                "ORDER BY wake_at, id LIMIT $3",
                now,
                self.owner,
                self.batch,
            )
            rows = await self.db.fetch(
                f"SELECT {_RUN_COLUMNS} FROM runs r WHERE wake_at IS NOT NULL AND wake_at <= $1 "
                "AND contact_id = ANY($2) AND NOT EXISTS (SELECT 1 FROM events e WHERE e.processed_at IS NULL "
                "AND e.contact_id = r.contact_id AND e.received_at < r.wake_at) ORDER BY wake_at, id LIMIT $3",
                now,
                won,
                self.batch,
            )
        if not rows:
            return 0
        await self._reads(sorted({r["contact_id"] for r in rows}), sorted({r["order_id"] for r in rows}))
        await self.db.fetch(
            "SELECT id, key, type, contact_id, occurred_at, received_at, payload, processed_at FROM events "
            "WHERE id = ANY($1)",
            [r["trigger_event"] for r in rows],
        )
        moved, log, messages = [], [], []
        for r in rows:
            run_id, contact = r["id"], r["contact_id"]
            moved.append((2, "end", "{}", None, "done", None, None, now, now, None, run_id, r["bundle"]))
            log.append((run_id, "s2", "send email t_a", now, "sent", "email t_a (default)"))
            messages.append((run_id, "s2", "later", contact, "email", "t_a", f"{contact}@example.com",
                             _message(contact, run_id), None, None, "pending", None, None, now, now))  # fmt: skip
        async with self.db.transaction():
            await self.db.executemany(
                "UPDATE runs SET position = $1, step = $2, vars = $3, variant = $4, status = $5, wake_at = $6, "
                "await_event = $7, updated_at = $8, ended_at = $9, reason = $10 WHERE id = $11 "
                "AND status != 'cancelled' AND bundle = $12",
                moved,
            )
            await self.db.fetch("SELECT 1 FROM scenarios WHERE state = 'paused' LIMIT 1")
            await self.db.executemany(_STEP_LOG, log)
            await self.db.executemany(_OUTBOX, messages)
        return len(rows)


def _marks(count: int) -> str:
    return ", ".join(f"${i}" for i in range(1, count + 1))


def _message(contact: str, run_id: int) -> str:
    """A message as big as the one scn renders for the benchmark's template."""
    pixel = f"http://localhost:8000/o/{run_id:012d}.0.xKdiAa-4uzHqVa26iT9eEIh9"
    return json.dumps({
        "subject": "Thanks", "html": f'<p>Thanks, {contact}</p><img src="{pixel}" width="1" height="1" alt="" '
        'style="display:none">', "plain": f"Thanks, {contact}\n", "links": [], "lang": "", "from_name": "Shop",
        "from_address": "shop@example.com", "reply_to": None,
        "unsubscribe_url": f"http://localhost:8000/unsubscribe/email/{contact}/L95S7xIpFp89edxJGcm1QOCF",
    })  # fmt: skip
