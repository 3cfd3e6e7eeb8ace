"""`scn explain CODE`, and the links to each code's documentation in JSON and SARIF output."""

from __future__ import annotations

import json
import re

import pytest

from scn.cli import main
from scn.interpreter.code_docs import DOCS_URL, EXAMPLES, MEANS, doc_url, explain
from scn.interpreter.codes import REGISTRY
from scn.interpreter.render import render_json, render_sarif

from .conftest import check_texts
from .test_docs import ERROR_BLOCKS, check_with_prelude, doc_text

_ROW = re.compile(r'^\| <a id="scn\d{3}"></a>(SCN\d{3}) \| `[a-z-]+` \| (?:error|warning) \| (.+) \|$', re.MULTILINE)


def documented_meanings() -> dict[str, str]:
    """The "Means" column of docs/language.md §9.4, as plain text: `[6.7](#…)` reads `§6.7`."""
    rows = {code: means for code, means in _ROW.findall(doc_text())}
    return {code: re.sub(r"\[([\d.]+)\]\(#[^)]*\)", r"§\1", means).replace("\\|", "|") for code, means in rows.items()}


def test_every_documented_code_has_its_explanation_and_no_other() -> None:
    documented = documented_meanings()
    assert len(documented) == len(REGISTRY)
    assert MEANS == documented


@pytest.mark.parametrize("code", sorted(EXAMPLES))
def test_each_example_is_the_documents_and_shows_its_code(code: str) -> None:
    example = EXAMPLES[code]
    assert example in [b.text for b in ERROR_BLOCKS], "the example is one of docs/language.md's scn-error blocks"
    found = {line.split()[1] for line in check_with_prelude(example, with_resources=True)}
    assert code in found


def test_the_examples_cover_the_documents_error_blocks() -> None:
    named = {m for b in ERROR_BLOCKS for m in re.findall(r"# (SCN\d{3})", b.text)}
    assert named == set(EXAMPLES)


def test_explain_prints_name_severity_meaning_help_example_and_link(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "SCN214"]) == 0
    out = capsys.readouterr().out
    code = REGISTRY["SCN214"]
    assert out.startswith("SCN214 weak-coupon-pattern (an error)\n")
    assert f"Means: {MEANS['SCN214']}." in out
    assert f"Help: {code.help}." in out
    assert '    coupon WEAK discount 10% generated "A-{XXXX}"' in out
    assert out.endswith(f"Documentation: {DOCS_URL}#scn214\n")


def test_explain_a_warning_without_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert "SCN205" not in EXAMPLES
    assert main(["explain", "SCN205"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SCN205 missing-unsubscribe-link (a warning: it fails the check only with --strict)\n")
    assert "Example:" not in out


@pytest.mark.parametrize("spelling", ["scn214", "214", " SCN214 ", "weak-coupon-pattern"])
def test_explain_accepts_other_spellings(spelling: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", spelling]) == 0
    assert capsys.readouterr().out == explain(REGISTRY["SCN214"])


@pytest.mark.parametrize(
    ("asked", "guess"),
    [("SCN241", "SCN201"), ("SCN2144", "SCN214"), ("uncaped-send", "uncapped-send")],
)
def test_an_unknown_code_exits_2_with_did_you_mean(asked: str, guess: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", asked]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"unknown code `{asked}`; did you mean `{guess}`?" in captured.err


def test_an_unknown_code_far_from_any_says_where_codes_are(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "hello"]) == 2
    err = capsys.readouterr().err
    assert "did you mean" not in err
    assert "unknown code `hello` (docs/language.md §9.4 lists them)" in err


def test_every_code_has_its_anchor_in_the_document() -> None:
    text = doc_text()
    for code in REGISTRY:
        assert doc_url(code) == f"{DOCS_URL}#{code.lower()}"
        assert f'<a id="{code.lower()}"></a>{code} |' in text


def test_json_and_sarif_link_each_finding_to_its_codes_documentation() -> None:
    result = check_texts({"a.scn": "list unpaid\nscenario s\n  on order.paid\n  add to list unpaidd\nend\n"})
    assert [d.code.code for d in result.diagnostics] == ["SCN101"]
    record = json.loads(render_json(result.diagnostics, 1))["diagnostics"][0]
    assert record["url"] == f"{DOCS_URL}#scn101"
    rule = json.loads(render_sarif(result.diagnostics, "0"))["runs"][0]["tool"]["driver"]["rules"][0]
    assert rule["helpUri"] == f"{DOCS_URL}#scn101"
