"""`scn upload --draft`, `scn publish` (with --dry-run, --runs, --unmatched) and `scn rollback`
as processes against a served app, over real HTTP, on each backend."""

from __future__ import annotations

import json
from pathlib import Path

from .test_client import scn
from .test_versions_move import V1, in_flight, runs


async def test_the_dry_run_shows_the_moves_and_changes_nothing_then_publish_moves(tmp_path: Path, db: str) -> None:
    async with in_flight(tmp_path, db) as (s, _):
        before = await runs(s)
        code, out, err = await scn(s.base, "publish", "journey", "2", "--runs", "move", "--dry-run")
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0] == ("dry run: nothing changed; journey is at version 1. "
                            "Publishing version 2 with --runs move would:")  # fmt: skip
        assert lines[1].split() == ["to", "step", "runs"]
        assert [line.split()[1] for line in lines[2:4]] == ["2", "1"] and lines[2].split()[0] == "@nudge"
        assert lines[4] == "runs moved: 3, exited: 0, kept their version: 1"
        assert lines[5] == ("warning: version 2 removes step @first, where 1 run(s) are waiting: "
                            "they finish on their old version")  # fmt: skip
        assert await runs(s) == before
        assert (await s.client.get("/api/scenarios/journey")).json()["version"] == 1

        code, out, err = await scn(s.base, "publish", "journey", "--runs", "move", "--unmatched", "exit",
                                   "--format", "json")  # fmt: skip
        assert code == 0, err
        answer = json.loads(out)
        assert (answer["version"], answer["dry_run"], answer["moves"]["exited"]) == (2, False, 1)
        after = await runs(s)
        assert after["c3"][1] == "exited" and {after[c][0] for c in ("c0", "c1", "c2")} == {2}

        code, out, err = await scn(s.base, "rollback", "journey", "1", "--dry-run")
        assert code == 0 and out.splitlines()[-1] == "runs in flight stay on their version: 3", out
        code, out, err = await scn(s.base, "rollback", "journey", "1")
        assert code == 0 and out.startswith("journey: version 1 is current"), out


async def test_an_upload_as_draft_then_publish_and_the_refusals(tmp_path: Path, db: str) -> None:
    async with in_flight(tmp_path, db) as (s, _):
        folder = tmp_path / "v3"
        folder.mkdir()
        (folder / "shop.scn").write_text(V1.replace("wait 2d", "wait 5d"), encoding="utf-8")
        (folder / "thanks.html").write_text("<p>Привіт</p>", encoding="utf-8")
        code, out, err = await scn(s.base, "upload", "--draft", str(folder))
        assert code == 0, err
        assert "journey   3" in out and "as drafts: no run starts on them until `scn publish`" in out
        assert (await s.client.get("/api/scenarios/journey")).json()["version"] == 1

        code, _, err = await scn(s.base, "publish", "journey", "3", "--unmatched", "exit")
        assert code == 1 and "unmatched: only with" in err
        code, _, err = await scn(s.base, "publish", "journey", "3", "--runs", "move", "--unmatched", "@nowhere")
        assert code == 1 and "unmatched.step: version 3 of journey has no step labelled @nowhere" in err
        code, _, err = await scn(s.base, "publish", "nope", "1")
        assert code == 1 and "(404)" in err
        code, _, err = await scn(s.base, "rollback", "journey", "2")
        assert code == 1 and "(409)" in err and "roll back to a version older than the current 1" in err

        code, out, err = await scn(s.base, "publish", "journey")  # the newest: the draft
        assert code == 0 and out.splitlines() == [
            "journey: version 3 is current; new runs start on it",
            "runs in flight stay on their version: 4",
        ], out
