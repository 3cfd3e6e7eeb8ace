"""`scn worker` and `scn serve` as real processes on one database, for the tests of several
processes (tests/test_pg_notify.py, tests/test_pg_crash.py): started, waited for, killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .server_harness import free_port

API_KEY = "k"
#: A mail's template: the receipt each event causes.
RECEIPTS = """\
template receipt email
  from "Shop" <shop@example.com>
  subject "Order {{ order.number }}"
  html "receipt.html"
end

scenario receipts "A receipt for each paid order, a moment later"
  on order.paid
  wait 2s
  send email receipt
end
"""


def receipts_workspace(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shop.scn").write_text(RECEIPTS, encoding="utf-8")
    (folder / "receipt.html").write_text(
        '<p>Thanks for order {{ order.number }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>', encoding="utf-8"
    )
    return folder


def environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, "SCN_SECRET": "several-processes", **extra}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


class Process:
    """One scn process, its output in a file (a pipe could fill up)."""

    def __init__(self, name: str, command: list[str], log: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log = log
        self._output = log.open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "scn", *command], stdin=subprocess.DEVNULL,
                                        stdout=self._output, stderr=subprocess.STDOUT, env=env)  # fmt: skip

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.alive(), f"{self.name} exited with {self.process.returncode}:\n{self.output()[-3000:]}"
            assert time.monotonic() < deadline, f"{self.name} did not say {text!r}:\n{self.output()[-3000:]}"
            time.sleep(0.05)

    def kill(self) -> None:
        """kill -9."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._output.close()

    def stop(self) -> int:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._output.close()
        return self.process.returncode


def worker(name: str, workspace: Path, db: str, log: Path, env: dict[str, str]) -> Process:
    """`scn worker` on ``db``: an engine, no sender, no intake of its own."""
    started = Process(name, ["worker", str(workspace), "--db", db], log, env)
    started.wait_for('"ready": true')
    return started


class Api(Process):
    """`scn serve --no-engine` on ``db``: an API-only replica, with a sender when ``smtp``."""

    def __init__(self, name: str, db: str, log: Path, env: dict[str, str], smtp: str | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = ["serve", "--no-engine", "--db", db, "--port", str(self.port), "--api-key", API_KEY,
                   "--no-access-log", *(["--smtp", smtp] if smtp else [])]  # fmt: skip
        super().__init__(name, command, log, env)
        self.client = httpx.Client(base_url=self.base, headers={"X-API-Key": API_KEY}, timeout=20)
        self.wait_for("scn: serving")

    def stop(self) -> int:
        self.client.close()
        return super().stop()


def paid(i: int) -> dict[str, object]:
    """The i-th event: contact c<i> paid order <i> (one receipt each)."""
    return {
        "type": "order.paid",
        "key": f"paid-{i}",
        "contact": {"id": f"c{i}", "email": f"c{i}@example.com", "first_name": "Ganna"},
        "order": {"id": f"o{i}", "number": str(1000 + i), "total": "10.00", "currency": "EUR"},
    }
