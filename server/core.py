"""The server's core: one store, one engine, one sender, and the workspace being served.

The HTTP layer only calls into this; everything that changes state goes through the
engine (events, deploys) or the store's write lock (pause, cancel), as in `scn worker`.
The engine's loop runs here, or (`scn serve`) in a child process on the same database,
which this process tells about new events and scenarios (engine_process.py), or, in an
API-only replica (`scn serve --no-engine`), in other processes on the same database.
What other processes change (their uploads, their outbox messages) is heard of by their
notices on PostgreSQL and by polling on any store (runtime/nudges.py): the scenarios and
the served workspace are read again, the sender looks again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import time
from pathlib import Path, PurePosixPath
from typing import Any

import msgspec

from ..interpreter.checker import CheckResult, check_workspace
from ..interpreter.clock import Clock, WallClock, ms_of
from ..interpreter.compiler import compile_workspace
from ..interpreter.program import Bundle
from ..interpreter.runtime import Engine, Settings
from ..interpreter.runtime.nudges import in_background, poll, share, workspace_changed
from ..interpreter.runtime.worker import deploy
from ..interpreter.store import store_at
from ..interpreter.store._lock import EngineLock
from ..interpreter.store.pg_notify import INSTALLED, Notices, notices_for
from ..interpreter.store.unavailable import engine_lock
from ..interpreter.versions import RunMove
from ..interpreter.workspace import workspace_from_texts
from ..stdlib.delivery import Channel, Sender
from ..stdlib.delivery.config import DeliveryConfig, build_sender
from .engine_process import STALLED_AFTER_S, EngineProcess

logger = logging.getLogger("scn.server")

#: Files of a workspace directory the server keeps (scenarios, templates, code pools).
WORKSPACE_SUFFIXES = frozenset({".scn", ".html", ".htm", ".txt", ".csv", ".md", ".json", ".mjml"})
#: Larger files are not workspace material (and would bloat every bundle).
MAX_WORKSPACE_FILE = 5 * 1024 * 1024
#: What a served workspace may hold (docs/api.md "Limits"): characters of a .scn,
#: template or other text file, of a coupon pool (CSV), files in all, characters in all.
MAX_FILE = 1_000_000
MAX_POOL_FILE = 5_000_000
MAX_FILES = 1000
MAX_WORKSPACE = 20_000_000
#: Checking (and compiling) a workspace on upload: off the event loop, and at most this long.
CHECK_SECONDS = 30.0


class WorkspaceError(Exception):
    """Files that cannot make a workspace (bad paths, not UTF-8, too large)."""


class WorkspaceTooLarge(WorkspaceError):
    """A workspace over the limits above: the message names the file and the limit."""


def within_limits(files: dict[str, str]) -> None:
    """Raise WorkspaceTooLarge for a workspace over the documented limits."""
    if len(files) > MAX_FILES:
        raise WorkspaceTooLarge(f"the workspace would have {len(files)} files; at most {MAX_FILES}")
    for path, text in files.items():
        limit = MAX_POOL_FILE if path.lower().endswith(".csv") else MAX_FILE
        if len(text) > limit:
            raise WorkspaceTooLarge(f"{path} has {len(text)} characters; a file may have at most {limit}")
    total = sum(len(text) for text in files.values())
    if total > MAX_WORKSPACE:
        raise WorkspaceTooLarge(f"the workspace would have {total} characters in all; at most {MAX_WORKSPACE}")


class CheckFailed(Exception):
    def __init__(self, result: CheckResult) -> None:
        super().__init__("the workspace has errors")
        self.result = result


#: What a workspace file's name may not hold: C0 controls and DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def normalise_path(path: str) -> str:
    """A safe relative path inside the workspace ("templates/a.html"), or WorkspaceError."""
    clean = PurePosixPath(path.replace("\\", "/"))
    if clean.is_absolute() or not clean.parts or any(p in ("..", "") for p in clean.parts):
        raise WorkspaceError(f"{path!r} is not a relative path inside the workspace")
    if _CONTROL.search(path):  # a line break in a name would forge lines of the diagnostics that quote it
        raise WorkspaceError(f"{path!r} has a control character: name files with printable characters only")
    return str(clean)


def read_directory(root: Path) -> dict[str, str]:
    """Every workspace file under ``root`` (or one .scn file), by relative path."""
    if root.is_file():
        return {root.name: root.read_text(encoding="utf-8")}
    files: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in WORKSPACE_SUFFIXES:
            continue
        if path.stat().st_size > MAX_WORKSPACE_FILE or path.name.endswith((".expected.txt", ".events.jsonl")):
            continue
        try:
            files[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise WorkspaceError(f"{path}: not UTF-8 text (byte {error.start})") from error
    return files


def check_files(files: dict[str, str], deadline: float | None = None) -> CheckResult:
    """Check a workspace given as path -> text; CheckTimeout once ``deadline`` (monotonic) passes."""
    scn = {p: t for p, t in files.items() if p.endswith(".scn")}
    resources = {p: t for p, t in files.items() if not p.endswith(".scn")}
    return check_workspace(workspace_from_texts(scn, resources, deadline=deadline), deadline=deadline)


def check_and_compile(files: dict[str, str], seconds: float) -> tuple[CheckResult, Bundle | None]:
    """The check of a workspace and, when it has no errors, its compiled bundle: the CPU
    work of an upload, run in a worker thread so that the API goes on answering."""
    result = check_files(files, time.monotonic() + seconds)
    return result, compile_workspace(result) if result.ok else None


class Core:
    def __init__(
        self, path: str, settings: Settings, *, clock: Clock | None = None, delivery: DeliveryConfig | None = None,
        engine_process: bool = False, run_engine: bool = True,
    ) -> None:  # fmt: skip
        """``engine_process``: run the engine loop in a child process (see engine_process.py)
        rather than next to the API; only with the wall clock and a database file. Without
        ``run_engine`` no engine loop runs here (an API-only replica: other processes on the
        same database run the engines)."""
        if engine_process and (path == ":memory:" or not isinstance(clock, WallClock | None)):
            raise ValueError("the engine runs in its own process only on a database file and the wall clock")
        if not run_engine and path == ":memory:":
            raise ValueError("an API without an engine needs a database other processes can share")
        self.path = path
        self.store = store_at(path)
        self.clock: Clock = clock or WallClock()
        self.settings = settings
        self.engine = Engine(self.store, self.clock, settings)
        self.delivery = delivery
        self.sender: Sender | None = None
        self.use_engine_process = engine_process
        self.run_engine = run_engine
        self.engine_process: EngineProcess | None = None
        #: The other processes' notices (PostgreSQL), and the loop that polls for their work.
        self.notices: Notices | None = None
        self._polling: asyncio.Task[None] | None = None
        #: Channels to use instead of those the delivery settings describe (development).
        self.channels_override: dict[str, Channel] | None = None
        self.files: dict[str, str] = {}
        self.started_at = dt.datetime.now(dt.UTC)
        self.stopping = asyncio.Event()
        #: The loops that run next to the API, by name.
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._deploy_lock = asyncio.Lock()
        #: The one engine's lock on an SQLite file, when the engine runs in this process.
        self._engine_lock: EngineLock | None = None
        self.last_check: CheckResult | None = None
        #: Work started by requests that outlives them (CSV imports).
        self.background: set[asyncio.Task[None]] = set()
        #: How long checking an upload may take (tests make it short).
        self.check_seconds = CHECK_SECONDS
        #: After how long busy without progress the engine counts as stuck (tests make it short).
        self.stall_after = STALLED_AFTER_S
        #: Contact imports by id (in memory: a restart forgets their progress, not their events).

    async def start(self, workspace: dict[str, str] | None = None) -> dict[str, int]:
        """Open the store, deploy ``workspace`` (else keep the stored one), start the loops."""
        if self.run_engine and not self.use_engine_process:  # a child takes it itself
            self._engine_lock = engine_lock(self.path)
        await self.store.open()
        await self.engine.load()
        self.files = await self.served_files()
        versions: dict[str, int] = {}
        if workspace is not None:
            versions = await self.deploy(workspace, replace=True)
        if self.delivery is not None:
            self.sender = build_sender(
                self.store, self.clock, self.delivery, self.settings.secret, self.channels_override
            )
            self.engine.on_outbox.append(self.sender.nudge)
            self._pace_providers()
            self.engine.on_installed.append(self._pace_providers)
            self._tasks["sender"] = asyncio.create_task(self._guard("sender", self.sender.run_forever(self.stopping)))
        if self.run_engine and self.use_engine_process:
            assert isinstance(self.clock, WallClock)
            child = EngineProcess(self.store.path, self.settings, self.clock,
                                  on_outbox=self.sender.nudge if self.sender is not None else None)  # fmt: skip
            child.stall_after = self.stall_after
            self.engine.on_accepted.append(child.nudge)
            self.engine.on_installed.append(child.reload)
            if self.sender is not None:
                self.sender.on_events.append(child.nudge)
            await child.start()
            self.engine_process = child
        elif self.run_engine:
            if self.sender is not None:
                self.sender.on_events.append(self.engine.nudge)
            self._tasks["engine"] = asyncio.create_task(self._guard("engine", self.engine.run_forever(self.stopping)))
        self._hear_others(deployed=bool(versions))
        return versions

    def _hear_others(self, deployed: bool) -> None:
        """Act on what other processes of the database commit (runtime/nudges.py): their
        notices on PostgreSQL, a poll on any store. An engine child hears them itself.
        ``deployed``: the start installed a workspace, which the others are told of."""
        engine_here = self.run_engine and self.engine_process is None
        reloading = in_background(self.refresh)
        self.notices = notices_for(self.store)
        if self.notices is not None:
            share(self.notices, self.engine, sender=self.sender, engine_here=engine_here, reload=reloading)
            if deployed:
                self.notices.tell(INSTALLED)
        looks = [self.sender.nudge] if self.sender is not None else []
        if engine_here:
            looks.append(self.engine.nudge)
        self._polling = asyncio.create_task(poll(self.settings.poll_ms, self.stopping, self.engine, looks, reloading))

    async def refresh(self) -> None:
        """Another process changed the scenarios: read them, and the served workspace, again."""
        async with self._deploy_lock:
            await self._reload()

    async def _reload(self) -> None:
        await self.engine.load()
        self.files = await self.served_files()
        self.last_check = None
        self._pace_providers()
        self.engine.nudge()

    async def _up_to_date(self) -> None:
        """Under the deploy lock, before a change based on the served workspace: what
        another process installed is read first (its notice may not have come yet)."""
        if await workspace_changed(self.engine):
            await self._reload()

    def _pace_providers(self) -> None:
        """The sender paces the providers as the newest upload's policy says."""
        if self.sender is not None:
            policy = self.engine.current.policy if self.engine.current is not None else None
            self.sender.set_rates(policy.rates if policy is not None else {})

    async def _guard(self, name: str, work: Any) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            # The HTTP API keeps answering (events are still accepted durably); /healthz
            # reports the loop as down so that a supervisor restarts the process.
            logger.exception("the %s loop stopped", name)
            raise

    def healthy(self) -> dict[str, bool]:
        """Whether each loop is still running, and the engine's is not stuck."""
        loops = {name: not task.done() for name, task in self._tasks.items()}
        if self.engine_process is not None:
            loops["engine"] = self.engine_process.running()
        elif "engine" in loops:
            loops["engine"] = loops["engine"] and self.engine.stalled_for() < self.stall_after
        return loops

    def engine_stalled_for(self) -> float:
        """Seconds the engine has been busy without handling an event or a run."""
        if self.engine_process is not None:
            return self.engine_process.stalled_for()
        return self.engine.stalled_for()

    async def stop(self) -> None:
        self.stopping.set()
        for task in list(self.background):
            task.cancel()
        if self.engine_process is not None:
            await self.engine_process.stop()
        if self.notices is not None:
            await self.notices.close()
        await asyncio.gather(*self._tasks.values(), *([self._polling] if self._polling else []), return_exceptions=True)
        if self.sender is not None:
            await self.sender.close()
        await self.store.close()
        if self._engine_lock is not None:
            self._engine_lock.release()

    async def deploy(
        self, files: dict[str, str], *, replace: bool = False, draft: bool = False, actor: str = "system"
    ) -> dict[str, int]:
        """Check the workspace with ``files`` added (or instead of it, with ``replace``) and
        install it; raises CheckFailed (and changes nothing) when it has errors. A ``draft``
        is stored as new versions that take no runs, and the served workspace stays as it was."""
        async with self._deploy_lock:
            await self._up_to_date()
            return await self._install(dict(files) if replace else {**self.files, **files}, draft, actor)

    async def publish(
        self, scenario: str, version: int, actor: str, action: str = "publish", unmatched: str | None = None
    ) -> list[RunMove]:
        """Make ``version`` the scenario's current one (moving the runs in flight to it with
        ``unmatched``, see `Engine.publish`); the served workspace follows."""
        async with self._deploy_lock:
            moves = await self.engine.publish(scenario, version, actor, action, unmatched)
            self.files = await self.served_files()
            self.last_check = None
        return moves

    async def served_files(self) -> dict[str, str]:
        """The workspace being served: the files of the newest bundle that is not a draft,
        with the file of each scenario whose current version is another bundle's (published
        from a draft, or rolled back) as that bundle had it."""
        files = await self.store.bundle_files()
        latest = await self.store.latest_bundle()
        for row in self.engine.scenarios.values():
            if row.bundle == latest or row.state in ("archived", "draft"):
                continue
            bundle = await self.engine.bundle(row.bundle)
            program = bundle.scenarios.get(row.name)
            if program is not None and program.file in bundle.files:
                files[program.file] = bundle.files[program.file]
        return files

    async def remove_files(self, paths: list[str]) -> dict[str, int]:
        """Deploy the workspace without ``paths`` (checked first, like any upload)."""
        async with self._deploy_lock:
            await self._up_to_date()
            return await self._install({p: t for p, t in self.files.items() if p not in paths})

    async def _install(self, files: dict[str, str], draft: bool = False, actor: str = "system") -> dict[str, int]:
        """Check, compile and install ``files``; WorkspaceTooLarge, CheckTimeout or
        CheckFailed change nothing."""
        within_limits(files)
        result, bundle = await asyncio.to_thread(check_and_compile, files, self.check_seconds)
        if bundle is None:
            raise CheckFailed(result)
        versions = await deploy(self.engine, result, files, bundle, draft=draft, actor=actor)
        if not draft:
            self.files = files
            self.last_check = result
        return versions

    def now_ms(self) -> int:
        return ms_of(self.clock.now())

    async def checked(self) -> CheckResult:
        """The check of the workspace being served (its warnings, its symbols); after a
        restart it is made once, off the event loop, like an upload's."""
        if self.last_check is None:
            self.last_check = await asyncio.to_thread(check_files, self.files)
        return self.last_check

    async def scenario_files(self) -> dict[str, str]:
        """scenario name -> the file that declares it."""
        return dict((await self.checked()).symbols.scenario_files)


def encode(value: Any) -> Any:
    """msgspec-friendly plain data for responses."""
    return msgspec.to_builtins(value)
