"""The semantic diff of two versions of a scenario, from their compiled programs."""

from __future__ import annotations

from scn.interpreter.compiler import compile_workspace
from scn.interpreter.program import Bundle
from scn.interpreter.versions import diff_programs, match_steps

from .conftest import EXAMPLES
from .harness import checked

HEAD = """
list buyers
coupon TEN discount 10% code "TEN"
coupon TWENTY discount 20% code "TWENTY"
template hello email
  subject "Hello"
  html "hello.html"
end
template bye email
  subject "Bye"
  html "bye.html"
end
"""


def bundle(body: str, head: str = HEAD) -> Bundle:
    return compile_workspace(checked(head + body))


def diff(old: str, new: str, head_old: str = HEAD, head_new: str = HEAD) -> dict[str, object]:
    a, b = bundle(old, head_old), bundle(new, head_new)
    result = diff_programs(a.scenarios["s"], b.scenarios["s"], a, b)
    return {
        "headers": [(c.field, c.old, c.new) for c in result.headers],
        "steps": [(s.kind, s.old_step, s.new_step, [(c.field, c.old, c.new) for c in s.changes]) for s in result.steps],
        "unchanged": result.unchanged,
    }


BASE = """
scenario s
  on order.paid
  wait 1d
  @hi send email hello with coupon TEN
  add to list buyers
  wait 2d
  send email bye
end
"""


def test_the_same_program_has_no_differences() -> None:
    assert diff(BASE, BASE) == {"headers": [], "steps": [], "unchanged": 5}


def test_layout_and_comments_are_no_difference() -> None:
    relaid = BASE.replace("  wait 1d\n", "  wait 1d  # a day\n\n").replace("\n  add", "  add")
    assert diff(BASE, relaid)["steps"] == []


def test_a_changed_wait_and_coupon_keep_their_step() -> None:
    new = BASE.replace("wait 2d", "wait 3d").replace("coupon TEN", "coupon TWENTY")
    assert diff(BASE, new)["steps"] == [
        ("changed", "@hi", "@hi", [("coupon", "TEN", "TWENTY")]),
        ("changed", "s4", "s4", [("duration", "2d", "3d")]),
    ]


def test_an_inserted_step_is_added_and_the_rest_keep_their_match() -> None:
    new = BASE.replace("  add to list buyers\n", "  stop if order.total > 100 EUR\n  add to list buyers\n")
    result = diff(BASE, new)
    assert result["steps"] == [("added", None, "s3", [])]
    # The steps after it were renumbered (s3 -> s4) but are matched, not removed and added.
    assert result["unchanged"] == 5


def test_a_removed_step_is_listed_where_it_was() -> None:
    new = BASE.replace("  add to list buyers\n", "")
    assert diff(BASE, new)["steps"] == [("removed", "s3", None, [])]


def test_a_labelled_step_is_matched_by_its_label_wherever_it_goes() -> None:
    new = """
scenario s
  on order.paid
  @hi send email hello with coupon TEN
  wait 1d
  add to list buyers
  wait 2d
  send email bye
end
"""
    result = diff(BASE, new)
    kinds = [(k, o, n) for k, o, n, _ in result["steps"]]  # type: ignore[attr-defined]
    assert kinds == [("moved", "@hi", "@hi")]


def test_a_step_moved_into_a_branch_is_moved() -> None:
    new = """
scenario s
  on order.paid
  wait 1d
  if order.total > 100 EUR
    @hi send email hello with coupon TEN
  end
  add to list buyers
  wait 2d
  send email bye
end
"""
    result = diff(BASE, new)
    assert [(k, o, n) for k, o, n, _ in result["steps"]] == [("added", None, "s2"), ("moved", "@hi", "@hi")]  # type: ignore[attr-defined]


def test_split_shares_and_templates_text() -> None:
    def split(a: int, b: int) -> str:
        return f"""
scenario s
  on order.paid
  split
    variant a {a}%
      send email hello
    variant b {b}%
      send email bye
  end
end
"""

    result = diff(split(50, 50), split(70, 30), head_new=HEAD.replace('subject "Hello"', 'subject "Hi there"'))
    assert result["steps"] == [
        ("changed", "s1", "s1", [("share a", "50%", "70%"), ("share b", "50%", "30%")]),
        ("changed", "s1.a.1", "s1.a.1", [("template hello: subject", "Hello", "Hi there")]),
    ]


def test_headers_triggers_and_exits() -> None:
    new = BASE.replace("  on order.paid\n", "  on order.paid where order.total > 10 EUR\n  exit when order.refunded\n")
    assert diff(BASE, new)["headers"] == [
        ("trigger 1", "on order.paid", "on order.paid where order.total > 10 EUR"),
        ("exit 1", None, "exit when order.refunded"),
    ]


def test_a_step_whose_kind_changed_is_removed_and_added() -> None:
    new = BASE.replace("  add to list buyers\n", "  stop if order.total > 100 EUR\n")
    assert [(k, o, n) for k, o, n, _ in diff(BASE, new)["steps"]] == [  # type: ignore[attr-defined]
        ("removed", "s3", None),
        ("added", None, "s3"),
    ]


def test_matching_maps_old_steps_to_new() -> None:
    new = BASE.replace("  add to list buyers\n", "  stop if order.total > 100 EUR\n  add to list buyers\n")
    a, b = bundle(BASE), bundle(new)
    matching = match_steps(a.scenarios["s"], b.scenarios["s"])
    assert {p.old.id: p.new.id for p in matching.pairs} == {
        "s1": "s1",
        "@hi": "@hi",
        "s3": "s4",
        "s4": "s5",
        "s5": "s6",
    }
    assert matching.new_of("s3") == "s4"


def test_an_example_scenario_against_an_edit_of_it() -> None:
    text = (EXAMPLES / "unpaid_recovery.scn").read_text(encoding="utf-8")
    edited = text.replace("wait 30m", "wait 1h")
    a, b = bundle(text, ""), bundle(edited, "")
    result = diff_programs(a.scenarios["unpaid_recovery"], b.scenarios["unpaid_recovery"], a, b)
    assert [(s.kind, s.new_step, s.name, s.old_name) for s in result.steps] == [
        ("changed", "s1", "wait 1h", "wait 30m")
    ]
