"""The real app under uvicorn on a free port, in the test's event loop, spoken to over HTTP."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from litestar import Litestar

from scn.interpreter.clock import Clock
from scn.interpreter.runtime import Settings
from scn.server.app import create_app
from scn.server.console import ConsoleSettings
from scn.server.core import Core
from scn.server.devmail import MailSink, sink_delivery
from scn.server.observe import Observed
from scn.stdlib.delivery.config import DeliveryConfig

API_KEY = "test-key"


def items(answer: Any) -> list[Any]:
    """The entries of a list answer, whether it is a page (`{"items": [...], "next": ...}`) or
    a bare array (lists that do not page yet)."""
    return list(answer["items"]) if isinstance(answer, dict) else list(answer)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, core: Core, base: str, client: httpx.AsyncClient, app: Litestar) -> None:
        self.core = core
        self.app = app
        self.base = base
        self.client = client  # sends the API key
        self.public = httpx.AsyncClient(base_url=base, timeout=10, follow_redirects=False)

    async def count(self, sql: str) -> int:
        async with self.core.store.db.execute(sql) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def settle(self, timeout: float = 10.0) -> None:
        """Until every accepted event is processed and no run is due."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            pending = await self.count("SELECT count(*) FROM events WHERE processed_at IS NULL")
            due = await self.count(f"SELECT count(*) FROM runs WHERE wake_at <= {self.core.now_ms()}")
            if pending == 0 and due == 0:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the engine did not settle")


@asynccontextmanager
async def serving(
    tmp_path: Path, files: dict[str, str] | None = None, *, clock: Clock | None = None,
    delivery: DeliveryConfig | None = None, api_key: str | None = API_KEY, mail_sink: MailSink | None = None,
    engine_process: bool = False, dev_sink: bool = False, protect_metrics: bool = False,
    console: ConsoleSettings | None = None, db: str | None = None,
) -> AsyncIterator[Served]:  # fmt: skip
    """The app on a free port; ``engine_process``: its engine in a child process, as `scn serve`
    runs it; ``dev_sink``: every channel delivered to a development sink, as `--dev-smtp` does;
    ``db``: its store (the `db` fixture's SQLite path or PostgreSQL URL), else scn.db in ``tmp_path``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(secret="server-test", public_url=base)
    channels = None
    if dev_sink:
        mail_sink = MailSink(free_port())
        delivery, channels = sink_delivery(mail_sink, delivery, settings.secret)
    core = Core(db or str(tmp_path / "scn.db"), settings, clock=clock, delivery=delivery, engine_process=engine_process)
    core.channels_override = channels
    app = create_app(core, api_key=api_key, workspace=files, mail_sink=mail_sink, protect_metrics=protect_metrics,
                     console=console)  # fmt: skip
    server = uvicorn.Server(
        uvicorn.Config(Observed(app), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    headers = {"X-API-Key": api_key} if api_key else {}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as client:
        served = Served(core, base, client, app)
        try:
            yield served
        finally:
            await served.public.aclose()
            server.should_exit = True
            await task


@contextmanager
def served_in_thread(
    folder: Path, files: dict[str, str], *, api_key: str | None = API_KEY, secret: str = "server-test"
) -> Iterator[str]:
    """The app under uvicorn in a thread of its own, for synchronous tests (hypothesis,
    schemathesis) that make many requests to one server; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    core = Core(str(folder / "scn.db"), Settings(secret=secret, public_url=base))
    app = create_app(core, api_key=api_key, workspace=dict(files))
    server = uvicorn.Server(
        uvicorn.Config(Observed(app), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(20)
