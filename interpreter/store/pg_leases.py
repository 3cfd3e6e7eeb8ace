"""Several engines on one PostgreSQL database: each contact's work (its events, its due
runs, its segment checks) is done by one engine at a time, the one that holds the
contact's lease.

An engine's store claims a batch's contacts before it reads the batch: a row per contact
in `contact_leases`, taken when free, expired or already its own (an upsert whose
conflict clause checks that; PostgreSQL's row lock orders two engines asking at once).
It reads the batch's work only for the contacts it won, after winning them, so work
another engine committed meanwhile is seen as done. Its leases stay until its next
claim (the engine's loop does one batch at a time: by then the batch is committed or
was not done at all) and are renewed while it lives; the leases of an engine that dies
expire after `LEASE_MS` (or SCN_LEASE_MS) and another engine takes its contacts over.

Sooner when the engine is known to be dead: from its first claim an engine holds an
advisory lock named by it on its store's writer connection, which PostgreSQL releases
when that connection ends (the process killed outright included). An engine starting,
and each living engine when it renews its leases, drops the leases of engines whose lock
it can take: an engine restarted after a crash goes on with its contacts at once, not
`LEASE_MS` later.

So two engines never act on one contact at once, and a contact's events are applied in
order: only the lease holder reads them, oldest first, and a contact's due run waits for
its earlier events (`Store.due_runs`). Times of leases are the database's clock, which
every machine shares.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from .base import StoreError, WorkTakenOver

#: How long a contact stays with an engine that stops renewing its leases (it died),
#: unless SCN_LEASE_MS says otherwise.
LEASE_MS = 30_000
#: A living engine renews its leases this many times per lease.
RENEWALS = 3
#: The shortest lease SCN_LEASE_MS may ask for: a renewal must come in time under load.
MIN_LEASE_MS = 1000

_NOW = "(extract(epoch from clock_timestamp()) * 1000)::bigint"
#: The first key of the engines' advisory locks (any fixed number; "eng" in ASCII).
_ENGINES = 0x656E67

Run = Callable[[str, tuple[Any, ...]], Awaitable[list[tuple[Any, ...]]]]


def advisory_key(name: str) -> int:
    """The second key of a process's advisory lock: 32 bits of its name's hash (two living
    processes that share one only wait for each other's leases to end, as before)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big", signed=True)


async def gone(run: Run, first_key: int, names: list[str]) -> list[str]:
    """Those of ``names`` whose advisory lock is free: their process is gone (the locks
    taken here are held until the transaction ends)."""
    return [
        n for n in names if (await run("SELECT pg_try_advisory_xact_lock($1, $2)", (first_key, advisory_key(n))))[0][0]
    ]


def lease_ms(environ: Mapping[str, str]) -> int:
    """The lease time SCN_LEASE_MS asks for (milliseconds), else `LEASE_MS`."""
    text = environ.get("SCN_LEASE_MS", "").strip()
    if not text:
        return LEASE_MS
    if not text.isdigit() or int(text) < MIN_LEASE_MS:
        raise StoreError(f"SCN_LEASE_MS is {text!r}: give a whole number of milliseconds, at least {MIN_LEASE_MS}")
    return int(text)


def new_owner() -> str:
    """This process's name on its leases: the machine, the process, and this start."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


class Leases:
    """The leases of one engine's store. ``run(sql, params)`` runs a statement in the
    store's write transaction and returns its rows."""

    def __init__(self, owner: str, lease_ms: int = LEASE_MS) -> None:
        self.owner = owner
        self.lease_ms = lease_ms
        #: How often (seconds) the leases are renewed while the engine lives.
        self.renew_every_s = lease_ms / RENEWALS / 1000
        #: Whether this engine's advisory lock is held (on the store's writer connection).
        self.locked = False

    async def claim(self, run: Run, contacts: Collection[str]) -> set[str]:
        """Give back this engine's leases (its last batch is done) and take those of
        ``contacts`` that are free: the contacts won."""
        await run("DELETE FROM contact_leases WHERE owner = $1", (self.owner,))
        if not contacts:
            return set()
        rows = await run(
            "INSERT INTO contact_leases AS l (contact_id, owner, until) "
            f"SELECT c, $2, {_NOW} + $3 FROM unnest($1::text[]) AS c "
            "ON CONFLICT (contact_id) DO UPDATE SET owner = excluded.owner, until = excluded.until "
            f"WHERE l.until < {_NOW} OR l.owner = excluded.owner RETURNING contact_id",
            (sorted(set(contacts)), self.owner, self.lease_ms),
        )
        return {r[0] for r in rows}

    async def keep(self, run: Run, contacts: Collection[str]) -> None:
        """In the transaction that commits a batch of ``contacts``: make sure they are still
        this engine's, and keep them (renewed, and locked until the commit, so that no
        other engine takes one meanwhile); WorkTakenOver when another engine has any."""
        wanted = set(contacts)
        rows = await run(
            f"UPDATE contact_leases SET until = {_NOW} + $3 WHERE owner = $1 AND contact_id = ANY($2::text[]) "
            "RETURNING contact_id",
            (self.owner, sorted(wanted), self.lease_ms),
        )
        lost = wanted - {r[0] for r in rows}
        if lost:
            raise WorkTakenOver(f"{len(lost)} of the batch's {len(wanted)} contacts went to another engine "
                                "before the batch was committed; it is left to that engine")  # fmt: skip

    async def lock(self, run: Run) -> None:
        """Before this engine looks for work the first time: its lock, held while its
        connection lives, and the contacts of engines that are gone."""
        if not self.locked:
            await run("SELECT pg_advisory_lock($1, $2)", (_ENGINES, advisory_key(self.owner)))
            self.locked = True
            await self.take_over(run)

    async def renew(self, run: Run) -> None:
        await run(f"UPDATE contact_leases SET until = {_NOW} + $2 WHERE owner = $1", (self.owner, self.lease_ms))
        await self.take_over(run)

    async def take_over(self, run: Run) -> None:
        """Drop the leases of engines that are gone: their contacts are free at once."""
        owners = [o for (o,) in await run("SELECT DISTINCT owner FROM contact_leases WHERE owner != $1", (self.owner,))]
        dead = await gone(run, _ENGINES, owners)
        if dead:
            await run("DELETE FROM contact_leases WHERE owner = ANY($1::text[])", (dead,))

    async def release(self, run: Run) -> None:
        await run("DELETE FROM contact_leases WHERE owner = $1", (self.owner,))
