"""When the store cannot be used for a while: its file locked by another process for
longer than the busy timeout (a backup, a long `sqlite3` session), the disk full, the
file read-only or gone. None of these is a bug, and none changes anything: the write
is rolled back whole, and the same work succeeds once the lock, the space or the
permission is back. Callers say so in words (the API: 503 with Retry-After; the sender:
it waits and goes on) rather than "internal error" or a loop that stops for good."""

from __future__ import annotations

import contextlib
import sqlite3

from ._lock import EngineLock
from .base import Store, StoreError
from .locations import is_postgresql

#: SQLite's messages (the start of them) and what they mean for whoever reads the reason.
_SQLITE: tuple[tuple[str, str], ...] = (
    ("database is locked", "the database is locked by another process"),
    ("database table is locked", "the database is locked by another process"),
    ("database is busy", "the database is locked by another process"),
    ("database or disk is full", "the disk (or the database's size limit) is full"),
    ("attempt to write a readonly database", "the database file is read-only"),
    ("disk I/O error", "the disk failed to read or write the database"),
    ("unable to open database file", "the database file cannot be opened"),
    ("file is not a database", "the file is not an SQLite database (or it is damaged)"),
)


def unavailable(error: BaseException) -> str | None:
    """What keeps the store from being used, in words, when ``error`` says it cannot be
    used for now; None for any other error (a bug stays a bug)."""
    if isinstance(error, sqlite3.DatabaseError):
        text = str(error)
        return next((meaning for start, meaning in _SQLITE if text.startswith(start)), None)
    return None


async def opened(store: Store, where: str) -> None:
    """``store.open()``, or StoreError saying in words why the file at ``where`` cannot be
    used (a directory, a file that is no SQLite database, a locked or read-only one). The
    half-opened store is closed first: a connection left open kept the process from ever
    exiting after it had said "internal error"."""
    problem = file_problem(where)
    if problem is not None:
        raise StoreError(problem)
    try:
        await store.open()
    except Exception as error:
        why = unavailable(error)
        with contextlib.suppress(Exception):
            await store.close()
        if why is None:
            raise
        raise StoreError(f"cannot use the store {where}: {why} ({error})") from error


def file_problem(where: str) -> str | None:
    """Why the SQLite file at ``where`` cannot be opened, in words (a directory, a file
    that is no database); None when it can, or is not there yet (the store makes it), or
    ``where`` is no file. Read on this thread: aiosqlite's, failing in the same way,
    outlives the event loop and prints a traceback at exit."""
    if where == ":memory:" or is_postgresql(where):
        return None
    try:
        _readable(where)
    except sqlite3.DatabaseError as error:
        return f"cannot use the store {where}: {unavailable(error) or 'SQLite cannot read it'} ({error})"
    return None


def _readable(path: str) -> None:
    """Opens the file as SQLite does, and reads its header."""
    db = sqlite3.connect(path, timeout=10)
    try:
        db.execute("PRAGMA schema_version")
    finally:
        db.close()


def engine_lock(where: str) -> EngineLock | None:
    """The lock of the one engine on the SQLite file at ``where``, taken (None for other
    stores: PostgreSQL's engines share the work by leases); StoreError when another
    process's engine holds it."""
    if where == ":memory:" or is_postgresql(where):
        return None
    lock = EngineLock(where)
    holder = lock.acquire()
    if holder is not None:
        raise StoreError(
            f"another scn engine (process {holder}) works on {where}: one engine runs on an SQLite file at a time. "
            "Stop it, or start this one without its engine (`scn serve --no-engine`: an API beside it); several "
            "engines need PostgreSQL (docs/postgresql.md)"
        )
    return lock
