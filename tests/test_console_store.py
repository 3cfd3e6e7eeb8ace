"""The console's aggregates (interpreter/store/sqlite_overview.py): what each answers, at
the boundaries, and that each is answered from an index rather than a pass over a table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from scn.interpreter.clock import ms_of
from scn.interpreter.runtime import EventInput
from scn.interpreter.store import SqliteStore

from .harness import START, Harness

SHOP = """
list buyers "Buyers"

template thanks email
  subject "Thanks"
  html "thanks.html"
end

scenario thank "Thank buyers"
  on order.paid
  frequency at most 1 per 1d
  wait 1h
  send email thanks
  split
    variant a 50%
      add to list buyers
    variant b 50%
      wait 1m
  end
end
"""


def order(h: Harness, contact: str, number: int, at: dt.datetime, email: bool = True) -> EventInput:
    person = {} if email else {"email": None}
    return h.event("order.paid", contact, at=at, person=person,
                   order={"id": f"o{number}", "total": "10.00", "currency": "EUR", "status": "paid"})  # fmt: skip


async def count(h: Harness, sql: str) -> int:
    return int(await h.store._scalar(sql))


async def played(tmp_path: Path) -> Harness:
    h = Harness(SHOP, tmp_path / "scn.db")
    await h.__aenter__()
    events = [order(h, f"c{i}", i, START + dt.timedelta(minutes=i)) for i in range(12)]
    events.append(order(h, "c0", 100, START + dt.timedelta(minutes=30)))  # capped: at most 1 per day
    events.append(order(h, "nomail", 101, START, email=False))
    await h.play(events, until=dt.timedelta(hours=2))
    events = [order(h, "late", 102, h.clock.now())]
    await h.play(events)
    return h


async def test_the_aggregates_answer_what_the_rows_say(tmp_path: Path) -> None:
    h = await played(tmp_path)
    try:
        store = h.store
        assert await store.live_runs_by_status("thank") == {"waiting": 1}  # "late" waits its hour
        assert await store.live_runs_by_status("nobody") == {}
        sends = await store.sends_since("thank", ms_of(START))
        messages = await count(h, "SELECT count(*) FROM outbox WHERE status != 'skipped'")
        assert sum(sends.values()) == messages > 0
        assert await store.sends_since("thank", ms_of(h.clock.now()) + 1) == {}  # the boundary: none after now
        skipped = await store.skip_reasons("thank")
        assert [(step, why.split(":")[0], n) for step, why, n in skipped] == [
            ("s2", "frequency cap", 1),
            ("s2", "no email for email", 1),
        ] or [(step, why.split(":")[0], n) for step, why, n in skipped] == [
            ("s2", "no email for email", 1),
            ("s2", "frequency cap", 1),
        ]
        assert sum(n for _s, _w, n in skipped) == await count(h, "SELECT count(*) FROM outbox WHERE status = 'skipped'")
        assert await store.last_failure("thank") is None

        first = await store.step_messages("thank", "s2", 0, 2)
        rest = await store.step_messages("thank", "s2", first[-1].id, 100)
        everything = await count(h, "SELECT count(*) FROM outbox WHERE step = 's2'")
        assert len(first) == 2 and len(first) + len(rest) == everything
        assert all(m.step == "s2" and m.scenario == "thank" for m in first + rest)

        runs = await store.variant_runs("thank", ms_of(START), ms_of(h.clock.now()) + 1)
        assert {v for _r, _c, v in runs} == {"a", "b"}
        assert await store.variant_runs("thank", ms_of(START), ms_of(START)) == []  # an empty period
        entries = await store.step_entries([r for r, _c, _v in runs], "s3")
        assert {e[2] for e in entries} == {"chose"} and len(entries) == len(runs)
        assert await store.step_entries([], "s3") == []

        mine = await store.contact_runs("c0")
        assert [r.contact_id for r in mine] == ["c0", "c0"] and mine[0].id > mine[1].id  # newest first
        assert [m.id for m in await store.run_messages(mine[1].id)] == [
            m.id for m in first + rest if m.run_id == mine[1].id
        ]
        latest = await store.contact_messages("c0", 1)
        assert len(latest) == 1 and latest[0].contact_id == "c0"
    finally:
        await h.__aexit__()


async def test_finding_contacts_by_the_start_of_an_id_or_an_email(tmp_path: Path) -> None:
    h = await played(tmp_path)
    try:
        assert [c["id"] for c in await h.store.find_contacts("c1")] == ["c1", "c10", "c11"]
        assert [c["id"] for c in await h.store.find_contacts("c1", limit=2)] == ["c1", "c10"]
        assert [c["id"] for c in await h.store.find_contacts("c3@example.com")] == ["c3"]
        assert await h.store.find_contacts("") == []
        assert await h.store.find_contacts("zz") == []
        assert await h.store.find_contacts("%") == []  # no pattern language: a percent sign is a character
    finally:
        await h.__aexit__()


async def test_a_failed_message_or_run_is_the_last_failure(tmp_path: Path) -> None:
    h = await played(tmp_path)
    try:

        async def run(sql: str, *params: Any) -> None:
            await h.store._write_now(lambda db: db.execute(sql, params))

        await run("UPDATE outbox SET status = 'failed', error = 'refused by the server' WHERE id = 1")
        made = await count(h, "SELECT created_at FROM outbox WHERE id = 1")
        assert await h.store.last_failure("thank") == ("refused by the server", made)
        # A run that failed later is the latest failure; one that failed earlier is not.
        await run("UPDATE runs SET status = 'failed', reason = 'internal error', updated_at = ? WHERE id = 2", made + 1)
        assert await h.store.last_failure("thank") == ("internal error", made + 1)
        await run("UPDATE runs SET updated_at = ? WHERE id = 2", made - 1)
        assert await h.store.last_failure("thank") == ("refused by the server", made)
    finally:
        await h.__aexit__()


async def test_each_aggregate_reads_an_index_not_a_whole_table(tmp_path: Path) -> None:
    """Every statement the console's queries make, as the store makes it, explained."""
    store = SqliteStore(str(tmp_path / "scn.db"))
    await store.open()
    made: list[tuple[str, tuple[Any, ...]]] = []
    rows, scalar = store._rows, store._scalar

    async def recorded_rows(sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        made.append((sql, tuple(params)))
        return await rows(sql, params)

    async def recorded_scalar(sql: str, params: Any = ()) -> Any:
        made.append((sql, tuple(params)))
        return await scalar(sql, params)

    store._rows, store._scalar = recorded_rows, recorded_scalar  # type: ignore[method-assign]
    try:
        await store.live_runs_by_status("thank")
        await store.sends_since("thank", 0)
        await store.last_failure("thank")
        await store.skip_reasons("thank")
        await store.step_messages("thank", "s1")
        await store.run_messages(1)
        await store.contact_messages("c0")
        await store.find_contacts("c")
        await store.variant_runs("thank", 0, 1)
        await store.step_entries([1, 2], "s3")
        await store.contact_runs("c0")
        assert len(made) >= 13
        for sql, params in made:
            plan = " | ".join(str(row[-1]) for row in await rows(f"EXPLAIN QUERY PLAN {sql}", params))
            # SEARCH reads a range of an index; SCAN reads all of a table or of an index.
            assert "SEARCH" in plan and "SCAN" not in plan, (sql, plan)
    finally:
        await store.close()
