"""A private per-user cache directory for what is slow to make and safe to keep.

The parser's analysed grammar (Lark's cache, a pickle), the files' parses
(_parse_cache.py) and the checker's template outlines live in ~/.cache/scn (or
$XDG_CACHE_HOME/scn). A file there is used only if
the directory and the file belong to the user and no one else can write to them: a
planted pickle would run code. SCN_GRAMMAR_CACHE=0 turns the cache off.

The parses and the outlines are entries: many small files of one kind, each named by a
prefix of its kind, kept whole (a checksum, written to a temporary file and renamed) and
deleted once no check has used them for PRUNE_AFTER (read_entry, write_entry, prune_daily),
so that the cache grows with what is checked, not with every edit ever checked.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import stat
import time

#: Entries no check has written or read for this long are deleted.
PRUNE_AFTER = 30 * 24 * 3600
#: How often a check looks for such entries, and how often an entry in use has its time renewed.
PRUNE_EVERY = 24 * 3600
#: The bytes of the checksum that starts each entry.
_CHECKSUM = 16
_temporary_names = itertools.count()
#: When this process next looks for entries to prune, by folder and prefix.
_next_prune: dict[tuple[str, str], float] = {}


def private_cache_file(name: str) -> str | None:
    """A path in our per-user cache directory, or None where caching is not safe."""
    if os.environ.get("SCN_GRAMMAR_CACHE", "1") == "0":
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    directory = os.path.join(base, "scn")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        info = os.stat(directory)
    except OSError:
        return None
    getuid = getattr(os, "getuid", None)
    if getuid is not None and (info.st_uid != getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
        return None
    path = os.path.join(directory, name)
    if getuid is not None and os.path.exists(path):
        file_info = os.stat(path)
        if file_info.st_uid != getuid() or file_info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
    if not os.access(directory, os.W_OK):
        return None
    return path


def _checksum(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_CHECKSUM).digest()


def read_entry(path: str) -> bytes | None:
    """The payload kept at ``path``, or None if there is none or it is not whole.

    An entry read is in use: its modification time is renewed (once a day at most) so that
    prune_daily keeps it.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
            stale = time.time() - os.fstat(handle.fileno()).st_mtime > PRUNE_EVERY
    except OSError:
        return None
    payload = data[_CHECKSUM:]
    if len(data) <= _CHECKSUM or data[:_CHECKSUM] != _checksum(payload):
        return None
    if stale:
        try:
            os.utime(path)
        except OSError:
            pass  # deleted meanwhile: the next check makes it again
    return payload


def write_entry(path: str, payload: bytes) -> None:
    """Keep ``payload`` at ``path``, whole: a check reading it at the same time reads all of it or none."""
    temporary = f"{path}.{os.getpid()}.{next(_temporary_names)}.tmp"
    try:
        with open(temporary, "wb") as handle:
            handle.write(_checksum(payload) + payload)
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        # not kept: the next check makes it again


def prune_daily(directory: str, prefix: str) -> None:
    """Delete the entries named ``prefix``... not used for PRUNE_AFTER, if no check did so in PRUNE_EVERY.

    Once a day: a process remembers when it last looked (an editor's checks run for days),
    and processes share a marker file's time. Checks pruning at once delete what the
    other deletes (ignored); an entry a check is reading stays readable by it (it is made
    again by the next one); a temporary file is deleted only when older than a day (a
    check writing it has long finished). Anything that cannot be looked at or deleted
    (another's file, a folder) is left as it is.
    """
    now = time.time()
    if now < _next_prune.get((directory, prefix), 0.0):
        return
    _next_prune[(directory, prefix)] = now + PRUNE_EVERY
    marker = os.path.join(directory, f"{prefix}pruned")
    try:
        if now - os.stat(marker).st_mtime < PRUNE_EVERY:
            return
    except OSError:
        pass  # never pruned yet
    try:
        with open(marker, "wb"):
            pass
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not name.startswith(prefix) or name == f"{prefix}pruned":
            continue
        path = os.path.join(directory, name)
        try:
            # A temporary file a killed check left, or an entry not used for long.
            age = now - os.lstat(path).st_mtime
            if age > PRUNE_AFTER or (name.endswith(".tmp") and age > PRUNE_EVERY):
                os.unlink(path)
        except OSError:
            pass  # deleted by another check meanwhile, or not a file we may delete
