"""`scn check --statistics`, `--exit-zero`, and the CI formats `junit` and `gitlab`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from scn.cli import main
from scn.interpreter.render_reports import render_gitlab, render_junit

from .conftest import check_texts

# SCN006 (safely fixable), SCN101 twice (did-you-mean guesses only).
BROKEN = """list unpaid
scenario s
  on order.unpaid
  wait 30 min
  add to list unpaidd
  add to list unpaidx
end
"""
# SCN308, a warning: order.paid can fire many times and nothing caps the sends.
WARNED = """template hi sms
  text "Hi"
end
scenario w
  on order.paid
  send sms hi
end
"""
CLEAN = "list ok\n"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "broken.scn").write_text(BROKEN, encoding="utf-8")
    (tmp_path / "clean.scn").write_text(CLEAN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_statistics_count_each_code_most_frequent_first(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--statistics")
    assert code == 1
    assert out.splitlines() == [
        "2\tSCN101\tunknown-name",
        "1\tSCN006\t[*] duration-without-unit",
        "[*] 1 finding fixable with `scn check --fix`.",
        "2 more fixes available with `--unsafe-fixes` (did-you-mean guesses).",
        "Found 3 errors in 2 files.",
    ]


def test_statistics_as_json(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--statistics", "--format", "json")
    assert code == 1
    assert json.loads(out) == [
        {"code": "SCN101", "name": "unknown-name", "count": 2, "fixable": 0},
        {"code": "SCN006", "name": "duration-without-unit", "count": 1, "fixable": 1},
    ]


def test_statistics_of_a_clean_workspace(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--statistics", "clean.scn")
    assert code == 0
    assert out == "All checks passed: 1 file, 0 scenarios.\n"
    code, out, _ = run(capsys, "--statistics", "--format", "json", "clean.scn")
    assert (code, json.loads(out)) == (0, [])


def test_exit_zero_with_errors_and_with_strict_warnings(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--format", "concise")[0] == 1
    code, out, _ = run(capsys, "--exit-zero", "--format", "concise")
    assert code == 0
    assert "Found 3 errors in 2 files." in out, "the findings are still reported"
    (workspace / "broken.scn").write_text(WARNED, encoding="utf-8")
    assert run(capsys, "--strict")[0] == 1
    assert run(capsys, "--strict", "--exit-zero")[0] == 0


def test_exit_zero_still_exits_2_when_the_check_cannot_run(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--exit-zero", "missing.scn")
    assert code == 2
    assert "missing.scn:1:1: SCN000" in out


def test_junit_has_a_suite_per_file_and_a_failing_case_per_finding(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--output-format", "junit")
    assert code == 1
    root = ET.fromstring(out.encode("utf-8"))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "3", "0")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"broken.scn", "clean.scn"}
    broken = suites["broken.scn"]
    assert (broken.get("tests"), broken.get("failures")) == ("3", "3")
    cases = broken.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "SCN006 duration-without-unit at 4:8",
        "SCN101 unknown-name at 5:15",
        "SCN101 unknown-name at 6:15",
    ]
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "unknown list `unpaidd`: did you mean `unpaid`?"
    assert failure.get("type") == "SCN101 error"
    assert failure.text is not None and failure.text.startswith("broken.scn:5:15: SCN101 unknown list")
    clean = suites["clean.scn"]
    assert (clean.get("tests"), clean.get("failures")) == ("1", "0")
    (passing,) = clean.findall("testcase")
    assert passing.find("failure") is None


def test_junit_of_no_files_and_of_text_xml_cannot_hold() -> None:
    assert ET.fromstring(render_junit([], [])).get("tests") == "0"
    result = check_texts({"odd.scn": "list a\nscenario s\n  on order.paid\n  add to list b\x01\nend\n"})
    assert result.diagnostics
    root = ET.fromstring(render_junit(result.diagnostics, ["odd.scn"]))
    assert root.get("failures") == str(len(result.diagnostics))


def test_gitlab_code_quality(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workspace / "warned.scn").write_text(WARNED, encoding="utf-8")
    code, out, _ = run(capsys, "--format", "gitlab")
    assert code == 1
    issues = json.loads(out)
    assert [(i["check_name"], i["severity"], i["location"]) for i in issues] == [
        ("SCN006 duration-without-unit", "major", {"path": "broken.scn", "lines": {"begin": 4, "end": 4}}),
        ("SCN101 unknown-name", "major", {"path": "broken.scn", "lines": {"begin": 5, "end": 5}}),
        ("SCN101 unknown-name", "major", {"path": "broken.scn", "lines": {"begin": 6, "end": 6}}),
        ("SCN308 uncapped-send", "minor", {"path": "warned.scn", "lines": {"begin": 6, "end": 6}}),
    ]
    assert issues[1]["description"] == "SCN101 unknown list `unpaidd`: did you mean `unpaid`?"
    fingerprints = [i["fingerprint"] for i in issues]
    assert len(set(fingerprints)) == len(issues)
    assert all(isinstance(f, str) and len(f) == 32 for f in fingerprints)


def test_gitlab_fingerprints_are_stable_and_do_not_depend_on_line_numbers() -> None:
    twice = "list a\nscenario s\n  on order.paid\n  add to list b\n  add to list b\nend\n"
    first = json.loads(render_gitlab(check_texts({"t.scn": twice}).diagnostics))
    assert len(first) == 2
    assert first[0]["fingerprint"] != first[1]["fingerprint"], "the same finding twice is two issues"
    moved = json.loads(render_gitlab(check_texts({"t.scn": "\n\n" + twice}).diagnostics))
    assert [i["location"]["lines"]["begin"] for i in moved] == [6, 7]
    assert [i["fingerprint"] for i in moved] == [i["fingerprint"] for i in first]


def test_an_empty_gitlab_report_is_an_empty_list(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--format", "gitlab", "clean.scn")[:2] == (0, "[]\n")


def test_fix_with_junit_keeps_standard_output_one_document(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--fix", "--format", "junit")
    assert code == 1
    assert "fixed SCN006" in err
    assert ET.fromstring(out.encode("utf-8")).get("failures") == "2"
