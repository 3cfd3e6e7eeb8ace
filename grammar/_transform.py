"""Building the typed AST of ``scn.interpreter.ast`` while Lark parses.

ToAst is Lark's inline transformer (``Lark(transformer=...)``): Lark's LALR parser
calls its method for a rule as it reduces the rule, so each rule becomes its AST node at
once and no parse tree is built. Every token is kept among the children
(keep_all_tokens), so a node's span simply runs from its first child to its last,
keywords included, without Lark's position propagation.

Operators and steps with blocks pass through _context.py, which bounds how deep
the tree may grow.

The parser is shared by the process; the file being parsed comes from a context
variable that `parse()` sets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Literal, cast

from lark import Token, Transformer
from msgspec.structs import replace

from ..interpreter import ast, codes
from ..interpreter.span import Span, span_of_offsets
from ._context import bounded_operator, bounded_step, current_file, relabelled

_MONEY = re.compile(r"(\d+(?:\.\d+)?) ?([A-Z]{3})")
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
#: Terminals that carry a value (everything else is a keyword or punctuation).
_VALUE_TERMINALS = frozenset(
    {"NAME", "STRING", "NUMBER", "MONEY", "PERCENT", "DURATION", "DATE", "TIME", "LABEL", "ADDRESS"}
)
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


def token_span(file: str, token: Token) -> Span:
    start = token.start_pos or 0
    end = token.end_pos if token.end_pos is not None else start + len(str(token.value))
    return Span(file, token.line or 1, token.column or 1, token.end_line or 1, token.end_column or 1, start, end)


def _unknown_escapes(string: str) -> list[tuple[int, str]]:
    """Where a string literal (quotes included) has an escape STRING does not take, and
    which (such a character is kept as it is, without the backslash)."""
    return [
        (m.start(), m.group(1)) for m in _ESCAPE.finditer(string, 1, len(string) - 1) if _decode(m.group(1)) is None
    ]


def _decode(escape: str) -> str | None:
    if escape in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[escape]
    if escape.startswith("u") and len(escape) == 5:
        code = int(escape[1:], 16)
        # A surrogate (D800-DFFF) is half of a UTF-16 pair, not a character: no text holds it.
        return None if 0xD800 <= code <= 0xDFFF else chr(code)
    return None


def _unescape(match: re.Match[str]) -> str:
    decoded = _decode(match.group(1))
    return match.group(1) if decoded is None else decoded


_POSITIONED = (Token, ast.Node)


def _first(children: _Children) -> Token | ast.Node | None:
    for child in children:
        if isinstance(child, _POSITIONED):
            return child
        if isinstance(child, tuple) and child:
            return cast(ast.Node, child[0])
    return None


def _last(children: _Children) -> Token | ast.Node | None:
    for child in reversed(children):
        if isinstance(child, _POSITIONED):
            return child
        if isinstance(child, tuple) and child:
            return cast(ast.Node, child[-1])
    return None


def _values(children: _Children) -> _Children:
    """The children that mean something: no keywords, punctuation or missing options."""
    return [c for c in children if c is not None and not (isinstance(c, Token) and c.type not in _VALUE_TERMINALS)]


def _operator(rule: str) -> Callable[[ToAst, _Children], ast.Expr]:
    """The method for an operator's rule (`eq`, `add`, ...): ToAst.binary, told which."""

    def build(self: ToAst, c: _Children) -> ast.Expr:
        return self.binary(rule, c)

    build.__name__ = rule
    return build


class ToAst(Transformer[Token, Any]):
    """One method per grammar rule; each gets the rule's children, tokens included."""

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _span(children: _Children) -> Span:
        context = current_file.get()
        first, last = _first(children), _last(children)
        if first is None or last is None:
            return Span.whole_file(context.file)
        if isinstance(first, Token):
            line, column, start = first.line or 1, first.column or 1, first.start_pos or 0
        else:
            line, column, start = first.span.line, first.span.column, first.span.start
        if isinstance(last, Token):
            end_line, end_column = last.end_line or line, last.end_column or column
            end = last.end_pos if last.end_pos is not None else start
        else:
            end_line, end_column, end = last.span.end_line, last.span.end_column, last.span.end
        return Span(context.file, line, column, end_line, end_column, start, end)

    @staticmethod
    def _ident(token: Token) -> ast.Ident:
        return ast.Ident(name=str(token.value), span=token_span(current_file.get().file, token))

    @staticmethod
    def _string(token: Token) -> ast.StringLit:
        context = current_file.get()
        raw = str(token.value)[1:-1]
        value = raw
        if "\\" in raw:
            # STRING takes only the escapes of the language; the driver reads a string with
            # another (BAD_ESCAPE_STRING) as a string, and it is reported here, once taken.
            for offset, escape in _unknown_escapes(str(token.value)):
                start = (token.start_pos or 0) + offset
                where = span_of_offsets(context.file, context.text, start, start + 2)
                message = (
                    f"`\\{escape}` is half of a UTF-16 surrogate pair, not a character"
                    if escape[0] == "u"
                    else f"unknown escape `\\{escape}` in a string"
                )
                context.report(codes.BAD_ESCAPE, message, where)
            value = _ESCAPE.sub(_unescape, raw)
        return ast.StringLit(value=value, span=token_span(context.file, token))

    def _title(self, values: _Children, index: int) -> ast.StringLit | None:
        """The optional title string at ``index`` of a declaration's values."""
        if index < len(values) and isinstance(values[index], Token) and values[index].type == "STRING":
            return self._string(values[index])
        return None

    @staticmethod
    def _address(token: Token) -> ast.StringLit:
        return ast.StringLit(value=str(token.value)[1:-1], span=token_span(current_file.get().file, token))

    def _literal(self, token: Token) -> ast.Literal_:
        """A literal from its token; the token type decides (a `30 min` fix retypes it)."""
        value, span = str(token.value), token_span(current_file.get().file, token)
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
            return self._string(token)
        raise AssertionError(f"not a literal: {kind}")

    def _typed(self, token: Token, kind: type[ast.Node]) -> Any:
        node = self._literal(token)
        assert isinstance(node, kind), (token, kind)
        return node

    def _optional(self, token: Token | None, kind: type[ast.Node]) -> Any:
        return self._typed(token, kind) if token is not None else None

    # ------------------------------------------------------------ file

    def binary(self, rule: str, c: _Children) -> ast.Expr:
        """`a == b`, `a + b`, ...: the rule's name (eq, add, ...) says which operator."""
        node = ast.Binary(op=_BINARY_RULES[rule], left=c[0], right=c[2], span=self._span(c))
        return bounded_operator(node, [c[0], c[2]])

    # The operators' rules (the grammar's aliases in `?expr` ... `?product`).
    or_, and_, eq, ne, lt, le = (_operator(rule) for rule in ("or_", "and_", "eq", "ne", "lt", "le"))
    gt, ge, in_, add, sub, mul, div = (_operator(rule) for rule in ("gt", "ge", "in_", "add", "sub", "mul", "div"))

    def start(self, c: _Children) -> list[ast.Item]:
        return list(c)

    # ------------------------------------------------------------ declarations

    def list_decl(self, c: _Children) -> ast.ListDecl:
        v = _values(c)
        return ast.ListDecl(name=self._ident(v[0]), title=self._title(v, 1), span=self._span(c))

    def segment_decl(self, c: _Children) -> ast.SegmentDecl:
        v = _values(c)
        return ast.SegmentDecl(name=self._ident(v[0]), title=self._title(v, 1), condition=v[-1], span=self._span(c))

    def attribute_decl(self, c: _Children) -> ast.AttributeDecl:
        v = _values(c)
        return ast.AttributeDecl(name=self._ident(v[0]), type_name=self._ident(v[1]), span=self._span(c))

    def currency_decl(self, c: _Children) -> ast.CurrencyDecl:
        return ast.CurrencyDecl(code=self._ident(_values(c)[0]), span=self._span(c))

    def event_decl(self, c: _Children) -> ast.EventDecl:
        v = _values(c)
        fields = tuple(f for f in v[1:] if isinstance(f, ast.FieldDecl))
        return ast.EventDecl(name=v[0], fields=fields, span=self._span(c))

    def field_decl(self, c: _Children) -> ast.FieldDecl:
        v = _values(c)
        return ast.FieldDecl(name=self._ident(v[0]), type_name=self._ident(v[1]), span=self._span(c))

    def coupon_decl(self, c: _Children) -> ast.CouponDecl:
        v = _values(c)
        return ast.CouponDecl(name=self._ident(v[0]), options=tuple(v[1:]), span=self._span(c))

    def coupon_discount(self, c: _Children) -> ast.CouponDiscount:
        amount = self._literal(_values(c)[0])
        assert isinstance(amount, ast.PercentLit | ast.MoneyLit)
        return ast.CouponDiscount(amount=amount, span=self._span(c))

    def coupon_code(self, c: _Children) -> ast.CouponCode:
        return ast.CouponCode(code=self._string(_values(c)[0]), span=self._span(c))

    def coupon_pool(self, c: _Children) -> ast.CouponPool:
        v = _values(c)
        warn = self._typed(v[1], ast.NumberLit) if len(v) > 1 else None
        return ast.CouponPool(path=self._string(v[0]), warn_below=warn, span=self._span(c))

    def coupon_generated(self, c: _Children) -> ast.CouponGenerated:
        return ast.CouponGenerated(pattern=self._string(_values(c)[0]), span=self._span(c))

    def coupon_for_list(self, c: _Children) -> ast.CouponForList:
        return ast.CouponForList(list=self._ident(_values(c)[0]), span=self._span(c))

    def coupon_for_offer(self, c: _Children) -> ast.CouponForOffer:
        return ast.CouponForOffer(offers=tuple(self._string(t) for t in _values(c)), span=self._span(c))

    def coupon_valid(self, c: _Children) -> ast.CouponValid:
        return ast.CouponValid(duration=self._typed(_values(c)[0], ast.DurationLit), span=self._span(c))

    def coupon_valid_until(self, c: _Children) -> ast.CouponValidUntil:
        return ast.CouponValidUntil(until=c[1], span=self._span(c))

    def valid_until_date(self, c: _Children) -> ast.ValidUntil:
        return ast.ValidUntil(date=self._typed(c[1], ast.DateLit), span=self._span(c))

    def valid_until_end_of_month(self, c: _Children) -> ast.ValidUntil:
        return ast.ValidUntil(date=None, span=self._span(c))

    def template_decl(self, c: _Children) -> ast.TemplateDecl:
        v = _values(c)
        rest = v[2:]
        return ast.TemplateDecl(
            name=self._ident(v[0]),
            channel=v[1],
            settings=tuple(x for x in rest if not isinstance(x, ast.TemplateLang)),
            langs=tuple(x for x in rest if isinstance(x, ast.TemplateLang)),
            span=self._span(c),
        )

    def channel(self, c: _Children) -> str:
        return str(c[0].value)

    def template_from(self, c: _Children) -> ast.TemplateFrom:
        v = _values(c)
        name = next((self._string(t) for t in v if t.type == "STRING"), None)
        address = next((self._address(t) for t in v if t.type == "ADDRESS"), None)
        return ast.TemplateFrom(name=name, address=address, span=self._span(c))

    def template_reply_to(self, c: _Children) -> ast.TemplateReplyTo:
        return ast.TemplateReplyTo(address=self._address(_values(c)[0]), span=self._span(c))

    def template_fallback(self, c: _Children) -> ast.TemplateFallback:
        return ast.TemplateFallback(lang=self._ident(_values(c)[0]), span=self._span(c))

    def template_lang(self, c: _Children) -> ast.TemplateLang:
        v = _values(c)
        return ast.TemplateLang(lang=self._ident(v[0]), parts=tuple(v[1:]), span=self._span(c))

    def template_part(self, c: _Children) -> ast.TemplatePart:
        key = cast(ast.PartKey, str(c[0].value))
        return ast.TemplatePart(key=key, value=self._string(c[1]), span=self._span(c))

    def template_transactional(self, c: _Children) -> ast.TemplateTransactional:
        return ast.TemplateTransactional(span=self._span(c))

    def policy_decl(self, c: _Children) -> ast.PolicyDecl:
        return ast.PolicyDecl(rules=tuple(_values(c)), span=self._span(c))

    def policy_cap(self, c: _Children) -> ast.PolicyCap:
        v = _values(c)  # the channel is a keyword: not among them
        return ast.PolicyCap(channel=cast(ast.Channel, str(c[0].value)), count=self._typed(v[0], ast.NumberLit),
                             window=self._typed(v[1], ast.DurationLit), span=self._span(c))  # fmt: skip

    def policy_rate(self, c: _Children) -> ast.PolicyRate:
        v = _values(c)
        return ast.PolicyRate(provider=self._ident(v[0]), count=self._typed(v[1], ast.NumberLit), unit=v[2],
                              span=self._span(c))  # fmt: skip

    def policy_channel(self, c: _Children) -> Token:
        return cast(Token, c[0])  # the token, so that the cap's span starts at it

    def rate_unit(self, c: _Children) -> str:
        return str(c[0].value)

    def part_key(self, c: _Children) -> Token:
        return cast(Token, c[0])  # the token, so that the part's span starts at it

    def program_decl(self, c: _Children) -> ast.ProgramDecl:
        v = _values(c)
        kind_index = 2 if isinstance(v[1], Token) else 1
        return ast.ProgramDecl(
            name=self._ident(v[0]),
            title=self._title(v, 1),
            kind=v[kind_index],
            tiers=tuple(v[kind_index + 1 :]),
            span=self._span(c),
        )

    def program_kind(self, c: _Children) -> str:
        return str(c[0].value)

    def tier_up_to(self, c: _Children) -> ast.Tier:
        v = _values(c)
        return ast.Tier(
            percent=self._typed(v[0], ast.PercentLit),
            kind="up_to",
            bound=self._typed(v[1], ast.MoneyLit),
            span=self._span(c),
        )

    def tier_above(self, c: _Children) -> ast.Tier:
        v = _values(c)
        return ast.Tier(
            percent=self._typed(v[0], ast.PercentLit),
            kind="above",
            bound=self._typed(v[1], ast.MoneyLit),
            span=self._span(c),
        )

    def group_decl(self, c: _Children) -> ast.GroupDecl:
        v = _values(c)
        return ast.GroupDecl(
            name=self._ident(v[0]),
            title=self._title(v, 1),
            program=next((x for x in v if isinstance(x, ast.Ident)), None),
            default=any(x is True for x in v),
            span=self._span(c),
        )

    def group_program(self, c: _Children) -> ast.Ident:
        return self._ident(_values(c)[0])

    def group_default(self, c: _Children) -> bool:
        return True

    # ------------------------------------------------------------ scenarios

    def _scenario(
        self, c: _Children, name: ast.Ident, title: ast.StringLit | None, body: _Children, anonymous: bool
    ) -> ast.Scenario:
        return ast.Scenario(
            name=name,
            title=title,
            headers=tuple(x for x in body if not isinstance(x, ast.StepNode)),
            steps=tuple(cast(ast.Step, x) for x in body if isinstance(x, ast.StepNode)),
            anonymous=anonymous,
            span=self._span(c),
        )

    def scenario(self, c: _Children) -> ast.Scenario:
        v = _values(c)
        title = self._title(v, 1)
        body = v[2:] if title is not None else v[1:]
        return self._scenario(c, self._ident(v[0]), title, body, False)

    def anon_scenario(self, c: _Children) -> ast.Scenario:
        span = self._span(c)
        name = ast.Ident(name=anonymous_scenario_name(current_file.get().file), span=span.at_start())
        return self._scenario(c, name, None, c, True)

    # ------------------------------------------------------------ broadcasts

    def broadcast(self, c: _Children) -> ast.Broadcast:
        v = _values(c)
        return ast.Broadcast(
            name=self._ident(v[0]),
            title=self._title(v, 1),
            headers=(),
            steps=tuple(cast(ast.Step, x) for x in v if isinstance(x, ast.StepNode)),
            audience=next(x for x in v if isinstance(x, ast.Audience)),
            at=next((x for x in v if isinstance(x, ast.SendTime)), None),
            span=self._span(c),
        )

    tail_broadcast = broadcast  # the same without its `end`

    def audience(self, c: _Children) -> ast.Audience:
        kind = cast(Literal["segment", "list"], str(c[0].value))
        return ast.Audience(kind=kind, name=self._ident(c[1]), span=self._span(c))

    def audience_kind(self, c: _Children) -> Token:
        return cast(Token, c[0])  # the token, so that the audience's span starts at it

    def send_time(self, c: _Children) -> ast.SendTime:
        zone = c[3] if len(c) > 3 else None
        return ast.SendTime(
            date=self._typed(c[1], ast.DateLit),
            time=self._typed(c[2], ast.TimeLit),
            local=isinstance(zone, Token),
            zone=zone if isinstance(zone, ast.StringLit) else None,
            span=self._span(c),
        )

    def zone_local(self, c: _Children) -> Token:
        return cast(Token, c[0])  # the keyword itself: the span of the time ends at it

    def zone_named(self, c: _Children) -> ast.StringLit:
        return self._string(c[0])

    def event_name(self, c: _Children) -> ast.EventRef:
        return ast.EventRef(parts=tuple(self._ident(t) for t in _values(c)), span=self._span(c))

    def trigger(self, c: _Children) -> ast.Trigger:
        v = _values(c)
        return ast.Trigger(event=v[0], where=v[1] if len(v) > 1 else None, span=self._span(c))

    def date_trigger(self, c: _Children) -> ast.DateTrigger:
        # on date PATH [offset] at TIME [once]
        offset: tuple[bool, ast.DurationLit] | None = c[3]
        return ast.DateTrigger(
            date=c[2],
            offset=offset[1] if offset is not None else None,
            minus=offset[0] if offset is not None else False,
            time=self._typed(c[5], ast.TimeLit),
            once=c[6] is not None,
            span=self._span(c),
        )

    def date_plus(self, c: _Children) -> tuple[bool, ast.DurationLit]:
        return (False, self._typed(c[1], ast.DurationLit))

    def date_minus(self, c: _Children) -> tuple[bool, ast.DurationLit]:
        return (True, self._typed(c[1], ast.DurationLit))

    def date_once(self, c: _Children) -> Token:
        return cast(Token, c[0])

    def entry_every(self, c: _Children) -> ast.EntryEvery:
        return ast.EntryEvery(span=self._span(c))

    def entry_once(self, c: _Children) -> ast.EntryOnce:
        return ast.EntryOnce(scope=_values(c)[0], span=self._span(c))

    def entry_at_most(self, c: _Children) -> ast.EntryAtMost:
        v = _values(c)
        window = self._typed(v[2], ast.DurationLit) if len(v) > 2 else None
        return ast.EntryAtMost(count=self._typed(v[0], ast.NumberLit), scope=v[1], window=window, span=self._span(c))

    def scope(self, c: _Children) -> str:
        return str(c[0].value)

    def frequency_cap(self, c: _Children) -> ast.FrequencyCap:
        v = _values(c)
        return ast.FrequencyCap(
            count=self._typed(v[0], ast.NumberLit),
            per_contact=any(x is True for x in v),
            window=self._typed(v[-1], ast.DurationLit),
            span=self._span(c),
        )

    def per_contact(self, c: _Children) -> bool:
        return True

    def exit_goal(self, c: _Children) -> ast.ExitGoal:
        v = _values(c)
        return ast.ExitGoal(event=v[0], where=v[1] if len(v) > 1 else None, span=self._span(c))

    def quiet_hours(self, c: _Children) -> ast.QuietHours:
        v = _values(c)
        return ast.QuietHours(
            start=self._typed(v[0], ast.TimeLit), end=self._typed(v[1], ast.TimeLit), span=self._span(c)
        )

    def send_window(self, c: _Children) -> ast.SendWindow:
        return ast.SendWindow(
            ranges=tuple(r for r in c if isinstance(r, ast.DayRange)),
            start=self._typed(c[-3], ast.TimeLit),
            end=self._typed(c[-1], ast.TimeLit),
            span=self._span(c),
        )

    def day_range(self, c: _Children) -> ast.DayRange:
        last = str(c[2].value) if len(c) > 2 and c[2] is not None else None
        return ast.DayRange(first=str(c[0].value), last=last, span=self._span(c))  # type: ignore[arg-type]

    def day_name(self, c: _Children) -> Token:
        return cast(Token, c[0])

    def attribution(self, c: _Children) -> ast.Attribution:
        return ast.Attribution(window=self._typed(_values(c)[0], ast.DurationLit), span=self._span(c))

    def ignore_orders(self, c: _Children) -> ast.IgnoreOrders:
        return ast.IgnoreOrders(age=self._typed(_values(c)[0], ast.DurationLit), span=self._span(c))

    # ------------------------------------------------------------ steps

    def labeled_step(self, c: _Children) -> ast.Step:
        label_token: Token = c[0]
        context = current_file.get()
        if id(c[1]) in context.stand_ins:
            return cast(ast.Step, c[1])
        label = ast.Ident(name=str(label_token.value)[1:], span=token_span(context.file, label_token))
        return relabelled(c[1], replace(c[1], label=label, span=self._span(c)))

    def block(self, c: _Children) -> tuple[ast.Step, ...]:
        return tuple(c)

    def wait_duration(self, c: _Children) -> ast.Wait:
        return ast.Wait(duration=c[1], span=self._span(c))

    def wait_until(self, c: _Children) -> ast.WaitUntil:
        return ast.WaitUntil(time=self._typed(c[2], ast.TimeLit), span=self._span(c))

    def wait_until_weekday(self, c: _Children) -> ast.WaitUntilDay:
        day = cast(ast.DayName, str(c[2].value))
        return ast.WaitUntilDay(day=day, time=self._typed(c[3], ast.TimeLit), span=self._span(c))

    def wait_until_next_weekday(self, c: _Children) -> ast.WaitUntilDay:
        return ast.WaitUntilDay(day="weekday", time=self._typed(c[4], ast.TimeLit), span=self._span(c))

    def wait_until_month_day(self, c: _Children) -> ast.WaitUntilMonthDay:
        return ast.WaitUntilMonthDay(
            day=self._typed(c[2], ast.NumberLit),
            suffix=self._ident(c[3]),
            time=self._typed(c[7], ast.TimeLit),
            span=self._span(c),
        )

    def wait_until_value(self, c: _Children) -> ast.WaitUntilValue:
        return ast.WaitUntilValue(value=c[2], span=self._span(c))

    def weekday(self, c: _Children) -> Token:
        return cast(Token, c[0])

    def wait_for(self, c: _Children) -> ast.Step:
        # wait for EVENT [where EXPR] up to EXPR [on_timeout]
        where = c[4] if c[3] is not None else None
        return bounded_step(ast.WaitFor(event=c[2], where=where, timeout=c[7], on_timeout=c[8], span=self._span(c)))

    def on_timeout(self, c: _Children) -> ast.Block:
        return ast.Block(steps=c[2], span=self._span(c))

    def if_step(self, c: _Children) -> ast.Step:
        span = self._span(c)
        first = ast.Branch(condition=c[1], steps=c[2], span=span.to(c[1].span))
        elifs = tuple(x for x in c[3:] if isinstance(x, ast.Branch))
        else_ = next((x for x in c[3:] if isinstance(x, ast.Block)), None)
        return bounded_step(ast.If(branches=(first, *elifs), else_=else_, span=span))

    def elif_clause(self, c: _Children) -> ast.Branch:
        return ast.Branch(condition=c[1], steps=c[2], span=self._span(c))

    def else_clause(self, c: _Children) -> ast.Block:
        return ast.Block(steps=c[1], span=self._span(c))

    def bands_step(self, c: _Children) -> ast.Step:
        return bounded_step(ast.Bands(subject=c[1], bands=tuple(c[2:-1]), span=self._span(c)))

    def band_between(self, c: _Children) -> ast.Band:
        return ast.Band(low=c[1], high=c[3], steps=c[4], span=self._span(c))

    def band_from(self, c: _Children) -> ast.Band:
        return ast.Band(low=c[1], high=None, steps=c[2], span=self._span(c))

    def band_below(self, c: _Children) -> ast.Band:
        return ast.Band(low=None, high=c[1], steps=c[2], span=self._span(c))

    def split_step(self, c: _Children) -> ast.Step:
        return bounded_step(ast.Split(per_run=c[1], holdout=c[2], arms=tuple(c[3:-1]), span=self._span(c)))

    def split_per_run(self, c: _Children) -> ast.PerRun:
        return ast.PerRun(span=self._span(c))

    def split_holdout(self, c: _Children) -> ast.Control:
        return ast.Control(weight=self._typed(c[1], ast.PercentLit), span=self._span(c))

    def variant(self, c: _Children) -> ast.Variant:
        return ast.Variant(
            name=self._ident(c[1]), weight=self._typed(c[2], ast.PercentLit), steps=c[3], span=self._span(c)
        )

    def control(self, c: _Children) -> ast.Control:
        return ast.Control(weight=self._typed(c[1], ast.PercentLit), span=self._span(c))

    def stop_step(self, c: _Children) -> ast.Stop:
        return ast.Stop(span=self._span(c))

    def stop_if(self, c: _Children) -> ast.StopIf:
        return ast.StopIf(condition=c[1], negate=False, span=self._span(c))

    def stop_unless(self, c: _Children) -> ast.StopIf:
        return ast.StopIf(condition=c[1], negate=True, span=self._span(c))

    def send_step(self, c: _Children) -> ast.Send:
        return ast.Send(channel=c[1], template=self._ident(c[2]), options=tuple(c[3:]), span=self._span(c))

    def with_coupon(self, c: _Children) -> ast.WithCoupon:
        return ast.WithCoupon(coupon=self._ident(c[2]), span=self._span(c))

    def with_products(self, c: _Children) -> ast.WithProducts:
        return ast.WithProducts(products=c[2], span=self._span(c))

    def add_to_list(self, c: _Children) -> ast.AddToList:
        return ast.AddToList(list=self._ident(c[3]), span=self._span(c))

    def remove_from_list(self, c: _Children) -> ast.RemoveFromList:
        return ast.RemoveFromList(list=self._ident(c[3]), span=self._span(c))

    def issue_coupon(self, c: _Children) -> ast.IssueCoupon:
        valid = self._optional(c[4], ast.DurationLit) if len(c) > 4 else None
        return ast.IssueCoupon(coupon=self._ident(c[2]), valid=valid, span=self._span(c))

    def issue_coupon_until(self, c: _Children) -> ast.IssueCoupon:
        return ast.IssueCoupon(coupon=self._ident(c[2]), valid=None, until=c[4], span=self._span(c))

    def award_bonus(self, c: _Children) -> ast.AwardBonus:
        return ast.AwardBonus(amount=c[2], span=self._span(c))

    def set_group(self, c: _Children) -> ast.SetGroup:
        return ast.SetGroup(group=self._ident(c[2]), span=self._span(c))

    def set_attribute(self, c: _Children) -> ast.SetAttribute:
        return ast.SetAttribute(name=self._ident(c[2]), value=c[4], span=self._span(c))

    def call_webhook(self, c: _Children) -> ast.CallWebhook:
        fields = tuple(f for f in c[3:] if isinstance(f, ast.WebhookField))
        return ast.CallWebhook(url=self._string(c[2]), fields=fields, span=self._span(c))

    def webhook_field(self, c: _Children) -> ast.WebhookField:
        return ast.WebhookField(name=self._ident(c[0]), value=c[2], span=self._span(c))

    # ------------------------------------------------------------ expressions

    def atom(self, c: _Children) -> ast.Expr:
        """A parenthesised expression; the parentheses leave no trace."""
        return cast(ast.Expr, c[1])

    def not_(self, c: _Children) -> ast.Expr:
        return bounded_operator(ast.Unary(op="not", operand=c[1], span=self._span(c)), [c[1]])

    def neg(self, c: _Children) -> ast.Expr:
        return bounded_operator(ast.Unary(op="-", operand=c[1], span=self._span(c)), [c[1]])

    def not_in(self, c: _Children) -> ast.Expr:
        return bounded_operator(ast.Binary(op="not in", left=c[0], right=c[3], span=self._span(c)), [c[0], c[3]])

    def is_set(self, c: _Children) -> ast.Expr:
        return self._set_test(c, negate=False)

    def is_not_set(self, c: _Children) -> ast.Expr:
        return self._set_test(c, negate=True)

    def _set_test(self, c: _Children, negate: bool) -> ast.Expr:
        subject, span = c[0], self._span(c)
        if not isinstance(subject, ast.Path):
            context = current_file.get()
            if id(subject) not in context.stand_ins:
                test = "is not set" if negate else "is set"
                context.report(
                    codes.BAD_SET_TEST,
                    f"only a field can be unset: `{test}` must follow a field such as `contact.first_name`",
                    subject.span,
                )
            return ast.BoolLit(value=False, span=span)
        return bounded_operator(ast.IsSet(path=subject, negate=negate, span=span), [])

    def items_status(self, c: _Children) -> ast.ItemsStatus:
        return ast.ItemsStatus(every=c[0].type == "ALL_ITEMS", status=c[2], span=self._span(c))

    def item_status_name(self, c: _Children) -> ast.StringLit:
        """A status as a word (`delivered`) or a string (`"доставлено"`): a string either way."""
        token: Token = c[0]
        if token.type == "STRING":
            return cast(ast.StringLit, self._literal(token))
        return ast.StringLit(value=str(token.value), span=self._span(c))

    def true(self, c: _Children) -> ast.BoolLit:
        return ast.BoolLit(value=True, span=self._span(c))

    def false(self, c: _Children) -> ast.BoolLit:
        return ast.BoolLit(value=False, span=self._span(c))

    def _literal_rule(self, c: _Children) -> ast.Literal_:
        return self._literal(c[0])

    number = money = percent = duration = string = date = time = _literal_rule

    def path(self, c: _Children) -> ast.Path:
        return ast.Path(parts=tuple(self._ident(t) for t in c if t.type == "NAME"), span=self._span(c))

    def call(self, c: _Children) -> ast.Expr:
        args: list[Any] = [a for a in c[2:-1] if isinstance(a, ast.Node)]
        node = ast.Call(
            func=self._ident(c[0]),
            args=tuple(a for a in args if not isinstance(a, ast.KwArg)),
            kwargs=tuple(a for a in args if isinstance(a, ast.KwArg)),
            span=self._span(c),
        )
        return bounded_operator(node, [*node.args, *(k.value for k in node.kwargs)])

    def kwarg(self, c: _Children) -> ast.KwArg:
        return ast.KwArg(name=self._ident(c[0]), value=c[2], span=self._span(c))

    def list_lit(self, c: _Children) -> ast.Expr:
        items: list[Any] = [x for x in c if isinstance(x, ast.Node)]
        return bounded_operator(ast.ListLit(items=tuple(items), span=self._span(c)), items)


__all__ = ["ToAst", "anonymous_scenario_name", "token_span"]
