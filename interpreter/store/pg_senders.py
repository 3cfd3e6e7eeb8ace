"""Which senders of outbox messages on a PostgreSQL database are alive.

A sender's claims carry its identity (`Store.new_sender`). On SQLite it holds a lock on a
file of that name while its process lives (`_lock.SenderLocks`); on PostgreSQL it holds
an advisory lock of that name, taken on its store's writer connection before its first
claim. PostgreSQL releases a session's advisory locks when its connection ends, the
connection of a process killed outright included (the kernel closes its socket). So
another sender that can take the lock knows the claimer is gone and takes its claims
back at once, instead of waiting for their lease to run out. A sender whose lock is
still held keeps its claims until their lease ends, as before.
"""

from __future__ import annotations

from .pg_leases import Run, advisory_key, gone

#: The first key of the senders' advisory locks (any fixed number; "snd" in ASCII).
_SENDERS = 0x736E64


class SenderLocks:
    """The senders of one store; ``run(sql, params)`` runs a statement in the store's write
    transaction on its writer connection and returns its rows."""

    def __init__(self) -> None:
        #: This process's senders, whose locks its writer connection holds.
        self.own: set[str] = set()

    async def reclaim(self, run: Run, now: int, owner: str) -> tuple[int, bool]:
        """Lock ``owner`` as alive (the first time), then take back the pending claims of
        senders that are gone: (messages taken back, whether living senders of other
        processes still hold claims)."""
        if owner not in self.own:
            await run("SELECT pg_advisory_lock($1, $2)", (_SENDERS, advisory_key(owner)))
            self.own.add(owner)
        holders = [
            h for (h,) in await run("SELECT DISTINCT claimed_by FROM outbox WHERE claimed_by IS NOT NULL", ())
            if h not in self.own
        ]  # fmt: skip
        dead = await gone(run, _SENDERS, holders)
        taken = 0
        if dead:
            rows = await run(
                "UPDATE outbox SET next_attempt_at = $1, claimed_by = NULL WHERE claimed_by = ANY($2::text[]) "
                "AND status = 'pending' RETURNING id",
                (now, dead),
            )
            taken = len(rows)
        return taken, len(dead) < len(holders)
