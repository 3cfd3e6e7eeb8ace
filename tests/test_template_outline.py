"""The checker reads templates through outlines kept on disk: a check from the cache says
exactly what a check through Jinja says, without importing Jinja; a changed template,
a damaged cache file or a turned-off cache all fall back to Jinja."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKSPACE = """
list buyers "Buyers"

template thanks email
  subject "Hi {{ contact.first_nme }}"
  html "thanks.html"
end

template note sms
  text "{% for p in products %}{{ p.nme }} {{ loop.index }}{% endfor %}{% set x = 1 %}{{ x }}{{ range(3) | join('-') }}"
end

scenario thanks "Thanks"
  on order.paid
  entry at most 1 per order
  send email thanks
  send sms note
end
"""
#: Errors the checker finds through the templates' trees: an unknown field, an unknown
#: variable, a field of a loop variable, a filter given text, a macro, a missing
#: unsubscribe link.
HTML = (
    "<p>{{ contact.first_name }} {{ cupon }} {{ contact.first_name|money }}</p>"
    "{% macro m(a) %}{{ a.b }}{% endmacro %}{{ order.total|money }}"
)

CHECK = """
import json, sys
from scn.cli import main
code = main(["check", "--format", "json", sys.argv[1]])
print(json.dumps({"code": code, "jinja": "jinja2" in sys.modules}), file=sys.stderr)
"""


def check(folder: Path, cache: Path, **env: str) -> tuple[list[dict[str, object]], bool]:
    """`scn check --format json` in a fresh process: its findings, and whether it imported Jinja."""
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(folder)], capture_output=True, text=True, timeout=60,
        env={**os.environ, "XDG_CACHE_HOME": str(cache), **env},
    )  # fmt: skip
    status = json.loads(done.stderr.strip().splitlines()[-1])
    assert status["code"] == 1, done.stdout + done.stderr
    findings = json.loads(done.stdout)
    return findings["diagnostics"] if isinstance(findings, dict) else findings, bool(status["jinja"])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    folder = tmp_path / "w"
    folder.mkdir()
    (folder / "shop.scn").write_text(WORKSPACE, encoding="utf-8")
    (folder / "thanks.html").write_text(HTML, encoding="utf-8")
    return folder


def messages(findings: list[dict[str, object]]) -> list[str]:
    return sorted(f"{f['filename']}:{f['location']}: {f['message']}" for f in findings)


def test_a_check_from_the_cache_finds_what_jinja_finds_without_importing_it(workspace: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first, imported = check(workspace, cache)
    assert imported, "nothing cached yet: the templates go through Jinja"
    found = messages(first)
    assert any("has no field `first_nme`" in m for m in found), found
    assert any("no variable `cupon`" in m for m in found), found
    assert any("has no unsubscribe link" in m for m in found), found
    assert any("has no field `nme`" in m for m in found), found
    assert any("`money` takes money or a number, not a string" in m for m in found), found
    assert any("cannot use `{% macro %}`" in m for m in found), found
    assert not any("`loop`" in m or "`range`" in m or "`x`" in m or "`a`" in m for m in found), found
    assert list((cache / "scn").glob("template-*.msgpack")), "outlines were kept"
    second, imported = check(workspace, cache)
    assert not imported and second == first


def test_a_changed_template_is_read_again(workspace: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    check(workspace, cache)
    (workspace / "thanks.html").write_text(HTML.replace("cupon", "coupon") + "{{ unsubscribe_url }}", "utf-8")
    again, imported = check(workspace, cache)
    assert imported
    assert not any("cupon" in m or "unsubscribe link" in m for m in messages(again))


def test_a_damaged_outline_is_made_again_and_the_cache_can_be_turned_off(workspace: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first, _ = check(workspace, cache)
    for path in (cache / "scn").glob("template-*.msgpack"):
        path.write_bytes(b"\x00not msgpack")
    again, imported = check(workspace, cache)
    assert imported and again == first
    off = tmp_path / "off"
    third, imported = check(workspace, off, SCN_GRAMMAR_CACHE="0")
    assert imported and third == first
    assert not list(off.rglob("template-*"))
