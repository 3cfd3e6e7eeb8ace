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


class CurrencyStats(msgspec.Struct, frozen=True, kw_only=True):
    """A group's contacts whose lifetime spend is in one currency, and their paid orders."""

    currency: str
    contacts: int
    orders: int
    revenue: Money
    average_order: Money | None


class GroupStats(msgspec.Struct, frozen=True, kw_only=True):
    """A customer group's figures: all its contacts and paid orders, and the money per
    currency (amounts in different currencies are never added up)."""

    group: str | None
    title: str | None
    program: str | None
    contacts: int
    orders: int
    #: By currency, in its alphabetical order; contacts who never paid are in none.
    currencies: tuple[CurrencyStats, ...]


async def group_statistics(store: Store, bundle: Bundle | None) -> list[GroupStats]:
    """One entry per group, declared groups first (then groups only contacts name, then
    the contacts in no group): contacts, paid orders, and revenue and average order
    value per currency.

    A contact counts in the group they are in now, with all their paid orders."""
    groups = bundle.groups if bundle is not None else {}
    found: dict[str | None, list[tuple[str | None, int, int, int]]] = {}
    for group, currency, contacts, orders, spend in await store.group_stats():
        found.setdefault(group, []).append((currency, contacts, orders, spend))
    stats: list[GroupStats] = []
    for name in [*groups, *(g for g in found if g not in groups)]:
        declared = groups.get(name or "")
        rows = found.get(name, [])
        currencies = []
        for currency, contacts, orders, spend in sorted((r for r in rows if r[0]), key=lambda r: str(r[0])):
            assert currency is not None
            revenue = Money(Decimal(spend) / 1000, currency)
            average = (revenue * (Decimal(1) / orders)).rounded() if orders else None
            currencies.append(CurrencyStats(currency=currency, contacts=contacts, orders=orders,
                                            revenue=revenue.rounded(), average_order=average))  # fmt: skip
        stats.append(GroupStats(
            group=name, title=declared.title if declared else None, program=declared.program if declared else None,
            contacts=sum(r[1] for r in rows), orders=sum(r[2] for r in rows), currencies=tuple(currencies),
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
    if contact.get("currency") not in (None, program.currency):
        return None  # a spend in another currency falls in no tier anybody can name
    spend = Decimal(str(contact.get("lifetime_spend") or 0))
    return Discount(
        group=group.name, program=program.name, percent=tier_percent(program, spend),
        lifetime_spend=Money(spend, program.currency),
    )  # fmt: skip
