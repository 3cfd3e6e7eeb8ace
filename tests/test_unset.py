"""Unset values: `is set` / `is not set`, what every operator does with an unset value
at run time, and the SCN115 warning where a condition leaves that unsaid."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from scn.grammar import parse
from scn.grammar._format import format_source
from scn.interpreter import ast

from .conftest import check_texts
from .harness import START, Harness

DECLARATIONS = """
attribute seen_at: datetime
attribute trial: duration
attribute score: number
attribute nickname: string
event quiz.passed(course: string, score: number)
group members
template t email
  subject "Hi"
  html "t.html"
end
"""


def warnings(text: str) -> list[tuple[int, int, str]]:
    """(line, column, message) of every SCN115 in ``text`` (after the declarations)."""
    result = check_texts({"t.scn": DECLARATIONS + text}, {"t.html": '<a href="{{ unsubscribe_url }}">x</a>'})
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    first = DECLARATIONS.count("\n")
    return [(d.span.line - first, d.span.column, d.message) for d in result.diagnostics if d.code.code == "SCN115"]


def segment(condition: str) -> str:
    return f"segment s where {condition}\n"


# ---------------------------------------------------------------- the syntax


def test_is_set_and_is_not_set_parse_to_one_node() -> None:
    result = parse("segment s where contact.first_name is set and not contact.seen_at is not set\n", "t.scn")
    assert result.ok and result.module is not None
    condition = result.module.items[0].condition  # type: ignore[union-attr]
    assert isinstance(condition, ast.Binary) and condition.op == "and"
    assert isinstance(condition.left, ast.IsSet) and not condition.left.negate
    assert condition.left.path.dotted == "contact.first_name"
    assert (condition.left.span.column, condition.left.span.end_column) == (17, 42)
    negated = condition.right
    assert isinstance(negated, ast.Unary) and isinstance(negated.operand, ast.IsSet) and negated.operand.negate


@pytest.mark.parametrize(
    ("source", "canonical"),
    [
        ("contact.x is set", "contact.x is set"),
        ("contact.x   is   not   set", "contact.x is not set"),
        ("not (contact.x is set)", "not contact.x is set"),
        ("(contact.x is set) == true", "(contact.x is set) == true"),
        ("contact.x is not set or contact.x < 1", "contact.x is not set or contact.x < 1"),
    ],
)
def test_the_formatter_writes_set_tests_canonically(source: str, canonical: str) -> None:
    assert format_source(parse(segment(source), "t.scn")) == segment(canonical)


def test_is_and_set_stay_names_elsewhere() -> None:
    assert check_texts({"t.scn": "list is\nlist set\nsegment s where in_list(is) or in_list(set)\n"}).ok


# ---------------------------------------------------------------- the warning


@pytest.mark.parametrize(
    "condition",
    [
        # Fields that are always set.
        "contact.created_at < ago(30d)",
        "contact.orders.count >= 2 and contact.lifetime_spend > 100 EUR",
        "now() - contact.created_at > 30d",
        # `==` and `in` against a value that is always there: unset plainly equals nothing.
        'contact.language == "ru"',
        'contact.language in ["ru", "uk"]',
        "contact.group == members",
        # A bool field read as a condition: unset is false.
        "contact.subscribed.email",
        # The condition says what unset means.
        "contact.last_activity_at is not set or contact.last_activity_at < ago(30d)",
        "contact.last_activity_at is set and contact.last_activity_at < ago(30d)",
        "not (contact.last_activity_at is set) or contact.last_activity_at < ago(30d)",
        "contact.seen_at is set and (contact.seen_at < ago(1d) or contact.seen_at > ago(1h))",
        'contact.nickname is set and contact.nickname != ""',
        "contact.first_name is set and contact.first_name == contact.last_name",
        "contact.seen_at is set and ordered_since(contact.seen_at)",
    ],
)
def test_no_warning_where_unset_is_plain_or_said(condition: str) -> None:
    assert warnings(segment(condition)) == []


@pytest.mark.parametrize(
    ("condition", "column", "message"),
    [
        (
            "contact.last_activity_at < ago(30d)",
            17,
            "`contact.last_activity_at` may be unset, and then `<` is false",
        ),
        ("now() - contact.seen_at > 30d", 17, "`contact.seen_at` may be unset, and then `>` is false"),
        ("contact.score * 2 >= 10", 17, "`contact.score` may be unset, and then `>=` is false"),
        ('contact.nickname != ""', 17, "`contact.nickname` may be unset, and then `!=` is true"),
        ('contact.language not in ["ru"]', 17, "`contact.language` may be unset, and then `not in` is true"),
        (
            "contact.first_name == contact.last_name",
            17,
            "`contact.first_name` and `contact.last_name` may both be unset, and two unset values are not equal",
        ),
        (
            "ordered_since(contact.seen_at)",
            17,
            "`contact.seen_at` may be unset, and then `ordered_since(…)` is false",
        ),
        (
            "contact.orders.count > 1 and contact.orders.last_paid_at < 2025-01-01",
            46,
            "`contact.orders.last_paid_at` may be unset, and then `<` is false",
        ),
        # A test of another field says nothing about this one.
        (
            "contact.seen_at is set and contact.last_activity_at < ago(1d)",
            44,
            "`contact.last_activity_at` may be unset, and then `<` is false",
        ),
    ],
)
def test_a_warning_where_unset_would_decide_silently(condition: str, column: int, message: str) -> None:
    assert warnings(segment(condition)) == [(1, column, message)]


def test_the_help_shows_both_ways_to_say_it() -> None:
    result = check_texts({"t.scn": segment("contact.orders.count > 1 and contact.last_activity_at < ago(30d)")})
    (found,) = result.diagnostics
    assert (found.code.code, found.severity.value) == ("SCN115", "warning")
    assert found.help[:2] == (
        "if an unset value should count:"
        " `(contact.last_activity_at is not set or contact.last_activity_at < ago(30d))`",
        "if it should not: `contact.last_activity_at is set and contact.last_activity_at < ago(30d)`",
    )
    fixed = "contact.orders.count > 1 and (contact.last_activity_at is not set or contact.last_activity_at < ago(30d))"
    assert check_texts({"t.scn": segment(fixed)}).diagnostics == ()


def test_event_fields_may_be_unset_only_where_the_event_says_so() -> None:
    text = """
scenario s
  on order.status_changed where event.previous_status != "paid" and event.status != "new"
  frequency at most 1 per 1d
  send email t
end

scenario quiz
  on quiz.passed where event.score >= 90 and event.course != "intro"
  send email t
end
"""
    # status is always there; previous_status may be left out; declared fields never are.
    assert [(line, column) for line, column, _ in warnings(text)] == [(3, 33)]


def test_steps_inside_a_guard_do_not_warn() -> None:
    text = """
scenario guarded
  on contact.registered
  if contact.seen_at is set
    if contact.seen_at < ago(30d)
      send email t
    end
  elif contact.score > 3
    stop
  else
    wait contact.trial
  end
  stop if contact.nickname is not set
  stop unless contact.score is set
  if contact.nickname != "x" and contact.score < 5
    send email t
  end
  bands contact.trial
    from 1d
      wait contact.trial
  end
end
"""
    # Only the `elif`, the `wait` in the else (`trial` is not tested) and the bands are
    # not covered: the bands' value may be unset, the wait inside a band may not.
    found = warnings(text)
    assert [(line, column) for line, column, _ in found] == [(8, 8), (11, 10), (18, 9)]
    assert found[1][2] == "`contact.trial` may be unset, and then the run does not wait"
    assert found[2][2] == "`contact.trial` may be unset, and then it falls into no band"


def test_after_an_if_that_stops_on_unset_the_field_is_set() -> None:
    text = """
scenario s
  on contact.registered
  if contact.seen_at is not set
    stop
  end
  stop if contact.seen_at < ago(1d)
  if contact.score is not set
    send email t
  end
  stop if contact.score > 5
end
"""
    assert [(line, column) for line, column, _ in warnings(text)] == [(11, 11)]


def test_values_a_step_needs() -> None:
    text = """
currency EUR
attribute bonus: money
attribute category: string
scenario s
  on order.paid
  entry once per contact
  wait for order.paid up to contact.trial
  award bonus contact.bonus
  send email t with products in_category(contact.category)
end
"""
    found = warnings(text)
    assert [m for _, _, m in found] == [
        "`contact.trial` may be unset, and then the wait times out at once",
        "`contact.bonus` may be unset, and then no bonus is awarded",
        "`contact.category` may be unset, and then there are no products and no send",
    ]


# ---------------------------------------------------------------- at run time

PROBE = """
attribute seen_at: datetime
attribute trial: duration
attribute score: number
list set_
list not_set
list lt
list ge
list not_lt
list unset_or_lt
list eq
list ne
list in_
list not_in
list same_name
list sum_lt
list called
list negated
list stayed
list band_low
list band_high
list after_bands
list waited

scenario probe
  on contact.registered
  if contact.seen_at is set add to list set_ end
  if contact.seen_at is not set add to list not_set end
  if contact.seen_at < ago(30d) add to list lt end
  if contact.seen_at >= ago(30d) add to list ge end
  if not (contact.seen_at < ago(30d)) add to list not_lt end
  if contact.seen_at is not set or contact.seen_at < ago(30d) add to list unset_or_lt end
  if contact.language == "ru" add to list eq end
  if contact.language != "ru" add to list ne end
  if contact.language in ["ru"] add to list in_ end
  if contact.language not in ["ru"] add to list not_in end
  if contact.first_name == contact.last_name add to list same_name end
  if contact.seen_at + 30d < now() add to list sum_lt end
  if ago(contact.trial) < now() add to list called end
  if -contact.score < 0 add to list negated end
  bands contact.score
    below 5
      add to list band_low
    from 5
      add to list band_high
  end
  add to list after_bands
  wait contact.trial
  add to list waited
  stop unless contact.score > 0
  add to list stayed
end
"""

DAY = dt.timedelta(days=1)


def test_unset_values_at_run_time() -> None:
    async def go() -> dict[str, list[str]]:
        async with Harness(PROBE) as h:
            people = {
                "nobody": {},
                "old": {"language": "ru", "attributes": {"seen_at": (START - 60 * DAY).isoformat(), "score": 7}},
                "new": {
                    "language": "uk",
                    "first_name": "Ann",
                    "last_name": "Ann",
                    "attributes": {"seen_at": (START - DAY).isoformat(), "score": 2, "trial": "1h"},
                },
            }
            await h.play(
                [h.event("contact.registered", name, person=person) for name, person in people.items()], until=DAY
            )
            members: dict[str, list[str]] = {}
            for list_, contact in await h.rows("SELECT list, contact_id FROM list_members ORDER BY list, contact_id"):
                members.setdefault(list_, []).append(contact)
            log = await h.rows(
                "SELECT r.contact_id, s.name, s.outcome, s.detail FROM step_log s JOIN runs r ON r.id = s.run_id"
                " WHERE s.name IN ('bands contact.score', 'wait contact.trial') ORDER BY r.contact_id, s.id"
            )
            members["log"] = [" | ".join(str(v) for v in row) for row in log]
            return members

    members = asyncio.run(go())
    assert members.pop("log") == [
        "new | bands contact.score | chose | band 1 for 2",
        "new | wait contact.trial | waiting | until 2025-03-03T09:00Z",
        "nobody | bands contact.score | chose | no band for an unset value",
        "nobody | wait contact.trial | skipped | the duration is unset: no wait",
        "old | bands contact.score | chose | band 2 for 7",
        "old | wait contact.trial | skipped | the duration is unset: no wait",
    ]
    assert members == {
        "set_": ["new", "old"],
        "not_set": ["nobody"],
        "lt": ["old"],
        "ge": ["new"],
        "not_lt": ["new", "nobody"],  # `not` turns false into true, whatever made it false
        "unset_or_lt": ["nobody", "old"],
        "eq": ["old"],
        "ne": ["new", "nobody"],
        "in_": ["old"],
        "not_in": ["new", "nobody"],
        "same_name": ["new"],  # two unset names are not equal
        "sum_lt": ["old"],
        "called": ["new"],  # a function given an unset value gives an unset value
        "negated": ["new", "old"],
        "band_low": ["new"],
        "band_high": ["old"],
        "after_bands": ["new", "nobody", "old"],
        "waited": ["new", "nobody", "old"],
        "stayed": ["new", "old"],  # `stop unless` an unset condition stops
    }
