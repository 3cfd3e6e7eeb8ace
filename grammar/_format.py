"""`scn fmt`: one canonical layout for scn source.

The printer works from the AST, so the layout never depends on how the source was
written; comments are put back in their places (before the statement they precede,
or at the end of the line they followed), and single blank lines between statements
are kept. Formatting twice gives the same text, and the formatted text parses to the
same AST (spans aside): tests check both on every example and on generated programs.
"""

from __future__ import annotations

import re
from decimal import Decimal

from ..interpreter import ast
from . import Comment, ParseResult

INDENT = "  "
MAX_WIDTH = 100

# Binding strength of operators: a child binding less tightly than its parent needs
# parentheses.
_PRECEDENCE: dict[str, int] = {
    "or": 1,
    "and": 2,
    "not": 3,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "in": 4,
    "not in": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
}
_NEGATION = 7
_ATOM = 8
_COMPARISON = 4
#: A status that can be written as a word (`all items are delivered`), not as a string.
_STATUS_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class FormatError(Exception):
    """Raised for sources that do not parse: only valid code is formatted."""


def format_source(result: ParseResult) -> str:
    """The canonical text of a parsed file."""
    if result.module is None or not result.ok:
        raise FormatError("the file has syntax errors; fix them first (`scn check`)")
    printer = _Printer(result.text, result.comments)
    printer.module(result.module)
    return printer.finish()


# ---------------------------------------------------------------- expressions


def expr_text(e: ast.Expr) -> str:
    """An expression with the fewest parentheses that keep its meaning."""
    if isinstance(e, ast.Binary):
        prec = _PRECEDENCE[e.op]
        left_min = prec + 1 if prec == _COMPARISON else prec
        return f"{_wrap(e.left, left_min)} {e.op} {_wrap(e.right, prec + 1)}"
    if isinstance(e, ast.Unary):
        if e.op == "not":
            return f"not {_wrap(e.operand, _PRECEDENCE['not'])}"
        return f"-{_wrap(e.operand, _NEGATION)}"
    if isinstance(e, ast.Path):
        return e.dotted
    if isinstance(e, ast.IsSet):
        return f"{e.path.dotted} is {'not ' if e.negate else ''}set"
    if isinstance(e, ast.ItemsStatus):
        status = e.status.value
        word = status if _STATUS_WORD.fullmatch(status) and status not in ("are", "is") else literal_text(e.status)
        return f"all items are {word}" if e.every else f"any item is {word}"
    if isinstance(e, ast.Call):
        args = [expr_text(a) for a in e.args] + [f"{k.name.name}={expr_text(k.value)}" for k in e.kwargs]
        return f"{e.func.name}({', '.join(args)})"
    if isinstance(e, ast.ListLit):
        return "[" + ", ".join(expr_text(i) for i in e.items) + "]"
    return literal_text(e)


def _is_logic(e: ast.Expr) -> bool:
    return isinstance(e, ast.Binary) and e.op in ("and", "or")


def _precedence(e: ast.Expr) -> int:
    if isinstance(e, ast.Binary):
        return _PRECEDENCE[e.op]
    if isinstance(e, ast.Unary):
        return _PRECEDENCE["not"] if e.op == "not" else _NEGATION
    if isinstance(e, ast.IsSet | ast.ItemsStatus):
        return _COMPARISON
    return _ATOM


def _wrap(e: ast.Expr, minimum: int) -> str:
    text = expr_text(e)
    return f"({text})" if _precedence(e) < minimum else text


def _decimal(value: Decimal) -> str:
    return f"{value:f}"


def literal_text(e: ast.Expr) -> str:
    if isinstance(e, ast.NumberLit):
        return _decimal(e.value)
    if isinstance(e, ast.MoneyLit):
        return f"{_decimal(e.amount)} {e.currency}"
    if isinstance(e, ast.PercentLit):
        return f"{_decimal(e.value)}%"
    if isinstance(e, ast.DurationLit):
        return "".join(f"{n}{unit}" for n, unit in e.parts)
    if isinstance(e, ast.StringLit):
        return string_text(e.value)
    if isinstance(e, ast.BoolLit):
        return "true" if e.value else "false"
    if isinstance(e, ast.DateLit):
        return f"{e.year:04d}-{e.month:02d}-{e.day:02d}"
    if isinstance(e, ast.TimeLit):
        return f"{e.hour:02d}:{e.minute:02d}"
    raise AssertionError(f"not a literal: {type(e).__name__}")


def string_text(value: str) -> str:
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _optional(node: ast.StringLit | None) -> str:
    return f" {string_text(node.value)}" if node is not None else ""


# ---------------------------------------------------------------- statements


class _Printer:
    def __init__(self, text: str, comments: tuple[Comment, ...]) -> None:
        self.text = text
        self.comments = list(comments)
        self.next_comment = 0
        self.lines: list[str] = []
        self.depth = 0
        self.last_end = 0
        self.just_opened = True

    # ------------------------------------------------------------ output

    def _gap_before(self, start: int) -> None:
        """Keep one blank line where the source had one or more."""
        if self.just_opened or not self.lines:
            return
        if self.text.count("\n", self.last_end, start) >= 2 and self.lines[-1] != "":
            self.lines.append("")

    def _trails(self, comment: Comment) -> bool:
        """Is ``comment`` on the source line where the last output line's statement ends?"""
        return bool(self.lines) and self.lines[-1] != "" and "\n" not in self.text[self.last_end : comment.span.start]

    def _flush_comments(self, before: int) -> None:
        """Put back the comments that start before ``before``.

        A comment waits until the next statement begins, so that one trailing several
        statements on a line goes with the last of them, the one it follows.
        """
        while self.next_comment < len(self.comments) and self.comments[self.next_comment].span.start < before:
            comment = self.comments[self.next_comment]
            if self._trails(comment):
                self.lines[-1] += "  " + comment.text.rstrip()
            else:
                self._gap_before(comment.span.start)
                self.lines.append(INDENT * self.depth + comment.text.rstrip())
                self.just_opened = False
            self.next_comment += 1
            self.last_end = max(self.last_end, comment.span.end)

    def line(self, text: str, start: int, end: int, *, opens: bool = False) -> None:
        """Emit one output line for the source range [start, end)."""
        self._flush_comments(start)
        self._gap_before(start)
        self.lines.append(INDENT * self.depth + text)
        self.last_end = max(self.last_end, end)
        self.just_opened = opens

    def close(self, node: ast.Node) -> None:
        """The `end` of a block node (its span ends with the keyword)."""
        end_start = node.span.end - len("end")
        self._flush_comments(end_start)
        self.depth -= 1
        self.just_opened = True  # no blank line between the last statement and `end`
        self.line("end", end_start, node.span.end)

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def finish(self) -> str:
        self._flush_comments(len(self.text) + 1)
        while self.lines and self.lines[-1] == "":
            self.lines.pop()
        return "\n".join(self.lines) + "\n" if self.lines else ""

    # ------------------------------------------------------------ items

    def module(self, module: ast.Module) -> None:
        previous_block = False
        for item in module.items:
            is_block = isinstance(item, ast.Scenario | ast.TemplateDecl | ast.ProgramDecl | ast.PolicyDecl)
            if (is_block or previous_block) and self.lines:
                self._flush_comments(self._attached_comments_start(item))
                self.blank()
                self.just_opened = True  # the blank line is already there
            self.item(item)
            previous_block = is_block

    def _attached_comments_start(self, item: ast.Item) -> int:
        """Where the comments right above ``item`` (no blank line between) begin."""
        index = self.next_comment
        while index < len(self.comments) and self.comments[index].span.start < item.span.start:
            index += 1
        start = item.span.start
        while index > self.next_comment:
            comment = self.comments[index - 1]
            if self.text.count("\n", comment.span.end, start) >= 2 or self._trails(comment):
                break
            start = comment.span.start
            index -= 1
        return start

    def item(self, item: ast.Item) -> None:
        s = item.span
        if isinstance(item, ast.ListDecl):
            self.line(f"list {item.name.name}{_optional(item.title)}", s.start, s.end)
        elif isinstance(item, ast.SegmentDecl):
            head = f"segment {item.name.name}{_optional(item.title)}"
            condition = f"where {expr_text(item.condition)}"
            if len(head) + 1 + len(condition) + INDENT_WIDTH * self.depth <= MAX_WIDTH:
                self.line(f"{head} {condition}", s.start, s.end)
            else:  # a long condition goes on its own lines
                end = item.title.span.end if item.title else item.name.span.end
                self.line(head, s.start, end, opens=True)
                self.depth += 1
                self.condition_lines(item.condition, s.end)
                self.depth -= 1
        elif isinstance(item, ast.AttributeDecl):
            self.line(f"attribute {item.name.name}: {item.type_name.name}", s.start, s.end)
        elif isinstance(item, ast.CurrencyDecl):
            self.line(f"currency {item.code.name}", s.start, s.end)
        elif isinstance(item, ast.EventDecl):
            fields = ", ".join(f"{f.name.name}: {f.type_name.name}" for f in item.fields)
            self.line(f"event {item.name.name}" + (f"({fields})" if fields else ""), s.start, s.end)
        elif isinstance(item, ast.CouponDecl):
            self.coupon(item)
        elif isinstance(item, ast.TemplateDecl):
            self.template(item)
        elif isinstance(item, ast.ProgramDecl):
            title = _optional(item.title)
            self.line(f"program {item.name.name}{title} {item.kind}", s.start, item.name.span.end, opens=True)
            self.depth += 1
            for tier in item.tiers:
                bound = "up to" if tier.kind == "up_to" else "above"
                self.line(
                    f"tier {literal_text(tier.percent)} {bound} {literal_text(tier.bound)}",
                    tier.span.start,
                    tier.span.end,
                )
            self.close(item)
        elif isinstance(item, ast.PolicyDecl):
            self.line("policy", s.start, s.start + len("policy"), opens=True)
            self.depth += 1
            for rule in item.rules:
                self.line(_policy_rule(rule), rule.span.start, rule.span.end)
            self.close(item)
        elif isinstance(item, ast.GroupDecl):
            text = f"group {item.name.name}{_optional(item.title)}"
            if item.program is not None:
                text += f" with program {item.program.name}"
            if item.default:
                text += " default"
            self.line(text, s.start, s.end)
        else:
            self.scenario(item)

    def condition_lines(self, condition: ast.Expr, end: int) -> None:
        """`where A`, or when that is too long, `where A` / `and B` / `and C` on lines of
        their own (the parts of a top-level chain of `and`, or of `or`)."""
        whole = f"where {expr_text(condition)}"
        if len(whole) + INDENT_WIDTH * self.depth <= MAX_WIDTH or not _is_logic(condition):
            self.line(whole, condition.span.start, end)
            return
        assert isinstance(condition, ast.Binary)
        op, parts = condition.op, []
        node: ast.Expr = condition
        while isinstance(node, ast.Binary) and node.op == op:
            parts.append(node.right)
            node = node.left
        parts.append(node)
        parts.reverse()
        minimum = _PRECEDENCE[op]
        for index, part in enumerate(parts):
            keyword = "where" if index == 0 else op
            start = condition.span.start if index == 0 else part.span.start
            self.line(f"{keyword} {_wrap(part, minimum if index == 0 else minimum + 1)}", start, part.span.end)

    def coupon(self, item: ast.CouponDecl) -> None:
        options = [(_coupon_option(o), o) for o in item.options]
        one_line = f"coupon {item.name.name}" + "".join(f" {text}" for text, _ in options)
        if len(one_line) + INDENT_WIDTH * self.depth <= MAX_WIDTH:
            self.line(one_line, item.span.start, item.span.end)
            return
        self.line(f"coupon {item.name.name}", item.span.start, item.name.span.end, opens=True)
        self.depth += 1
        for text, option in options:
            self.line(text, option.span.start, option.span.end)
        self.depth -= 1

    def template(self, item: ast.TemplateDecl) -> None:
        self.line(f"template {item.name.name} {item.channel}", item.span.start, item.name.span.end, opens=True)
        self.depth += 1
        for setting in item.settings:
            self.line(_template_setting(setting), setting.span.start, setting.span.end)
        for lang in item.langs:
            self.line(f"lang {lang.lang.name}", lang.span.start, lang.lang.span.end, opens=True)
            self.depth += 1
            for part in lang.parts:
                self.line(_template_setting(part), part.span.start, part.span.end)
            self.depth -= 1
        self.close(item)

    def scenario(self, item: ast.Scenario) -> None:
        if isinstance(item, ast.Broadcast):
            self.broadcast(item)
            return
        if not item.anonymous:
            end = item.title.span.end if item.title else item.name.span.end
            self.line(f"scenario {item.name.name}{_optional(item.title)}", item.span.start, end, opens=True)
            self.depth += 1
        for header in item.headers:
            self.line(header_text(header), header.span.start, header.span.end)
        self.steps(item.steps)
        if not item.anonymous:
            self.close(item)

    def broadcast(self, item: ast.Broadcast) -> None:
        """Always the block form: a file's last broadcast may leave out its `end`, and gets it."""
        head_end = (item.at or item.audience).span.end
        self.line(broadcast_head_text(item), item.span.start, head_end, opens=True)
        self.depth += 1
        self.steps(item.steps)
        if not item.steps or item.steps[-1].span.end < item.span.end:
            self.close(item)  # written with its `end`
            return
        self.depth -= 1
        self.just_opened = True
        self.line("end", item.span.end, item.span.end)

    # ------------------------------------------------------------ steps

    def steps(self, steps: tuple[ast.Step, ...]) -> None:
        for step in steps:
            self.step(step)

    def block(self, steps: tuple[ast.Step, ...]) -> None:
        self.depth += 1
        self.steps(steps)
        self.depth -= 1

    def step(self, step: ast.Step) -> None:
        label = f"@{step.label.name} " if step.label is not None else ""
        start = step.span.start
        if isinstance(step, ast.If):
            for index, branch in enumerate(step.branches):
                keyword = "if" if index == 0 else "elif"
                self.line(
                    f"{label if index == 0 else ''}{keyword} {expr_text(branch.condition)}",
                    start if index == 0 else branch.span.start,
                    branch.condition.span.end,
                    opens=True,
                )
                self.block(branch.steps)
            if step.else_ is not None:
                self.line("else", step.else_.span.start, step.else_.span.start + len("else"), opens=True)
                self.block(step.else_.steps)
            self.depth += 1
            self.close(step)
        elif isinstance(step, ast.Bands):
            self.line(f"{label}bands {expr_text(step.subject)}", start, step.subject.span.end, opens=True)
            self.depth += 1
            for band in step.bands:
                end = (band.high or band.low or step.subject).span.end
                self.line(_band_range(band), band.span.start, end, opens=True)
                self.block(band.steps)
            self.close(step)
        elif isinstance(step, ast.Split):
            head = f"{label}split" + (" per run" if step.per_run else "")
            if step.holdout is None:
                end = step.per_run.span.end if step.per_run else start + len(label) + len("split")
                self.line(head, start, end, opens=True)
            else:
                holdout = f"with {literal_text(step.holdout.weight)} control"
                self.line(f"{head} {holdout}", start, step.holdout.span.end, opens=True)
            self.depth += 1
            for arm in step.arms:
                if isinstance(arm, ast.Control):
                    self.line(f"control {literal_text(arm.weight)}", arm.span.start, arm.span.end)
                else:
                    self.line(
                        f"variant {arm.name.name} {literal_text(arm.weight)}",
                        arm.span.start,
                        arm.weight.span.end,
                        opens=True,
                    )
                    self.block(arm.steps)
            self.close(step)
        elif isinstance(step, ast.WaitFor):
            text = f"{label}wait for {step.event.name}"
            if step.where is not None:
                text += f" where {expr_text(step.where)}"
            text += f" up to {expr_text(step.timeout)}"
            if step.on_timeout is None:
                self.line(text, start, step.span.end)
                return
            self.line(text, start, step.timeout.span.end)
            timeout = step.on_timeout
            self.line("on timeout", timeout.span.start, timeout.span.start + len("on timeout"), opens=True)
            self.block(timeout.steps)
            self.depth += 1
            self.close(timeout)
        else:
            self.line(label + simple_step_text(step), start, step.span.end)


INDENT_WIDTH = len(INDENT)


def _coupon_option(option: ast.CouponOption) -> str:
    if isinstance(option, ast.CouponDiscount):
        return f"discount {literal_text(option.amount)}"
    if isinstance(option, ast.CouponCode):
        return f"code {string_text(option.code.value)}"
    if isinstance(option, ast.CouponPool):
        warn = f" warn below {literal_text(option.warn_below)}" if option.warn_below is not None else ""
        return f"from pool {string_text(option.path.value)}{warn}"
    if isinstance(option, ast.CouponGenerated):
        return f"generated {string_text(option.pattern.value)}"
    if isinstance(option, ast.CouponForList):
        return f"for list {option.list.name}"
    if isinstance(option, ast.CouponForOffer):
        return "for offer " + ", ".join(string_text(o.value) for o in option.offers)
    if isinstance(option, ast.CouponValidUntil):
        return f"valid {valid_until_text(option.until)}"
    return f"valid {literal_text(option.duration)}"


def valid_until_text(until: ast.ValidUntil) -> str:
    return f"until {literal_text(until.date)}" if until.date is not None else "until end of month"


def _day_range(days: ast.DayRange) -> str:
    return days.first + (f"-{days.last}" if days.last is not None else "")


def date_trigger_text(header: ast.DateTrigger) -> str:
    offset = ""
    if header.offset is not None:
        offset = f" {'minus' if header.minus else 'plus'} {literal_text(header.offset)}"
    once = " once" if header.once else ""
    return f"on date {expr_text(header.date)}{offset} at {literal_text(header.time)}{once}"


def _template_setting(setting: ast.TemplateSetting) -> str:
    if isinstance(setting, ast.TemplateFrom):
        parts = ["from"]
        if setting.name is not None:
            parts.append(string_text(setting.name.value))
        if setting.address is not None:
            parts.append(f"<{setting.address.value}>")
        return " ".join(parts)
    if isinstance(setting, ast.TemplateReplyTo):
        return f"reply to <{setting.address.value}>"
    if isinstance(setting, ast.TemplateFallback):
        return f"fallback {setting.lang.name}"
    if isinstance(setting, ast.TemplateTransactional):
        return "transactional"
    return f"{setting.key} {string_text(setting.value.value)}"


def _policy_rule(rule: ast.PolicyCap | ast.PolicyRate | ast.QuietHours | ast.SendWindow) -> str:
    if isinstance(rule, ast.PolicyCap):
        return f"{rule.channel} at most {literal_text(rule.count)} per {literal_text(rule.window)}"
    if isinstance(rule, ast.PolicyRate):
        return f"{rule.provider.name} at most {literal_text(rule.count)} per {rule.unit}"
    return header_text(rule)


def _band_range(band: ast.Band) -> str:
    if band.low is None:
        assert band.high is not None
        return f"below {literal_text(band.high)}"
    if band.high is None:
        return f"from {literal_text(band.low)}"
    return f"from {literal_text(band.low)} to {literal_text(band.high)}"


def broadcast_head_text(item: ast.Broadcast) -> str:
    """`broadcast NAME ["title"] to segment|list NAME [at DATE TIME [local|"zone"]]`."""
    text = f"broadcast {item.name.name}{_optional(item.title)} to {item.audience.kind} {item.audience.name.name}"
    if item.at is not None:
        text += f" at {literal_text(item.at.date)} {literal_text(item.at.time)}"
        if item.at.local:
            text += " local"
        elif item.at.zone is not None:
            text += f" {string_text(item.at.zone.value)}"
    return text


def header_text(header: ast.Header) -> str:
    if isinstance(header, ast.Trigger | ast.ExitGoal):
        keyword = "on" if isinstance(header, ast.Trigger) else "exit when"
        where = f" where {expr_text(header.where)}" if header.where is not None else ""
        return f"{keyword} {header.event.name}{where}"
    if isinstance(header, ast.EntryEvery):
        return "entry every time"
    if isinstance(header, ast.EntryOnce):
        return f"entry once per {header.scope}"
    if isinstance(header, ast.EntryAtMost):
        window = f" per {literal_text(header.window)}" if header.window is not None else ""
        return f"entry at most {literal_text(header.count)} per {header.scope}{window}"
    if isinstance(header, ast.FrequencyCap):
        per_contact = " per contact" if header.per_contact else ""
        return f"frequency at most {literal_text(header.count)}{per_contact} per {literal_text(header.window)}"
    if isinstance(header, ast.QuietHours):
        return f"quiet hours {literal_text(header.start)} to {literal_text(header.end)}"
    if isinstance(header, ast.IgnoreOrders):
        return f"ignore orders older than {literal_text(header.age)}"
    if isinstance(header, ast.DateTrigger):
        return date_trigger_text(header)
    if isinstance(header, ast.SendWindow):
        days = ", ".join(_day_range(r) for r in header.ranges)
        return f"send only {days} {literal_text(header.start)} to {literal_text(header.end)}"
    return f"attribution {literal_text(header.window)}"


def simple_step_text(step: ast.Step) -> str:
    if isinstance(step, ast.Wait):
        return f"wait {expr_text(step.duration)}"
    if isinstance(step, ast.WaitUntil):
        return f"wait until {literal_text(step.time)}"
    if isinstance(step, ast.WaitUntilDay):
        day = "next weekday" if step.day == "weekday" else step.day
        return f"wait until {day} {literal_text(step.time)}"
    if isinstance(step, ast.WaitUntilMonthDay):
        return f"wait until {literal_text(step.day)}{step.suffix.name} of next month {literal_text(step.time)}"
    if isinstance(step, ast.WaitUntilValue):
        return f"wait until {expr_text(step.value)}"
    if isinstance(step, ast.Stop):
        return "stop"
    if isinstance(step, ast.StopIf):
        return f"stop {'unless' if step.negate else 'if'} {expr_text(step.condition)}"
    if isinstance(step, ast.Send):
        text = f"send {step.channel} {step.template.name}"
        for option in step.options:
            if isinstance(option, ast.WithCoupon):
                text += f" with coupon {option.coupon.name}"
            else:
                text += f" with products {expr_text(option.products)}"
        return text
    if isinstance(step, ast.AddToList):
        return f"add to list {step.list.name}"
    if isinstance(step, ast.RemoveFromList):
        return f"remove from list {step.list.name}"
    if isinstance(step, ast.IssueCoupon):
        valid = f" valid {literal_text(step.valid)}" if step.valid is not None else ""
        if step.until is not None:
            valid = f" valid {valid_until_text(step.until)}"
        return f"issue coupon {step.coupon.name}{valid}"
    if isinstance(step, ast.AwardBonus):
        return "award bonus" + (f" {expr_text(step.amount)}" if step.amount is not None else "")
    if isinstance(step, ast.SetGroup):
        return f"set group {step.group.name}"
    if isinstance(step, ast.SetAttribute):
        return f"set attribute {step.name.name} = {expr_text(step.value)}"
    if isinstance(step, ast.CallWebhook):
        fields = ", ".join(f"{f.name.name} = {expr_text(f.value)}" for f in step.fields)
        return f"call webhook {string_text(step.url.value)}" + (f" with {fields}" if fields else "")
    raise AssertionError(f"not a simple step: {type(step).__name__}")
