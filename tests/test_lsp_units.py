"""The parts of `scn lsp` that need no client: expected keywords, positions, docs."""

from __future__ import annotations

from lsprotocol import types

from scn.grammar import expected_at
from scn.lsp._complete import complete_scn
from scn.lsp._docs import FILTERS
from scn.lsp._positions import Lines
from scn.stdlib.catalog import TEMPLATE_FILTERS

from .conftest import check_texts

STEPS = "list vip\nscenario s\n  on contact.registered\n  "


def test_the_parser_says_what_it_takes_at_a_point() -> None:
    at_steps = expected_at(STEPS, len(STEPS))
    assert {"send", "wait", "stop if", "stop unless", "end"} <= set(at_steps.keywords)
    assert "currency" not in at_steps.keywords
    assert expected_at("", 0).keywords[:4] == ("attribute", "attribution", "broadcast", "coupon")
    channel = STEPS + "send "
    assert expected_at(channel, len(channel)).keywords == ("email", "push", "sms", "viber", "webpush")


def test_errors_before_the_point_are_recovered_from() -> None:
    text = "list vip\nscenario s\n  on contact.registered\n  sned sms x\n  wait 30 min\n  "
    assert "send" in expected_at(text, len(text)).keywords


def test_a_new_name_being_declared_is_not_completed() -> None:
    symbols = check_texts({"a.scn": "list vip\n"}).symbols
    text = "list vip\nlist "
    assert [i.label for i in complete_scn(symbols, None, text, len(text))] == []
    text = "list vip\nscenario s\n  on contact.registered\n  add to list "
    assert [i.label for i in complete_scn(symbols, None, text, len(text))] == ["vip"]


def test_every_template_filter_has_docs() -> None:
    assert set(TEMPLATE_FILTERS) == set(FILTERS)


def test_positions_count_utf16_code_units() -> None:
    text = "a😀b\nсвіт\n"
    lines = Lines(text)
    assert lines.position(2) == types.Position(line=0, character=3)  # the emoji is two units
    assert lines.offset(types.Position(line=0, character=3)) == 2
    assert lines.position(6) == types.Position(line=1, character=2)
    assert lines.offset(types.Position(line=1, character=99)) == 8  # past the end: the line's end
    assert lines.offset(types.Position(line=9, character=0)) == len(text)
    utf32 = Lines(text, types.PositionEncodingKind.Utf32)
    assert utf32.position(2) == types.Position(line=0, character=2)
