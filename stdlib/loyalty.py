"""Loyalty programs: the percentage a contact's lifetime spend earns."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from ..interpreter.program import Bundle, LoyaltyProgram
from ..interpreter.store import Store
from ..interpreter.values import Money, Percent


def tier_percent(program: LoyaltyProgram, lifetime_spend: Decimal) -> Percent:
    """The tier that applies while lifetime spend is ``lifetime_spend``.

    As the customer writes tiers ("2% while the spend is up to 1000, 3% when it is more
    than 1000"): `tier 2% up to 1000 UAH` covers a spend of 1000 itself, and the
    `above` tier starts just after the last bound.
    """
    for tier in program.tiers:
        if tier.up_to is None or lifetime_spend <= Decimal(tier.up_to):
            return Percent(tier.percent)
    return Percent(program.tiers[-1].percent) if program.tiers else Percent(0)


def bonus_for_order(program: LoyaltyProgram, spend_before: Decimal, order_total: Money) -> tuple[Money, Percent]:
    """The bonus an order earns: its total times the tier of the spend before it."""
    percent = tier_percent(program, spend_before)
    return (order_total * percent).rounded(), percent


class GroupStats(msgspec.Struct, frozen=True, kw_only=True):
    """A customer group's figures: how many contacts, and their average paid order."""

    group: str | None
    title: str | None
    program: str | None
    contacts: int
    orders: int
    revenue: Money | None
    average_order: Money | None


async def group_statistics(store: Store, bundle: Bundle | None) -> list[GroupStats]:
    """Contacts and average order value per group (and currency), declared groups first.

    A contact counts in the group they are in now, with all their paid orders."""
    groups = bundle.groups if bundle is not None else {}
    found: dict[str | None, list[tuple[str | None, int, int, int]]] = {}
    for group, currency, contacts, orders, spend in await store.group_stats():
        found.setdefault(group, []).append((currency, contacts, orders, spend))
    stats: list[GroupStats] = []
    for name in [*groups, *(g for g in found if g not in groups)]:
        declared = groups.get(name or "")
        rows = found.get(name) or [(None, 0, 0, 0)]
        for currency, contacts, orders, spend in rows:
            revenue = Money(Decimal(spend) / 1000, currency) if currency else None
            average = (revenue * (Decimal(1) / orders)).rounded() if revenue is not None and orders else None
            stats.append(GroupStats(
                group=name, title=declared.title if declared else None, program=declared.program if declared else None,
                contacts=contacts, orders=orders, revenue=revenue.rounded() if revenue else None, average_order=average,
            ))  # fmt: skip
    return stats


class Discount(msgspec.Struct, frozen=True, kw_only=True):
    group: str
    program: str
    percent: Percent
    lifetime_spend: Money


async def checkout_discount(store: Store, bundle: Bundle, contact_id: str) -> Discount | None:
    """The discount a contact gets at checkout from their group's program, if it is a
    discount program (a bonus program pays back after the order instead)."""
    contact = (await store.contacts([contact_id])).get(contact_id)
    if contact is None or not contact.get("grp"):
        return None
    group = bundle.groups.get(contact["grp"])
    program = bundle.programs.get(group.program or "") if group is not None else None
    if group is None or program is None or program.kind != "discount":
        return None
    spend = Decimal(str(contact.get("lifetime_spend") or 0))
    return Discount(
        group=group.name, program=program.name, percent=tier_percent(program, spend),
        lifetime_spend=Money(spend, program.currency),
    )  # fmt: skip
