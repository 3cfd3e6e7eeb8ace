"""The store at a million rows: the reads whose cost must not grow with the store answer
from one index range (their plans are checked on stores whose statistics say what a big
store's would), and the statistics are kept fresh."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from scn.interpreter.clock import ms_of
from scn.interpreter.store import Changes, DateState, PgStore, SqliteStore, store_at
from scn.interpreter.store._sql import in_thread
from scn.interpreter.store.records import EventIn


@asynccontextmanager
async def opened(path: Path | str) -> AsyncIterator[SqliteStore]:
    store = store_at(str(path))
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def plans_of(store: SqliteStore, call: Any) -> list[str]:
    """The query plan of every statement ``call`` makes through the store's read helpers."""
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
        await call()
    finally:
        store._rows, store._scalar = rows, scalar  # type: ignore[method-assign]
    assert made
    return [" | ".join(str(r[-1]) for r in await rows(f"EXPLAIN QUERY PLAN {sql}", params)) for sql, params in made]


def fill_outbox(path: Path, contacts: int, per_contact: int, scenario: str = "big") -> None:
    """Many messages of one scenario to many contacts (the shape of the audit's store)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO contacts (id, created_at, updated_at) VALUES (?, 0, 0)", ((f"c{i}",) for i in range(contacts))
    )
    db.executemany(
        "INSERT INTO outbox (scenario, step, contact_id, channel, recipient, message, status, created_at) "
        "VALUES (?, 's1', ?, 'email', 'x@example.com', '{}', ?, ?)",
        (
            (scenario, f"c{i % contacts}", ("sent", "skipped", "failed", "pending")[i % 4], i * 1000)
            for i in range(contacts * per_contact)
        ),
    )
    db.execute("COMMIT")
    db.close()


async def test_the_frequency_cap_counts_from_the_contacts_own_messages(tmp_path: Path) -> None:
    path = tmp_path / "scn.db"
    async with opened(path):
        pass
    fill_outbox(path, contacts=1999, per_contact=3)
    async with opened(path) as store:
        # What it answers, at its boundaries: since is inclusive; skipped and failed aside.
        assert (
            await store.count_messages("c0", scenario="big", since=0) == 2
        )  # sent at 0, pending at 1999 s; failed at 3998 s
        assert await store.count_messages("c0", scenario="big", since=1_999_000) == 1  # exactly the moment: counted
        assert await store.count_messages("c0", scenario="big", since=1_999_001) == 0
        assert await store.count_messages("c0", scenario="other", since=0) == 0
        assert await store.count_messages("c0", scenario=None, since=0) == 2
        assert await store.count_messages("nobody", scenario="big", since=0) == 0
        for scenario in ("big", None):
            for stats in ("none", "analyzed"):
                if stats == "analyzed":
                    await store._write_now(lambda db: db.execute("ANALYZE"))
                plans = await plans_of(store, lambda s=scenario: store.count_messages("c7", scenario=s, since=0))
                index = "outbox_contact_scenario" if scenario else "outbox_contact "
                assert all(index in plan and "SCAN" not in plan for plan in plans), (scenario, stats, plans)


def fill_runs(path: Path, scenarios: list[str], per_scenario: int) -> None:
    """Runs of a few scenarios, one per contact, written scenario after scenario (as a
    store fills: each scenario's first entries of an index by scenario are all its own)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO runs (scenario, version, bundle, contact_id, trigger_event, position, status, started_at,"
        " updated_at) VALUES (?, 1, 1, ?, 1, 0, 'done', ?, ?)",
        (
            (scenario, f"c{n * per_scenario + i}", i, i)
            for n, scenario in enumerate(scenarios)
            for i in range(per_scenario)
        ),
    )
    db.execute("COMMIT")
    db.close()


#: The statistics of `runs` that scn's ANALYZE (with its analysis limit) wrote on a store
#: of a million runs in twelve scenarios: it read the first few hundred entries of each
#: index, so an index led by the scenario is said to hold about 401 runs per scenario
#: (there were about 95,000), and the scenario looks as selective as the contact.
AT_A_MILLION = [
    ("runs", "runs_scenario_step", "880648 401 401"), ("runs", "runs_scenario", "1106875 401 401"),
    ("runs", "runs_order", "72704 2 1"), ("runs", "runs_contact", "1279938 2 1"), ("runs", "runs_due", "381276 89"),
]  # fmt: skip


async def test_entry_rules_read_the_contacts_runs_whatever_the_statistics_say(tmp_path: Path) -> None:
    # With those statistics the planner took the scenario's index for a batch's entry
    # rules (500 contacts, two scenarios): every run of the two scenarios read, 150 ms at a
    # million runs, the one statement of an event whose cost grew with the store.
    path = tmp_path / "scn.db"
    async with opened(path):
        pass
    fill_runs(path, ["a", "b", "c"], per_scenario=1000)
    async with opened(path) as store:
        await store._write(store._analyze)  # the statistics scn makes (the migration, optimize)
        await store._write_now(lambda db: db.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'runs'"))
        await store._write_now(lambda db: db.executemany("INSERT INTO sqlite_stat1 VALUES (?, ?, ?)", AT_A_MILLION))
    async with opened(path) as store:  # statistics are read when a connection opens
        contacts = [f"c{i}" for i in range(0, 3000, 6)]  # 500 contacts, 334 with a run of a or b
        starts = await store.run_starts(contacts, {"a", "b"})
        assert sorted((s.scenario, s.contact_id) for s in starts) == sorted(
            ("a" if int(c[1:]) < 1000 else "b", c) for c in contacts if int(c[1:]) < 2000
        )
        assert await store.run_starts(contacts, {"nothing"}) == []
        assert await store.run_starts([], {"a"}) == []
        for names in ({"a"}, {"a", "b"}, {"a", "b", "c"}):
            plans = await plans_of(store, lambda n=names: store.run_starts(contacts, n))
            assert all("runs_contact" in plan and "SCAN" not in plan for plan in plans), (names, plans)


async def test_statistics_are_made_by_the_migration_and_refreshed_by_optimize(tmp_path: Path) -> None:
    path = tmp_path / "scn.db"
    async with opened(path):
        pass
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM sqlite_stat1").fetchone()[0] >= 0  # ANALYZE ran: the table exists
    db.execute("DELETE FROM sqlite_stat1")
    db.commit()
    db.close()
    fill_outbox(path, contacts=500, per_contact=2)
    async with opened(path) as store:
        await store.count_messages("c1", scenario="big", since=0)
        await store.optimize()  # the table this connection read has no statistics: ANALYZE it
        tables = {r[0] for r in await store._rows("SELECT tbl FROM sqlite_stat1")}
        assert "outbox" in tables


EUROS = {"total": "5", "currency": "EUR"}
FUNNEL = """
template hello email
  subject "Hello"
  html "hello.html"
end

scenario funnel "Pay within a day"
  on order.created
  exit when order.cancelled
  send email hello
  wait for order.paid up to 1d
  wait 1h
  send email hello
end
"""


async def test_counters_follow_every_kind_of_change(db: str, tmp_path: Path) -> None:
    """Runs that finish, wait, time out, exit and are cancelled; messages sent and failed;
    events processed and pending: every counter equals a recount of the rows, and the
    figures read from them say what the rows say. PostgreSQL's counters (its own
    triggers) equal SQLite's, whose equal a recount."""
    from .recount import assert_counters_exact

    kept = await _funnel_counters(db)
    if isinstance(store_at(db), PgStore):
        assert kept == await _funnel_counters(str(tmp_path / "reference.db"))
    else:
        assert_counters_exact(sqlite3.connect(db, isolation_level=None))


async def _funnel_counters(db: str) -> dict[str, set[tuple[Any, ...]]]:
    from .harness import START, Harness
    from .recount import counted_by

    h = Harness(FUNNEL, db, resources={"hello.html": "<p>Hi</p>"})
    await h.__aenter__()
    try:
        at = START + dt.timedelta(minutes=1)
        created = [h.event("order.created", f"c{i}", at=at, order={"id": f"o{i}", **EUROS}) for i in range(6)]
        paid = [
            h.event("order.paid", f"c{i}", at=at + dt.timedelta(hours=1), order={"id": f"o{i}", **EUROS})
            for i in (0, 1)
        ]
        cancelled = [h.event("order.cancelled", "c2", at=at + dt.timedelta(hours=2), order={"id": "o2"})]
        await h.play(created + paid + cancelled, until=dt.timedelta(hours=2))
        store = h.store
        live = [r.id for r in await store.list_runs(scenario="funnel", status="awaiting")]
        assert await store.cancel_runs(live[:1], ms_of(h.clock.now()), "by hand") == live[:1]
        await h.play([], until=dt.timedelta(days=2))  # the others time out, then send again
        await store._write_now(lambda db: db.execute("UPDATE outbox SET status = 'failed', failure = 'refused' "
                                                     "WHERE id = 1"))  # fmt: skip
        await store.append_events([EventIn(key="later", type="contact.updated", contact_id="c9", occurred_at=0,
                                           payload="{}")], 0)  # fmt: skip

        steps = {(step, outcome): n for step, _name, outcome, n in await store.step_counts("funnel")}
        # Each run once per step, by its last outcome there: two paid, two timed out (they
        # waited first), and the exited and cancelled runs still waiting there when they ended.
        assert {k: v for k, v in steps.items() if k[0] == "s2"} == {
            ("s2", "event"): 2, ("s2", "timed out"): 2, ("s2", "waiting"): 2,
        }  # fmt: skip
        assert steps[("exit", "exited")] == steps[("cancel", "cancelled")] == 1
        rows = await store._rows("SELECT run_id, step, outcome FROM step_log ORDER BY id")
        last: dict[tuple[int, str], str] = {}
        for run_id, step, outcome in rows:
            last[(run_id, step)] = outcome
        expected: dict[tuple[str, str], int] = {}
        for (_run, step), outcome in last.items():
            expected[(step, outcome)] = expected.get((step, outcome), 0) + 1
        assert steps == expected
        assert await store.step_counts("nobody") == []
        assert await store.run_counts() == {"funnel": {"cancelled": 1, "done": 4, "exited": 1}}
        runs = await store._rows("SELECT status, count(*) FROM runs GROUP BY 1")
        assert (await store.run_counts())["funnel"] == dict(runs)
        assert sum(n for _s, _st, n in await store.runs_at("funnel")) == 6
        metrics = await store.metrics()
        assert metrics["events"]["pending"] == 1 and metrics["runs"] == dict(runs)
        assert (await store.failed_counts()) == [("email", "refused", 1)]
        assert sum(r[-1] for r in await store.message_counts()) == await store._scalar("SELECT count(*) FROM outbox")
        assert await store.live_runs_by_status("funnel") == {}
        found = await counted_by(store)
        assert found["count_reports"] and found["count_steps"] and found["count_events"]
        return found
    finally:
        await h.__aexit__()


async def test_the_counters_are_filled_for_a_store_made_before_them(tmp_path: Path) -> None:
    """A file of schema 9 (no counters) with rows: opening it counts them."""
    from scn.interpreter.store._sql import statements
    from scn.interpreter.store.schema import MIGRATIONS

    from .recount import assert_counters_exact

    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    for _title, script in MIGRATIONS[:9]:
        for statement in statements(script):
            db.execute(statement)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version VALUES (9)")
    db.execute("INSERT INTO bundles (version, created_at, blob) VALUES (1, 0, x'00')")
    db.execute("INSERT INTO events (id, key, type, contact_id, occurred_at, received_at, payload) "
               "VALUES (1, 'k', 'order.paid', 'c1', 0, 0, '{}')")  # fmt: skip
    db.execute("INSERT INTO contacts (id, created_at, updated_at) VALUES ('c1', 0, 0)")
    db.executemany(
        "INSERT INTO runs (id, scenario, version, bundle, contact_id, trigger_event, position, step, status, "
        "started_at, updated_at) VALUES (?, 'old', 1, 1, 'c1', 1, 0, ?, ?, 0, 0)",
        [(1, "s1", "waiting"), (2, None, "done"), (3, "s1", "waiting")],
    )
    db.executemany("INSERT INTO step_log (run_id, step, name, at, outcome) VALUES (?, ?, 'wait', 0, ?)",
                   [(1, "s1", "waited"), (1, "s1", "timed out"), (3, "s1", "waited")])  # fmt: skip
    db.execute("INSERT INTO outbox (scenario, contact_id, channel, recipient, message, status, created_at) "
               "VALUES (NULL, 'c1', 'sms', '+1', '{}', 'failed', 0)")  # fmt: skip
    db.close()
    async with opened(path) as store:
        assert await store.schema_version() == len(MIGRATIONS)
        assert await store.run_counts() == {"old": {"waiting": 2, "done": 1}}
        assert await store.runs_at("old") == [(None, "done", 1), ("s1", "waiting", 2)]
        # Run 1 waited, then timed out: counted once, as timed out; run 3 still waits.
        assert sorted(await store.step_counts("old")) == [("s1", "wait", "timed out", 1), ("s1", "wait", "waited", 1)]
        assert await store.failed_counts() == [("sms", "unknown", 1)]
        assert await store.message_counts() == [("", "sms", "", "failed", "", 1)]
        assert (await store.metrics())["events"] == {"pending": 1}
    assert_counters_exact(sqlite3.connect(path, isolation_level=None))


HOUR = 3_600_000
DAY = 24 * HOUR


async def test_reports_credit_outcomes_as_they_happen_and_count_them_by_hour(db: str) -> None:
    """Opens, clicks, unsubscribes and paid orders recorded on their message when they
    happen (the scenario's window; the click before the send), and a report over any
    period, whole hours or not, equal to one counted from the messages themselves; on
    both backends (PostgreSQL's triggers are its own)."""
    import random

    from .recount import assert_counters_exact

    rng = random.Random(5)
    base = 100 * DAY

    def write(db: Any) -> None:
        """Rows written straight into the tables (the triggers count them), in one transaction."""
        db.execute("INSERT INTO attribution_windows (scenario, ms) VALUES ('short', ?)", (HOUR,))
        db.executemany("INSERT INTO contacts (id, created_at, updated_at) VALUES (?, 0, 0)", [("ann",), ("bob",)])

        def message(scenario: str, contact: str, at: int, status: str = "sent", channel: str = "email") -> int:
            cursor = db.execute(
                "INSERT INTO outbox (scenario, step, contact_id, channel, recipient, message, status, attempts, "
                "failure, created_at) VALUES (?, 's1', ?, ?, 'x', '{}', ?, 1, ?, ?)",
                (scenario, contact, channel, status, "refused" if status == "failed" else None, at),
            )
            assert cursor.lastrowid is not None
            return int(cursor.lastrowid)

        def event(key: str, kind: str, contact: str, at: int, payload: str = "{}") -> None:
            db.execute(
                "INSERT INTO events (key, type, contact_id, occurred_at, received_at, payload) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, kind, contact, at, at, payload),
            )

        def paid(order: str, contact: str, at: int, total: str) -> None:
            db.execute(
                "INSERT INTO orders (id, contact_id, status, total, currency, created_at, updated_at) "
                "VALUES (?, ?, 'created', ?, 'EUR', ?, ?)",
                (order, contact, total, at, at),
            )
            db.execute("UPDATE orders SET paid_at = ?, status = 'paid' WHERE id = ?", (at, order))

        first = message("long", "ann", base)  # clicked later: wins the order over a newer send
        newer = message("long", "ann", base + 2 * HOUR)
        short = message("short", "bob", base + 30 * 60_000)
        failed = message("long", "bob", base + 10 * 60_000, status="failed")  # before short's
        skipped = message("long", "bob", base + HOUR, status="skipped")  # skipped: never credited
        event(f"open:{newer}", "message.opened", "ann", base + 3 * HOUR)
        event(f"click:{first}:0", "message.clicked", "ann", base + 3 * HOUR)
        event(f"click:{first}:1", "message.clicked", "ann", base + 4 * HOUR)  # a second click: counted once
        event(f"click:{newer}:0", "message.clicked", "bob", base + 3 * HOUR)  # not bob's message: not his click
        paid("o1", "ann", base + 5 * HOUR, "100.50")
        paid("o2", "bob", base + 30 * 60_000 + HOUR + 1, "7")  # a millisecond past short's one-hour window
        paid("o3", "bob", base + 30 * 60_000 + HOUR, "2.25")  # exactly at the end of the window: short's
        event("unsub", "message.unsubscribed", "bob", base + 2 * HOUR, '{"data": {"channel": "email"}}')
        outcomes = {r[0]: r[1:] for r in db.execute("SELECT id, opened_at, clicked_at, unsubscribed_at FROM outbox")}
        assert outcomes[first] == (base + 3 * HOUR, base + 3 * HOUR, None)
        assert outcomes[newer] == (base + 3 * HOUR, None, None)
        # bob's unsubscribe: his latest email within its window (short's hour is over by then)
        assert outcomes[failed][2] == base + 2 * HOUR
        assert outcomes[skipped] == (None, None, None)
        credits = dict(db.execute("SELECT id, credited_to FROM orders"))
        # o2 is past short's window: it goes to bob's latest message within its own window (failed ones count)
        assert credits == {"o1": first, "o2": failed, "o3": short}

        # More messages, outcomes and orders at random moments over three days, then reports
        # over random periods (on and off the hour) against a count of their messages.
        happenings: list[tuple[int, int, str, str]] = []  # (when, kind, which, who)
        for i in range(300):
            at = base + DAY + rng.randrange(2 * DAY)  # after the first day's orders: those are credited already
            who = rng.choice(["ann", "bob"])
            happenings.append((at, 0, str(i), who))
            if rng.random() < 0.3:
                happenings.append((at + rng.randrange(DAY), 1, str(i), who))
            if rng.random() < 0.1:
                happenings.append((at + rng.randrange(DAY), 2, str(i), who))
        made: dict[str, int] = {}
        for at, kind, which, who in sorted(happenings):  # as they happen: an order is credited with what is known
            if kind == 0:
                status = rng.choice(["sent", "sent", "failed", "skipped", "pending"])
                made[which] = message(rng.choice(["long", "short"]), who, at, status)
            elif kind == 1:
                event(f"click:{made[which]}:0", "message.clicked", who, at)
            else:
                paid(f"r{which}", who, at, f"{rng.randrange(1000)}.{rng.randrange(100):02}")
        db.execute(
            "UPDATE outbox SET status = 'sent' WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' LIMIT 20)"
        )

    async with opened(db) as store:
        await store._write_now(write)
        messages = await store._rows(
            "SELECT id, scenario, status, attempts, opened_at, clicked_at, unsubscribed_at, created_at FROM outbox "
            "WHERE status != 'skipped'"
        )
        orders = await store._rows("SELECT credited_to, total FROM orders WHERE credited_to IS NOT NULL")
        periods = [(base, base + 3 * DAY), (base + 1, base + HOUR - 1), (base + HOUR, base + 2 * HOUR)]
        periods += [(base + 30 * 60_000, base + 30 * 60_000 + 1)]  # exactly one message's moment
        # whole days and the hours and minutes around them; exactly one day, from a midnight
        periods += [(base + 5 * HOUR + 7, base + 2 * DAY + 3 * HOUR), (base + DAY, base + 2 * DAY),
                    (base + DAY - 1, base + 2 * DAY + 1), (base - 3 * DAY, base + 10 * DAY)]  # fmt: skip
        for _ in range(30):
            since = base + rng.randrange(3 * DAY)
            periods.append((since, since + rng.randrange(1, DAY)))
        for since, until in periods:
            for scenario in ("long", None):
                inside = {m[0]: m for m in messages if since <= m[7] < until and scenario in (None, m[1])}
                expected = {
                    "sent": len(inside), "delivered": sum(m[2] == "sent" for m in inside.values()),
                    "failed": sum(m[2] == "failed" for m in inside.values()),
                    "opened": sum(m[4] is not None for m in inside.values()),
                    "clicked": sum(m[5] is not None for m in inside.values()),
                    "unsubscribed": sum(m[6] is not None for m in inside.values()),
                    "ordered": sum(o[0] in inside for o in orders),
                    "revenue:EUR": sum(int(Decimal(o[1]) * 1_000_000) for o in orders if o[0] in inside),
                }  # fmt: skip
                found: dict[str, int] = {}
                for count in await store.report_counts(since, until, scenario):
                    found[count.figure] = found.get(count.figure, 0) + count.value
                assert {k: found.get(k, 0) for k in expected} == expected, (since - base, until - base, scenario)
        # Per period of a chart: each bucket counts the messages made in it, whether its
        # days start at a midnight (read from the days' counters) or not (from the hours').
        for origin, width in ((base, DAY), (base + 6 * HOUR, DAY), (base, 2 * DAY), (base, HOUR), (base, 7 * DAY)):
            by_bucket: dict[int, int] = {}
            for count in await store.report_counts(base + 1, base + 3 * DAY, None, origin=origin, bucket_ms=width):
                if count.figure == "sent":
                    by_bucket[count.bucket] = by_bucket.get(count.bucket, 0) + count.value
            made_in: dict[int, int] = {}
            for m in messages:
                if base + 1 <= m[7] < base + 3 * DAY:
                    bucket = (m[7] // HOUR * HOUR - origin) // width
                    made_in[bucket] = made_in.get(bucket, 0) + 1
            assert by_bucket == made_in, (origin - base, width)
        buckets = await store.report_counts(base, base + 3 * DAY, "long", origin=base, bucket_ms=DAY)
        assert {c.bucket for c in buckets} == {0, 1, 2}
        whole = await store.report_counts(base, base + 3 * DAY, "long")
        assert sum(c.value for c in buckets if c.figure == "sent") == sum(c.value for c in whole if c.figure == "sent")
        if isinstance(store, PgStore):
            return
        # Whole hours from the counters' key, the ends from the index of messages by scenario and time.
        asked: list[str] = []
        await in_thread(store.db, lambda db: db.set_trace_callback(asked.append))
        await store.report_counts(base + 1, base + 3 * DAY - 1, "long")
        await store.report_counts(base + 1, base + 3 * DAY - 1)
        await in_thread(store.db, lambda db: db.set_trace_callback(None))
        assert len(asked) >= 6
        for sql in asked:
            plan = " | ".join(str(r[-1]) for r in await store._rows(f"EXPLAIN QUERY PLAN {sql}"))
            assert "SEARCH" in plan and "SCAN" not in plan, (sql, plan)
    assert_counters_exact(sqlite3.connect(db, isolation_level=None))


async def test_the_date_triggers_due_contacts_come_from_an_index(tmp_path: Path) -> None:
    path = tmp_path / "scn.db"
    async with opened(path) as store:
        db = sqlite3.connect(path, isolation_level=None)
        db.executemany("INSERT INTO contacts (id, created_at, updated_at) VALUES (?, 0, 0)", [("a",), ("b",), ("c",)])
        db.close()
        assert await store.reset_date_checks(["s:contact.birthday+0d@10:00"], 10) is True
        assert await store.reset_date_checks(["s:contact.birthday+0d@10:00"], 20) is False  # a restart
        assert await store.date_since() == {"s:contact.birthday+0d@10:00": 10}
        assert sorted(await store.due_date_checks(10, 10)) == ["a", "b", "c"]
        state = ("s:contact.birthday+0d@10:00", "a", "1990-01-01|UTC", 40)
        await store.commit(Changes(date_checks=[("a", 50), ("b", None), ("c", 30)], date_states=[state]))
        assert await store.next_date_check() == 30
        assert await store.due_date_checks(50, 1) == ["c"]
        assert await store.due_date_checks(10**15, 10) == ["c", "a"]
        assert await store.date_states(["a", "b"]) == {
            ("s:contact.birthday+0d@10:00", "a"): DateState("1990-01-01|UTC", 40)
        }
        # Deployed again after a pause: its progress moves up to then, and everyone is due.
        assert await store.reset_date_checks([], 60) is True
        assert await store.reset_date_checks(["s:contact.birthday+0d@10:00"], 70) is True
        assert (await store.date_states(["a"]))[("s:contact.birthday+0d@10:00", "a")].done_until == 70
        assert sorted(await store.due_date_checks(70, 10)) == ["a", "b", "c"]
        for call in (lambda: store.due_date_checks(50, 10), store.next_date_check):
            for plan in await plans_of(store, call):
                assert "date_checks_due" in plan and "SCAN" not in plan, plan


async def test_the_sweeps_due_contacts_come_from_an_index(tmp_path: Path) -> None:
    path = tmp_path / "scn.db"
    async with opened(path) as store:
        db = sqlite3.connect(path, isolation_level=None)
        db.executemany("INSERT INTO contacts (id, created_at, updated_at) VALUES (?, 0, 0)", [("a",), ("b",), ("c",)])
        db.close()
        assert await store.reset_segment_checks("one", 10) is True
        assert await store.reset_segment_checks("one", 20) is False  # the same segments: the moments stand
        assert await store.due_segment_checks(9, 10) == []
        assert sorted(await store.due_segment_checks(10, 10)) == ["a", "b", "c"]  # due at exactly now
        await store.commit(Changes(segment_checks=[("a", 50), ("b", None), ("c", 30)]))
        assert await store.next_segment_check() == 30
        assert await store.due_segment_checks(49, 10) == ["c"]
        assert await store.due_segment_checks(50, 1) == ["c"]  # earliest first
        assert await store.due_segment_checks(10**15, 10) == ["c", "a"]  # b: only after its next event
        for call in (lambda: store.due_segment_checks(50, 10), store.next_segment_check):
            for plan in await plans_of(store, call):
                assert "segment_checks_due" in plan and "SCAN" not in plan, plan


#: What migrations 10 to 12 made, undone to turn a store back into schema 9.
MADE_BY_10_TO_12 = [
    "DROP INDEX outbox_contact_scenario", "DROP INDEX outbox_created", "DROP INDEX orders_credited",
    "DROP INDEX outbox_contact_channel", "DROP TABLE count_runs", "DROP TABLE count_steps",
    "DROP TABLE count_messages", "DROP TABLE count_events", "DROP TABLE count_reports",
    "DROP TABLE count_report_days", "DROP TABLE attribution_windows", "DROP TABLE segment_checks",
    "DROP TABLE segment_sweep", "ALTER TABLE outbox DROP COLUMN opened_at", "ALTER TABLE outbox DROP COLUMN clicked_at",
    "ALTER TABLE outbox DROP COLUMN unsubscribed_at", "ALTER TABLE orders DROP COLUMN credited_to",
    # and what the later ones made (suppressions, imports, versions), for them to make again
    "DROP TABLE suppressions", "DROP TABLE soft_bounces", "DROP INDEX contacts_email_lower",
    "DROP TABLE feedback_seen", "DROP TABLE import_jobs",
    "DROP TABLE scenario_audit", "ALTER TABLE scenario_versions DROP COLUMN draft",
    "ALTER TABLE bundles DROP COLUMN draft", "DROP TABLE privacy_audit", "ALTER TABLE orders DROP COLUMN seen_at",
    "DROP TABLE contact_leases", "DROP TABLE broadcasts", "DROP TABLE date_checks", "DROP TABLE date_triggers",
    "DROP TABLE date_sweep",
    "UPDATE schema_version SET version = 9",
]  # fmt: skip


async def test_migrations_10_to_12_count_what_a_store_did_before_them(tmp_path: Path) -> None:
    """A store with activity (runs that finished, waited, exited; messages sent, opened,
    clicked; orders paid; an unsubscribe), turned back into schema 9 and opened: the
    migrations count it to the same counters, outcomes and credits the triggers kept as it
    happened, and to a recount; and the segment sweep then looks at every contact once."""
    from scn.interpreter.store.counters import without_counting

    from .harness import START, Harness
    from .recount import assert_counters_exact, counted

    path = tmp_path / "scn.db"
    inactive = 'segment inactive "Inactive" where contact.last_activity_at < ago(30d)\n'
    h = Harness(inactive + FUNNEL, path, resources={"hello.html": "<p>Hi</p>"})
    await h.__aenter__()
    try:
        at = START + dt.timedelta(minutes=1)
        events = [h.event("order.created", f"c{i}", at=at, order={"id": f"o{i}", **EUROS}) for i in range(5)]
        events.append(h.event("contact.active", "c0", at=at, data={"kind": "login"}))
        await h.play(events, until=dt.timedelta(minutes=5))
        sent = await h.rows("SELECT id, contact_id FROM outbox ORDER BY id")
        later = at + dt.timedelta(minutes=10)
        tracked = [h.event("message.opened", c, at=later, key=f"open:{m}", data={"channel": "email"})
                   for m, c in sent[:3]]  # fmt: skip
        tracked.append(h.event("message.clicked", sent[0][1], at=later, key=f"click:{sent[0][0]}:0",
                               data={"channel": "email", "url": "https://shop.example/"}))  # fmt: skip
        tracked.append(h.event("message.unsubscribed", sent[4][1], at=later, data={"channel": "email"}))
        tracked += [h.event("order.paid", f"c{i}", at=later + dt.timedelta(minutes=1), order={"id": f"o{i}", **EUROS})
                    for i in (0, 3)]  # fmt: skip
        await h.play(tracked, until=dt.timedelta(days=2))
    finally:
        await h.__aexit__()
    db = sqlite3.connect(path, isolation_level=None)
    kept = counted(db)
    assert kept["count_reports"] and {r[1:3] for r in kept["outcomes"]} != {(None, None)}
    assert sum(1 for _order, credited in kept["credits"] if credited is not None) == 2
    db.execute("BEGIN")
    without_counting(db)
    for statement in MADE_BY_10_TO_12:
        db.execute(statement)
    db.execute("COMMIT")
    db.close()

    h = Harness(inactive + FUNNEL, path, start=START + dt.timedelta(days=2), resources={"hello.html": "<p>Hi</p>"})
    await h.__aenter__()
    try:
        db = sqlite3.connect(path, isolation_level=None)
        migrated = counted(db)
        for table, rows in kept.items():
            if table == "count_steps":  # the first log entry a step was reached by may differ
                rows, migrated[table] = {r[:5] for r in rows}, {r[:5] for r in migrated[table]}
            assert migrated[table] == rows, table
        assert_counters_exact(db)
        pages = []
        asked = h.store.due_segment_checks

        async def recorded(now: int, limit: int) -> list[str]:
            found = await asked(now, limit)
            pages.append(found)
            return found

        h.store.due_segment_checks = recorded  # type: ignore[method-assign]
        await h.advance(dt.timedelta(milliseconds=1))
        assert sorted(c for page in pages for c in page) == [f"c{i}" for i in range(5)]
        assert db.execute("SELECT count(*) FROM segment_checks").fetchone() == (5,)
    finally:
        await h.__aexit__()
