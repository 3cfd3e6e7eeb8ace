"""The date triggers' side of the SQLite store (`on date contact.birthday at 10:00`).

`date_checks` holds when each contact's date triggers are next due (an index on that
moment: the engine reads only the contacts due, never all of them); `date_triggers`
holds, per trigger and contact, what the occurrences were computed from and up to when
they are done; `date_sweep` the triggers deployed and since when. The engine itself
(runtime/dates.py) decides what fires."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

from ._sql import SqlAccess
from .records import DateState
from .sqlite_changes import placeholders


class DateChecksMixin(SqlAccess):
    async def reset_date_checks(self, keys: Collection[str], now: int) -> bool:
        wanted = set(keys)

        def reset(db: sqlite3.Connection) -> bool:
            deployed = {row[0] for row in db.execute("SELECT trigger_key FROM date_sweep")}
            if deployed == wanted:
                return False
            for key in deployed - wanted:
                db.execute("DELETE FROM date_sweep WHERE trigger_key = ?", (key,))
            for key in wanted - deployed:
                db.execute("INSERT INTO date_sweep (trigger_key, since) VALUES (?, ?)", (key, now))
                # Deployed again (after a pause, or an edit undone): what came meanwhile is not caught up.
                db.execute(
                    "UPDATE date_triggers SET done_until = ? WHERE trigger_key = ? AND done_until < ?",
                    (now, key, now),
                )
            if wanted - deployed:
                db.execute(
                    "INSERT INTO date_checks (contact_id, due_at) SELECT id, ? FROM contacts WHERE true "
                    "ON CONFLICT (contact_id) DO UPDATE SET due_at = excluded.due_at",
                    (now,),
                )
            return True

        return await self._write_now(reset)

    async def due_date_checks(self, now: int, limit: int) -> list[str]:
        rows = await self._rows(
            "SELECT contact_id FROM date_checks WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?",
            (now, limit),
        )
        return [r[0] for r in rows]

    async def next_date_check(self) -> int | None:
        value = await self._scalar("SELECT min(due_at) FROM date_checks WHERE due_at IS NOT NULL")
        return int(value) if value is not None else None

    async def date_states(self, contact_ids: Collection[str]) -> dict[tuple[str, str], DateState]:
        unique = list(dict.fromkeys(contact_ids))
        found: dict[tuple[str, str], DateState] = {}
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            rows = await self._rows(
                "SELECT trigger_key, contact_id, basis, done_until FROM date_triggers "
                f"WHERE contact_id IN ({placeholders(len(chunk))})",
                chunk,
            )
            found.update(((key, contact), DateState(basis, done)) for key, contact, basis, done in rows)
        return found

    async def date_since(self) -> dict[str, int]:
        return {key: since for key, since in await self._rows("SELECT trigger_key, since FROM date_sweep")}
