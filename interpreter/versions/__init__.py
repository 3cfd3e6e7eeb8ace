"""Versions of a scenario: which step is which between two of them, and what changed."""

from ._diff import ADDED, CHANGED, MOVED, REMOVED, FieldChange, ScenarioDiff, StepChange, diff_lines, diff_programs
from ._match import Matching, Pair, Step, match_steps, written_steps

__all__ = [
    "ADDED",
    "CHANGED",
    "MOVED",
    "REMOVED",
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
