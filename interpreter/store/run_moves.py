"""What moving runs in flight to another version does to each run: the plan that
`interpreter.versions.plan_moves` makes and `publish_version` applies in its transaction."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

#: What a moved run does: continue at the matched step, stay on its version, exit, or
#: start over at a named step of the new version (due at once).
RUN_MOVED, RUN_KEPT, RUN_EXITED, RUN_SENT = "moved", "kept", "exited", "sent"


class RunPlace(msgspec.Struct, frozen=True):
    """Where a live run is: its version, position and step."""

    id: int
    version: int
    position: int
    step: str | None
    status: str


class RunMove(msgspec.Struct, frozen=True):
    """What happens to one run. ``position``, ``step`` and ``await_event`` are in the new
    version (for RUN_MOVED and RUN_SENT); ``old_step`` is where it was."""

    run: int
    outcome: str
    old_version: int
    old_step: str | None
    position: int | None = None
    step: str | None = None
    await_event: str | None = None
    reason: str | None = None


def moves_summary(moves: Iterable[RunMove]) -> str:
    """One line for the audit record: how many runs moved, exited and kept their version."""
    counts = {RUN_MOVED: 0, RUN_SENT: 0, RUN_EXITED: 0, RUN_KEPT: 0}
    for move in moves:
        counts[move.outcome] += 1
    return (
        f"runs moved: {counts[RUN_MOVED] + counts[RUN_SENT]} ({counts[RUN_SENT]} to the unmatched rule's step), "
        f"exited: {counts[RUN_EXITED]}, kept their version: {counts[RUN_KEPT]}"
    )
