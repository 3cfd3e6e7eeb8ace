"""SCN116 and the runtime agree: where the check warns, a run fails for an order in another
currency; where the currency was made sure of first, no run fails whatever the currency.

Each scenario holds one construct; one order in PLN and one in UAH are played. A warned
scenario's run fails for the UAH order (and only for it); an unwarned one never fails.
"""

from __future__ import annotations

import pytest

from scn.interpreter import codes

from .conftest import check_texts
from .harness import Harness

HEAD = 'attribute note: money\n\ntemplate hi sms\n  text "Hi"\nend\n'

#: Scenarios the check warns about (SCN116): their runs fail for a UAH order.
WARNED = {
    "compared": "  if order.total > 100 PLN\n    send sms hi\n  end",
    "banded": "  bands order.total\n    from 0 PLN to 200 PLN\n      send sms hi\n  end",
    "added": "  set attribute note = order.total + 5 PLN",
    "stopped": "  stop if order.total < 5 PLN",
    "other_branch": '  if order.currency == "EUR"\n    stop\n  elif order.total > 100 PLN\n    send sms hi\n  end',
}
#: Scenarios the check passes: the currency is made sure of first, or nothing can fail.
SAFE = {
    "guarded_by_stop": '  stop unless order.currency == "PLN"\n  if order.total > 100 PLN\n    send sms hi\n  end',
    "guarded_by_and": '  if order.currency == "PLN" and order.total > 100 PLN\n    send sms hi\n  end',
    "guarded_by_if": (
        '  if order.currency == "PLN"\n    bands order.total\n      from 0 PLN\n        send sms hi\n    end\n  end'
    ),
    "equality": "  stop if order.total == 5 PLN",
    "same_record": "  if order.total - order.total * 10% >= order.total\n    send sms hi\n  end",
}
TRIGGERED = {"guarded_by_trigger": "  if order.total > 100 PLN\n    send sms hi\n  end"}


def workspace() -> str:
    blocks = [HEAD]
    for name, steps in {**WARNED, **SAFE}.items():
        blocks.append(f'scenario {name} "{name}"\n  on order.paid\n  entry once per contact\n{steps}\nend\n')
    for name, steps in TRIGGERED.items():
        where = 'on order.paid where order.currency == "PLN"'
        blocks.append(f'scenario {name} "{name}"\n  {where}\n  entry once per contact\n{steps}\nend\n')
    return "\n".join(blocks)


def test_the_check_warns_exactly_where_a_run_can_fail() -> None:
    result = check_texts({"t.scn": workspace()}, {})
    assert result.ok
    lines = workspace().split("\n")
    warned = set()
    for d in result.diagnostics:
        assert d.code is codes.MONEY_OF_ANY_CURRENCY, d.message
        above = [ln for ln in lines[: d.span.line] if ln.startswith("scenario ")]
        warned.add(above[-1].split()[1])
    assert warned == set(WARNED)


def test_with_a_workspace_currency_nothing_is_warned() -> None:
    result = check_texts({"t.scn": "currency PLN\n\n" + workspace()}, {})
    assert not [d for d in result.diagnostics if d.code is codes.MONEY_OF_ANY_CURRENCY]


@pytest.mark.parametrize("currency", ["PLN", "UAH"])
async def test_the_runs_fail_exactly_where_the_check_warned(currency: str) -> None:
    async with Harness(workspace()) as h:
        order = {"id": "o1", "total": "150.00", "currency": currency}
        await h.play([h.event("order.paid", "ann", person={"phone": "+48500100200"}, order=order)])
        runs = dict(await h.rows("SELECT scenario, status FROM runs"))
    failed = {name for name, status in runs.items() if status == "failed"}
    assert failed == (set(WARNED) if currency == "UAH" else set())
    assert set(runs) == {*WARNED, *SAFE} | (set(TRIGGERED) if currency == "PLN" else set())


PROGRAM = """
program cashback "Cashback" bonus
  tier 2% up to 1000 UAH
  tier 5% above 1000 UAH
end

group newcomers "Newcomers" with program cashback default

scenario any_order "Any order"
  on order.paid
  entry at most 1 per order
  award bonus

scenario uah_orders "UAH orders"
  on order.paid where order.currency == "UAH"
  entry at most 1 per order
  award bonus
"""


def program_workspace() -> str:
    return PROGRAM.replace("  award bonus\n", "  award bonus\nend\n")


def test_a_bonus_by_tiers_is_warned_about_unless_the_orders_currency_is_made_sure_of() -> None:
    result = check_texts({"t.scn": program_workspace()}, {})
    found = [(d.code, d.span.line) for d in result.diagnostics]
    assert found == [(codes.MONEY_OF_ANY_CURRENCY, program_workspace().split("\n").index("  award bonus") + 1)]


@pytest.mark.parametrize(
    ("orders", "failed", "awarded"),
    [
        ([("o1", "UAH")], set(), 2),  # each scenario pays its 2%
        ([("o1", "EUR")], {"any_order"}, 0),  # no tier in UAH can be told for an EUR order
        # a contact whose spend is in EUR (their first paid order) fails even the guarded run
        ([("o1", "EUR"), ("o2", "UAH")], {"any_order", "uah_orders"}, 0),
    ],
)
async def test_a_bonus_by_tiers_fails_the_run_for_money_of_another_currency(
    orders: list[tuple[str, str]], failed: set[str], awarded: int
) -> None:
    async with Harness(program_workspace()) as h:
        events = [
            h.event("order.paid", "ann", order={"id": order, "total": "100.00", "currency": currency})
            for order, currency in orders
        ]
        for event in events:
            await h.play([event])
        runs = await h.rows("SELECT scenario, status, reason FROM runs ORDER BY id")
        bonuses = await h.rows("SELECT amount FROM bonus_ledger")
    assert {s for s, status, _ in runs if status == "failed"} == failed
    assert all("money of two currencies" in (reason or "") for _, status, reason in runs if status == "failed")
    assert len(bonuses) == awarded


TIER_CONDITION = """
program cashback "Cashback" bonus
  tier 2% up to 1000 UAH
  tier 5% above 1000 UAH
end

group newcomers "Newcomers" with program cashback default

attribute vip: bool

scenario tiered "Tiered"
  on order.paid
  entry at most 1 per order
  if tier_percent(cashback) >= 5%
    set attribute vip = true
  end
end
"""


def test_tier_percent_in_a_step_is_warned_about_without_a_workspace_currency() -> None:
    result = check_texts({"t.scn": TIER_CONDITION}, {})
    assert [d.code for d in result.diagnostics] == [codes.MONEY_OF_ANY_CURRENCY]
    assert not check_texts({"t.scn": "currency UAH\n" + TIER_CONDITION}, {}).diagnostics


@pytest.mark.parametrize(("currency", "status"), [("UAH", "done"), ("EUR", "failed")])
async def test_tier_percent_of_a_spend_in_another_currency_fails_the_run(currency: str, status: str) -> None:
    """It chose the tier by the number (5000 EUR read as 5000 UAH)."""
    async with Harness(TIER_CONDITION) as h:
        order = {"id": "o1", "total": "5000.00", "currency": currency}
        await h.play([h.event("order.paid", "ann", order=order)])
        (run,) = await h.rows("SELECT status, reason FROM runs")
    assert run[0] == status
    if status == "failed":
        assert "the tiers of program cashback are in UAH, the contact's spend in EUR" in run[1]
