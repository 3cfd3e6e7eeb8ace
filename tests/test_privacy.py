"""GDPR over real HTTP and a real SQLite file: export everything held about a contact,
erase it, and find none of its personal data in any table afterwards."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from .recount import assert_counters_exact
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


def _found(path: Path) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text value of every table that holds one of SECRETS."""
    found = []
    with sqlite3.connect(path) as db:
        db.text_factory = lambda raw: raw.decode("utf-8", "replace")  # bundles are msgpack blobs
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for column in [r[1] for r in db.execute(f"PRAGMA table_info({table})")]:
                for (value,) in db.execute(f"SELECT CAST({column} AS TEXT) FROM {table}"):
                    if value is not None and any(s.lower() in value.lower() for s in SECRETS):
                        found.append((table, column, value))
    return found


async def test_export_then_erase_leaves_no_personal_data_and_keeps_the_counts(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES) as s:
        other = {"id": "petro", "email": "petro@example.com", "first_name": "Петро"}
        for person in (PERSON, other):
            r = await s.client.post("/api/events", json={"type": "contact.registered", "contact": person})
            assert r.status_code == 202, r.text
        await s.settle()
        r = await s.client.post("/api/suppressions/email", json={"address": PERSON["email"], "reason": "complaint"})
        assert r.status_code == 200

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
        missing = await s.client.get("/api/contacts/nobody/export")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")

        held = {table for table, _, _ in _found(tmp_path / "scn.db")}
        assert held >= {"contacts", "events", "runs", "outbox", "suppressions"}, held  # the scan sees them

        erased = await s.client.post("/api/contacts/olena-4711/erase")
        assert erased.status_code == 200, erased.text
        answer = erased.json()
        assert answer["changed"]["runs cancelled"] == 1 and answer["changed"]["contacts"] == 1
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

        assert _found(tmp_path / "scn.db") == []
        with sqlite3.connect(tmp_path / "scn.db") as db:
            assert_counters_exact(db)
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


def _scn(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scn", *args], capture_output=True, text=True, timeout=60)


async def test_scn_contact_exports_and_erases_on_a_store_file(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES) as s:
        r = await s.client.post("/api/events", json={"type": "contact.registered", "contact": PERSON})
        assert r.status_code == 202, r.text
        await s.settle()
    db = str(tmp_path / "scn.db")
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
    with sqlite3.connect(db) as check:
        actors = [a for (a,) in check.execute("SELECT actor FROM privacy_audit ORDER BY id")]
    assert len(actors) == 2 and all(a.startswith("cli:") for a in actors), actors
