"""The highlighting picture of docs/editors.md (scripts/highlight.py): the committed SVG is
what the VS Code grammar and the Dark+ rules give today, its tokens carry the theme's
colours, and the same tokens rendered as HTML show those colours in Chromium."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .conftest import ROOT
from .test_vscode_grammar import _ready

SCRIPT = ROOT / "scripts" / "highlight.py"
SVG = ROOT / "docs" / "images" / "editor-highlighting.svg"
THEME = ROOT / "editors" / "vscode" / "test" / "dark-plus.json"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
#: A keyword, a duration, a string and a comment of examples/unpaid_recovery.scn, and the
#: theme rule each is coloured by.
CHOSEN = {
    "wait": "keyword.control",
    "30m": "constant.numeric",
    "Unpaid orders: coupon holders": "string",
    "# payments can take a while to arrive": "comment",
}


def colour_of(selector: str) -> str:
    """The foreground of the theme rule for exactly ``selector``."""
    rules = json.loads(THEME.read_text(encoding="utf-8"))["settings"]
    for rule in rules:
        scopes = rule.get("scope", [])
        if selector in ([scopes] if isinstance(scopes, str) else scopes):
            return str(rule["settings"]["foreground"]).upper()
    raise AssertionError(f"no rule for {selector}")


def needs_node() -> None:
    missing = _ready()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the picture's test must run in CI: {missing}")
        pytest.skip(missing)


def highlight(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=180, check=False
    )


def test_the_committed_svg_is_what_the_grammar_gives() -> None:
    needs_node()
    done = highlight("--check")
    assert done.returncode == 0, done.stderr


def test_check_fails_on_a_stale_picture(tmp_path: Path) -> None:
    needs_node()
    stale = tmp_path / "stale.svg"
    stale.write_text(SVG.read_text(encoding="utf-8").replace("#C586C0", "#569CD6"), encoding="utf-8")
    done = highlight("--check", "--svg", str(stale))
    assert done.returncode == 1 and "run python scripts/highlight.py" in done.stderr


def test_chosen_tokens_carry_the_themes_colours() -> None:
    fills: dict[str, set[str]] = {}
    for span in ET.parse(SVG).getroot().iter("{http://www.w3.org/2000/svg}tspan"):
        fills.setdefault(span.text or "", set()).add(span.get("fill", "").upper())
    for text, selector in CHOSEN.items():
        assert fills[text] == {colour_of(selector)}, text
    assert len({colour_of(s) for s in CHOSEN.values()}) == len(CHOSEN)


def rgb(colour: str) -> str:
    """A #RRGGBB colour as a browser's computed style writes it."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def test_the_page_shows_the_themes_colours_in_chromium(tmp_path: Path) -> None:
    needs_node()
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"{CHROMIUM} is missing: CI installs Debian's chromium package (.ci/run)")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "highlight.html"
    done = highlight("--svg", str(tmp_path / "picture.svg"), "--html", str(page_file))
    assert done.returncode == 0, done.stderr
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(page_file.as_uri())
            colour = "e => getComputedStyle(e).color"
            token = page.locator("span.t")
            shown = {
                text: token.filter(has_text=re.compile(f"^{re.escape(text)}$")).first.evaluate(colour)
                for text in CHOSEN
            }
            plain = page.locator("pre").evaluate("e => getComputedStyle(e).color")
        finally:
            browser.close()
    assert shown == {text: rgb(colour_of(selector)) for text, selector in CHOSEN.items()}
    assert len(set(shown.values())) == len(CHOSEN)
    assert plain == rgb("#D4D4D4") and plain not in shown.values()
