"""The segment sweep looks at a contact when its time condition crosses, and only then
(interpreter/runtime/crossing.py): membership changes at the exact moment, and the
number of contacts looked at follows the crossings, not the contacts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from scn.interpreter import ast
from scn.interpreter.compiler import compile_workspace
from scn.interpreter.runtime.crossing import crossings

from .harness import START, Harness, checked

INACTIVE = """
segment inactive "Inactive for 30 days" where contact.last_activity_at < ago(30d)
"""

DAY = dt.timedelta(days=1)
MS = dt.timedelta(milliseconds=1)


def watch(h: Harness) -> list[list[str]]:
    """The contacts of each sweep page, as the engine asks the store for them."""
    pages: list[list[str]] = []
    asked = h.store.due_segment_checks

    async def recorded(now: int, limit: int) -> list[str]:
        found = await asked(now, limit)
        if found:
            pages.append(found)
        return found

    h.store.due_segment_checks = recorded  # type: ignore[method-assign]
    return pages


async def members(h: Harness) -> set[str]:
    return {r[0] for r in await h.rows("SELECT contact_id FROM segment_members WHERE segment = 'inactive'")}


async def test_a_contact_enters_when_its_condition_crosses_and_no_one_else_is_looked_at(tmp_path: Path) -> None:
    async with Harness(INACTIVE, tmp_path / "scn.db") as h:
        pages = watch(h)
        events = [h.event("contact.active", f"c{i}", at=START + i * DAY, data={"kind": "login"}) for i in range(5)]
        await h.play(events)
        assert await members(h) == set()
        pages.clear()
        # c0 was active at START: it is inactive once the clock passes START + 30 days.
        await h.advance(START + 30 * DAY - h.clock.now())
        assert await members(h) == set()  # exactly 30 days: not yet (`<`)
        await h.advance(MS)
        assert await members(h) == {"c0"}
        assert pages and {c for page in pages for c in page} == {"c0"}  # nobody else was looked at
        pages.clear()
        await h.advance(DAY / 2)  # half a day on: no condition crosses, nobody is looked at
        assert pages == []
        await h.advance(DAY)
        assert await members(h) == {"c0", "c1"}
        assert {c for page in pages for c in page} == {"c1"}
        # An event moves c0's moment: active again now, inactive again 30 days on.
        await h.play([h.event("contact.active", "c0", at=h.clock.now(), data={"kind": "login"})])
        assert "c0" not in await members(h)
        pages.clear()
        await h.advance(30 * DAY + MS)
        assert await members(h) == {f"c{i}" for i in range(5)}
        looked = [c for page in pages for c in page]
        # each once, when it crossed (c1 is in already)
        assert sorted(looked) == sorted(set(looked)) == ["c0", "c2", "c3", "c4"]
        pages.clear()
        await h.advance(60 * DAY)  # nothing left to cross: nobody is looked at again
        assert pages == []


TODAY = """
segment new_year "Shop on New Year's Eve" where today() == 2025-12-31
"""


async def test_a_condition_that_cannot_be_followed_is_looked_at_every_sweep_period(tmp_path: Path) -> None:
    async with Harness(TODAY, tmp_path / "scn.db") as h:
        pages = watch(h)
        await h.play([h.event("contact.active", f"c{i}", data={"kind": "login"}) for i in range(3)])
        pages.clear()
        await h.advance(dt.timedelta(hours=3))
        # once an hour (segment_sweep_ms), every contact
        assert [sorted(p) for p in pages] == [["c0", "c1", "c2"]] * 3


async def test_a_deploy_that_changes_a_timed_segment_looks_at_everyone_once(tmp_path: Path) -> None:
    async with Harness(INACTIVE, tmp_path / "scn.db") as h:
        await h.play([h.event("contact.active", f"c{i}", data={"kind": "login"}) for i in range(3)])
        pages = watch(h)
        await h.install(INACTIVE.replace("30d", "10d"))
        await h.advance(MS)
        assert sorted(c for page in pages for c in page) == ["c0", "c1", "c2"]
        pages.clear()
        await h.advance(10 * DAY)
        assert await members(h) == {"c0", "c1", "c2"}  # at the new moment
        assert sorted(c for page in pages for c in page) == ["c0", "c1", "c2"]
        pages.clear()
        await h.install(INACTIVE.replace("30d", "10d"))  # the same definition again: nothing to redo
        await h.advance(MS)
        assert pages == []


def condition(text: str) -> ast.Expr:
    result = checked(f'segment s "S" where {text}')
    assert result.errors == 0, text
    bundle = compile_workspace(result)
    return bundle.segments["s"].condition


def test_which_conditions_can_be_followed() -> None:
    followed = {
        "contact.last_activity_at < ago(30d)": 1,
        "ago(30d) > contact.created_at and contact.orders.count >= 2": 1,
        "contact.created_at < ago(365d) or contact.last_activity_at >= ago(7d)": 2,
        "contact.created_at <= now()": 1,
        "contact.orders.count >= 2": 0,
    }
    for text, count in followed.items():
        found = crossings(condition(text))
        assert found is not None and len(found) == count, text
    for text in ("today() == 2025-12-31", "contact.created_at == now()", "messaged_within(7d)",
                 "now() - contact.created_at > 30d", "ago(30d) < now()"):  # fmt: skip
        assert crossings(condition(text)) is None, text
