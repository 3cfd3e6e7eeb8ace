"""`scn fmt`: canonical, idempotent, meaning-preserving, and it keeps every comment."""

from __future__ import annotations

import pytest

from scn.grammar import parse
from scn.grammar._format import FormatError, format_source
from scn.interpreter.ast import same_meaning

from .conftest import parse_ok

MESSY = """# header comment
list   a    "A"   # trailing
coupon C discount 10% code "C" for list a for offer "course-a", "course-b" valid 24h generated "X-{XXXXXXXX}"
scenario s "S" on order.paid where (order.total > 10 EUR) and not (order.paid or order.cancelled)
  wait 1h30m


  # before the if
  if order.paid send email t elif order.cancelled stop else wait 1d end
  split variant a 50% variant b 50% end
end
on order.unpaid wait 30m add to list a
"""

CANONICAL = """# header comment
list a "A"  # trailing
coupon C
  discount 10%
  code "C"
  for list a
  for offer "course-a", "course-b"
  valid 24h
  generated "X-{XXXXXXXX}"

scenario s "S"
  on order.paid where order.total > 10 EUR and not (order.paid or order.cancelled)
  wait 1h30m

  # before the if
  if order.paid
    send email t
  elif order.cancelled
    stop
  else
    wait 1d
  end
  split
    variant a 50%
    variant b 50%
  end
end

on order.unpaid
wait 30m
add to list a
"""


def test_canonical_layout() -> None:
    assert format_source(parse_ok(MESSY)) == CANONICAL


def test_formatting_is_idempotent_and_keeps_meaning() -> None:
    first = parse_ok(MESSY)
    formatted = format_source(first)
    second = parse_ok(formatted)
    assert second.module is not None and first.module is not None
    assert same_meaning(second.module.items, first.module.items)
    assert format_source(second) == formatted


def test_every_comment_survives_in_order() -> None:
    text = "\n".join(
        [
            "# 1",
            "scenario s # 2",
            "  # 3",
            "  on order.paid # 4",
            "  if order.paid # 5",
            "    # 6",
            "    stop # 7",
            "    # 8",
            "  end # 9",
            "  # 10",
            "end # 11",
            "# 12",
        ]
    )
    formatted = format_source(parse_ok(text))
    comments = [line.split("#")[1].strip() for line in formatted.splitlines() if "#" in line]
    assert comments == [str(n) for n in range(1, 13)]


@pytest.mark.parametrize(
    "expression",
    [
        "(a or b) and c",
        "a or b and c",
        "not (a and b)",
        "(1 + 2) * 3",
        "1 - (2 - 3)",
        "1 - 2 - 3",
        "-(1 + 2) > 0",
        "(a == b) == c",
        "a in [1, 2] and (b not in [3])",
        'f(x, limit=2) > 1 and "q\\"uote" == "t\\tab"',
    ],
)
def test_parentheses_only_where_needed(expression: str) -> None:
    text = f"segment s where {expression}\n"
    first = parse_ok(text)
    second = parse_ok(format_source(first))
    assert second.module is not None and first.module is not None
    assert same_meaning(second.module.items, first.module.items)


def test_refuses_files_with_syntax_errors() -> None:
    with pytest.raises(FormatError):
        format_source(parse("list", "t.scn"))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # The comment trails the last step on its line, not the first.
        (
            "on order.unpaid wait 30m add to list X  # note\n",
            "on order.unpaid\nwait 30m\nadd to list X  # note\n",
        ),
        (
            "scenario s\n  on order.paid\n  wait 1h send email t wait 2h stop  # last\n  send email t\nend\n",
            "scenario s\n  on order.paid\n  wait 1h\n  send email t\n  wait 2h\n  stop  # last\n  send email t\nend\n",
        ),
        # A block on one line: the comment trails its `end`.
        (
            "scenario s on order.paid if order.paid send email t else stop end  # done\nend\n",
            "scenario s\n  on order.paid\n  if order.paid\n    send email t\n  else\n    stop\n  end  # done\nend\n",
        ),
        # Declarations: the comment stays with what it follows on that line.
        (
            'program p "P" bonus  # cashback\n  tier 2% up to 1000 UAH tier 5% above 1000 UAH  # top\nend\n',
            'program p "P" bonus  # cashback\n  tier 2% up to 1000 UAH\n  tier 5% above 1000 UAH  # top\nend\n',
        ),
        (
            'template t email subject "S"  # the subject\n  html "t.html" end  # closed\n',
            'template t email\n  subject "S"  # the subject\n  html "t.html"\nend  # closed\n',
        ),
        (
            "list a list b  # second\nlist c\n",
            "list a\nlist b  # second\nlist c\n",
        ),
        (
            "scenario s end  # first\n\nlist a  # second\n",
            "scenario s\nend  # first\n\nlist a  # second\n",
        ),
    ],
)
def test_a_trailing_comment_stays_with_the_last_statement_on_its_line(source: str, expected: str) -> None:
    formatted = format_source(parse_ok(source))
    assert formatted == expected
    assert format_source(parse_ok(formatted)) == formatted


def test_a_segment_condition_too_long_for_one_line_goes_on_one_line_per_part() -> None:
    parts = [f'bought("course-{name}", tariff="basic")' for name in ("alpha", "beta", "gamma")]
    source = f'segment s "Any course" where {" or ".join(parts)}  # three courses\n'
    formatted = format_source(parse_ok(source))
    assert formatted == (
        f'segment s "Any course"\n  where {parts[0]}\n  or {parts[1]}\n  or {parts[2]}  # three courses\n'
    )
    again = parse_ok(formatted)
    assert again.module is not None and format_source(again) == formatted
    short = 'segment s where bought("a") or bought("b") and bought("c")\n'
    assert format_source(parse_ok(short)) == short
    # Only the outermost chain is broken; an `or` inside an `and` keeps its parentheses.
    nested = f"segment s where {parts[0]} and ({parts[1]} or {parts[2]})\n"
    assert format_source(parse_ok(nested)).splitlines()[1:] == [
        f"  where {parts[0]}",
        f"  and ({parts[1]} or {parts[2]})",
    ]
