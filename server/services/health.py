"""Health and metrics: whether the loops run, and the counts Prometheus reads."""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ...interpreter.store import LIVE
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

    def live(self) -> tuple[bool, dict[str, Any]]:
        """Whether this server should be restarted: one of its own loops has stopped, or the
        engine has been busy without progress too long. An engine process that died and is
        being started again is not a reason (the server does that itself)."""
        core = self.core
        loops = {name: ok for name, ok in core.healthy().items() if name != "engine"}
        stalled = core.engine_stalled_for()
        limit = core.engine_process.stall_after if core.engine_process is not None else core.stall_after
        ok = all(loops.values()) and stalled < limit
        return ok, {"status": "ok" if ok else "failing", "loops": loops, "engine_stalled_s": round(stalled, 1)}

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Whether this server should be sent traffic: every loop runs, the engine's too,
        and it is not stopping. (Until migrations and the deploy are done at start, it does
        not listen at all.)"""
        loops = self.core.healthy()
        ok = all(loops.values()) and not self.core.stopping.is_set()
        return ok, {"status": "ok" if ok else "failing", "loops": loops}

    async def metrics(self) -> bytes:
        """Prometheus's text format: counts from the store's counters (kept in the same
        transactions as the rows, so they survive restarts and never need a scan), and the
        latencies every process of this server observed (interpreter/telemetry.py)."""
        core = self.core
        counts = await core.store.metrics()
        runs = await core.store.run_counts()
        messages = await core.store.message_counts()
        failed = await core.store.failed_counts()
        families: list[Metric] = []
        up = GaugeMetricFamily("scn_up", "1 while the engine loop runs.", value=int(all(core.healthy().values())))
        families.append(up)
        for family, label, help_text in (
            ("events", "state", "Events by processing state."),
            ("runs", "status", "Runs by status."),
            ("messages", "status", "Outbox messages by status."),
        ):
            gauge = GaugeMetricFamily(f"scn_{family}", help_text, labels=[label])
            for key, number in sorted(counts[family].items()):
                gauge.add_metric([key], number)
            families.append(gauge)
        accepted = CounterMetricFamily("scn_events_accepted", "Events accepted (each stored once, duplicates aside).")
        accepted.add_metric([], sum(counts["events"].values()))
        started = CounterMetricFamily("scn_runs_started", "Runs started, by scenario.", labels=["scenario"])
        finished = CounterMetricFamily(
            "scn_runs_finished", "Runs that ended, by scenario and outcome (status).", labels=["scenario", "outcome"]
        )
        for scenario, statuses in sorted(runs.items()):
            started.add_metric([scenario], sum(statuses.values()))
            for status, number in sorted(statuses.items()):
                if status not in LIVE:
                    finished.add_metric([scenario, status], number)
        by_channel: dict[tuple[str, str], int] = defaultdict(int)
        for _scenario, channel, _template, status, _failure, number in messages:
            by_channel[channel, status] += number
        made = CounterMetricFamily(
            "scn_messages", "Messages made, by channel and status now.", labels=["channel", "status"]
        )
        for (channel, status), number in sorted(by_channel.items()):
            made.add_metric([channel, status], number)
        failures = CounterMetricFamily(
            "scn_messages_failed",
            f"Failed messages by channel and class of failure ({', '.join(FAILURE_CLASSES)}).",
            labels=["channel", "reason"],
        )
        for channel, failure, number in failed:
            failures.add_metric([channel, failure], number)
        families += [accepted, started, finished, made, failures]
        return generate_latest(_Counts(families)) + generate_latest(observed())


class _Counts(Collector):
    """The families read from the store for one scrape."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def observed() -> CollectorRegistry:
    """What the processes observed: this one's registry, or, in multiprocess mode (`scn
    serve` with the engine in a child), the sum over every process's files."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped in prometheus_client
    return registry
