"""Turning Lark's parse tree into the typed AST of ``scn.interpreter.ast``."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from pathlib import PurePath
from typing import Any, cast

from lark import Token, Transformer, v_args
from lark.tree import Meta

from ..interpreter import ast, codes
from ..interpreter.diagnostics import DiagnosticSink
from ..interpreter.span import Span, span_of_offsets

_MONEY = re.compile(r"(\d+(?:\.\d+)?) ?([A-Z]{3})")
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_BINARY_RULES: dict[str, ast.BinaryOp] = {
    "or_": "or",
    "and_": "and",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
    "in_": "in",
    "not_in": "not in",
    "add": "+",
    "sub": "-",
    "mul": "*",
    "div": "/",
}

_Children = list[Any]


def anonymous_scenario_name(file: str) -> str:
    """The name a scenario without a `scenario` wrapper gets: its file's stem."""
    stem = PurePath(file).stem or "scenario"
    name = re.sub(r"[^A-Za-z0-9_]", "_", stem)
    return name if not name[0].isdigit() else f"_{name}"


@v_args(meta=True)
class ToAst(Transformer[Token, list[ast.Item]]):
    """Builds AST nodes bottom-up; every node gets the span of its rule or token."""

    def __init__(self, file: str, text: str, sink: DiagnosticSink) -> None:
        super().__init__(visit_tokens=False)
        self.file = file
        self.text = text
        self.sink = sink

    # ------------------------------------------------------------ helpers

    def _span(self, meta: Meta) -> Span:
        if getattr(meta, "empty", True):
            return Span.whole_file(self.file)
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column, meta.start_pos, meta.end_pos)

    def _tspan(self, token: Token) -> Span:
        start = token.start_pos or 0
        end = token.end_pos if token.end_pos is not None else start + len(str(token.value))
        return Span(
            self.file,
            token.line or 1,
            token.column or 1,
            token.end_line or 1,
            token.end_column or 1,
            start,
            end,
        )

    def _ident(self, token: Token) -> ast.Ident:
        return ast.Ident(name=str(token.value), span=self._tspan(token))

    def _string_lit(self, token: Token) -> ast.StringLit:
        raw = str(token.value)[1:-1]
        base = (token.start_pos or 0) + 1

        def unescape(match: re.Match[str]) -> str:
            escape = match.group(1)
            if escape in _SIMPLE_ESCAPES:
                return _SIMPLE_ESCAPES[escape]
            if escape.startswith("u") and len(escape) == 5:
                return chr(int(escape[1:], 16))
            start = base + match.start()
            self.sink.report(
                codes.BAD_ESCAPE,
                f"unknown escape `\\{escape}` in a string",
                span_of_offsets(self.file, self.text, start, start + 2),
            )
            return escape

        return ast.StringLit(value=_ESCAPE.sub(unescape, raw), span=self._tspan(token))

    def _optional_string(self, token: Token | None) -> ast.StringLit | None:
        return self._string_lit(token) if token is not None else None

    def _address(self, token: Token) -> ast.StringLit:
        return ast.StringLit(value=str(token.value)[1:-1], span=self._tspan(token))

    def _literal(self, token: Token) -> ast.Literal_:
        """A literal from its token; the token type decides (a `30 min` fix retypes it)."""
        value, span = str(token.value), self._tspan(token)
        kind = token.type
        if kind == "NUMBER":
            return ast.NumberLit(value=Decimal(value), span=span)
        if kind == "MONEY":
            match = _MONEY.fullmatch(value)
            assert match is not None
            return ast.MoneyLit(amount=Decimal(match.group(1)), currency=match.group(2), span=span)
        if kind == "PERCENT":
            return ast.PercentLit(value=Decimal(value[:-1]), span=span)
        if kind == "DURATION":
            parts = tuple((int(n), unit) for n, unit in _DURATION_PART.findall(value))
            return ast.DurationLit(parts=parts, span=span)
        if kind == "DATE":
            year, month, day = (int(p) for p in value.split("-"))
            return ast.DateLit(year=year, month=month, day=day, span=span)
        if kind == "TIME":
            hour, minute = (int(p) for p in value.split(":"))
            return ast.TimeLit(hour=hour, minute=minute, span=span)
        if kind == "STRING":
            return self._string_lit(token)
        raise AssertionError(f"not a literal: {kind}")

    def _percent_lit(self, token: Token) -> ast.PercentLit:
        return cast(ast.PercentLit, self._literal(token))

    def _money_lit(self, token: Token) -> ast.MoneyLit:
        return cast(ast.MoneyLit, self._literal(token))

    def _duration_token(self, token: Token) -> ast.DurationLit:
        return cast(ast.DurationLit, self._literal(token))

    def _time_token(self, token: Token) -> ast.TimeLit:
        return cast(ast.TimeLit, self._literal(token))

    def _number_token(self, token: Token) -> ast.NumberLit:
        return cast(ast.NumberLit, self._literal(token))

    @staticmethod
    def _present(children: _Children) -> list[Any]:
        return [c for c in children if c is not None]

    # ------------------------------------------------------------ file

    def start(self, meta: Meta, children: _Children) -> list[ast.Item]:
        return list(children)

    # ------------------------------------------------------------ declarations

    def list_decl(self, meta: Meta, c: _Children) -> ast.ListDecl:
        return ast.ListDecl(name=self._ident(c[0]), title=self._optional_string(c[1]), span=self._span(meta))

    def segment_decl(self, meta: Meta, c: _Children) -> ast.SegmentDecl:
        return ast.SegmentDecl(
            name=self._ident(c[0]), title=self._optional_string(c[1]), condition=c[2], span=self._span(meta)
        )

    def attribute_decl(self, meta: Meta, c: _Children) -> ast.AttributeDecl:
        return ast.AttributeDecl(name=self._ident(c[0]), type_name=self._ident(c[1]), span=self._span(meta))

    def currency_decl(self, meta: Meta, c: _Children) -> ast.CurrencyDecl:
        return ast.CurrencyDecl(code=self._ident(c[0]), span=self._span(meta))

    def event_decl(self, meta: Meta, c: _Children) -> ast.EventDecl:
        fields = tuple(f for f in c[1:] if isinstance(f, ast.FieldDecl))
        return ast.EventDecl(name=c[0], fields=fields, span=self._span(meta))

    def field_decl(self, meta: Meta, c: _Children) -> ast.FieldDecl:
        return ast.FieldDecl(name=self._ident(c[0]), type_name=self._ident(c[1]), span=self._span(meta))

    def coupon_decl(self, meta: Meta, c: _Children) -> ast.CouponDecl:
        return ast.CouponDecl(name=self._ident(c[0]), options=tuple(c[1:]), span=self._span(meta))

    def coupon_discount(self, meta: Meta, c: _Children) -> ast.CouponDiscount:
        amount = cast(ast.PercentLit | ast.MoneyLit, self._literal(c[0]))
        return ast.CouponDiscount(amount=amount, span=self._span(meta))

    def coupon_code(self, meta: Meta, c: _Children) -> ast.CouponCode:
        return ast.CouponCode(code=self._string_lit(c[0]), span=self._span(meta))

    def coupon_pool(self, meta: Meta, c: _Children) -> ast.CouponPool:
        warn = self._number_token(c[1]) if c[1] is not None else None
        return ast.CouponPool(path=self._string_lit(c[0]), warn_below=warn, span=self._span(meta))

    def coupon_generated(self, meta: Meta, c: _Children) -> ast.CouponGenerated:
        return ast.CouponGenerated(pattern=self._string_lit(c[0]), span=self._span(meta))

    def coupon_for_list(self, meta: Meta, c: _Children) -> ast.CouponForList:
        return ast.CouponForList(list=self._ident(c[0]), span=self._span(meta))

    def coupon_for_offer(self, meta: Meta, c: _Children) -> ast.CouponForOffer:
        return ast.CouponForOffer(offers=tuple(self._string_lit(t) for t in c), span=self._span(meta))

    def coupon_valid(self, meta: Meta, c: _Children) -> ast.CouponValid:
        return ast.CouponValid(duration=self._duration_token(c[0]), span=self._span(meta))

    def template_decl(self, meta: Meta, c: _Children) -> ast.TemplateDecl:
        rest = c[2:]
        return ast.TemplateDecl(
            name=self._ident(c[0]),
            channel=c[1],
            settings=tuple(x for x in rest if not isinstance(x, ast.TemplateLang)),
            langs=tuple(x for x in rest if isinstance(x, ast.TemplateLang)),
            span=self._span(meta),
        )

    def channel(self, meta: Meta, c: _Children) -> str:
        return str(c[0].value)

    def template_from(self, meta: Meta, c: _Children) -> ast.TemplateFrom:
        address = self._address(c[1]) if c[1] is not None else None
        return ast.TemplateFrom(name=self._optional_string(c[0]), address=address, span=self._span(meta))

    def template_reply_to(self, meta: Meta, c: _Children) -> ast.TemplateReplyTo:
        return ast.TemplateReplyTo(address=self._address(c[0]), span=self._span(meta))

    def template_fallback(self, meta: Meta, c: _Children) -> ast.TemplateFallback:
        return ast.TemplateFallback(lang=self._ident(c[0]), span=self._span(meta))

    def template_lang(self, meta: Meta, c: _Children) -> ast.TemplateLang:
        return ast.TemplateLang(lang=self._ident(c[0]), parts=tuple(c[1:]), span=self._span(meta))

    def template_part(self, meta: Meta, c: _Children) -> ast.TemplatePart:
        return ast.TemplatePart(key=c[0], value=self._string_lit(c[1]), span=self._span(meta))

    def part_key(self, meta: Meta, c: _Children) -> str:
        return str(c[0].value)

    def program_decl(self, meta: Meta, c: _Children) -> ast.ProgramDecl:
        return ast.ProgramDecl(
            name=self._ident(c[0]),
            title=self._optional_string(c[1]),
            kind=c[2],
            tiers=tuple(c[3:]),
            span=self._span(meta),
        )

    def program_kind(self, meta: Meta, c: _Children) -> str:
        return str(c[0].value)

    def tier_up_to(self, meta: Meta, c: _Children) -> ast.Tier:
        return ast.Tier(
            percent=self._percent_lit(c[0]), kind="up_to", bound=self._money_lit(c[1]), span=self._span(meta)
        )

    def tier_above(self, meta: Meta, c: _Children) -> ast.Tier:
        return ast.Tier(
            percent=self._percent_lit(c[0]), kind="above", bound=self._money_lit(c[1]), span=self._span(meta)
        )

    def group_decl(self, meta: Meta, c: _Children) -> ast.GroupDecl:
        return ast.GroupDecl(
            name=self._ident(c[0]),
            title=self._optional_string(c[1]),
            program=c[2],
            default=c[3] is not None,
            span=self._span(meta),
        )

    def group_program(self, meta: Meta, c: _Children) -> ast.Ident:
        return self._ident(c[0])

    def group_default(self, meta: Meta, c: _Children) -> bool:
        return True

    # ------------------------------------------------------------ scenarios

    def _scenario(
        self, meta: Meta, name: ast.Ident, title: ast.StringLit | None, body: _Children, anonymous: bool
    ) -> ast.Scenario:
        headers = tuple(x for x in body if not isinstance(x, ast.StepNode))
        steps = tuple(x for x in body if isinstance(x, ast.StepNode))
        return ast.Scenario(
            name=name,
            title=title,
            headers=cast(tuple[ast.Header, ...], headers),
            steps=cast(tuple[ast.Step, ...], steps),
            anonymous=anonymous,
            span=self._span(meta),
        )

    def scenario(self, meta: Meta, c: _Children) -> ast.Scenario:
        return self._scenario(meta, self._ident(c[0]), self._optional_string(c[1]), c[2:], False)

    def anon_scenario(self, meta: Meta, c: _Children) -> ast.Scenario:
        span = self._span(meta)
        name = ast.Ident(name=anonymous_scenario_name(self.file), span=span.at_start())
        return self._scenario(meta, name, None, c, True)

    def event_name(self, meta: Meta, c: _Children) -> ast.EventRef:
        return ast.EventRef(parts=tuple(self._ident(t) for t in c), span=self._span(meta))

    def trigger(self, meta: Meta, c: _Children) -> ast.Trigger:
        return ast.Trigger(event=c[0], where=c[1], span=self._span(meta))

    def entry_every(self, meta: Meta, c: _Children) -> ast.EntryEvery:
        return ast.EntryEvery(span=self._span(meta))

    def entry_once(self, meta: Meta, c: _Children) -> ast.EntryOnce:
        return ast.EntryOnce(scope=c[0], span=self._span(meta))

    def entry_at_most(self, meta: Meta, c: _Children) -> ast.EntryAtMost:
        window = self._duration_token(c[2]) if c[2] is not None else None
        return ast.EntryAtMost(count=self._number_token(c[0]), scope=c[1], window=window, span=self._span(meta))

    def scope(self, meta: Meta, c: _Children) -> str:
        return str(c[0].value)

    def frequency_cap(self, meta: Meta, c: _Children) -> ast.FrequencyCap:
        return ast.FrequencyCap(
            count=self._number_token(c[0]),
            per_contact=c[1] is not None,
            window=self._duration_token(c[2]),
            span=self._span(meta),
        )

    def per_contact(self, meta: Meta, c: _Children) -> bool:
        return True

    def exit_goal(self, meta: Meta, c: _Children) -> ast.ExitGoal:
        return ast.ExitGoal(event=c[0], where=c[1], span=self._span(meta))

    def quiet_hours(self, meta: Meta, c: _Children) -> ast.QuietHours:
        return ast.QuietHours(start=self._time_token(c[0]), end=self._time_token(c[1]), span=self._span(meta))

    def attribution(self, meta: Meta, c: _Children) -> ast.Attribution:
        return ast.Attribution(window=self._duration_token(c[0]), span=self._span(meta))

    # ------------------------------------------------------------ steps

    def labeled_step(self, meta: Meta, c: _Children) -> ast.Step:
        label_token: Token = c[0]
        label = ast.Ident(name=str(label_token.value)[1:], span=self._tspan(label_token))
        step: ast.Step = c[1]
        return cast(ast.Step, _replace(step, label=label, span=self._span(meta)))

    def block(self, meta: Meta, c: _Children) -> tuple[ast.Step, ...]:
        return tuple(c)

    def wait_duration(self, meta: Meta, c: _Children) -> ast.Wait:
        return ast.Wait(duration=c[0], span=self._span(meta))

    def wait_until(self, meta: Meta, c: _Children) -> ast.WaitUntil:
        return ast.WaitUntil(time=self._time_token(c[0]), span=self._span(meta))

    def wait_for(self, meta: Meta, c: _Children) -> ast.WaitFor:
        return ast.WaitFor(event=c[0], where=c[1], timeout=c[2], on_timeout=c[3], span=self._span(meta))

    def on_timeout(self, meta: Meta, c: _Children) -> ast.Block:
        return ast.Block(steps=c[0], span=self._span(meta))

    def if_step(self, meta: Meta, c: _Children) -> ast.If:
        span = self._span(meta)
        first = ast.Branch(condition=c[0], steps=c[1], span=span.to(c[0].span))
        elifs = tuple(x for x in c[2:] if isinstance(x, ast.Branch))
        else_ = c[-1] if isinstance(c[-1], ast.Block) else None
        return ast.If(branches=(first, *elifs), else_=else_, span=span)

    def elif_clause(self, meta: Meta, c: _Children) -> ast.Branch:
        return ast.Branch(condition=c[0], steps=c[1], span=self._span(meta))

    def else_clause(self, meta: Meta, c: _Children) -> ast.Block:
        return ast.Block(steps=c[0], span=self._span(meta))

    def bands_step(self, meta: Meta, c: _Children) -> ast.Bands:
        return ast.Bands(subject=c[0], bands=tuple(c[1:]), span=self._span(meta))

    def band_between(self, meta: Meta, c: _Children) -> ast.Band:
        return ast.Band(low=c[0], high=c[1], steps=c[2], span=self._span(meta))

    def band_from(self, meta: Meta, c: _Children) -> ast.Band:
        return ast.Band(low=c[0], high=None, steps=c[1], span=self._span(meta))

    def band_below(self, meta: Meta, c: _Children) -> ast.Band:
        return ast.Band(low=None, high=c[0], steps=c[1], span=self._span(meta))

    def split_step(self, meta: Meta, c: _Children) -> ast.Split:
        return ast.Split(arms=tuple(c), span=self._span(meta))

    def variant(self, meta: Meta, c: _Children) -> ast.Variant:
        return ast.Variant(name=self._ident(c[0]), weight=self._percent_lit(c[1]), steps=c[2], span=self._span(meta))

    def control(self, meta: Meta, c: _Children) -> ast.Control:
        return ast.Control(weight=self._percent_lit(c[0]), span=self._span(meta))

    def stop_step(self, meta: Meta, c: _Children) -> ast.Stop:
        return ast.Stop(span=self._span(meta))

    def stop_if(self, meta: Meta, c: _Children) -> ast.StopIf:
        return ast.StopIf(condition=c[1], negate=False, span=self._span(meta))

    def stop_unless(self, meta: Meta, c: _Children) -> ast.StopIf:
        return ast.StopIf(condition=c[1], negate=True, span=self._span(meta))

    def send_step(self, meta: Meta, c: _Children) -> ast.Send:
        return ast.Send(channel=c[0], template=self._ident(c[1]), options=tuple(c[2:]), span=self._span(meta))

    def with_coupon(self, meta: Meta, c: _Children) -> ast.WithCoupon:
        return ast.WithCoupon(coupon=self._ident(c[0]), span=self._span(meta))

    def with_products(self, meta: Meta, c: _Children) -> ast.WithProducts:
        return ast.WithProducts(products=c[0], span=self._span(meta))

    def add_to_list(self, meta: Meta, c: _Children) -> ast.AddToList:
        return ast.AddToList(list=self._ident(c[0]), span=self._span(meta))

    def remove_from_list(self, meta: Meta, c: _Children) -> ast.RemoveFromList:
        return ast.RemoveFromList(list=self._ident(c[0]), span=self._span(meta))

    def issue_coupon(self, meta: Meta, c: _Children) -> ast.IssueCoupon:
        valid = self._duration_token(c[1]) if c[1] is not None else None
        return ast.IssueCoupon(coupon=self._ident(c[0]), valid=valid, span=self._span(meta))

    def award_bonus(self, meta: Meta, c: _Children) -> ast.AwardBonus:
        return ast.AwardBonus(amount=c[0], span=self._span(meta))

    def set_group(self, meta: Meta, c: _Children) -> ast.SetGroup:
        return ast.SetGroup(group=self._ident(c[0]), span=self._span(meta))

    def set_attribute(self, meta: Meta, c: _Children) -> ast.SetAttribute:
        return ast.SetAttribute(name=self._ident(c[0]), value=c[1], span=self._span(meta))

    def call_webhook(self, meta: Meta, c: _Children) -> ast.CallWebhook:
        fields = tuple(f for f in c[1:] if isinstance(f, ast.WebhookField))
        return ast.CallWebhook(url=self._string_lit(c[0]), fields=fields, span=self._span(meta))

    def webhook_field(self, meta: Meta, c: _Children) -> ast.WebhookField:
        return ast.WebhookField(name=self._ident(c[0]), value=c[1], span=self._span(meta))

    # ------------------------------------------------------------ expressions

    def __default__(self, data: str, children: _Children, meta: Meta) -> Any:
        op = _BINARY_RULES.get(data)
        if op is None:
            raise AssertionError(f"no AST rule for {data}")
        return ast.Binary(op=op, left=children[0], right=children[1], span=self._span(meta))

    def not_(self, meta: Meta, c: _Children) -> ast.Unary:
        return ast.Unary(op="not", operand=c[0], span=self._span(meta))

    def neg(self, meta: Meta, c: _Children) -> ast.Unary:
        return ast.Unary(op="-", operand=c[0], span=self._span(meta))

    def true(self, meta: Meta, c: _Children) -> ast.BoolLit:
        return ast.BoolLit(value=True, span=self._span(meta))

    def false(self, meta: Meta, c: _Children) -> ast.BoolLit:
        return ast.BoolLit(value=False, span=self._span(meta))

    def _literal_rule(self, meta: Meta, c: _Children) -> ast.Literal_:
        return self._literal(c[0])

    number = money = percent = duration = string = date = time = _literal_rule

    def path(self, meta: Meta, c: _Children) -> ast.Path:
        return ast.Path(parts=tuple(self._ident(t) for t in c), span=self._span(meta))

    def call(self, meta: Meta, c: _Children) -> ast.Call:
        args = [a for a in c[1:] if a is not None]
        return ast.Call(
            func=self._ident(c[0]),
            args=tuple(a for a in args if not isinstance(a, ast.KwArg)),
            kwargs=tuple(a for a in args if isinstance(a, ast.KwArg)),
            span=self._span(meta),
        )

    def kwarg(self, meta: Meta, c: _Children) -> ast.KwArg:
        return ast.KwArg(name=self._ident(c[0]), value=c[1], span=self._span(meta))

    def list_lit(self, meta: Meta, c: _Children) -> ast.ListLit:
        return ast.ListLit(items=tuple(self._present(c)), span=self._span(meta))


def _replace(node: ast.Node, **changes: Any) -> ast.Node:
    return replace(node, **changes)
