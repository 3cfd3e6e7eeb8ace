"""What the console's pages read: small aggregates per scenario, each an index lookup or a
range of one index, never a pass over a whole table.

Reads only, on the reader connection. The indexes they use are migration 7 of schema.py;
tests/test_console_store.py checks each plan.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ._sql import SqlAccess
from .records import FAILED, LIVE, OutboxRow, RunRow
from .sqlite_changes import RUN_COLUMNS, placeholders, run_row

#: Outbox statuses counted as sends (skipped messages never left).
_SEND_STATUSES = ("pending", "sent", "failed")


class OverviewMixin(SqlAccess):
    async def live_runs_by_status(self, scenario: str) -> dict[str, int]:
        """Runs of a scenario that have not ended, by status (running, waiting, awaiting)."""
        live = sorted(LIVE)
        rows = await self._rows(
            f"SELECT status, sum(runs) FROM count_runs WHERE scenario = ? AND status IN ({placeholders(len(live))}) "
            "GROUP BY status HAVING sum(runs) > 0",
            (scenario, *live),
        )
        return {status: count for status, count in rows}

    async def sends_since(self, scenario: str, since: int) -> dict[str, int]:
        """Messages a scenario made since ``since`` by status (pending, sent, failed): one
        range of the (scenario, status, created_at) index per status."""
        counts: dict[str, int] = {}
        for status in _SEND_STATUSES:
            number = await self._scalar(
                "SELECT count(*) FROM outbox WHERE scenario = ? AND status = ? AND created_at >= ?",
                (scenario, status, since),
            )
            if number:
                counts[status] = int(number)
        return counts

    async def last_failure(self, scenario: str) -> tuple[str, int] | None:
        """(why, when) of the scenario's latest failed message or failed run, whichever is later."""
        message = await self._rows(
            "SELECT coalesce(error, 'failed'), created_at FROM outbox WHERE scenario = ? AND status = 'failed' "
            "ORDER BY id DESC LIMIT 1",
            (scenario,),
        )
        run = await self._rows(
            "SELECT coalesce(reason, 'failed'), updated_at FROM runs WHERE scenario = ? AND status = ? "
            "ORDER BY id DESC LIMIT 1",
            (scenario, FAILED),
        )
        found = [(str(why), int(at)) for why, at in (*message, *run)]
        return max(found, key=lambda f: f[1]) if found else None

    async def skip_reasons(self, scenario: str) -> list[tuple[str, str, int]]:
        """(step, why, messages) of the messages a scenario's steps skipped (frequency caps,
        unsubscribed contacts, no address...), from a partial index of skipped messages."""
        rows = await self._rows(
            "SELECT step, coalesce(error, ''), count(*) FROM outbox WHERE scenario = ? AND status = 'skipped' "
            "GROUP BY step, error ORDER BY step, count(*) DESC",
            (scenario,),
        )
        return [(str(step or ""), str(why), int(n)) for step, why, n in rows]

    async def step_messages(self, scenario: str, step: str, after: int = 0, limit: int = 50) -> list[OutboxRow]:
        """A scenario step's messages by id after ``after`` (keyset pages)."""
        from .sqlite_outbox import _OUTBOX_COLUMNS, _outbox_row

        rows = await self._rows(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE scenario = ? AND step = ? AND id > ? ORDER BY id LIMIT ?",
            (scenario, step, after, limit),
        )
        return [_outbox_row(r) for r in rows]

    async def run_messages(self, run_id: int) -> list[OutboxRow]:
        """The messages a run made, in order."""
        from .sqlite_outbox import _OUTBOX_COLUMNS, _outbox_row

        rows = await self._rows(f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE run_id = ? ORDER BY id", (run_id,))
        return [_outbox_row(r) for r in rows]

    async def contact_messages(self, contact_id: str, limit: int = 50) -> list[OutboxRow]:
        """A contact's latest messages, newest first."""
        from .sqlite_outbox import _OUTBOX_COLUMNS, _outbox_row

        rows = await self._rows(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE contact_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
            (contact_id, limit),
        )
        return [_outbox_row(r) for r in rows]

    async def find_contacts(self, text: str, limit: int = 20) -> list[dict[str, Any]]:
        """Contacts whose id starts with ``text`` or whose email is ``text`` (any case of its
        domain aside): id, email, names, language; by id."""
        if not text:
            return []
        columns = "id, email, first_name, last_name, language"
        # Ids from `text` up to the next string that does not start with it: a range of the key.
        rows = await self._rows(
            f"SELECT {columns} FROM contacts WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            (text, text + "\U0010ffff", limit),
        )
        rows += await self._rows(f"SELECT {columns} FROM contacts WHERE email = ? LIMIT ?", (text, limit))
        names = ("id", "email", "first_name", "last_name", "language")
        found = {r[0]: dict(zip(names, r, strict=True)) for r in rows}
        return [found[k] for k in sorted(found)][:limit]

    async def variant_runs(
        self, scenario: str, since: int, until: int, limit: int = 100_000
    ) -> list[tuple[int, str, str | None]]:
        """(run, contact, variant) of a scenario's runs that a split sent somewhere, started in
        [since, until); from a partial index of runs with a variant."""
        return await self._rows(
            "SELECT id, contact_id, variant FROM runs WHERE scenario = ? AND variant IS NOT NULL "
            "AND started_at >= ? AND started_at < ? ORDER BY id LIMIT ?",
            (scenario, since, until, limit),
        )

    async def step_entries(self, run_ids: Collection[int], step: str) -> list[tuple[int, int, str, str | None]]:
        """(run, at, outcome, detail) of these runs' log entries at ``step`` (a split's choice)."""
        found: list[tuple[int, int, str, str | None]] = []
        ids = list(run_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            found += await self._rows(
                f"SELECT run_id, at, outcome, detail FROM step_log WHERE run_id IN ({placeholders(len(chunk))}) "
                "AND step = ? ORDER BY id",
                (*chunk, step),
            )
        return found

    async def contact_runs(self, contact_id: str, limit: int = 100) -> list[RunRow]:
        """A contact's latest runs, newest first."""
        rows = await self._rows(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE contact_id = ? ORDER BY id DESC LIMIT ?", (contact_id, limit)
        )
        return [run_row(r) for r in rows]
