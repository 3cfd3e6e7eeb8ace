"""Loyalty tiers as the customer wrote them: `up to X` includes X, `above X` excludes it.

The Skyservice article (seeds/003): 2% while lifetime spend is up to 1000 UAH, 3% when
it is more than 1000 but less than 3000, 5% when it is more than 3000; the same bounds
for a 10/20/30% discount. Each bound is tested just below, exactly at and just above,
through the stdlib function, `award bonus`, `tier_percent()` and the checkout discount
endpoint.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from scn.interpreter.compiler import compile_workspace
from scn.stdlib.loyalty import tier_percent

from .harness import Harness, checked
from .server_harness import serving

PROGRAMS = """
program cashback "Cashback" bonus
  tier 2% up to 1000 UAH
  tier 3% up to 3000 UAH
  tier 5% above 3000 UAH
end
program discount "Discount" discount
  tier 10% up to 1000 UAH
  tier 20% up to 3000 UAH
  tier 30% above 3000 UAH
end
"""

#: (lifetime spend, bonus percent, discount percent) around each bound.
BOUNDARIES = [
    ("0.00", "2", "10"),
    ("999.99", "2", "10"),
    ("1000.00", "2", "10"),
    ("1000.01", "3", "20"),
    ("2999.99", "3", "20"),
    ("3000.00", "3", "20"),
    ("3000.01", "5", "30"),
]


@pytest.mark.parametrize(("spend", "bonus", "discount"), BOUNDARIES)
def test_tier_percent_includes_the_up_to_bound(spend: str, bonus: str, discount: str) -> None:
    bundle = compile_workspace(checked(PROGRAMS))
    assert tier_percent(bundle.programs["cashback"], Decimal(spend)).value == Decimal(bonus)
    assert tier_percent(bundle.programs["discount"], Decimal(spend)).value == Decimal(discount)


BONUS = (
    PROGRAMS
    + """
group members "Members" with program cashback default

scenario bonus "Bonus"
  on order.paid
  entry at most 1 per order
  award bonus
end
"""
)


async def test_award_bonus_pays_the_tier_of_the_spend_before_the_order() -> None:
    """A first order of exactly the spend, then an order of 100 UAH: its bonus is by the tier of that spend."""
    async with Harness(BONUS) as h:
        events = []
        for number, (spend, _, _) in enumerate(BOUNDARIES):
            contact = f"c{number}"
            events.append(h.event("order.paid", contact, key=f"{contact}-1",
                                  order={"id": f"{contact}-1", "total": spend, "currency": "UAH"}))  # fmt: skip
        await h.play(events)
        await h.play([
            h.event("order.paid", f"c{number}", key=f"c{number}-2",
                    order={"id": f"c{number}-2", "total": "100.00", "currency": "UAH"})
            for number in range(len(BOUNDARIES))
        ])  # fmt: skip
        ledger = await h.rows("SELECT contact_id, amount FROM bonus_ledger WHERE order_id LIKE '%-2'")
    paid = dict(ledger)
    for number, (spend, bonus, _) in enumerate(BOUNDARIES):
        assert paid[f"c{number}"] == f"{bonus}.00", f"after a spend of {spend} UAH: {bonus}% of 100 UAH"


TIER_FUNCTION = (
    PROGRAMS
    + """
attribute cashback_tier: percent
attribute discount_tier: percent

scenario note_tier "Note the tier"
  on order.paid
  set attribute cashback_tier = tier_percent(cashback)
  set attribute discount_tier = tier_percent(discount)
end
"""
)


async def test_the_tier_percent_function_reads_the_same_bounds() -> None:
    async with Harness(TIER_FUNCTION) as h:
        await h.play([
            h.event("order.paid", f"c{number}", order={"id": f"o{number}", "total": spend, "currency": "UAH"})
            for number, (spend, _, _) in enumerate(BOUNDARIES)
        ])  # fmt: skip
        contacts = await h.store.contacts([f"c{number}" for number in range(len(BOUNDARIES))])
    for number, (spend, bonus, discount) in enumerate(BOUNDARIES):
        attributes = contacts[f"c{number}"]["attributes"]
        assert (attributes["cashback_tier"], attributes["discount_tier"]) == (bonus, discount), spend


DISCOUNT = PROGRAMS + '\ngroup regulars "Regulars" with program discount default\n'


async def test_the_checkout_discount_endpoint_gives_the_tier_of_the_lifetime_spend(tmp_path: Path) -> None:
    async with serving(tmp_path, {"loyalty.scn": DISCOUNT}) as s:
        r = await s.client.post("/api/events", json=[
            {"type": "order.paid", "key": f"p{number}", "contact": {"id": f"c{number}", "group": "regulars"},
             "order": {"id": f"o{number}", "total": spend, "currency": "UAH"}}
            for number, (spend, _, _) in enumerate(BOUNDARIES)
        ])  # fmt: skip
        assert r.status_code == 202, r.text
        await s.settle()
        for number, (spend, _, discount) in enumerate(BOUNDARIES):
            loyalty = (await s.client.get(f"/api/contacts/c{number}/loyalty")).json()
            assert loyalty["lifetime_spend"] == spend
            assert loyalty["discount"]["percent"] == f"{discount}%", f"a lifetime spend of {spend} UAH"
