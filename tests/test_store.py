"""The SQLite store on real files: one hand-off to the database thread per write
transaction, all-or-nothing batches, intake ids and duplicates, JSON columns."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from scn.interpreter.store import Changes, ContactUpdate, CouponIssue, SqliteStore, StoreError
from scn.interpreter.store.records import EventIn


def run(coroutine: Awaitable[None]) -> None:
    asyncio.run(coroutine)  # type: ignore[arg-type]


@asynccontextmanager
async def opened(path: Path) -> AsyncIterator[SqliteStore]:
    store = SqliteStore(str(path))
    await store.open()
    try:
        yield store
    finally:
        await store.close()


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


def test_intake_is_one_handoff_and_reports_ids_and_duplicates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with opened(tmp_path / "scn.db") as store:
            first = await store.append_events([event("a"), event("b")], 5)
            assert [duplicate for _, duplicate in first] == [False, False]
            calls = count_handoffs(monkeypatch)
            # "a" was sent before; "c" comes twice in the same batch: the second is a duplicate.
            again = await store.append_events([event("a"), event("c"), event("c")], 6)
            assert calls == ["transaction"]
            assert again[0] == (first[0][0], True)
            assert again[1][1] is False and again[2] == (again[1][0], True)
            assert await store._rows("SELECT key, received_at FROM events ORDER BY id") == [
                ("a", 5),
                ("b", 5),
                ("c", 6),
            ]

    run(scenario())


def test_many_known_keys_are_looked_up_in_chunks(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with opened(tmp_path / "scn.db") as store:
            keys = [f"k{i}" for i in range(1_200)]
            first = await store.append_events([event(k) for k in keys], 1)
            again = await store.append_events([event(k) for k in reversed(keys)], 2)
            assert again == [(event_id, True) for event_id, _ in reversed(first)]

    run(scenario())


def test_a_batch_that_fails_half_way_writes_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with opened(tmp_path / "scn.db") as store:
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


def test_json_columns_written_by_older_versions_are_read_back(tmp_path: Path) -> None:
    async def scenario() -> None:
        path = tmp_path / "scn.db"
        async with opened(path) as store:
            await store.commit(Changes(contacts=[ContactUpdate(id="ann", at=1, fields={"email": "a@example.com"})]))
        # json.dumps wrote NaN (which strict JSON parsers refuse) and escaped non-ASCII text.
        attributes = json.dumps({"score": float("nan"), "city": "Łódź", "вік": 30})
        with sqlite3.connect(path) as raw:
            raw.execute("UPDATE contacts SET attributes = ? WHERE id = 'ann'", (attributes,))
        async with opened(path) as store:
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
