"""Health and metrics: whether the loops run, and the counts Prometheus reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ...stdlib.failures import FAILURE_CLASSES
from ..core import Core


class HealthService:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def status(self) -> tuple[bool, dict[str, Any]]:
        """Whether every loop runs (and the engine's is not stuck), and the health document."""
        core = self.core
        loops = core.healthy()
        ok = all(loops.values())
        body = {
            "status": "ok" if ok else "failing",
            "loops": loops,
            "engine_stalled_s": round(core.engine_stalled_for(), 1),
            "schema": await core.store.schema_version(),
            "scenarios": len(core.engine.scenarios),
            "uptime_s": int((dt.datetime.now(dt.UTC) - core.started_at).total_seconds()),
        }
        return ok, body

    async def metrics(self) -> str:
        """The counts of events, runs and messages by state, in Prometheus's text format."""
        core = self.core
        counts = await core.store.metrics()
        lines = [
            "# HELP scn_up 1 while the engine loop runs.",
            "# TYPE scn_up gauge",
            f"scn_up {int(all(core.healthy().values()))}",
        ]
        for family, label, help_text in (
            ("events", "state", "Events by processing state."),
            ("runs", "status", "Runs by status."),
            ("messages", "status", "Outbox messages by status."),
        ):
            lines += [f"# HELP scn_{family} {help_text}", f"# TYPE scn_{family} gauge"]
            lines += [f'scn_{family}{{{label}="{k}"}} {v}' for k, v in sorted(counts[family].items())]
        lines += [
            "# HELP scn_messages_failed_total Failed messages by channel and class of failure "
            f"({', '.join(FAILURE_CLASSES)}).",
            "# TYPE scn_messages_failed_total counter",
        ]
        lines += [f'scn_messages_failed_total{{channel="{channel}",reason="{failure}"}} {count}'
                  for channel, failure, count in await core.store.failed_counts()]  # fmt: skip
        return "\n".join(lines) + "\n"
