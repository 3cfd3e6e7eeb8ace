"""Checking scenarios: headers, the scope of names, steps and the flow between them."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import msgspec

from ...stdlib.catalog import (
    PRODUCTS,
    TEMPLATE_ALWAYS,
    TEMPLATE_WITH_BONUS,
    TEMPLATE_WITH_COUPON,
    TEMPLATE_WITH_ORDER,
    TEMPLATE_WITH_PRODUCTS,
    EventSpec,
)
from .. import ast, codes
from ..diagnostics import DiagnosticSink, Related
from ..suggest import closest_name, suggested
from ..types import DATETIME, DURATION, Entity, ListOf, Type
from ._branches import check_bands, check_split
from ._broadcasts import broadcast_scope, check_broadcast
from ._calendar import check_date_trigger, check_month_day, check_send_window, coupon_end_passed
from ._currencies import CurrencyChecker, currency_facts
from ._exprs import (
    ExprChecker,
    Scope,
    check_bonus_amount,
    check_count,
    check_date,
    check_positive,
    check_time,
    describe,
)
from ._policy import caps_channel, check_scenario_cap, check_transactional_send
from ._symbols import Symbols
from ._templates import TemplateChecker
from ._unset import Known, UnsetChecker, known_in_event_where, operand_paths, set_when

_RECORDS = ("order", "item")


class _Flow(msgspec.Struct):
    """What the walk over one scenario's steps carries along."""

    scope: Scope
    triggers: list[EventSpec]
    capped: bool
    labels: dict[str, ast.Ident] = msgspec.field(default_factory=dict)
    warned_uncapped: bool = False


class _Path:
    """What surely holds at a point of a scenario, whichever way the run came there."""

    __slots__ = ("issued", "awarded", "known", "elapsed")

    def __init__(
        self,
        issued: dict[str, tuple[ast.IssueCoupon, int]] | None = None,
        awarded: bool = False,
        known: Known = frozenset(),
        elapsed: int = 0,
    ) -> None:
        #: coupon name -> (where it was issued, the least time surely passed since)
        self.issued = issued if issued is not None else {}
        #: a bonus was awarded before this point (templates may show it)
        self.awarded = awarded
        #: fields surely set here (an `if x is set` around, a `stop if x is not set` before)
        self.known = known
        #: the least time (ms) surely passed since the run started
        self.elapsed = elapsed

    def copy(self) -> _Path:
        return _Path(dict(self.issued), self.awarded, self.known, self.elapsed)

    def join(self, ways: list[_Path]) -> None:
        """Become what holds after branches: only what holds on every way through."""
        if not ways:
            self.issued, self.awarded, self.known, self.elapsed = {}, False, frozenset(), 0
            return
        issued = {}
        for name in set.intersection(*(set(w.issued) for w in ways)):
            where = ways[0].issued[name][0]
            if all(w.issued[name][0] is where for w in ways):
                issued[name] = (where, min(w.issued[name][1] for w in ways))
        self.issued = issued
        self.awarded = all(w.awarded for w in ways)
        self.known = frozenset.intersection(*(w.known for w in ways))
        self.elapsed = min(w.elapsed for w in ways)


class ScenarioChecker:
    def __init__(
        self,
        symbols: Symbols,
        exprs: ExprChecker,
        unset: UnsetChecker,
        templates: TemplateChecker,
        sink: DiagnosticSink,
    ) -> None:
        self.symbols = symbols
        self.exprs = exprs
        self.unset = unset
        self.currencies = CurrencyChecker(symbols, sink)
        self.templates = templates
        self.sink = sink

    def check(self, scenario: ast.Scenario) -> None:
        if isinstance(scenario, ast.Broadcast):
            check_broadcast(scenario, self._reference, self.sink)
            # One run per contact: a broadcast is capped by construction.
            self._block(scenario.steps, _Flow(scope=broadcast_scope(), triggers=[], capped=True), _Path())
            return
        triggers = self._headers(scenario)
        dated = any(isinstance(h, ast.DateTrigger) for h in scenario.headers)
        flow = _Flow(
            scope=self.body_scope(triggers, dated),
            triggers=triggers,
            capped=_is_capped(scenario),
        )
        self._block(scenario.steps, flow, _Path(known=_trigger_facts(scenario)))
        check_scenario_cap(scenario, self.symbols.policy, self.symbols.decls, self.sink)

    # ------------------------------------------------------------ scopes

    def event_scope(self, spec: EventSpec, triggers: list[EventSpec] | None = None) -> Scope:
        """Names in a `where` about one event: the contact, the event and what it carries.

        In `exit when` and `wait for`, ``triggers`` are the scenario's triggers: `run`
        and `trigger` (the event that started the run) are there too, so a condition
        can say `where order.id == trigger.order.id`.
        """
        roots: dict[str, Type] = {"contact": Entity("contact"), "event": Entity(f"event:{spec.name}")}
        if triggers is not None:
            roots["run"] = Entity("run")
            if triggers:
                roots["trigger"] = Entity("event:" + "|".join(t.name for t in triggers))
        missing = {}
        for record in _RECORDS:
            if record in spec.carries:
                roots[record] = Entity(record)
            else:
                missing[record] = f"`{spec.name}` carries no {record}"
        return Scope(roots, missing)

    def body_scope(self, triggers: list[EventSpec], dated: bool = False) -> Scope:
        """Names in the steps: what every trigger of the scenario carries (``dated``: a date
        trigger, which carries no event, is among them)."""
        roots: dict[str, Type] = {"contact": Entity("contact"), "run": Entity("run")}
        missing: dict[str, str] = {}
        if dated:
            missing.update({record: f"`on date` carries no {record}" for record in ("event", *_RECORDS)})
            return Scope(roots, missing)
        if triggers:
            roots["event"] = Entity("event:" + "|".join(t.name for t in triggers))
        for record in _RECORDS:
            without = [t.name for t in triggers if record not in t.carries]
            if triggers and not without:
                roots[record] = Entity(record)
            elif len(without) < len(triggers):
                missing[record] = f"the trigger `{without[0]}` carries no {record}"
            else:
                missing[record] = f"no trigger of this scenario carries an {record}"
        return Scope(roots, missing)

    def _event(self, ref: ast.EventRef) -> EventSpec | None:
        spec = self.symbols.events.get(ref.name)
        if spec is None:
            guess = closest_name(ref.name, self.symbols.events)
            self.sink.report(
                codes.UNKNOWN_EVENT,
                f"unknown event `{ref.name}`" + (f": did you mean `{guess}`?" if guess else ""),
                ref.span,
                fix=suggested(ref.span, guess),
            )
        return spec

    # ------------------------------------------------------------ headers

    def _headers(self, scenario: ast.Scenario) -> list[EventSpec]:
        triggers: list[EventSpec] = []
        once: dict[str, ast.Header] = {}
        for header in scenario.headers:
            group = _HEADER_GROUPS.get(type(header))
            if isinstance(header, ast.EntryOnce | ast.EntryAtMost):
                group = f"entry rule per {header.scope}"
            if group is not None:
                if group in once:
                    self.sink.report(
                        codes.DUPLICATE_HEADER,
                        f"a scenario has one {group}",
                        header.span,
                        related=(Related(once[group].span, "first given here"),),
                    )
                    continue
                once[group] = header
            if isinstance(header, ast.Trigger):
                spec = self._event(header.event)
                if spec is not None:
                    triggers.append(spec)
                    if header.where is not None:
                        scope = self.event_scope(spec)
                        self.exprs.condition(header.where, scope)
                        self.unset.expression(header.where, scope, frozenset())
        for header in scenario.headers:  # after all triggers are known: `where` may use `trigger`
            if isinstance(header, ast.ExitGoal):
                spec = self._event(header.event)
                if spec is not None and header.where is not None:
                    scope = self.event_scope(spec, triggers)
                    self.exprs.condition(header.where, scope)
                    self.unset.expression(header.where, scope, frozenset())
        every = next((h for h in scenario.headers if isinstance(h, ast.EntryEvery)), None)
        limit = next((h for h in scenario.headers if isinstance(h, ast.EntryOnce | ast.EntryAtMost)), None)
        if every is not None and limit is not None:
            self.sink.report(
                codes.DUPLICATE_HEADER,
                "`entry every time` contradicts the entry limit",
                every.span,
                related=(Related(limit.span, "the limit"),),
            )
        if not any(isinstance(h, ast.Trigger | ast.DateTrigger) for h in scenario.headers):
            self.sink.report(codes.NO_TRIGGER, f"scenario `{scenario.name.name}` has no trigger", scenario.name.span)
        for header in scenario.headers:
            self._header_values(header, triggers, scenario.headers)
        return triggers

    def _header_values(self, header: ast.Header, triggers: list[EventSpec], headers: tuple[ast.Header, ...]) -> None:
        if isinstance(header, ast.EntryAtMost | ast.EntryOnce):
            if isinstance(header, ast.EntryAtMost):
                check_count(header.count, self.sink)
                if header.window is not None:
                    check_positive(header.window, self.sink, "the entry window")
            without = [t.name for t in triggers if "order" not in t.carries]
            without += ["on date" for h in headers if isinstance(h, ast.DateTrigger)]
            if header.scope == "order" and without:
                self.sink.report(
                    codes.UNAVAILABLE_NAME,
                    f"entry per order needs triggers that carry an order; `{without[0]}` does not",
                    header.span,
                )
        elif isinstance(header, ast.FrequencyCap):
            check_count(header.count, self.sink)
            check_positive(header.window, self.sink, "the frequency window")
        elif isinstance(header, ast.QuietHours):
            check_time(header.start, self.sink)
            check_time(header.end, self.sink)
            if (header.start.hour, header.start.minute) == (header.end.hour, header.end.minute):
                self.sink.report(codes.EMPTY_QUIET_HOURS, "quiet hours start and end at the same time", header.span)
        elif isinstance(header, ast.SendWindow):
            check_send_window(header, next((h for h in headers if isinstance(h, ast.QuietHours)), None), self.sink)
        elif isinstance(header, ast.DateTrigger):
            check_date_trigger(header, self.exprs, self.sink)
        elif isinstance(header, ast.Attribution):
            check_positive(header.window, self.sink, "the attribution window")
        elif isinstance(header, ast.IgnoreOrders):
            check_positive(header.age, self.sink, "the age of orders to ignore")
            without = [t.name for t in triggers if "order" not in t.carries]
            if without:
                self.sink.report(
                    codes.UNAVAILABLE_NAME,
                    f"`ignore orders older than` needs triggers that carry an order; `{without[0]}` does not",
                    header.span,
                )

    # ------------------------------------------------------------ steps

    def _block(self, steps: tuple[ast.Step, ...], flow: _Flow, path: _Path) -> bool:
        """Check a sequence of steps; True when control can run past its end."""
        reachable = True
        reported = False
        for step in steps:
            if not reachable and not reported:
                self.sink.report(codes.UNREACHABLE_STEP, "this step can never run", step.span)
                reported = True  # the first dead step of a block says it for the rest
            if not self._step(step, flow, path):
                reachable = False
        return reachable

    def _branches(
        self, blocks: list[tuple[ast.Step, ...]], flow: _Flow, path: _Path, known: list[Known] | None = None
    ) -> bool:
        """Check alternative blocks, then make ``path`` what holds after them.

        ``known`` adds, per block, the fields surely set in it (by the condition that
        chose it). True when at least one of them runs past its end.
        """
        ways = []
        for index, block in enumerate(blocks):
            mine = path.copy()
            if known is not None:
                mine.known |= known[index]
            if self._block(block, flow, mine):
                ways.append(mine)
        path.join(ways)
        return bool(ways)

    def _step(self, step: ast.Step, flow: _Flow, path: _Path) -> bool:
        """Check one step; False when nothing after it can run."""
        if step.label is not None:
            self._label(step.label, flow)
        if isinstance(step, ast.Wait):
            self.exprs.expect(step.duration, flow.scope, DURATION, "a wait")
            self.unset.value(step.duration, flow.scope, path.known, "the run does not wait")
            if isinstance(step.duration, ast.DurationLit):
                check_positive(step.duration, self.sink, "a wait")
                for name, (where, elapsed) in list(path.issued.items()):
                    path.issued[name] = (where, elapsed + step.duration.milliseconds)
                path.elapsed += step.duration.milliseconds
        elif isinstance(step, ast.WaitUntil | ast.WaitUntilDay):
            check_time(step.time, self.sink)
        elif isinstance(step, ast.WaitUntilMonthDay):
            check_month_day(step, self.sink)
        elif isinstance(step, ast.WaitUntilValue):
            self.exprs.expect(step.value, flow.scope, DATETIME, "`wait until`")
            self.unset.value(step.value, flow.scope, path.known, "the run goes on at once, without waiting")
        elif isinstance(step, ast.WaitFor):
            spec = self._event(step.event)
            if spec is not None and step.where is not None:
                scope = self.event_scope(spec, flow.triggers)
                self.exprs.condition(step.where, scope)
                self.unset.expression(step.where, scope, known_in_event_where(path.known))
            self.exprs.expect(step.timeout, flow.scope, DURATION, "a timeout")
            self.unset.value(step.timeout, flow.scope, path.known, "the wait times out at once")
            if isinstance(step.timeout, ast.DurationLit):
                check_positive(step.timeout, self.sink, "a timeout")
            if step.on_timeout is not None:
                self._branches([step.on_timeout.steps, ()], flow, path)
        elif isinstance(step, ast.If):
            known: list[Known] = []
            passed: Known = frozenset()  # set because the branches before were not taken
            for branch in step.branches:
                self.exprs.condition(branch.condition, flow.scope)
                self.unset.expression(branch.condition, flow.scope, path.known | passed)
                self.currencies.expression(branch.condition, flow.scope, path.known | passed)
                known.append(passed | _facts(branch.condition, True))
                passed |= _facts(branch.condition, False)
            known.append(passed)
            blocks = [b.steps for b in step.branches] + [step.else_.steps if step.else_ is not None else ()]
            return self._branches(blocks, flow, path, known)
        elif isinstance(step, ast.Bands):
            covered = check_bands(step, flow.scope, self.exprs, self.sink)
            self.unset.value(step.subject, flow.scope, path.known, "it falls into no band")
            self.currencies.bands(step, flow.scope, path.known)
            inside = frozenset(p.dotted for p in operand_paths(step.subject))  # a value in a band is set
            blocks = [b.steps for b in step.bands] + ([] if covered else [()])
            return self._branches(blocks, flow, path, [inside] * len(step.bands) + [frozenset()])
        elif isinstance(step, ast.Split):
            check_split(step, self.sink)
            blocks = [a.steps if isinstance(a, ast.Variant) else () for a in step.arms]
            return self._branches(blocks, flow, path)
        elif isinstance(step, ast.Stop):
            return False
        elif isinstance(step, ast.StopIf):
            self.exprs.condition(step.condition, flow.scope)
            self.unset.expression(step.condition, flow.scope, path.known)
            self.currencies.expression(step.condition, flow.scope, path.known)
            # The run goes on past `stop if C` when C is false, past `stop unless C` when true.
            path.known |= _facts(step.condition, step.negate)
        elif isinstance(step, ast.Send):
            self._send(step, flow, path)
        elif isinstance(step, ast.AddToList | ast.RemoveFromList):
            self._reference(step.list, "list", "segments fill themselves from their condition; add to a list")
        elif isinstance(step, ast.IssueCoupon):
            if self._reference(step.coupon, "coupon"):
                path.issued[step.coupon.name] = (step, 0)
                self._coupon_clock(step.coupon, path)
            if step.valid is not None:
                check_positive(step.valid, self.sink, "a coupon's validity")
            if step.until is not None and step.until.date is not None:
                check_date(step.until.date, self.sink)
        elif isinstance(step, ast.AwardBonus):
            path.awarded = True
            if step.amount is not None:
                self.exprs.expect(step.amount, flow.scope, self.symbols.money(), "a bonus")
                check_bonus_amount(step.amount, self.sink)
                self.unset.value(step.amount, flow.scope, path.known, "no bonus is awarded")
                self.currencies.expression(step.amount, flow.scope, path.known)
            elif self._bonus_programs():
                self.currencies.award(step, self._tier_currencies(), path.known)
            else:
                self.sink.report(
                    codes.BAD_GROUP,
                    "`award bonus` without an amount needs a group with a bonus program",
                    step.span,
                    "give an amount (award bonus 50 UAH) or declare: group g with program p,"
                    " where p is a `bonus` program",
                )
        elif isinstance(step, ast.SetGroup):
            self._reference(step.group, "group")
        elif isinstance(step, ast.SetAttribute):
            self._set_attribute(step, flow, path)
        elif isinstance(step, ast.CallWebhook):
            self._webhook(step, flow, path)
        return True

    def _tier_currencies(self) -> set[str]:
        """The currencies the bonus programs' tiers are written in."""
        found = set()
        for group in self._bonus_programs():
            program = self.symbols.decls.get(group.program.name) if group.program else None
            if isinstance(program, ast.ProgramDecl):
                found |= {tier.bound.currency for tier in program.tiers}
        return found

    def _bonus_programs(self) -> list[ast.GroupDecl]:
        """Groups whose program pays a bonus (a discount program pays none)."""
        groups = []
        for group in self.symbols.of_kind("group"):
            assert isinstance(group, ast.GroupDecl)
            program = self.symbols.decls.get(group.program.name) if group.program else None
            if isinstance(program, ast.ProgramDecl) and program.kind == "bonus":
                groups.append(group)
        return groups

    def _label(self, label: ast.Ident, flow: _Flow) -> None:
        previous = flow.labels.get(label.name)
        if previous is not None:
            self.sink.report(
                codes.DUPLICATE_LABEL,
                f"the label @{label.name} is used twice",
                label.span,
                related=(Related(previous.span, "first used here"),),
            )
        else:
            flow.labels[label.name] = label

    def _reference(self, name: ast.Ident, kind: str, hint: str = "") -> bool:
        """Is ``name`` a declaration of ``kind``? Report it if not."""
        found = self.symbols.kind_of(name.name)
        if found == kind:
            return True
        if found is None:
            guess = closest_name(name.name, [d.name.name for d in self.symbols.of_kind(kind)])
            self.sink.report(
                codes.UNKNOWN_NAME,
                f"unknown {kind} `{name.name}`" + (f": did you mean `{guess}`?" if guess else ""),
                name.span,
                f"declare it: {kind} {name.name} ...",
                fix=suggested(name.span, guess),
            )
        else:
            self.sink.report(codes.WRONG_KIND, f"`{name.name}` is a {found}, not a {kind}", name.span, hint)
        return False

    # ------------------------------------------------------------ particular steps

    def _send(self, step: ast.Send, flow: _Flow, path: _Path) -> None:
        template_ok = self._reference(step.template, "template")
        if template_ok:
            decl = self.symbols.decls[step.template.name]
            assert isinstance(decl, ast.TemplateDecl)
            if decl.channel != step.channel:
                self.sink.report(
                    codes.CHANNEL_MISMATCH,
                    f"template `{step.template.name}` is for {decl.channel}, not {step.channel}",
                    step.template.span,
                )
        seen: dict[type, ast.Node] = {}
        for option in step.options:
            if type(option) in seen:
                self.sink.report(
                    codes.DUPLICATE_SETTING,
                    "this is given twice",
                    option.span,
                    related=(Related(seen[type(option)].span, "first given here"),),
                )
                continue
            seen[type(option)] = option
            if isinstance(option, ast.WithCoupon):
                if self._reference(option.coupon, "coupon"):
                    self._coupon_clock(option.coupon, path)
            else:
                self.exprs.expect(option.products, flow.scope, PRODUCTS, "`with products`")
                self.unset.value(option.products, flow.scope, path.known, "there are no products and no send")
        declared = self.symbols.decls.get(step.template.name) if template_ok else None
        template = declared if isinstance(declared, ast.TemplateDecl) else None
        if template is not None:
            self._template_context(step, flow, path)
            info = self.templates.infos.get(template.name.name)
            check_transactional_send(step, template, iter(info.uses if info else ()), self.sink)
        policy_capped = caps_channel(self.symbols.policy, step.channel, template)
        if not flow.capped and not policy_capped and not flow.warned_uncapped:
            frequent = next((t for t in flow.triggers if t.frequent), None)
            if frequent is not None:
                flow.warned_uncapped = True
                self.sink.report(
                    codes.UNCAPPED_SEND,
                    f"`{frequent.name}` can fire many times per contact, and nothing caps these sends",
                    step.span,
                )

    def _coupon_clock(self, coupon: ast.Ident, path: _Path) -> None:
        decl = self.symbols.decls[coupon.name]
        assert isinstance(decl, ast.CouponDecl)
        if coupon.name not in path.issued:
            # Issued by this send: it must not have ended before the run can come here.
            option = decl.first(ast.CouponValidUntil)
            if isinstance(option, ast.CouponValidUntil):
                self._coupon_end(coupon, option.until, path.elapsed, path.elapsed, None)
            return
        where, elapsed = path.issued[coupon.name]
        until = where.until
        if where.valid is None and until is None:
            option = decl.first(ast.CouponValidUntil)
            until = option.until if isinstance(option, ast.CouponValidUntil) else None
        if until is not None:
            self._coupon_end(coupon, until, path.elapsed, elapsed, where)
            return
        valid = where.valid
        if valid is None:
            option = decl.first(ast.CouponValid)
            valid = option.duration if isinstance(option, ast.CouponValid) else None
        if valid is not None and elapsed >= valid.milliseconds:
            self.sink.report(
                codes.COUPON_EXPIRES_BEFORE_SEND,
                f"coupon `{coupon.name}` is valid for {_duration_text(valid)}, but at least "
                f"{_ms_text(elapsed)} pass between issuing it and this send",
                coupon.span,
                related=(Related(where.span, "issued here"),),
            )

    def _coupon_end(
        self, coupon: ast.Ident, until: ast.ValidUntil, since_start: int, since_issue: int,
        where: ast.IssueCoupon | None,
    ) -> None:  # fmt: skip
        """Warn when a code valid until a date or the month's end surely ends before this step:
        the date has passed by the earliest moment a run can come here (``since_start`` after
        it began, today at the earliest), or a month or more passes after it was issued."""
        why = coupon_end_passed(until, since_start, since_issue, dt.datetime.now(dt.UTC))
        if why is not None:
            elsewhere = where is not None and not where.span.start <= coupon.span.start < where.span.end
            related = (Related(where.span, "issued here"),) if where is not None and elsewhere else ()
            self.sink.report(
                codes.COUPON_EXPIRES_BEFORE_SEND, f"coupon `{coupon.name}` {why}", coupon.span, related=related
            )

    def _template_context(self, step: ast.Send, flow: _Flow, path: _Path) -> None:
        context: dict[str, Type] = dict(TEMPLATE_ALWAYS)
        why: dict[str, str] = {}
        if "order" in flow.scope.roots:
            context.update(TEMPLATE_WITH_ORDER)
        else:
            reason = flow.scope.missing.get("order", "no trigger carries an order")
            why.update(order=reason, purchased=reason)
        if step.coupon is not None:
            context.update(TEMPLATE_WITH_COUPON)
        else:
            why["coupon"] = "this send has no coupon: add `with coupon NAME`"
        if step.products is not None:
            context.update(TEMPLATE_WITH_PRODUCTS)
        else:
            why["products"] = "this send has no products: add `with products related(4)`"
        if path.awarded:
            context.update(TEMPLATE_WITH_BONUS)
        else:
            why["bonus"] = "no `award bonus` comes before this send on every way to it"
        if "event" in flow.scope.roots:
            context["event"] = flow.scope.roots["event"]
        else:
            why["event"] = "this scenario has no trigger"
        self.templates.check_send(step, context, why)

    def _set_attribute(self, step: ast.SetAttribute, flow: _Flow, path: _Path) -> None:
        target = self.symbols.attributes.get(step.name.name)
        if target is None:
            guess = closest_name(step.name.name, self.symbols.attributes)
            self.sink.report(
                codes.UNKNOWN_NAME,
                f"unknown attribute `{step.name.name}`" + (f": did you mean `{guess}`?" if guess else ""),
                step.name.span,
                f"declare it: attribute {step.name.name}: string",
                fix=suggested(step.name.span, guess),
            )
            self.exprs.infer(step.value, flow.scope)
            return
        self.exprs.expect(step.value, flow.scope, target, f"`{step.name.name}`")
        self.unset.expression(step.value, flow.scope, path.known)
        self.currencies.expression(step.value, flow.scope, path.known)

    def _webhook(self, step: ast.CallWebhook, flow: _Flow, path: _Path) -> None:
        if "{{" in step.url.value or "{%" in step.url.value:
            self.sink.report(
                codes.BAD_URL,
                f"`{step.url.value}` is sent as written: a webhook URL is not a template",
                step.url.span,
                'pass the values with `with`: call webhook "https://crm.example.com/hook" with site = contact.site',
            )
        elif not webhook_url_ok(step.url.value):
            self.sink.report(codes.BAD_URL, f"`{step.url.value}` is not an https:// URL", step.url.span)
        seen: dict[str, ast.Ident] = {}
        for f in step.fields:
            if f.name.name in seen:
                self.sink.report(
                    codes.DUPLICATE_SETTING,
                    f"the field `{f.name.name}` is given twice",
                    f.name.span,
                    related=(Related(seen[f.name.name].span, "first given here"),),
                )
            seen.setdefault(f.name.name, f.name)
            t = self.exprs.infer(f.value, flow.scope)
            record = t.item if isinstance(t, ListOf) else t
            if isinstance(record, Entity):
                # A webhook sends values: a whole record (or a list of them) has no JSON form.
                self.sink.report(
                    codes.TYPE_MISMATCH,
                    f"the field `{f.name.name}` is {describe(t)}: a webhook sends values, not records",
                    f.value.span,
                    "send the fields it needs: id = order.id, total = order.total",
                )
            self.unset.expression(f.value, flow.scope, path.known)
            self.currencies.expression(f.value, flow.scope, path.known)


def _facts(condition: ast.Expr, outcome: bool) -> Known:
    """What holds when ``condition`` comes out ``outcome``: the fields surely set, and the
    currencies made sure of."""
    return set_when(condition, outcome) | currency_facts(condition, outcome)


def _trigger_facts(scenario: ast.Scenario) -> Known:
    """The currencies every trigger's `where` makes sure of (only those: a field set when
    the event came may be unset by the time a step runs)."""
    triggers = [h for h in scenario.headers if isinstance(h, ast.Trigger | ast.DateTrigger)]
    facts = [currency_facts(h.where, True) if isinstance(h, ast.Trigger) and h.where else frozenset() for h in triggers]
    return frozenset.intersection(*facts) if facts else frozenset()


_HEADER_GROUPS: dict[type, str] = {
    ast.EntryEvery: "`entry every time`",
    ast.FrequencyCap: "frequency cap",
    ast.QuietHours: "quiet hours",
    ast.SendWindow: "send window",
    ast.Attribution: "attribution window",
    ast.IgnoreOrders: "`ignore orders older than`",
}


def _is_capped(scenario: ast.Scenario) -> bool:
    for header in scenario.headers:
        if isinstance(header, ast.FrequencyCap):
            return True
        if isinstance(header, ast.EntryOnce | ast.EntryAtMost) and header.scope == "contact":
            return True
    return False


#: Hosts a webhook may reach over plain http: this machine, for development and tests.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def webhook_url_ok(url: str) -> bool:
    """An absolute https URL, or http to this machine."""
    parts = urlsplit(url)
    if not parts.hostname or any(c.isspace() or c in "{}" for c in url):
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)


def _duration_text(duration: ast.DurationLit) -> str:
    return "".join(f"{n}{unit}" for n, unit in duration.parts)


def _ms_text(ms: int) -> str:
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(parts) or "0s"
