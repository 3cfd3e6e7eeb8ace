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

Several of these loops share the work as engines do: by the same leases (``ordering``
"leases"). The other orderings keep each contact with one loop at a time, and its events
in order, by other means, for the comparison in docs/postgresql.md ("Why a lease per
contact"); the rest of the work is the same:

- "advisory": a session-level advisory lock per contact (`pg_try_advisory_lock` on the
  contact's `hashtext`) instead of the `contact_leases` upserts, taken in the claim's
  transaction and held across the write transaction until the loop's next claim (as a
  lease is); the claim's candidates skip contacts locked by other sessions (`pg_locks`).
- "xact": the same locks at transaction level (`pg_try_advisory_xact_lock`): they end
  with their transaction, so the claim, the reads and the writes are one transaction.
- "partition": loop ``part`` of ``parts`` takes only contacts whose hash modulo
  ``parts`` is ``part``: no claim at all, the work read directly.
"""

from __future__ import annotations

import contextlib
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
ORDERINGS = ("leases", "advisory", "xact", "partition")
#: The first key of the contacts' advisory locks ("con" in ASCII); the second is the hash.
_CONTACT_LOCKS = 0x636F6E
_UNLOCKED = (
    "hashtext(c.contact_id)::oid NOT IN (SELECT objid FROM pg_locks WHERE locktype = 'advisory' "
    f"AND classid = {_CONTACT_LOCKS} AND objsubid = 2 AND pid != pg_backend_pid())"
)


class RawEngine:
    """One loop on one asyncpg connection: ``events()`` and ``due_runs(now)`` do a batch
    each and return how much they did (0: nothing left for this loop)."""

    def __init__(
        self, connection: Any, owner: str, batch: int, ordering: str = "leases", part: int = 0, parts: int = 1
    ) -> None:
        if ordering not in ORDERINGS:
            raise ValueError(f"ordering {ordering!r}: one of {', '.join(ORDERINGS)}")
        self.db = connection
        self.owner = owner
        self.batch = batch
        self.ordering = ordering
        self.part, self.parts = part, parts
        self._ids: list[int] = []
        self._held: list[str] = []  # "advisory": the contacts locked by the last claim

    def _whole(self) -> Any:
        """For "xact", the batch as one transaction (its locks end with it); else nothing."""
        return self.db.transaction() if self.ordering == "xact" else contextlib.nullcontext()

    def _step(self) -> Any:
        """A transaction of its own, unless the batch is one ("xact")."""
        return contextlib.nullcontext() if self.ordering == "xact" else self.db.transaction()

    async def _claim(self, candidates: str, *args: Any) -> list[str]:
        if self.ordering == "leases":
            await self.db.execute("DELETE FROM contact_leases WHERE owner = $1", self.owner)
        elif self.ordering == "advisory" and self._held:  # the last batch is committed: let its contacts go
            await self.db.fetchval(
                f"SELECT count(pg_advisory_unlock({_CONTACT_LOCKS}, hashtext(c))) FROM unnest($1::text[]) AS c",
                self._held,
            )
            self._held = []
        found = await self.db.fetch(candidates, *args)
        if not found:
            return []
        contacts = sorted({r[0] for r in found})
        if self.ordering == "leases":
            won = await self.db.fetch(_LEASE, contacts, self.owner, LEASE_MS)
        else:
            lock = "pg_try_advisory_lock" if self.ordering == "advisory" else "pg_try_advisory_xact_lock"
            won = await self.db.fetch(
                f"SELECT c FROM unnest($1::text[]) AS c WHERE {lock}({_CONTACT_LOCKS}, hashtext(c))", contacts
            )
        self._held = sorted(r[0] for r in won) if self.ordering == "advisory" else []
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

    async def _events(self) -> list[Any]:
        """The batch's events: those of the contacts this loop won, oldest first."""
        columns = "id, key, type, contact_id, occurred_at, received_at, payload"
        if self.ordering == "partition":  # nothing to claim: the loop's contacts are its own
            return list(await self.db.fetch(
                f"SELECT {columns} FROM events c WHERE processed_at IS NULL AND {self._mine()} ORDER BY id LIMIT $1",
                self.batch,
            ))  # fmt: skip
        candidates = "SELECT contact_id FROM events c WHERE processed_at IS NULL AND {} ORDER BY id LIMIT $1"
        if self.ordering == "leases":
            won = await self._claim(candidates.format(_FREE), self.batch, self.owner)
        else:
            won = await self._claim(candidates.format(_UNLOCKED), self.batch)
        return list(await self.db.fetch(
            f"SELECT {columns} FROM events WHERE processed_at IS NULL AND contact_id = ANY($1) ORDER BY id LIMIT $2",
            won,
            self.batch,
        ))  # fmt: skip

    def _mine(self, alias: str = "c") -> str:
        """For "partition", this loop's contacts: their hash, made positive, modulo the loops."""
        return f"(hashtext({alias}.contact_id) & 2147483647) % {int(self.parts)} = {int(self.part)}"

    async def events(self) -> int:
        async with self._whole():
            async with self._step():
                rows = await self._events()
            if not rows:
                return 0
            return await self._apply_events(rows)

    async def _apply_events(self, rows: list[Any]) -> int:
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
        async with self._step():
            await self.db.executemany(_CONTACTS, contacts)
            await self.db.executemany(_ORDERS, orders)
            await self.db.executemany("INSERT INTO order_statuses (order_id, status, at) VALUES ($1, $2, $3)", statuses)
            await self.db.executemany(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({_marks(18)})", runs)
            await self.db.fetch("SELECT 1 FROM scenarios WHERE state = 'paused' LIMIT 1")
            await self.db.executemany(_STEP_LOG, log)
            await self.db.executemany("UPDATE events SET processed_at = $1 WHERE id = $2", done)
        return len(rows)

    async def _due(self, now: int) -> list[Any]:
        """The batch's due runs: those of the contacts this loop won whose earlier events are done."""
        work = (
            f"SELECT {_RUN_COLUMNS} FROM runs r WHERE wake_at IS NOT NULL AND wake_at <= $1 AND {{}} "
            "AND NOT EXISTS (SELECT 1 FROM events e WHERE e.processed_at IS NULL AND e.contact_id = r.contact_id "
            "AND e.received_at < r.wake_at) ORDER BY wake_at, id LIMIT $2"
        )
        if self.ordering == "partition":
            return list(await self.db.fetch(work.format(self._mine("r")), now, self.batch))
        candidates = "SELECT contact_id FROM runs c WHERE wake_at IS NOT NULL AND wake_at <= $1 AND {} "
        if self.ordering == "leases":
            won = await self._claim(candidates.format(_FREE) + "ORDER BY wake_at, id LIMIT $3", now, self.owner,
                                    self.batch)  # fmt: skip
        else:
            won = await self._claim(candidates.format(_UNLOCKED) + "ORDER BY wake_at, id LIMIT $2", now, self.batch)
        return list(await self.db.fetch(work.format("contact_id = ANY($3)"), now, self.batch, won))

    async def due_runs(self, now: int) -> int:
        async with self._whole():
            async with self._step():
                rows = await self._due(now)
            if not rows:
                return 0
            return await self._apply_due(rows, now)

    async def _apply_due(self, rows: list[Any], now: int) -> int:
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
        async with self._step():
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
