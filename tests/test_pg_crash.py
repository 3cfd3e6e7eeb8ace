"""Crash test on PostgreSQL (issue 17): three engine processes and two API processes on one
database, kill -9 again and again, nothing lost and nothing sent twice.

The engines are `scn worker` processes (engine only); the APIs are API-only replicas
(`scn serve --no-engine`), each with a sender delivering to a real SMTP server. A stream
of events goes over HTTP to both APIs, each event (a new contact's paid order) starting a
run that waits two seconds and sends one receipt. Every few seconds a random engine is
killed with SIGKILL, in the middle of whatever it does (claiming contacts, processing
events, waking runs, committing), and started again. Leases last two seconds here
(SCN_LEASE_MS), so a dead engine's contacts go to the others soon.

At the end: every event answered 202 was processed once (one run each, each run done,
no step logged twice), and every receipt arrived at the SMTP server exactly once, counted
by Message-ID and by contact and step; no run is left waiting past its time, and no
lease of a dead engine holds anything. `SCN_PG_CRASH_SEED` varies the moments.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from .pg_cluster import Cluster
from .scn_processes import Api, Process, environment, paid, receipts_workspace, worker
from .smtp_server import SmtpServer

ENGINES = 3
EVENTS = 240
#: How long the events stream in (seconds): the kills land while they do.
STREAM_S = 18.0
#: Kill an engine every this many seconds (a random moment in the range).
KILL_EVERY_S = (2.0, 3.5)
#: How long a dead engine's contacts wait before another takes them (SCN_LEASE_MS).
LEASE_MS = 2000
#: After the stream, how long the processes may take to finish the work.
SETTLE_S = 40.0


def query(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    async def run() -> list[tuple[Any, ...]]:
        connection = await asyncpg.connect(url)
        try:
            return [tuple(r) for r in await connection.fetch(sql, *args)]
        finally:
            await connection.close()

    return asyncio.run(run())


async def kill_at_work(url: str, victim: Process) -> bool:
    """kill -9 ``victim`` once it holds contacts (it is in the middle of a batch, between
    its claim and the commit or just after), or after a second and a half anyway; whether
    it held any."""
    connection = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            held = await connection.fetchval("SELECT count(*) FROM contact_leases WHERE owner LIKE $1",
                                             f"%-{victim.pid}-%")  # fmt: skip
            if held:
                victim.kill()
                return True
            await asyncio.sleep(0.003)
        victim.kill()
        return False
    finally:
        await connection.close()


class Producer(threading.Thread):
    """Posts the events, one request each, to the two APIs in turn, spread over STREAM_S."""

    def __init__(self, apis: list[Api], seed: int) -> None:
        super().__init__(daemon=True)
        self.apis = apis
        self.rng = random.Random(seed)
        self.accepted: set[str] = set()
        self.refused: list[str] = []

    def run(self) -> None:
        started = time.monotonic()
        clients = [httpx.Client(base_url=a.base, headers={"X-API-Key": "k"}, timeout=20) for a in self.apis]
        try:
            for i in range(EVENTS):
                event = paid(i)
                answer = clients[i % len(clients)].post("/api/events", json=[event])
                if answer.status_code == 202:
                    self.accepted.add(str(event["key"]))
                else:
                    self.refused.append(f"{event['key']}: {answer.status_code} {answer.text[:200]}")
                lag = started + STREAM_S * (i + 1) / EVENTS - time.monotonic()
                if lag > 0:
                    time.sleep(lag * self.rng.uniform(0.5, 1.5))
        finally:
            for client in clients:
                client.close()


def settled(url: str, smtp: SmtpServer, accepted: int) -> bool:
    ((events, unprocessed, live, unsent),) = query(
        url,
        "SELECT (SELECT count(*) FROM events WHERE type = 'order.paid'), "
        "(SELECT count(*) FROM events WHERE processed_at IS NULL), "
        "(SELECT count(*) FROM runs WHERE status NOT IN ('done', 'failed')), "
        "(SELECT count(*) FROM outbox WHERE status != 'sent')",
    )
    done = events == accepted and unprocessed == 0 and live == 0 and unsent == 0
    return done and len(smtp.handler.received) >= accepted


def test_three_engines_killed_again_and_again_and_two_apis_lose_and_repeat_nothing(
    pg_cluster: Cluster, tmp_path: Path
) -> None:
    url = pg_cluster.database()
    seed = int(os.environ.get("SCN_PG_CRASH_SEED", "20261203"))
    rng = random.Random(seed)
    workspace = receipts_workspace(tmp_path / "shop")
    env = environment(SCN_LEASE_MS=str(LEASE_MS))
    engines: list[Process] = []
    apis: list[Api] = []
    killed: list[int] = []
    busy_kills = 0  # kills of an engine that held contacts at that moment
    began = time.monotonic()
    with SmtpServer() as smtp:
        try:
            # The first engine makes the schema and deploys the workspace; the others find both.
            engines.append(worker("engine-0", workspace, url, tmp_path / "engine-0.log", env))
            apis = [Api(f"api-{n}", url, tmp_path / f"api-{n}.log", env, smtp=smtp.url) for n in range(2)]
            engines += [worker(f"engine-{n}", workspace, url, tmp_path / f"engine-{n}.log", env)
                        for n in range(1, ENGINES)]  # fmt: skip

            producer = Producer(apis, seed)
            producer.start()
            while producer.is_alive():
                producer.join(rng.uniform(*KILL_EVERY_S))
                if not producer.is_alive():
                    break
                n = rng.randrange(ENGINES)
                victim = engines[n]
                busy_kills += asyncio.run(kill_at_work(url, victim))
                killed.append(victim.pid)
                engines[n] = worker(f"engine-{n}", workspace, url, tmp_path / f"engine-{n}.log", env)
            assert producer.refused == [], producer.refused[:5]
            accepted = len(producer.accepted)
            assert accepted == EVENTS

            deadline = time.monotonic() + SETTLE_S
            while not settled(url, smtp, accepted):
                assert time.monotonic() < deadline, (
                    f"the work was not done {SETTLE_S:.0f} s after the last event: "
                    + repr(query(url, "SELECT status, count(*) FROM runs GROUP BY 1"))
                    + repr(query(url, "SELECT status, count(*) FROM outbox GROUP BY 1"))
                )
                time.sleep(0.2)
            time.sleep(1.0)  # a mail sent twice would arrive about now
            assert all(p.alive() for p in [*engines, *apis]), "no process but those killed stopped"
        finally:
            for process in [*apis, *engines]:
                process.stop()
        mails = list(smtp.handler.received)

    print(f"kills {len(killed)} (of an engine holding contacts: {busy_kills}), {time.monotonic() - began:.1f} s")
    assert len(killed) >= 4 and busy_kills >= len(killed) // 2, (len(killed), busy_kills)

    # Each accepted event stored once and processed: one run each, every run done.
    keys = query(url, "SELECT key FROM events WHERE type = 'order.paid'")
    assert sorted(k for (k,) in keys) == sorted(producer.accepted)
    runs = query(url, "SELECT trigger_event, contact_id, status FROM runs")
    assert len(runs) == EVENTS and len({r[0] for r in runs}) == EVENTS
    assert {r[2] for r in runs} == {"done"}
    assert query(url, "SELECT run_id, step, outcome FROM step_log GROUP BY 1, 2, 3 HAVING count(*) > 1") == []

    # Every receipt arrived exactly once: by Message-ID, and by contact and step (each
    # contact's run has one send step; the subject says which order it was for).
    by_id = Counter(str(m["Message-ID"]) for _, m in mails)
    assert len(by_id) == EVENTS and set(by_id.values()) == {1}, by_id.most_common(3)
    by_contact = Counter((tuple(to), str(m["Subject"])) for to, m in mails)
    expected = {((f"c{i}@example.com",), f"Order {1000 + i}") for i in range(EVENTS)}
    assert set(by_contact) == expected and set(by_contact.values()) == {1}
    assert query(url, "SELECT status, count(*) FROM outbox GROUP BY 1") == [("sent", EVENTS)]

    # Nothing stuck: no run waits past its time, and the dead engines' leases hold nothing.
    assert query(url, "SELECT count(*) FROM runs WHERE wake_at IS NOT NULL") == [(0,)]
    held = query(
        url,
        "SELECT owner FROM contact_leases WHERE until > (extract(epoch from clock_timestamp()) * 1000)::bigint",
    )
    assert not [owner for (owner,) in held if any(f"-{pid}-" in owner for pid in killed)]
