"""Broadcasts in the SQLite store: their rows, and the making of their runs.

Each page of runs is written in the transaction that moves the broadcast's cursor past
its contacts, so a crash leaves a contact either with its run and behind the cursor, or
with neither: a restart goes on from the cursor and nobody gets two runs or none.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ._sql import SqlAccess
from .records import (
    BROADCAST_CANCELLED,
    BROADCAST_DONE,
    BROADCASTING,
    CANCELLED,
    LIVE,
    PAUSED,
    PENDING,
    SCHEDULED,
    SKIPPED,
    BroadcastRow,
    Changes,
    EventIn,
)
from .sqlite_changes import apply_changes, insert_events

_COLUMNS = (
    "name, state, version, due_at, event_id, audience, cursor, queued, expanded_at, paused_from, created_at, updated_at"
)
_LIVE = tuple(sorted(LIVE))
_LIVE_IN = f"({', '.join('?' * len(LIVE))})"


class BroadcastGone(Exception):
    """The broadcast was paused or cancelled while a page of its runs was being made."""


def _members_table(kind: str) -> tuple[str, str]:
    return ("list_members", "list") if kind == "list" else ("segment_members", "segment")


class BroadcastsMixin(SqlAccess):
    async def broadcasts(self) -> list[BroadcastRow]:
        """Every broadcast's row, by name."""
        rows = await self._rows(f"SELECT {_COLUMNS} FROM broadcasts ORDER BY name")
        return [BroadcastRow(**dict(zip(_COLUMNS.split(", "), r, strict=True))) for r in rows]

    async def schedule_broadcast(self, name: str, version: int, due_at: int, now: int) -> None:
        """Make a broadcast's row (scheduled), or move a still scheduled one to a new
        version and time; one that began keeps its course."""
        await self._write_now(
            lambda db: db.execute(
                f"INSERT INTO broadcasts ({_COLUMNS}) VALUES (?, ?, ?, ?, NULL, NULL, NULL, 0, NULL, NULL, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET version = excluded.version, due_at = excluded.due_at, "
                "updated_at = excluded.updated_at WHERE broadcasts.state = ? AND "
                "(broadcasts.version <> excluded.version OR broadcasts.due_at <> excluded.due_at)",
                (name, SCHEDULED, version, due_at, now, now, SCHEDULED),
            )
        )

    async def begin_broadcast(self, name: str, kind: str, audience: str, event: EventIn, now: int) -> bool:
        """A scheduled broadcast begins: the event its runs start from (processed at once:
        nothing else reacts to it), and its audience's size. False if it is not scheduled."""

        def begin(db: sqlite3.Connection) -> bool:
            state = db.execute("SELECT state FROM broadcasts WHERE name = ?", (name,)).fetchone()
            if state is None or state[0] != SCHEDULED:
                return False
            [(event_id, _)] = insert_events(db, [event], now)
            db.execute("UPDATE events SET processed_at = ? WHERE id = ?", (now, event_id))
            table, column = _members_table(kind)
            [(size,)] = db.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?", (audience,)).fetchall()
            db.execute(
                "UPDATE broadcasts SET state = ?, event_id = ?, audience = ?, updated_at = ? WHERE name = ?",
                (BROADCASTING, event_id, size, now, name),
            )
            return True

        return await self._write_now(begin)

    async def expand_broadcast(
        self, name: str, changes: Changes, cursor: str | None, queued: int, finished: bool, now: int
    ) -> None:
        """Write a page of a broadcast's runs and move its cursor past their contacts, in
        one transaction; BroadcastGone (and nothing written) if it is no longer running."""

        def expand(db: sqlite3.Connection) -> None:
            moved = db.execute(
                "UPDATE broadcasts SET cursor = coalesce(?, cursor), queued = queued + ?, expanded_at = ?, "
                "updated_at = ? WHERE name = ? AND state = ?",
                (cursor, queued, now if finished else None, now, name, BROADCASTING),
            )
            if moved.rowcount != 1:
                raise BroadcastGone(name)
            apply_changes(db, changes)

        await self._write_now(expand)

    async def audience_page(self, kind: str, name: str, after: str, limit: int) -> list[str]:
        """Members of a list or segment after ``after``, in id order."""
        table, column = _members_table(kind)
        rows = await self._rows(
            f"SELECT contact_id FROM {table} WHERE {column} = ? AND contact_id > ? ORDER BY contact_id LIMIT ?",
            (name, after, limit),
        )
        return [r[0] for r in rows]

    async def audience_size(self, kind: str, name: str) -> int:
        table, column = _members_table(kind)
        return int(await self._scalar(f"SELECT count(*) FROM {table} WHERE {column} = ?", (name,)) or 0)

    async def pause_broadcast(self, name: str, now: int) -> bool:
        """Pause a scheduled or running broadcast (its runs are held by pausing its
        scenario); False when it is in another state."""

        def pause(db: sqlite3.Connection) -> bool:
            return (
                db.execute(
                    "UPDATE broadcasts SET paused_from = state, state = ?, updated_at = ? "
                    "WHERE name = ? AND state IN (?, ?)",
                    (PAUSED, now, name, SCHEDULED, BROADCASTING),
                ).rowcount
                == 1
            )

        return await self._write_now(pause)

    async def resume_broadcast(self, name: str, now: int) -> bool:
        """A paused broadcast goes back to where it was; False when it is not paused."""

        def resume(db: sqlite3.Connection) -> bool:
            return (
                db.execute(
                    "UPDATE broadcasts SET state = paused_from, paused_from = NULL, updated_at = ? "
                    "WHERE name = ? AND state = ?",
                    (now, name, PAUSED),
                ).rowcount
                == 1
            )

        return await self._write_now(resume)

    async def cancel_broadcast(self, name: str, now: int, reason: str) -> tuple[int, int] | None:
        """Cancel a broadcast: no more runs are made, its live runs are cancelled (logged
        why), and its messages no sender has taken yet are not sent. (runs, messages)
        stopped; None when it had ended or was cancelled already."""

        def cancel(db: sqlite3.Connection) -> tuple[int, int] | None:
            changed = db.execute(
                "UPDATE broadcasts SET state = ?, paused_from = NULL, updated_at = ? "
                "WHERE name = ? AND state IN (?, ?, ?)",
                (BROADCAST_CANCELLED, now, name, SCHEDULED, BROADCASTING, PAUSED),
            )
            if changed.rowcount != 1:
                return None
            live: list[Any] = [name, *_LIVE]
            db.execute(
                "INSERT INTO step_log (run_id, step, name, at, outcome, detail) "
                f"SELECT id, 'cancel', 'cancel', ?, ?, ? FROM runs WHERE scenario = ? AND status IN {_LIVE_IN}",
                [now, CANCELLED, reason, *live],
            )
            runs = db.execute(
                "UPDATE runs SET status = ?, wake_at = NULL, held_wake_at = NULL, await_event = NULL, ended_at = ?, "
                f"updated_at = ?, reason = ? WHERE scenario = ? AND status IN {_LIVE_IN}",
                [CANCELLED, now, now, reason, *live],
            ).rowcount
            messages = db.execute(
                "UPDATE outbox SET status = ?, error = ?, next_attempt_at = NULL "
                "WHERE scenario = ? AND status = ? AND claimed_by IS NULL",
                (SKIPPED, reason, name, PENDING),
            ).rowcount
            return runs, messages

        return await self._write_now(cancel)

    async def finish_broadcasts(self, now: int) -> int:
        """Running broadcasts whose members all have a run, none of them live any more,
        are done. How many became so. Looked for on the reader first: the engine asks on
        every turn of its loop while a broadcast's runs wait, and a write would take the
        writer's lock each time."""
        finished = (
            "state = ? AND expanded_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM runs r "
            f"WHERE r.scenario = broadcasts.name AND r.status IN {_LIVE_IN})"
        )
        if not await self._scalar(f"SELECT count(*) FROM broadcasts WHERE {finished}", (BROADCASTING, *_LIVE)):
            return 0
        return await self._write_now(
            lambda db: (
                db.execute(
                    f"UPDATE broadcasts SET state = ?, updated_at = ? WHERE {finished}",
                    (BROADCAST_DONE, now, BROADCASTING, *_LIVE),
                ).rowcount
            )
        )
