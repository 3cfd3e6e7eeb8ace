"""The engine on a real SQLite store with a virtual clock: splits, versions, pause,
idempotent intake, group commits and migrations."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from scn.interpreter.runtime.engine import KeyConflict
from scn.interpreter.store import SqliteStore, StoreError
from scn.interpreter.store.schema import MIGRATIONS

from .harness import Harness

TEMPLATES = """
template t_a email
  from "Shop" <shop@example.com>
  subject "A"
  html "a.html"
end

template t_b email
  from "Shop" <shop@example.com>
  subject "B"
  html "b.html"
end
"""

SPLIT = (
    TEMPLATES
    + """
scenario ab "A/B"
  on order.paid
  split
    variant a 30%
      send email t_a
    variant b 60%
      send email t_b
    control 10%
  end
end
"""
)

TWO_MAILS = (
    TEMPLATES
    + """
scenario later "A day later"
  on order.paid
  wait 1d
  send email t_a
end
"""
)

DAY = dt.timedelta(days=1)


def order(i: int) -> dict[str, Any]:
    return {"order": {"id": f"o{i}", "total": "10.00", "currency": "EUR"}}


def run(coroutine: object) -> None:
    asyncio.run(coroutine)  # type: ignore[arg-type]


def test_a_split_sends_each_variant_to_its_share_of_1000_contacts(db: str) -> None:
    async def scenario() -> None:
        async with Harness(SPLIT, db) as h:
            await h.play([h.event("order.paid", f"c{i}", key=f"k{i}", **order(i)) for i in range(1000)])
            sent = Counter(t for (t,) in await h.rows("SELECT template FROM outbox"))
            variants = Counter(v for (v,) in await h.rows("SELECT variant FROM runs"))
            assert sum(variants.values()) == 1000
            # Shares within 5 points of 30/60/10 (the split is deterministic: no flakiness).
            assert abs(sent["t_a"] - 300) <= 50 and abs(sent["t_b"] - 600) <= 50
            assert abs(variants["control"] - 100) <= 50
            assert variants["a"] == sent["t_a"] and variants["b"] == sent["t_b"]

    run(scenario())


def test_a_split_is_the_same_for_the_same_run() -> None:
    """Re-executing a split step (after a crash) must take the same branch."""

    async def choose(path: Path) -> list[tuple[int, str]]:
        async with Harness(SPLIT, path) as h:
            await h.play([h.event("order.paid", f"c{i}", key=f"k{i}", **order(i)) for i in range(50)])
            return [(i, v) for i, v in await h.rows("SELECT id, variant FROM runs ORDER BY id")]

    async def scenario(tmp: Path) -> None:
        first = await choose(tmp / "one.db")
        second = await choose(tmp / "two.db")
        assert first == second
        assert len({v for _, v in first}) == 3

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        run(scenario(Path(tmp)))


def test_a_contact_who_enters_a_split_again_gets_the_same_variant(db: str) -> None:
    """The variant comes from the scenario, the split and the contact, not the run: a
    customer who orders twice sees the same offer both times (issue 15)."""

    async def scenario() -> None:
        async with Harness(SPLIT, db) as h:
            first = [h.event("order.paid", f"c{i}", key=f"k{i}", **order(i)) for i in range(200)]
            again = [h.event("order.paid", f"c{i}", key=f"r{i}", **order(1000 + i)) for i in range(200)]
            await h.play(first)
            await h.play(again)
            chosen: dict[str, set[str]] = {}
            for contact, variant in await h.rows("SELECT contact_id, variant FROM runs"):
                chosen.setdefault(contact, set()).add(variant)
            runs = await h.rows("SELECT count(*) FROM runs")
            assert runs == [(400,)], runs
            assert all(len(v) == 1 for v in chosen.values()), {c: v for c, v in chosen.items() if len(v) > 1}
            assert {v for vs in chosen.values() for v in vs} == {"a", "b", "control"}

    run(scenario())


def test_a_split_per_run_draws_for_each_run_and_the_same_run_keeps_its_draw(tmp_path: Path) -> None:
    """`split per run`: a contact who enters again may get another variant (the draw is the
    run's), but a run that executes the split again (after a crash) takes the same way."""
    per_run = SPLIT.replace("  split\n", "  split per run\n")
    assert per_run != SPLIT

    async def variants(path: Path) -> list[tuple[int, str, str]]:
        async with Harness(per_run, path) as h:
            await h.play([h.event("order.paid", f"c{i % 20}", key=f"k{i}", **order(i)) for i in range(200)])
            return [tuple(r) for r in await h.rows("SELECT id, contact_id, variant FROM runs ORDER BY id")]

    async def scenario() -> None:
        first = await variants(tmp_path / "one.db")
        assert len(first) == 200
        chosen: dict[str, set[str]] = {}
        for _, contact, variant in first:
            chosen.setdefault(contact, set()).add(variant)
        assert all(len(v) > 1 for v in chosen.values()), chosen  # ten runs each: never one variant for all
        assert await variants(tmp_path / "two.db") == first  # the same runs draw the same

    run(scenario())


def test_a_run_keeps_its_version_and_new_runs_take_the_new_one(db: str) -> None:
    changed = TWO_MAILS.replace("send email t_a", "send email t_b")

    async def scenario() -> None:
        async with Harness(TWO_MAILS, db) as h:
            await h.play([h.event("order.paid", "old", key="k1", **order(1))])
            versions = await h.install(changed)
            assert versions == {"later": 2}
            await h.play([h.event("order.paid", "new", key="k2", **order(2))], until=2 * DAY)
            rows = await h.rows(
                "SELECT r.contact_id, r.version, o.template FROM runs r JOIN outbox o ON o.run_id = r.id "
                "ORDER BY r.contact_id"
            )
            assert rows == [("new", 2, "t_b"), ("old", 1, "t_a")]
            # Installing the same workspace again makes no new version.
            assert await h.install(changed) == {"later": 2}
            assert (await h.rows("SELECT count(*) FROM bundles"))[0][0] == 2

    run(scenario())


def test_pausing_holds_runs_and_resuming_continues_them(db: str) -> None:
    async def scenario() -> None:
        async with Harness(TWO_MAILS, db) as h:
            await h.play([h.event("order.paid", "ann", key="k1", **order(1))])
            await h.engine.set_state("later", "paused")
            await h.advance(3 * DAY)
            assert await h.rows("SELECT count(*) FROM outbox") == [(0,)]
            # A paused scenario starts no new runs.
            await h.play([h.event("order.paid", "bob", key="k2", **order(2))], until=DAY)
            assert await h.rows("SELECT contact_id, status FROM runs") == [("ann", "waiting")]
            await h.engine.set_state("later", "active")
            await h.advance(dt.timedelta(seconds=1))
            # The run due during the pause goes as soon as the scenario is resumed.
            assert await h.rows("SELECT contact_id, template FROM outbox") == [("ann", "t_a")]
            assert await h.rows("SELECT status FROM runs") == [("done",)]

    run(scenario())


def test_an_awaited_event_during_a_pause_is_kept_for_the_resume(db: str) -> None:
    text = (
        TEMPLATES
        + """
scenario nudge "Nudge until paid"
  on order.unpaid
  wait for order.paid up to 2d
  on timeout
    send email t_b
    stop
  end
  send email t_a
end
"""
    )

    async def scenario() -> None:
        async with Harness(text, db) as h:
            await h.play([h.event("order.unpaid", "ann", key="u", **order(1))])
            await h.engine.set_state("nudge", "paused")
            await h.play([h.event("order.paid", "ann", key="p", **order(1))], until=3 * DAY)
            assert await h.rows("SELECT count(*) FROM outbox") == [(0,)]
            await h.engine.set_state("nudge", "active")
            await h.advance(dt.timedelta(seconds=1))
            # It paid during the pause: the "paid" branch, not the timeout.
            assert await h.rows("SELECT template FROM outbox") == [("t_a",)]

    run(scenario())


def test_a_duplicate_idempotency_key_is_accepted_once(db: str) -> None:
    async def scenario() -> None:
        async with Harness(TWO_MAILS, db) as h:
            first = h.engine.event_in(h.event("order.paid", "ann", key="same", **order(1)))
            again = h.engine.event_in(h.event("order.paid", "ann", key="same", **order(1)))
            results = await h.engine.accept([first, again])
            assert results[0][1] is False and results[1] == (results[0][0], True)
            assert (await h.engine.accept([again]))[0] == (results[0][0], True)
            await h.advance(2 * DAY)
            assert await h.rows("SELECT count(*) FROM runs") == [(1,)]
            assert await h.rows("SELECT count(*) FROM outbox") == [(1,)]

    run(scenario())


def test_requests_of_one_group_commit_are_refused_or_accepted_each_on_its_own(db: str) -> None:
    async def scenario() -> None:
        async with Harness(TWO_MAILS, db) as h:
            known = h.engine.event_in(h.event("order.paid", "ann", key="k0", **order(1)))
            await h.engine.accept([known])
            clash = h.engine.event_in(h.event("order.paid", "ann", key="k0", **order(2)))
            fresh = h.engine.event_in(h.event("order.paid", "bob", key="k1", **order(3)))
            # The same key as `fresh`, other content, in a later request of the same group.
            later = h.engine.event_in(h.event("order.paid", "cid", key="k1", **order(4)))
            same = h.engine.event_in(h.event("order.paid", "bob", key="k1", **order(3)))
            results = await asyncio.gather(
                h.engine.accept([clash, fresh]), h.engine.accept([fresh]), h.engine.accept([later]),
                h.engine.accept([same]), return_exceptions=True,
            )  # fmt: skip
            assert isinstance(results[0], KeyConflict) and results[0].key == "k0"
            assert isinstance(results[2], KeyConflict) and results[2].key == "k1"
            accepted = results[1]
            assert isinstance(accepted, list) and accepted[0][1] is False
            assert results[3] == [(accepted[0][0], True)]
            assert await h.rows("SELECT key, contact_id FROM events ORDER BY id") == [("k0", "ann"), ("k1", "bob")]

    run(scenario())


def test_concurrent_producers_share_group_commits(db: str) -> None:
    async def scenario() -> None:
        async with Harness(TWO_MAILS, db) as h:
            commits = 0
            append = h.store.append_batches

            async def counting(*args: Any, **kwargs: Any) -> list[list[tuple[int, bool]] | str]:
                nonlocal commits
                commits += 1
                return await append(*args, **kwargs)

            h.store.append_batches = counting  # type: ignore[method-assign]
            events = [h.engine.event_in(h.event("order.paid", f"c{i}", key=f"k{i}", **order(i))) for i in range(200)]
            results = await asyncio.gather(*(h.engine.accept([e]) for e in events))
            assert sorted(r[0][0] for r in results) == list(range(1, 201))
            assert commits < 20  # 200 producers, a handful of transactions
            assert await h.rows("SELECT count(*) FROM events") == [(200,)]

    run(scenario())


def test_opening_an_older_file_migrates_it_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0][1])
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.execute("INSERT INTO bundles (version, created_at, blob) VALUES (1, 0, x'00')")
    conn.execute("INSERT INTO contacts (id, email, created_at, updated_at) VALUES ('ann', 'ann@example.com', 0, 0)")
    conn.commit()
    conn.close()

    async def scenario() -> None:
        store = SqliteStore(str(path))
        await store.open()
        try:
            assert await store.schema_version() == len(MIGRATIONS)
            assert (await store.contacts(["ann"]))["ann"]["email"] == "ann@example.com"
            assert await store.bundle_blob(1) == b"\x00"
        finally:
            await store.close()

    run(scenario())


def test_a_file_from_a_newer_scn_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (99)")
    conn.commit()
    conn.close()

    async def scenario() -> None:
        store = SqliteStore(str(path))
        with pytest.raises(StoreError, match="written by a newer scn"):
            await store.open()
        await store.close()

    run(scenario())


def test_the_store_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = SqliteStore(str(tmp_path / "scn.db"))
        await store.open()
        try:
            for pragma, value in (("journal_mode", "wal"), ("foreign_keys", 1), ("busy_timeout", 10000)):
                async with store.db.execute(f"PRAGMA {pragma}") as cursor:
                    row = await cursor.fetchone()
                assert row is not None and row[0] == value, pragma
        finally:
            await store.close()

    run(scenario())


def test_an_event_that_breaks_the_runtime_is_set_aside_and_the_rest_go_on(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with Harness(TWO_MAILS, db) as h:
            handle = h.engine._handle

            async def fragile(batch: Any, event: Any, payload: Any) -> None:
                if event.key == "k2":
                    raise RuntimeError("a bug")
                await handle(batch, event, payload)

            monkeypatch.setattr(h.engine, "_handle", fragile)
            await h.play([h.event("order.paid", f"c{i}", key=f"k{i}", **order(i)) for i in range(4)], until=2 * DAY)
            failed = await h.rows("SELECT key, error FROM events WHERE error IS NOT NULL")
            assert failed == [("k2", "RuntimeError: a bug")]
            assert await h.rows("SELECT count(*) FROM events WHERE processed_at IS NULL") == [(0,)]
            assert sorted(c for (c,) in await h.rows("SELECT contact_id FROM outbox")) == ["c0", "c1", "c3"]

    run(scenario())


def test_a_run_that_breaks_the_runtime_fails_alone(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with Harness(TWO_MAILS, db) as h:
            await h.play([h.event("order.paid", f"c{i}", key=f"k{i}", **order(i)) for i in range(3)])
            wake = h.engine.executor.wake

            async def fragile(batch: Any, run: Any) -> None:
                if run.contact_id == "c1":
                    raise KeyError("missing")
                await wake(batch, run)

            monkeypatch.setattr(h.engine.executor, "wake", fragile)
            await h.advance(2 * DAY)
            statuses = dict(await h.rows("SELECT contact_id, status FROM runs"))
            assert statuses == {"c0": "done", "c1": "failed", "c2": "done"}
            reason = await h.rows("SELECT reason FROM runs WHERE contact_id = 'c1'")
            assert reason == [("internal error: KeyError: 'missing'",)]

    run(scenario())


def test_a_run_wakes_only_after_the_events_received_before_it_are_processed(db: str) -> None:
    text = (
        TEMPLATES
        + """
scenario reminder "Remind the unpaid"
  on order.unpaid
  wait 30m
  stop if order.paid
  send email t_a
end
"""
    )

    async def scenario() -> None:
        async with Harness(text, db) as h:
            await h.play([h.event("order.unpaid", "ann", key="u", **order(1))])
            await h.advance(dt.timedelta(minutes=29))
            # The payment is accepted at 29 minutes but not processed before the run is due.
            await h.engine.accept([h.engine.event_in(h.event("order.paid", "ann", key="p", **order(1)))])
            h.clock.advance_to(h.clock.now() + dt.timedelta(minutes=2))
            assert await h.engine.run_due() == 0  # held back behind the unprocessed payment
            assert await h.engine.process_events() == 1
            assert await h.engine.run_due() == 1
            assert await h.rows("SELECT status, reason FROM runs") == [("stopped", "stop if order.paid")]
            assert await h.rows("SELECT count(*) FROM outbox") == [(0,)]

    run(scenario())


def test_runtime_events_are_stored_only_when_something_listens() -> None:
    lists = (
        TEMPLATES
        + """
list fired "Fired"

scenario tick "Tick"
  on order.paid
  add to list fired
end
"""
    )
    listened = (
        lists
        + """
scenario welcome_to_list "Welcome to the list"
  on list.entered where event.list == fired
  send email t_a
end
"""
    )

    async def count_list_events(text: str) -> int:
        async with Harness(text) as h:
            await h.play([h.event("order.paid", "ann", key="k", **order(1))], until=DAY)
            return int((await h.rows("SELECT count(*) FROM events WHERE type = 'list.entered'"))[0][0])

    async def scenario() -> None:
        assert await count_list_events(lists) == 0
        assert await count_list_events(listened) == 1

    run(scenario())


def test_what_events_say_of_a_contact_updates_it_and_a_new_address_is_tried_again(db: str) -> None:
    """Projections: given fields change the contact, repeated ones change nothing; an
    unsubscribe and a bounce mark the channel; a new address clears its bounce."""
    workspace = 'list x "X"\n\nscenario s "S"\n  on order.paid\n  add to list x\nend\n'

    async def scenario() -> None:
        async with Harness(workspace, db) as h:

            async def channels() -> dict[str, Any]:
                return dict((await h.store.contacts(["ann"]))["ann"].get("channels") or {})

            await h.play([h.event("contact.updated", "ann", person={"phone": "+380501112233", "language": "uk"})])
            ann = (await h.store.contacts(["ann"]))["ann"]
            assert (ann["email"], ann["phone"], ann["language"]) == ("ann@example.com", "+380501112233", "uk")
            await h.play([h.event("contact.updated", "ann", person={"subscriptions": {"sms": False}})])
            assert await channels() == {"sms": {"subscribed": False}}
            bounced = h.event("message.bounced", "ann", data={"channel": "email", "reason": "550"})
            await h.play([bounced, h.event("contact.updated", "ann")])  # the same address again
            assert (await channels())["email"] == {"bounced": True}
            await h.play([h.event("contact.updated", "ann", person={"email": "ann@new.example"})])
            assert (await channels())["email"] == {"bounced": False}
            assert (await h.store.contacts(["ann"]))["ann"]["email"] == "ann@new.example"
            assert (await channels())["sms"] == {"subscribed": False}, "other channels keep their state"

    run(scenario())
