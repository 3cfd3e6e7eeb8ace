"""Loyalty programs: the percentage a contact's lifetime spend earns."""

from __future__ import annotations

from decimal import Decimal

from ..interpreter.program import LoyaltyProgram
from ..interpreter.values import Money, Percent


def tier_percent(program: LoyaltyProgram, lifetime_spend: Decimal) -> Percent:
    """The tier that applies while lifetime spend is ``lifetime_spend``.

    `tier 2% up to 1000 UAH` covers spend below 1000; the `above` tier everything from
    the last bound on.
    """
    for tier in program.tiers:
        if tier.up_to is None or lifetime_spend < Decimal(tier.up_to):
            return Percent(tier.percent)
    return Percent(program.tiers[-1].percent) if program.tiers else Percent(0)


def bonus_for_order(program: LoyaltyProgram, spend_before: Decimal, order_total: Money) -> tuple[Money, Percent]:
    """The bonus an order earns: its total times the tier of the spend before it."""
    percent = tier_percent(program, spend_before)
    return (order_total * percent).rounded(), percent
