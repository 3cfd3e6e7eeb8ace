"""Bundles and scenario versions in SQLite: saving a compiled workspace (live or as a
draft), publishing or rolling back a scenario to one of its versions, and the audit
record of each such change (who, when, what)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from ._sql import SqlAccess, in_thread
from .base import StoreError
from .records import LIVE
from .report_counts import remember_windows
from .run_moves import RUN_EXITED, RUN_MOVED, RUN_SENT, RunMove, RunPlace, moves_summary

#: Plans what happens to the live runs given (those on other versions) when published.
MovePlanner = Callable[[list[RunPlace]], Sequence[RunMove]]
_LIVE_IN = "(" + ", ".join(f"'{s}'" for s in sorted(LIVE)) + ")"


class VersionsMixin(SqlAccess):
    async def save_bundle(
        self, blob: bytes, digests: dict[str, str], now: int, files: bytes | None = None, *, draft: bool = False,
        actor: str = "system",
    ) -> tuple[int, dict[str, int]]:  # fmt: skip
        """Store a new bundle (with the workspace's files, if given); each scenario whose
        program changed gets a new version. A ``draft`` version takes no runs and does not
        become the scenario's current one until published; otherwise the new versions are
        current at once. Each new or newly current version gets an audit record by ``actor``."""
        blob_digest = hashlib.sha256(blob).hexdigest()

        async def work() -> tuple[int, dict[str, int]]:
            latest = await self._rows("SELECT version, digest FROM bundles ORDER BY version DESC LIMIT 1")
            if latest and latest[0][1] == blob_digest:
                bundle: int = latest[0][0]  # the same workspace again (a restart): nothing new
                if files is not None:  # the same programs; comments or layout may have changed
                    await self.db.execute("UPDATE bundles SET files = ? WHERE version = ?", (files, bundle))
                if not draft:  # uploaded live after it was a draft
                    await self.db.execute("UPDATE bundles SET draft = 0 WHERE version = ?", (bundle,))
            else:
                cursor = await self.db.execute(
                    "INSERT INTO bundles (created_at, blob, digest, files, draft) VALUES (?, ?, ?, ?, ?)",
                    (now, blob, blob_digest, files, int(draft)),
                )
                assert cursor.lastrowid is not None
                bundle = cursor.lastrowid
            versions: dict[str, int] = {}
            for name, digest in digests.items():
                versions[name] = await self._save_version(name, digest, bundle, now, draft, actor)
            await in_thread(self.db, remember_windows, blob)
            return bundle, versions

        return await self._write(work)

    async def _save_version(self, name: str, digest: str, bundle: int, now: int, draft: bool, actor: str) -> int:
        current = await self._rows(
            "SELECT s.version, s.state, v.digest FROM scenarios s JOIN scenario_versions v "
            "ON v.scenario = s.name AND v.version = s.version WHERE s.name = ?",
            (name,),
        )
        last = await self._rows(
            "SELECT version, digest, draft FROM scenario_versions WHERE scenario = ? ORDER BY version DESC LIMIT 1",
            (name,),
        )
        if current and current[0][2] == digest and (draft or current[0][1] != "draft"):
            version: int = current[0][0]  # what runs now already
            action = None
        elif last and last[0][1] == digest:
            version = last[0][0]  # the newest version again (a draft uploaded live, say)
            action = None if draft else "publish"
        else:
            version = (last[0][0] + 1) if last else 1
            await self.db.execute(
                "INSERT INTO scenario_versions (scenario, version, bundle, digest, created_at, draft) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (name, version, bundle, digest, now, int(draft)),
            )
            action = "draft" if draft else "upload"
        previous = current[0][0] if current else None
        if draft:
            if not current:  # a new scenario: listed, as a draft, so that it can be published
                await self.db.execute(
                    "INSERT INTO scenarios (name, state, version, bundle, updated_at) VALUES (?, 'draft', ?, ?, ?)",
                    (name, version, bundle, now),
                )
        else:
            await self.db.execute("UPDATE scenario_versions SET draft = 0 WHERE scenario = ? AND version = ?",
                                  (name, version))  # fmt: skip
            # The new bundle even when the program is the same: its templates' texts may not be.
            await self.db.execute(
                "INSERT INTO scenarios (name, state, version, bundle, updated_at) VALUES (?, 'active', ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET version = excluded.version, bundle = excluded.bundle, "
                "updated_at = excluded.updated_at, "
                "state = CASE WHEN scenarios.state IN ('archived', 'draft') THEN 'active' ELSE scenarios.state END",
                (name, version, bundle, now),
            )
        if action is not None:
            await self._audit(name, now, actor, action, version, previous, None)
        return version

    async def _audit(
        self, name: str, now: int, actor: str, action: str, version: int | None, previous: int | None,
        detail: str | None,
    ) -> None:  # fmt: skip
        await self.db.execute(
            "INSERT INTO scenario_audit (scenario, at, actor, action, version, previous, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, now, actor, action, version, previous, detail),
        )

    async def live_places(self, name: str, version: int) -> list[RunPlace]:
        """Where the live runs of scenario ``name`` that are not on ``version`` are, by id."""
        rows = await self._rows(
            f"SELECT id, version, position, step, status FROM runs WHERE scenario = ? AND version != ? "
            f"AND status IN {_LIVE_IN} ORDER BY id",
            (name, version),
        )
        return [RunPlace(*row) for row in rows]

    async def publish_version(
        self, name: str, version: int, now: int, actor: str, action: str = "publish", detail: str | None = None,
        move: MovePlanner | None = None,
    ) -> list[RunMove]:  # fmt: skip
        """Make ``version`` scenario ``name``'s current one: new runs start on it (a draft
        stops being one; a rollback is the same with ``action`` "rollback"), with its audit
        record, in one transaction. With ``move``, the live runs on other versions are read
        in that transaction, planned by ``move`` and moved (or exited) in it too: all or
        none. Returns the plan. StoreError when the scenario has no such version."""

        async def work() -> list[RunMove]:
            found = await self._rows(
                "SELECT bundle FROM scenario_versions WHERE scenario = ? AND version = ?", (name, version)
            )
            if not found:
                raise StoreError(f"scenario {name} has no version {version}")
            previous = await self._scalar("SELECT version FROM scenarios WHERE name = ?", (name,))
            await self.db.execute("UPDATE scenario_versions SET draft = 0 WHERE scenario = ? AND version = ?",
                                  (name, version))  # fmt: skip
            await self.db.execute("UPDATE bundles SET draft = 0 WHERE version = ?", (found[0][0],))
            await self.db.execute(
                "UPDATE scenarios SET version = ?, bundle = ?, updated_at = ?, "
                "state = CASE WHEN state = 'draft' THEN 'active' ELSE state END WHERE name = ?",
                (version, found[0][0], now, name),
            )
            moves: Sequence[RunMove] = []
            if move is not None:
                moves = move(await self.live_places(name, version))
                await self._move_runs(name, version, found[0][0], now, moves)
            note = moves_summary(moves) if move is not None else None
            detail_of = "; ".join(filter(None, [detail, note])) or None
            await self._audit(name, now, actor, action, version, previous, detail_of)
            return list(moves)

        return await self._write(work)

    async def _move_runs(self, name: str, version: int, bundle: int, now: int, moves: Sequence[RunMove]) -> None:
        """Apply a plan of `publish_version` (inside its transaction). Waits keep their
        wake-up time; a run sent to a named step is due at once (held while paused)."""
        paused = await self._scalar("SELECT state = 'paused' FROM scenarios WHERE name = ?", (name,))
        for m in moves:
            if m.outcome == RUN_MOVED:
                await self.db.execute(
                    "UPDATE runs SET version = ?, bundle = ?, position = ?, step = ?, await_event = ?, updated_at = ? "
                    f"WHERE id = ? AND version = ? AND status IN {_LIVE_IN}",
                    (version, bundle, m.position, m.step, m.await_event, now, m.run, m.old_version),
                )
                detail = f"from version {m.old_version} at {m.old_step or 'the start'} to version {version} at " \
                         f"{m.step or 'the start'}"  # fmt: skip
                await self._log_step(m.run, "move", "moved", now, detail)
            elif m.outcome == RUN_SENT:
                await self.db.execute(
                    "UPDATE runs SET version = ?, bundle = ?, position = ?, step = ?, status = 'running', "
                    "await_event = NULL, wake_at = ?, held_wake_at = ?, updated_at = ? "
                    f"WHERE id = ? AND version = ? AND status IN {_LIVE_IN}",
                    (version, bundle, m.position, m.step, None if paused else now, now if paused else None, now,
                     m.run, m.old_version),
                )  # fmt: skip
                detail = f"from version {m.old_version} at {m.old_step}, which version {version} has not, to {m.step}"
                await self._log_step(m.run, "move", "moved", now, detail)
            elif m.outcome == RUN_EXITED:
                await self.db.execute(
                    "UPDATE runs SET status = 'exited', wake_at = NULL, held_wake_at = NULL, await_event = NULL, "
                    f"ended_at = ?, updated_at = ?, reason = ? WHERE id = ? AND status IN {_LIVE_IN}",
                    (now, now, m.reason, m.run),
                )
                await self._log_step(m.run, "exit", "exited", now, m.reason)

    async def _log_step(self, run: int, step: str, outcome: str, now: int, detail: str | None) -> None:
        await self.db.execute(
            "INSERT INTO step_log (run_id, step, name, at, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (run, step, step, now, outcome, detail),
        )

    async def record_audit(self, name: str, now: int, actor: str, action: str, detail: str | None = None) -> None:
        """An audit record of a change that is not a version's (pause, resume, archive, delete)."""

        async def work() -> None:
            version = await self._scalar("SELECT version FROM scenarios WHERE name = ?", (name,))
            await self._audit(name, now, actor, action, version, None, detail)

        await self._write(work)

    async def audit_records(self, name: str, after: int = 0, limit: int = 50) -> list[dict[str, Any]]:
        """A scenario's audit records, oldest first, after id ``after``."""
        return await self._dicts(
            "SELECT id, at, actor, action, version, previous, detail FROM scenario_audit "
            "WHERE scenario = ? AND id > ? ORDER BY id LIMIT ?",
            (name, after, limit),
        )

    async def latest_bundle(self) -> int | None:
        """The newest bundle that is not only a draft: the workspace's current declarations."""
        value = await self._scalar("SELECT max(version) FROM bundles WHERE draft = 0")
        return int(value) if value is not None else None

    async def scenario_versions(self, name: str) -> list[tuple[int, int, str, int, bool]]:
        """(version, bundle, digest, created_at, draft) of a scenario, oldest first."""
        rows = await self._rows(
            "SELECT version, bundle, digest, created_at, draft FROM scenario_versions WHERE scenario = ? "
            "ORDER BY version",
            (name,),
        )
        return [(v, b, d, at, bool(draft)) for v, b, d, at, draft in rows]
