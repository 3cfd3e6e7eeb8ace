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


#: One of each kind of node a template may nest, as a wrapper around what it holds.
EXPRESSIONS = {
    "getattr": "({}).a", "filter": "{}|lower", "filter argument": "a|default({})", "test": "({}) is defined",
    "arithmetic": "({}) + 1", "concat": "({}) ~ 'a'", "not": "not ({})", "negation": "-({})",
    "conditional": "(({}) if a else b)", "conditional without else": "(({}) if a)", "list": "[{}]",
    "item": "({})[0]", "slice": "({})[1:2]", "range": "range({})", "comparison": "({}) == 1",
    "chained comparison": "1 < ({}) < 3", "and": "({}) and a", "tuple": "(({}), 1)", "in": "({}) in a",
}  # fmt: skip
STATEMENTS = {
    "if": "{{% if a %}}{}{{% endif %}}", "else": "{{% if a %}}x{{% else %}}{}{{% endif %}}",
    "elif": "{{% if a %}}x{{% elif b %}}{}{{% endif %}}", "for": "{{% for i in a %}}{}{{% endfor %}}",
    "for else": "{{% for i in a %}}x{{% else %}}{}{{% endfor %}}", "for if": "{{% for i in a if i %}}{}{{% endfor %}}",
    "with": "{{% with x = 1 %}}{}{{% endwith %}}", "set block": "{{% set x %}}{}{{% endset %}}{{{{ x }}}}",
    "filter block": "{{% filter upper %}}{}{{% endfilter %}}",
    "autoescape": "{{% autoescape true %}}{}{{% endautoescape %}}",
}  # fmt: skip


def nested_as_deep_as_allowed(wrap: str, innermost: str, outside: str = "{}") -> str:
    """``innermost`` wrapped in ``wrap`` as often as a template may nest without compiling."""
    from scn.interpreter.checker._outline import SHALLOW, _depth
    from scn.stdlib.templates import parse

    text = innermost
    while True:
        deeper = wrap.format(text)
        if _depth(parse(outside.format(deeper), True)) > SHALLOW:
            template = outside.format(text)
            assert SHALLOW - 3 < _depth(parse(template, True)) <= SHALLOW, "a wrapper adds at most 3 levels"
            return template
        text = deeper


def compiled_from_deep_in_the_stack(template: str, frames: int = 200) -> None:
    """Compile as a check called from deep in a program would (Jinja's code generator recurses)."""
    from scn.stdlib.templates import compile_template

    if frames:
        compiled_from_deep_in_the_stack(template, frames - 1)
        return
    compile_template.cache_clear()
    compile_template(template, True)


@pytest.mark.parametrize("kind", list(EXPRESSIONS) + list(STATEMENTS))
def test_every_kind_of_node_compiles_as_deep_as_the_check_does_not_compile(kind: str) -> None:
    """The check compiles only templates nested deeper than SHALLOW: Python must take any other."""
    if kind in EXPRESSIONS:
        template = nested_as_deep_as_allowed(EXPRESSIONS[kind], "x", "{{{{ {} }}}}")
    else:
        template = nested_as_deep_as_allowed(STATEMENTS[kind], "{{ x }}")
    compiled_from_deep_in_the_stack(template)
    # Loops around the deepest expressions: each kind inside as many loops as fit.
    if kind in EXPRESSIONS:
        loops = nested_as_deep_as_allowed(STATEMENTS["for"], "{{ " + EXPRESSIONS[kind].format("x") + " }}")
        compiled_from_deep_in_the_stack(loops)


def test_a_shallow_template_is_checked_without_compiling_it_and_a_deep_one_is_compiled() -> None:
    from scn.interpreter.checker._outline import _from_jinja
    from scn.stdlib.templates import compile_template

    compile_template.cache_clear()
    shallow = _from_jinja("{% for p in products %}{{ p.name|upper }}{% endfor %}", True)
    assert shallow.root is not None and compile_template.cache_info().currsize == 0
    deep = _from_jinja("{{ " + "(" * 20 + "x" + ")|lower" * 20 + " }}", True)
    assert deep.root is not None and compile_template.cache_info().currsize == 1


#: Templates of allowed nodes that Jinja's compiler refuses (left) or takes (right),
#: around what the check finds without compiling: a `set` of `loop` in a loop, its own
#: target, nested blocks, `else`, a namespace's attribute, a `with`.
COMPILER_CASES = [
    "{% for t in y %}{% set loop = 1 %}{% endfor %}",
    "{% for t in y %}{% if t %}{% set loop = 1 %}{% endif %}{% endfor %}",
    "{% for t in y %}{% set loop %}x{% endset %}{% endfor %}",
    "{% for t in y %}{% for u in t %}{% endfor %}{% set loop = 1 %}{% endfor %}",
    "{% for t in y %}{% else %}{% set loop = 1 %}{% endfor %}",
    "{% for t in y %}{% set (a, loop) = (1, 2) %}{% endfor %}",
    "{% for loop in y %}{% endfor %}",
    "{% for a, loop in y %}{% endfor %}",
    "{% for t in y %}{% with loop = 1 %}{{ loop }}{% endwith %}{% endfor %}",
    "{% for t in y %}{% set ns.loop = 1 %}{% endfor %}",
    "{% set loop = 1 %}{% for t in y %}{{ t }}{% endfor %}",
    "{% for t in y %}{% endfor %}{% set loop = 1 %}",
    "{{ x|nope }}",
    "{{ x is nope }}",
    "{% for x in y if x|nope %}{% endfor %}",
    "{% filter upper %}x{% endfilter %}",
    "{{ x|default(1) }}",
]


@pytest.mark.parametrize("html", [False, True])
@pytest.mark.parametrize("text", COMPILER_CASES)
def test_what_the_compiler_refuses_the_check_refuses_without_compiling(text: str, html: bool) -> None:
    from jinja2 import TemplateError

    from scn.interpreter.checker._outline import _from_jinja
    from scn.stdlib.templates import compile_template

    try:
        compile_template(text, html)
        refused = False
    except TemplateError:
        refused = True
    assert bool(_from_jinja(text, html).error) == refused
