"""Stores: where runs, events, contacts and messages live (see `base.Store`)."""

from .base import ControlStore, Overview, Queries, Store, StoreError, WorkTakenOver
from .pg import PgStore, is_postgresql
from .records import (
    AWAITING,
    BROADCAST_CANCELLED,
    BROADCAST_DONE,
    BROADCASTING,
    CANCELLED,
    DONE,
    EXITED,
    FAILED,
    LIVE,
    PAUSED,
    PENDING,
    RUNNING,
    SCHEDULED,
    SENT,
    SKIPPED,
    STOPPED,
    UNDELIVERED,
    WAITING,
    BonusEntry,
    BroadcastRow,
    Changes,
    Claim,
    ContactUpdate,
    CouponIssue,
    DateState,
    Delivery,
    EventIn,
    EventRow,
    OrderUpdate,
    OutboxIn,
    OutboxRow,
    ReportCount,
    RunRow,
    RunStart,
    ScenarioRow,
    StepLog,
    decode_json,
)
from .sqlite import SqliteStore
from .sqlite_broadcasts import BroadcastGone


def store_at(location: str, *, synchronous: str = "FULL") -> SqliteStore:
    """The store a `--db` / `SCN_DB` value names: a PostgreSQL database by its URL
    (postgresql://user:password@host:port/name), else an SQLite file by its path (or
    `sqlite:PATH`, `sqlite:///ABSOLUTE/PATH`; `:memory:` for a store in memory)."""
    if is_postgresql(location):
        return PgStore(location)
    if location.startswith("sqlite:///"):
        location = location.removeprefix("sqlite://")
    return SqliteStore(location.removeprefix("sqlite:"), synchronous=synchronous)


__all__ = [
    "BROADCASTING",
    "BROADCAST_CANCELLED",
    "BROADCAST_DONE",
    "PAUSED",
    "SCHEDULED",
    "BroadcastRow",
    "BroadcastGone",
    "AWAITING",
    "CANCELLED",
    "DONE",
    "EXITED",
    "FAILED",
    "LIVE",
    "RUNNING",
    "STOPPED",
    "WAITING",
    "BonusEntry",
    "Changes",
    "Claim",
    "ContactUpdate",
    "ControlStore",
    "CouponIssue",
    "Delivery",
    "EventIn",
    "EventRow",
    "OrderUpdate",
    "OutboxIn",
    "OutboxRow",
    "Overview",
    "PENDING",
    "Queries",
    "ReportCount",
    "SENT",
    "SKIPPED",
    "UNDELIVERED",
    "RunRow",
    "RunStart",
    "DateState",
    "ScenarioRow",
    "PgStore",
    "SqliteStore",
    "StepLog",
    "Store",
    "StoreError",
    "WorkTakenOver",
    "decode_json",
    "is_postgresql",
    "store_at",
]
