"""A semantic diff of two versions of a scenario, read from their compiled programs.

Not a text diff: moving a step, relabelling a branch or reformatting the file changes no
line here, while a template's text edited in another file does. Each step is `added`,
`removed`, `moved` or `changed` (or both: a moved step may also have changed), with the
fields that differ in words a marketer reads (`wait 1d` became `wait 2d`, a split's
shares, the coupon a send gives, the template's subject).
"""

from __future__ import annotations

from typing import Any

import msgspec

from ...grammar._format import expr_text
from .. import ast
from ..program import (
    Bands,
    Bundle,
    CallWebhook,
    ChangeList,
    Coupon,
    Instruction,
    Program,
    Send,
    Split,
    Template,
)
from ._match import Matching, Step, match_steps, moved

ADDED, REMOVED, MOVED, CHANGED = "added", "removed", "moved", "changed"


class FieldChange(msgspec.Struct, frozen=True):
    """One thing that differs: what, as it was, as it is (None: not there)."""

    field: str
    old: str | None
    new: str | None


class StepChange(msgspec.Struct, frozen=True, kw_only=True):
    #: "added", "removed", "moved" or "changed" (a moved step may list changes too).
    kind: str
    old_step: str | None
    new_step: str | None
    name: str
    #: How the two were matched: "label", "structure" or "kind" (None for added/removed).
    matched_by: str | None = None
    #: The old step's name, when it differs from ``name``.
    old_name: str | None = None
    changes: tuple[FieldChange, ...] = ()


class ScenarioDiff(msgspec.Struct, frozen=True, kw_only=True):
    scenario: str
    #: Changes of the scenario's headers: triggers, exits, entry limits, caps, quiet hours.
    headers: tuple[FieldChange, ...]
    steps: tuple[StepChange, ...]
    #: Steps the same in both, in the same place.
    unchanged: int

    @property
    def empty(self) -> bool:
        return not self.headers and not self.steps


def _text(value: Any) -> str:
    """A field's value as the language writes it."""
    if isinstance(value, ast.Expr):
        return expr_text(value)
    if value is None:
        return "-"
    if isinstance(value, tuple | list):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _duration(ms: int | None) -> str:
    if ms is None:
        return "-"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


#: Fields of an instruction that are places in the program, not what it does.
_PLACES = frozenset({"id", "name", "line", "otherwise", "target", "on_timeout", "after", "fixed_ms"})


def _fields(instruction: Instruction) -> dict[str, str]:
    """What an instruction does, field by field, as text."""
    if isinstance(instruction, Split):
        shown = {f"share {arm.name}": f"{arm.weight}%" for arm in instruction.arms}
        shown["control group"] = f"{instruction.control}%"
        return shown
    if isinstance(instruction, Bands):
        shown = {"subject": expr_text(instruction.subject)}
        for number, arm in enumerate(instruction.arms, start=1):
            low = expr_text(arm.low) if arm.low is not None else ""
            high = expr_text(arm.high) if arm.high is not None else ""
            shown[f"band {number}"] = f"{low}..{high}"
        return shown
    if isinstance(instruction, CallWebhook):
        return {"url": instruction.url} | {f"field {k}": expr_text(v) for k, v in instruction.fields}
    shown = {}
    for field in instruction.__struct_fields__:
        if field in _PLACES:
            continue
        value = getattr(instruction, field)
        if field == "valid_ms":
            shown["valid"] = _duration(value)
        elif isinstance(instruction, ChangeList) and field == "add":
            shown["action"] = "add" if value else "remove"
        else:
            shown[field] = _text(value)
    return shown


def _template_fields(template: Template | None) -> dict[str, str]:
    if template is None:
        return {}
    shown = {"sender": f"{template.sender_name or ''} <{template.sender_address or ''}>", "reply to": template.reply_to
             or "-", "fallback language": template.fallback or "-"}  # fmt: skip
    for variant in template.variants:
        for part, text in sorted(variant.parts.items()):
            shown[f"{variant.lang} {part}" if variant.lang else part] = text
    return shown


def _coupon_fields(coupon: Coupon | None) -> dict[str, str]:
    if coupon is None:
        return {}
    value = f"{coupon.percent}%" if coupon.percent else f"{coupon.amount} {coupon.currency or ''}".strip()
    return {"discount": value, "codes": coupon.code or coupon.pattern or coupon.pool_file or coupon.source,
            "for lists": ", ".join(coupon.lists) or "-", "valid": _duration(coupon.valid_ms)}  # fmt: skip


def _compare(prefix: str, old: dict[str, str], new: dict[str, str]) -> list[FieldChange]:
    return [
        FieldChange(prefix + key, old.get(key), new.get(key))
        for key in dict.fromkeys([*old, *new])
        if old.get(key) != new.get(key)
    ]


def _step_changes(
    old: Instruction, new: Instruction, bundles: tuple[Bundle | None, Bundle | None]
) -> list[FieldChange]:
    changes = _compare("", _fields(old), _fields(new))
    if type(old) is not type(new):
        changes.insert(0, FieldChange("kind", type(old).__name__, type(new).__name__))
    before, after = bundles
    if before is None or after is None:
        return changes
    # The same template (or coupon) name, declared differently in the two workspaces.
    if isinstance(old, Send) and isinstance(new, Send) and old.template == new.template:
        changes += _compare(f"template {new.template}: ", _template_fields(before.templates.get(old.template)),
                            _template_fields(after.templates.get(new.template)))  # fmt: skip
    coupons = [(o, n) for o, n in ((getattr(old, "coupon", None), getattr(new, "coupon", None)),) if o and o == n]
    for name, _same in coupons:
        changes += _compare(f"coupon {name}: ", _coupon_fields(before.coupons.get(name)),
                            _coupon_fields(after.coupons.get(name)))  # fmt: skip
    return changes


def _headers(old: Program, new: Program) -> list[FieldChange]:
    def shown(program: Program) -> dict[str, str]:
        found = {"title": program.title}
        found |= {f"trigger {n}": t.header() + (f" where {expr_text(t.where)}" if t.where else "")
                  for n, t in enumerate(program.triggers, start=1)}  # fmt: skip
        found |= {f"exit {n}": f"exit when {e.event}" + (f" where {expr_text(e.where)}" if e.where else "")
                  for n, e in enumerate(program.exits, start=1)}  # fmt: skip
        found |= {f"entry limit {n}": f"at most {e.count} per {e.scope}" + (f" per {_duration(e.window_ms)}"
                  if e.window_ms else "") for n, e in enumerate(program.entry_limits, start=1)}  # fmt: skip
        if program.frequency is not None:
            found["frequency cap"] = f"at most {program.frequency[0]} per {_duration(program.frequency[1])}"
        if program.quiet_hours is not None:
            a, b, c, d = program.quiet_hours
            found["quiet hours"] = f"{a:02d}:{b:02d}-{c:02d}:{d:02d}"
        if program.send_window is not None:
            found["send window"] = program.send_window.header().removeprefix("send only ")
        found["attribution"] = _duration(program.attribution_ms)
        if program.max_order_age_ms is not None:
            found["ignore orders older than"] = _duration(program.max_order_age_ms)
        return found

    return _compare("", shown(old), shown(new))


def diff_programs(
    old: Program, new: Program, old_bundle: Bundle | None = None, new_bundle: Bundle | None = None
) -> ScenarioDiff:
    """What changed from ``old`` to ``new`` (with their bundles, template and coupon texts too)."""
    matching: Matching = match_steps(old, new)
    shifted = moved(matching)
    code_old, code_new = old.instructions, new.instructions
    steps: list[StepChange] = []
    unchanged = 0
    for pair in matching.pairs:
        changes = _step_changes(code_old[pair.old.index], code_new[pair.new.index], (old_bundle, new_bundle))
        if pair.new.id in shifted:
            kind = MOVED
        elif changes:
            kind = CHANGED
        else:
            unchanged += 1
            continue
        steps.append(StepChange(
            kind=kind, old_step=pair.old.id, new_step=pair.new.id, name=pair.new.name, matched_by=pair.by,
            old_name=pair.old.name if pair.old.name != pair.new.name else None, changes=tuple(changes),
        ))  # fmt: skip
    steps += [_one(REMOVED, s, None) for s in matching.removed]
    steps += [_one(ADDED, None, s) for s in matching.added]
    steps.sort(key=lambda c: _place(c, matching))
    return ScenarioDiff(scenario=new.name, headers=tuple(_headers(old, new)), steps=tuple(steps), unchanged=unchanged)


def _one(kind: str, old: Step | None, new: Step | None) -> StepChange:
    step = new or old
    assert step is not None
    return StepChange(kind=kind, old_step=old.id if old else None, new_step=new.id if new else None, name=step.name)


def _place(change: StepChange, matching: Matching) -> float:
    """Where a change is listed: at its new step; a removed step just after the step that
    came before it in the old version."""
    if change.new_step is not None:
        return next(s.index for s in (*(p.new for p in matching.pairs), *matching.added) if s.id == change.new_step)
    old = next(s.index for s in matching.removed if s.id == change.old_step)
    before = [p.new.index for p in matching.pairs if p.old.index < old]
    return (max(before) if before else -1) + 0.5


def diff_lines(diff: ScenarioDiff) -> list[str]:
    """A diff as text for a terminal, one change a line, the fields indented under it."""
    lines = [f"  {c.field}: {c.old or '-'} -> {c.new or '-'}" for c in diff.headers]
    for step in diff.steps:
        where = step.old_step if step.new_step is None else step.new_step
        if step.old_step is not None and step.new_step is not None and step.old_step != step.new_step:
            where = f"{step.old_step} -> {step.new_step}"
        was = f" (was {step.old_name})" if step.old_name else ""
        lines.append(f"  {step.kind:<8} {where}  {step.name}{was}")
        lines += [f"      {c.field}: {c.old or '-'} -> {c.new or '-'}" for c in step.changes]
    lines.append(f"  {diff.unchanged} step(s) unchanged")
    return lines
