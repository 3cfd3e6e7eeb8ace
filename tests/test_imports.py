"""Contact imports survive a restart: the job, its rows still to import and its progress
are in the store, so a server that stopped in the middle goes on where it stopped, and
the job's progress can still be asked for afterwards."""

from __future__ import annotations

import asyncio
from pathlib import Path

from scn.interpreter.store import store_at

from .server_harness import serving

FILES = {"a.scn": 'list vip "VIP"\n'}


async def until_done(s: object, job_id: int) -> dict[str, object]:
    client = s.client  # type: ignore[attr-defined]
    for _ in range(200):
        progress: dict[str, object] = (await client.get(f"/api/contacts/import/{job_id}")).json()
        if progress["status"] == "done":
            return progress
        await asyncio.sleep(0.02)
    raise AssertionError(f"import {job_id} did not finish: {progress}")


async def test_a_finished_import_is_still_there_after_a_restart(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        job = (await s.client.post("/api/contacts/import", content="id,email\nanna,anna@example.com\n,\n",
                                   headers={"Content-Type": "text/csv"})).json()  # fmt: skip
        done = await until_done(s, job["id"])
        assert (done["total"], done["accepted"], done["errors"]) == (2, 1, [{"line": 3, "error": "no id"}])
    async with serving(tmp_path, FILES, db=db) as s:
        again = (await s.client.get(f"/api/contacts/import/{job['id']}")).json()
        assert again == done, "a restart used to forget every import (404)"
        second = (await s.client.post("/api/contacts/import", content="id\nbob\n",
                                      headers={"Content-Type": "text/csv"})).json()  # fmt: skip
        assert second["id"] == job["id"] + 1, "ids come from the database, not from a count in memory"


async def test_an_import_a_restart_interrupted_goes_on_where_it_stopped(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES):
        pass  # the store made
    store = store_at(db)
    await store.open()
    rows = [(n + 2, {"id": f"c{n}", "first_name": "Jānis" if n == 0 else "Ян"}) for n in range(5)]
    # As a server leaves it when it stops after the first two rows were imported.
    job_id = await store.create_import(5, rows, [], 0)
    await store.import_progress(job_id, 2, 2, 0, [], None)
    await store.close()
    async with serving(tmp_path, FILES, db=db) as s:
        done = await until_done(s, job_id)
        assert (done["total"], done["accepted"], done["duplicates"]) == (5, 5, 0)
        await s.settle()
        found = [(await s.client.get(f"/api/contacts/c{n}")).status_code for n in range(5)]
        assert found == [404, 404, 200, 200, 200], "the rows before the stop are not imported again"
        assert (await s.client.get("/api/contacts/c3")).json()["first_name"] == "Ян"
    store = store_at(db)
    await store.open()
    try:
        assert await store.unfinished_imports() == [], "a finished job lets its rows go"
    finally:
        await store.close()


async def test_rows_that_do_not_fit_the_header_and_an_unclosed_quote_say_their_line(tmp_path: Path, db: str) -> None:
    """A row with more values than the header had them dropped silently; an unclosed quote
    made one contact of the rest of the file."""
    async with serving(tmp_path, FILES, db=db) as s:
        text = "id,email\nanna,anna@example.com\nbob,bob@example.com,surplus\n\ncyril,cyril@example.com\n"
        job = (await s.client.post("/api/contacts/import", content=text, headers={"Content-Type": "text/csv"})).json()
        done = await until_done(s, job["id"])
        assert (done["total"], done["accepted"]) == (3, 2)
        assert done["errors"] == [{"line": 3, "error": "3 values, but the header names 2 columns"}]
        unclosed = 'id,email\nanna,anna@example.com\n"bob,bob@example.com\ncyril,cyril@example.com\n'
        r = await s.client.post("/api/contacts/import", content=unclosed, headers={"Content-Type": "text/csv"})
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
        assert r.json()["errors"] == [{"field": "body", "line": 3, "message": "not readable CSV: unexpected end of "
                                       "data: a quoted field that starts here is never closed"}]  # fmt: skip
        assert (await s.client.get(f"/api/contacts/import/{job['id'] + 1}")).status_code == 404, "no job for it"
