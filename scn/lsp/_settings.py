"""The settings `scn check` reads (scn.toml, or `[tool.scn]` in pyproject.toml), as the
editor's workspace finds them.

A workspace folder's files take the settings `scn check FOLDER` would: the nearest
settings file from the folder up. A document outside every folder takes those of
`scn check - --stdin-filename FILE`: the nearest from the file's own folder. Before each
check the settings file is looked for again and read again when it changed on disk (a
new one, an edit saved, one removed), so the findings follow it with or without the
client's file events.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..interpreter.config import Config, ConfigError, find_config, load_config

#: The files settings are read from; a change to one is a change of the settings.
SETTINGS_FILES = ("scn.toml", "pyproject.toml")
#: What identifies a version of a settings file on disk.
_Stamp = tuple[str, int, int] | None


def _stamp(path: Path | None) -> _Stamp:
    if path is None:
        return None
    try:
        found = path.stat()
    except OSError:
        return None
    return (str(path), found.st_mtime_ns, found.st_size)


class Loaded:
    """The settings for one starting folder, or why its settings file cannot be used."""

    def __init__(self, path: Path | None) -> None:
        self.stamp = _stamp(path)
        self.path = str(path) if path is not None else None
        self.error: ConfigError | None = None
        self.config = Config()
        if path is not None:
            try:
                self.config = load_config(path)
            except ConfigError as error:  # shown on the file; the defaults apply meanwhile
                self.error = error


class ProjectSettings:
    """The settings of each workspace folder (and of documents outside them)."""

    def __init__(self) -> None:
        self._loaded: dict[str, Loaded] = {}

    def refresh(self, folders: list[str]) -> None:
        """Look for each folder's settings file again, and read the ones that changed."""
        kept: dict[str, Loaded] = {}
        for folder in folders:
            path = find_config(folder)
            loaded = self._loaded.get(folder)
            kept[folder] = loaded if loaded is not None and loaded.stamp == _stamp(path) else Loaded(path)
        self._loaded = kept

    def folder_of(self, roots: list[str], file: str) -> str:
        """The folder whose settings apply to ``file``: the innermost root holding it, else its own."""
        real = os.path.realpath(file)
        holding = [r for r in roots if real == r or real.startswith(r.rstrip(os.sep) + os.sep)]
        return max(holding, key=len) if holding else os.path.dirname(real)

    def for_folder(self, folder: str) -> Config:
        loaded = self._loaded.get(folder)
        return loaded.config if loaded is not None else Config()

    def errors(self) -> dict[str, ConfigError]:
        """Each settings file that cannot be used, by path, with why."""
        return {x.path: x.error for x in self._loaded.values() if x.path is not None and x.error is not None}
