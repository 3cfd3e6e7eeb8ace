"""Every example is a test: it checks clean and is already in the canonical layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from scn.grammar import parse
from scn.grammar._format import format_source
from scn.interpreter.checker import check_workspace
from scn.interpreter.workspace import load_workspace

from .conftest import EXAMPLES

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.scn"))


def test_the_five_customer_scenarios_are_there() -> None:
    assert [p.stem for p in EXAMPLE_FILES] == [
        "birthday",
        "black_friday",
        "loyalty_groups",
        "post_purchase",
        "repeat_order",
        "repeat_sales",
        "unpaid_recovery",
    ]


def test_examples_check_clean_without_warnings() -> None:
    result = check_workspace(load_workspace([EXAMPLES]))
    assert [f"{d.span.file}:{d.span.line}: {d.code.code} {d.message}" for d in result.diagnostics] == []
    assert len(result.symbols.scenarios) >= 5


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: Path(p).stem)
def test_examples_are_formatted(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert format_source(parse(text, path.name)) == text


def test_examples_cover_the_languages_the_customers_use() -> None:
    text = "".join(p.read_text(encoding="utf-8") for p in EXAMPLE_FILES)
    for lang in ("ru", "uk", "lv", "pl", "en"):
        assert f"lang {lang}" in text
    assert "fallback" in text
