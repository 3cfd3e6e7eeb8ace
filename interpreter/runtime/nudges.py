"""How a process hears of work that other processes left in its database.

Several processes share one database: API replicas accept events and uploads, engines
turn events and due runs into outbox messages, senders deliver them. What one commits
another must act on, soon:

* on PostgreSQL, the processes tell each other at once (`pg_notify.Notices`: events
  accepted, messages in the outbox, scenarios changed), wired here to the engine's and
  the sender's hooks;
* on any store, each process also looks on its own every `Settings.poll_ms` (`poll`):
  the engine and the sender look for work, and the scenarios are read again when the
  database's differ from those loaded. A lost notice costs at most that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from ...stdlib.delivery import Sender
from ..store.pg_notify import EVENTS, INSTALLED, OUTBOX, Notices
from .engine import Engine

logger = logging.getLogger("scn.runtime")


def in_background(work: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    """A handler that starts ``work`` in the background: asked again while it runs, it
    runs once more afterwards (never twice at once, never more than once behind)."""
    running: asyncio.Task[None] | None = None
    again = False

    async def repeat() -> None:
        nonlocal again
        while True:
            again = False
            try:
                await work()
            except Exception:  # the next notice or poll tries again
                logger.exception("reloading the scenarios failed")
            if not again:
                return

    def start() -> None:
        nonlocal running, again
        if running is not None and not running.done():
            again = True
            return
        running = asyncio.get_running_loop().create_task(repeat())

    return start


def share(
    notices: Notices, engine: Engine, *, sender: Sender | None, engine_here: bool, reload: Callable[[], None]
) -> None:
    """Tell the other processes what this one commits, and act on what they tell:
    ``engine_here`` when this process runs the engine's loop (not only its intake)."""
    engine.on_accepted.append(lambda: notices.tell(EVENTS))
    engine.on_outbox.append(lambda: notices.tell(OUTBOX))
    engine.on_installed.append(lambda: notices.tell(INSTALLED))
    if sender is not None:
        sender.on_events.append(lambda: notices.tell(EVENTS))  # bounces
        notices.on(OUTBOX, sender.nudge)
    if engine_here:
        notices.on(EVENTS, engine.nudge)
    notices.on(INSTALLED, reload)
    notices.start()


async def workspace_changed(engine: Engine) -> bool:
    """Whether the database's scenarios (states, versions) or newest bundle differ from
    what ``engine`` loaded: another process installed, paused or resumed something."""
    latest = await engine.store.latest_bundle()
    loaded = engine.current.version if engine.current is not None else None
    if latest != loaded:
        return True
    rows = {row.name: row for row in await engine.store.scenarios()}
    return rows != engine.scenarios


async def poll(
    every_ms: int, stop: asyncio.Event, engine: Engine, nudge: list[Callable[[], None]], reload: Callable[[], None]
) -> None:
    """Until ``stop``: every ``every_ms``, call each of ``nudge`` and, when another
    process changed the scenarios, ``reload``."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_ms / 1000)
        if stop.is_set():
            return
        for call in nudge:
            call()
        try:
            if await workspace_changed(engine):
                reload()
        except Exception as error:  # the database is away for a moment: the next poll looks again
            logger.warning("could not look for changed scenarios: %s", error)
