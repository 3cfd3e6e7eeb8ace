"""Moving runs in flight to a newly published version, over real HTTP on a real SQLite file:
run by run (version, step, position, wake-up time), the rules for runs whose step the new
version lacks, the dry run that changes nothing, and the warning of a removed label."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from scn.interpreter.program import Program
from scn.interpreter.store import Changes
from scn.interpreter.versions import RunPlace, plan_moves

from .server_harness import Served, serving
from .test_server import is_problem, paid
from .test_versions_diff import bundle

V1 = """
template thanks email
  from "Shop" <shop@example.com>
  subject "Дякуємо"
  html "thanks.html"
end

list buyers "Buyers"

scenario journey "Journey"
  on order.paid
  entry once per order
  @first wait 1d
  send email thanks
  @nudge wait 2d
  send email thanks
  wait for order.refunded up to 3d
  add to list buyers
end
"""
# Steps renumbered by an inserted first step, `@first` deleted, `@nudge` kept with another
# duration, a wait inserted after it.
V2 = V1.replace("  @first wait 1d\n", "  add to list buyers\n  remove from list buyers\n").replace(
    "  @nudge wait 2d\n", "  @nudge wait 4d\n  wait 1h\n"
)
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
DAY, MINUTE = dt.timedelta(days=1), dt.timedelta(minutes=1)


class HandClock:
    """Time that moves only when the test moves it."""

    def __init__(self, start: dt.datetime) -> None:
        self.at = start

    def now(self) -> dt.datetime:
        return self.at

    async def sleep_until(self, moment: dt.datetime | None, wake: asyncio.Event) -> None:
        while (moment is None or moment > self.at) and not wake.is_set():
            await asyncio.sleep(0.01)


async def at(s: Served, clock: HandClock, moment: dt.datetime, *contacts: str) -> None:
    """Move the clock to ``moment`` and let the runs due by then go on; then ``contacts`` pay."""
    clock.at = moment
    s.core.engine._wake.set()
    await s.settle()
    for contact in contacts:
        assert (await s.client.post("/api/events", json=paid(contact, f"o-{contact}"))).status_code == 202
    await s.settle()


@asynccontextmanager
async def in_flight(tmp_path: Path, db: str | None = None) -> AsyncIterator[tuple[Served, HandClock]]:
    """c0 awaiting at the `wait for`, c1 and c2 waiting at `@nudge`, c3 at `@first`; V2 a draft;
    on the store ``db`` names (see `serving`)."""
    clock = HandClock(T0)
    async with serving(tmp_path, {"shop.scn": V1, "thanks.html": "<p>Привіт</p>"}, clock=clock, db=db) as s:
        await at(s, clock, T0, "c0")
        await at(s, clock, T0 + DAY + MINUTE, "c1")
        await at(s, clock, T0 + 2 * DAY + 2 * MINUTE, "c2")
        await at(s, clock, T0 + 3 * DAY + 5 * MINUTE, "c3")
        r = await s.client.post("/api/scenarios?draft=true", json={"files": {"shop.scn": V2}})
        assert r.json()["versions"] == {"journey": 2}, r.text
        yield s, clock


async def runs(s: Served) -> dict[str, tuple[Any, ...]]:
    """(version, status, step, position, wake_at, await_event) by contact."""
    async with s.core.store.db.execute(
        "SELECT contact_id, version, status, step, position, wake_at, await_event FROM runs"
    ) as cursor:
        return {r[0]: tuple(r[1:]) for r in await cursor.fetchall()}


async def program(s: Served, version: int) -> Program:
    bundle = next(b for v, b, *_ in await s.core.store.scenario_versions("journey") if v == version)
    return (await s.core.engine.bundle(bundle)).scenarios["journey"]


def index(p: Program, step: str) -> int:
    return [i.id for i in p.instructions].index(step)


async def test_the_runs_in_flight_are_where_the_test_says(tmp_path: Path, db: str) -> None:
    async with in_flight(tmp_path, db) as (s, _):
        v1, found = await program(s, 1), await runs(s)
        wait_for = v1.instructions[index(v1, "@nudge") + 2].id
        assert found["c0"][:4] == (1, "awaiting", wait_for, index(v1, wait_for))
        assert found["c1"][:4] == (1, "waiting", "@nudge", index(v1, "@nudge") + 1)
        assert found["c2"][:4] == (1, "waiting", "@nudge", index(v1, "@nudge") + 1)
        assert found["c3"][:4] == (1, "waiting", "@first", index(v1, "@first") + 1)


async def test_moving_maps_each_run_by_label_then_structure_and_keeps_its_wake_up_time(tmp_path: Path, db: str) -> None:
    async with in_flight(tmp_path, db) as (s, clock):
        before, v1, v2 = await runs(s), await program(s, 1), await program(s, 2)
        r = await s.client.post("/api/scenarios/journey/publish", json={"version": 2, "runs": "move"})
        assert r.status_code == 200, r.text
        body = r.json()
        old_wait_for = before["c0"][2]
        new_wait_for = v2.instructions[index(v2, "@nudge") + 3].id
        assert old_wait_for != new_wait_for  # renumbered by the inserted step
        assert body["version"] == 2 and body["dry_run"] is False
        assert body["moves"] == {"moved": {"@nudge": 2, new_wait_for: 1}, "exited": 0, "kept": 1}
        assert body["warnings"] == [
            "version 2 removes step @first, where 1 run(s) are waiting: they finish on their old version"
        ]
        after = await runs(s)
        assert after["c0"] == (2, "awaiting", new_wait_for, index(v2, new_wait_for), before["c0"][4], "order.refunded")
        for contact in ("c1", "c2"):
            assert after[contact] == (2, "waiting", "@nudge", index(v2, "@nudge") + 1, before[contact][4], None)
        assert after["c3"] == before["c3"]  # @first is gone: it finishes on version 1
        assert index(v1, "@nudge") != index(v2, "@nudge")
        audit = (await s.client.get("/api/scenarios/journey/audit")).json()["items"][-1]
        assert audit["action"] == "publish" and audit["detail"] == (
            "runs moved: 3 (0 to the unmatched rule's step), exited: 0, kept their version: 1"
        )

        # They go on in the new version: c1 wakes at its old time into the inserted `wait 1h`.
        await at(s, clock, dt.datetime.fromtimestamp(before["c1"][4] / 1000, dt.UTC))
        c1 = (await runs(s))["c1"]
        assert c1[:4] == (2, "waiting", v2.instructions[index(v2, "@nudge") + 1].id, index(v2, "@nudge") + 2)
        assert c1[4] == before["c1"][4] + 3_600_000
        # c3 finishes on version 1 as it would have.
        await at(s, clock, T0 + 5 * DAY)
        assert (await runs(s))["c3"][:3] == (1, "waiting", "@nudge")


async def test_unmatched_runs_exit_with_a_reason(tmp_path: Path, db: str) -> None:
    async with in_flight(tmp_path, db) as (s, _):
        body = {"version": 2, "runs": "move", "unmatched": "exit"}
        r = (await s.client.post("/api/scenarios/journey/publish", json=body)).json()
        assert r["moves"]["exited"] == 1 and r["moves"]["kept"] == 0
        assert r["warnings"] == ["version 2 removes step @first, where 1 run(s) are waiting: they exit"]
        async with s.core.store.db.execute("SELECT status, wake_at, reason FROM runs WHERE contact_id = 'c3'") as c:
            assert await c.fetchone() == ("exited", None, "moved to version 2, which has no step @first")
        assert await s.count("SELECT count(*) FROM runs WHERE version = 2") == 3


async def test_unmatched_runs_go_to_a_named_step_at_once(tmp_path: Path, db: str) -> None:
    async with in_flight(tmp_path, db) as (s, clock):
        body = {"version": 2, "runs": "move", "unmatched": {"step": "nudge"}}
        r = (await s.client.post("/api/scenarios/journey/publish", json=body)).json()
        assert r["moves"]["moved"]["@nudge"] == 3 and r["moves"]["exited"] == 0
        assert r["warnings"] == ["version 2 removes step @first, where 1 run(s) are waiting: they go to @nudge"]
        await s.settle()
        v2 = await program(s, 2)
        c3 = (await runs(s))["c3"]  # it took @nudge's wait from now
        assert c3 == (2, "waiting", "@nudge", index(v2, "@nudge") + 1, int((clock.at + 4 * DAY).timestamp() * 1000),
                      None)  # fmt: skip


async def test_the_rules_are_checked(tmp_path: Path, db: str) -> None:
    async with in_flight(tmp_path, db) as (s, _):
        before = await runs(s)
        url = "/api/scenarios/journey/publish"
        problem = is_problem(await s.client.post(url, json={"version": 2, "runs": "move", "unmatched": {"step": "x"}}),
                             422)  # fmt: skip
        assert problem["detail"] == "unmatched.step: version 2 of journey has no step labelled x; its labels: @nudge"
        problem = is_problem(await s.client.post(url, json={"version": 2, "unmatched": "exit"}), 422)
        assert problem["detail"].startswith('unmatched: only with "runs": "move"')
        is_problem(await s.client.post(url, json={"version": 2, "runs": "go"}), 400)
        is_problem(await s.client.post(url, json={"version": 2, "runs": "move", "unmatched": "later"}), 400)
        is_problem(await s.client.post(url, json={"version": 2, "runs": "move", "unmatched": {"label": "x"}}), 400)
        assert await runs(s) == before
        assert (await s.client.get("/api/scenarios/journey")).json()["version"] == 1


async def dump(s: Served) -> dict[str, list[Any]]:
    """Every row of the tables a publish or a move writes."""
    tables = {}
    for table in ("runs", "step_log", "scenarios", "scenario_versions", "scenario_audit", "bundles"):
        async with s.core.store.db.execute(f"SELECT * FROM {table}") as cursor:
            tables[table] = sorted((tuple(r) for r in await cursor.fetchall()), key=repr)  # no rowid on PostgreSQL
    return tables


async def test_a_dry_run_counts_and_changes_nothing(tmp_path: Path, db: str) -> None:
    async with in_flight(tmp_path, db) as (s, _):
        before = await dump(s)
        body = {"version": 2, "runs": "move", "unmatched": "exit", "dry_run": True}
        r = (await s.client.post("/api/scenarios/journey/publish", json=body)).json()
        new_wait_for = (await program(s, 2)).instructions[index(await program(s, 2), "@nudge") + 3].id
        assert r["dry_run"] is True and r["version"] == 1 and r["state"] == "active"
        assert r["moves"] == {"moved": {"@nudge": 2, new_wait_for: 1}, "exited": 1, "kept": 0}
        assert r["warnings"] == ["version 2 removes step @first, where 1 run(s) are waiting: they exit"]
        # Staying (the default) in a dry run: every run keeps its version.
        stay = (await s.client.post("/api/scenarios/journey/publish", json={"version": 2, "dry_run": True})).json()
        assert stay["moves"] == {"moved": {}, "exited": 0, "kept": 4}
        assert stay["warnings"] == [
            "version 2 removes step @first, where 1 run(s) are waiting: they stay on their version and finish there"
        ]
        assert await dump(s) == before


async def test_staying_is_the_default_and_moves_nothing(tmp_path: Path, db: str) -> None:
    async with in_flight(tmp_path, db) as (s, _):
        before = await runs(s)
        r = (await s.client.post("/api/scenarios/journey/publish", json={"version": 2})).json()
        assert r["version"] == 2 and r["moves"]["kept"] == 4 and len(r["warnings"]) == 1
        assert await runs(s) == before
        audit = (await s.client.get("/api/scenarios/journey/audit")).json()["items"][-1]
        assert audit["detail"] is None


#: Publishes version 2 of `journey` with its runs moving, and stops for good in the middle
#: of the move (after the first run's UPDATE, inside the open transaction) to be killed.
HALFWAY = """
import asyncio, sys, time
import msgspec
from scn.interpreter.program import Bundle
from scn.interpreter.store import store_at
from scn.interpreter.versions import plan_moves


class Halfway(list):
    def __iter__(self):
        for k, move in enumerate(list.__iter__(self)):
            if k == 1:
                print("halfway", flush=True)
                time.sleep(60)
            yield move


async def main(path: str) -> None:
    store = store_at(path)
    await store.open()
    programs = {}
    for version, bundle, *_ in await store.scenario_versions("journey"):
        blob = await store.bundle_blob(bundle)
        programs[version] = msgspec.msgpack.decode(blob, type=Bundle).scenarios["journey"]
    await store.publish_version(
        "journey", 2, 0, "test", move=lambda runs: Halfway(plan_moves(runs, programs, programs[2], 2, "exit"))
    )


asyncio.run(main(sys.argv[1]))
"""


async def test_a_crash_in_the_middle_of_a_move_moves_none(tmp_path: Path, db: str) -> None:
    async with in_flight(tmp_path, db) as (s, _):
        before = await dump(s)
    process = subprocess.Popen([sys.executable, "-c", HALFWAY, db], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line == b"halfway\n", line + process.stderr.read()  # type: ignore[union-attr]
    process.send_signal(signal.SIGKILL)
    process.wait()
    async with in_flight_again(tmp_path, db) as s:
        assert await dump(s) == before  # none moved, and the publication did not happen either
        # The same move done whole: all moved.
        r = await s.client.post(
            "/api/scenarios/journey/publish", json={"version": 2, "runs": "move", "unmatched": "exit"}
        )
        assert r.json()["moves"]["exited"] == 1
        assert await s.count("SELECT count(*) FROM runs WHERE version = 2") == 3


@asynccontextmanager
async def in_flight_again(tmp_path: Path, db: str | None = None) -> AsyncIterator[Served]:
    """The server on the store `in_flight` left, at the moment it left it."""
    async with serving(tmp_path, clock=HandClock(T0 + 3 * DAY + 5 * MINUTE), db=db) as s:
        yield s


async def test_a_batch_that_read_a_run_before_it_moved_does_not_write_its_old_position(tmp_path: Path, db: str) -> None:
    async with in_flight(tmp_path, db) as (s, _):
        store = s.core.store
        run_id = await s.count("SELECT id FROM runs WHERE contact_id = 'c1'")
        stale = await store.run(run_id)
        assert stale is not None and stale.version == 1
        await s.client.post("/api/scenarios/journey/publish", json={"version": 2, "runs": "move"})
        moved = await runs(s)
        stale.position, stale.status, stale.wake_at = 0, "running", 0
        await store.commit(Changes(runs=[stale]))
        assert await runs(s) == moved


def plan(old: str, new: str, places: list[RunPlace], unmatched: str = "finish") -> list[tuple[Any, ...]]:
    a, b = bundle(old).scenarios["s"], bundle(new).scenarios["s"]
    return [(m.outcome, m.step, m.position, m.await_event) for m in plan_moves(places, {1: a}, b, 2, unmatched)]


OLD = 'scenario s "S"\n  on order.paid\n  wait 1d\n  send email hello\n  wait for order.refunded up to 1d\nend\n'


def test_a_step_whose_place_is_taken_by_another_kind_has_no_counterpart() -> None:
    new = OLD.replace("  wait 1d\n", "  send email bye\n")
    assert plan(OLD, new, [RunPlace(1, 1, 1, "s1", "waiting")], "exit")[0][0] == "exited"


def test_a_run_not_yet_started_moves_to_the_start_and_an_unknown_version_stays() -> None:
    assert plan(OLD, OLD, [RunPlace(1, 1, 0, None, "running")]) == [("moved", None, 0, None)]
    assert plan(OLD, OLD, [RunPlace(2, 7, 1, "s1", "waiting")]) == [("kept", None, None, None)]


def test_an_awaiting_run_awaits_the_new_steps_event_at_the_steps_own_place() -> None:
    new = OLD.replace("order.refunded up to 1d", "order.refunded up to 2d").replace(
        "  wait 1d\n", "  wait 2d\n  wait 1h\n"
    )
    assert plan(OLD, new, [RunPlace(1, 1, 2, "s3", "awaiting")]) == [("moved", "s4", 3, "order.refunded")]
    # A `wait` that is over: its run continues after the counterpart, whatever follows it.
    assert plan(OLD, new, [RunPlace(1, 1, 1, "s1", "waiting")]) == [("moved", "s1", 1, None)]
