"""`scn check --fix` / `--diff`, and standard input for `scn check -` and `scn fmt -`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scn.grammar import parse
from scn.interpreter.diagnostics import Fix
from scn.interpreter.fixes import apply_fixes, is_safe, unified_diff
from scn.interpreter.span import span_of_offsets

from .conftest import check_texts

# SCN006 (a parser repair: safe) and SCN101 (a did-you-mean guess: unsafe).
BROKEN = """list unpaid
scenario s
  on order.unpaid
  wait 30 min
  add to list unpaidd
end
"""
SAFELY_FIXED = BROKEN.replace("30 min", "30m")
ALL_FIXED = SAFELY_FIXED.replace("unpaidd", "unpaid")


def scn(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return subprocess.run(
        [sys.executable, "-m", "scn", *args], cwd=cwd, env=env, input=stdin or "", capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    (tmp_path / "broken.scn").write_text(BROKEN, encoding="utf-8")
    return tmp_path


def test_parser_repairs_are_safe_and_name_guesses_are_not() -> None:
    found = {d.code.code: d for d in check_texts({"a.scn": BROKEN}).diagnostics}
    assert is_safe(found["SCN006"]) and not is_safe(found["SCN101"])


def test_fix_applies_the_safe_fixes_and_says_what_changed(broken: Path) -> None:
    run = scn("check", "--fix", "broken.scn", cwd=broken)
    assert (broken / "broken.scn").read_text(encoding="utf-8") == SAFELY_FIXED
    assert run.returncode == 1  # the unsafe one remains
    assert "broken.scn:4:8: fixed SCN006: write `30m`" in run.stdout
    assert "Fixed 1 finding in 1 file." in run.stdout
    assert "SCN006 `30 min`" not in run.stdout
    assert "broken.scn:5:15: SCN101" in run.stdout
    assert "1 more fix available with `--unsafe-fixes`" in run.stdout
    again = scn("check", "--fix", "broken.scn", cwd=broken)
    assert "fixed" not in again.stdout.lower() and again.returncode == 1


def test_unsafe_fixes_apply_the_guesses_too(broken: Path) -> None:
    run = scn("check", "--fix", "--unsafe-fixes", "broken.scn", cwd=broken)
    assert run.returncode == 0, run.stdout
    assert (broken / "broken.scn").read_text(encoding="utf-8") == ALL_FIXED
    assert "Fixed 2 findings in 1 file." in run.stdout and "All checks passed" in run.stdout


def test_without_fix_the_report_says_what_is_fixable(broken: Path) -> None:
    run = scn("check", "broken.scn", cwd=broken)
    assert "[*] 1 finding fixable with `scn check --fix`." in run.stdout
    assert (broken / "broken.scn").read_text(encoding="utf-8") == BROKEN


def test_fix_in_json_keeps_standard_output_json(broken: Path) -> None:
    import json

    run = scn("check", "--fix", "--format", "json", "broken.scn", cwd=broken)
    assert [d["code"] for d in json.loads(run.stdout)["diagnostics"]] == ["SCN101"]
    assert "fixed SCN006" in run.stderr
    (broken / "broken.scn").write_text(BROKEN, encoding="utf-8")
    unfixed = json.loads(scn("check", "--format", "json", "broken.scn", cwd=broken).stdout)["diagnostics"]
    assert unfixed[0]["fix"] == {
        "title": "write `30m`",
        "applicability": "safe",
        "replacement": "30m",
        "location": {"row": 4, "column": 8},
        "end_location": {"row": 4, "column": 14},
    }
    assert unfixed[1]["fix"]["applicability"] == "unsafe" and unfixed[1]["fix"]["replacement"] == "unpaid"


def test_diff_shows_the_fixes_and_writes_nothing(broken: Path) -> None:
    run = scn("check", "--diff", "broken.scn", cwd=broken)
    assert run.returncode == 1
    assert run.stdout == unified_diff("broken.scn", BROKEN, SAFELY_FIXED)
    assert "-  wait 30 min\n+  wait 30m\n" in run.stdout
    assert "Would fix 1 finding." in run.stderr
    assert (broken / "broken.scn").read_text(encoding="utf-8") == BROKEN
    unsafe = scn("check", "--diff", "--unsafe-fixes", "broken.scn", cwd=broken)
    assert "+  add to list unpaid\n" in unsafe.stdout


def test_diff_of_a_file_with_nothing_to_fix_is_empty_and_exits_0(tmp_path: Path) -> None:
    (tmp_path / "a.scn").write_text(SAFELY_FIXED, encoding="utf-8")  # only an unsafe fix left
    run = scn("check", "--diff", "a.scn", cwd=tmp_path)
    assert (run.returncode, run.stdout) == (0, "")


def test_check_reads_standard_input_in_its_workspace(tmp_path: Path) -> None:
    (tmp_path / "lists.scn").write_text("list unpaid\nlist other_broken x y\n", encoding="utf-8")
    source = "scenario s\n  on order.unpaid\n  wait 30 min\n  add to list unpaid\nend\n"
    run = scn("check", "-", "--stdin-filename", "flows.scn", "--format", "concise", cwd=tmp_path, stdin=source)
    # `unpaid` comes from lists.scn; lists.scn's own findings are not reported.
    assert run.stdout.splitlines()[0] == "flows.scn:3:8: SCN006 `30 min` is not a duration: write `30m`"
    assert "lists.scn" not in run.stdout and "Found 1 error in 1 file." in run.stdout
    assert run.returncode == 1
    alone = scn("check", "-", "--format", "concise", cwd=tmp_path, stdin=source)
    assert "<stdin>:4:15: SCN101 unknown list `unpaid`" in alone.stdout


def test_check_fix_on_standard_input_writes_the_fixed_text(broken: Path) -> None:
    run = scn("check", "-", "--fix", "--stdin-filename", "broken.scn", cwd=broken, stdin=BROKEN.replace("unpaidd", "x"))
    assert run.stdout == SAFELY_FIXED.replace("unpaidd", "x")
    assert "fixed SCN006" in run.stderr and "SCN101" in run.stderr
    assert (broken / "broken.scn").read_text(encoding="utf-8") == BROKEN  # the file on disk is not touched


def test_standard_input_goes_alone(broken: Path) -> None:
    assert scn("check", "-", "broken.scn", cwd=broken).returncode == 2
    assert scn("check", "--stdin-filename", "a.scn", "broken.scn", cwd=broken).returncode == 2


def test_fmt_diff_and_standard_input(tmp_path: Path) -> None:
    (tmp_path / "a.scn").write_text("list   a\n", encoding="utf-8")
    diff = scn("fmt", "--diff", "a.scn", cwd=tmp_path)
    assert diff.returncode == 1 and diff.stdout == unified_diff("a.scn", "list   a\n", "list a\n")
    assert (tmp_path / "a.scn").read_text(encoding="utf-8") == "list   a\n"
    assert scn("fmt", "-", cwd=tmp_path, stdin="list   a\n").stdout == "list a\n"
    assert scn("fmt", "-", "--check", cwd=tmp_path, stdin="list   a\n").returncode == 1
    assert scn("fmt", "-", "--check", cwd=tmp_path, stdin="list a\n").returncode == 0
    named = scn("fmt", "-", "--diff", "--stdin-filename", "x.scn", cwd=tmp_path, stdin="list   a\n")
    assert named.stdout.startswith("--- x.scn\n+++ x.scn\n")
    bad = scn("fmt", "-", "--stdin-filename", "x.scn", cwd=tmp_path, stdin="list\n")
    assert bad.returncode == 2 and bad.stdout == "" and "x.scn:1:4: SCN009" in bad.stderr


def fix(text: str, start: int, end: int, replacement: str) -> Fix:
    return Fix(span_of_offsets("a.scn", text, start, end), replacement, "t")


def test_overlapping_fixes_wait_for_the_next_round() -> None:
    text = "abcdef"
    fixed, taken = apply_fixes(text, [fix(text, 2, 4, "X"), fix(text, 0, 1, "Y"), fix(text, 3, 5, "Z")])
    assert fixed == "YbXef" and len(taken) == 2
    fixed, taken = apply_fixes(text, [fix(text, 2, 2, "1"), fix(text, 2, 2, "2")])  # two insertions at one point
    assert fixed == "ab1cdef" and len(taken) == 1
    assert apply_fixes(text, []) == (text, [])


def test_diff_of_a_file_without_final_newline() -> None:
    assert unified_diff("a", "x", "y").endswith("+y\n\\ No newline at end of file\n")
    assert parse("list a\n").ok
