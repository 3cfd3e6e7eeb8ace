"""Versions of a scenario: which step is which between two of them, and what changed."""

from ..store.run_moves import RUN_EXITED, RUN_KEPT, RUN_MOVED, RUN_SENT, RunMove, RunPlace, moves_summary
from ._diff import ADDED, CHANGED, MOVED, REMOVED, FieldChange, ScenarioDiff, StepChange, diff_lines, diff_programs
from ._match import Matching, Pair, Step, match_steps, written_steps
from ._move import label_step, plan_moves

__all__ = [
    "ADDED",
    "RunMove",
    "RunPlace",
    "label_step",
    "moves_summary",
    "plan_moves",
    "CHANGED",
    "MOVED",
    "REMOVED",
    "RUN_EXITED",
    "RUN_KEPT",
    "RUN_MOVED",
    "RUN_SENT",
    "FieldChange",
    "Matching",
    "Pair",
    "ScenarioDiff",
    "Step",
    "StepChange",
    "diff_lines",
    "diff_programs",
    "match_steps",
    "written_steps",
]
