"""A workspace: the .scn files that are checked together, and the files they name.

Names resolve across all files of a workspace. Template bodies and coupon pools are
named by paths relative to the .scn file that mentions them; a workspace reads them
through one resolver so that the same checks run on files on disk (`scn check`) and
on files uploaded over the API.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..grammar import ParseResult, parse
from . import codes
from .diagnostics import Diagnostic, make
from .span import Span


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str
    parsed: ParseResult

    @property
    def text(self) -> str:
        return self.parsed.text


@dataclass
class Workspace:
    """Parsed .scn files plus access to the files they refer to."""

    files: list[SourceFile]
    #: Files named by the scenarios, by normalised relative path (uploads), or None to
    #: read them from disk next to each .scn file.
    resources: Mapping[str, str] | None = None
    #: Problems that stopped files from being read at all (`scn check` exits 2).
    load_errors: list[Diagnostic] = field(default_factory=list)
    _cache: dict[str, str | None] = field(default_factory=dict, repr=False)

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
            else:
                try:
                    self._cache[path] = Path(path).read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
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


def _display(path: Path) -> str:
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


def load_workspace(paths: Iterable[str | os.PathLike[str]]) -> Workspace:
    """Read and parse the .scn files under ``paths`` from disk."""
    files, errors = scn_files(paths)
    sources: list[SourceFile] = []
    for path in files:
        shown = _display(path)
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
        sources.append(SourceFile(shown, parse(text, shown)))
    return Workspace(sources, None, errors)


def workspace_from_texts(texts: Mapping[str, str], resources: Mapping[str, str] | None = None) -> Workspace:
    """A workspace from in-memory files (uploads, tests): path -> text."""
    files = [SourceFile(path, parse(text, path)) for path, text in sorted(texts.items())]
    normalised = {_normalise(k): v for k, v in (resources or {}).items()}
    return Workspace(files, normalised)
