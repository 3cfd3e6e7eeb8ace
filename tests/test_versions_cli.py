"""`scn diff` on two workspaces and on two stored versions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scn.cli import main

from .conftest import EXAMPLES
from .harness import Harness

EXAMPLE = (EXAMPLES / "unpaid_recovery.scn").read_text(encoding="utf-8")


def workspace(folder: Path, text: str) -> Path:
    folder.mkdir()
    shutil.copytree(EXAMPLES / "templates", folder / "templates")
    (folder / "unpaid_recovery.scn").write_text(text, encoding="utf-8")
    return folder


def test_two_workspaces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = workspace(tmp_path / "old", EXAMPLE)
    new = workspace(tmp_path / "new", EXAMPLE.replace("wait 30m", "wait 1h").replace("  stop if order.paid\n", ""))
    assert main(["diff", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[1:] == [
        "  changed  s1  wait 1h (was wait 30m)",
        "      duration: 30m -> 1h",
        "  removed  s2  stop if order.paid",
        "  4 step(s) unchanged",
    ]
    assert main(["diff", str(old), str(old)]) == 0
    assert capsys.readouterr().out == "no differences\n"


def test_json_and_a_scenario_only_one_side_has(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = workspace(tmp_path / "old", EXAMPLE)
    new = workspace(tmp_path / "new", EXAMPLE.replace("scenario unpaid_recovery", "scenario unpaid_again"))
    assert main(["diff", "--format", "json", str(old), str(new)]) == 1
    assert json.loads(capsys.readouterr().out) == {"unpaid_again": "added", "unpaid_recovery": "removed"}


TEXT = """
scenario s
  on order.paid
  wait 1d
  wait 2d
end
"""


async def test_two_stored_versions(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    async with Harness(TEXT, db) as h:
        await h.install(TEXT.replace("wait 2d", "wait 3d"))
    assert await _main(["diff", "--db", db, "s", "1", "2"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "scenario s: version 1 -> 2",
        "  changed  s2  wait 3d (was wait 2d)",
        "      duration: 2d -> 3d",
        "  1 step(s) unchanged",
    ]
    assert await _main(["diff", "--db", db, "s", "1", "9"]) == 2
    assert capsys.readouterr().err == "scn diff: scenario s has no version 9; it has 1, 2\n"
    assert await _main(["diff", "--db", db, "nope", "1", "2"]) == 2
    assert await _main(["diff", "--db", db, "s", "1"]) == 2
    assert "SCENARIO OLD_VERSION NEW_VERSION" in capsys.readouterr().err


async def _main(argv: list[str]) -> int:
    """`main` in a thread: the command runs its own event loop."""
    import asyncio

    return await asyncio.to_thread(main, argv)
