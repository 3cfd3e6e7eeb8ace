"""Stores: where runs, events, contacts and messages live (see `base.Store`).

`PgStore` is imported when it is first named (`store_at` a postgresql:// URL, or
`from scn.interpreter.store import PgStore`): it imports asyncpg, which a process on an
SQLite file would otherwise hold for nothing (tests/test_serve_imports.py)."""

from typing import TYPE_CHECKING

from .base import ControlStore, Overview, Queries, Store, StoreError, WorkTakenOver
from .locations import is_postgresql
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

if TYPE_CHECKING:
    from .pg import PgStore


def store_at(location: str, *, synchronous: str = "FULL") -> SqliteStore:
    """The store a `--db` / `SCN_DB` value names: a PostgreSQL database by its URL
    (postgresql://user:password@host:port/name), else an SQLite file by its path (or
    `sqlite:PATH`, `sqlite:///ABSOLUTE/PATH`; `:memory:` for a store in memory)."""
    if is_postgresql(location):
        from .pg import PgStore

        return PgStore(location)
    if location.startswith("sqlite:///"):
        location = location.removeprefix("sqlite://")
    return SqliteStore(location.removeprefix("sqlite:"), synchronous=synchronous)


def __getattr__(name: str) -> object:
    if name == "PgStore":
        from .pg import PgStore

        return PgStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
