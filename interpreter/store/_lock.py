"""One writer at a time across processes, handed over the moment it is free.

SQLite lets one connection write at a time; a second process that wants to write while
the first does is held by SQLite's busy handler, which sleeps and retries with growing
pauses, so a wait costs several times the transaction it waits for. `scn serve`
runs its API (intake) and its engine in two processes on one file: both take this
lock around every write transaction (an advisory `flock` on a file beside the
database), and a waiter wakes as soon as the holder commits. The kernel releases the
lock of a process that dies, so a crash cannot leave it held.

Where `fcntl` does not exist (Windows), the lock does nothing and SQLite's busy handler
does the waiting, as before.
"""

from __future__ import annotations

import os

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]


class WriterLock:
    """An exclusive lock shared by every process that opens the same database file."""

    def __init__(self, database: str) -> None:
        self.path = f"{database}-writer"
        self._fd: int | None = None
        if fcntl is not None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def try_acquire(self) -> bool:
        """Takes the lock if it is free, without waiting."""
        if self._fd is None:
            return True
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def acquire(self) -> None:
        """Blocks (on the calling thread) until no other process holds the lock."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
