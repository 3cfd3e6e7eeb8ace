"""What `scn serve` imports to start and wait: not the libraries of paths it may never take.

Each of them is memory both processes (the API's and the engine's) hold from start to
exit: asyncpg serves only a postgresql:// store, cryptography only the bounce and
complaint webhooks' signatures, dkimpy (and dnspython under it) only a configured
[email.dkim]. They are imported on the path that needs them (tests/test_feedback.py,
tests/test_dkim.py and the PostgreSQL tests take those paths)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from .scn_processes import API_KEY, Process, environment, receipts_workspace
from .server_harness import free_port

#: Top-level packages that a server on an SQLite file, without DKIM, never needs at idle.
NOT_AT_IDLE = ("asyncpg", "cryptography", "dkim", "dns", "httpx")


def imported(log: str) -> list[str]:
    """Module names in ``log``'s `-X importtime` lines (of every process that wrote there)."""
    return re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", log, flags=re.MULTILINE)


def test_serve_on_sqlite_starts_and_answers_without_the_libraries_of_other_paths(tmp_path: Path) -> None:
    port = free_port()
    # PYTHONPROFILEIMPORTTIME reaches the engine's process too (it inherits the environment
    # and the standard error): every import of both processes is in the log.
    server = Process("serve", ["serve", str(receipts_workspace(tmp_path / "w")), "--db", str(tmp_path / "scn.db"),
                               "--port", str(port), "--api-key", API_KEY, "--smtp", "smtp://127.0.0.1:9"],
                     tmp_path / "serve.log", environment(PYTHONPROFILEIMPORTTIME="1"))  # fmt: skip
    try:
        server.wait_for("scn: serving")
        # What an idle server is asked: its health (which asks the engine) and its metrics.
        headers = {"X-API-Key": API_KEY}
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", headers=headers, timeout=20).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", headers=headers, timeout=20).status_code == 200
    finally:
        assert server.stop() == 0, server.output()[-3000:]
    modules = imported(server.output())
    assert modules.count("scn.interpreter.runtime.engine") == 2, "both processes' imports are in the log"
    assert "scn.stdlib.delivery.config" in modules and "scn.interpreter.store.sqlite" in modules
    heavy = sorted({name.split(".")[0] for name in modules} & set(NOT_AT_IDLE))
    assert heavy == [], f"imported at start or at idle: {heavy}"
