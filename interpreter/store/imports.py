"""Contact imports in the SQLite store: each job's CSV rows and how far it got, so that an
import survives a restart of the server (it goes on where it stopped) and its progress
can be asked for after one.

A job keeps the rows still to import (as JSON) until it is done; its counters move in
the transaction that records each chunk's progress. The chunk's events are committed by
the engine just before: a crash between the two replays that chunk, whose events are
then duplicates of their idempotency keys (applied once, counted as duplicates).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Protocol

import msgspec

from ._sql import SqlAccess


class ImportRow(msgspec.Struct, kw_only=True):
    id: int
    status: str
    total: int
    #: Rows of ``rows`` imported so far.
    position: int
    accepted: int
    duplicates: int
    errors: list[dict[str, Any]]
    #: (line, CSV row) still to import; empty once the job is done.
    rows: list[tuple[int, dict[str, str]]]


_COLUMNS = "id, status, total, position, accepted, duplicates, errors, rows"


def _job(row: tuple[Any, ...], with_rows: bool) -> ImportRow:
    id_, status, total, position, accepted, duplicates, errors, rows = row
    return ImportRow(id=id_, status=status, total=total, position=position, accepted=accepted, duplicates=duplicates,
                     errors=json.loads(errors), rows=[(int(line), r) for line, r in json.loads(rows)]
                     if with_rows and rows else [])  # fmt: skip


class ImportStore(Protocol):
    """What an import job needs of a store."""

    async def create_import(
        self, total: int, rows: list[tuple[int, dict[str, str]]], errors: list[dict[str, Any]], now: int
    ) -> int: ...

    async def import_progress(
        self, job_id: int, position: int, accepted: int, duplicates: int, errors: list[dict[str, Any]],
        done_at: int | None,
    ) -> None: ...  # fmt: skip

    async def import_job(self, job_id: int) -> ImportRow | None: ...

    async def unfinished_imports(self) -> list[ImportRow]: ...

    async def import_rows(self, job_id: int) -> list[tuple[int, dict[str, str]]]:
        """A job's rows as they are stored now (an erase empties a contact's)."""

    async def privacy_mark(self) -> int:
        """What changes when a contact is erased (or exported): the latest privacy audit record."""


class ImportMixin(SqlAccess):
    async def create_import(
        self, total: int, rows: list[tuple[int, dict[str, str]]], errors: list[dict[str, Any]], now: int
    ) -> int:
        """A new running job holding ``rows``; its id (from the database)."""

        def create(db: sqlite3.Connection) -> int:
            cursor = db.execute(
                "INSERT INTO import_jobs (status, total, position, accepted, duplicates, errors, rows, created_at) "
                "VALUES ('running', ?, 0, 0, 0, ?, ?, ?)",
                (total, json.dumps(errors, ensure_ascii=False), json.dumps(rows, ensure_ascii=False), now),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

        return await self._write_now(create)

    async def import_progress(
        self, job_id: int, position: int, accepted: int, duplicates: int, errors: list[dict[str, Any]],
        done_at: int | None,
    ) -> None:  # fmt: skip
        """Record how far a job got; when ``done_at`` is given it is done and its rows are let go."""

        def record(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE import_jobs SET position = ?, accepted = ?, duplicates = ?, errors = ?, "
                "status = CASE WHEN ? IS NULL THEN status ELSE 'done' END, finished_at = ?, "
                "rows = CASE WHEN ? IS NULL THEN rows ELSE NULL END WHERE id = ?",
                (position, accepted, duplicates, json.dumps(errors, ensure_ascii=False), done_at, done_at, done_at,
                 job_id),
            )  # fmt: skip

        await self._write_now(record)

    async def import_job(self, job_id: int) -> ImportRow | None:
        rows = await self._rows(f"SELECT {_COLUMNS} FROM import_jobs WHERE id = ?", (job_id,))
        return _job(rows[0], with_rows=False) if rows else None

    async def import_rows(self, job_id: int) -> list[tuple[int, dict[str, str]]]:
        rows = await self._rows(f"SELECT {_COLUMNS} FROM import_jobs WHERE id = ?", (job_id,))
        return _job(rows[0], with_rows=True).rows if rows else []

    async def privacy_mark(self) -> int:
        return int(await self._scalar("SELECT coalesce(max(id), 0) FROM privacy_audit") or 0)

    async def unfinished_imports(self) -> list[ImportRow]:
        """Jobs a restart interrupted, with the rows they still have to import."""
        rows = await self._rows(f"SELECT {_COLUMNS} FROM import_jobs WHERE status = 'running' ORDER BY id")
        return [_job(r, with_rows=True) for r in rows]
