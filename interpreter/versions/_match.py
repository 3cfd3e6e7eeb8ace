"""Which step of one version of a scenario is which step of another.

Steps are the instructions someone wrote: the jumps that join branches and the end are
left out. Two versions' steps are matched by label first (`@reminder` is `@reminder`
wherever it went), then by structure: the remaining steps in program order are aligned
on what they are (their kind and their text), and steps of the same kind left over
between two aligned ones are paired as the same step changed. The diff and the move of
runs in flight both read this one matching.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import msgspec

from ..program import End, Instruction, Jump, Program

#: How a pair of steps was matched.
BY_LABEL, BY_STRUCTURE, BY_KIND = "label", "structure", "kind"


class Step(msgspec.Struct, frozen=True):
    """A written step: its place in the program and the block it sits in."""

    index: int
    id: str
    op: str
    name: str
    #: The block that holds it: "" at the top, `s3.if1` in an if's first branch...
    block: str


class Pair(msgspec.Struct, frozen=True):
    old: Step
    new: Step
    by: str


class Matching(msgspec.Struct, frozen=True):
    pairs: tuple[Pair, ...]
    removed: tuple[Step, ...]
    added: tuple[Step, ...]

    def new_of(self, old_id: str) -> str | None:
        """The new version's step that ``old_id`` became (None when it has none)."""
        return next((p.new.id for p in self.pairs if p.old.id == old_id), None)


def _op(instruction: Instruction) -> str:
    return type(instruction).__name__


def _block_of(step_id: str) -> str:
    return step_id.rsplit(".", 1)[0] if "." in step_id else ""


def written_steps(program: Program) -> list[Step]:
    """The steps someone wrote, in program order, each with the block that holds it.

    A labelled step's id does not say where it sits (`@reminder`), so it takes the block of
    the next instruction outside itself: a branch always ends with a jump named after it
    (`s3.if1.end`), and the top level with `end`."""
    code = program.instructions
    steps = []
    for index, instruction in enumerate(code):
        if isinstance(instruction, Jump | End):
            continue
        block = _block_of(instruction.id)
        if instruction.id.startswith("@") and "." not in instruction.id:
            after = next(
                (i.id for i in code[index + 1 :] if not i.id.startswith(instruction.id + ".") and not
                 i.id.endswith(".resume")),
                "end",
            )  # fmt: skip
            block = _block_of(after)
        steps.append(Step(index, instruction.id, _op(instruction), instruction.name, block))
    return steps


def match_steps(old: Program, new: Program) -> Matching:
    """Pair the steps of two versions (see the module's docstring)."""
    before, after = written_steps(old), written_steps(new)
    labels = {s.id: s for s in after if s.id.startswith("@")}
    pairs = [Pair(s, labels[s.id], BY_LABEL) for s in before if s.id in labels]
    taken_old = {p.old.index for p in pairs}
    taken_new = {p.new.index for p in pairs}
    rest_old = [s for s in before if s.index not in taken_old]
    rest_new = [s for s in after if s.index not in taken_new]
    matcher = difflib.SequenceMatcher(
        None, [(s.op, s.name) for s in rest_old], [(s.op, s.name) for s in rest_new], autojunk=False
    )
    removed: list[Step] = []
    added: list[Step] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pairs += [Pair(a, b, BY_STRUCTURE) for a, b in zip(rest_old[i1:i2], rest_new[j1:j2], strict=True)]
            continue
        kinds = _pair_by_kind(rest_old[i1:i2], rest_new[j1:j2])
        pairs += kinds
        removed += [s for s in rest_old[i1:i2] if s not in {p.old for p in kinds}]
        added += [s for s in rest_new[j1:j2] if s not in {p.new for p in kinds}]
    pairs.sort(key=lambda p: p.new.index)
    return Matching(tuple(pairs), tuple(removed), tuple(added))


def _pair_by_kind(old: Sequence[Step], new: Sequence[Step]) -> list[Pair]:
    """Steps of the same kind between two aligned ones, paired in order: the same step,
    changed (`wait 1d` that became `wait 2d`)."""
    matcher = difflib.SequenceMatcher(None, [s.op for s in old], [s.op for s in new], autojunk=False)
    pairs = []
    for block in matcher.get_matching_blocks():
        pairs += [Pair(old[block.a + k], new[block.b + k], BY_KIND) for k in range(block.size)]
    return pairs


def moved(matching: Matching) -> set[str]:
    """The new ids of matched steps that moved: into another block, or out of their order
    among the matched steps (those outside the longest run kept in order)."""
    pairs = sorted(matching.pairs, key=lambda p: p.old.index)
    kept = _longest_increasing([p.new.index for p in pairs])
    renamed = {p.old.id: p.new.id for p in pairs}

    def same_block(old: str, new: str) -> bool:
        if not old or not new:
            return old == new
        (owner, arm), (new_owner, new_arm) = old.rsplit(".", 1), new.rsplit(".", 1)
        return renamed.get(owner) == new_owner and arm == new_arm

    return {p.new.id for k, p in enumerate(pairs) if k not in kept or not same_block(p.old.block, p.new.block)}


def _longest_increasing(values: list[int]) -> set[int]:
    """Positions of one longest strictly increasing subsequence of ``values``."""
    if not values:
        return set()
    length = [1] * len(values)
    previous = [-1] * len(values)
    for i in range(len(values)):
        for j in range(i):
            if values[j] < values[i] and length[j] + 1 > length[i]:
                length[i], previous[i] = length[j] + 1, j
    at = max(range(len(values)), key=length.__getitem__)
    found = set()
    while at != -1:
        found.add(at)
        at = previous[at]
    return found
