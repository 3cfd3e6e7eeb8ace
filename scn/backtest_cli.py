"""`scn backtest`: a period of a store's event history replayed through a candidate version
of the scenarios, beside what the live ones sent (see docs/versions.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import msgspec

from .versions_cli import Checker

if TYPE_CHECKING:
    from .interpreter.program import Bundle
    from .interpreter.versions.backtest import BacktestResult

EXIT_SAME, EXIT_DIFFERENT, EXIT_ERROR = 0, 1, 2
#: Changed messages listed in the text output unless --limit says otherwise.
SHOWN_CHANGES = 20


#: A progress bar told (done, total) on standard error, or None (cli.py's, handed in).
ProgressBar = Callable[[str, int, bool], AbstractContextManager[Callable[[int, int], None] | None]]


def add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], check: Checker, progress_bar: ProgressBar
) -> None:
    p = sub.add_parser(
        "backtest",
        help="replay a period of a store's events through a new version; what it would have sent vs what was sent",
        description=(
            "Replay the events a store received in a period through a candidate version of the scenarios (a "
            "workspace, or with --version a stored version or draft of one scenario), in virtual time on an "
            "in-memory copy: nothing is sent and the store does not change. Shows the messages the candidate "
            "would have sent beside those the live scenarios sent: added, removed, moved, per template, step "
            "and coupon. Exit 0 when they are the same, 1 when they differ, 2 on an error."
        ),
    )
    p.add_argument("workspace", nargs="*", help="the candidate: .scn files or directories")
    p.add_argument("--db", required=True, help="the SQLite file of the live store (only read)")
    p.add_argument("--since", default="30d", help="the period's start: 30d, 12h, 2w ago, or a date (default 30d)")
    p.add_argument("--until", help="the period's end: a date or time (default now)")
    p.add_argument("--scenario", action="append", help="compare only this scenario (repeat for more; default: all)")
    p.add_argument("--version", type=int, help="the candidate is this stored version (or draft) of --scenario")
    p.add_argument("--limit", type=int, help=f"changed messages to list (default {SHOWN_CHANGES}; all with json)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="a progress bar on standard error while events replay (default: when it is a terminal)",
    )  # fmt: skip
    p.set_defaults(run=_run_backtest, check=check, progress_bar=progress_bar)


def _fail(message: str) -> int:
    print(f"scn backtest: {message}", file=sys.stderr)
    return EXIT_ERROR


def _stored_candidate(path: str, scenario: str, version: int) -> Bundle:
    from .interpreter.program import Bundle
    from .interpreter.store.sqlite_history import open_read_only, stored_version

    db = open_read_only(path)
    try:
        return msgspec.msgpack.decode(stored_version(db, scenario, version)[1], type=Bundle)
    finally:
        db.close()


def _run_backtest(args: argparse.Namespace) -> int:
    from .interpreter.checker import CheckResult
    from .interpreter.compiler import compile_workspace
    from .interpreter.runtime import Settings
    from .interpreter.store import StoreError
    from .interpreter.versions.backtest import BacktestError, backtest, parse_moment

    now = dt.datetime.now(dt.UTC)
    checked: CheckResult | None = None
    limit = args.limit if args.limit is not None else (None if args.format == "json" else SHOWN_CHANGES)
    try:
        until = parse_moment("--until", args.until, now, ago=False) if args.until else now
        since = parse_moment("--since", args.since, until)
        if args.version is not None:
            if args.workspace or not args.scenario or len(args.scenario) != 1:
                return _fail("--version takes one --scenario and no workspace: the candidate is that stored version")
            candidate = _stored_candidate(args.db, args.scenario[0], args.version)
        else:
            if not args.workspace:
                return _fail("give the candidate: a workspace (files or directories), or --scenario S --version N")
            found = args.check(args.workspace, "backtest")
            if not isinstance(found, CheckResult):
                return EXIT_ERROR
            checked = found
            candidate = compile_workspace(checked)
        scenarios = args.scenario or sorted(candidate.scenarios)
        shown = sys.stderr.isatty() if args.progress is None else args.progress
        import asyncio  # here: every command's start (`scn check` too) imports this module

        with args.progress_bar("replaying", _count_events(args.db, since, until), shown) as progress:
            settings = Settings.from_env(dict(os.environ))
            result = asyncio.run(backtest(args.db, candidate, scenarios, since, until, settings, checked=checked,
                                          progress=progress, limit=limit))  # fmt: skip
    except (BacktestError, StoreError) as error:
        return _fail(str(error))
    c = result.comparison
    if args.format == "json":
        print(json.dumps(msgspec.to_builtins(result), ensure_ascii=False, indent=2))
    else:
        print_text(result)
    return EXIT_DIFFERENT if c.added or c.removed or c.moved else EXIT_SAME


def _count_events(path: str, since: dt.datetime, until: dt.datetime) -> int:
    """How many events the period has (the progress bar's total); 0 when it cannot be told."""
    from .interpreter.clock import ms_of
    from .interpreter.store import StoreError
    from .interpreter.store.sqlite_history import count_events, open_read_only

    try:
        db = open_read_only(path)
    except StoreError:
        return 0
    try:
        return count_events(db, ms_of(since), ms_of(until))
    finally:
        db.close()


def _when(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M") if moment is not None else "-"


def print_text(result: BacktestResult) -> None:
    """Rich tables: totals, per template, per step, coupons, then the changed messages."""
    from rich.console import Console
    from rich.table import Table

    # Piped into a file or a pager, the tables keep their natural width.
    console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
    c = result.comparison
    console.print(
        f"backtest of {', '.join(result.scenarios)}: events from {_when(result.since)} to {_when(result.until)} UTC; "
        f"{result.events} event(s) replayed in {result.seconds:.1f} s ({result.events_per_s:,.0f}/s); "
        f"{result.contacts} contact(s) with their attributes as they are now"
    )
    console.print(f"messages: live {c.live}, backtest {c.backtest}: {c.same} the same, {c.moved} moved, "
                  f"{c.added} added, {c.removed} removed")  # fmt: skip

    def table(title: str, header: list[str], rows: list[list[str]], numeric: int = 0) -> None:
        if not rows:
            return
        t = Table(title=title, title_justify="left")
        for index, name in enumerate(header):
            t.add_column(name, justify="right" if index >= len(header) - numeric else "left")
        for row in rows:
            t.add_row(*row)
        console.print(t)

    numbers = ["live", "backtest", "moved", "added", "removed"]
    table("per template", ["scenario", "template", *numbers],
          [[t.scenario, f"{t.channel} {t.template}".strip(), *(str(getattr(t, n)) for n in numbers)]
           for t in c.templates], len(numbers))  # fmt: skip
    table("per step", ["scenario", "step", *numbers],
          [[s.scenario, s.step or "-", *(str(getattr(s, n)) for n in numbers)] for s in c.steps],
          len(numbers))  # fmt: skip
    table("coupons issued", ["scenario", "coupon", "live", "backtest"],
          [[k.scenario, k.coupon, str(k.live), str(k.backtest)] for k in c.coupons], 2)  # fmt: skip
    shown = c.changes
    table(f"changed messages ({len(shown)} of {c.changes_total})", ["change", "contact", "template",
          "backtest (UTC)", "step", "live (UTC)", "step"],
          [[m.change, m.contact, f"{m.channel} {m.template}".strip(), _when(m.at), m.step or "-", _when(m.live_at),
            m.live_step or "-"] for m in shown])  # fmt: skip
