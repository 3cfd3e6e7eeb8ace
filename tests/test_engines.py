"""Several engines on one PostgreSQL database (interpreter/store/pg_leases.py): racing for
the same events and the same due runs, they never both act on one, and a contact's work
is done by one engine at a time; a dead engine's contacts are taken over once its leases
expire."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from scn.interpreter.store import PgStore

from .harness import START, Harness
from .pg_cluster import Cluster

MAIL_A_DAY_LATER = """
template t_a email
  from "Shop" <shop@example.com>
  subject "A"
  html "a.html"
end

scenario later "A day later"
  on order.paid
  wait 1d
  send email t_a
end
"""
CONTACTS = 120


def order(i: int) -> dict[str, Any]:
    return {"order": {"id": f"o{i}", "total": "10.00", "currency": "EUR"}}


async def two_engines(url: str) -> tuple[Harness, Harness]:
    one, other = Harness(MAIL_A_DAY_LATER, url), Harness(MAIL_A_DAY_LATER, url)
    await one.__aenter__()
    await other.__aenter__()
    for h in (one, other):
        h.engine.settings.batch_size = 7  # many small batches: the engines interleave
    return one, other


async def test_two_engines_racing_for_the_same_events_and_due_runs_never_both_act_on_one(pg_cluster: Cluster) -> None:
    one, other = await two_engines(pg_cluster.database())
    try:
        events = [one.event("order.paid", f"c{i % (CONTACTS // 2)}", key=f"k{i}", **order(i)) for i in range(CONTACTS)]
        await one.engine.accept([one.engine.event_in(e) for e in events])
        done: Counter[str] = Counter()

        async def drain(name: str, h: Harness, work: Any, left: str) -> None:
            """Batches until nothing is left: an engine that finds every contact with work
            held by the other waits a moment and looks again."""
            while True:
                n = await work(h)
                done[name] += n
                if not n:
                    if (await h.rows(left))[0][0] == 0:
                        return
                    await asyncio.sleep(0.005)

        pending = "SELECT count(*) FROM events WHERE processed_at IS NULL"
        await asyncio.gather(
            drain("one", one, lambda h: h.engine.process_events(), pending),
            drain("other", other, lambda h: h.engine.process_events(), pending),
        )
        assert sum(done.values()) == CONTACTS and done["one"] and done["other"], done
        # One run per event, each started once; two events about a contact, in their order.
        started = await one.rows("SELECT trigger_event, count(*) FROM runs GROUP BY 1")
        assert len(started) == CONTACTS and {n for _, n in started} == {1}
        logs = await one.rows("SELECT run_id, step, count(*) FROM step_log GROUP BY 1, 2 HAVING count(*) > 1")
        assert logs == []

        for h in (one, other):
            h.clock.advance_to(START + dt.timedelta(days=1, minutes=1))
        done.clear()
        due = "SELECT count(*) FROM runs WHERE wake_at IS NOT NULL"
        await asyncio.gather(
            drain("one", one, lambda h: h.engine.run_due(), due),
            drain("other", other, lambda h: h.engine.run_due(), due),
        )
        assert sum(done.values()) == CONTACTS and done["one"] and done["other"], done
        # Each run woke once and sent once: no step of a run was done twice.
        twice = await one.rows(
            "SELECT run_id, step, outcome, count(*) FROM step_log GROUP BY 1, 2, 3 HAVING count(*) > 1"
        )
        assert twice == []
        assert await one.rows("SELECT status, count(*) FROM runs GROUP BY 1") == [("done", CONTACTS)]
        assert await one.rows("SELECT count(*) FROM outbox") == [(CONTACTS,)]
    finally:
        await one.__aexit__()
        await other.__aexit__()


async def test_a_dead_engines_contacts_are_taken_over_when_its_leases_expire(pg_cluster: Cluster) -> None:
    one, other = await two_engines(pg_cluster.database())
    try:
        assert isinstance(one.store, PgStore) and isinstance(other.store, PgStore)
        await one.engine.accept([one.engine.event_in(one.event("order.paid", "ann", key="k1", **order(1)))])
        # The first engine claims ann's event, then dies before committing anything.
        claimed = await one.store.unprocessed_events(10)
        assert [e.contact_id for e in claimed] == ["ann"]
        one.store.stop_renewing()
        assert await other.store.unprocessed_events(10) == [], "ann is the first engine's while its lease lasts"
        await one.rows("UPDATE contact_leases SET until = until - 60000")  # its lease runs out
        assert await other.engine.process_events() == 1
        assert await other.rows("SELECT contact_id, status FROM runs") == [("ann", "waiting")]
    finally:
        await one.__aexit__()
        await other.__aexit__()


async def test_an_engine_that_lost_its_contacts_while_working_drops_its_batch(pg_cluster: Cluster) -> None:
    """An engine that is alive but held up past its lease (a long pause of its machine)
    finds, when it commits, that another engine took its contacts and did their work: it
    drops its batch rather than apply the same events and runs a second time."""
    one, other = await two_engines(pg_cluster.database())
    try:
        assert isinstance(one.store, PgStore)
        await one.engine.accept([one.engine.event_in(one.event("order.paid", "ann", key="k1", **order(1)))])
        commit = one.store.commit
        taken_over: list[int] = []

        async def held_up(changes: Any) -> None:
            # Between its claim and its commit, the first engine's lease runs out, and the
            # other engine takes ann over and does the same work.
            await one.rows("UPDATE contact_leases SET until = until - 60000")
            taken_over.append(await work(other))
            await commit(changes)

        def events(h: Harness) -> Awaitable[int]:
            return h.engine.process_events()

        def runs(h: Harness) -> Awaitable[int]:
            return h.engine.run_due()

        work: Callable[[Harness], Awaitable[int]]
        for work, what in ((events, "the event"), (runs, "the run")):
            taken_over.clear()
            one.store.commit = held_up  # type: ignore[method-assign]
            await work(one)
            one.store.commit = commit  # type: ignore[method-assign]
            assert taken_over == [1], f"the other engine did {what} meanwhile"
            assert await one.rows("SELECT count(*) FROM runs") == [(1,)], f"{what} was done twice"
            await one.rows("UPDATE contact_leases SET until = until - 60000")  # ann is free again
            for h in (one, other):
                h.clock.advance_to(START + dt.timedelta(days=1, minutes=1))
        assert await one.rows("SELECT status FROM runs") == [("done",)]
        assert await one.rows("SELECT count(*) FROM outbox") == [(1,)]
        assert await one.rows("SELECT count(*) FROM events WHERE error IS NOT NULL") == [(0,)]
        twice = await one.rows("SELECT run_id, step, outcome FROM step_log GROUP BY 1, 2, 3 HAVING count(*) > 1")
        assert twice == []
    finally:
        await one.__aexit__()
        await other.__aexit__()


async def test_two_engines_racing_for_the_same_birthdays_fire_each_once(pg_cluster: Cluster) -> None:
    """The contacts whose dates are due are not leased: two engines may look at one
    contact's date at once; the occurrence's event key (scenario, contact, date) makes it
    fire once all the same."""
    url = pg_cluster.database()
    one, other = Harness(DATES, url, start=DATES_START), Harness(DATES, url, start=DATES_START)
    await one.__aenter__()
    await other.__aenter__()
    try:
        for h in (one, other):
            h.engine.settings.batch_size = 7
        born = {"attributes": {"birthday": "1990-01-10"}}
        people = [one.event("contact.registered", f"p{i}", key=f"r{i}", person=born) for i in range(40)]
        await one.engine.accept([one.engine.event_in(e) for e in people])
        while await one.engine.process_events():
            pass
        for h in (one, other):
            await h.engine.sweep_dates()  # the trigger is deployed from now on
            h.clock.advance_to(DATES_START + dt.timedelta(days=10, hours=11))
        done: Counter[str] = Counter()

        async def sweep(name: str, h: Harness) -> None:
            while True:
                n = await h.engine.sweep_dates()
                done[name] += n
                if not n:
                    due = await h.rows(f"SELECT count(*) FROM date_checks WHERE due_at <= {h.engine.clock_ms()}")
                    if due[0][0] == 0:
                        return
                    await asyncio.sleep(0.005)

        await asyncio.gather(sweep("one", one), sweep("other", other))
        assert done["one"] and done["other"], done
        while await one.engine.process_events():  # the birthdays' events start the runs
            pass
        assert await one.rows("SELECT contact_id, count(*) FROM outbox GROUP BY 1 HAVING count(*) > 1") == []
        assert await one.rows("SELECT count(*) FROM outbox") == [(40,)]
    finally:
        await one.__aexit__()
        await other.__aexit__()


DATES = """
attribute birthday: date
template hi email
  from "Shop" <shop@example.com>
  subject "Hi"
  html "hi.html"
end

scenario birthday "Happy birthday"
  on date contact.birthday at 10:00
  send email hi
end
"""
DATES_START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


async def _killed(h: Harness) -> None:
    """``h``'s process as a kill -9 leaves it: every connection of its store ended."""
    store = h.store
    assert isinstance(store, PgStore) and store._writer is not None and store._readers is not None
    pids = [c.raw.get_server_pid() for c in (store._writer, *store._readers._all)]
    admin = await asyncpg.connect(store.url)
    try:
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY($1)", pids)
        for _ in range(500):
            if await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)", pids) == 0:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the connections did not end")
    finally:
        await admin.close()


async def test_a_killed_engines_contacts_are_taken_over_at_once_by_a_renewing_or_starting_engine(
    pg_cluster: Cluster,
) -> None:
    """Without waiting for the leases to run out: a living engine takes them over when it
    renews its own, an engine starting (the killed one restarted) at its first claim."""
    url = pg_cluster.database()
    one, other = await two_engines(url)
    third = Harness(MAIL_A_DAY_LATER, url)
    try:
        assert isinstance(other.store, PgStore)
        await one.engine.accept([one.engine.event_in(one.event("order.paid", "ann", key="k1", **order(1)))])
        assert [e.contact_id for e in await one.store.unprocessed_events(10)] == ["ann"]
        assert await other.store.unprocessed_events(10) == [], "ann is the first engine's while it lives"
        await _killed(one)
        await other.store._write(lambda: other.store.leases.renew(other.store._fetch))  # type: ignore[attr-defined]
        assert await other.engine.process_events() == 1

        await other.engine.accept([other.engine.event_in(other.event("order.paid", "bob", key="k2", **order(2)))])
        assert [e.contact_id for e in await other.store.unprocessed_events(10)] == ["bob"]
        await _killed(other)
        await third.__aenter__()
        assert await third.engine.process_events() == 1
        assert await third.rows("SELECT contact_id, status FROM runs ORDER BY contact_id") == [
            ("ann", "waiting"), ("bob", "waiting"),
        ]  # fmt: skip
    finally:
        for h in (one, other, third):
            with contextlib.suppress(Exception):  # the killed ones' connections are gone
                await h.__aexit__()


async def test_closing_a_store_whose_connections_the_database_ended_gives_back_what_it_can(pg_cluster: Cluster) -> None:
    """A store whose server connections are gone (a restarted database, a network cut)
    still closes: shutting down must not fail on the connections it no longer has."""
    h = Harness(MAIL_A_DAY_LATER, pg_cluster.database())
    await h.__aenter__()
    store = h.store
    assert isinstance(store, PgStore)
    await _killed(h)
    await store.close()
    assert store._writer is None and store._readers is None
