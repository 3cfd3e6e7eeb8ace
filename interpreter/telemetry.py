"""What the runtime measures as it works, for `/metrics`: latencies, as prometheus_client
histograms. (Counts are not kept here: they are read from the store's counters, which
survive restarts and agree with the rows; see server/services/health.py.)

Under `scn serve` the engine runs in a process of its own, so prometheus_client's
multiprocess mode is on there (`PROMETHEUS_MULTIPROC_DIR`, set by the command before
anything imports prometheus_client): each process writes its observations to files in
that directory and /metrics adds them up.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar

from prometheus_client import Histogram

from .store import EventRow

#: From milliseconds to tens of minutes: a backlog shows in the upper buckets.
_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)

EVENT_LAG = Histogram(
    "scn_event_lag_seconds",
    "From an event's acceptance (its 202) to the commit of its processing by the engine.",
    buckets=_LAG_BUCKETS,
)
WAKEUP_LATENESS = Histogram(
    "scn_wakeup_lateness_seconds",
    "From a run's wake-up time to the commit of what it did then.",
    buckets=_LAG_BUCKETS,
)
SEND_LATENCY = Histogram(
    "scn_send_latency_seconds",
    "From a message's creation in the outbox to its acceptance by the provider, by channel.",
    ["channel"],
    buckets=_LAG_BUCKETS,
)


#: False in a replay (a backtest in the server's process): its virtual times are no
#: latencies of the live engine's and must not blend into them.
_OBSERVED: ContextVar[bool] = ContextVar("scn_observed", default=True)


def not_observed() -> None:
    """What the runtime does from here on in this context (a task and those it starts) is
    not measured."""
    _OBSERVED.set(False)


def events_processed(events: Iterable[EventRow], done_ms: int) -> None:
    if not _OBSERVED.get():
        return
    for event in events:
        EVENT_LAG.observe(max(done_ms - event.received_at, 0) / 1000)


def runs_woken(wake_times: Iterable[int], done_ms: int) -> None:
    if not _OBSERVED.get():
        return
    for wake_at in wake_times:
        WAKEUP_LATENESS.observe(max(done_ms - wake_at, 0) / 1000)


def message_sent(channel: str, created_ms: int, sent_ms: int) -> None:
    SEND_LATENCY.labels(channel).observe(max(sent_ms - created_ms, 0) / 1000)
