"""Locks shared by the processes on one database: its writer, and who sends its outbox.

One writer at a time across processes, handed over the moment it is free (`WriterLock`).
SQLite lets one connection write at a time; a second process that wants to write while
the first does is held by SQLite's busy handler, which sleeps and retries with growing
pauses, so a wait costs several times the transaction it waits for. `scn serve`
runs its API (intake) and its engine in two processes on one file: both take this
lock around every write transaction (an advisory `flock` on a file beside the
database), and a waiter wakes as soon as the holder commits. The kernel releases the
lock of a process that dies, so a crash cannot leave it held.

Where `fcntl` does not exist (Windows), the lock does nothing and SQLite's busy handler
does the waiting, as before.

Each sender of the outbox holds a lock of its own while it lives (`SenderLocks`), so that
another can tell that it died and take its claimed messages back at once.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Collection

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


class EngineLock:
    """Held by the one engine that works on an SQLite file, for as long as its process
    lives (the kernel releases it when the process dies, so a restart takes it at once).

    An SQLite store has no leases of contacts, as PostgreSQL's has: a second engine on the
    same file (`scn serve` started twice, or beside `scn worker`) would process the same
    contacts and take the same run ids, and the events whose runs clashed were set aside
    as failed. The second engine is refused instead, naming the process that holds the
    file. Without `fcntl` (Windows) nothing is refused."""

    def __init__(self, database: str) -> None:
        self.path = f"{database}-engine"
        self._fd: int | None = None

    def acquire(self) -> str | None:
        """None once this process holds the lock; else who holds it (its process id)."""
        if fcntl is None or self._fd is not None:
            return None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            return holder
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


#: A sender's identity: the process id and a token of this start (a process id alone
#: comes back after a restart).
_OWNER = re.compile(r"\d+-[0-9a-f]{16}")


class SenderLocks:
    """Which senders of outbox messages on a database are alive.

    A sender's claims carry its identity (`new_owner`), and it holds a lock on a file of
    that name in `<database>-senders/` while its process lives. The kernel releases the
    lock of a process that dies, so another sender that finds the lock free knows the
    owner is gone and may take its claims back at once, instead of waiting for their
    lease to run out. Without `fcntl` (Windows), nobody is known to be gone: the leases
    decide, as before."""

    def __init__(self, database: str) -> None:
        self.folder = f"{database}-senders"
        #: This process's senders on the database: their locked files.
        self._own: dict[str, int] = {}

    def new_owner(self) -> str:
        """A new sender's identity, locked until `close`."""
        owner = f"{os.getpid()}-{secrets.token_hex(8)}"
        if fcntl is not None:
            os.makedirs(self.folder, exist_ok=True)
            # Locked under a name no one looks at, then renamed: a sender that lists the
            # folder never sees this owner's file unlocked.
            hidden = os.path.join(self.folder, f".{owner}")
            fd = os.open(hidden, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(hidden, os.path.join(self.folder, owner))
            self._own[owner] = fd
        return owner

    @property
    def owners(self) -> list[str]:
        """This process's senders."""
        return list(self._own)

    def others(self) -> list[str]:
        """The senders not of this process that have (or had) a file here."""
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        return [n for n in names if _OWNER.fullmatch(n) and n not in self._own]

    def take_if_gone(self, owner: str) -> int | None:
        """The lock of ``owner`` (a file descriptor) if its process is gone, else None: it
        is alive, or unknown here (another path to the database, another machine).
        Holding the lock keeps other senders from deciding the same meanwhile."""
        if fcntl is None or not _OWNER.fullmatch(owner) or owner in self._own:
            return None
        try:
            fd = os.open(os.path.join(self.folder, owner), os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def forget(self, owner: str, fd: int, *, remove: bool = True) -> None:
        """Done with a gone owner's lock: its file removed (once its claims are taken back)."""
        if remove:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.folder, owner))
        os.close(fd)

    def close(self, holding: Collection[str]) -> None:
        """This process stops sending. The files of its senders go, but for those
        ``holding`` claims still: they stay, unlocked, for the next sender to take the
        claims back."""
        own, self._own = self._own, {}
        for owner, fd in own.items():
            self.forget(owner, fd, remove=owner not in holding)
        with contextlib.suppress(OSError):
            os.rmdir(self.folder)  # when empty
