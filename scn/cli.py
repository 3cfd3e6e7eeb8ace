"""The `scn` command line.

Exit codes follow the linters people know: 0 clean, 1 findings, 2 could not run.
Commands import what they need lazily so that `scn check` starts fast.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__
from .check_command import add_check, add_explain
from .interpreter.render import use_colour
from .progress import progress_bar as _progress_bar

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _add_fmt(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("fmt", help="format .scn files", description="Rewrite .scn files in the canonical layout.")
    p.add_argument(
        "paths",
        nargs="*",
        default=["."],
        help="files or directories (default: the current directory); - formats standard input to standard output",
    )
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    p.add_argument("--diff", action="store_true", help="change nothing; show the changes as a unified diff (exit 1)")
    p.add_argument("--stdin-filename", metavar="PATH", help="with -, the name standard input has in messages")
    p.set_defaults(run=_run_fmt)


def _add_simulate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "simulate",
        help="run scenarios against a timeline of events in virtual time",
        description="Run a workspace against events in virtual time and print what would happen.",
    )
    p.add_argument("workspace", nargs="+", help=".scn files or directories")
    p.add_argument("--events", required=True, help="a JSON-lines file of events, each with `at`")
    p.add_argument("--contacts", help="a JSON-lines file of contacts to start with")
    p.add_argument("--until", default="60d", help="how long to go on after the last event (default 60d)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument(
        "--strict", action="store_true", help="exit 1 when any message failed or event was set aside (0 otherwise)"
    )
    p.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="a progress bar on standard error while the timeline plays (default: when it is a terminal)",
    )  # fmt: skip
    p.set_defaults(run=_run_simulate)


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "worker",
        help="run the interpreter on a database, without the HTTP API",
        description=(
            "Deploy a workspace to a database and run its scenarios until stopped (SIGTERM, Ctrl-C). "
            "With --events -, read events from standard input, one JSON object per line, and write one "
            "acknowledgement line per event once it is on disk. Settings come from SCN_SECRET, "
            "SCN_PUBLIC_URL and SCN_TIMEZONE."
        ),
    )
    p.add_argument("workspace", nargs="+", help=".scn files or directories")
    p.add_argument(
        "--db",
        default=os.environ.get("SCN_DB", "scn.db"),
        help="the store: an SQLite file (created if "
        "missing; default scn.db) or a PostgreSQL URL, postgresql://user:password@host/name (SCN_DB)",
    )
    p.add_argument("--events", choices=("-",), help="read events from standard input")
    p.add_argument(
        "--delivery",
        metavar="FILE",
        help="deliver the outbox with these settings (TOML: [email], [sms]...; see docs/delivery.md); "
        "SCN_SMTP_URL alone also turns email delivery on",
    )
    # For tests of the wall-clock path: time runs faster from a common origin.
    p.add_argument("--clock-speed", type=float, default=1.0, help=argparse.SUPPRESS)
    p.add_argument("--clock-origin", type=dt.datetime.fromisoformat, default=None, help=argparse.SUPPRESS)
    p.set_defaults(run=_run_run)


def _checked_or_report(paths: list[str], command: str) -> object | None:
    """The checked workspace, or None after printing its errors."""
    from .interpreter.checker import check_workspace
    from .interpreter.render import render_text as render_diagnostics
    from .interpreter.workspace import load_workspace

    workspace = load_workspace(paths)
    checked = check_workspace(workspace)
    if not workspace.files:
        print(f"scn {command}: no .scn files under {' '.join(paths)}", file=sys.stderr)
        return None
    if not checked.ok or workspace.load_errors:
        texts = {f.path: f.text for f in workspace.files}
        sys.stderr.write(render_diagnostics(checked.diagnostics, texts.get, colour=use_colour("auto", sys.stderr)))
        print(f"scn {command}: the workspace has errors; fix them first", file=sys.stderr)
        return None
    return checked


def _run_run(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from .interpreter.checker import CheckResult
    from .interpreter.clock import WallClock
    from .interpreter.runtime import Settings
    from .interpreter.runtime.worker import run
    from .interpreter.store import StoreError
    from .stdlib.delivery.config import ConfigError, load_delivery

    checked = _checked_or_report(args.workspace, "worker")
    if not isinstance(checked, CheckResult):
        return EXIT_FINDINGS

    def ready(info: dict[str, object]) -> None:
        print(json.dumps(info), file=sys.stderr, flush=True)

    from .interpreter import config as project

    environ = dict(os.environ)
    try:  # the project's default time zone, when SCN_TIMEZONE does not say
        found = project.find_config(args.workspace[0])
        timezone = project.load_config(found).timezone if found is not None else None
    except project.ConfigError as error:
        print(f"scn worker: {error}", file=sys.stderr)
        return EXIT_ERROR
    if timezone and not environ.get("SCN_TIMEZONE"):
        environ["SCN_TIMEZONE"] = timezone
    delivery = None
    if args.delivery or os.environ.get("SCN_SMTP_URL"):
        try:
            delivery = load_delivery(args.delivery, os.environ)
        except ConfigError as error:
            print(f"scn worker: {error}", file=sys.stderr)
            return EXIT_ERROR
    try:
        asyncio.run(
            run(checked, args.db, WallClock(args.clock_speed, args.clock_origin), Settings.from_env(environ),
                stdin_events=args.events == "-", ready=ready, delivery=delivery)
        )  # fmt: skip
    except (OSError, StoreError) as error:
        print(f"scn worker: {error}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _duration_argument(text: str) -> dt.timedelta | None:
    import re

    parts = re.fullmatch(r"((\d+)(ms|s|m|h|d|w))+", text)
    if parts is None:
        return None
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return dt.timedelta(seconds=sum(int(n) * units[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d|w)", text)))


def _run_simulate(args: argparse.Namespace) -> int:
    import asyncio

    from .interpreter.checker import CheckResult
    from .interpreter.simulate import (
        SimulationError,
        read_contact_lines,
        read_timeline,
        render_json,
        render_text,
        simulate,
    )

    until = _duration_argument(args.until)
    if until is None:
        print(f"scn simulate: --until takes a duration such as 60d or 12h, not {args.until!r}", file=sys.stderr)
        return EXIT_ERROR
    checked = _checked_or_report(args.workspace, "simulate")
    if not isinstance(checked, CheckResult):
        return EXIT_FINDINGS
    try:
        events, sources = read_timeline(Path(args.events))
        contacts, contact_sources = read_contact_lines(Path(args.contacts)) if args.contacts else (None, None)
        shown = sys.stderr.isatty() if args.progress is None else args.progress
        with _progress_bar("simulating", len(events), shown) as progress:
            result = asyncio.run(simulate(checked, events, contacts, until, sources=sources, progress=progress,
                                          contact_sources=contact_sources))  # fmt: skip
    except (OSError, SimulationError) as error:
        for line in str(error).splitlines():  # one located error a line
            print(f"scn simulate: {line}", file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(render_json(result) if args.format == "json" else render_text(result))
    failed = sum(result.summary.failed.values())
    if args.strict and failed:
        print(f"scn simulate: {failed} message(s) failed (see `failed:` in the summary)", file=sys.stderr)
    if args.strict and result.summary.set_aside:
        print(f"scn simulate: {result.summary.set_aside} event(s) were set aside by an error in scn", file=sys.stderr)
    if args.strict and (failed or result.summary.set_aside):
        return EXIT_FINDINGS
    return EXIT_OK


def _run_fmt(args: argparse.Namespace) -> int:
    from .grammar import parse
    from .grammar._format import FormatError, format_source
    from .interpreter.fixes import unified_diff
    from .interpreter.render import render_text
    from .interpreter.workspace import scn_files

    if "-" in args.paths:
        return _fmt_stdin(args)
    files, errors = scn_files(args.paths)
    if errors or not files:
        for error in errors:
            print(f"scn fmt: {error.message}", file=sys.stderr)
        if not files:
            print(f"scn fmt: no .scn files under {' '.join(args.paths)}", file=sys.stderr)
        return EXIT_ERROR
    status = EXIT_OK
    changed = broken = 0
    for path in files:
        shown = os.path.relpath(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            why = f"not UTF-8 text (byte {error.start})" if isinstance(error, UnicodeDecodeError) else error.strerror
            print(f"scn fmt: {shown}: {why}; it was not formatted", file=sys.stderr)
            status = EXIT_ERROR
            broken += 1
            continue
        result = parse(text, shown)
        try:
            formatted = format_source(result)
        except FormatError:
            colour = use_colour("auto", sys.stderr)
            sys.stderr.write(render_text(list(result.diagnostics), _reader_of(text), colour=colour))
            print(f"scn fmt: {shown} has syntax errors; it was not formatted", file=sys.stderr)
            status = EXIT_ERROR
            broken += 1
            continue
        if formatted != text:
            changed += 1
            if args.diff:
                sys.stdout.write(unified_diff(shown, text, formatted))
                status = max(status, EXIT_FINDINGS)
            elif args.check:
                print(f"would reformat {shown}")
                status = max(status, EXIT_FINDINGS)
            else:
                path.write_text(formatted, encoding="utf-8")
                print(f"reformatted {shown}")
    unchanged = len(files) - changed - broken
    verb = "would be reformatted" if args.check or args.diff else "reformatted"
    not_formatted = f", {broken} not formatted (syntax errors, or not readable)" if broken else ""
    # With --diff, standard output is the diff alone (for `patch`, `git apply`).
    print(
        f"{changed} file{'s' * (changed != 1)} {verb}, {unchanged} unchanged{not_formatted}.",
        file=sys.stderr if args.diff else sys.stdout,
    )
    return status


def _fmt_stdin(args: argparse.Namespace) -> int:
    """`scn fmt -`: the formatted text on standard output (or, with --check / --diff, nothing / a diff)."""
    from .grammar import parse
    from .grammar._format import FormatError, format_source
    from .interpreter.fixes import unified_diff
    from .interpreter.render import render_text

    if args.paths != ["-"]:
        print("scn fmt: - (standard input) cannot be given with other paths", file=sys.stderr)
        return EXIT_ERROR
    shown = args.stdin_filename or "<stdin>"
    text = sys.stdin.read()
    result = parse(text, shown)
    try:
        formatted = format_source(result)
    except FormatError:
        sys.stderr.write(render_text(list(result.diagnostics), _reader_of(text), colour=use_colour("auto", sys.stderr)))
        print(f"scn fmt: {shown} has syntax errors; it was not formatted", file=sys.stderr)
        return EXIT_ERROR
    if args.diff:
        sys.stdout.write(unified_diff(shown, text, formatted))
    elif args.check:
        if formatted != text:
            print(f"would reformat {shown}")
    else:
        sys.stdout.write(formatted)
    return EXIT_FINDINGS if formatted != text and (args.check or args.diff) else EXIT_OK


def _reader_of(text: str) -> Callable[[str], str | None]:
    return lambda _path: text


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the HTTP API with the interpreter and the sender",
        description=(
            "Serve the REST API (OpenAPI at /schema) with the engine and the outbox sender, on an SQLite file or "
            "a PostgreSQL database. Settings by flags or environment: SCN_DB, SCN_HOST, SCN_PORT, SCN_API_KEY, "
            "SCN_PUBLIC_URL, SCN_SECRET, SCN_SMTP_URL, SCN_TIMEZONE."
        ),
    )
    from .server.options import serve_arguments

    serve_arguments(p)
    p.set_defaults(run=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    # The engine runs in a process of its own: prometheus_client's multiprocess mode adds up
    # what each process observed (interpreter/telemetry.py). The mode is chosen when
    # prometheus_client is imported, so before anything imports it; an operator's own
    # directory (which they clear between starts, as its docs say) is used as given.
    made = None
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        made = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="scn-metrics-")
    from .server.options import ServeOptions
    from .server.serve import serve
    from .stdlib.delivery.config import ConfigError

    options = ServeOptions(**{f: getattr(args, f) for f in ServeOptions.__struct_fields__})
    try:
        return serve(options)
    except ConfigError as error:
        print(f"scn serve: {error}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


def _add_lsp(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "lsp",
        help="run the language server (LSP over standard input and output)",
        description=(
            "Serve the Language Server Protocol over standard input and output for an editor: diagnostics "
            "as you type, hover, completion, go to definition, references, rename, formatting and quick "
            "fixes, with the real checker over the whole workspace. See docs/editors.md."
        ),
    )
    p.add_argument(
        "--debounce",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long an edit waits for the next before the workspace is checked (default 0.15)",
    )
    p.set_defaults(run=_run_lsp)


def _run_lsp(args: argparse.Namespace) -> int:
    from .lsp import DEBOUNCE, serve

    serve(DEBOUNCE if args.debounce is None else max(0.0, args.debounce))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scn", description="Marketing automation where scenarios are code.")
    parser.add_argument("--version", action="version", version=f"scn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    from .backtest_cli import add_command as add_backtest
    from .broadcast_cli import add_commands as add_broadcast_commands
    from .client import add_commands
    from .import_cli import add_commands as add_import_commands
    from .privacy_cli import add_commands as add_privacy_commands
    from .store_cli import add_commands as add_store_commands
    from .versions_cli import add_commands as add_version_commands
    from .versions_cli import add_publish

    add_commands(sub)
    add_broadcast_commands(sub)
    add_privacy_commands(sub)
    add_import_commands(sub)
    add_store_commands(sub)
    add_version_commands(sub, _checked_or_report)
    add_publish(sub)
    add_backtest(sub, _checked_or_report, _progress_bar)
    return parser


COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    add_check,
    add_explain,
    _add_fmt,
    _add_simulate,
    _add_run,
    _add_serve,
    _add_lsp,
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        code: int = args.run(args)
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception:  # an internal error must not look like a finding in the user's file
        if os.environ.get("SCN_DEBUG"):
            traceback.print_exc()
        error = sys.exc_info()[1]
        print(f"scn: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        print(
            "scn: this is a bug in scn; run with SCN_DEBUG=1 for details and please report it",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
