"""Checking value bands and random splits: bounds that fit the subject and neither overlap
nor leave gaps; shares that add up to 100%."""

from __future__ import annotations

from decimal import Decimal

from .. import ast, codes
from ..diagnostics import DiagnosticSink, Related
from ..types import DURATION, NUMBER, PERCENT, UNKNOWN, Money, assignable, is_unknown
from ._exprs import ExprChecker, Scope, describe


def check_bands(step: ast.Bands, scope: Scope, exprs: ExprChecker, sink: DiagnosticSink) -> bool:
    """Check value bands; True when together they cover every value."""
    subject = exprs.infer(step.subject, scope)
    if not is_unknown(subject) and not isinstance(subject, Money) and subject not in (NUMBER, PERCENT, DURATION):
        sink.report(
            codes.TYPE_MISMATCH,
            f"bands need money, a number, a percentage or a duration, not {describe(subject)}",
            step.subject.span,
        )
        subject = UNKNOWN  # the bounds cannot be compared with it; say nothing more
    keyed: list[tuple[Decimal | None, Decimal | None, ast.Band]] = []
    for band in step.bands:
        fits = True
        for bound in (band.low, band.high):
            if bound is None:
                continue
            t = exprs.literal(bound)
            if isinstance(subject, Money) and subject.currency is None and isinstance(t, Money):
                subject = t  # the first amount names the currency of all the bands
            if not assignable(t, subject):
                fits = False
                exprs.report_mismatch(
                    f"this bound is {describe(t)}, but the bands are about {describe(subject)}",
                    bound.span,
                    t,
                    subject,
                )
        low, high = bound_value(band.low), bound_value(band.high)
        if low is not None and high is not None and low >= high:
            sink.report(codes.BAND_OVERLAP, f"this band is empty: {low} is not below {high}", band.span)
            continue
        if fits:
            keyed.append((low, high, band))
    keyed.sort(key=lambda k: (k[0] is not None, k[0] or Decimal(0)))
    for (_, high, before), (low, _, band) in zip(keyed, keyed[1:], strict=False):
        if high is None or low is None or high > low:
            sink.report(
                codes.BAND_OVERLAP,
                "this band overlaps the one before it",
                band.span,
                related=(Related(before.span, "the band it overlaps"),),
            )
        elif high < low:
            sink.report(
                codes.BAND_GAP,
                f"values from {high} up to {low} fall into no band",
                band.span,
                related=(Related(before.span, "the band before the gap"),),
            )
    return bool(keyed) and keyed[0][0] is None and keyed[-1][1] is None


def check_split(step: ast.Split, sink: DiagnosticSink) -> None:
    """Shares from above 0% to 100% that add up to 100%, variants named once, one control group."""
    total = Decimal(0)
    names: dict[str, ast.Ident] = {}
    control = step.holdout
    if control is not None and not Decimal(0) < control.weight.value < Decimal(100):
        sink.report(codes.BAD_PERCENT, "a control group taken off the top runs from above 0% to below 100%",
                    control.weight.span)  # fmt: skip
    for arm in step.arms:
        if not Decimal(0) < arm.weight.value <= Decimal(100):
            sink.report(codes.BAD_PERCENT, "a share runs from above 0% to 100%", arm.weight.span)
        total += arm.weight.value
        if isinstance(arm, ast.Control):
            if control is not None:
                sink.report(
                    codes.DUPLICATE_VARIANT,
                    "a split has one control group",
                    arm.span,
                    related=(Related(control.span, "the first control group"),),
                )
            control = arm
        elif arm.name.name in names:
            sink.report(
                codes.DUPLICATE_VARIANT,
                f"the variant `{arm.name.name}` is named twice",
                arm.name.span,
                related=(Related(names[arm.name.name].span, "first named here"),),
            )
        else:
            names[arm.name.name] = arm.name
    if not names:
        sink.report(codes.EMPTY_SPLIT, "this split has no variant", step.span)
    if total != 100:
        shares = "the variants' shares" if step.holdout is not None else "the shares"
        sink.report(codes.SPLIT_WEIGHTS, f"{shares} add up to {total.normalize():f}%, not 100%", step.span)


def bound_value(bound: ast.BandBound | None) -> Decimal | None:
    if bound is None:
        return None
    if isinstance(bound, ast.MoneyLit):
        return bound.amount
    if isinstance(bound, ast.DurationLit):
        return Decimal(bound.milliseconds)
    return bound.value
