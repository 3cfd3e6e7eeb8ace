"""The workspace as the editor sees it: the folders' files, open documents in place of the disk.

Each check reads the .scn files of the workspace folders (and open .scn documents
outside them) and parses only those whose text changed since the last check; templates
and pools come from open documents first, then from disk, as `scn check` reads them.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..grammar import ParseResult, parse
from ..interpreter.checker import CheckResult, check_workspace
from ..interpreter.workspace import SourceFile, Workspace, scn_files


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, ValueError):  # gone, unreadable, not UTF-8 (UnicodeDecodeError)
        return None


class Project:
    """Open documents over the files of some folders, checked together."""

    def __init__(self, roots: list[str] | None = None) -> None:
        self.roots: list[str] = [os.path.realpath(r) for r in roots or []]
        #: Texts of the documents open in the editor, by absolute path.
        self.documents: dict[str, str] = {}
        self._parsed: dict[str, ParseResult] = {}
        self.last: CheckResult | None = None

    def add_root(self, root: str) -> None:
        real = os.path.realpath(root)
        if real not in self.roots:
            self.roots.append(real)

    def open(self, path: str, text: str) -> None:
        self.documents[os.path.realpath(path)] = text

    def close(self, path: str) -> None:
        self.documents.pop(os.path.realpath(path), None)

    def scn_paths(self) -> list[str]:
        """The .scn files checked together: those under the roots, and open ones anywhere."""
        found, _ = scn_files([r for r in self.roots if os.path.isdir(r)])
        paths = [str(p) for p in found]
        paths.extend(p for p in self.documents if p.endswith(".scn"))
        return sorted(set(paths))

    def text(self, path: str) -> str | None:
        """An open document's text, else the file's on disk (None when it cannot be read)."""
        real = os.path.realpath(path)
        return self.documents[real] if real in self.documents else _read(real)

    def _parse(self, path: str, text: str) -> ParseResult:
        cached = self._parsed.get(path)
        if cached is None or cached.text != text:
            cached = self._parsed[path] = parse(text, path)
        return cached

    def check(self) -> CheckResult:
        """Check the whole workspace as it stands in the editor."""
        files: list[SourceFile] = []
        for path in self.scn_paths():
            text = self.text(path)
            if text is not None:
                files.append(SourceFile(path, self._parse(path, text)))
        kept = {f.path for f in files}
        self._parsed = {p: r for p, r in self._parsed.items() if p in kept}
        overrides = {p: t for p, t in self.documents.items() if not p.endswith(".scn")}
        self.last = check_workspace(Workspace(files, None, [], overrides))
        return self.last
