"""Where a store is: a PostgreSQL database by its URL, else an SQLite file.

Said without the PostgreSQL store's module, which imports asyncpg: a process on an SQLite
file never imports it (tests/test_serve_imports.py)."""

from __future__ import annotations

import re


def is_postgresql(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def shown(url: str) -> str:
    """A database URL without its password, to name it in messages."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1@", url)
