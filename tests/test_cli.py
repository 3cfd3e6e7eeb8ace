"""The `scn` command as people run it: exit codes, output formats, colour."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLES

BROKEN = """list unpaid
scenario s
  on order.unpaid
  wait 30 min
  add to list unpaidd
end
"""
WARNING_ONLY = """template t email
  subject "Hi"
  html "t.html"
end
"""


def scn(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("NO_COLOR", None) if env is None or "NO_COLOR" not in env else None
    return subprocess.run(
        [sys.executable, "-m", "scn", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    (tmp_path / "broken.scn").write_text(BROKEN, encoding="utf-8")
    return tmp_path


def test_clean_examples_exit_0() -> None:
    run = scn("check", str(EXAMPLES))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "All checks passed" in run.stdout


def test_findings_exit_1_with_code_frames(broken: Path) -> None:
    run = scn("check", "broken.scn", cwd=broken)
    assert run.returncode == 1
    assert "broken.scn:4:8: SCN006 `30 min` is not a duration: write `30m`" in run.stdout
    assert "broken.scn:5:15: SCN101 unknown list `unpaidd`: did you mean `unpaid`?" in run.stdout
    assert "5 |   add to list unpaidd\n  |               ^^^^^^^" in run.stdout
    assert "= help:" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr


def test_missing_path_exits_2(tmp_path: Path) -> None:
    run = scn("check", str(tmp_path / "nope"))
    assert run.returncode == 2
    run = scn("check", str(tmp_path))  # a directory without .scn files
    assert run.returncode == 2


def test_warnings_exit_0_unless_strict(tmp_path: Path) -> None:
    (tmp_path / "w.scn").write_text(WARNING_ONLY, encoding="utf-8")
    (tmp_path / "t.html").write_text("<p>Hi</p>", encoding="utf-8")
    assert scn("check", "w.scn", cwd=tmp_path).returncode == 0
    strict = scn("check", "--strict", "w.scn", cwd=tmp_path)
    assert strict.returncode == 1
    assert "SCN205 warning:" in strict.stdout


def test_json_format(broken: Path) -> None:
    run = scn("check", "--format", "json", "broken.scn", cwd=broken)
    document = json.loads(run.stdout)
    assert document["errors"] == 2 and document["files"] == 1
    first = document["diagnostics"][0]
    assert first["code"] == "SCN006" and first["name"] == "duration-without-unit"
    assert first["location"] == {"row": 4, "column": 8} and first["end_location"] == {"row": 4, "column": 14}
    assert first["filename"] == "broken.scn" and first["help"]


def test_github_format(broken: Path) -> None:
    run = scn("check", "--format", "github", "broken.scn", cwd=broken)
    lines = run.stdout.splitlines()
    assert lines[0] == (
        "::error file=broken.scn,line=4,col=8,endLine=4,endColumn=14,"
        "title=SCN006 duration-without-unit::`30 min` is not a duration: write `30m`"
    )


def test_sarif_format(broken: Path) -> None:
    run = scn("check", "--format", "sarif", "broken.scn", cwd=broken)
    document = json.loads(run.stdout)
    assert document["version"] == "2.1.0"
    sarif_run = document["runs"][0]
    assert {r["id"] for r in sarif_run["tool"]["driver"]["rules"]} == {"SCN006", "SCN101"}
    region = sarif_run["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 4, "startColumn": 8, "endLine": 4, "endColumn": 14}


def test_colour_only_when_asked_and_never_with_no_color(broken: Path) -> None:
    assert "\x1b[" not in scn("check", "broken.scn", cwd=broken).stdout  # not a terminal
    assert "\x1b[" in scn("check", "--color", "always", "broken.scn", cwd=broken).stdout
    no_color = scn("check", "--color", "always", "broken.scn", cwd=broken, env={"NO_COLOR": "1"})
    assert "\x1b[" not in no_color.stdout


def test_fmt_check_and_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "a.scn"
    path.write_text("list   a\n", encoding="utf-8")
    check = scn("fmt", "--check", "a.scn", cwd=tmp_path)
    assert check.returncode == 1 and "would reformat a.scn" in check.stdout
    assert path.read_text(encoding="utf-8") == "list   a\n"  # --check changes nothing
    assert scn("fmt", "a.scn", cwd=tmp_path).returncode == 0
    assert path.read_text(encoding="utf-8") == "list a\n"
    assert scn("fmt", "--check", "a.scn", cwd=tmp_path).returncode == 0


def test_fmt_refuses_broken_files(broken: Path) -> None:
    before = (broken / "broken.scn").read_text(encoding="utf-8")
    (broken / "bad.scn").write_text("list\n", encoding="utf-8")
    run = scn("fmt", "bad.scn", cwd=broken)
    assert run.returncode == 2
    assert "SCN009" in run.stderr
    assert (broken / "broken.scn").read_text(encoding="utf-8") == before


def test_binary_junk_is_reported_not_crashed_on(tmp_path: Path) -> None:
    (tmp_path / "junk.scn").write_bytes(bytes(range(256)))
    run = scn("check", "junk.scn", cwd=tmp_path)
    assert run.returncode == 2
    assert "not UTF-8" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
