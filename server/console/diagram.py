"""A scenario's diagram: its flow (flow.py) laid out top to bottom as SVG, each step a box
with its numbers, each branch a column.

Made on the server, so no layout engine runs in the browser. Every number sits in an
element named by a key (`data-live`), and `numbers` computes the same keys for the live
refresh (console.js), so the drawing and its updates never disagree. Text is escaped by
Markup: scenario, step and template names come from the workspace.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from markupsafe import Markup

from ...interpreter import program as p
from ...interpreter.store import CANCELLED, EXITED, FAILED, STOPPED
from ..models import StepCount
from .flow import ARRIVED, CONTROL, ELSE, Arm, Choice, Flow, Node, Step
from .text import _

BOX_W = 262.0
LINE = 16
PAD = 10
GAP = 26
COLUMN_GAP = 22
LABEL_H = 22
#: Characters of a step's text per line, and lines at most (the rest is in its tooltip).
WRAP = 30
MAX_LINES = 3
#: Why runs left at a step: the run's status there, and how the diagram says it.
LEFT = {EXITED: "exit goal", STOPPED: "stop", FAILED: "failed", CANCELLED: "cancelled"}


def _kind(instr: p.Instr) -> str:
    """A CSS class for the step's kind (its colour)."""
    if isinstance(instr, p.Send):
        return "send"
    if isinstance(instr, p.Wait | p.WaitUntil | p.WaitUntilDay | p.WaitUntilMonthDay | p.WaitUntilValue | p.WaitFor):
        return "wait"
    if isinstance(instr, p.Stop):
        return "stop"
    if isinstance(instr, p.Branch | p.Bands | p.Split):
        return "choice"
    return "action"


# ---------------------------------------------------------------- numbers


def numbers(
    scenario: str, flow: Flow, counts: Iterable[StepCount], skips: Iterable[tuple[str, str, int]]
) -> dict[str, str]:
    """Every number the diagram shows, by its key: `<scenario>/<step>/<what>`."""
    by_step = {c.step: c for c in counts}
    skipped: dict[str, dict[str, int]] = {}
    for step, why, messages in skips:
        kinds = skipped.setdefault(step, {})
        kinds[skip_kind(why)] = kinds.get(skip_kind(why), 0) + messages
    shown: dict[str, str] = {}

    def count(step: str) -> StepCount:
        return by_step.get(step) or StepCount(step=step, name=step, passed=0, outcomes={}, waiting=0, here={})

    def visit(nodes: list[Node]) -> None:
        for node in nodes:
            instr = node.instr if isinstance(node, Step) else node.head
            c = count(instr.id)
            key = f"{scenario}/{instr.id}"
            shown[f"{key}/now"] = str(c.waiting)
            shown[f"{key}/passed"] = str(c.passed)
            shown[f"{key}/left"] = str(sum(c.here.get(status, 0) for status in LEFT))
            shown[f"{key}/goal"] = str(c.here.get(EXITED, 0))
            shown[f"{key}/cancelled"] = str(c.here.get(CANCELLED, 0))
            shown[f"{key}/stopped"] = str(c.here.get(STOPPED, 0))
            if isinstance(instr, p.Send):
                shown[f"{key}/sent"] = str(c.outcomes.get("sent", 0))
                shown[f"{key}/skipped"] = str(c.outcomes.get("skipped", 0))
                shown[f"{key}/failed"] = str(c.outcomes.get("failed", 0))
                for kind in SKIP_KINDS:
                    shown[f"{key}/{kind}"] = str(skipped.get(instr.id, {}).get(kind, 0))
            if isinstance(node, Choice):
                taken = _arm_counts(node, c, count)
                for number, arm in enumerate(node.arms):
                    shown[f"{key}/arm{number}"] = "" if taken[number] is None else str(taken[number])
                    visit(arm.steps)

    visit(flow.steps)
    start, end, exits = count("start"), count("end"), count("exit")
    shown[f"{scenario}/start/passed"] = str(start.passed)
    shown[f"{scenario}/end/passed"] = str(end.here.get("done", 0))
    shown[f"{scenario}/exit/passed"] = str(exits.passed)
    return shown


#: Why a send skipped a message, in three kinds: a cap (the scenario's frequency cap or the
#: workspace policy's), the contact's subscription or address (policy), or anything else
#: (no products to show...).
SKIP_KINDS = ("cap", "policy", "other")


def skip_kind(why: str) -> str:
    """The kind of a skip's reason, from the executor's words ("frequency cap: ...",
    "unsubscribed from sms", "email unreachable (bounced)", "no phone for sms"...)."""
    if why.startswith(("frequency cap", "held by the workspace policy")):
        return "cap"
    if why.startswith("unsubscribed") or "unreachable" in why or (why.startswith("no ") and " for " in why):
        return "policy"
    return "other"


def _arm_counts(node: Choice, head: StepCount, count: Callable[[str], StepCount]) -> list[int | None]:
    """Runs that took each arm: those that reached its first step; an arm without steps
    gets what is left of the runs that reached the choice (if it is the only one)."""
    taken: list[int | None] = [count(a.first).passed if a.first else None for a in node.arms]
    open_arms = [i for i, t in enumerate(taken) if t is None]
    if isinstance(node.head, p.WaitFor):
        # The wait's own outcomes tell the two ways apart (the event came, or time ran out).
        outcomes = head.outcomes
        taken = [outcomes.get("event", 0) if a.kind == ARRIVED else outcomes.get("timed out", 0) for a in node.arms]
    elif len(open_arms) == 1:
        decided = head.passed - head.waiting - sum(n for n in taken if n is not None)
        taken[open_arms[0]] = max(decided, 0)
    return taken


# ---------------------------------------------------------------- layout


@dataclass
class _Box:
    """Something drawn with a width and a height: SVG made for a given top-left corner."""

    width: float
    height: float
    parts: list[tuple[str, object]]


class _Canvas:
    def __init__(self, scenario: str, shown: dict[str, str], link: str, selected: str | None, exits: bool) -> None:
        self.scenario = scenario
        self.selected = selected
        #: The scenario has exit goals (its waits say how many runs left for one).
        self.exits = exits
        self.shown = shown
        self.link = link
        self.out: list[Markup] = []

    def live(self, key: str, x: float, y: float, label: str, css: str = "n", title: str | None = None) -> None:
        value = self.shown.get(key, "0")
        tip = Markup("<title>{}</title>").format(title) if title else Markup("")
        self.out.append(Markup('<text x="{}" y="{}" class="{}">{}{} <tspan data-live="{}">{}</tspan></text>').format(
            _f(x), _f(y), css, tip, label, key, value))  # fmt: skip

    def mark(self, step: str) -> str:
        """The extra class of the step a page is about."""
        return " selected" if step == self.selected else ""

    def line(self, x1: float, y1: float, x2: float, y2: float, arrow: bool = False) -> None:
        marker = Markup(' marker-end="url(#arrow)"') if arrow else Markup("")
        self.out.append(Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" class="edge"{}/>').format(
            _f(x1), _f(y1), _f(x2), _f(y2), marker))  # fmt: skip


def _f(value: float) -> str:
    return f"{value:.0f}"


def _wrap(text: str) -> list[str]:
    lines = textwrap.wrap(text, WRAP, break_long_words=True, break_on_hyphens=False) or [""]
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES]
        lines[-1] = lines[-1][: WRAP - 1] + "…"
    return lines


def _count_lines(instr: p.Instr, exits: bool) -> list[list[tuple[str, str]]]:
    """The lines of numbers a step shows: (what, label) of each number on each line. Why
    runs left: at a stop, stopped; while waiting, an exit goal or a cancel; at a send, the
    kinds of skipped messages."""
    lines = [[("now", _("now")), ("passed", _("passed")), ("left", _("left"))]]
    if isinstance(instr, p.Stop):
        lines.append([("stopped", _("stopped here"))])
    elif isinstance(instr, p.Wait | p.WaitUntil | p.WaitUntilDay | p.WaitUntilMonthDay | p.WaitUntilValue | p.WaitFor):
        lines.append(([("goal", _("exit goal"))] if exits else []) + [("cancelled", _("cancelled"))])
    elif isinstance(instr, p.Send):
        lines.append([("sent", _("sent")), ("skipped", _("skipped")), ("failed", _("failed"))])
        lines.append([("cap", _("skipped: cap")), ("policy", _("policy")), ("other", _("other"))])
    return lines


def _step_height(instr: p.Instr, choice: Choice | None = None) -> float:
    rows = len(_count_lines(instr, exits=True))  # as many lines with exit goals as without
    return PAD + LINE * len(_wrap(_box_title(instr, choice))) + LINE * rows + PAD


def _measure(nodes: list[Node]) -> tuple[float, float]:
    """Width and height of a block."""
    width, height = BOX_W, 0.0
    for node in nodes:
        w, h = _measure_node(node)
        width = max(width, w)
        height += h + GAP
    return width, max(height - GAP, 0)


def _measure_node(node: Node) -> tuple[float, float]:
    if isinstance(node, Step):
        return BOX_W, _step_height(node.instr)
    columns = [_measure_arm(a) for a in node.arms]
    width = max(BOX_W, sum(w for w, _h in columns) + COLUMN_GAP * (len(columns) - 1))
    body = max(h for _w, h in columns)
    return width, _step_height(node.head, node) + GAP + LABEL_H + body + GAP


def _measure_arm(arm: Arm) -> tuple[float, float]:
    label = min(7.2 * (len(arm.label) + 8) + 16, BOX_W)
    if not arm.steps:  # a line and its label
        return max(label, 110.0), 0.0
    width, height = _measure(arm.steps)
    return max(width, label), height + GAP


def _terminal(nodes: list[Node]) -> bool:
    """Whether a run on these steps never comes out at their end (an unconditional stop)."""
    last = nodes[-1] if nodes else None
    return isinstance(last, Step) and isinstance(last.instr, p.Stop) and last.instr.condition is None


def _draw(canvas: _Canvas, nodes: list[Node], cx: float, top: float) -> float:
    """Draw a block centred on ``cx`` from ``top``; returns its bottom."""
    y = top
    for index, node in enumerate(nodes):
        if index:
            canvas.line(cx, y, cx, y + GAP, arrow=True)
            y += GAP
        y = _draw_node(canvas, node, cx, y)
    return y


def _box_title(instr: p.Instr, choice: Choice | None) -> str:
    """What a box says: the step as compiled, or for an if chain its shape (each arm
    says its condition)."""
    if choice is not None and isinstance(instr, p.Branch):
        return " / ".join(a.label.split(" ")[0] for a in choice.arms if a.kind != ELSE or a.steps)
    return instr.name


def _draw_box(canvas: _Canvas, instr: p.Instr, cx: float, top: float, choice: Choice | None = None) -> float:
    height = _step_height(instr, choice)
    left = cx - BOX_W / 2
    key = f"{canvas.scenario}/{instr.id}"
    out = canvas.out
    title = _box_title(instr, choice)
    lines = _wrap(title)
    label = _("step %(step)s: %(name)s") % {"step": instr.id, "name": instr.name}
    out.append(Markup('<a href="{}" class="step {}{}" data-step="{}" aria-label="{}"><title>{}</title>').format(
        f"{canvas.link}/steps/{instr.id}", _kind(instr), canvas.mark(instr.id), instr.id, label, label))  # fmt: skip
    out.append(Markup('<rect x="{}" y="{}" width="{}" height="{}" rx="6"/>').format(
        _f(left), _f(top), BOX_W, _f(height)))  # fmt: skip
    y = top + PAD + 12
    for text in lines:
        out.append(Markup('<text x="{}" y="{}" class="name">{}</text>').format(_f(left + PAD), _f(y), text))
        y += LINE
    for line in _count_lines(instr, canvas.exits):
        out.append(Markup('<text x="{}" y="{}" class="n">').format(_f(left + PAD), _f(y)))
        for number, (what, word) in enumerate(line):
            separator = " · " if number else ""
            out.append(Markup('{}{} <tspan data-live="{}">{}</tspan>').format(
                separator, word, f"{key}/{what}", canvas.shown.get(f"{key}/{what}", "0")))  # fmt: skip
        out.append(Markup("</text>"))
        y += LINE
    out.append(Markup("</a>"))
    return top + height


def _draw_node(canvas: _Canvas, node: Node, cx: float, top: float) -> float:
    if isinstance(node, Step):
        return _draw_box(canvas, node.instr, cx, top)
    bottom = _draw_box(canvas, node.head, cx, top, node)
    columns = [_measure_arm(a) for a in node.arms]
    total = sum(w for w, _h in columns) + COLUMN_GAP * (len(columns) - 1)
    left = cx - total / 2
    centres = []
    for width, _h in columns:
        centres.append(left + width / 2)
        left += width + COLUMN_GAP
    bus = bottom + GAP / 2
    canvas.line(cx, bottom, cx, bus)
    canvas.line(min(centres), bus, max(centres), bus)
    label_top = bottom + GAP
    ends: list[tuple[float, float]] = []
    key = f"{canvas.scenario}/{node.head.id}"
    for number, (arm, centre) in enumerate(zip(node.arms, centres, strict=True)):
        canvas.line(centre, bus, centre, label_top, arrow=True)
        css = "arm muted" if arm.kind in (ELSE, CONTROL) and not arm.steps else "arm"
        room = int((columns[number][0] - 8) / 7.2) - 6  # characters that fit beside the number
        shown = arm.label if len(arm.label) <= room else arm.label[: max(room - 1, 1)] + "…"
        canvas.live(f"{key}/arm{number}", centre, label_top + 15, shown + " ·", css, title=arm.label)
        y = label_top + LABEL_H
        if arm.steps:
            canvas.line(centre, y, centre, y + GAP, arrow=True)
            y = _draw(canvas, arm.steps, centre, y + GAP)
        if not _terminal(arm.steps):
            ends.append((centre, y))
    join = label_top + LABEL_H + max(h for _w, h in columns) + GAP / 2
    for centre, y in ends:
        canvas.line(centre, y, centre, join)
    if ends:
        canvas.line(min([cx, *(c for c, _y in ends)]), join, max([cx, *(c for c, _y in ends)]), join)
        canvas.line(cx, join, cx, join + GAP / 2)
    return join + GAP / 2


def diagram(scenario: str, flow: Flow, shown: dict[str, str], link: str, selected: str | None = None) -> Markup:
    """The SVG of a scenario's flow with ``shown`` (from `numbers`); steps link under
    ``link``; the ``selected`` step is marked."""
    canvas = _Canvas(scenario, shown, link, selected, bool(flow.exits))
    body_w, body_h = _measure(flow.steps)
    headers = flow.triggers + flow.rules
    start_lines = [line for h in headers for line in _wrap(h)]
    start_h = PAD + LINE * len(start_lines) + LINE + PAD
    exit_lines = [line for e in flow.exits for line in _wrap(e)]
    side = BOX_W + COLUMN_GAP if flow.exits else 0
    width = max(body_w, BOX_W + 2 * side) + 2 * PAD
    cx = width / 2
    out = canvas.out
    top = PAD
    _header_box(canvas, "start", start_lines, _("started"), cx, top, start_h)
    if flow.exits:
        exit_h = PAD + LINE * len(exit_lines) + LINE + PAD
        _header_box(canvas, "exit", exit_lines, _("exited"), cx + BOX_W + COLUMN_GAP, top, exit_h, dashed=True)
    y: float = top + start_h
    if flow.steps:
        canvas.line(cx, y, cx, y + GAP, arrow=True)
        y = _draw(canvas, flow.steps, cx, y + GAP)
    if not _terminal(flow.steps):
        canvas.line(cx, y, cx, y + GAP, arrow=True)
        y += GAP
        _header_box(canvas, "end", [_("end")], _("done"), cx, y, PAD + 2 * LINE + PAD)
        y += PAD + 2 * LINE + PAD
    height = y + PAD
    title = _("Diagram of scenario %(name)s") % {"name": scenario}
    head = Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="diagram" width="{}" height="{}" viewBox="0 0 {} {}" '
        'role="group" aria-label="{}"><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" class="tip"/>'
        "</marker></defs>"
    ).format(_f(width), _f(height), _f(width), _f(height), title)
    return head + Markup("").join(out) + Markup("</svg>")


def _header_box(
    canvas: _Canvas, step: str, lines: list[str], word: str, cx: float, top: float, height: float, dashed: bool = False
) -> None:
    left = cx - BOX_W / 2
    css = ("step head dashed" if dashed else "step head") + canvas.mark(step)
    label = " ".join(lines)
    canvas.out.append(Markup('<a href="{}" class="{}" data-step="{}" aria-label="{}"><title>{}</title>').format(
        f"{canvas.link}/steps/{step}", css, step, label, label))  # fmt: skip
    canvas.out.append(Markup('<rect x="{}" y="{}" width="{}" height="{}" rx="6"/>').format(
        _f(left), _f(top), BOX_W, _f(height)))  # fmt: skip
    y = top + PAD + 12
    for text in lines:
        canvas.out.append(Markup('<text x="{}" y="{}" class="name">{}</text>').format(_f(left + PAD), _f(y), text))
        y += LINE
    canvas.live(f"{canvas.scenario}/{step}/passed", left + PAD, y, word)
    canvas.out.append(Markup("</a>"))
