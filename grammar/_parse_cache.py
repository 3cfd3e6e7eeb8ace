"""Parse results kept on disk, so that checking an unchanged workspace parses nothing.

Parsing is most of the time of checking a large workspace, and most files do not change
between two checks. Each file's ParseResult (its AST, syntax diagnostics and comments)
is kept in the private per-user cache (_cache.py) beside the analysed grammar and the
template outlines, one entry per file: named by the file's absolute and shown path and
a stamp of what decides a parse (scn's version, this format, the grammar and the modules
that build the tree, the installed Lark), and holding a digest of the text it was made
from. An edited file overwrites its own entry, so the cache grows with the files
checked, not with their edits.

An entry is used only when its checksum, its stamp and the text's digest all match and
it decodes to the expected shape; anything else (a truncated, damaged or foreign file)
is ignored and written again. Entries are written to a temporary file and renamed, so
a check running at the same time reads a whole entry or none. Like the outlines, an
entry is data: a planted one could at worst mislead a check, never run code.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import itertools
import os
import time

import msgspec

from .. import __version__
from ..interpreter import ast
from ..interpreter.diagnostics import Diagnostic
from . import Comment, ParseResult
from ._cache import private_cache_file

#: Bump when what an entry holds changes shape or meaning.
FORMAT = 1
#: The bytes of the checksum that starts each entry.
_CHECKSUM = 16
_temporary_names = itertools.count()
#: Entries older than this are deleted (an unchanged file's entry too: it is parsed again once).
PRUNE_AFTER = 30 * 24 * 3600
#: How often a check looks for such entries.
PRUNE_EVERY = 24 * 3600
_PREFIX = "parse-"


class _Entry(msgspec.Struct, array_like=True, frozen=True):
    """A ParseResult without its text (the file on disk has it), and the text's digest."""

    digest: bytes
    module: ast.Module | None
    diagnostics: tuple[Diagnostic, ...]
    comments: tuple[Comment, ...]
    lossy: bool


_decoder = msgspec.msgpack.Decoder(_Entry)
_encoder = msgspec.msgpack.Encoder()


@functools.cache
def _stamp() -> str:
    """What a parse depends on besides the text: scn, this format, the grammar's modules, Lark.

    Files are named by path, modification time and size (found without importing Lark):
    an edited checkout must not read entries an older one wrote.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    interpreter = os.path.join(os.path.dirname(here), "interpreter")
    own = sorted(os.path.join(here, name) for name in os.listdir(here) if name.endswith((".py", ".lark")))
    kernel = [os.path.join(interpreter, f"{name}.py") for name in ("ast", "codes", "diagnostics", "span", "suggest")]
    spec = importlib.util.find_spec("lark")
    parts = [__version__, str(FORMAT)]
    for origin in (spec.origin if spec is not None else None, *own, *kernel):
        if origin and os.path.exists(origin):
            info = os.stat(origin)
            parts += [origin, str(info.st_mtime_ns), str(info.st_size)]
    return "\x1f".join(parts)


def _entry_file(path: str) -> str | None:
    """The cache file of the .scn file shown as ``path``, or None where caching is off."""
    absolute = os.path.abspath(path)
    name = hashlib.sha256(f"{_stamp()}\x1f{absolute}\x1f{path}".encode()).hexdigest()[:32]
    return private_cache_file(f"{_PREFIX}{name}.msgpack")


def _digest(path: str, text: str) -> bytes:
    return hashlib.sha256(f"{path}\x1f{text}".encode(errors="surrogatepass")).digest()


def _checksum(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_CHECKSUM).digest()


def cached_parse(path: str, text: str) -> ParseResult | None:
    """The kept parse of ``text`` (the file shown as ``path``), or None if there is none."""
    file = _entry_file(path)
    if file is None:
        return None
    try:
        with open(file, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    payload = data[_CHECKSUM:]
    if len(data) <= _CHECKSUM or data[:_CHECKSUM] != _checksum(payload):
        return None
    try:
        entry = _decoder.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    if entry.digest != _digest(path, text):
        return None  # the file changed since
    return ParseResult(entry.module, entry.diagnostics, entry.comments, text, entry.lossy)


def keep_parse(path: str, result: ParseResult) -> None:
    """Keep ``result``, the parse of the file shown as ``path``, for the next check."""
    file = _entry_file(path)
    if file is None:
        return
    _prune_once(os.path.dirname(file))
    entry = _Entry(_digest(path, result.text), result.module, result.diagnostics, result.comments, result.lossy)
    temporary = f"{file}.{os.getpid()}.{next(_temporary_names)}.tmp"
    try:
        payload = _encoder.encode(entry)
        with open(temporary, "wb") as handle:
            handle.write(_checksum(payload) + payload)
        os.replace(temporary, file)  # readers never see half a file
    except (OSError, RecursionError):
        try:
            os.unlink(temporary)
        except OSError:
            pass
        # not kept: the next check parses the file again


@functools.cache
def _prune_once(directory: str) -> None:
    """Delete entries not written for PRUNE_AFTER, if no check did so in PRUNE_EVERY."""
    marker = os.path.join(directory, f"{_PREFIX}pruned")
    now = time.time()
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
        if not name.startswith(_PREFIX) or name == f"{_PREFIX}pruned":
            continue
        path = os.path.join(directory, name)
        try:
            # A temporary file a killed check left, or an entry not written for long.
            age = now - os.stat(path).st_mtime
            if age > PRUNE_AFTER or (name.endswith(".tmp") and age > PRUNE_EVERY):
                os.unlink(path)
        except OSError:
            pass  # deleted by another check meanwhile
