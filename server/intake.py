"""Events into the engine from the API: refusals as problem details, the same for every endpoint."""

from __future__ import annotations

from ..interpreter.runtime import EventInput
from ..interpreter.runtime.engine import KeyConflict
from ..interpreter.runtime.events import EventError
from ..interpreter.store import EventIn
from .core import Core
from .problems import Problem


def admit(core: Core, event: EventInput, what: str) -> EventIn:
    """The row ``event`` becomes, or a 422 naming each field that does not fit (``what``: how
    the endpoint calls it, e.g. "the order")."""
    try:
        return core.engine.event_in(event)
    except EventError as error:
        raise Problem(422, "invalid-event", f"{what}: {error}; nothing was accepted", errors=error.errors) from error


async def accept(core: Core, rows: list[EventIn]) -> list[tuple[int, bool]]:
    """Commit accepted rows; a known key with other content is 409 and nothing is accepted."""
    try:
        return await core.engine.accept(rows)
    except KeyConflict as error:
        raise Problem(
            409, "key-conflict", f"{error}: send a new key for a new event, or the same content to repeat one",
            key=error.key,
        ) from error  # fmt: skip
