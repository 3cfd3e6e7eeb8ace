"""Compiling a checked workspace into a bundle of flat programs (see program.py)."""

from __future__ import annotations

import hashlib
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from . import ast
from . import program as p
from .checker import CheckResult
from .checker._policy import is_transactional
from .workspace import Workspace

DEFAULT_ATTRIBUTION_MS = p.DEFAULT_ATTRIBUTION_MS


class CompileError(Exception):
    """Raised when asked to compile a workspace that has errors."""


def compile_workspace(result: CheckResult) -> p.Bundle:
    """The bundle of a workspace that checked without errors."""
    if not result.ok:
        raise CompileError(f"the workspace has {result.errors} error(s); run `scn check`")
    symbols = result.symbols
    workspace = result.workspace
    decls = symbols.decls
    templates = {
        n: _template(d, workspace, symbols.decl_files[n], frozenset(result.templates[n].uses))
        for n, d in decls.items()
        if isinstance(d, ast.TemplateDecl)
    }
    return p.Bundle(
        currency=symbols.currency,
        lists={n: _title(d.title) for n, d in decls.items() if isinstance(d, ast.ListDecl)},
        segments=_segments(decls),
        coupons={n: _coupon(d) for n, d in decls.items() if isinstance(d, ast.CouponDecl)},
        templates=templates,
        programs={n: _loyalty(d) for n, d in decls.items() if isinstance(d, ast.ProgramDecl)},
        groups={
            n: p.Group(name=n, title=_title(d.title), program=d.program.name if d.program else None, default=d.default)
            for n, d in decls.items()
            if isinstance(d, ast.GroupDecl)
        },
        attributes={name: t.name for name, t in symbols.attributes.items()},
        events={
            name: tuple(p.EventField(f, t.name) for f, t in spec.fields.items())
            for name, spec in symbols.events.items()
            if spec.custom
        },
        scenarios={
            name: compile_scenario(s, symbols.scenario_files[name], result) for name, s in symbols.scenarios.items()
        },
        files={f.path: f.text for f in workspace.files},
        resources=dict(workspace.resources or {}),
        policy=_policy(symbols.policy, frozenset(n for n, t in templates.items() if t.transactional)),
    )


def _send_window(header: ast.SendWindow) -> p.SendWindow:
    days = tuple(sorted({day for r in header.ranges for day in r.days}))
    return p.SendWindow(days, (header.start.hour, header.start.minute), (header.end.hour, header.end.minute))


_RATE_UNITS_MS = {"second": 1000, "minute": 60_000, "hour": 3_600_000}


def _policy(decl: ast.PolicyDecl | None, exempt: frozenset[str]) -> p.Policy | None:
    """The workspace policy; ``exempt``: its transactional templates."""
    if decl is None:
        return None
    caps: dict[str, tuple[int, int]] = {}
    rates: dict[str, tuple[int, int]] = {}
    quiet: tuple[int, int, int, int] | None = None
    window: p.SendWindow | None = None
    for rule in decl.rules:
        if isinstance(rule, ast.SendWindow):
            window = window or _send_window(rule)
        elif isinstance(rule, ast.PolicyCap):
            caps.setdefault(rule.channel, (int(rule.count.value), rule.window.milliseconds))
        elif isinstance(rule, ast.PolicyRate):
            rates.setdefault(rule.provider.name, (int(rule.count.value), _RATE_UNITS_MS[rule.unit]))
        elif quiet is None:
            quiet = (rule.start.hour, rule.start.minute, rule.end.hour, rule.end.minute)
    return p.Policy(caps=caps, quiet_hours=quiet, send_window=window, rates=rates, exempt=exempt)


def _title(title: ast.StringLit | None) -> str | None:
    return title.value if title is not None else None


def _coupon(decl: ast.CouponDecl) -> p.Coupon:
    discount = decl.first(ast.CouponDiscount)
    percent = amount = currency = None
    if isinstance(discount, ast.CouponDiscount):
        if isinstance(discount.amount, ast.PercentLit):
            percent = str(discount.amount.value)
        else:
            amount, currency = str(discount.amount.amount), discount.amount.currency
    code = decl.first(ast.CouponCode)
    pool = decl.first(ast.CouponPool)
    generated = decl.first(ast.CouponGenerated)
    valid = decl.first(ast.CouponValid) or decl.first(ast.CouponValidUntil)
    source = "code" if code else "pool" if pool else "generated"
    return p.Coupon(
        name=decl.name.name,
        percent=percent,
        amount=amount,
        currency=currency,
        source=source,
        code=code.code.value if isinstance(code, ast.CouponCode) else None,
        pattern=generated.pattern.value if isinstance(generated, ast.CouponGenerated) else None,
        pool_file=pool.path.value if isinstance(pool, ast.CouponPool) else None,
        warn_below=int(pool.warn_below.value) if isinstance(pool, ast.CouponPool) and pool.warn_below else None,
        lists=tuple(o.list.name for o in decl.options if isinstance(o, ast.CouponForList)),
        offers=tuple(s.value for o in decl.options if isinstance(o, ast.CouponForOffer) for s in o.offers),
        valid_ms=valid.duration.milliseconds if isinstance(valid, ast.CouponValid) else None,
        until=until_text(valid.until) if isinstance(valid, ast.CouponValidUntil) else None,
    )


def until_text(until: ast.ValidUntil) -> str:
    """How a program keeps a coupon's absolute end: "2026-12-31" or "end of month"."""
    if until.date is None:
        return "end of month"
    return f"{until.date.year:04d}-{until.date.month:02d}-{until.date.day:02d}"


def _template(decl: ast.TemplateDecl, workspace: Workspace, source: str, uses: frozenset[str]) -> p.Template:
    sender = next((s for s in decl.settings if isinstance(s, ast.TemplateFrom)), None)
    reply = next((s for s in decl.settings if isinstance(s, ast.TemplateReplyTo)), None)
    fallback = next((s for s in decl.settings if isinstance(s, ast.TemplateFallback)), None)
    shared = [s for s in decl.settings if isinstance(s, ast.TemplatePart)]

    def variant(lang: str, parts: list[ast.TemplatePart]) -> p.TemplateVariant:
        texts: dict[str, str] = {}
        sources: dict[str, str] = {}
        for part in parts:
            if part.key in ("html", "plain"):
                texts[part.key] = workspace.read_resource(source, part.value.value) or ""
                sources[part.key] = workspace.resource_path(source, part.value.value)
            else:
                texts[part.key] = part.value.value
                sources[part.key] = f"{source}:{part.value.span.line}"
        return p.TemplateVariant(lang=lang, parts=texts, sources=sources)

    variants = tuple(variant(lang.lang.name, shared + list(lang.parts)) for lang in decl.langs)
    return p.Template(
        name=decl.name.name,
        channel=decl.channel,
        sender_name=sender.name.value if sender and sender.name else None,
        sender_address=sender.address.value if sender and sender.address else None,
        reply_to=reply.address.value if reply else None,
        fallback=fallback.lang.name if fallback else None,
        variants=variants or (variant("", shared),),
        uses=uses,
        transactional=is_transactional(decl),
    )


def _loyalty(decl: ast.ProgramDecl) -> p.LoyaltyProgram:
    tiers = tuple(p.Tier(str(t.percent.value), str(t.bound.amount) if t.kind == "up_to" else None) for t in decl.tiers)
    return p.LoyaltyProgram(
        name=decl.name.name,
        title=_title(decl.title),
        kind=decl.kind,
        currency=decl.tiers[0].bound.currency if decl.tiers else "",
        tiers=tiers,
    )


# ---------------------------------------------------------------- scenarios


def compile_scenario(scenario: ast.Scenario, file: str, result: CheckResult) -> p.Program:
    """A scenario's program. The scenario must have checked clean."""
    builder = _Builder()
    builder.block(scenario.steps, "s")
    builder.emit(p.End, "end", "end", scenario.span.end_line)
    headers = scenario.headers
    triggers = tuple(p.Trigger(h.event.name, h.where) for h in headers if isinstance(h, ast.Trigger))
    triggers += tuple(
        p.Trigger(p.DATE_EVENT, None, p.DateTrigger(field=h.date, offset_days=h.offset_days, hour=h.time.hour,
                                                    minute=h.time.minute, once=h.once))
        for h in headers
        if isinstance(h, ast.DateTrigger)
    )  # fmt: skip
    events = result.symbols.events
    specs = [events[t.event] for t in triggers if t.event in events]
    dated = any(t.date is not None for t in triggers)  # a date carries no order
    carries = tuple(r for r in ("order", "item") if specs and not dated and all(r in s.carries for s in specs))
    limits: list[p.EntryLimit] = []
    frequency: tuple[int, int] | None = None
    quiet: tuple[int, int, int, int] | None = None
    send_window: p.SendWindow | None = None
    attribution = DEFAULT_ATTRIBUTION_MS
    max_order_age: int | None = None
    for header in headers:
        if isinstance(header, ast.EntryOnce):
            limits.append(p.EntryLimit(header.scope, 1, None))
        elif isinstance(header, ast.EntryAtMost):
            window = header.window.milliseconds if header.window else None
            limits.append(p.EntryLimit(header.scope, int(header.count.value), window))
        elif isinstance(header, ast.FrequencyCap):
            frequency = (int(header.count.value), header.window.milliseconds)
        elif isinstance(header, ast.QuietHours):
            quiet = (header.start.hour, header.start.minute, header.end.hour, header.end.minute)
        elif isinstance(header, ast.SendWindow):
            send_window = _send_window(header)
        elif isinstance(header, ast.Attribution):
            attribution = header.window.milliseconds
        elif isinstance(header, ast.IgnoreOrders):
            max_order_age = header.age.milliseconds
    broadcast = _broadcast(scenario) if isinstance(scenario, ast.Broadcast) else None
    if broadcast is not None:
        limits.append(p.EntryLimit("contact", 1, None))  # one run per contact of the audience
    return p.Program(
        name=scenario.name.name,
        title=scenario.title.value if scenario.title else scenario.name.name,
        file=file,
        triggers=triggers,
        entry_limits=tuple(limits),
        frequency=frequency,
        exits=tuple(p.Exit(h.event.name, h.where) for h in headers if isinstance(h, ast.ExitGoal)),
        quiet_hours=quiet,
        attribution_ms=attribution,
        carries=carries,
        instructions=tuple(builder.code),
        max_order_age_ms=max_order_age,
        broadcast=broadcast,
        send_window=send_window,
    )


def _broadcast(broadcast: ast.Broadcast) -> p.BroadcastSpec:
    at = broadcast.at
    return p.BroadcastSpec(
        audience_kind=broadcast.audience.kind,
        audience=broadcast.audience.name.name,
        date=f"{at.date.year:04d}-{at.date.month:02d}-{at.date.day:02d}" if at else None,
        time=f"{at.time.hour:02d}:{at.time.minute:02d}" if at else None,
        zone=at.zone.value if at and at.zone else None,
        local=at.local if at else False,
    )


class _Builder:
    """Lays out instructions; jumps to not-yet-known places are patched afterwards."""

    def __init__(self) -> None:
        self.code: list[Any] = []

    def emit(self, kind: type[p.Instr], step_id: str, name: str, line: int, **fields: Any) -> int:
        self.code.append(kind(id=step_id, name=name, line=line, **fields))
        return len(self.code) - 1

    def patch(self, index: int, **fields: Any) -> None:
        self.code[index] = msgspec.structs.replace(self.code[index], **fields)

    def here(self) -> int:
        return len(self.code)

    def block(self, steps: tuple[ast.Step, ...], prefix: str) -> None:
        for number, step in enumerate(steps, start=1):
            step_id = f"@{step.label.name}" if step.label else f"{prefix}{number}"
            self.step(step, step_id)

    def step(self, step: ast.Step, sid: str) -> None:
        """Lay out one step, by the method named after its node (`visit_Wait`...)."""
        visit: Callable[[_Builder, Any, str, int], None] = _VISITORS[type(step)]
        visit(self, step, sid, step.span.line)

    def visit_Wait(self, step: ast.Wait, sid: str, line: int) -> None:
        fixed = step.duration.milliseconds if isinstance(step.duration, ast.DurationLit) else None
        self.emit(p.Wait, sid, f"wait {_text(step.duration)}", line, duration=step.duration, fixed_ms=fixed)

    def visit_WaitUntil(self, step: ast.WaitUntil, sid: str, line: int) -> None:
        name = f"wait until {step.time.hour:02d}:{step.time.minute:02d}"
        self.emit(p.WaitUntil, sid, name, line, hour=step.time.hour, minute=step.time.minute)

    def visit_WaitUntilDay(self, step: ast.WaitUntilDay, sid: str, line: int) -> None:
        days = tuple(range(5)) if step.day == "weekday" else (_DAY_NUMBERS[step.day],)
        self.emit(p.WaitUntilDay, sid, _step_text(step), line, hour=step.time.hour, minute=step.time.minute,
                  days=days)  # fmt: skip

    def visit_WaitUntilMonthDay(self, step: ast.WaitUntilMonthDay, sid: str, line: int) -> None:
        self.emit(p.WaitUntilMonthDay, sid, _step_text(step), line, hour=step.time.hour, minute=step.time.minute,
                  day=int(step.day.value))  # fmt: skip

    def visit_WaitUntilValue(self, step: ast.WaitUntilValue, sid: str, line: int) -> None:
        self.emit(p.WaitUntilValue, sid, _step_text(step), line, value=step.value)

    def visit_WaitFor(self, step: ast.WaitFor, sid: str, line: int) -> None:
        name = f"wait for {step.event.name} up to {_text(step.timeout)}"
        at = self.emit(p.WaitFor, sid, name, line, event=step.event.name, where=step.where,
                       timeout=step.timeout, on_timeout=-1)  # fmt: skip
        if step.on_timeout is None:
            self.patch(at, on_timeout=self.here())
            return
        skip = self.emit(p.Jump, f"{sid}.resume", "go on after the wait", line, target=-1)
        self.patch(at, on_timeout=self.here())
        self.block(step.on_timeout.steps, f"{sid}.timeout.")
        self.patch(skip, target=self.here())

    def visit_Stop(self, step: ast.Stop, sid: str, line: int) -> None:
        self.emit(p.Stop, sid, "stop", line, condition=None, negate=False)

    def visit_StopIf(self, step: ast.StopIf, sid: str, line: int) -> None:
        keyword = "stop unless" if step.negate else "stop if"
        self.emit(p.Stop, sid, f"{keyword} {_text(step.condition)}", line, condition=step.condition,
                  negate=step.negate)  # fmt: skip

    def visit_Send(self, step: ast.Send, sid: str, line: int) -> None:
        coupon = step.coupon.name if step.coupon else None
        name = f"send {step.channel} {step.template.name}" + (f" with coupon {coupon}" if coupon else "")
        self.emit(p.Send, sid, name, line, channel=step.channel, template=step.template.name, coupon=coupon,
                  products=step.products)  # fmt: skip

    def visit_AddToList(self, step: ast.AddToList, sid: str, line: int) -> None:
        self.emit(p.ChangeList, sid, f"add to list {step.list.name}", line, list=step.list.name, add=True)

    def visit_RemoveFromList(self, step: ast.RemoveFromList, sid: str, line: int) -> None:
        self.emit(p.ChangeList, sid, f"remove from list {step.list.name}", line, list=step.list.name, add=False)

    def visit_IssueCoupon(self, step: ast.IssueCoupon, sid: str, line: int) -> None:
        valid = step.valid.milliseconds if step.valid else None
        until = until_text(step.until) if step.until is not None else None
        self.emit(p.IssueCoupon, sid, f"issue coupon {step.coupon.name}", line, coupon=step.coupon.name,
                  valid_ms=valid, until=until)  # fmt: skip

    def visit_AwardBonus(self, step: ast.AwardBonus, sid: str, line: int) -> None:
        name = "award bonus" + (f" {_text(step.amount)}" if step.amount else "")
        self.emit(p.AwardBonus, sid, name, line, amount=step.amount)

    def visit_SetGroup(self, step: ast.SetGroup, sid: str, line: int) -> None:
        self.emit(p.SetGroup, sid, f"set group {step.group.name}", line, group=step.group.name)

    def visit_SetAttribute(self, step: ast.SetAttribute, sid: str, line: int) -> None:
        self.emit(p.SetAttribute, sid, f"set attribute {step.name.name}", line, attribute=step.name.name,
                  value=step.value)  # fmt: skip

    def visit_CallWebhook(self, step: ast.CallWebhook, sid: str, line: int) -> None:
        fields = tuple((f.name.name, f.value) for f in step.fields)
        self.emit(p.CallWebhook, sid, f"call webhook {step.url.value}", line, url=step.url.value, fields=fields)

    def visit_If(self, step: ast.If, sid: str, line: int) -> None:
        to_end: list[int] = []
        for number, branch in enumerate(step.branches, start=1):
            keyword = "if" if number == 1 else "elif"
            test = self.emit(p.Branch, f"{sid}.if{number}" if number > 1 else sid,
                             f"{keyword} {_text(branch.condition)}", branch.span.line, condition=branch.condition,
                             otherwise=-1)  # fmt: skip
            self.block(branch.steps, f"{sid}.if{number}.")
            to_end.append(self.emit(p.Jump, f"{sid}.if{number}.end", "end of branch", line, target=-1))
            self.patch(test, otherwise=self.here())
        if step.else_ is not None:
            self.block(step.else_.steps, f"{sid}.else.")
        for jump in to_end:
            self.patch(jump, target=self.here())

    def visit_Bands(self, step: ast.Bands, sid: str, line: int) -> None:
        at = self.emit(p.Bands, sid, f"bands {_text(step.subject)}", line, subject=step.subject, arms=(),
                       otherwise=-1)  # fmt: skip
        arms: list[p.BandArm] = []
        to_end: list[int] = []
        for number, band in enumerate(step.bands, start=1):
            arms.append(p.BandArm(band.low, band.high, self.here()))
            self.block(band.steps, f"{sid}.band{number}.")
            to_end.append(self.emit(p.Jump, f"{sid}.band{number}.end", "end of band", line, target=-1))
        for jump in to_end:
            self.patch(jump, target=self.here())
        self.patch(at, arms=tuple(arms), otherwise=self.here())

    def visit_Split(self, step: ast.Split, sid: str, line: int) -> None:
        at = self.emit(p.Split, sid, "split", line, arms=(), control="0", after=-1, per_run=step.per_run is not None)
        arms: list[p.SplitArm] = []
        to_end: list[int] = []
        control = Decimal(0) if step.holdout is None else step.holdout.weight.value
        # With a hold-out off the top the variants share the rest: 50% of the 90% left is 45%.
        rest = (Decimal(100) - control) / Decimal(100)
        for arm in step.arms:
            if isinstance(arm, ast.Control):
                control += arm.weight.value
                continue
            arms.append(p.SplitArm(arm.name.name, str(arm.weight.value * rest), self.here()))
            self.block(arm.steps, f"{sid}.{arm.name.name}.")
            to_end.append(self.emit(p.Jump, f"{sid}.{arm.name.name}.end", "end of variant", line, target=-1))
        for jump in to_end:
            self.patch(jump, target=self.here())
        self.patch(at, arms=tuple(arms), control=str(control), after=self.here())


#: The layout method of each kind of step, by its node class (a step without one is a bug).
_VISITORS: dict[type, Any] = {kind: getattr(_Builder, f"visit_{kind.__name__}") for kind in typing.get_args(ast.Step)}


def _text(expr: ast.Expr) -> str:
    from ..grammar._format import expr_text

    return expr_text(expr)


def _step_text(step: ast.Step) -> str:
    from ..grammar._format import simple_step_text

    return simple_step_text(step)


_DAY_NUMBERS = {name: number for number, name in enumerate(typing.get_args(ast.DayName)[:7])}


def program_digest(program: p.Program) -> str:
    """A fingerprint of what a program does: the same after edits to layout and comments."""
    plain = ast.without_spans(program)
    for instruction in plain["instructions"]:
        instruction.pop("line", None)
    plain.pop("file", None)
    return hashlib.sha256(msgspec.msgpack.encode(plain)).hexdigest()[:16]


#: Functions whose value changes as time passes.
CLOCK_FUNCTIONS = frozenset({"now", "today", "ago"})


def _calls(node: object) -> set[str]:
    """Names of every function called anywhere inside an AST node."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Call):
            found.add(item.func.name)
            # `in_segment(x)` reads another segment: remember it as a pseudo-call.
            first = item.args[0] if item.args else None
            if item.func.name == "in_segment" and isinstance(first, ast.Path) and len(first.parts) == 1:
                found.add(f"segment:{first.parts[0].name}")
        if isinstance(item, msgspec.Struct):
            stack.extend(getattr(item, field) for field in item.__struct_fields__)
        elif isinstance(item, tuple | list):
            stack.extend(item)
    return found


def _segments(decls: dict[str, Any]) -> dict[str, p.Segment]:
    declared = {n: d for n, d in decls.items() if isinstance(d, ast.SegmentDecl)}
    calls = {n: _calls(d.condition) for n, d in declared.items()}
    timed = {n for n, c in calls.items() if c & CLOCK_FUNCTIONS}
    changed = True
    while changed:  # a segment built on a timed segment is timed too
        grown = {n for n, c in calls.items() if any(f"segment:{t}" in c for t in timed)} | timed
        changed, timed = grown != timed, grown
    return {
        n: p.Segment(name=n, title=_title(d.title), condition=d.condition, timed=n in timed)
        for n, d in declared.items()
    }
