"""Findings that suggest a repair carry it as a fix (a span and its replacement).

An editor's quick fix (`scn lsp`'s code actions) applies exactly that: each case here
applies the fix and checks that the finding is gone, and that a finding without a
sure repair has none.
"""

from __future__ import annotations

import pytest

from scn.interpreter.diagnostics import Diagnostic

from .conftest import check_texts

PREAMBLE = """list vip "VIP"
attribute plan: string
template hello sms
  text "Hi"
end
"""


def scenario(steps: str, trigger: str = "on contact.registered") -> str:
    return PREAMBLE + f"scenario s\n  {trigger}\n  {steps}\nend\n"


def applied(text: str, diagnostic: Diagnostic) -> str:
    assert diagnostic.fix is not None
    span = diagnostic.fix.span
    return text[: span.start] + diagnostic.fix.replacement + text[span.end :]


@pytest.mark.parametrize(
    ("source", "code", "replacement"),
    [
        (scenario("wait 30 min\n  send sms hello"), "SCN006", "30m"),
        (scenario("sned sms hello"), "SCN005", "send"),
        (scenario('stop if contact.plan = "x"\n  send sms hello'), "SCN007", "=="),
        (scenario("stop if contact.plan is null\n  send sms hello"), "SCN012", "is not set"),
        (scenario('stop if contact.plan is "x"\n  send sms hello'), "SCN012", "=="),
        (scenario("send sms hello\n  add to list vpi"), "SCN101", "vip"),
        (scenario('stop if contact.frist_name == "A"\n  send sms hello'), "SCN104", "first_name"),
        (scenario("stop if in_lsit(vip)\n  send sms hello"), "SCN108", "in_list"),
        (scenario("send sms hello", trigger="on order.unpiad"), "SCN103", "order.unpaid"),
        (scenario('set attribute paln = "x"\n  send sms hello'), "SCN101", "plan"),
        (scenario("stop if contact.plan == ‘x’\n  send sms hello"), "SCN002", '"x"'),
    ],
)
def test_a_fix_repairs_what_it_reports(source: str, code: str, replacement: str) -> None:
    found = [d for d in check_texts({"a.scn": source}).diagnostics if d.code.code == code]
    assert len(found) == 1, [(d.code.code, d.message) for d in check_texts({"a.scn": source}).diagnostics]
    fix = found[0].fix
    assert fix is not None and fix.replacement == replacement
    assert replacement in fix.title
    after = check_texts({"a.scn": applied(source, found[0])})
    assert [(d.code.code, d.message) for d in after.diagnostics if d.is_error] == []


def test_a_name_with_nothing_close_has_no_fix() -> None:
    found = check_texts({"a.scn": scenario("send sms hello\n  add to list zzzzzzzz")}).diagnostics
    assert [d.code.code for d in found] == ["SCN101"]
    assert found[0].fix is None


def test_a_template_variable_fix_points_into_the_template_file() -> None:
    source = 'template mail email\n  subject "Hi"\n  html "m.html"\nend\n'
    body = "<p>{{ contact.frist_name }}</p><a href='{{ unsubscribe_url }}'>x</a>\n"
    found = [d for d in check_texts({"a.scn": source}, {"m.html": body}).diagnostics if d.fix is not None]
    assert len(found) == 1
    fix = found[0].fix
    assert fix is not None and fix.span.file == "m.html" and fix.replacement == "first_name"
    assert body[fix.span.start : fix.span.end] == "frist_name"
