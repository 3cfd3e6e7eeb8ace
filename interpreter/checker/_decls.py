"""Checking declarations other than templates: segments, coupons, programs, groups."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

from .. import ast, codes
from ..diagnostics import DiagnosticSink, Related
from ..span import Span
from ..types import Entity, Money
from ..workspace import Workspace
from ._exprs import ExprChecker, Scope, check_count, check_date, check_positive
from ._segment_cycles import segment_cycles
from ._symbols import Symbols
from ._templates import TEMPLATE_MARK
from ._unset import UnsetChecker

#: Generated codes use a 32-letter alphabet, so each X is 5 random bits.
_PATTERN_SLOT = re.compile(r"\{(X+)\}")
MIN_CODE_BITS = 40
BITS_PER_SLOT = 5

SEGMENT_SCOPE = Scope(
    roots={"contact": Entity("contact")},
    missing={
        "order": "a segment is about contacts; use contact.orders or bought(...)",
        "event": "a segment is about contacts, not about one event",
    },
)


class DeclChecker:
    def __init__(
        self, workspace: Workspace, symbols: Symbols, exprs: ExprChecker, unset: UnsetChecker, sink: DiagnosticSink
    ) -> None:
        self.workspace = workspace
        self.symbols = symbols
        self.exprs = exprs
        self.unset = unset
        self.sink = sink

    def check_all(self) -> None:
        default_group: ast.GroupDecl | None = None
        for name, decl in self.symbols.decls.items():
            source = self.symbols.decl_files[name]
            if isinstance(decl, ast.SegmentDecl):
                self.exprs.condition(decl.condition, SEGMENT_SCOPE)
                self.unset.expression(decl.condition, SEGMENT_SCOPE, frozenset())
            elif isinstance(decl, ast.CouponDecl):
                self._coupon(decl, source)
            elif isinstance(decl, ast.ProgramDecl):
                self._program(decl)
            elif isinstance(decl, ast.GroupDecl):
                self._group_program(decl)
                if decl.default:
                    if default_group is not None:
                        self.sink.report(
                            codes.BAD_GROUP,
                            f"`{default_group.name.name}` is already the default group",
                            decl.span,
                            related=(Related(default_group.span, "the default group"),),
                        )
                    else:
                        default_group = decl
        segments = {n: d for n, d in self.symbols.decls.items() if isinstance(d, ast.SegmentDecl)}
        for cycle in segment_cycles(segments):
            self.sink.report(
                codes.SEGMENT_CYCLE,
                f"segment `{cycle.path[0]}` is defined through itself: " + " → ".join(cycle.path),
                cycle.call.span,
                "whether a contact is in it would never be known; write out the condition `in_segment()` reads",
            )

    # ------------------------------------------------------------ coupons

    def _coupon(self, decl: ast.CouponDecl, source: str) -> None:
        seen: dict[type, ast.Node] = {}
        for option in decl.options:
            # `for offer` may be repeated; everything else is said once (`valid 7d` and
            # `valid until …` are one setting).
            kind: type = ast.CouponValid if isinstance(option, ast.CouponValidUntil) else type(option)
            if kind in seen and not isinstance(option, ast.CouponForOffer):
                self.sink.report(
                    codes.DUPLICATE_SETTING,
                    "this coupon setting is given twice",
                    option.span,
                    related=(Related(seen[kind].span, "first given here"),),
                )
                continue
            seen[kind] = option
            self._coupon_option(option, source)
        if ast.CouponDiscount not in seen:
            self.sink.report(
                codes.BAD_COUPON, f"coupon `{decl.name.name}` has no discount", decl.name.span, "discount 10%"
            )
        sources = [o for o in decl.options if isinstance(o, ast.CouponCode | ast.CouponPool | ast.CouponGenerated)]
        if not sources:
            self.sink.report(
                codes.BAD_COUPON, f"coupon `{decl.name.name}` has no codes", decl.name.span, 'code "SALE10"'
            )
        elif len({type(s) for s in sources}) > 1:
            self.sink.report(codes.BAD_COUPON, "a coupon takes one source of codes", sources[1].span)

    def _coupon_option(self, option: ast.CouponOption, source: str) -> None:
        if isinstance(option, ast.CouponDiscount):
            amount = option.amount
            if isinstance(amount, ast.PercentLit):
                if not Decimal(0) < amount.value <= Decimal(100):
                    self.sink.report(codes.BAD_PERCENT, "a discount runs from above 0% to 100%", amount.span)
            else:
                t = self.exprs.literal(amount)
                if amount.amount <= 0:
                    self.sink.report(codes.BAD_COUPON, "a discount must be more than zero", amount.span)
                self._workspace_currency(t, amount.span)
        elif isinstance(option, ast.CouponCode):
            if not option.code.value.strip():
                self.sink.report(codes.BAD_COUPON, "the code is empty", option.code.span)
            elif TEMPLATE_MARK.search(option.code.value):
                self.sink.report(
                    codes.BAD_COUPON,
                    "a static code is not a template: every contact would get it as it is written",
                    option.code.span,
                    'for a code of each contact\'s own use `generated "SHOP-{XXXXXXXX}"` or `from pool "codes.csv"`',
                )
        elif isinstance(option, ast.CouponPool):
            self._pool(option, source)
        elif isinstance(option, ast.CouponGenerated):
            slots = _PATTERN_SLOT.findall(option.pattern.value)
            bits = sum(len(s) for s in slots) * BITS_PER_SLOT
            if bits < MIN_CODE_BITS:
                self.sink.report(
                    codes.BAD_COUPON_PATTERN,
                    f"`{option.pattern.value}` gives {bits} random bits; codes need at least {MIN_CODE_BITS}",
                    option.pattern.span,
                )
        elif isinstance(option, ast.CouponForList):
            kind = self.symbols.kind_of(option.list.name)
            if kind is None:
                self.sink.report(codes.UNKNOWN_NAME, f"unknown list `{option.list.name}`", option.list.span)
            elif kind not in ("list", "segment"):
                self.sink.report(
                    codes.WRONG_KIND,
                    f"`{option.list.name}` is a {kind}, not a list or segment",
                    option.list.span,
                )
        elif isinstance(option, ast.CouponForOffer):
            for offer in option.offers:
                if not offer.value.strip():
                    self.sink.report(codes.BAD_COUPON, "the offer is empty", offer.span)
        elif isinstance(option, ast.CouponValid):
            check_positive(option.duration, self.sink, "a coupon's validity")
        elif isinstance(option, ast.CouponValidUntil) and option.until.date is not None:
            check_date(option.until.date, self.sink)

    def _pool(self, option: ast.CouponPool, source: str) -> None:
        text = self.workspace.read_resource(source, option.path.value)
        shown = self.workspace.resource_path(source, option.path.value)
        if text is None:
            self.sink.report(
                codes.COUPON_POOL_MISSING,
                f"coupon pool `{shown}` does not exist or is not UTF-8 text",
                option.path.span,
            )
            return
        try:
            found = pool_codes(text)
        except ValueError as error:
            self.sink.report(codes.COUPON_POOL_MISSING, f"coupon pool `{shown}` {error}", option.path.span)
            return
        if not found:
            self.sink.report(codes.COUPON_POOL_MISSING, f"coupon pool `{shown}` holds no codes", option.path.span)
        if option.warn_below is not None:
            check_count(option.warn_below, self.sink)

    # ------------------------------------------------------------ loyalty

    def _program(self, decl: ast.ProgramDecl) -> None:
        previous: Decimal | None = None
        currency: str | None = None
        above: ast.Tier | None = None
        for tier in decl.tiers:
            if not Decimal(0) < tier.percent.value <= Decimal(100):
                self.sink.report(codes.BAD_PERCENT, "a tier's percentage runs from above 0% to 100%", tier.percent.span)
            t = self.exprs.literal(tier.bound)
            self._workspace_currency(t, tier.bound.span)
            if currency is None:
                currency = tier.bound.currency
            elif tier.bound.currency != currency:
                self.sink.report(
                    codes.CURRENCY_MISMATCH,
                    f"this tier is in {tier.bound.currency}, the others in {currency}",
                    tier.bound.span,
                )
                continue
            if above is not None:
                self.sink.report(codes.BAD_TIERS, "no tier can follow the `above` tier", tier.span)
                continue
            if tier.kind == "above":
                above = tier
                if previous is not None and tier.bound.amount != previous:
                    word = "overlaps" if tier.bound.amount < previous else "leaves a gap after"
                    self.sink.report(
                        codes.BAD_TIERS,
                        f"`above {tier.bound.amount}` {word} the previous tier's `up to {previous}`",
                        tier.bound.span,
                    )
                continue
            if previous is not None and tier.bound.amount <= previous:
                self.sink.report(
                    codes.BAD_TIERS, f"`up to {tier.bound.amount}` must be above {previous}", tier.bound.span
                )
                continue  # measure the next tier against the last good bound
            previous = tier.bound.amount
        if above is None:
            self.sink.report(
                codes.BAD_TIERS,
                f"program `{decl.name.name}` needs a last tier `above` its highest bound",
                decl.name.span,
            )

    def _group_program(self, decl: ast.GroupDecl) -> None:
        if decl.program is None:
            return
        kind = self.symbols.kind_of(decl.program.name)
        if kind is None:
            self.sink.report(codes.UNKNOWN_NAME, f"unknown program `{decl.program.name}`", decl.program.span)
        elif kind != "program":
            self.sink.report(codes.WRONG_KIND, f"`{decl.program.name}` is a {kind}, not a program", decl.program.span)

    def _workspace_currency(self, t: object, span: Span) -> None:
        currency = self.symbols.currency
        if currency and isinstance(t, Money) and t.currency and t.currency != currency:
            self.sink.report(codes.CURRENCY_MISMATCH, f"the workspace currency is {currency}, not {t.currency}", span)


def pool_codes(text: str) -> list[str]:
    """Codes in a CSV pool: the `code` column if there is a header with one, else the first.
    ValueError when the text is not CSV the reader takes (a field longer than its limit)."""
    try:  # newline="": a lone CR ends a line, as csv wants it (it raised on one otherwise)
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row and row[0].strip()]
    except csv.Error as error:
        raise ValueError(f"is not readable CSV: {error}") from None
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    column = header.index("code") if "code" in header else 0
    body = rows[1:] if "code" in header else rows
    return [row[column].strip() for row in body if len(row) > column and row[column].strip()]
