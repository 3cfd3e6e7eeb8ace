"""A workspace: the .scn files that are checked together, and the files they name.

Names resolve across all files of a workspace. Template bodies and coupon pools are
named by paths relative to the .scn file that mentions them; a workspace reads them
through one resolver so that the same checks run on files on disk (`scn check`) and
on files uploaded over the API.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

import msgspec

from ..grammar import ParseResult, parse
from . import codes
from .diagnostics import Diagnostic, make
from .gcpause import paused_gc
from .span import Span


class SourceFile(msgspec.Struct, frozen=True):
    path: str
    parsed: ParseResult

    @property
    def text(self) -> str:
        return self.parsed.text


class Workspace(msgspec.Struct):
    """Parsed .scn files plus access to the files they refer to."""

    files: list[SourceFile]
    #: Files named by the scenarios, by normalised relative path (uploads), or None to
    #: read them from disk next to each .scn file.
    resources: Mapping[str, str] | None = None
    #: Problems that stopped files from being read at all (`scn check` exits 2).
    load_errors: list[Diagnostic] = msgspec.field(default_factory=list)
    #: Texts read in place of the files on disk, by path (an editor's unsaved documents).
    overrides: Mapping[str, str] = msgspec.field(default_factory=dict)
    _cache: dict[str, str | None] = msgspec.field(default_factory=dict)

    def resource_path(self, source: str, relative: str) -> str:
        """Where a file named in ``source`` lives, as shown in messages."""
        if self.resources is not None:
            base = PurePosixPath(source).parent
            return _normalise(str(base / relative))
        return os.path.normpath(os.path.join(os.path.dirname(source), relative))

    def read_resource(self, source: str, relative: str) -> str | None:
        """The text of a file named in ``source``; None when missing or not UTF-8."""
        path = self.resource_path(source, relative)
        if path not in self._cache:
            if self.resources is not None:
                self._cache[path] = self.resources.get(path)
            elif path in self.overrides:
                self._cache[path] = self.overrides[path]
            else:
                try:
                    self._cache[path] = Path(path).read_text(encoding="utf-8")
                except (OSError, ValueError):  # not UTF-8 (UnicodeDecodeError), NUL in the path
                    self._cache[path] = None
        return self._cache[path]


def _normalise(path: str) -> str:
    parts: list[str] = []
    for part in PurePosixPath(path).parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    return "/".join(parts)


def display_path(path: Path) -> str:
    """How findings name a file: relative to the current directory where it can be."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def scn_files(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[Diagnostic]]:
    """The .scn files named by ``paths``; directories are searched recursively."""
    found: list[Path] = []
    errors: list[Diagnostic] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.scn") if p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            errors.append(make(codes.UNREADABLE, f"no such file or directory: {raw}", Span.whole_file(str(raw))))
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique, errors


#: Below this many files to parse, starting worker processes costs more than it saves.
PARALLEL_FROM = 200


def _can_fork() -> bool:
    import multiprocessing  # only big workspaces pay for importing it

    return "fork" in multiprocessing.get_all_start_methods()


def parse_all(named: list[tuple[str, str]], jobs: int = 1, *, keep: bool = False) -> list[ParseResult]:
    """Parse (path, text) pairs, in ``jobs`` forked processes for large workspaces.

    With ``keep``, a file whose parse is in the parse cache (grammar/_parse_cache.py) is
    not parsed again, and the parses made are kept there. Parsing is pure CPU work, so
    the files still to parse, when there are many, are split across processes like
    linters do; results come back msgpack-encoded (the AST is msgspec Structs).
    """
    with paused_gc():  # decoding or building trees: a million objects, none of them garbage
        found: list[ParseResult | None] = [None] * len(named)
        if keep:
            from ..grammar._parse_cache import cached_parse

            found = [cached_parse(path, text) for path, text in named]
        missing = [pair for pair, result in zip(named, found, strict=True) if result is None]
        made = iter(_parse_missing(missing, jobs, keep))
        return [result if result is not None else next(made) for result in found]


def _parse_missing(named: list[tuple[str, str]], jobs: int, keep: bool) -> list[ParseResult]:
    if jobs <= 1 or len(named) < PARALLEL_FROM or not _can_fork():
        return _parse_chunk(named, keep)
    import gc
    import multiprocessing

    parse("", "<start>")  # the parser made (or loaded from its cache) once here, not in each child
    chunks = [named[i::jobs] for i in range(jobs)]
    # Frozen, the parent's objects are not walked by a collection in a child, which would
    # copy their pages (the gc module's advice for fork).
    parsed: dict[str, ParseResult] = {}
    gc.freeze()
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            blobs = pool.starmap(_parse_encoded, [(chunk, keep) for chunk in chunks])
    finally:
        gc.unfreeze()
    for chunk, blob in zip(chunks, blobs, strict=True):
        results = msgspec.msgpack.decode(blob, type=list[ParseResult])
        parsed.update((path, result) for (path, _), result in zip(chunk, results, strict=True))
    return [parsed[path] for path, _ in named]


def _parse_chunk(chunk: list[tuple[str, str]], keep: bool) -> list[ParseResult]:
    results = [parse(text, path) for path, text in chunk]
    if keep:
        from ..grammar._parse_cache import keep_parse

        for (path, _), result in zip(chunk, results, strict=True):
            keep_parse(path, result)
    return results


def _parse_encoded(chunk: list[tuple[str, str]], keep: bool) -> bytes:
    with paused_gc():
        return msgspec.msgpack.encode(_parse_chunk(chunk, keep))


def load_workspace(paths: Iterable[str | os.PathLike[str]], jobs: int = 1, *, keep: bool = True) -> Workspace:
    """Read and parse the .scn files under ``paths`` from disk (``jobs`` processes).

    With ``keep`` (the default), parses come from and go to the parse cache.
    """
    files, errors = scn_files(paths)
    named: list[tuple[str, str]] = []
    for path in files:
        shown = display_path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            errors.append(
                make(
                    codes.UNREADABLE,
                    f"this file is not UTF-8 text (byte {error.start})",
                    Span.whole_file(shown),
                )
            )
            continue
        except OSError as error:
            errors.append(make(codes.UNREADABLE, f"cannot read the file: {error.strerror}", Span.whole_file(shown)))
            continue
        named.append((shown, text))
    results = parse_all(named, jobs, keep=keep)
    sources = [SourceFile(path, result) for (path, _), result in zip(named, results, strict=True)]
    return Workspace(sources, None, errors)


class CheckTimeout(Exception):
    """Reading and checking a workspace took longer than its budget (an upload's)."""


def past(deadline: float | None) -> None:
    """Raise CheckTimeout once ``deadline`` (a time.monotonic() value) has passed."""
    if deadline is not None and time.monotonic() > deadline:
        raise CheckTimeout("checking the workspace took longer than its time budget")


def workspace_from_texts(
    texts: Mapping[str, str], resources: Mapping[str, str] | None = None, *, deadline: float | None = None
) -> Workspace:
    """A workspace from in-memory files (uploads, tests): path -> text."""
    files = []
    for path, text in sorted(texts.items()):
        past(deadline)
        files.append(SourceFile(path, parse(text, path)))
    normalised = {_normalise(k): v for k, v in (resources or {}).items()}
    return Workspace(files, normalised)
