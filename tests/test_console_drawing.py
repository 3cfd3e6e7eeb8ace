"""What the console draws and says, without a server: the flow read back from compiled
programs, the SVG diagram and its numbers, source highlighting, charts, and the words
(every text of every page through gettext, and a catalogue that translates them)."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from scn.interpreter import program as p
from scn.interpreter.compiler import compile_workspace
from scn.server.console import text
from scn.server.console.charts import PALETTE, Series, funnel, line_chart
from scn.server.console.diagram import diagram, numbers, skip_kind
from scn.server.console.flow import Choice, Node, Step, flow_of
from scn.server.console.frame import environment, nav
from scn.server.console.highlight import keywords, source_view
from scn.server.core import check_files, read_directory
from scn.server.models import StepCount

from .conftest import EXAMPLES

NESTED = """
event quiz.passed(course: string, score: number)

template mail email
  subject "Hi"
  html "mail.html"
end

scenario nested "Nested <branches> & more"
  on quiz.passed
  exit when order.paid
  if event.score >= 90
    send email mail
    wait for order.paid up to 3d
    on timeout
      if contact.orders.count >= 2
        send email mail
      elif contact.orders.count == 1
        wait 1d
        send email mail
      else
        stop
      end
    end
  elif event.score >= 50
    bands event.score
      from 50 to 70
        send email mail
      from 70
        wait 2h
    end
  end
  split
    variant a 50%
      send email mail
    variant b 50%
      wait 1d
  end
end
"""


def bundle() -> p.Bundle:
    files = read_directory(EXAMPLES)
    files["nested.scn"] = NESTED
    files["mail.html"] = "<p>{{ contact.first_name }}</p>"
    result = check_files(files)
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    return compile_workspace(result)


PROGRAMS = bundle().scenarios


def instructions_in(nodes: list[Node]) -> list[str]:
    found: list[str] = []
    for node in nodes:
        if isinstance(node, Step):
            found.append(node.instr.id)
        else:
            found += [node.head.id, *node.tests]
            for arm in node.arms:
                found += instructions_in(arm.steps)
    return found


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_every_step_of_every_program_is_drawn_once(name: str) -> None:
    program = PROGRAMS[name]
    flow = flow_of(program)
    wanted = [i.id for i in program.instructions if not isinstance(i, p.Jump | p.End)]
    assert sorted(instructions_in(flow.steps)) == sorted(wanted)
    svg = diagram(name, flow, numbers(name, flow, [], []), f"/scenarios/{name}")
    tree = ET.fromstring(str(svg))  # well-formed XML, names escaped
    drawn = [a.get("data-step") for a in tree.iter("{http://www.w3.org/2000/svg}a")]
    folded = set(wanted) - set(boxes(flow.steps))  # an if chain's elif tests are its head's arms
    assert all(".if" in step for step in folded)
    assert sorted(str(s) for s in drawn if s not in ("start", "exit", "end")) == sorted(set(wanted) - folded)
    assert drawn[0] == "start"


def boxes(nodes: list[Node]) -> list[str]:
    found: list[str] = []
    for node in nodes:
        found.append(node.instr.id if isinstance(node, Step) else node.head.id)
        if isinstance(node, Choice):
            for arm in node.arms:
                found += boxes(arm.steps)
    return found


def arms(node: Node) -> list[tuple[str, list[str]]]:
    assert isinstance(node, Choice)
    return [(a.label, instructions_in(a.steps)) for a in node.arms]


def test_bands_splits_and_waits_read_back_as_written() -> None:
    post = flow_of(PROGRAMS["post_purchase"]).steps
    assert [type(n) for n in post] == [Step, Choice]
    assert arms(post[1]) == [
        ("from 0 PLN to 200 PLN", ["s2.band1.1"]), ("from 200 PLN to 500 PLN", ["s2.band2.1"]),
        ("from 500 PLN to 1000 PLN", ["s2.band3.1"]), ("from 1000 PLN", ["s2.band4.1"]), ("no band", []),
    ]  # fmt: skip
    split = flow_of(PROGRAMS["repeat_order"]).steps[-1]
    assert [label for label, _steps in arms(split)] == ["by_segment 30%", "popular 30%", "personal 30%", "control 10%"]
    unpaid = flow_of(PROGRAMS["unpaid_recovery"])
    assert all(isinstance(n, Step) for n in unpaid.steps)  # a `wait for` without `on timeout` is one step
    assert unpaid.triggers == ['on order.unpaid where order.offer == "course-a"']
    assert unpaid.rules == ["entry once per order"] and unpaid.exits == ["exit when order.cancelled"]
    assert flow_of(PROGRAMS["post_purchase"]).rules == ["frequency at most 1 per 14d"]


def test_nested_if_elif_else_inside_on_timeout_inside_an_if() -> None:
    flow = flow_of(PROGRAMS["nested"])
    top, split = flow.steps
    assert isinstance(top, Choice) and top.tests == ["s1.if2"]
    assert [(a.label, a.kind) for a in top.arms] == [
        ("if event.score >= 90", "if"), ("elif event.score >= 50", "if"), ("otherwise", "else"),
    ]  # fmt: skip
    first = top.arms[0].steps
    assert isinstance(first[0], Step) and isinstance(first[1], Choice)
    assert [(a.label, a.kind) for a in first[1].arms] == [("order.paid arrived", "arrived"), ("on timeout", "timeout")]
    inner = first[1].arms[1].steps[0]
    assert arms(inner) == [
        ("if contact.orders.count >= 2", ["s1.if1.2.timeout.1.if1.1"]),
        ("elif contact.orders.count == 1", ["s1.if1.2.timeout.1.if2.1", "s1.if1.2.timeout.1.if2.2"]),
        ("else", ["s1.if1.2.timeout.1.else.1"]),
    ]
    assert arms(top.arms[1].steps[0]) == [("from 50 to 70", ["s1.if2.1.band1.1"]), ("from 70", ["s1.if2.1.band2.1"]),
                                          ("no band", [])]  # fmt: skip
    assert [label for label, _steps in arms(split)] == ["a 50%", "b 50%"]
    svg = str(diagram("nested", flow, numbers("nested", flow, [], []), "/scenarios/nested"))
    assert "Nested" not in svg or "&lt;branches&gt;" in svg
    assert 'aria-label="Diagram of scenario nested"' in svg


def counts(**by_step: tuple[int, dict[str, int], int, dict[str, int]]) -> list[StepCount]:
    return [StepCount(step=step.replace("_", "."), name=step, passed=passed, outcomes=outcomes, waiting=waiting,
                      here=here) for step, (passed, outcomes, waiting, here) in by_step.items()]  # fmt: skip


def test_numbers_of_arms_steps_and_why_runs_left() -> None:
    flow = flow_of(PROGRAMS["post_purchase"])
    shown = numbers("post_purchase", flow, [
        *counts(start=(17, {"started": 17}, 0, {}), s1=(17, {"waiting": 17}, 1, {"waiting": 1}),
                s2=(16, {"chose": 16}, 0, {}), s2_band1_1=(1, {"sent": 1}, 0, {}),
                s2_band2_1=(2, {"sent": 1, "skipped": 1}, 0, {}), s2_band3_1=(1, {"sent": 1}, 0, {}),
                s2_band4_1=(1, {"sent": 1}, 0, {}), end=(16, {"done": 16}, 0, {"done": 15, "cancelled": 1})),
    ], [("s2.band2.1", "frequency cap: 1 message(s) in the last 14d", 1)])  # fmt: skip
    assert shown["post_purchase/s2/arm0"] == "1" and shown["post_purchase/s2/arm1"] == "2"
    assert shown["post_purchase/s2/arm4"] == "11"  # no band: 16 chose, 5 took a band
    assert shown["post_purchase/s2.band2.1/skipped"] == shown["post_purchase/s2.band2.1/cap"] == "1"
    assert shown["post_purchase/s2.band2.1/policy"] == shown["post_purchase/s2.band1.1/cap"] == "0"
    assert shown["post_purchase/s1/now"] == "1" and shown["post_purchase/s1/passed"] == "17"
    assert shown["post_purchase/end/passed"] == "15"  # done; the cancelled one left at the end
    assert shown["post_purchase/start/passed"] == "17"

    unpaid = flow_of(PROGRAMS["unpaid_recovery"])
    left = numbers("unpaid_recovery", unpaid, counts(s2=(5, {"stopped": 2, "passed": 3}, 0, {"stopped": 2}),
                                                     s5=(3, {}, 1, {"awaiting": 1, "exited": 2})), [])  # fmt: skip
    assert left["unpaid_recovery/s2/left"] == left["unpaid_recovery/s2/stopped"] == "2"
    assert left["unpaid_recovery/s5/left"] == left["unpaid_recovery/s5/goal"] == "2"
    assert left["unpaid_recovery/s5/now"] == "1" and left["unpaid_recovery/s5/cancelled"] == "0"

    nested = flow_of(PROGRAMS["nested"])
    waits = numbers("nested", nested, counts(s1_if1_2=(5, {"event": 2, "timed out": 3}, 0, {})), [])
    assert waits["nested/s1.if1.2/arm0"] == "2" and waits["nested/s1.if1.2/arm1"] == "3"


@pytest.mark.parametrize(
    ("why", "kind"),
    [("frequency cap: 3 message(s) in the last 1d", "cap"),
     ("held by the workspace policy (email at most 3 per 7d): 3 email message(s) in the last 7d", "cap"),
     ("unsubscribed from sms", "policy"),
     ("email unreachable (bounced)", "policy"), ("no phone for sms", "policy"), ("no email for email", "policy"),
     ("no products to show: related(limit=4) found none", "other"),
     ("template bonus_sms tells of a bonus, but none was awarded: x", "other"), ("", "other")],
)  # fmt: skip
def test_skip_reasons_fall_into_cap_policy_and_other(why: str, kind: str) -> None:
    assert skip_kind(why) == kind


def test_keywords_come_from_the_grammar() -> None:
    assert {"scenario", "wait", "send", "bands", "split", "variant", "control", "exit", "when"} <= keywords()
    assert "er" not in keywords()  # from a comment of scn.lark, not a keyword


def test_source_is_escaped_and_findings_sit_under_their_lines() -> None:
    source = 'scenario x "<script>alert(1)</script>"\n  on order.paid # @label <b>\n  wait 30 min\nend'
    finding = {"code": "SCN006", "severity": "error", "message": "`30 min` is not a duration: write `30m`",
               "location": {"row": 3, "column": 8}, "end_location": {"row": 3, "column": 14},
               "help": ["units"]}  # fmt: skip
    late = {**finding, "code": "SCN001", "location": {"row": 9, "column": 1}, "end_location": None, "help": []}
    shown = str(source_view(source, [finding, late]))
    assert "<script>" not in shown and "&lt;script&gt;" in shown and "&lt;b&gt;" in shown
    rows = shown.split('<span class="row')
    assert 'id="L3"' in rows[3] and "SCN006" in rows[3] and "SCN006" not in rows[2]
    assert re.search(r'<span class="caret">       \^\^\^\^\^\^</span> SCN006', shown)
    assert "= help: units" in shown
    assert "SCN001" in rows[-1]  # a finding past the end of the text is still shown
    assert '<span class="tok-kw">scenario</span>' in shown and '<span class="tok-com">' in shown
    plain = str(source_view("<p>{{ x }}</p>", [], scn=False))
    assert "&lt;p&gt;" in plain and "tok-" not in plain


def contrast(colour: str) -> float:
    """WCAG contrast ratio of a colour against white."""

    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return 1.05 / (luminance + 0.05)


def test_chart_colours_stand_out_and_lines_differ_by_more_than_colour() -> None:
    assert all(contrast(colour) >= 3.0 for colour, _dash in PALETTE.values()), {
        k: round(contrast(c), 2) for k, (c, _d) in PALETTE.items()
    }
    dashes = [dash for _colour, dash in PALETTE.values()]
    assert len(set(dashes)) >= len(dashes) - 1  # at most two solid lines (sent, ordered), never side by side


def test_charts_of_nothing_one_period_and_zero_sends() -> None:
    empty = str(line_chart("t", [], []))
    assert empty.startswith("<svg") and ET.fromstring(empty) is not None
    one = str(line_chart("t <x>", ["03-03"], [Series("sent", "sent", [4.0])]))
    assert "<circle" in one and "t &lt;x&gt;" in one
    flat = str(funnel("f", [("sent", "sent", 0), ("delivered", "delivered", 0)]))
    assert "(0%)" not in flat and ET.fromstring(flat) is not None


def page_texts() -> list[tuple[str, int, str]]:
    """(template, line, text) of every piece of page text outside gettext."""
    env = environment()
    found = []
    for name in env.list_templates():
        source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
        # The template with every Jinja construct as a placeholder, so tags stay whole.
        flat = "".join(value if kind == "data" else "\x00" for _line, kind, value in env.lex(source))
        for attribute in re.findall(r'(?:aria-label|title|placeholder|alt)="([^"]*)"', flat):
            if re.search(r"[A-Za-z]", attribute):
                found.append((name, 0, attribute))
        # Attributes written outside their tag (`{% block live %} data-live-src="/live"`) are markup too.
        words = html.unescape(re.sub(r'<[^>]*>|[\w-]+="[^"]*"', " ", flat))
        for line_number, line in enumerate(words.splitlines(), start=1):
            for word in re.findall(r"[A-Za-z][A-Za-z']*", line):
                if word != "scn":  # the product's name
                    found.append((name, line_number, word))
    return found


def test_every_text_of_every_page_goes_through_gettext() -> None:
    assert page_texts() == []


def test_the_lint_catches_a_bare_word(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad.html").write_text('<p title="Hello">Runs {{ _("ok") }}</p>', encoding="utf-8")
    from jinja2 import FileSystemLoader

    original = environment

    def with_bad() -> object:
        env = original()
        env.loader = FileSystemLoader(str(tmp_path))
        return env

    monkeypatch.setattr(f"{__name__}.environment", with_bad)
    assert {(n, t) for n, _l, t in page_texts()} == {("bad.html", "Hello"), ("bad.html", "Runs")}


def test_a_catalogue_translates_the_pages_and_the_code(tmp_path: Path) -> None:
    catalog = Catalog(locale="uk", domain=text.DOMAIN)
    catalog.add("Scenarios", "Сценарії")
    catalog.add("Back to the scenarios", "До сценаріїв")
    folder = tmp_path / "uk" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / f"{text.DOMAIN}.mo").open("wb") as out:
        write_mo(out, catalog)
    try:
        text.install("uk", tmp_path)
        page = (
            environment()
            .get_template("error.html")
            .render(nav=nav("/"), who=None, open_console=False, path="/", title="x", detail="y")
        )
        assert ">Сценарії</a>" in page and "До сценаріїв" in page
        assert "Runs" in page  # not in the catalogue: the English text
    finally:
        text.install(None)
    assert "Back to the scenarios" in environment().get_template("error.html").render(
        nav=nav("/"), who=None, open_console=False, path="/", title="x", detail="y"
    )
