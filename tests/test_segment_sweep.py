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


ACTIVE_LATELY = """
segment active_lately "Active in the last 30 days"
  where contact.last_activity_at is set and contact.last_activity_at >= ago(30d)
"""


async def test_a_contact_leaves_at_the_exact_moment_and_an_unset_field_is_never_looked_at(tmp_path: Path) -> None:
    async with Harness(ACTIVE_LATELY, tmp_path / "scn.db") as h:
        pages = watch(h)
        # c0 active; c1 only updated (no last_activity_at: the condition is false at any time)
        await h.play([h.event("contact.active", "c0", data={"kind": "login"}), h.event("contact.updated", "c1")])
        assert await h.rows("SELECT contact_id FROM segment_members") == [("c0",)]
        assert await h.rows("SELECT contact_id, due_at FROM segment_checks ORDER BY 1") == [
            ("c0", int((START + 30 * DAY + MS).timestamp() * 1000)), ("c1", None),
        ]  # fmt: skip
        pages.clear()
        await h.advance(30 * DAY)  # exactly 30 days: `>=` still holds
        assert await h.rows("SELECT contact_id FROM segment_members") == [("c0",)]
        assert pages == []
        await h.advance(MS)
        assert await h.rows("SELECT contact_id FROM segment_members") == []
        assert pages == [["c0"]]  # c1, whose field is unset, was never looked at


TRIAL = """
attribute trial_ends: datetime

segment trial_over "Trial over" where contact.trial_ends is set and now() >= contact.trial_ends

scenario trial "A two-day trial, started an hour after sign-up"
  on contact.active
  entry once per contact
  wait 1h
  set attribute trial_ends = now() + 2d
end
"""


async def test_a_time_set_by_a_step_is_followed_from_the_step_on(tmp_path: Path) -> None:
    """`set attribute` changes what a timed condition compares with outside any event:
    the contact is looked at again (its moment computed anew) after that step."""
    async with Harness(TRIAL, tmp_path / "scn.db") as h:
        await h.play([h.event("contact.active", "c0", data={"kind": "login"})])
        ends = START + dt.timedelta(hours=1) + 2 * DAY
        await h.advance(ends - h.clock.now() - MS)  # a millisecond before the trial ends
        assert await h.rows("SELECT contact_id FROM segment_members") == []
        await h.advance(MS)  # exactly at its end (`now() >= x` holds from x on)
        assert await h.rows("SELECT contact_id FROM segment_members") == [("c0",)]


async def test_contacts_without_events_are_looked_at_once_when_the_sweep_starts(tmp_path: Path) -> None:
    """A store from before the incremental sweep (or a bulk import): contacts that never
    had an event here are looked at when the engine starts, then at their own moment."""
    import sqlite3

    from scn.interpreter.store import SqliteStore

    path = tmp_path / "scn.db"
    store = SqliteStore(str(path))
    await store.open()
    await store.close()
    db = sqlite3.connect(path, isolation_level=None)
    at = int(START.timestamp() * 1000)
    db.executemany(
        "INSERT INTO contacts (id, created_at, updated_at, last_activity_at) VALUES (?, 0, 0, ?)",
        [("old", at - 40 * 86_400_000), ("recent", at - 10 * 86_400_000), ("never", None)],
    )
    db.close()
    async with Harness(INACTIVE, path) as h:
        pages = watch(h)
        await h.advance(MS)
        assert await members(h) == {"old"}
        assert sorted(c for page in pages for c in page) == ["never", "old", "recent"]
        pages.clear()
        await h.advance(20 * DAY - MS)  # `recent` was active exactly 30 days ago: not yet
        assert await members(h) == {"old"} and pages == []
        await h.advance(MS)
        assert await members(h) == {"old", "recent"}
        assert pages == [["recent"]]


async def test_a_timed_segment_deployed_again_after_a_version_without_it_looks_at_everyone(tmp_path: Path) -> None:
    """Moments are not kept while no timed segment is deployed: deploying the same timed
    segment again makes everyone due, not the moments computed before."""
    untimed = 'segment buyers "Buyers" where contact.orders.count >= 1'
    async with Harness(INACTIVE, tmp_path / "scn.db") as h:
        await h.play([h.event("contact.updated", "c0")])  # never active: nothing to follow
        await h.install(untimed)
        await h.play([h.event("contact.active", "c0", at=h.clock.now() + MS, data={"kind": "login"})])
        active_at = h.clock.now()
        await h.install(INACTIVE)
        await h.advance(active_at + 30 * DAY - h.clock.now())
        assert await members(h) == set()
        await h.advance(MS)
        assert await members(h) == {"c0"}
