"""`scn contact export|erase --db F ID`: a contact's data (GDPR) on a store file, without a server.

The store may be in use by `scn serve` or `scn worker` meanwhile: writes take turns through
the store's writer lock. Each is audited as `cli:<user>`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_ERROR = 0, 2


def add_commands(sub: Any) -> None:
    p = sub.add_parser("contact", help="a contact's data on a store file: export it or erase it (GDPR)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, words in (("export", "print everything held about the contact as JSON"),
                          ("erase", "remove the contact's personal data (aggregates stay); needs --yes")):  # fmt: skip
        q = actions.add_parser(action, help=words)
        q.add_argument("contact_id", metavar="ID")
        q.add_argument("--db", default="scn.db", help="an SQLite file or a postgresql:// URL (default scn.db)")
        if action == "erase":
            q.add_argument("--yes", action="store_true", help="erase: it cannot be undone")
        q.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from .interpreter.store import is_postgresql

    if not is_postgresql(args.db) and not Path(args.db).is_file():
        print(f"scn contact: no store at {args.db}: give the file with --db", file=sys.stderr)
        return EXIT_ERROR
    if args.action == "erase" and not args.yes:
        print(f"scn contact erase: this removes {args.contact_id!r}'s personal data for good; add --yes",
              file=sys.stderr)  # fmt: skip
        return EXIT_ERROR
    return asyncio.run(_act(args))


async def _act(args: argparse.Namespace) -> int:
    from .interpreter.clock import WallClock, ms_of
    from .interpreter.store import StoreError, store_at
    from .stdlib.privacy import UnknownContact, erase_contact, export_contact

    store = store_at(args.db)
    try:
        await store.open()
    except StoreError as error:
        print(f"scn contact: {error}", file=sys.stderr)
        return EXIT_ERROR
    actor, now = f"cli:{getpass.getuser()}", ms_of(WallClock().now())
    try:
        work = export_contact if args.action == "export" else erase_contact
        result = await work(store, args.contact_id, actor, now)
    except UnknownContact:
        print(f"scn contact: no contact {args.contact_id!r} in {args.db}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        await store.close()
    print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    return EXIT_OK
