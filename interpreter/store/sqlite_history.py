"""A period of a live SQLite store's history, read through a read-only connection, and
copied into a fresh store for a backtest (interpreter/versions/backtest.py).

Read-only rather than a copy of the whole file (SQLite's backup API): a backtest needs the
period's events, the contacts and a few lookup tables, not the live runs, orders, lists and
messages, which describe the state at the end of the period and would have to be deleted
from a copy before replaying from its start. A `mode=ro` connection cannot write, so the
live file cannot change whatever the replay does; in WAL mode it reads a consistent snapshot
while the live engine goes on writing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

from ._sql import in_thread
from .base import StoreError
from .locations import is_postgresql
from .records import SKIPPED, EventIn
from .schema import MIGRATIONS
from .sqlite import SqliteStore

#: Keys of the events the runtime itself raised (list.entered, segment.entered,
#: coupon.redeemed, group.changed) and the sender's bounces of live messages: the
#: replay raises its own, so the live ones are not replayed.
RAISED_KEY_PREFIXES = ("run:", "segment:", "coupon:", "scn:")
#: Tables copied as they are now: who the contacts are (their attributes, consent and
#: channels), the catalogue, and the addresses no message may go to.
COPIED_TABLES = ("contacts", "products", "suppressions")


_FROM_OUTSIDE = " AND ".join(f"key NOT GLOB '{prefix}*'" for prefix in RAISED_KEY_PREFIXES)


class SentMessage(NamedTuple):
    """A message a scenario made (live, or in a replay), skipped ones aside."""

    scenario: str
    step: str
    channel: str
    template: str
    contact_id: str
    created_at: int
    coupon_code: str | None


class IssuedCoupon(NamedTuple):
    scenario: str
    coupon: str
    contact_id: str
    issued_at: int


#: Messages of runs started by an event of the period, made in the period. Runs that
#: started before it are left out on both sides: the replay cannot know where they were.
_MESSAGES = (
    "SELECT o.scenario, coalesce(o.step, ''), o.channel, coalesce(o.template, ''), o.contact_id, o.created_at, "
    "o.coupon_code FROM outbox o JOIN runs r ON r.id = o.run_id JOIN events e ON e.id = r.trigger_event "
    f"WHERE o.scenario = ? AND o.created_at >= ? AND o.created_at < ? AND o.status != '{SKIPPED}' "
    "AND e.occurred_at >= ? ORDER BY o.created_at, o.id"
)
_COUPONS = (
    "SELECT r.scenario, c.coupon, c.contact_id, c.issued_at FROM coupon_codes c JOIN runs r ON r.id = c.run_id "
    "JOIN events e ON e.id = r.trigger_event WHERE r.scenario = ? AND c.issued_at >= ? AND c.issued_at < ? "
    "AND e.occurred_at >= ? ORDER BY c.issued_at, c.id"
)


def open_read_only(path: str) -> sqlite3.Connection:
    """A connection that cannot write to the store at ``path`` (StoreError when it is not
    a store of this scn's schema)."""
    if is_postgresql(path):
        raise StoreError("a backtest reads an SQLite store's history; on PostgreSQL it is not built yet")
    if not Path(path).is_file():
        raise StoreError(f"{path}: no such database")
    db = sqlite3.connect(f"file:{quote(str(Path(path).resolve()))}?mode=ro", uri=True, check_same_thread=False)
    try:
        version = db.execute("SELECT version FROM schema_version").fetchone()
    except sqlite3.DatabaseError as error:
        db.close()
        raise StoreError(f"{path} is not a scn database ({error})") from error
    if version is None or version[0] != len(MIGRATIONS):
        db.close()
        raise StoreError(f"{path} has schema {version[0] if version else '?'}, this scn {len(MIGRATIONS)}: open it "
                         "with `scn serve` or `scn worker` once (they migrate it), then backtest")  # fmt: skip
    return db


def period_events(db: sqlite3.Connection, since: int, until: int) -> list[EventIn]:
    """The events that came from outside in [since, until), in the order they happened."""
    rows = db.execute(
        "SELECT key, type, contact_id, occurred_at, payload FROM events WHERE occurred_at >= ? AND occurred_at < ? "
        f"AND {_FROM_OUTSIDE} ORDER BY occurred_at, id",
        (since, until),
    )
    return [EventIn(*row) for row in rows]


def count_events(db: sqlite3.Connection, since: int, until: int) -> int:
    """How many events of [since, until) `period_events` reads."""
    row = db.execute(f"SELECT count(*) FROM events WHERE occurred_at >= ? AND occurred_at < ? AND {_FROM_OUTSIDE}",
                     (since, until)).fetchone()  # fmt: skip
    return int(row[0])


def sent_messages(db: sqlite3.Connection, scenarios: list[str], since: int, until: int) -> list[SentMessage]:
    """What ``scenarios`` sent in [since, until) to runs an event of the period started."""
    found: list[SentMessage] = []
    for name in scenarios:
        found += [SentMessage(*row) for row in db.execute(_MESSAGES, (name, since, until, since))]
    return found


def issued_coupons(db: sqlite3.Connection, scenarios: list[str], since: int, until: int) -> list[IssuedCoupon]:
    """The coupon codes ``scenarios``' runs started in the period were given in it."""
    found: list[IssuedCoupon] = []
    for name in scenarios:
        found += [IssuedCoupon(*row) for row in db.execute(_COUPONS, (name, since, until, since))]
    return found


def pool_codes(db: sqlite3.Connection, coupon: str) -> list[str]:
    """Every code of a coupon's imported pool, given or not (all free again in a replay)."""
    return [row[0] for row in db.execute("SELECT DISTINCT code FROM coupon_codes WHERE coupon = ? AND shared = 0",
                                          (coupon,))]  # fmt: skip


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


async def copy_tables(live: sqlite3.Connection, store: SqliteStore) -> dict[str, int]:
    """Copy `COPIED_TABLES` from the live store into ``store`` (a fresh one), in one
    transaction; returns the rows copied per table. Only the columns both have."""
    copied: dict[str, int] = {}

    def work(db: sqlite3.Connection) -> None:
        for table in COPIED_TABLES:
            theirs = set(_columns(db, table))
            columns = [c for c in _columns(live, table) if c in theirs]
            names = ", ".join(columns)
            rows: Any = live.execute(f"SELECT {names} FROM {table}")
            cursor = db.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)
            copied[table] = cursor.rowcount

    await store._write_now(work)
    return copied


async def replayed_messages(store: SqliteStore, scenarios: list[str], since: int, until: int) -> list[SentMessage]:
    """`sent_messages` of a replay's store."""
    return await in_thread(store.db, sent_messages, scenarios, since, until)


async def replayed_coupons(store: SqliteStore, scenarios: list[str], since: int, until: int) -> list[IssuedCoupon]:
    """`issued_coupons` of a replay's store."""
    return await in_thread(store.db, issued_coupons, scenarios, since, until)


def stored_version(db: sqlite3.Connection, scenario: str, version: int | None) -> tuple[int, bytes]:
    """(version, bundle blob) of a stored version of ``scenario`` (None: its newest, a draft
    or not); StoreError saying which versions there are."""
    rows = db.execute("SELECT v.version, b.blob FROM scenario_versions v JOIN bundles b ON b.version = v.bundle "
                      "WHERE v.scenario = ? ORDER BY v.version", (scenario,)).fetchall()  # fmt: skip
    if not rows:
        raise StoreError(f"the store has no scenario {scenario!r}")
    if version is None:
        return rows[-1][0], rows[-1][1]
    found = [blob for number, blob in rows if number == version]
    if not found:
        known = ", ".join(str(number) for number, _ in rows)
        raise StoreError(f"scenario {scenario} has no version {version}; it has {known}")
    return version, found[0]
