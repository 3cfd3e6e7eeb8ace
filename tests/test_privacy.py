"""GDPR over real HTTP, on each backend (the `db` fixture): export everything held about a contact,
erase it, and find none of its personal data in any table afterwards."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from scn.interpreter.store import store_at

from .backends import assert_counters_match_rows, texts
from .backends import rows as stored_rows
from .server_harness import serving

WORKSPACE = """
list newcomers "Newcomers"

template hello email
  subject "Привіт, {{ contact.first_name }}!"
  html "hello.html"
end

scenario hello "Hello"
  on contact.registered
  add to list newcomers
  send email hello
  wait 2d
  remove from list newcomers
end
"""
FILES = {"hello.scn": WORKSPACE, "hello.html": "<p>Вітаємо, {{ contact.first_name }} {{ contact.last_name }}</p>"}
PERSON = {"id": "olena-4711", "email": "Olena.Kovalenko@Example.com", "phone": "+380501234567",
          "first_name": "Олена", "last_name": "Коваленко"}  # fmt: skip
SECRETS = ("olena-4711", "olena.kovalenko@example.com", "+380501234567", "380501234567", "Олена", "Коваленко")


def _found(db: str) -> list[tuple[str, str, str]]:
    """(table, column, value) of every value of every table that holds one of SECRETS."""
    return [(t, c, v) for t, c, v in texts(db) if any(s.lower() in v.lower() for s in SECRETS)]


async def test_export_then_erase_leaves_no_personal_data_and_keeps_the_counts(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        other = {"id": "petro", "email": "petro@example.com", "first_name": "Петро"}
        for person in (PERSON, other):
            r = await s.client.post("/api/events", json={"type": "contact.registered", "contact": person})
            assert r.status_code == 202, r.text
        await s.settle()
        r = await s.client.post("/api/suppressions/email", json={"address": PERSON["email"], "reason": "complaint"})
        assert r.status_code == 200
        # An import still under way holds the contact's CSV row (as a restart would find it).
        rows = [(2, {**PERSON, "plan": "gold"}), (3, {"id": "petro", "first_name": "Петро"})]
        job = await _waiting_import(db, rows, [{"line": 4, "error": f"email: {PERSON['email']}x is not one"}])

        exported = await s.client.get("/api/contacts/olena-4711/export")
        assert exported.status_code == 200, exported.text
        data = exported.json()
        assert data["contact"]["email"] == PERSON["email"] and data["contact"]["first_name"] == "Олена"
        assert [m["list"] for m in data["list_members"]] == ["newcomers"]
        assert [e["type"] for e in data["events"]] == ["contact.registered"]
        (run,) = data["runs"]
        assert run["status"] == "waiting" and [e["step"] for e in run["step_log"]][:1] != []
        (message,) = data["outbox"]
        assert "Олена" in message["message"]["subject"] and message["recipient"] == PERSON["email"]
        assert [x["address"] for x in data["suppressions"]] == ["olena.kovalenko@example.com"]
        assert [a["action"] for a in data["audit"]] == []  # this export is recorded after it is read
        assert data["imports"] == [{"job": job, "line": 2, "row": {**PERSON, "plan": "gold"}}]
        missing = await s.client.get("/api/contacts/nobody/export")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")

        held = {table for table, _, _ in _found(db)}
        assert held >= {"contacts", "events", "runs", "outbox", "suppressions", "import_jobs"}, held  # seen

        erased = await s.client.post("/api/contacts/olena-4711/erase")
        assert erased.status_code == 200, erased.text
        answer = erased.json()
        assert answer["changed"]["runs cancelled"] == 1 and answer["changed"]["contacts"] == 1
        assert answer["changed"]["import rows"] == 1
        pseudonym = answer["pseudonym"]
        assert (await s.client.get("/api/contacts/olena-4711")).status_code == 404
        assert (await s.client.post("/api/contacts/olena-4711/erase")).status_code == 404
        # Still suppressed, as a digest: a new sign-up with the address gets no mail.
        r = await s.client.get("/api/suppressions/email", params={"address": PERSON["email"]})
        assert r.status_code == 200
        assert (
            await s.count(f"SELECT count(*) FROM runs WHERE contact_id = '{pseudonym}' AND status = 'cancelled'") == 1
        )
        assert await s.count("SELECT count(*) FROM privacy_audit WHERE action = 'erase'") == 1
        assert await s.count("SELECT count(*) FROM privacy_audit WHERE action = 'export'") == 1

        assert _found(db) == []
        assert_counters_match_rows(db)
        [(kept,)] = stored_rows(db, "SELECT rows FROM import_jobs WHERE id = ?", job)
        assert json.loads(kept) == [[2, {}], [3, {"id": "petro", "first_name": "Петро"}]], "the others' rows stay"
        # The other contact is untouched.
        assert (await s.client.get("/api/contacts/petro")).json()["first_name"] == "Петро"

        # The id signs up again: a new contact, a new run.
        new = {"id": "olena-4711", "email": "new@example.com"}
        r = await s.client.post("/api/events", json={"type": "contact.registered", "contact": new})
        assert r.status_code == 202
        await s.settle()
        again = (await s.client.get("/api/contacts/olena-4711/export")).json()
        assert again["contact"]["first_name"] is None and again["contact"]["email"] == "new@example.com"
        assert [r["status"] for r in again["runs"]] == ["waiting"]


async def _waiting_import(db: str, rows: list[tuple[int, dict[str, str]]], errors: list[dict[str, object]]) -> int:
    """A contact import not started yet, in the store (a server resumes it when it starts)."""
    store = store_at(db)
    await store.open()
    try:
        return await store.create_import(len(rows) + len(errors), rows, errors, 0)
    finally:
        await store.close()


async def test_an_import_that_goes_on_after_an_erase_does_not_make_the_contact_again(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        r = await s.client.post("/api/events", json={"type": "contact.registered", "contact": PERSON})
        assert r.status_code == 202, r.text
        await s.settle()
        job = await _waiting_import(db, [(2, {"id": "petro", "first_name": "Петро"}), (3, PERSON)], [])
        erased = await s.client.post(f"/api/contacts/{PERSON['id']}/erase")
        assert erased.status_code == 200, erased.text
    async with serving(tmp_path, FILES, db=db) as s:  # the restart resumes the import
        for _ in range(200):
            progress = (await s.client.get(f"/api/contacts/import/{job}")).json()
            if progress["status"] == "done":
                break
            await asyncio.sleep(0.02)
        assert (progress["total"], progress["accepted"]) == (2, 1), progress
        assert progress["errors"] == [{"line": 3, "error": "not imported: the contact was erased meanwhile"}]
        await s.settle()
        assert (await s.client.get(f"/api/contacts/{PERSON['id']}")).status_code == 404
        assert (await s.client.get("/api/contacts/petro")).json()["first_name"] == "Петро"
    assert _found(db) == []


def _scn(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scn", *args], capture_output=True, text=True, timeout=60)


async def test_scn_contact_exports_and_erases_on_a_store(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        r = await s.client.post("/api/events", json={"type": "contact.registered", "contact": PERSON})
        assert r.status_code == 202, r.text
        await s.settle()
    exported = await asyncio.to_thread(_scn, "contact", "export", "--db", db, PERSON["id"])
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["contact"]["first_name"] == "Олена"
    refused = await asyncio.to_thread(_scn, "contact", "erase", "--db", db, PERSON["id"])
    assert refused.returncode == 2 and "--yes" in refused.stderr, "erasing asks to be sure"
    erased = await asyncio.to_thread(_scn, "contact", "erase", "--db", db, PERSON["id"], "--yes")
    assert erased.returncode == 0 and json.loads(erased.stdout)["erased"] is True, erased.stderr
    gone = await asyncio.to_thread(_scn, "contact", "export", "--db", db, PERSON["id"])
    assert gone.returncode == 2 and "no contact" in gone.stderr
    missing = await asyncio.to_thread(_scn, "contact", "export", "--db", str(tmp_path / "nope.db"), "x")
    assert missing.returncode == 2 and "no store" in missing.stderr and not (tmp_path / "nope.db").exists()
    actors = [a for (a,) in stored_rows(db, "SELECT actor FROM privacy_audit ORDER BY id")]
    assert len(actors) == 2 and all(a.startswith("cli:") for a in actors), actors


async def test_an_import_under_way_leaves_out_a_contact_erased_while_it_runs(db: str) -> None:
    """The import holds its rows in memory too: it reads them again once a contact was
    erased, so a row it had not reached does not make the erased contact again."""
    from scn.interpreter.clock import ms_of
    from scn.interpreter.runtime.imports import run_import
    from scn.stdlib.privacy import erase_contact

    from .harness import Harness

    async with Harness('list l "L"\n', path=db) as h:
        await h.play([h.event("contact.registered", PERSON["id"], person=PERSON)])
        rows = [(2, {"id": "petro", "first_name": "Петро"}), (3, {**PERSON, "plan": "gold"})]
        job_id = await h.store.create_import(2, rows, [], 0)
        job = await h.store.import_job(job_id)
        assert job is not None
        job.rows = list(rows)

        class ErasedAfterTheFirstChunk:
            """The store, with the contact erased (elsewhere) once the first chunk is recorded."""

            def __getattr__(self, name: str) -> object:
                return getattr(h.store, name)

            async def import_progress(self, *args: object) -> None:
                await h.store.import_progress(*args)  # type: ignore[arg-type]
                if args[1] == 1:
                    await erase_contact(h.store, PERSON["id"], "test", ms_of(h.clock.now()))

        await run_import(h.engine, ErasedAfterTheFirstChunk(), job, lambda: ms_of(h.clock.now()), chunk=1)  # type: ignore[arg-type]
        assert (job.accepted, job.errors) == (
            1,
            [{"line": 3, "error": "not imported: the contact was erased meanwhile"}],
        )
        assert [k for (k,) in await h.rows("SELECT key FROM events WHERE key LIKE 'import:%'")] == [
            f"import:{job_id}:2"
        ]
        await h.play([])
        assert await h.rows("SELECT id FROM contacts WHERE id = ?", PERSON["id"]) == []
    assert _found(db) == []
