"""A throwaway PostgreSQL cluster for the test session: `initdb` into a temporary directory,
`pg_ctl start` on a free port (its unix socket in that directory too), stopped and deleted
at the end of the session.

The server refuses to run as root, and the tests run as root here and in CI: as root the
cluster belongs to an unprivileged system user (`scn-test`, made with `useradd` when
missing; `nobody` if it cannot be made), and initdb and pg_ctl run as that user through
`runuser`. The tests connect over TCP on 127.0.0.1 with trust authentication.

Each test gets a database of its own, copied from a template that the store has already
migrated (`CREATE DATABASE ... TEMPLATE`: a copy of files, far cheaper than migrating).

Without the server binaries the PostgreSQL tests skip, saying how to enable them; with
`CI` set they fail instead (`.ci/run` installs Debian's postgresql package).
"""

from __future__ import annotations

import asyncio
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg

#: Who owns the cluster when the tests run as root.
USER = "scn-test"
HOW_TO_ENABLE = (
    "the PostgreSQL tests need the server's binaries (initdb, pg_ctl) on PATH or under "
    "/usr/lib/postgresql/*/bin: install them (Debian: apt-get install postgresql) to run them"
)


def server_binaries() -> tuple[str, str] | None:
    """(initdb, pg_ctl), from PATH or else Debian's versioned directory (newest first)."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return initdb, pg_ctl
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True):
        if os.access(f"{folder}/initdb", os.X_OK) and os.access(f"{folder}/pg_ctl", os.X_OK):
            return f"{folder}/initdb", f"{folder}/pg_ctl"
    return None


def _version(folder: str) -> tuple[int, ...]:
    name = Path(folder).parent.name
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def _unprivileged_user() -> str:
    try:
        pwd.getpwnam(USER)
        return USER
    except KeyError:
        pass
    made = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
        capture_output=True,
        text=True,
        check=False,
    )
    return USER if made.returncode == 0 else "nobody"


def _on_own_loop(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` to its end on a loop of its own, in a thread: a test's own loop may be
    running in this one (the async tests ask for databases)."""
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, work).result()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Cluster:
    """A running cluster; `database()` makes a fresh database for a test."""

    def __init__(self, initdb: str, pg_ctl: str, *, durable: bool = False, options: str = "") -> None:
        """``durable``: fsync and synchronous commits on, as a production server (the
        benchmark's); ``options``: more server settings (`-c name=value ...`)."""
        self.folder = Path(tempfile.mkdtemp(prefix="scn-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self._pg_ctl = pg_ctl
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = _unprivileged_user()
            entry = pwd.getpwnam(user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
            self._as = ["runuser", "-u", user, "--"]
        self._run([initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8",
                   "--locale=C"])  # fmt: skip
        # Durability is not what the tests look at: no fsync keeps CREATE DATABASE cheap.
        durability = "" if durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 {durability}-c max_connections=200 "
            + options
        )
        self._run([pg_ctl, "-D", str(self.data), "-l", str(self.folder / "log"), "-o", options, "-w", "start"])
        self._numbers = itertools.count(1)
        self._template: str | None = None

    def _run(self, command: list[str]) -> None:
        done = subprocess.run([*self._as, *command], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.folder / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed: {done.stdout}{done.stderr}{tail}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        async def run() -> None:
            connection = await asyncpg.connect(self.url())
            try:
                await connection.execute(sql)
            finally:
                await connection.close()

        _on_own_loop(run())

    def database(self, template: Callable[[str], Coroutine[Any, Any, None]] | None = None) -> str:
        """The URL of a new, empty database; with ``template``, a copy of a database that
        ``template(url)`` prepared once for the session (the store's schema)."""
        name = f"t{next(self._numbers)}"
        if template is None:
            self.execute(f"CREATE DATABASE {name}")
            return self.url(name)
        if self._template is None:
            self.execute("CREATE DATABASE scn_template")
            _on_own_loop(template(self.url("scn_template")))
            self._template = "scn_template"
        self.execute(f"CREATE DATABASE {name} TEMPLATE {self._template}")
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run([self._pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
