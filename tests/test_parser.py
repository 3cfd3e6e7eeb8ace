"""The parser: what text becomes, and exactly where each node says it came from."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from scn.grammar import parse
from scn.interpreter import ast
from scn.interpreter.ast import same_meaning
from scn.interpreter.span import Span

from .conftest import parse_ok

NOWHERE = Span.whole_file("t.scn")  # spans do not take part in equality


def same(node: Any) -> Any:
    """A tree as plain data without spans, for comparing meanings."""
    return ast.without_spans(node)


def ident(name: str) -> ast.Ident:
    return ast.Ident(name=name, span=NOWHERE)


def event(name: str) -> ast.EventRef:
    return ast.EventRef(parts=tuple(ident(p) for p in name.split(".")), span=NOWHERE)


def path(dotted: str) -> ast.Path:
    return ast.Path(parts=tuple(ident(p) for p in dotted.split(".")), span=NOWHERE)


def duration(*parts: tuple[int, str]) -> ast.DurationLit:
    return ast.DurationLit(parts=parts, span=NOWHERE)


def only_scenario(text: str, file: str = "t.scn") -> ast.Scenario:
    module = parse_ok(text, file).module
    assert module is not None
    (scenario,) = module.items
    assert isinstance(scenario, ast.Scenario)
    return scenario


def test_the_design_cards_one_liner_is_a_complete_scenario() -> None:
    text = "on order.unpaid wait 30m add to list X send email Y wait 24h remove from list X"
    scenario = only_scenario(text, "examples/unpaid.scn")
    assert scenario.anonymous and scenario.name.name == "unpaid"
    assert same(scenario.headers) == same((ast.Trigger(event=event("order.unpaid"), where=None, span=NOWHERE),))
    assert same(scenario.steps) == same(
        (
            ast.Wait(duration=duration((30, "m")), span=NOWHERE),
            ast.AddToList(list=ident("X"), span=NOWHERE),
            ast.Send(channel="email", template=ident("Y"), options=(), span=NOWHERE),
            ast.Wait(duration=duration((24, "h")), span=NOWHERE),
            ast.RemoveFromList(list=ident("X"), span=NOWHERE),
        )
    )


def test_newlines_are_ordinary_whitespace() -> None:
    one_line = 'scenario s "S" on order.paid wait 1d if order.total > 10 EUR send email t else stop end end'
    spread = """
    scenario s "S"
        on order.paid
        wait 1d
        if order.total > 10 EUR
            send email t
        else
            stop
        end
    end
    """
    assert same(only_scenario(one_line)) == same(only_scenario(spread))


def test_exact_spans() -> None:
    text = 'list a "A"\nscenario s\n  on order.paid where order.total >= 100 UAH\n  @thanks send email t\nend\n'
    module = parse_ok(text).module
    assert module is not None
    lst, scenario = module.items
    assert isinstance(lst, ast.ListDecl) and isinstance(scenario, ast.Scenario)
    assert lst.span == Span("t.scn", 1, 1, 1, 11, 0, 10)
    assert lst.name.span == Span("t.scn", 1, 6, 1, 7, 5, 6)
    assert scenario.span == Span("t.scn", 2, 1, 5, 4, 11, 93)
    trigger = scenario.headers[0]
    assert isinstance(trigger, ast.Trigger)
    assert trigger.span == Span("t.scn", 3, 3, 3, 45, 24, 66)
    assert trigger.event.span == Span("t.scn", 3, 6, 3, 16, 27, 37)
    where = trigger.where
    assert isinstance(where, ast.Binary) and where.op == ">="
    assert where.span == Span("t.scn", 3, 23, 3, 45, 44, 66)
    assert where.left.span == Span("t.scn", 3, 23, 3, 34, 44, 55)
    assert isinstance(where.left, ast.Path)
    assert where.left.parts[1].span == Span("t.scn", 3, 29, 3, 34, 50, 55)
    assert where.right.span == Span("t.scn", 3, 38, 3, 45, 59, 66)
    (send,) = scenario.steps
    assert isinstance(send, ast.Send)
    assert send.span == Span("t.scn", 4, 3, 4, 23, 69, 89)
    assert send.label is not None and send.label.name == "thanks"
    assert send.label.span == Span("t.scn", 4, 3, 4, 10, 69, 76)
    assert send.template.span == Span("t.scn", 4, 22, 4, 23, 88, 89)


def test_spans_point_at_the_text_they_cover() -> None:
    text = 'segment s "Сегмент" where contact.orders.count >= 2 and progress("курс") >= 90%\n'
    module = parse_ok(text).module
    assert module is not None
    (segment,) = module.items
    assert isinstance(segment, ast.SegmentDecl)
    condition = segment.condition
    assert isinstance(condition, ast.Binary)
    assert text[condition.span.start : condition.span.end] == 'contact.orders.count >= 2 and progress("курс") >= 90%'
    assert isinstance(condition.right, ast.Binary)
    call = condition.right.left
    assert isinstance(call, ast.Call)
    assert text[call.span.start : call.span.end] == 'progress("курс")'
    assert call.span.column == text.index("progress") + 1  # columns count characters, not bytes


def test_money_is_decimal_with_its_currency_and_exact_digits() -> None:
    scenario = only_scenario("scenario s on order.paid where order.total > 19.90 EUR and order.total < 1000UAH end")
    trigger = scenario.headers[0]
    assert isinstance(trigger, ast.Trigger) and isinstance(trigger.where, ast.Binary)
    first, second = trigger.where.left, trigger.where.right
    assert isinstance(first, ast.Binary) and isinstance(second, ast.Binary)
    assert same(first.right) == same(ast.MoneyLit(amount=Decimal("19.90"), currency="EUR", span=NOWHERE))
    assert isinstance(first.right, ast.MoneyLit) and str(first.right.amount) == "19.90"
    assert same(second.right) == same(ast.MoneyLit(amount=Decimal("1000"), currency="UAH", span=NOWHERE))


def test_literals() -> None:
    module = parse_ok(
        "segment s where contact.created_at < 2025-01-31 and contact.last_activity_at < ago(1w2d3h4m5s6ms)"
        ' and progress("x") >= 12.5% and not contact.subscribed.email == false'
        ' and "a\\"b\\n\\u0105" in ["x"]\n'
    ).module
    assert module is not None
    (segment,) = module.items
    assert isinstance(segment, ast.SegmentDecl)
    found = {type(n).__name__: n for n in _walk(segment.condition)}
    assert same(found["DateLit"]) == same(ast.DateLit(year=2025, month=1, day=31, span=NOWHERE))
    assert same(found["DurationLit"]) == same(duration((1, "w"), (2, "d"), (3, "h"), (4, "m"), (5, "s"), (6, "ms")))
    assert isinstance(found["DurationLit"], ast.DurationLit)
    assert found["DurationLit"].milliseconds == ((7 + 2) * 24 * 3600 + 3 * 3600 + 4 * 60 + 5) * 1000 + 6
    assert same(found["PercentLit"]) == same(ast.PercentLit(value=Decimal("12.5"), span=NOWHERE))
    strings = [n for n in _walk(segment.condition) if isinstance(n, ast.StringLit)]
    assert same(strings) == same(
        [
            ast.StringLit(value="x", span=NOWHERE),
            ast.StringLit(value='a"b\ną', span=NOWHERE),
            ast.StringLit(value="x", span=NOWHERE),
        ]
    )
    assert same(found["BoolLit"]) == same(ast.BoolLit(value=False, span=NOWHERE))


def _walk(e: ast.Expr) -> list[ast.Expr]:
    out: list[ast.Expr] = [e]
    if isinstance(e, ast.Binary):
        out += _walk(e.left) + _walk(e.right)
    elif isinstance(e, ast.Unary):
        out += _walk(e.operand)
    elif isinstance(e, ast.Call):
        for a in e.args:
            out += _walk(a)
    elif isinstance(e, ast.ListLit):
        for i in e.items:
            out += _walk(i)
    return out


def test_operator_precedence() -> None:
    module = parse_ok("segment s where not a or b and c == 1 + 2 * 3\n").module
    assert module is not None
    (segment,) = module.items
    assert isinstance(segment, ast.SegmentDecl)
    e = segment.condition
    assert isinstance(e, ast.Binary) and e.op == "or"
    assert isinstance(e.left, ast.Unary) and e.left.op == "not"
    right = e.right
    assert isinstance(right, ast.Binary) and right.op == "and"
    comparison = right.right
    assert isinstance(comparison, ast.Binary) and comparison.op == "=="
    total = comparison.right
    assert isinstance(total, ast.Binary) and total.op == "+"
    assert isinstance(total.right, ast.Binary) and total.right.op == "*"


def test_stop_if_and_a_stop_before_an_if_are_different() -> None:
    scenario = only_scenario("scenario s on order.paid stop if order.paid stop unless order.paid end")
    assert [type(s).__name__ for s in scenario.steps] == ["StopIf", "StopIf"]
    assert [s.negate for s in scenario.steps if isinstance(s, ast.StopIf)] == [False, True]
    scenario = only_scenario("scenario s on order.paid if order.paid stop end end")
    assert [type(s).__name__ for s in scenario.steps] == ["If"]


def test_keywords_are_contextual() -> None:
    module = parse_ok("list wait\nlist send\nscenario s on order.paid add to list wait end").module
    assert module is not None
    assert [i.name.name for i in module.items if isinstance(i, ast.ListDecl | ast.Scenario)] == ["wait", "send", "s"]


def test_a_keyword_is_never_the_start_of_a_longer_word() -> None:
    # Where the parser takes only keywords (a step, a channel), a longer word is one
    # word: not `send` + `er`, not `sms` + `x`.
    text = "list a\nscenario s\n  on order.paid\n  sender\nend\nscenario t\n  on order.paid\n  send smsx x\nend\n"
    result = parse(text, "s.scn")
    assert [(d.code.code, d.span.line, d.span.column, d.span.end_column) for d in result.diagnostics] == [
        ("SCN001", 4, 3, 9),
        ("SCN005", 8, 8, 12),
    ]
    assert result.diagnostics[0].message.startswith("unexpected `sender`;")


def test_stop_and_if_on_two_lines_are_two_steps() -> None:
    scenario = only_scenario("scenario s\n  on order.paid\n  stop\n  if order.paid\n    stop\n  end\nend\n")
    assert [type(s).__name__ for s in scenario.steps] == ["Stop", "If"]


def test_every_construct_parses() -> None:
    text = """
    currency UAH
    attribute vip_since: date
    event quiz.passed(course: string, score: number)
    event ping
    list l "L"
    segment seg "S" where contact.orders.count >= 2
    coupon C discount 10% code "C10" for list l for offer "a", "b" valid 36h
    coupon P discount 50 UAH from pool "p.csv" warn below 10
    coupon G discount 5% generated "G-{XXXXXXXX}"
    template t email
      from "Shop" <shop@example.com>
      reply to <help@example.com>
      fallback en
      html "t.html"
      lang en subject "Hi"
      lang uk subject "Привіт" preheader "…"
    end
    template p push title "T" text "X" url "https://x" image "https://i" end
    program cash "Cash" bonus tier 2% up to 1000 UAH tier 5% above 1000 UAH end
    group g "G" with program cash default
    scenario everything "Everything"
      on order.paid where order.total > 100 UAH
      on quiz.passed
      entry at most 2 per order per 30d
      entry once per contact
      frequency at most 1 per contact per 7d
      exit when order.refunded where order.total > 0 UAH
      quiet hours 21:00 to 09:00
      attribution 5d
      wait 1h30m
      wait until 10:00
      wait for order.paid where order.paid up to 3d on timeout stop end
      if order.paid send email t elif order.cancelled send push p else wait 1d end
      bands order.total below 0 UAH from 0 UAH to 200 UAH send email t from 200 UAH end
      split variant a 45% send email t with coupon C variant b 45% control 10% end
      stop if order.cancelled
      stop unless contact.subscribed.email
      send email t with coupon C with products related(limit=4)
      add to list l
      remove from list l
      issue coupon C valid 1d
      award bonus
      award bonus order.total * 5%
      set group g
      set attribute vip_since = today()
      call webhook "https://crm.example.com/hook" with id = order.id, total = order.total
      @last stop
    end
    """
    module = parse_ok(text).module
    assert module is not None
    kinds = [type(i).__name__ for i in module.items]
    assert kinds == [
        "CurrencyDecl", "AttributeDecl", "EventDecl", "EventDecl", "ListDecl", "SegmentDecl",
        "CouponDecl", "CouponDecl", "CouponDecl", "TemplateDecl", "TemplateDecl", "ProgramDecl",
        "GroupDecl", "Scenario",
    ]  # fmt: skip
    scenario = module.items[-1]
    assert isinstance(scenario, ast.Scenario)
    assert len(scenario.headers) == 8
    assert [type(s).__name__ for s in scenario.steps] == [
        "Wait", "WaitUntil", "WaitFor", "If", "Bands", "Split", "StopIf", "StopIf", "Send",
        "AddToList", "RemoveFromList", "IssueCoupon", "AwardBonus", "AwardBonus", "SetGroup",
        "SetAttribute", "CallWebhook", "Stop",
    ]  # fmt: skip


def test_comments_are_kept_aside() -> None:
    result = parse_ok("# first\nlist a # second\n")
    assert [c.text for c in result.comments] == ["# first", "# second"]
    assert result.comments[1].span.line == 2


def test_a_string_with_a_hash_is_not_a_comment() -> None:
    result = parse_ok('list a "#1 list" # real\n')
    module = result.module
    assert module is not None
    (item,) = module.items
    assert isinstance(item, ast.ListDecl) and item.title is not None and item.title.value == "#1 list"
    assert [c.text for c in result.comments] == ["# real"]


def test_a_big_workspace_parsed_in_two_processes_is_the_one_parsed_in_one(tmp_path: Path) -> None:
    """From PARALLEL_FROM files on, parsing forks; the trees and the errors come back the same."""
    from scn.interpreter.workspace import PARALLEL_FROM, load_workspace

    for n in range(PARALLEL_FROM + 10):
        body = f'list l{n} "L {n}"\n' if n != 7 else 'list broken "Broken\n'  # one unterminated string
        (tmp_path / f"f{n:04d}.scn").write_text(body, encoding="utf-8")
    one = load_workspace([tmp_path], jobs=1)
    two = load_workspace([tmp_path], jobs=2)
    assert [f.path for f in two.files] == [f.path for f in one.files]
    assert [f.parsed for f in two.files] == [f.parsed for f in one.files]
    broken = [f for f in two.files if f.path.endswith("f0007.scn")]
    assert broken and not broken[0].parsed.ok


def test_a_supplied_end_leaves_what_came_before_it_as_it_was() -> None:
    # A repair is tried on a copy of the parser first; the copy must not grow the lists
    # of steps the parser itself is building (Lark's tree builder grows them in place).
    broken = (
        "list a\nscenario s\n  on order.paid\n  wait 1d\n  add to list a\n  wait 2d\n"
        "  if order.total > 1\n    add to list a\n    wait 3d\n  stop\n"
        "scenario t\n  on order.paid\n  wait 1h\nend\n"
    )
    fixed = broken.replace("  stop\nscenario t", "  stop\n  end\nend\nscenario t")
    repaired, intended = parse(broken, "x.scn"), parse(fixed, "x.scn")
    assert [d.code.code for d in repaired.diagnostics] == ["SCN004", "SCN004"]
    assert intended.ok and repaired.module is not None and intended.module is not None
    assert same_meaning(repaired.module.items, intended.module.items)


@pytest.mark.parametrize("typos", [49, 50])
def test_up_to_fifty_errors_are_all_reported(typos: int) -> None:
    result = parse("lsit a\n" * typos + "list b\n", "typos.scn")
    assert [d.code.code for d in result.diagnostics] == ["SCN005"] * typos
    assert result.module is not None and len(result.module.items) == typos + 1


def test_after_fifty_errors_the_file_is_not_read_further_repaired_or_not() -> None:
    result = parse("lsit a\n" * 30_000, "typos.scn")
    assert [d.code.code for d in result.diagnostics] == ["SCN005"] * 50
    assert [d.span.line for d in result.diagnostics] == list(range(1, 51))
    assert result.module is None and result.lossy


@pytest.mark.parametrize(
    ("line", "code"),
    [('list a "\\q"\n', "SCN008"), ("segment s where 1 is set\n", "SCN012"), ("list a $\n", "SCN002")],
    ids=["escape", "reported while building the tree", "skipped"],
)
def test_after_fifty_errors_of_any_kind_the_file_is_not_read_further(line: str, code: str) -> None:
    result = parse(line * 1000, "errors.scn")
    assert [d.code.code for d in result.diagnostics] == [code] * 50
    assert result.module is None


def test_a_typo_as_close_to_two_keywords_gets_the_same_guess_in_every_process() -> None:
    # `ard` is one letter from `add` (a step may start) and `and` (the value goes on):
    # the guess must not follow the order of a set of strings, which varies by process.
    import subprocess
    import sys

    program = (
        "from scn.grammar import parse; "
        "r = parse('scenario s\\n  on order.paid\\n  award bonus a\\n  ard to list x\\nend\\n', 's.scn'); "
        "print([d.message for d in r.diagnostics])"
    )
    guesses = {
        subprocess.run(
            [sys.executable, "-c", program], env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True, text=True, check=True,
        ).stdout
        for seed in range(8)
    }  # fmt: skip
    assert guesses == {"['unknown word `ard`: did you mean `add`?']\n"}


def test_an_unknown_escape_is_reported_only_in_a_string_the_parser_takes() -> None:
    taken = parse('list a "x\\q"\n', "s.scn")
    assert [(d.code.code, d.span.column) for d in taken.diagnostics] == [("SCN008", 10)]
    refused = parse('list a "t" "x\\q"\n', "s.scn")
    assert [d.code.code for d in refused.diagnostics] == ["SCN001"]


def test_letters_glued_to_a_word_are_skipped_and_the_word_is_read() -> None:
    text = "list a\nscenario s\n  on order.paid\n  entry at most 1 üper order\n  add to list a\nend\n"
    result = parse(text, "s.scn")
    assert [d.message for d in result.diagnostics] == ["unexpected character `ü`"]
    assert result.module is not None
    scenario = result.module.items[1]
    assert isinstance(scenario, ast.Scenario)
    (entry,) = scenario.headers[1:]
    assert isinstance(entry, ast.EntryAtMost) and entry.scope == "order"
