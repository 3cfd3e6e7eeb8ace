"""A compiled program read back as the nested flow its author wrote, for drawing.

The compiler lays a scenario out flat: a `Branch` jumps past its block when its condition
fails, every branch of an if, band and variant ends in a `Jump` to after the whole, and a
`wait for` with an `on timeout` block is followed by a `Jump` over it. This walks those
targets back into blocks, so the diagram is drawn from exactly what runs (step ids
included), not from a second reading of the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...grammar._format import expr_text, literal_text
from ...interpreter import ast
from ...interpreter import program as p
from ..services.broadcasts import written_time

#: Arm kinds: how a run comes to take it.
IF, ELSE, BAND, VARIANT, CONTROL, ARRIVED, TIMEOUT = "if", "else", "band", "variant", "control", "arrived", "timeout"


@dataclass
class Step:
    """One instruction drawn as a box (a wait, a send, a conditional stop...)."""

    instr: p.Instr


@dataclass
class Arm:
    """One way out of a choice: its label, its kind and the steps on it (maybe none)."""

    label: str
    kind: str
    steps: list[Node]
    #: The step id a run on this arm was logged at first (its first step), if it has steps.
    first: str | None = None


@dataclass
class Choice:
    """An if / elif / else, bands, a split, or a `wait for` with an `on timeout` block."""

    head: p.Instr
    arms: list[Arm]
    #: The ids of the instructions folded into the head (an if chain's elif tests).
    tests: list[str] = field(default_factory=list)


Node = Step | Choice


@dataclass
class Flow:
    """A scenario as drawn: its headers, its steps, and where it ends."""

    program: p.Program
    triggers: list[str]
    rules: list[str]
    exits: list[str]
    steps: list[Node]


def flow_of(program: p.Program) -> Flow:
    """The nested flow of a compiled program."""
    code = program.instructions
    end = next((i for i, instr in enumerate(code) if isinstance(instr, p.End)), len(code))
    return Flow(
        program=program,
        triggers=[_header("on", t.header().removeprefix("on "), t.where) for t in program.triggers]
        + _broadcast(program),
        rules=_rules(program),
        exits=[_header("exit when", e.event, e.where) for e in program.exits],
        steps=_block(code, 0, end),
    )


def _broadcast(program: p.Program) -> list[str]:
    """A broadcast starts at its time, to its audience: its header, as the source says it."""
    spec = program.broadcast
    if spec is None:
        return []
    at = written_time(spec)
    return [f"broadcast to {spec.audience_kind} {spec.audience}" + (f" at {at}" if at else "")]


def _header(keyword: str, event: str, where: ast.Expr | None) -> str:
    condition = f" where {expr_text(where)}" if where is not None else ""
    return f"{keyword} {event}{condition}"


def _rules(program: p.Program) -> list[str]:
    rules = []
    for limit in program.entry_limits:
        if limit.count == 1 and limit.window_ms is None:
            rules.append(f"entry once per {limit.scope}")
        else:
            window = f" per {_duration(limit.window_ms)}" if limit.window_ms is not None else ""
            rules.append(f"entry at most {limit.count} per {limit.scope}{window}")
    if program.frequency is not None:
        count, window_ms = program.frequency
        rules.append(f"frequency at most {count} per {_duration(window_ms)}")
    if program.quiet_hours is not None:
        h1, m1, h2, m2 = program.quiet_hours
        rules.append(f"quiet hours {h1:02d}:{m1:02d} to {h2:02d}:{m2:02d}")
    if program.send_window is not None:
        rules.append(program.send_window.header())
    return rules


def _duration(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _block(code: tuple[p.Instruction, ...], start: int, stop: int) -> list[Node]:
    """The nodes of instructions [start, stop)."""
    nodes: list[Node] = []
    at = start
    while at < stop:
        instr = code[at]
        if isinstance(instr, p.Branch):
            choice, at = _if_chain(code, at)
            nodes.append(choice)
        elif isinstance(instr, p.Bands):
            nodes.append(_bands(code, instr))
            at = instr.otherwise
        elif isinstance(instr, p.Split):
            nodes.append(_split(code, instr))
            at = instr.after
        elif isinstance(instr, p.WaitFor) and instr.on_timeout != at + 1:
            skip = code[at + 1]
            assert isinstance(skip, p.Jump)
            steps = _block(code, instr.on_timeout, skip.target)
            arms = [Arm(f"{instr.event} arrived", ARRIVED, []), Arm("on timeout", TIMEOUT, steps, _first(steps))]
            nodes.append(Choice(instr, arms))
            at = skip.target
        elif isinstance(instr, p.Jump | p.End):
            at += 1  # joins are drawn as lines, not boxes
        else:
            nodes.append(Step(instr))
            at += 1
    return nodes


def _first(steps: list[Node]) -> str | None:
    if not steps:
        return None
    node = steps[0]
    return node.instr.id if isinstance(node, Step) else node.head.id


def _arm(label: str, kind: str, steps: list[Node]) -> Arm:
    return Arm(label, kind, steps, _first(steps))


def _if_chain(code: tuple[p.Instruction, ...], at: int) -> tuple[Choice, int]:
    """An if with its elifs and else; the index after it."""
    head = code[at]
    assert isinstance(head, p.Branch)
    closing = code[head.otherwise - 1]
    assert isinstance(closing, p.Jump)
    end = closing.target
    arms = [_arm(head.name, IF, _block(code, at + 1, head.otherwise - 1))]
    tests: list[str] = []
    test = head.otherwise
    # An elif's test carries the head's id with `.ifN`; an else that opens with an if of
    # its own has `.else.1`, so the ids tell the two apart.
    while test < end and isinstance(code[test], p.Branch) and code[test].id.startswith(f"{head.id}.if"):
        branch = code[test]
        assert isinstance(branch, p.Branch)
        tests.append(branch.id)
        arms.append(_arm(branch.name, IF, _block(code, test + 1, branch.otherwise - 1)))
        test = branch.otherwise
    steps = _block(code, test, end)
    arms.append(_arm("else" if steps else "otherwise", ELSE, steps))
    return Choice(head, arms, tests), end


def _bands(code: tuple[p.Instruction, ...], head: p.Bands) -> Choice:
    arms = []
    for number, arm in enumerate(head.arms):
        stop = head.arms[number + 1].target if number + 1 < len(head.arms) else head.otherwise
        arms.append(_arm(_band_label(arm), BAND, _block(code, arm.target, stop - 1)))
    arms.append(Arm("no band", ELSE, []))
    return Choice(head, arms)


def _band_label(arm: p.BandArm) -> str:
    if arm.low is None and arm.high is not None:
        return f"below {literal_text(arm.high)}"
    if arm.high is None and arm.low is not None:
        return f"from {literal_text(arm.low)}"
    if arm.low is not None and arm.high is not None:
        return f"from {literal_text(arm.low)} to {literal_text(arm.high)}"
    return "any value"


def _split(code: tuple[p.Instruction, ...], head: p.Split) -> Choice:
    arms = []
    for number, arm in enumerate(head.arms):
        stop = head.arms[number + 1].target if number + 1 < len(head.arms) else head.after
        arms.append(_arm(f"{arm.name} {arm.weight}%", VARIANT, _block(code, arm.target, stop - 1)))
    if head.control not in ("0", "0.0", ""):
        arms.append(Arm(f"control {head.control}%", CONTROL, []))
    return Choice(head, arms)
