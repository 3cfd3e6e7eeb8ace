"""The counters on PostgreSQL are spread over buckets, one chosen by each database
connection (pg_schema.BUCKETS): two engines writing at once update rows of their own
instead of queueing on one row's lock. What the store reads sums a key's buckets."""

from __future__ import annotations

import datetime as dt

from scn.interpreter.clock import VirtualClock
from scn.interpreter.runtime import Engine, Settings
from scn.interpreter.runtime.events import convert_event
from scn.interpreter.runtime.worker import deploy
from scn.interpreter.store import PgStore
from scn.interpreter.store.pg_schema import BUCKETS

from .conftest import check_texts
from .pg_cluster import Cluster

START = dt.datetime(2025, 3, 3, 8, 0, tzinfo=dt.UTC)
WORKSPACE = """
scenario later "A day later"
  on order.paid
  wait 1d
end
"""


def paid(i: int) -> dict[str, object]:
    return {"type": "order.paid", "key": f"k{i}", "at": START.isoformat(), "contact": {"id": f"c{i}"},
            "order": {"id": f"o{i}", "total": "10.00", "currency": "EUR"}}  # fmt: skip


async def test_two_engines_count_in_their_own_buckets_and_the_store_reads_the_sums(pg_cluster: Cluster) -> None:
    url = pg_cluster.database()
    stores = [PgStore(url), PgStore(url)]
    for store in stores:
        await store.open()
    try:
        engines = [Engine(store, VirtualClock(START), Settings(secret="s", code_seed=1)) for store in stores]
        for engine in engines:
            await engine.load()
        await deploy(engines[0], check_texts({"w.scn": WORKSPACE}))
        await engines[1].load()
        await engines[0].accept([engines[0].event_in(convert_event(paid(i))) for i in range(10)])
        assert await engines[0].process_events(4) == 4
        assert await engines[1].process_events() == 6
        # the bucket of each store's writer (the connection its batches are written on)
        buckets = [(await store._fetch(f"SELECT pg_backend_pid() % {BUCKETS}", ()))[0][0] for store in stores]
        expected: dict[int, int] = {}
        for bucket, runs in zip(buckets, (4, 6), strict=True):
            expected[bucket] = expected.get(bucket, 0) + runs
        # each engine's runs in its writer's bucket (the same bucket, should the two collide)
        rows = await stores[0]._rows("SELECT bucket, runs FROM count_runs WHERE status = 'waiting'")
        assert dict(rows) == expected
        for store in stores:
            assert await store.run_counts() == {"later": {"waiting": 10}}
            assert await store.runs_at("later") == [("s1", "waiting", 10)]
            assert (await store.metrics())["runs"] == {"waiting": 10}
            assert (await store.metrics())["events"] == {"processed": 10}
            assert [(s, n) for s, _, _, n in await store.step_counts("later")] == [("start", 10), ("s1", 10)]
    finally:
        for store in stores:
            await store.close()
