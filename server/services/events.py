"""Events into the engine: each checked into the row it becomes and committed durably;
refusals as problem details, the same for every endpoint that takes events."""

from __future__ import annotations

from typing import Any

from ...interpreter.runtime import EventInput
from ...interpreter.runtime.engine import KeyConflict
from ...interpreter.runtime.events import EventError
from ...interpreter.store import EventIn
from ..core import Core
from ..models import Accepted, EventsAccepted
from ..problems import Problem

#: Most events one request may carry (bigger batches: several requests).
MAX_BATCH = 10_000


class EventService:
    """Events in: admitted (checked) first, then accepted (committed) by the engine."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def admit(self, event: EventInput, what: str) -> EventIn:
        """The row ``event`` becomes, or a 422 naming each field that does not fit (``what``: how
        the endpoint calls it, e.g. "the order")."""
        try:
            return self.core.engine.event_in(event)
        except EventError as error:
            raise Problem(
                422, "invalid-event", f"{what}: {error}; nothing was accepted", errors=error.errors
            ) from error

    async def accept(self, rows: list[EventIn]) -> list[tuple[int, bool]]:
        """Commit accepted rows; a known key with other content is 409 and nothing is accepted."""
        try:
            return await self.core.engine.accept(rows)
        except KeyConflict as error:
            raise Problem(
                409, "key-conflict", f"{error}: send a new key for a new event, or the same content to repeat one",
                key=error.key,
            ) from error  # fmt: skip

    async def one(self, event: EventInput, what: str) -> Accepted:
        """Admit and accept a single event."""
        row = self.admit(event, what)
        ((event_id, duplicate),) = await self.accept([row])
        return Accepted(key=row.key, id=event_id, duplicate=duplicate)

    async def batch(self, data: EventInput | list[EventInput]) -> EventsAccepted:
        """One event or a list of them: all are accepted or none (400 empty, 413 too many,
        422 naming every field of every event that does not fit)."""
        events = data if isinstance(data, list) else [data]
        if not events:  # (Litestar does not apply a union arm's Meta: it documents it)
            raise Problem(400, "invalid-request", "the batch is empty: send one event or a list of at least 1")
        if len(events) > MAX_BATCH:
            raise Problem(413, "too-large", f"{len(events)} events in one request; send at most {MAX_BATCH}")
        rows = []
        now = self.core.clock.now()
        errors: list[dict[str, Any]] = []
        first: tuple[int, EventError] | None = None
        for index, event in enumerate(events):
            try:
                rows.append(self.core.engine.event_in(event, now))
            except EventError as error:
                first = first or (index, error)
                prefix = f"[{index}]." if isinstance(data, list) else ""
                errors += [{**e, "field": prefix + e["field"], "event": index} for e in error.errors]
        if first is not None:
            index, refused = first
            where = (
                f"event {index} ({events[index].type})" if isinstance(data, list) else f"the event ({events[0].type})"
            )
            others = len(errors) - len(refused.errors)
            more = f" (and {others} more errors)" if others else ""
            raise Problem(422, "invalid-event", f"{where}: {refused}{more}; nothing was accepted", index=index,
                          errors=errors)  # fmt: skip
        results = await self.accept(rows)
        return EventsAccepted(
            accepted=[Accepted(key=r.key, id=i, duplicate=d) for r, (i, d) in zip(rows, results, strict=True)]
        )

    async def record(self, event: EventInput) -> None:
        """Accept an event the server makes itself (an open, a click, an unsubscribe)."""
        await self.core.engine.accept([self.core.engine.event_in(event)])
