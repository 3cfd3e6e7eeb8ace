"""The stores, each test on both backends (the `db` fixture: an SQLite file, a PostgreSQL
database): all-or-nothing batches, intake ids and duplicates, JSON columns, migrations,
run ids; and SQLite's one hand-off to the database thread per write transaction."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from scn.interpreter.store import Changes, ContactUpdate, CouponIssue, PgStore, SqliteStore, StoreError, store_at
from scn.interpreter.store.pg_dialect import statement
from scn.interpreter.store.records import EventIn

from .backends import execute


def run(coroutine: Awaitable[None]) -> None:
    asyncio.run(coroutine)  # type: ignore[arg-type]


@asynccontextmanager
async def opened(path: Path | str) -> AsyncIterator[SqliteStore]:
    store = store_at(str(path))
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def pg_statement(sql: str) -> Any:
    said = statement(sql)
    assert said is not None
    return said


async def raw_execute(db: str, sql: str, *params: Any) -> None:
    """A statement on the database behind the store's back (`?` placeholders)."""
    await asyncio.to_thread(execute, db, sql, *params)


def event(key: str, contact: str = "ann") -> EventIn:
    return EventIn(key=key, type="contact.updated", contact_id=contact, occurred_at=1_000, payload="{}")


def count_handoffs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call the store makes onto an aiosqlite thread, by the name of what it runs."""
    calls: list[str] = []
    original: Callable[..., Awaitable[Any]] = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    return calls


def test_a_batch_of_changes_to_many_tables_is_one_handoff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with opened(tmp_path / "scn.db") as store:
            calls = count_handoffs(monkeypatch)
            changes = Changes(
                contacts=[ContactUpdate(id="ann", at=1, fields={"email": "ann@example.com", "attributes": {"a": 1}})],
                list_adds=[("vip", "ann", 1)],
                processed_events=[],
            )
            await store.commit(changes)
            assert calls == ["transaction"]
            assert (await store.contacts(["ann"]))["ann"]["attributes"] == {"a": 1}
            assert await store.lists_of("ann") == {"vip"}

    run(scenario())


def test_intake_is_one_handoff_and_reports_ids_and_duplicates(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with opened(db) as store:
            first = await store.append_events([event("a"), event("b")], 5)
            assert [duplicate for _, duplicate in first] == [False, False]
            calls = count_handoffs(monkeypatch)
            # "a" was sent before; "c" comes twice in the same batch: the second is a duplicate.
            again = await store.append_events([event("a"), event("c"), event("c")], 6)
            assert calls == ([] if isinstance(store, PgStore) else ["transaction"])
            assert again[0] == (first[0][0], True)
            assert again[1][1] is False and again[2] == (again[1][0], True)
            assert await store._rows("SELECT key, received_at FROM events ORDER BY id") == [
                ("a", 5),
                ("b", 5),
                ("c", 6),
            ]

    run(scenario())


def test_keyed_batches_are_looked_up_refused_and_inserted_in_one_handoff(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with opened(db) as store:
            [(a_id, _)] = await store.append_events([event("a")], 5)
            calls = count_handoffs(monkeypatch)
            seen: list[dict[str, str]] = []

            def refusals(known: dict[str, str]) -> list[str | None]:
                seen.append(known)
                return [None, "b", None]

            answers = await store.append_batches(
                [[event("a"), event("c")], [event("b")], [event("auto:x"), event("c")]], 6, refusals
            )
            assert calls == ([] if isinstance(store, PgStore) else ["transaction"])
            # Only keys a client chose are looked up; the door's own are new by construction.
            assert seen == [{"a": "{}"}]
            first, refused, last = answers
            assert refused == "b"
            assert isinstance(first, list) and isinstance(last, list)
            assert first[0] == (a_id, True) and first[1][1] is False
            assert last[0][1] is False and last[1] == (first[1][0], True)
            assert await store._rows("SELECT key FROM events ORDER BY id") == [("a",), ("c",), ("auto:x",)]
            # Without a key to look up, refusals are not asked.
            seen.clear()
            assert len(await store.append_batches([[event("auto:y")]], 7, refusals)) == 1
            assert seen == []

    run(scenario())


def test_payloads_by_key_reads_every_known_key_once(db: str) -> None:
    async def scenario() -> None:
        async with opened(db) as store:
            keys = [f"k{i}" for i in range(501)]  # one more than a query's chunk
            await store.append_events([event(k) for k in keys], 1)
            assert await store.payloads_by_key([]) == {}
            found = await store.payloads_by_key(["k500", "k0", "k0", "unknown", *keys[1:500]])
            assert found == {k: "{}" for k in keys}

    run(scenario())


def test_many_known_keys_are_looked_up_in_chunks(db: str) -> None:
    async def scenario() -> None:
        async with opened(db) as store:
            keys = [f"k{i}" for i in range(1_200)]
            first = await store.append_events([event(k) for k in keys], 1)
            again = await store.append_events([event(k) for k in reversed(keys)], 2)
            assert again == [(event_id, True) for event_id, _ in reversed(first)]

    run(scenario())


def test_a_batch_that_fails_half_way_writes_nothing(db: str) -> None:
    async def scenario() -> None:
        async with opened(db) as store:
            # The pool code does not exist: the last statement of the batch fails, after
            # the contact and the list membership were written in the same transaction.
            changes = Changes(
                contacts=[ContactUpdate(id="ann", at=1, fields={"email": "ann@example.com"})],
                list_adds=[("vip", "ann", 1)],
                coupons=[CouponIssue(coupon="c", code="NOPE", contact_id="ann", run_id=None, issued_at=1,
                                     valid_until=None, from_pool=True)],
            )  # fmt: skip
            with pytest.raises(StoreError, match="no longer free"):
                await store.commit(changes)
            assert await store.contacts(["ann"]) == {}
            assert await store.lists_of("ann") == set()
            # The writer is usable afterwards (the failed transaction was rolled back).
            await store.commit(Changes(contacts=changes.contacts, list_adds=[("vip", "ann", 2)]))
            assert await store.lists_of("ann") == {"vip"}

    run(scenario())


def test_json_columns_written_by_older_versions_are_read_back(db: str) -> None:
    async def scenario() -> None:
        async with opened(db) as store:
            await store.commit(Changes(contacts=[ContactUpdate(id="ann", at=1, fields={"email": "a@example.com"})]))
        # json.dumps wrote NaN (which strict JSON parsers refuse) and escaped non-ASCII text.
        attributes = json.dumps({"score": float("nan"), "city": "Łódź", "вік": 30})
        await raw_execute(db, "UPDATE contacts SET attributes = ? WHERE id = 'ann'", attributes)
        async with opened(db) as store:
            record = (await store.contacts(["ann"]))["ann"]
            assert record["attributes"]["city"] == "Łódź" and record["attributes"]["вік"] == 30
            assert record["attributes"]["score"] != record["attributes"]["score"]  # NaN

    run(scenario())


def test_column_lists_are_the_row_structs_fields_in_order() -> None:
    """Rows are built positionally (a tenth of the cost of keywords): a column added to one
    side only would shift every value after it."""
    from scn.interpreter.store.records import EventRow, OutboxRow, RunRow
    from scn.interpreter.store.sqlite_changes import RUN_COLUMNS
    from scn.interpreter.store.sqlite_outbox import _OUTBOX_COLUMNS

    def names(columns: str) -> list[str]:
        return [c.strip() for c in columns.split(",")]

    assert names(RUN_COLUMNS) == list(RunRow.__struct_fields__[: len(names(RUN_COLUMNS))])
    assert RunRow.__struct_fields__[len(names(RUN_COLUMNS)) :] == ("dirty",)
    assert names(_OUTBOX_COLUMNS) == list(OutboxRow.__struct_fields__)
    assert list(EventRow.__struct_fields__[:7]) == names("id, key, type, contact_id, occurred_at, received_at, payload")


def test_a_database_from_a_newer_scn_is_refused_with_a_clear_error(db: str) -> None:
    async def scenario() -> None:
        async with opened(db):
            pass
        await raw_execute(db, "UPDATE schema_version SET version = ?", 99)
        store = store_at(db)
        with pytest.raises(StoreError, match=r"has schema version 99, but this scn knows only \d+: .*upgrade scn"):
            await store.open()
        await store.close()

    run(scenario())


def test_the_location_chooses_the_backend() -> None:
    url = "postgresql://scn:secret@db.example.com:5432/scn"
    assert type(store_at(url)) is PgStore and type(store_at("postgres://db/scn")) is PgStore
    assert type(store_at("scn.db")) is SqliteStore
    assert store_at("sqlite:scn.db").path == "scn.db"
    assert store_at("sqlite:///var/lib/scn.db").path == "/var/lib/scn.db"
    assert store_at(":memory:").path == ":memory:"


def test_an_unreachable_database_is_a_store_error_without_its_password() -> None:
    async def scenario() -> None:
        store = store_at("postgresql://scn:secret@127.0.0.1:1/scn")
        with pytest.raises(StoreError, match=r"cannot connect to postgresql://scn@127\.0\.0\.1:1/scn") as error:
            await store.open()
        assert "secret" not in str(error.value)

    run(scenario())


def test_run_ids_come_from_the_database_in_blocks_no_two_processes_share(pg_cluster: Any) -> None:
    from scn.interpreter.store.pg_schema import RUN_ID_BLOCK

    async def scenario() -> None:
        url = pg_cluster.database()
        async with opened(url) as one, opened(url) as other:
            first = [one.allocate_run_id() for _ in range(3)]
            second = [other.allocate_run_id() for _ in range(3)]
            assert first == [1, 2, 3] and second == [RUN_ID_BLOCK + 1, RUN_ID_BLOCK + 2, RUN_ID_BLOCK + 3]
            # Past half a block, the next is taken before a batch needs it.
            many = [one.allocate_run_id() for _ in range(RUN_ID_BLOCK - 3)]
            assert many[-1] == RUN_ID_BLOCK and len(set(many)) == len(many)
            await one.unprocessed_events(1)
            assert one.allocate_run_id() == 2 * RUN_ID_BLOCK + 1
        async with opened(url) as again:  # a restart takes a new block: ids never come back
            assert again.allocate_run_id() == 3 * RUN_ID_BLOCK + 1

    run(scenario())


@pytest.mark.parametrize(
    ("sqlite", "postgresql"),
    [
        ("SELECT a FROM t WHERE b = ? AND c IS ?", "SELECT a FROM t WHERE b = $1 AND c IS NOT DISTINCT FROM $2"),
        (
            "UPDATE t SET n = max(n - 1, 0) WHERE o IS NOT ?",
            "UPDATE t SET n = GREATEST(n - 1, 0) WHERE o IS DISTINCT FROM $1",
        ),
        ("SELECT max(id), min(x) FROM t WHERE x IS NOT NULL", "SELECT max(id), min(x) FROM t WHERE x IS NOT NULL"),
        ("INSERT INTO p (id, n) VALUES (:id, :n)", "INSERT INTO p (id, n) VALUES ($1, $2)"),
        ("SELECT 'a?b', ? FROM t", "SELECT 'a?b', $1 FROM t"),
        ("SELECT json_extract(payload, '$.data.channel')", "SELECT ((payload)::jsonb #>> '{data,channel}')"),
        ("SELECT id FROM (SELECT id FROM t) ORDER BY id", "SELECT id FROM (SELECT id FROM t) AS sub ORDER BY id"),
        ("SELECT CAST(x AS INTEGER), CAST(y AS REAL)", "SELECT CAST(x AS BIGINT), CAST(y AS DOUBLE PRECISION)"),
        ("SELECT a FROM t INDEXED BY t_b WHERE b IN (?, ?)", "SELECT a FROM t WHERE b IN ($1, $2)"),
    ],
)
def test_statements_are_said_the_postgresql_way(sqlite: str, postgresql: str) -> None:
    assert pg_statement(sqlite).sql == postgresql
    assert statement("PRAGMA optimize") is None


def test_scn_migrate_brings_a_store_to_the_schema_and_refuses_a_newer_one(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from scn.cli import main
    from scn.interpreter.store.schema import MIGRATIONS

    assert main(["migrate", "--db", db]) == 0
    assert capsys.readouterr().out.strip().endswith(f"schema version {len(MIGRATIONS)}")
    run(raw_execute(db, "UPDATE schema_version SET version = ?", len(MIGRATIONS) + 1))
    assert main(["migrate", "--db", db]) == 2
    error = capsys.readouterr().err
    assert error.startswith("scn migrate: ") and "written by a newer scn; upgrade scn" in error


def test_every_part_of_the_store_works_on_both_backends(db: str) -> None:
    """Segments, suppressions and soft bounces, imports, coupons, versions and audit, the
    outbox's claims, overview reads and a contact's export and erasure: the statements
    each part says, said on each backend."""
    from scn.interpreter.store import Claim, OutboxIn
    from scn.interpreter.store.suppressions import Suppression
    from scn.stdlib.privacy import erase_contact, export_contact

    async def scenario() -> None:
        async with opened(db) as store:
            await store.commit(Changes(contacts=[ContactUpdate(id="ann", at=1, fields={"email": "Ann@Example.com"})]))
            assert await store.reset_segment_checks("d1", 50) is True
            assert await store.reset_segment_checks("d1", 60) is False
            assert await store.due_segment_checks(50, 10) == ["ann"] and await store.next_segment_check() == 50
            await store.forget_segment_checks()

            entry = Suppression(channel="email", address="ann@example.com", reason="bounce", source="test",
                                created_at=1)  # fmt: skip
            assert await store.add_suppressions([entry, entry]) == (1, 0)
            assert (await store.suppression("email", "ann@example.com")) == entry
            assert await store.count_soft_bounce("email", "x@example.com", 5, key="k1") == 1
            assert await store.count_soft_bounce("email", "x@example.com", 6, key="k1") is None  # seen
            assert await store.count_soft_bounce("email", "x@example.com", 7) == 2
            assert await store.contacts_by_email(["ANN@example.com"]) == ["ann"]

            job = await store.create_import(2, [(1, {"id": "bob"})], [], 9)
            await store.import_progress(job, 1, 1, 0, [], None)
            job_row = await store.import_job(job)
            assert job_row is not None and job_row.status == "running" and job_row.position == 1
            await store.import_progress(job, 2, 2, 0, [], 10)
            assert await store.unfinished_imports() == []

            assert await store.import_pool("c", ["A1", "A2", "A1"]) == 2
            assert await store.draw_pool_code("c", ["A1"]) == "A2" and await store.free_pool_codes("c") == 2
            assert not await store.bonus_paid("ann", None, "welcome")

            bundle, versions = await store.save_bundle(b"not a bundle", {"s": "d1"}, 10)
            assert versions == {"s": 1} and await store.latest_bundle() == bundle
            _, drafts = await store.save_bundle(b"another", {"s": "d2"}, 11, draft=True)
            assert drafts == {"s": 2}
            await store.publish_version("s", 2, 12, "tester")
            assert [r["action"] for r in await store.audit_records("s")] == ["upload", "draft", "publish"]
            await store.set_scenario_state("s", "paused", 13)
            await store.record_audit("s", 13, "tester", "pause")
            assert [(v, d) for v, _b, _d, _at, d in await store.scenario_versions("s")] == [(1, False), (2, False)]

            run_id = store.allocate_run_id()
            from scn.interpreter.store import RunRow

            run_row = RunRow(id=run_id, scenario="s", version=2, bundle=bundle + 1, contact_id="ann", order_id=None,
                             trigger_event=1, position=0, step="s1", vars={}, variant=None, status="running",
                             wake_at=None, await_event=None, started_at=20, updated_at=20)  # fmt: skip
            await store.append_events([event("e1")], 20)
            message = OutboxIn(run_id=run_id, step="s1", scenario="s", contact_id="ann", channel="email",
                               template="t", recipient="ann@example.com", message="{}", coupon_code=None, variant=None,
                               created_at=20)  # fmt: skip
            await store.commit(Changes(new_runs=[run_row], outbox=[message]))
            (claimed,) = await store.exchange_outbox([], [], [Claim(limit=10)], now=30, lease_ms=1000, owner="me")
            assert [m.attempts for m in claimed] == [1]
            assert await store.exchange_outbox([], [], [Claim(limit=10)], now=30, lease_ms=1000, owner="o") == [[]]
            await store.release_outbox(31, "me")
            assert await store.next_outbox_attempt() == 31
            assert await store.sends_since("s", 0) == {"pending": 1}
            assert [m.id for m in await store.run_messages(run_id)] == [claimed[0].id]
            assert [r.id for r in await store.contact_runs("ann")] == [run_id]
            assert (await store.find_contacts("an"))[0]["id"] == "ann"
            assert await store.cancel_runs([run_id], 40, "by hand") == [run_id]
            assert await store.run_counts() == {"s": {"cancelled": 1}}

            exported = await export_contact(store, "ann", "tester", 50)
            assert [r["id"] for r in exported["runs"]] == [run_id]
            erased = await erase_contact(store, "ann", "tester", 51)
            assert erased["changed"]["contacts"] == 1 and await store.contacts(["ann"]) == {}

    run(scenario())


def test_two_senders_racing_for_the_outbox_never_claim_one_message_twice(pg_cluster: Any) -> None:
    """Two stores (two processes' worth of connections) claim due messages at once, again
    and again: every message is claimed by exactly one of them (FOR UPDATE SKIP LOCKED)."""
    from scn.interpreter.store import Claim

    async def scenario() -> None:
        url = pg_cluster.database()
        async with opened(url) as one, opened(url) as other:
            await one.commit(Changes(contacts=[ContactUpdate(id="ann", at=1, fields={})]))
            await raw_execute(
                url,
                "INSERT INTO outbox (contact_id, channel, recipient, message, status, created_at, next_attempt_at) "
                "SELECT 'ann', 'email', 'ann@example.com', '{}', 'pending', 1, 1 FROM generate_series(1, ?)",
                300,
            )
            claimed: dict[str, list[int]] = {"one": [], "other": []}

            async def sender(name: str, store: SqliteStore) -> None:
                while True:
                    (rows,) = await store.exchange_outbox([], [], [Claim(limit=7)], now=10, lease_ms=60_000, owner=name)
                    if not rows:
                        return
                    claimed[name] += [r.id for r in rows]

            await asyncio.gather(sender("one", one), sender("other", other))
            assert not set(claimed["one"]) & set(claimed["other"])
            assert sorted(claimed["one"] + claimed["other"]) == list(range(1, 301))
            assert claimed["one"] and claimed["other"], "both took a share"
            # A dead sender's claims come back when their lease runs out, not before.
            taken = await other.exchange_outbox([], [], [Claim(limit=500)], now=60_009, lease_ms=1, owner="third")
            assert taken == [[]]
            taken = await other.exchange_outbox([], [], [Claim(limit=500)], now=60_010, lease_ms=1, owner="third")
            assert len(taken[0]) == 300

    run(scenario())
