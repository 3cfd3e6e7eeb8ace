"""Versions over real HTTP: the semantic diff, drafts, publish, rollback and the audit."""

from __future__ import annotations

from pathlib import Path

from .server_harness import serving
from .test_server import FILES, SHOP, is_problem


async def test_the_diff_of_two_versions(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES) as s:
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


async def test_the_diff_names_a_bad_version(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES) as s:
        body = is_problem(await s.client.get("/api/scenarios/thanks/diff?old=1&new=7"), 422)
        assert body["detail"] == "new: scenario thanks has no version 7; it has 1"
        body = is_problem(await s.client.get("/api/scenarios/thanks/diff?old=0"), 422)
        assert body["detail"].startswith("old: scenario thanks has no version 0")
        is_problem(await s.client.get("/api/scenarios/thanks/diff?old=x"), 400)
        is_problem(await s.client.get("/api/scenarios/nope/diff"), 404)
