"""The `broadcast` declaration: how it parses (the one-line form and the block), how
`scn fmt` writes it, what it compiles to, and the moments its time means."""

from __future__ import annotations

import datetime as dt

import pytest

from scn.grammar._format import format_source
from scn.interpreter import ast
from scn.interpreter.compiler import compile_workspace, program_digest
from scn.interpreter.schedule import contact_moment, start_moment, surely_past

from .conftest import parse_ok
from .harness import checked

UTC = dt.UTC
DECLS = """list vip

template offer email
  subject "Offer"
  html "offer.html"
end
"""
ONE_LINE = DECLS + "broadcast black_friday to list vip at 2099-11-27 10:00 local send email offer\n"
BLOCK = (
    DECLS
    + """
broadcast black_friday to list vip at 2099-11-27 10:00 local
  send email offer
end
"""
)


def _broadcast(text: str) -> ast.Broadcast:
    module = parse_ok(text).module
    assert module is not None
    [item] = [i for i in module.items if isinstance(i, ast.Broadcast)]
    return item


def test_the_one_line_form_and_the_block_mean_the_same() -> None:
    one, block = _broadcast(ONE_LINE), _broadcast(BLOCK)
    assert ast.same_meaning(one, block)
    assert one.audience.kind == "list" and one.audience.name.name == "vip"
    assert one.at is not None and one.at.local and one.at.zone is None
    assert (one.at.span.line, one.at.span.column, one.at.span.end_column) == (7, 36, 61)


def test_the_formatter_writes_the_block() -> None:
    assert format_source(parse_ok(ONE_LINE)) == BLOCK


@pytest.mark.parametrize(
    ("head", "zone", "local"),
    [
        ('at 2099-11-27 10:00 "Europe/Riga"', "Europe/Riga", False),
        ("at 2099-11-27 10:00", None, False),
        ("", None, False),
    ],
)
def test_a_zone_in_quotes_the_workspace_zone_or_no_time(head: str, zone: str | None, local: bool) -> None:
    text = DECLS + f'\nbroadcast b "Title" to list vip {head}'.rstrip() + "\n  send email offer\nend\n"
    item = _broadcast(text)
    assert item.title is not None and item.title.value == "Title"
    if not head:
        assert item.at is None
    else:
        assert item.at is not None and item.at.local == local
        assert (item.at.zone.value if item.at.zone else None) == zone
    assert format_source(parse_ok(text)) == text


def test_keywords_stay_names_elsewhere() -> None:
    text = (
        "list broadcast\nlist local\n"
        + DECLS.replace("vip", "local")
        + ("broadcast b to list local send email offer\n")
    )
    assert _broadcast(text).audience.name.name == "local"


def test_only_a_files_last_broadcast_may_leave_out_its_end() -> None:
    from scn.grammar import parse

    text = ONE_LINE + "list other\n"
    diagnostics = parse(text, "t.scn").diagnostics
    assert [d.code.code for d in diagnostics] == ["SCN004"]
    assert diagnostics[0].message == "`broadcast black_friday` is not closed: `end` missing before `list`"
    assert (diagnostics[0].span.line, diagnostics[0].span.column) == (7, 1)


def test_it_compiles_to_a_program_with_one_run_per_contact() -> None:
    bundle = compile_workspace(checked(ONE_LINE, {"offer.html": "<p>{{ unsubscribe_url }}</p>"}))
    program = bundle.scenarios["black_friday"]
    assert program.triggers == ()
    assert [(limit.scope, limit.count) for limit in program.entry_limits] == [("contact", 1)]
    assert program.broadcast is not None
    assert (program.broadcast.audience_kind, program.broadcast.audience) == ("list", "vip")
    assert (program.broadcast.date, program.broadcast.time, program.broadcast.local) == ("2099-11-27", "10:00", True)
    moved = compile_workspace(checked(ONE_LINE.replace("10:00", "11:00"), {"offer.html": "<p>x</p>"}))
    assert program_digest(moved.scenarios["black_friday"]) != program_digest(program)


def test_a_scenarios_digest_is_as_before_broadcasts() -> None:
    """Programs without a broadcast encode as they did: upgrading makes no new versions."""
    import msgspec

    bundle = compile_workspace(checked(DECLS + "scenario s on order.paid send email offer end\n"))
    assert "broadcast" not in msgspec.to_builtins(bundle.scenarios["s"])


def test_the_moments_of_a_time() -> None:
    riga = start_moment("2026-11-27", "10:00", "Europe/Riga", False, "UTC")
    assert riga == dt.datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert start_moment("2026-11-27", "10:00", None, False, "Asia/Tokyo") == dt.datetime(2026, 11, 27, 1, tzinfo=UTC)
    # `local` begins when the easternmost clocks (UTC+14) show the time.
    assert start_moment("2026-11-27", "10:00", None, True, "UTC") == dt.datetime(2026, 11, 26, 20, tzinfo=UTC)
    assert contact_moment("2026-11-27", "10:00", "Pacific/Kiritimati", "UTC") == dt.datetime(
        2026, 11, 26, 20, tzinfo=UTC
    )
    assert contact_moment("2026-11-27", "10:00", None, "Europe/Riga") == riga
    assert contact_moment("2026-11-27", "10:00", "Nowhere/Town", "Europe/Riga") == riga
    # 02:30 does not exist in Riga on 29 March 2026 (clocks go 03:00 -> 04:00): the first moment after.
    assert contact_moment("2026-03-29", "03:30", "Europe/Riga", "UTC") == dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_a_time_is_past_only_when_it_has_passed_everywhere_it_may_be_meant() -> None:
    at_riga = dt.datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert surely_past("2026-11-27", "10:00", "Europe/Riga", False, at_riga)
    assert not surely_past("2026-11-27", "10:00", "Europe/Riga", False, at_riga - dt.timedelta(seconds=1))
    # `local` and the workspace's zone: passed only once the westernmost clocks (UTC-12) show it.
    west = dt.datetime(2026, 11, 27, 22, 0, tzinfo=UTC)
    for local in (True, False):
        assert surely_past("2026-11-27", "10:00", None, local, west)
        assert not surely_past("2026-11-27", "10:00", None, local, west - dt.timedelta(seconds=1))
