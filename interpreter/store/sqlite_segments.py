"""The segment sweep's side of the SQLite store: when each contact's clock-dependent
segments are next due to be looked at (`segment_checks`), and for which definition of
those segments the moments were computed (`segment_sweep`)."""

from __future__ import annotations

import sqlite3

from ._sql import SqlAccess


class SegmentChecksMixin(SqlAccess):
    async def reset_segment_checks(self, digest: str, now: int) -> bool:
        """Make every contact due at ``now`` unless the moments were computed for the timed
        segments ``digest`` names (a deploy that changes one). Whether it did."""

        def reset(db: sqlite3.Connection) -> bool:
            if db.execute("SELECT 1 FROM segment_sweep WHERE digest = ?", (digest,)).fetchone():
                return False
            db.execute(
                "INSERT INTO segment_checks (contact_id, due_at) SELECT id, CAST(? AS INTEGER) FROM contacts "
                "WHERE true "
                "ON CONFLICT (contact_id) DO UPDATE SET due_at = excluded.due_at",
                (now,),
            )
            db.execute("DELETE FROM segment_sweep")
            db.execute("INSERT INTO segment_sweep (digest) VALUES (?)", (digest,))
            return True

        return await self._write_now(reset)

    async def forget_segment_checks(self) -> None:
        """No timed segment is deployed: the moments kept stop being kept up to date, so
        the next deploy with timed segments makes everyone due, whatever its digest."""
        await self._write_now(lambda db: db.execute("DELETE FROM segment_sweep"))

    async def due_segment_checks(self, now: int, limit: int) -> list[str]:
        """Contacts whose clock-dependent segments are due to be looked at by ``now``, earliest first."""
        rows = await self._rows(
            "SELECT contact_id FROM segment_checks WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?",
            (now, limit),
        )
        return [r[0] for r in rows]

    async def next_segment_check(self) -> int | None:
        value = await self._scalar("SELECT min(due_at) FROM segment_checks WHERE due_at IS NOT NULL")
        return int(value) if value is not None else None
