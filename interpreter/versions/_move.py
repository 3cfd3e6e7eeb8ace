"""Moving runs in flight to a newly published version of their scenario.

A live run sits at a step (`run.step`, the instruction it stopped at) with a position
that is that step's index or the one after it (a `wait` has already moved past itself;
a `wait for` and a send held by quiet hours have not). The run moves to the step that
`match_steps` pairs with its own, at the same offset, keeping its wake-up time. A run
whose step has no counterpart of the same kind follows the publish request's rule:
finish on its old version, exit, or go to a labelled step of the new version at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..program import Program, WaitFor
from ..store.run_moves import RUN_EXITED, RUN_KEPT, RUN_MOVED, RUN_SENT, RunMove, RunPlace
from ._match import Matching, match_steps


def label_step(program: Program, name: str) -> str | None:
    """The id of the step labelled ``name`` (with or without its `@`), or None."""
    wanted = name if name.startswith("@") else "@" + name
    return next((i.id for i in program.instructions if i.id == wanted), None)


def plan_moves(
    runs: Iterable[RunPlace], programs: Mapping[int, Program], new: Program, new_version: int, unmatched: str
) -> list[RunMove]:
    """What happens to each run (on a version in ``programs``) when moved to ``new``.

    ``unmatched`` is "finish", "exit", or the label of a step of ``new`` (checked by the
    caller with `label_step`)."""
    matchings: dict[int, Matching] = {}
    new_index = {i.id: k for k, i in enumerate(new.instructions)}
    plans = []
    for run in runs:
        old = programs.get(run.version)
        if old is None:  # started on a version loaded after the plan began: it stays there
            plans.append(RunMove(run.id, RUN_KEPT, run.version, run.step))
            continue
        if run.version not in matchings:
            matchings[run.version] = match_steps(old, new)
        target = _counterpart(run, old, new, new_index, matchings[run.version])
        if target is not None:
            position, step = target
            instruction = new.instructions[position]
            event = instruction.event if run.status == "awaiting" and isinstance(instruction, WaitFor) else None
            plans.append(RunMove(run.id, RUN_MOVED, run.version, run.step, position, step, event))
        elif unmatched == "finish":
            plans.append(RunMove(run.id, RUN_KEPT, run.version, run.step))
        elif unmatched == "exit":
            why = f"moved to version {new_version}, which has no step {run.step}"
            plans.append(RunMove(run.id, RUN_EXITED, run.version, run.step, reason=why))
        else:
            label = label_step(new, unmatched)
            assert label is not None, "the caller checks the label"
            plans.append(RunMove(run.id, RUN_SENT, run.version, run.step, new_index[label], label))
    return plans


def _counterpart(
    run: RunPlace, old: Program, new: Program, new_index: Mapping[str, int], matching: Matching
) -> tuple[int, str | None] | None:
    """The run's position and step in ``new``, or None when its step has no counterpart there."""
    if run.step is None:  # a run that has not taken its first step: the start of any version
        return (0, None) if run.position == 0 else None
    old_index = next((k for k, i in enumerate(old.instructions) if i.id == run.step), None)
    found = matching.new_of(run.step)
    if old_index is None or found is None:
        return None
    offset = run.position - old_index
    there = new_index[found]
    if type(old.instructions[old_index]) is not type(new.instructions[there]) or offset not in (0, 1):
        return None  # a step of another kind is not the same place to wait at
    if there + offset >= len(new.instructions):
        return None
    return there + offset, found
