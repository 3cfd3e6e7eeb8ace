"""The suppression list in the SQLite store: addresses no message may go to, per channel.

An entry is keyed by channel and address, the address in the normal form
`stdlib.suppression.normal_address` gives (the lookups and the writes agree on it). An
address whose contact was erased is kept only as the digest `erased_key` gives, so that
it stays suppressed without being held (docs/delivery.md, "Erasing a contact").
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, runtime_checkable

import msgspec

from ._sql import SqlAccess
from .records import OutboxRow

_COLUMNS = "channel, address, reason, source, detail, created_at"
#: How long the id of a counted soft bounce is kept (providers retry for up to three days).
SEEN_MS = 30 * 86_400_000
#: The most addresses one query of `suppressions_of` asks for (SQLite's bound on a
#: statement's parameters is 32,766 in current builds, 999 in old ones).
QUERY_KEYS = 900


class Suppression(msgspec.Struct, frozen=True, kw_only=True):
    """One address of the list: why (`reason`), since when and who put it there (`source`)."""

    channel: str
    address: str
    reason: str
    source: str
    created_at: int
    detail: str | None = None


def erased_key(address: str) -> str:
    """What stands for an address once its contact is erased: its SHA-256, not the address."""
    return "sha256:" + hashlib.sha256(address.encode("utf-8")).hexdigest()


def _row(row: Sequence[object]) -> Suppression:
    channel, address, reason, source, detail, created_at = row
    return Suppression(channel=str(channel), address=str(address), reason=str(reason), source=str(source),
                       detail=None if detail is None else str(detail), created_at=int(str(created_at)))  # fmt: skip


@runtime_checkable
class SuppressionStore(Protocol):
    """What the suppression gate, the feedback webhooks and the API need of a store."""

    async def suppression(self, channel: str, address: str) -> Suppression | None:
        """The entry that suppresses ``address`` (normal form) on ``channel``, if any."""

    async def suppressions_of(self, channel: str, addresses: Sequence[str]) -> dict[str, Suppression]:
        """The entries that suppress any of ``addresses`` (normal form) on ``channel``, in
        one query, by the address each suppresses (an erased contact's entry under the
        address it stands for; the address's own entry where it has both)."""

    async def suppression_page(self, channel: str, after: str = "", limit: int = 100) -> list[Suppression]:
        """Entries of a channel in address order, after ``after`` (keyset pagination)."""

    async def add_suppressions(self, entries: Sequence[Suppression]) -> tuple[int, int]:
        """Add entries in one transaction; an address already there takes the new reason,
        source and detail and keeps its date. Returns (added, updated)."""

    async def remove_suppression(self, channel: str, address: str) -> bool:
        """Take an address off the list (and forget its soft bounces); False if it was not on it."""

    async def count_soft_bounce(self, channel: str, address: str, now: int, key: str | None = None) -> int | None:
        """One more soft bounce of an address; how many it has had since it was last taken
        off the list. None when ``key`` (the provider's id of the bounce) was counted before."""

    async def contacts_by_email(self, addresses: Sequence[str]) -> list[str]:
        """The contacts whose email is one of ``addresses`` in any case (from an index of lower(email))."""


class Claimed(list[OutboxRow]):
    """The messages of one claim (`Store.exchange_outbox`), and for a claim with a
    `Claim.screen`, the entries of the suppression list that held any of their addresses
    when they were claimed (by address, as `suppressions_of` gives them)."""

    def __init__(self, rows: Iterable[OutboxRow] = (), suppressed: dict[str, Suppression] | None = None) -> None:
        super().__init__(rows)
        self.suppressed: dict[str, Suppression] = suppressed or {}


def _lookups(channel: str, addresses: Iterable[str]) -> tuple[dict[str, str], list[tuple[str, tuple[str, ...]]]]:
    """What the list may hold for each address (itself, its digest), and the queries that
    read them (at most `QUERY_KEYS` a query)."""
    keys: dict[str, str] = {}
    for address in addresses:
        keys[address] = address
        keys[erased_key(address)] = address
    wanted = list(keys)
    queries = []
    for start in range(0, len(wanted), QUERY_KEYS):
        chunk = wanted[start : start + QUERY_KEYS]
        sql = f"SELECT {_COLUMNS} FROM suppressions WHERE channel = ? AND address IN ({', '.join('?' * len(chunk))})"
        queries.append((sql, (channel, *chunk)))
    return keys, queries


def _found(keys: dict[str, str], rows: Iterable[Sequence[object]], found: dict[str, Suppression]) -> None:
    for row in rows:
        entry = _row(row)
        address = keys[entry.address]
        if address not in found or entry.address == address:  # its own entry over the digest's
            found[address] = entry


def screened_claim(db: sqlite3.Connection, channel: str, rows: list[OutboxRow],
                   screen: Callable[[OutboxRow], str | None]) -> Claimed:  # fmt: skip
    """A claim's messages with the entries that suppress them, read on the claim's own
    connection, in its transaction (no hand-off of its own)."""
    addresses = {a for a in map(screen, rows) if a is not None}
    keys, queries = _lookups(channel, sorted(addresses))
    found: dict[str, Suppression] = {}
    for sql, params in queries:
        _found(keys, db.execute(sql, params).fetchall(), found)
    return Claimed(rows, found)


class SuppressionMixin(SqlAccess):
    async def suppression(self, channel: str, address: str) -> Suppression | None:
        return (await self.suppressions_of(channel, [address])).get(address)

    async def suppressions_of(self, channel: str, addresses: Sequence[str]) -> dict[str, Suppression]:
        keys, queries = _lookups(channel, addresses)
        found: dict[str, Suppression] = {}
        for sql, params in queries:
            _found(keys, await self._rows(sql, params), found)
        return found

    async def suppression_page(self, channel: str, after: str = "", limit: int = 100) -> list[Suppression]:
        rows = await self._rows(
            f"SELECT {_COLUMNS} FROM suppressions WHERE channel = ? AND address > ? ORDER BY address LIMIT ?",
            (channel, after, limit),
        )
        return [_row(r) for r in rows]

    async def add_suppressions(self, entries: Sequence[Suppression]) -> tuple[int, int]:
        def add(db: sqlite3.Connection) -> tuple[int, int]:
            before = db.total_changes
            db.executemany(
                f"INSERT INTO suppressions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel, address) "
                "DO NOTHING",
                [(e.channel, e.address, e.reason, e.source, e.detail, e.created_at) for e in entries],
            )
            added = db.total_changes - before
            db.executemany(
                "UPDATE suppressions SET reason = ?, source = ?, detail = ? WHERE channel = ? AND address = ?",
                [(e.reason, e.source, e.detail, e.channel, e.address) for e in entries],
            )
            return added, len({(e.channel, e.address) for e in entries}) - added

        return await self._write_now(add)

    async def remove_suppression(self, channel: str, address: str) -> bool:
        def remove(db: sqlite3.Connection) -> bool:
            db.execute("DELETE FROM soft_bounces WHERE channel = ? AND address = ?", (channel, address))
            return db.execute("DELETE FROM suppressions WHERE channel = ? AND address = ?",
                              (channel, address)).rowcount > 0  # fmt: skip

        return await self._write_now(remove)

    async def count_soft_bounce(self, channel: str, address: str, now: int, key: str | None = None) -> int | None:
        def count(db: sqlite3.Connection) -> int | None:
            if key is not None:
                db.execute("DELETE FROM feedback_seen WHERE at < ?", (now - SEEN_MS,))
                if db.execute("INSERT INTO feedback_seen (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                              (key, now)).rowcount == 0:  # fmt: skip
                    return None
            row = db.execute(
                "INSERT INTO soft_bounces (channel, address, bounces, first_at, last_at) VALUES (?, ?, 1, ?, ?) "
                "ON CONFLICT (channel, address) DO UPDATE SET bounces = soft_bounces.bounces + 1, "
                "last_at = excluded.last_at "
                "RETURNING bounces",
                (channel, address, now, now),
            ).fetchone()
            return int(row[0])

        return await self._write_now(count)

    async def contacts_by_email(self, addresses: Sequence[str]) -> list[str]:
        unique = sorted({a.lower() for a in addresses})
        if not unique:
            return []
        marks = ", ".join("?" for _ in unique)
        rows = await self._rows(
            f"SELECT id FROM contacts WHERE lower(email) IN ({marks}) AND email IS NOT NULL ORDER BY id", unique
        )
        return [str(r[0]) for r in rows]
