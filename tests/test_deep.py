"""No input breaks the parser, the checker, the formatter or the runtime.

Everything that walks trees recurses (and msgspec, which stores them, does too), so
the parser bounds how deep a tree may be: deeper input is a located SCN011, never an
internal RecursionError. Up to the bounds, every stage works, with room to spare on
the stack.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import pytest

from scn.grammar import parse
from scn.grammar._format import FormatError, format_source
from scn.interpreter.ast import MAX_BLOCK_DEPTH, MAX_EXPRESSION_DEPTH, same_meaning
from scn.interpreter.checker import check_workspace
from scn.interpreter.compiler import compile_workspace
from scn.interpreter.runtime.events import convert_event
from scn.interpreter.simulate import simulate
from scn.interpreter.workspace import workspace_from_texts

from .conftest import check_texts

MANY = 10_000


def _and_chain(terms: int) -> str:
    return " and ".join(f"contact.orders.count > {i}" for i in range(terms))


SCENARIO = "list a\nscenario s\n  on order.paid\n  "
DEEP = {
    "and": f"segment s where {_and_chain(MANY)}\n",
    "plus": "segment s where " + " + ".join(["1"] * MANY) + " > 1\n",
    "nested parentheses": "segment s where " + "(1 + " * MANY + "1" + ")" * MANY + " > 1\n",
    "not": "segment s where " + "not " * MANY + "contact.subscribed.email\n",
    "negation": "segment s where " + "-" * MANY + "1 > 0\n",
    "lists": "segment s where len(" + "[" * MANY + "1" + "]" * MANY + ") > 0\n",
    "calls": "segment s where " + "len(" * MANY + "[1]" + ")" * MANY + " > 0\n",
    "ifs": SCENARIO + "if order.paid " * MANY + "add to list a" + " end" * MANY + "\nend\n",
    "labelled ifs": SCENARIO
    + "".join(f"@l{i} if order.paid " for i in range(MANY))
    + "stop"
    + " end" * MANY
    + "\nend\n",
    "on timeout": SCENARIO + "wait for order.paid up to 1d on timeout " * MANY + "stop" + " end" * MANY + "\nend\n",
}


@pytest.mark.parametrize("name", list(DEEP))
def test_too_deep_input_is_one_located_error(name: str) -> None:
    text = DEEP[name]
    parsed = parse(text, "deep.scn")
    assert [(d.code.code, d.span.line) for d in parsed.diagnostics] == [
        ("SCN011", 1 if name not in ("ifs", "labelled ifs", "on timeout") else 4)
    ]
    assert parsed.lossy
    result = check_workspace(workspace_from_texts({"deep.scn": text}))
    assert [d.code.code for d in result.diagnostics] == ["SCN011"]
    with pytest.raises(FormatError):
        format_source(parsed)


def test_deep_parentheses_around_one_value_are_just_that_value() -> None:
    text = "segment s where " + "(" * MANY + "contact.orders.count > 1" + ")" * MANY + "\n"
    result = check_texts({"t.scn": text})
    assert result.diagnostics == ()
    assert format_source(parse(text, "t.scn")) == "segment s where contact.orders.count > 1\n"


@pytest.mark.parametrize(
    ("text", "column"),
    [
        # 128 comparisons joined by `and` are 128 operators deep; one more is too deep.
        (f"segment s where {_and_chain(MAX_EXPRESSION_DEPTH)}\n", None),
        (f"segment s where {_and_chain(MAX_EXPRESSION_DEPTH + 1)}\n", 17),
        ("segment s where " + "not " * MAX_EXPRESSION_DEPTH + "contact.subscribed.email\n", None),
        ("segment s where " + "not " * (MAX_EXPRESSION_DEPTH + 1) + "contact.subscribed.email\n", 17),
    ],
)
def test_the_expression_bound_is_exact(text: str, column: int | None) -> None:
    found = [(d.code.code, d.span.column) for d in parse(text, "t.scn").diagnostics]
    assert found == ([] if column is None else [("SCN011", column)])


@pytest.mark.parametrize(("depth", "bad"), [(MAX_BLOCK_DEPTH, False), (MAX_BLOCK_DEPTH + 1, True)])
def test_the_block_bound_is_exact(depth: int, bad: bool) -> None:
    text = "scenario s on order.paid " + "if order.paid " * depth + "stop" + " end" * depth + " end\n"
    found = [(d.code.code, d.span.column, d.span.end_column) for d in parse(text, "t.scn").diagnostics]
    # Reported at the `if` whose steps are one block too deep: the outermost one here.
    assert found == ([("SCN011", 26, 28)] if bad else [])


def test_the_check_command_reports_a_long_chain_of_and(tmp_path: Path) -> None:
    (tmp_path / "long.scn").write_text(DEEP["and"], encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "scn", "check", "--format", "concise", "long.scn"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert run.stdout.startswith("long.scn:1:17: SCN011 this expression nests more than 128 operators")
    assert "Traceback" not in run.stdout + run.stderr
    fmt = subprocess.run(
        [sys.executable, "-m", "scn", "fmt", "long.scn"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert fmt.returncode == 2
    assert "Traceback" not in fmt.stdout + fmt.stderr


# ---------------------------------------------------------------- up to the bounds

#: Frames the stages may use beyond the caller's: what is left of Python's default
#: limit of 1000 is for callers (a server request, an event loop, a test runner).
HEADROOM = 600


@contextmanager
def frames_at_most(extra: int) -> Iterator[None]:
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + extra)
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def _at_the_bounds() -> str:
    """A workspace as deep as trees may be, everywhere at once."""
    deepest_if = "if " + "not " * (MAX_EXPRESSION_DEPTH - 2) + "order.paid == true"
    waits = "wait " + " + ".join(["1m"] * MAX_EXPRESSION_DEPTH)
    list_depth = MAX_EXPRESSION_DEPTH - 2  # inside len(...) > 0
    nested_list = "[" * list_depth + "1" + "]" * list_depth
    return (
        "list a\nlist done\n"
        f"segment lists where len({nested_list}) > 0\n"
        "scenario deep\n"
        "  on order.paid\n"
        "  entry once per contact\n"
        "  frequency at most 1 per 1d\n"
        + "  if order.paid\n" * (MAX_BLOCK_DEPTH - 1)
        + f"  {deepest_if}\n  {waits}\n  add to list done\n  end\n"
        + "  end\n" * (MAX_BLOCK_DEPTH - 1)
        + "end\n"
    )


def test_every_stage_works_up_to_the_bounds_within_the_stack() -> None:
    text = _at_the_bounds()
    event = convert_event(
        {
            "type": "order.paid",
            "at": "2025-06-02T10:00:00+00:00",
            "contact": {"id": "c1", "email": "c1@example.com"},
            "order": {"id": "o1", "total": "10.00", "currency": "EUR", "status": "paid"},
        }
    )
    with frames_at_most(HEADROOM):
        parsed = parse(text, "t.scn")
        assert parsed.diagnostics == ()
        checked = check_workspace(workspace_from_texts({"t.scn": text}))
        assert checked.diagnostics == ()
        formatted = format_source(parsed)
        again = parse(formatted, "t.scn")
        assert parsed.module is not None and again.module is not None
        assert same_meaning(again.module.items, parsed.module.items)
        bundle = compile_workspace(checked)
        msgspec.msgpack.decode(msgspec.msgpack.encode(bundle))
        result = asyncio.run(simulate(checked, [event], until=dt.timedelta(days=1)))
    done = [e for e in result.timeline if e.name == "add to list done"]
    assert [e.outcome for e in done] == ["done"], result.timeline
    assert done[0].at == dt.datetime(2025, 6, 2, 12, 8, tzinfo=dt.UTC)  # after 128 minutes of waiting
