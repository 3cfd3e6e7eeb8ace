"""The benchmarks' own code still fits the code it measures (a benchmark that breaks is
found here, not at the next `make bench`): cheap parts that need only the test
dependencies (bench_e2e and what imports it need the `bench` extra's psutil), and the raw
PostgreSQL loops on the session's test cluster."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import importlib
import random
import sys
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from .conftest import ROOT, _migrated
from .pg_cluster import Cluster

# The benchmarks are scripts in bench/, importing each other by name (not type-checked).
sys.path.insert(0, str(ROOT / "bench"))
bench_scale = importlib.import_module("bench_scale")


def test_the_scale_benchmark_builds_events_the_api_would_accept() -> None:
    events = bench_scale.paid_events(100, 3, random.Random(1), "t")
    assert [e.type for e in events] == ["order.paid"] * 3
    assert all(e.order is not None and e.order.total is not None for e in events)


def test_a_burst_pays_for_contacts_no_earlier_burst_paid_for() -> None:
    """Equal work at every size: each contact once, none that an earlier burst used."""
    used = {f"c{i}" for i in range(90)}
    events = bench_scale.paid_events(100, 10, random.Random(1), "t", used)
    contacts = [e.contact.id for e in events if e.contact is not None]
    assert sorted(contacts) == sorted(f"c{i}" for i in range(90, 100)), "the ten left, each once"
    with pytest.raises(SystemExit, match="fill it anew"):  # too few left: said, not looped over forever
        bench_scale.paid_events(100, 11, random.Random(1), "t", used)


bench_pg = importlib.import_module("bench_pg")
pg_raw = importlib.import_module("pg_raw")
EVENTS = 60


async def _drain(step: Callable[[], Awaitable[int]]) -> int:
    """A loop's batches until it finds nothing three times running (as bench_pg's)."""
    done, idle = 0, 0
    while idle < 3:
        took = await step()
        done, idle = done + took, 0 if took else idle + 1
        if not took:
            await asyncio.sleep(0.01)
    return done


@pytest.mark.parametrize("ordering", ["leases", "advisory", "xact", "partition"])
async def test_two_raw_loops_do_every_event_and_due_run_once_whatever_keeps_a_contact_with_one(
    pg_cluster: Cluster, ordering: str
) -> None:
    """The orderings compared in docs/postgresql.md ("Why a lease per contact") run on the
    store's schema and share the work without doing any of it twice or leaving any."""
    url = pg_cluster.database(template=_migrated)
    await bench_pg.prepare(url, EVENTS)
    connections = [await asyncpg.connect(url) for _ in range(2)]
    try:
        loops = [pg_raw.RawEngine(c, f"loop{i}", 7, ordering, i, 2) for i, c in enumerate(connections)]
        now = int((bench_pg.START + dt.timedelta(days=2)).timestamp() * 1000)
        events = await asyncio.gather(*(_drain(loop.events) for loop in loops))
        due = await asyncio.gather(*(_drain(functools.partial(loop.due_runs, now)) for loop in loops))
        db = connections[0]
        assert sum(events) == EVENTS and sum(due) == EVENTS, (events, due)
        assert await db.fetchval("SELECT count(*) FROM events WHERE processed_at IS NULL") == 0
        assert await db.fetchval("SELECT count(DISTINCT trigger_event) FROM runs") == EVENTS
        assert await db.fetchval("SELECT count(*) FROM runs WHERE status = 'done'") == EVENTS
        assert await db.fetchval("SELECT count(*) FROM outbox") == EVENTS
        twice = "SELECT count(*) FROM (SELECT 1 FROM step_log GROUP BY run_id, step, outcome HAVING count(*) > 1) t"
        assert await db.fetchval(twice) == 0
        if ordering == "partition":  # each loop did its own contacts, all of them
            shares = await db.fetch(
                "SELECT (hashtext(id) & 2147483647) % 2 AS part, count(*) FROM contacts GROUP BY 1 ORDER BY 1"
            )
            assert [(r["part"], r["count"]) for r in shares] == [(0, events[0]), (1, events[1])]
            assert min(events) > 0
        else:  # nothing is left locked or leased after the loops' last claims
            assert await db.fetchval("SELECT count(*) FROM contact_leases") == 0
            assert (
                await db.fetchval(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                    "WHERE l.locktype = 'advisory' AND d.datname = current_database()"
                )
                == 0
            )
    finally:
        for connection in connections:
            await connection.close()
