"""A real engine on a real store with a virtual clock, for tests of the runtime."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from scn.interpreter.checker import CheckResult
from scn.interpreter.clock import VirtualClock
from scn.interpreter.compiler import compile_workspace
from scn.interpreter.runtime import Engine, EventInput, Settings
from scn.interpreter.runtime.events import convert_event
from scn.interpreter.runtime.worker import deploy
from scn.interpreter.simulate import play
from scn.interpreter.store import store_at

from .conftest import check_texts

UTC = dt.UTC
START = dt.datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def html_resources(text: str) -> dict[str, str]:
    """A trivial HTML file for every `html "x.html"` the text names."""
    import re

    return {name: "<p>{{ contact.id }}</p>" for name in re.findall(r'html "([^"]+)"', text)}


def checked(text: str, resources: dict[str, str] | None = None) -> CheckResult:
    result = check_texts({"t.scn": text}, {**html_resources(text), **(resources or {})})
    assert result.ok, [f"{d.span.line}:{d.span.column} {d.message}" for d in result.diagnostics if d.is_error]
    return result


class Harness:
    """``async with Harness(text) as h``: an engine on a store (in memory by default; an
    SQLite file or a PostgreSQL URL, see the `db` fixture), at ``START``."""

    def __init__(
        self, text: str, path: Path | str = ":memory:", start: dt.datetime = START,
        resources: dict[str, str] | None = None, checked_result: CheckResult | None = None,
    ) -> None:  # fmt: skip
        self.text = text
        #: The workspace checked already (``text`` is then not used).
        self.checked_result = checked_result
        self.resources = resources
        self.path = str(path)
        self.clock = VirtualClock(start)
        self.store = store_at(self.path, synchronous="OFF")
        self.engine = Engine(self.store, self.clock, Settings(secret="test", code_seed=7))

    async def __aenter__(self) -> Harness:
        await self.store.open()
        await self.engine.load()
        await deploy(self.engine, self.checked_result or checked(self.text, self.resources))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.store.close()

    async def install(self, text: str) -> dict[str, int]:
        return await self.engine.install(compile_workspace(checked(text)))

    def event(
        self, type: str, contact: str, *, at: dt.datetime | None = None, person: dict[str, Any] | None = None,
        **fields: Any,
    ) -> EventInput:  # fmt: skip
        """An event about ``contact`` (with ``person``'s fields on the contact, if given)."""
        person = {"id": contact, "email": f"{contact}@example.com", **(person or {})}
        document = {"type": type, "contact": person, **fields}
        document["at"] = (at or self.clock.now()).isoformat()
        return convert_event(document)

    async def play(self, events: list[EventInput], until: dt.timedelta = dt.timedelta(0)) -> None:
        """Deliver events at their times and run everything due up to ``until`` after the last."""
        if not events:
            await play(self.engine, self.clock, [], self.clock.now() + until)
            return
        ordered = sorted(events, key=lambda e: e.at or START)
        last = ordered[-1].at
        assert last is not None
        await play(self.engine, self.clock, ordered, last + until)

    async def advance(self, by: dt.timedelta) -> None:
        await play(self.engine, self.clock, [], self.clock.now() + by)

    async def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        async with self.store.db.execute(sql, params) as cursor:
            return [tuple(r) for r in await cursor.fetchall()]
