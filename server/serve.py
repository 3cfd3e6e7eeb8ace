"""`scn serve`: the API and the sender under uvicorn, the engine in a child process (or
next to the API with --single-process)."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
import sys
from pathlib import Path

import msgspec
import uvicorn

from ..interpreter.clock import WallClock
from ..interpreter.render import render_text
from ..interpreter.runtime import Settings
from ..interpreter.runtime.worker import freeze_heap
from ..interpreter.store import StoreError
from ..interpreter.store.unavailable import engine_lock, file_problem
from ..stdlib.delivery import Channel
from ..stdlib.delivery.config import DeliveryConfig, load_delivery
from .app import create_app
from .console import ConsoleSettings
from .core import Core, check_files, read_directory
from .demo import play_demo
from .devmail import MailSink, sink_delivery
from .event_loop import loop_factory
from .logs import configure_logging
from .observe import Observed
from .options import DEV_SMTP_PORT, ServeOptions

logger = logging.getLogger("scn.server")
#: The demo's clock: six hours of scenario time per second, so a day's wait takes 4 s.
DEMO_SPEED = 21600.0


def bind_error(port: int) -> OSError | None:
    """Why nothing could listen on 127.0.0.1:``port`` now (None: it could)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            return error
    return None


def any_free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sink_port(asked: int | None) -> int | None:
    """The development mail sink's port: the one asked for, or else DEV_SMTP_PORT, or else
    (that one busy) any free port, said in the log. None, said on stderr, when the port
    asked for cannot be had: quietly taking another would send the mail elsewhere."""
    if asked is not None:
        error = bind_error(asked)
        if error is None:
            return asked
        print(f"scn serve: the development mail sink cannot listen on port {asked} ({error.strerror}): "
              "choose another --dev-smtp-port, or leave it out to take a free port", file=sys.stderr)  # fmt: skip
        return None
    if bind_error(DEV_SMTP_PORT) is None:
        return DEV_SMTP_PORT
    port = any_free_port()
    logger.warning("port %d is in use: the development mail sink listens on port %d instead", DEV_SMTP_PORT, port)
    return port


def serve(options: ServeOptions) -> int:
    configure_logging(options.log_format)
    os.environ["SCN_LOG_FORMAT"] = options.log_format  # the engine's process logs alike
    environ = dict(os.environ)
    if options.protect_metrics and not options.api_key:
        print("scn serve: --protect-metrics needs an API key (--api-key or SCN_API_KEY) to protect /metrics with",
              file=sys.stderr)  # fmt: skip
        return 2
    console = ConsoleSettings.from_env(environ)
    if (problem := console.problem()) is not None:
        print(f"scn serve: the console's sign-in: {problem}", file=sys.stderr)
        return 2
    if options.smtp:
        environ["SCN_SMTP_URL"] = options.smtp
    if not options.db:
        options.db = "scn-demo.db" if options.demo else "scn.db"
    if options.demo and not options.engine:
        print("scn serve: --demo needs the engine here: leave out --no-engine (or SCN_ENGINE=0)", file=sys.stderr)
        return 2
    settings = Settings.from_env(environ)
    public_url = options.public_url or environ.get("SCN_PUBLIC_URL") or f"http://{options.host}:{options.port}"
    settings = msgspec.structs.replace(settings, public_url=public_url)
    if settings.secret == "change-me":
        # Links signed with a well-known secret could be forged: use a random one and say so.
        settings = msgspec.structs.replace(settings, secret=secrets.token_urlsafe(32))
        logger.warning("SCN_SECRET is not set: tracking and unsubscribe links will not survive a restart")

    workspace: dict[str, str] | None = None
    folder: Path | None = None
    if options.workspace:
        files: dict[str, str] = {}
        for entry in options.workspace:
            path = Path(entry)
            if not path.exists():
                print(f"scn serve: no such file or directory: {entry}", file=sys.stderr)
                return 2
            files.update(read_directory(path))
            folder = folder or (path if path.is_dir() else path.parent)
        checked = check_files(files)
        if not checked.ok:
            # Said before anything starts, as `scn check` says it.
            sys.stderr.write(render_text(checked.diagnostics, files.get, colour=False))
            print("scn serve: the workspace has errors; fix them first", file=sys.stderr)
            return 1
        workspace = files

    delivery: DeliveryConfig | None = None
    if options.delivery_file or environ.get("SCN_SMTP_URL"):
        delivery = load_delivery(options.delivery_file, environ)
    sink: MailSink | None = None
    sink_channels: dict[str, Channel] | None = None
    if options.dev_smtp:
        port = sink_port(options.dev_smtp_port)
        if port is None:
            return 2
        sink = MailSink(port)
        delivery, sink_channels = sink_delivery(sink, delivery, settings.secret)

    clock = WallClock(DEMO_SPEED if options.demo else options.clock_speed)
    if options.demo and "demo" in Path(options.db).name and Path(options.db).exists():
        # The demo's clock starts now each time: runs left from an earlier demo would be
        # weeks off. Its database is for the demo only.
        for suffix in ("", "-wal", "-shm"):
            Path(options.db + suffix).unlink(missing_ok=True)
    problem = file_problem(options.db)
    if problem is None and options.engine:  # the engine takes it for good once it starts
        try:
            taken = engine_lock(options.db)
        except StoreError as error:
            problem = str(error)
        else:
            if taken is not None:
                taken.release()
    if problem is not None:  # said before anything starts, not as a failed application startup
        print(f"scn serve: {problem}", file=sys.stderr)
        return 1
    core = Core(options.db, settings, clock=clock, delivery=delivery, engine_process=not options.single_process,
                run_engine=options.engine)  # fmt: skip
    core.channels_override = sink_channels

    def ready(versions: dict[str, int]) -> None:
        freeze_heap()  # the process is up: what exists now lasts as long as it does
        print(f"scn: serving {len(core.engine.scenarios)} scenario(s) on {public_url} (API docs: {public_url}/schema)")
        print(f"scn: the console: {public_url}/")
        if sink is not None:
            password = " (user: any, password: the API key)" if options.api_key else ""
            print(f"scn: development mail sink on {sink.url}: see {public_url}/dev/mails{password}")
        if not options.engine:
            print("scn: no engine in this process (--no-engine): other processes on the database process the events")
        if not options.api_key:
            print("scn: no API key (SCN_API_KEY or --api-key): the control API is open to anyone who can reach it")
        if options.demo and folder is not None:
            print(f"scn: demo: replaying {folder}/*.events.jsonl, six hours of scenario time per second")
            asyncio.get_running_loop().create_task(play_demo(core, folder, core.stopping))

    app = create_app(core, api_key=options.api_key, workspace=workspace, mail_sink=sink, on_ready=ready,
                     protect_metrics=options.protect_metrics, console=console)  # fmt: skip
    config = uvicorn.Config(Observed(app, access_log=options.access_log), host=options.host, port=options.port,
                            log_level="warning", lifespan="on", access_log=False,
                            log_config=None)  # fmt: skip  # (its own handlers would print past ours)
    server = uvicorn.Server(config)
    # uvicorn shuts down gracefully on SIGTERM / SIGINT, then raises the signal again for
    # the handler that was there before; this one lets the process exit 0 after that.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(server.serve())
    return 0 if server.started else 1
