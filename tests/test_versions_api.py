"""Versions over real HTTP: the semantic diff, drafts, publish, rollback and the audit."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .server_harness import API_KEY, serving
from .test_server import FILES, SHOP, is_problem, paid


async def test_the_diff_of_two_versions(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        changed = SHOP.replace("wait 1h", "wait 2h").replace("  add to list buyers\n", "")
        r = await s.client.post("/api/scenarios", json={"files": {"shop.scn": changed}})
        assert r.json()["versions"] == {"thanks": 2}
        body = (await s.client.get("/api/scenarios/thanks/diff?old=1&new=2")).json()
        assert body["scenario"] == "thanks" and body["headers"] == [] and body["unchanged"] == 2
        assert [(x["kind"], x["old_step"], x["new_step"]) for x in body["steps"]] == [
            ("removed", "s1", None),
            ("changed", "s3", "s2"),
        ]
        assert body["steps"][1]["changes"] == [{"field": "duration", "old": "1h", "new": "2h"}]
        # By default: the current version against the one before it.
        assert (await s.client.get("/api/scenarios/thanks/diff")).json() == body
        same = (await s.client.get("/api/scenarios/thanks/diff?old=2&new=2")).json()
        assert same["steps"] == [] and same["unchanged"] == 3


async def test_the_diff_names_a_bad_version(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        body = is_problem(await s.client.get("/api/scenarios/thanks/diff?old=1&new=7"), 422)
        assert body["detail"] == "new: scenario thanks has no version 7; it has 1"
        body = is_problem(await s.client.get("/api/scenarios/thanks/diff?old=0"), 422)
        assert body["detail"].startswith("old: scenario thanks has no version 0")
        is_problem(await s.client.get("/api/scenarios/thanks/diff?old=x"), 400)
        is_problem(await s.client.get("/api/scenarios/nope/diff"), 404)


async def test_a_draft_takes_no_runs_until_published_then_rollback(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        draft = SHOP.replace("wait 1h", "wait 2h")
        r = await s.client.post("/api/scenarios?draft=true", json={"files": {"shop.scn": draft}})
        assert r.status_code == 201 and r.json()["versions"] == {"thanks": 2}
        detail = (await s.client.get("/api/scenarios/thanks")).json()
        assert detail["version"] == 1 and detail["state"] == "active" and detail["source"] == SHOP
        assert [(v["version"], v["draft"]) for v in detail["versions"]] == [(1, False), (2, True)]
        # A run started now is on version 1, the published one.
        assert (await s.client.post("/api/events", json=paid("c1", "o1"))).status_code == 202
        await s.settle()
        assert await s.count("SELECT count(*) FROM runs WHERE version = 1") == 1

        published = (await s.client.post("/api/scenarios/thanks/publish", json={"version": 2})).json()
        assert published["version"] == 2 and published["state"] == "active"
        assert (await s.client.get("/api/scenarios/thanks")).json()["source"] == draft
        assert (await s.client.post("/api/events", json=paid("c2", "o2"))).status_code == 202
        await s.settle()
        assert await s.count("SELECT count(*) FROM runs WHERE version = 2") == 1
        assert await s.count("SELECT count(*) FROM runs WHERE version = 1") == 1  # stayed on its version

        rolled = (await s.client.post("/api/scenarios/thanks/rollback", json={"version": 1})).json()
        assert rolled["version"] == 1
        assert (await s.client.get("/api/scenarios/thanks")).json()["source"] == SHOP
        is_problem(await s.client.post("/api/scenarios/thanks/rollback", json={"version": 2}), 409)
        body = is_problem(await s.client.post("/api/scenarios/thanks/publish", json={"version": 5}), 422)
        assert body["detail"] == "version: scenario thanks has no version 5; it has 1, 2"
        is_problem(await s.client.post("/api/scenarios/thanks/publish", json={"version": "2"}), 400)
        is_problem(await s.client.post("/api/scenarios/thanks/publish", json={}), 400)
        await s.client.post("/api/scenarios/thanks/pause")

        audit = (await s.client.get("/api/scenarios/thanks/audit")).json()
        assert [(a["action"], a["version"], a["previous"]) for a in audit["items"]] == [
            ("upload", 1, None),
            ("draft", 2, 1),
            ("publish", 2, 1),
            ("rollback", 1, 2),
            ("pause", 1, None),
        ]
        key = hashlib.sha256(API_KEY.encode()).hexdigest()[:8]
        assert {a["actor"] for a in audit["items"][1:]} == {f"api key {key}"}  # never the key itself
        assert audit["items"][0]["actor"] == "system"  # the workspace the server started with
        page = (await s.client.get("/api/scenarios/thanks/audit?limit=2")).json()
        assert len(page["items"]) == 2 and page["next"] == page["items"][-1]["id"]


async def test_a_new_scenario_as_a_draft_and_the_draft_survives_a_restart(tmp_path: Path, db: str) -> None:
    extra = SHOP.replace("scenario thanks", "scenario again").replace("list buyers", "list buyers2").replace(
        "template thanks", "template thanks2").replace("send email thanks", "send email thanks2")  # fmt: skip
    async with serving(tmp_path, FILES, db=db) as s:
        r = await s.client.post("/api/scenarios?draft=true", json={"files": {"again.scn": extra}})
        assert r.status_code == 201, r.text
        assert r.json()["versions"] == {"again": 1, "thanks": 1}
        listed = {x["name"]: x["state"] for x in (await s.client.get("/api/scenarios")).json()["items"]}
        assert listed == {"again": "draft", "thanks": "active"}
        is_problem(await s.client.post("/api/scenarios/again/resume"), 409)
        assert (await s.client.post("/api/events", json=paid("c1", "o1"))).status_code == 202
        await s.settle()
        assert await s.count("SELECT count(*) FROM runs WHERE scenario = 'again'") == 0
    async with serving(tmp_path, db=db) as s:  # the draft is not the served workspace after a restart either
        assert "again.scn" not in s.core.files
        assert (await s.client.post("/api/scenarios/again/publish", json={"version": 1})).json()["state"] == "active"
        assert "again.scn" in s.core.files
        assert (await s.client.post("/api/events", json=paid("c2", "o2"))).status_code == 202
        await s.settle()
        assert await s.count("SELECT count(*) FROM runs WHERE scenario = 'again'") == 1


async def test_a_rollback_survives_a_restart_and_the_next_upload(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        await s.client.post("/api/scenarios", json={"files": {"shop.scn": SHOP.replace("wait 1h", "wait 2h")}})
        await s.client.post("/api/scenarios/thanks/rollback", json={"version": 1})
    async with serving(tmp_path, db=db) as s:
        assert (await s.client.get("/api/scenarios/thanks")).json()["source"] == SHOP
        # Another file uploaded: the rolled-back scenario stays on version 1.
        r = await s.client.post("/api/scenarios", json={"files": {"other.txt": "x"}})
        assert r.status_code == 201 and r.json()["versions"] == {"thanks": 1}
