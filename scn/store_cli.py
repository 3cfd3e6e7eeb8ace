"""`scn migrate --db URL|FILE`: bring a store's schema up to this scn's, and say where it is.

`scn serve` and `scn worker` migrate when they start too; this is for a deploy that
migrates once, before starting several processes on one PostgreSQL database (their
starts would wait for each other on the migration's lock otherwise). A store written by
a newer scn is refused, as it is at start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

EXIT_OK, EXIT_ERROR = 0, 2


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "migrate",
        help="apply the schema migrations a store lacks (SQLite file or PostgreSQL database)",
        description="Apply the migrations the store lacks and print its schema version. The store is an SQLite "
        "file (created if missing) or a PostgreSQL URL, postgresql://user:password@host/name (docs/postgresql.md).",
    )
    p.add_argument("--db", default=os.environ.get("SCN_DB", "scn.db"), help="the store (SCN_DB; default scn.db)")
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    return asyncio.run(_migrate(args.db))


async def _migrate(location: str) -> int:
    from .interpreter.store import StoreError, store_at
    from .interpreter.store.locations import shown

    store = store_at(location)
    try:
        await store.open()
        version = await store.schema_version()
    except (OSError, StoreError) as error:
        print(f"scn migrate: {error}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        await store.close()
    print(f"{shown(location)}: schema version {version}")
    return EXIT_OK
