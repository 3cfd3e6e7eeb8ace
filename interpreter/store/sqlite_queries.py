"""What the control plane reads: runs and their traces, memberships, messages, sources.

Reads only, on the reader connection; the one write here (cancelling runs) goes through
the write lock like every other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from . import report_counts
from ._sql import SqlAccess, in_thread
from .records import CANCELLED, LIVE, OutboxRow, ReportCount, RunRow, StepLog
from .sqlite_changes import RUN_COLUMNS, run_row

_LIVE_IN = f"({', '.join('?' * len(LIVE))})"


class QueriesMixin(SqlAccess):
    if TYPE_CHECKING:

        async def run(self, run_id: int) -> RunRow | None: ...

    async def bundle_files(self, version: int | None = None) -> dict[str, str]:
        """The workspace files of a bundle (the latest by default); empty if none were kept."""
        if version is None:
            blob = await self._scalar(
                "SELECT files FROM bundles WHERE files IS NOT NULL AND draft = 0 ORDER BY version DESC LIMIT 1"
            )
        else:
            blob = await self._scalar("SELECT files FROM bundles WHERE version = ?", (version,))
        return msgspec.msgpack.decode(blob, type=dict[str, str]) if blob else {}

    async def list_runs(
        self, *, scenario: str | None = None, contact_id: str | None = None, status: str | None = None,
        step: str | None = None, after: int = 0, limit: int = 50,
    ) -> list[RunRow]:  # fmt: skip
        """Runs by id, filtered, ``limit`` from just after ``after`` (keyset pages)."""
        clauses: list[str] = ["id > ?"]
        params: list[Any] = [after]
        for column, value in (("scenario", scenario), ("contact_id", contact_id), ("status", status), ("step", step)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        params.append(limit)
        rows = await self._rows(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?", params
        )
        return [run_row(r) for r in rows]

    async def run_log(self, run_id: int) -> list[StepLog]:
        rows = await self._rows(
            "SELECT run_id, step, name, at, outcome, detail FROM step_log WHERE run_id = ? ORDER BY id", (run_id,)
        )
        return [StepLog(*r) for r in rows]

    async def step_counts(self, scenario: str) -> list[tuple[str, str, str, int]]:
        """(step, name, outcome, runs) of a scenario's runs: each run counted once at each
        step it reached, by the step's last outcome for it (a `wait for` that waited and
        timed out is one run that timed out); steps in the order they were first reached."""
        return await self._rows(
            # a key's count may be spread over rows (PostgreSQL's buckets, pg_schema.BUCKETS): summed
            "SELECT step, name, outcome, sum(runs) FROM count_steps WHERE scenario = ? GROUP BY step, name, outcome "
            "HAVING sum(runs) > 0 ORDER BY min(first_id)",
            (scenario,),
        )

    async def runs_at(self, scenario: str) -> list[tuple[str | None, str, int]]:
        """(current step, status, runs) of a scenario, from the run counters."""
        return await self._rows(
            "SELECT nullif(step, ''), status, sum(runs) FROM count_runs WHERE scenario = ? GROUP BY step, status "
            "HAVING sum(runs) > 0 ORDER BY 1, 2",
            (scenario,),
        )

    async def cancel_runs(self, run_ids: list[int], now: int, reason: str) -> list[int]:
        """Cancel live runs; returns the ids that were live (and are cancelled now)."""

        async def work() -> list[int]:
            cancelled = []
            for run_id in run_ids:
                cursor = await self.db.execute(
                    "UPDATE runs SET status = ?, wake_at = NULL, held_wake_at = NULL, await_event = NULL, "
                    f"ended_at = ?, updated_at = ?, reason = ? WHERE id = ? AND status IN {_LIVE_IN}",
                    (CANCELLED, now, now, reason, run_id, *sorted(LIVE)),
                )
                if cursor.rowcount == 1:
                    cancelled.append(run_id)
                    await self.db.execute(
                        "INSERT INTO step_log (run_id, step, name, at, outcome, detail) "
                        "VALUES (?, 'cancel', 'cancel', ?, 'cancelled', ?)",
                        (run_id, now, reason),
                    )
            return cancelled

        return await self._write(work)

    async def members(self, kind: str, name: str, after: str = "", limit: int = 100) -> list[str]:
        """Contact ids in a list or segment (``kind`` "list" or "segment"), in id order."""
        table, column = ("list_members", "list") if kind == "list" else ("segment_members", "segment")
        rows = await self._rows(
            f"SELECT contact_id FROM {table} WHERE {column} = ? AND contact_id > ? ORDER BY contact_id LIMIT ?",
            (name, after, limit),
        )
        return [r[0] for r in rows]

    async def member_counts(self, kind: str) -> dict[str, int]:
        table, column = ("list_members", "list") if kind == "list" else ("segment_members", "segment")
        return {r[0]: r[1] for r in await self._rows(f"SELECT {column}, count(*) FROM {table} GROUP BY 1")}

    async def bonus_entries(self, contact_id: str) -> list[dict[str, Any]]:
        rows = await self._rows(
            "SELECT order_id, run_id, amount, currency, reason, at FROM bonus_ledger WHERE contact_id = ? ORDER BY id",
            (contact_id,),
        )
        names = ("order_id", "run_id", "amount", "currency", "reason", "at")
        return [dict(zip(names, r, strict=True)) for r in rows]

    async def message_by_step(self, run_id: int, step: str) -> OutboxRow | None:
        """The message a run's step produced (what tracking tokens name)."""
        from .sqlite_outbox import _OUTBOX_COLUMNS, _outbox_row

        rows = await self._rows(f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE run_id = ? AND step = ?", (run_id, step))
        return _outbox_row(rows[0]) if rows else None

    async def metrics(self) -> dict[str, dict[str, int]]:
        """Counts for /metrics: events (processed, pending, failed), runs and messages by status."""
        events = await self._rows("SELECT state, sum(events) FROM count_events GROUP BY 1 HAVING sum(events) > 0")
        runs = await self._rows("SELECT status, sum(runs) FROM count_runs GROUP BY 1 HAVING sum(runs) > 0")
        outbox = await self._rows(
            "SELECT status, sum(messages) FROM count_messages GROUP BY 1 HAVING sum(messages) > 0"
        )
        return {"events": dict(events), "runs": dict(runs), "messages": dict(outbox)}

    async def failed_counts(self) -> list[tuple[str, str, int]]:
        """(channel, failure class, messages) of failed messages; messages that failed before
        their class was recorded (files from older versions) count as "unknown"."""
        return await self._rows(
            "SELECT channel, CASE failure WHEN '' THEN 'unknown' ELSE failure END, sum(messages) "
            "FROM count_messages WHERE status = 'failed' GROUP BY 1, 2 HAVING sum(messages) > 0 ORDER BY 1, 2"
        )

    async def messages_between(self, since: int, until: int, scenario: str | None = None) -> list[OutboxRow]:
        """Messages created in [since, until) (of one scenario, if given), skipped ones aside."""
        from .sqlite_outbox import _OUTBOX_COLUMNS, _outbox_row

        sql = f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE created_at >= ? AND created_at < ? AND status != 'skipped'"
        params: list[Any] = [since, until]
        if scenario is not None:
            sql += " AND scenario = ?"
            params.append(scenario)
        return [_outbox_row(r) for r in await self._rows(sql + " ORDER BY id", params)]

    async def report_counts(
        self, since: int, until: int, scenario: str | None = None, *, origin: int | None = None,
        bucket_ms: int | None = None,
    ) -> list[ReportCount]:  # fmt: skip
        """Figures of the messages made in [since, until), from the counters (report_counts.py)."""
        start = since if origin is None else origin
        return await in_thread(self.db, report_counts.read, since, until, scenario, start, bucket_ms)

    async def messages_of(self, contact_ids: list[str], since: int) -> list[OutboxRow]:
        from .sqlite_outbox import _OUTBOX_COLUMNS, _outbox_row

        found: list[OutboxRow] = []
        for start in range(0, len(contact_ids), 500):
            chunk = contact_ids[start : start + 500]
            rows = await self._rows(
                f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status != 'skipped' AND created_at >= ? "
                f"AND contact_id IN ({', '.join('?' * len(chunk))})",
                [since, *chunk],
            )
            found += [_outbox_row(r) for r in rows]
        return sorted(found, key=lambda m: m.id)

    async def contact_events(
        self, contact_ids: list[str], types: list[str], since: int
    ) -> list[tuple[str, str, str, int, str]]:
        """(key, type, contact, occurred_at, payload) of events of these types about these contacts."""
        found: list[tuple[str, str, str, int, str]] = []
        for start in range(0, len(contact_ids), 500):
            chunk = contact_ids[start : start + 500]
            found += await self._rows(
                f"SELECT key, type, contact_id, occurred_at, payload FROM events WHERE occurred_at >= ? "
                f"AND type IN ({', '.join('?' * len(types))}) AND contact_id IN ({', '.join('?' * len(chunk))})",
                [since, *types, *chunk],
            )
        return sorted(found, key=lambda e: e[3])

    async def paid_orders(
        self, contact_ids: list[str], since: int
    ) -> list[tuple[str, str, str | None, str | None, int]]:
        """(order, contact, total, currency, paid_at) of orders paid since ``since``."""
        found: list[tuple[str, str, str | None, str | None, int]] = []
        for start in range(0, len(contact_ids), 500):
            chunk = contact_ids[start : start + 500]
            found += await self._rows(
                "SELECT id, contact_id, total, currency, paid_at FROM orders WHERE paid_at >= ? "
                f"AND contact_id IN ({', '.join('?' * len(chunk))})",
                [since, *chunk],
            )
        return sorted(found, key=lambda o: o[4])
