"""A project's `scn check` settings: `scn.toml`, or `[tool.scn]` in `pyproject.toml`.

The nearest file wins, looking from the checked path up to the filesystem root; in one
folder `scn.toml` comes before `pyproject.toml` (a pyproject.toml without `[tool.scn]`
does not count). Settings are checked when read: an unknown key, a code that names no
diagnostic, a value of the wrong type is an error with the file and line.
"""

from __future__ import annotations

import fnmatch
import os
import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from .codes import REGISTRY, Severity
from .diagnostics import Diagnostic

KEYS = ("select", "ignore", "per-file-ignores", "strict", "timezone")
_PREFIX = re.compile(r"SCN\d{0,3}")


class ConfigError(Exception):
    """A settings file that cannot be used; the message says where and why."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        #: The line of the file at fault, when one is (an editor marks it).
        self.line = line


class Config(msgspec.Struct, frozen=True):
    #: Code prefixes of the warnings to report; empty: all of them.
    select: tuple[str, ...] = ()
    #: Code prefixes of warnings not to report.
    ignore: tuple[str, ...] = ()
    #: Glob (relative to the settings file's folder) -> code prefixes not to report there.
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    strict: bool = False
    #: The IANA time zone scenarios run in unless SCN_TIMEZONE says otherwise.
    timezone: str | None = None
    #: The settings file, None when there is none.
    path: str | None = None
    #: Where each key was set: "scn.toml:3"; keys left at their default are absent.
    origins: dict[str, str] = msgspec.field(default_factory=dict)

    def hides(self, diagnostic: Diagnostic) -> bool:
        """Whether the settings turn this finding off. Errors are never turned off: a
        workspace that `scn check` passes must run."""
        if diagnostic.severity is Severity.ERROR:
            return False
        code = diagnostic.code.code
        if self.select and not any(code.startswith(p) for p in self.select):
            return True
        if any(code.startswith(p) for p in self.ignore):
            return True
        if self.per_file_ignores and self.path is not None:
            where = _relative(diagnostic.span.file, os.path.dirname(self.path))
            for pattern, prefixes in self.per_file_ignores:
                if _matches(where, pattern) and any(code.startswith(p) for p in prefixes):
                    return True
        return False


def _relative(file: str, root: str) -> str:
    try:
        return PurePosixPath(Path(os.path.relpath(os.path.abspath(file), root)).as_posix()).as_posix()
    except ValueError:  # another drive
        return Path(file).as_posix()


def _matches(path: str, pattern: str) -> bool:
    """Glob match where `**/` also matches no folder, and a pattern without `/` matches a file name."""
    if fnmatch.fnmatchcase(path, pattern):
        return True
    if pattern.startswith("**/") and fnmatch.fnmatchcase(path, pattern[3:]):
        return True
    return "/" not in pattern and fnmatch.fnmatchcase(PurePosixPath(path).name, pattern)


def find_config(start: str | os.PathLike[str]) -> Path | None:
    """The settings file for ``start`` (a file or folder): the nearest, scn.toml first."""
    here = Path(start).resolve()
    folder = here if here.is_dir() else here.parent
    for candidate in (folder, *folder.parents):
        scn = candidate / "scn.toml"
        if scn.is_file():
            return scn
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and _has_tool_scn(pyproject):
            return pyproject
    return None


def _has_tool_scn(path: Path) -> bool:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return re.search(r"^\s*\[tool\.scn", _read(path) or "", re.MULTILINE) is not None  # reported when loaded
    return isinstance(document.get("tool"), dict) and "scn" in document["tool"]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def load_config(path: Path) -> Config:
    """The settings in ``path`` (scn.toml, or pyproject.toml's [tool.scn]); ConfigError if bad."""
    shown = _shown(path)
    text = _read(path)
    if text is None:
        raise ConfigError(f"{shown}: cannot be read as UTF-8 text")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        at = re.search(r"at line (\d+)", str(error))
        raise ConfigError(f"{shown}: not valid TOML: {error}", int(at.group(1)) if at else None) from None
    in_pyproject = path.name == "pyproject.toml"
    table: Any = document.get("tool", {}).get("scn", {}) if in_pyproject else document
    header = "[tool.scn]" if in_pyproject else None
    lines = _key_lines(text, "tool.scn" if in_pyproject else "")

    def where(key: str) -> str:
        return f"{shown}:{lines.get(key, 1)}"

    if not isinstance(table, dict):
        raise ConfigError(f"{shown}: {header or 'the file'} must be a table of settings")
    origins: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key, value in table.items():
        try:
            values.update(_setting(key, value, where(key)))
        except ConfigError as error:
            raise ConfigError(str(error), lines.get(key, 1)) from None
        origins[key] = where(key)
    return Config(**values, path=str(path), origins=origins)


def _setting(key: str, value: object, at: str) -> dict[str, Any]:
    """One key of the settings as Config's fields; ConfigError if it is not a setting or bad."""
    if key not in KEYS:
        known = ", ".join(KEYS)
        raise ConfigError(f"{at}: unknown setting `{key}`; the settings are {known}")
    if key in ("select", "ignore"):
        return {key: _codes(value, at, key, exact_errors=key == "ignore")}
    if key == "per-file-ignores":
        if not isinstance(value, dict):
            raise ConfigError(f"{at}: `per-file-ignores` is a table of glob = [codes]")
        return {
            "per_file_ignores": tuple(
                (glob, _codes(codes, at, f"per-file-ignores.{glob}", exact_errors=True))
                for glob, codes in value.items()
            )
        }
    if key == "strict":
        if not isinstance(value, bool):
            raise ConfigError(f"{at}: `strict` is true or false")
        return {"strict": value}
    return {"timezone": _timezone(value, at)}


def _shown(path: Path) -> str:
    """A settings file as messages name it: relative to the current folder when under it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        return str(path)
    return str(path) if relative.startswith("..") else relative


def _codes(value: object, at: str, key: str, *, exact_errors: bool) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{at}: `{key}` is a list of codes or prefixes, such as ["SCN308", "SCN3"]')
    for code in value:
        if not _PREFIX.fullmatch(code) or not any(c.startswith(code) for c in REGISTRY):
            raise ConfigError(f"{at}: `{code}` in `{key}` is not a diagnostic code or the start of one (SCN308, SCN3)")
        if exact_errors and code in REGISTRY and REGISTRY[code].severity is Severity.ERROR:
            raise ConfigError(f"{at}: {code} in `{key}` is an error, and errors cannot be ignored")
    return tuple(value)


def _timezone(value: object, at: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f'{at}: `timezone` is an IANA time zone name such as "Europe/Riga"')
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f'{at}: `{value}` is not an IANA time zone name (such as "Europe/Riga")') from None
    return value


def _key_lines(text: str, table: str) -> dict[str, int]:
    """The line of each top-level key of ``table`` ("" for the document's own keys)."""
    lines: dict[str, int] = {}
    current = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"\s*\[+\s*([^\]]+?)\s*\]+", line)
        if header:
            current = header.group(1).replace('"', "").replace(" ", "")
            prefix = f"{table}." if table else ""
            if current.startswith(prefix) and current != table:  # [tool.scn.per-file-ignores]
                lines.setdefault(current[len(prefix) :].split(".")[0], number)
            continue
        key = re.match(r'\s*"?([A-Za-z0-9_-]+)"?\s*=', line)
        if key and current == table:
            lines.setdefault(key.group(1), number)
    return lines
