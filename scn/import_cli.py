"""`scn import contacts FILE.csv --db F`: a CSV of contacts into a store file, with progress;
`scn import codes COUPON FILE.csv --db F`: codes into a coupon's pool.

The import is the same durable job `POST /api/contacts/import` starts (runtime/imports.py):
its rows and how far it got are in the store, so an import stopped by Ctrl-C or a crash
goes on where it stopped when the same command is run again (the same rows: an
unfinished job holding them is found). A progress bar on a terminal (rich, on standard
error), a line per chunk otherwise. The rows become `contact.updated` events; the engine
of `scn serve` or `scn run` on that file applies them (at once when one is running).

A pool's codes are added as `POST /api/coupons/{name}/pool` adds them, a chunk a
transaction: codes already in the pool are left alone, so running the command again after
a stop adds what is missing. The API imports no other CSV (orders and products come as
JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .interpreter.store import SqliteStore

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def add_commands(sub: Any) -> None:
    p = sub.add_parser("import", help="import a CSV file into a store file, with progress (run again to go on)")
    kinds = p.add_subparsers(dest="kind", metavar="WHAT", required=True)
    q = kinds.add_parser("contacts", help="contacts from a CSV with a header row (an `id` column, then any of "
                                          "email, phone, first_name... and attributes)")  # fmt: skip
    q.add_argument("file", metavar="FILE.csv")
    q.add_argument("--db", default="scn.db", help="an SQLite file or a postgresql:// URL (default scn.db)")
    q.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on standard error (default: on a terminal; else a line a chunk)")  # fmt: skip
    q.add_argument("--chunk", type=int, default=None, metavar="ROWS",
                   help="rows imported in one transaction (default: as the API, 1000)")  # fmt: skip
    q.set_defaults(run=_run)
    q = kinds.add_parser("codes", help="codes into the pool of a coupon of the workspace deployed there (a `code` "
                                       "column, or the first)")  # fmt: skip
    q.add_argument("coupon", metavar="COUPON")
    q.add_argument("file", metavar="FILE.csv")
    q.add_argument("--db", default="scn.db", help="an SQLite file or a postgresql:// URL (default scn.db)")
    q.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on standard error (default: on a terminal; else a line a chunk)")  # fmt: skip
    q.set_defaults(run=_run_codes)


def _say(text: str) -> None:
    print(f"scn import: {text}", file=sys.stderr)


async def _open_store(db: str) -> SqliteStore | None:
    """The store `--db` names (an SQLite file or a PostgreSQL URL), open; None (said why) if not."""
    from .interpreter.store import StoreError, store_at

    store = store_at(db)
    try:
        await store.open()
    except StoreError as error:
        _say(str(error))
        return None
    return store


def _read(args: argparse.Namespace) -> str | None:
    """The CSV file's text, once the store file is known to be there; None (said why) if not."""
    from .interpreter.store import is_postgresql

    if not is_postgresql(args.db) and not Path(args.db).is_file():
        _say(f"no store at {args.db}: give the file with --db (`scn serve` or `scn run` makes one)")
        return None
    try:
        data = Path(args.file).read_bytes()
        return data.decode("utf-8")
    except OSError as error:
        _say(f"cannot read {args.file}: {error.strerror}")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        _say(f"{args.file}:{line}: not UTF-8 text (byte {error.start}); save the CSV as UTF-8")
    return None


def _run(args: argparse.Namespace) -> int:
    from .interpreter.runtime.imports import IMPORT_CHUNK, CsvError, read_contacts

    args.chunk = IMPORT_CHUNK if args.chunk is None else args.chunk
    if args.chunk < 1:
        _say(f"--chunk takes a number of rows, at least 1 (not {args.chunk})")
        return EXIT_ERROR
    text = _read(args)
    if text is None:
        return EXIT_ERROR
    try:
        rows, errors = read_contacts(text)
    except CsvError as error:
        _say(f"{args.file}:{error.line}: {error.message}")
        return EXIT_ERROR
    shown = sys.stderr.isatty() if args.progress is None else args.progress
    try:
        return asyncio.run(_import(args, rows, errors, shown))
    except KeyboardInterrupt:
        _say("interrupted: what was imported is kept; run the same command again to go on")
        return EXIT_INTERRUPTED


async def _import(
    args: argparse.Namespace, rows: list[tuple[int, dict[str, str]]], errors: list[dict[str, Any]], shown: bool
) -> int:
    from .interpreter.clock import WallClock, ms_of
    from .interpreter.runtime import Settings
    from .interpreter.runtime.engine import Engine
    from .interpreter.runtime.imports import run_import

    clock = WallClock()
    store = await _open_store(args.db)
    if store is None:
        return EXIT_ERROR
    try:
        engine = Engine(store, clock, Settings())
        await engine.load()  # events are checked against the workspace deployed there, as the API does
        job = next((j for j in await store.unfinished_imports()
                    if j.rows == rows and j.total == len(rows) + len(errors)), None)  # fmt: skip
        if job is None:
            job_id = await store.create_import(len(rows) + len(errors), rows, errors, ms_of(clock.now()))
            job = await store.import_job(job_id)
            assert job is not None
            job.rows = rows
            _say(f"import {job.id}: {len(rows)} rows of {args.file}")
        else:
            _say(f"import {job.id}: going on from row {job.position} of {len(rows)} (stopped before)")
        with _progress(job.position, len(rows), shown) as progress:
            await run_import(engine, store, job, lambda: ms_of(clock.now()), progress, args.chunk)
    finally:
        await store.close()
    print(f"import {job.id}: {job.accepted} contacts imported, {job.duplicates} already there, "
          f"{len(job.errors)} rows not imported")  # fmt: skip
    for problem in job.errors:
        print(f"{args.file}:{problem['line']}: {problem['error']}", file=sys.stderr)
    return EXIT_FINDINGS if job.errors else EXIT_OK


def _run_codes(args: argparse.Namespace) -> int:
    from .interpreter.checker import pool_codes

    text = _read(args)
    if text is None:
        return EXIT_ERROR
    try:
        codes = pool_codes(text)
    except ValueError as error:
        _say(f"{args.file}: {str(error).removeprefix('is ')}")
        return EXIT_ERROR
    if not codes:
        _say(f"{args.file}: no codes in it (a `code` column, or one code a line)")
        return EXIT_ERROR
    shown = sys.stderr.isatty() if args.progress is None else args.progress
    try:
        return asyncio.run(_import_codes(args, codes, shown))
    except KeyboardInterrupt:
        _say("interrupted: the codes added are kept; run the same command again to add the rest")
        return EXIT_INTERRUPTED


async def _import_codes(args: argparse.Namespace, codes: list[str], shown: bool) -> int:
    from .interpreter.runtime.imports import IMPORT_CHUNK

    store = await _open_store(args.db)
    if store is None:
        return EXIT_ERROR
    try:
        coupon = await _pool_coupon(store, args.coupon)
        if coupon is not None:
            _say(coupon)
            return EXIT_ERROR
        added = 0
        with _progress(0, len(codes), shown) as progress:
            for start in range(0, len(codes), IMPORT_CHUNK):
                added += await store.import_pool(args.coupon, codes[start : start + IMPORT_CHUNK])
                progress(min(start + IMPORT_CHUNK, len(codes)), len(codes))
        free = await store.free_pool_codes(args.coupon)
    finally:
        await store.close()
    print(f"coupon {args.coupon}: {added} codes added, {len(codes) - added} already in the pool, {free} free")
    return EXIT_OK


async def _pool_coupon(store: Any, name: str) -> str | None:
    """Why codes cannot go into ``name``'s pool (the workspace deployed in ``store``), or None."""
    from .interpreter.clock import WallClock
    from .interpreter.runtime import Settings
    from .interpreter.runtime.engine import Engine

    engine = Engine(store, WallClock(), Settings())
    await engine.load()
    coupons = engine.current.coupons if engine.current is not None else {}
    coupon = coupons.get(name)
    if coupon is None:
        known = ", ".join(sorted(c for c, d in coupons.items() if d.source == "pool")) or "none"
        return f"no coupon {name} in the workspace deployed there (its pool coupons: {known})"
    if coupon.source != "pool":
        return f"coupon {name} is not drawn from a pool; its codes are {coupon.source}"
    return None


@contextlib.contextmanager
def _progress(done: int, total: int, shown: bool) -> Iterator[Callable[[int, int], None]]:
    """The rich progress bar `scn simulate` shows when ``shown``, else a plain line per chunk."""
    from .progress import progress_bar

    with progress_bar("importing", total, shown, unit="rows", done=done) as bar:
        yield bar or (lambda now, of: print(f"imported {now}/{of} rows", file=sys.stderr, flush=True))
