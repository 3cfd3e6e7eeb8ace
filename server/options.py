"""The options of `scn serve` (light: the CLI builds its parser without loading the server)."""

from __future__ import annotations

import argparse
import os
from typing import Any

import msgspec

from .logs import LOG_FORMATS, LogFormat

#: Where the development mail sink listens unless told (`--dev-smtp-port`); taken only if free.
DEV_SMTP_PORT = 2525


class ServeOptions(msgspec.Struct, kw_only=True):
    workspace: list[str]
    db: str
    host: str
    port: int
    api_key: str | None
    delivery_file: str | None
    dev_smtp: bool
    #: None: DEV_SMTP_PORT, or any free port when that one is busy.
    dev_smtp_port: int | None
    demo: bool
    public_url: str | None
    protect_metrics: bool = False
    smtp: str | None = None
    #: The engine next to the API in one process, rather than in a child process.
    single_process: bool = False
    #: Run an engine at all; an API-only replica leaves that to other processes on its database.
    engine: bool = True
    #: Tests of the wall-clock path: time runs this many times faster.
    clock_speed: float = 1.0
    #: Log lines as text for a terminal or as JSON objects (server/logs.py).
    log_format: LogFormat = "console"
    #: A line per HTTP request.
    access_log: bool = True


def port_number(text: str) -> int:
    """A TCP port to listen on, 1-65535 (argparse says which option was wrong)."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, not {text!r}")
    return port


def serve_arguments(parser: Any) -> None:
    environ = os.environ
    parser.add_argument("workspace", nargs="*", help="the workspace to deploy (.scn files or directories); "
                        "without it, the workspace stored in the database is served")  # fmt: skip
    parser.add_argument(
        "--db",
        default=environ.get("SCN_DB"),
        help="the store: an SQLite file (default scn.db; scn-demo.db with "
        "--demo) or a PostgreSQL URL, postgresql://user:password@host/name (SCN_DB; docs/postgresql.md)",
    )
    parser.add_argument("--host", default=environ.get("SCN_HOST", "127.0.0.1"), help="bind address")
    # The default stays text, read by `port_number` only when `scn serve` runs: SCN_PORT=abc
    # troubles no other command.
    parser.add_argument("--port", type=port_number, default=environ.get("SCN_PORT", "8000"), help="bind port")
    parser.add_argument("--api-key", default=environ.get("SCN_API_KEY"), help="required in X-API-Key (SCN_API_KEY)")
    parser.add_argument(
        "--protect-metrics",
        action="store_true",
        default=environ.get("SCN_PROTECT_METRICS", "").lower() in ("1", "true", "yes", "on"),
        help="/metrics needs the API key too (SCN_PROTECT_METRICS=1); by default it is open for Prometheus",
    )
    parser.add_argument("--public-url", help="where recipients reach this server (SCN_PUBLIC_URL)")
    parser.add_argument("--smtp", help="deliver email through this SMTP URL (SCN_SMTP_URL), e.g. "
                        "smtp://user:pass@mail.example.com:587?starttls=require")  # fmt: skip
    parser.add_argument("--delivery", dest="delivery_file", metavar="FILE", help="delivery settings (TOML)")
    parser.add_argument("--dev-smtp", action="store_true", help="deliver email to a local sink shown at /dev/mails")
    parser.add_argument(
        "--dev-smtp-port", type=port_number, default=None,
        help=f"the sink's SMTP port, which must be free (default: {DEV_SMTP_PORT}, or any free one if it is busy)",
    )  # fmt: skip
    parser.add_argument(
        "--demo",
        action="store_true",
        help="replay the workspace's *.events.jsonl live on a fast clock (own database, reset at start)",
    )
    parser.add_argument(
        "--single-process",
        action="store_true",
        help="run the engine in the API's process (by default it runs in a child process, on a core of its own)",
    )
    parser.add_argument(
        "--no-engine", dest="engine", action="store_false",
        default=environ.get("SCN_ENGINE", "1").lower() not in ("0", "false", "no", "off"),
        help="an API-only replica (SCN_ENGINE=0): no engine here; `scn worker` or other `scn serve` processes on "
        "the same database process the events (docs/postgresql.md)",
    )  # fmt: skip
    parser.add_argument(
        "--log-format", choices=LOG_FORMATS, default=environ.get("SCN_LOG_FORMAT", "console"),
        help="log lines as text for a terminal (console, the default) or as a JSON object each (SCN_LOG_FORMAT)",
    )  # fmt: skip
    parser.add_argument(
        "--no-access-log", dest="access_log", action="store_false",
        default=environ.get("SCN_ACCESS_LOG", "1").lower() not in ("0", "false", "no", "off"),
        help="no line per HTTP request (SCN_ACCESS_LOG=0); by default each is logged",
    )  # fmt: skip
    # For tests of the wall-clock path (like `scn worker`): time runs faster.
    parser.add_argument("--clock-speed", type=float, default=1.0, help=argparse.SUPPRESS)
