"""The demo stream of `scn serve --demo`: the examples' event timelines, replayed live.

Each `*.events.jsonl` of the workspace is re-timed to start now, all five together, and
played on the server's (compressed) clock. The first round keeps every id as the files
write it (contact `oleh` is /api/contacts/oleh, as the examples and docs say). When every
timeline is done, the next round starts with the same events for new people: contact,
order and event ids get `-r2`, `-r3`... (`oleh-r2`), so that scenarios that run once per
contact or order run again and the demo keeps producing mail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

import msgspec

from ..interpreter.runtime import EventInput
from ..interpreter.simulate import read_events
from .core import Core

logger = logging.getLogger("scn.demo")


def load_timelines(folder: Path) -> list[tuple[dt.timedelta, EventInput]]:
    """Every event of the folder's timelines, as (offset from its timeline's start, event)."""
    played: list[tuple[dt.timedelta, EventInput]] = []
    for path in sorted(folder.glob("*.events.jsonl")):
        events = read_events(path)
        if not events:
            continue
        start = events[0].at
        assert start is not None
        played += [((e.at or start) - start, e) for e in events]
    return sorted(played, key=lambda pair: pair[0])


def renamed(event: EventInput, round_: int, at: dt.datetime) -> EventInput:
    """The event for round ``round_``, happening ``at``: in the first round with its ids as
    written, in later ones with a key, contact and order ids of that round's own."""
    if round_ == 1:
        return msgspec.structs.replace(event, at=at)
    suffix = f"-r{round_}"
    contact = msgspec.structs.replace(event.contact, id=event.contact.id + suffix)
    order = msgspec.structs.replace(event.order, id=event.order.id + suffix) if event.order is not None else None
    return msgspec.structs.replace(event, key=f"{event.key or 'demo'}{suffix}", at=at, contact=contact, order=order)


async def play_demo(core: Core, folder: Path, stop: asyncio.Event) -> None:
    timelines = load_timelines(folder)
    if not timelines:
        logger.warning("no *.events.jsonl under %s: the demo has nothing to play", folder)
        return
    round_ = 1
    while not stop.is_set():
        start = core.clock.now()
        for offset, event in timelines:
            moment = start + offset
            while core.clock.now() < moment and not stop.is_set():
                await core.clock.sleep_until(moment, stop)
            if stop.is_set():
                return
            await core.engine.accept([core.engine.event_in(renamed(event, round_, moment))])
        logger.info("demo round %d played (%d events)", round_, len(timelines))
        round_ += 1
