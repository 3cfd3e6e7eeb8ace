"""Every file in tests/bad/ must produce exactly the diagnostics in its .expected file.

Each line of a .expected file is `file:line:col: CODE message`, as `scn check --format
concise` prints it. To add a case, write the .scn file, check its output by hand, and
save that output next to it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scn.interpreter.checker import check_workspace
from scn.interpreter.render import render_text
from scn.interpreter.workspace import load_workspace

from .conftest import BAD

CASES = sorted(BAD.glob("*.scn"))


def test_the_corpus_is_large_and_covers_every_code() -> None:
    from scn.interpreter.codes import REGISTRY

    assert len(CASES) >= 40
    expected_text = "".join(p.with_suffix(".expected").read_text(encoding="utf-8") for p in CASES)
    uncovered = [c for c in REGISTRY if f" {c} " not in expected_text and c != "SCN000"]
    assert uncovered == []


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_bad_file(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BAD)
    expected = case.with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    result = check_workspace(load_workspace([case.name]))
    got = render_text(result.diagnostics, lambda _: None, frames=False).splitlines()
    assert got == expected
    assert expected, "a bad file must produce at least one diagnostic"
