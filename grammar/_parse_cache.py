"""Parse results kept on disk, so that checking an unchanged workspace parses nothing.

Parsing is most of the time of checking a large workspace, and most files do not change
between two checks. Each file's ParseResult (its AST, syntax diagnostics and comments)
is kept in the private per-user cache (_cache.py) beside the analysed grammar and the
template outlines, one entry per file: named by the file's absolute and shown path and
a stamp of what decides a parse (scn's version, this format, the grammar and the modules
that build the tree, the installed Lark), and holding a digest of the text it was made
from. An edited file overwrites its own entry, and entries no check has used for a
month are deleted (_cache.prune_daily), so the cache grows with the files checked, not
with their edits.

An entry is used only when its checksum, its stamp and the text's digest all match and
it decodes to the expected shape; anything else (a truncated, damaged or foreign file)
is ignored and written again. Entries are written to a temporary file and renamed, so
a check running at the same time reads a whole entry or none (_cache.read_entry,
write_entry). Like the outlines, an entry is data: a planted one could at worst mislead
a check, never run code.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os

import msgspec

from .. import __version__
from ..interpreter import ast
from ..interpreter.diagnostics import Diagnostic
from . import Comment, ParseResult
from ._cache import private_cache_file, prune_daily, read_entry, write_entry

#: Bump when what an entry holds changes shape or meaning.
FORMAT = 1
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


def cached_parse(path: str, text: str) -> ParseResult | None:
    """The kept parse of ``text`` (the file shown as ``path``), or None if there is none."""
    file = _entry_file(path)
    payload = read_entry(file) if file is not None else None
    if payload is None:
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
    prune_daily(os.path.dirname(file), _PREFIX)
    entry = _Entry(_digest(path, result.text), result.module, result.diagnostics, result.comments, result.lossy)
    try:
        payload = _encoder.encode(entry)
    except RecursionError:
        return  # not kept: the next check parses the file again
    write_entry(file, payload)
