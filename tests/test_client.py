"""`scn upload`, `scn runs`, `scn run ID`, `scn report` as processes against a served app."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from .server_harness import API_KEY, serving
from .test_server import FILES, SHOP, paid


async def scn(base: str | None, *args: str, key: str = API_KEY, cwd: Path | None = None) -> tuple[int, str, str]:
    """`scn ARGS` in a process (against the server at ``base``): exit code, stdout, stderr."""
    server = ["--server", base] if base is not None else []
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scn", *args, *server, cwd=cwd, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "SCN_API_KEY": key, "NO_COLOR": "1"},
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_client_uploads_lists_shows_and_reports(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    async with serving(tmp_path) as s:
        code, out, err = await scn(s.base, "upload", str(folder))
        assert code == 0, err
        # Its warning first, as `scn check` shows it, then what was deployed.
        assert "shop.scn:14:3: SCN308 warning:" in out.splitlines()[0]
        assert out.endswith("scenario  version\nthanks    1\nuploaded 2 file(s); 1 warning(s)\n"), out

        (folder / "shop.scn").write_text(SHOP.replace("add to list buyers", "add to list buyerz"), encoding="utf-8")
        code, out, err = await scn(s.base, "upload", "shop", cwd=tmp_path)
        assert code == 1 and "shop/shop.scn:13:15: SCN101 unknown list `buyerz`" in out
        assert "nothing was deployed" in err

        code, _, err = await scn(s.base, "runs", key="wrong")
        assert code == 2 and "refused (401)" in err

        await s.client.post("/api/events", json=[paid("ann", "o1"), paid("bob", "o2")])
        await s.settle()
        code, out, _ = await scn(s.base, "runs", "--scenario", "thanks", "--limit", "1")
        lines = out.splitlines()
        assert code == 0 and lines[0].split() == ["run", "scenario", "contact", "status", "step", "wakes", "(UTC)"]
        assert lines[1].split()[1:4] == ["thanks", "ann", "waiting"] and lines[-1].startswith("more: scn runs --after")

        run_id = lines[1].split()[0]
        code, out, _ = await scn(s.base, "run", run_id)
        assert code == 0 and out.startswith(f"run {run_id}: thanks v1 for ann: waiting at ")
        assert any(line.split()[3:7] == ["send", "email", "thanks", "sent"] for line in out.splitlines()), out
        code, out, _ = await scn(s.base, "run", run_id, "--format", "json")
        assert json.loads(out)["trace"][0]["outcome"] == "started"
        code, _, err = await scn(s.base, "run", "4242")
        assert code == 1 and "run 4242 does not exist" in err

        code, out, _ = await scn(s.base, "report", "thanks")
        assert code == 0 and out.splitlines()[-1].split()[:3] == ["total", "2", "0"], out
        code, out, _ = await scn(s.base, "report", "thanks", "--format", "json")
        assert json.loads(out)["totals"]["sent"] == 2
    code, _, err = await scn(s.base, "runs")
    assert code == 2 and "cannot reach" in err


async def test_upload_shows_findings_exactly_as_check_does(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    (folder / "templates").mkdir(parents=True)
    # An uncapped send (a warning) and a misspelt list (an error), in a file below the folder.
    broken = SHOP.replace("  entry at most 1 per order\n", "").replace("add to list buyers", "add to list buyerz")
    (folder / "templates" / "thanks.html").write_text(FILES["thanks.html"], encoding="utf-8")
    (folder / "shop.scn").write_text(broken.replace('html "thanks.html"', 'html "templates/thanks.html"'),
                                     encoding="utf-8")  # fmt: skip
    checked = await scn(None, "check", "shop", cwd=tmp_path)
    assert checked[0] == 1 and "warning: " in checked[1] and "SCN101" in checked[1], checked
    assert checked[1].rstrip().endswith("Found 1 error and 1 warning in 1 file."), checked[1]
    async with serving(tmp_path) as s:
        code, out, err = await scn(s.base, "upload", "shop", cwd=tmp_path)
        assert (await s.client.get("/api/scenarios")).json()["items"] == [], "nothing was deployed"
    assert (code, out) == (checked[0], checked[1])
    assert err == "scn: the workspace has errors; nothing was deployed\n"
