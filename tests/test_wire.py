"""The strict JSON reader every door uses: the same documents as the standard library,
minus what it refuses (a key twice, NaN, deep nesting), numbers exactly as written."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scn.interpreter.clock import duration_ms
from scn.interpreter.runtime.wire import MAX_DEPTH, WireError, from_stored, read_json, stored
from scn.interpreter.types import DURATION

TEXT = st.text(alphabet=st.sampled_from('ab:"\\/Ж\u003a\n{}[],'), max_size=6)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(VALUES, st.booleans())
def test_documents_read_as_the_standard_library_reads_them(document: Any, ascii_only: bool) -> None:
    text = json.dumps(document, ensure_ascii=ascii_only)
    assert read_json(text) == json.loads(text)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(TEXT, VALUES, min_size=1, max_size=3), st.data())
def test_a_key_given_twice_is_refused_wherever_it_is(document: dict[str, Any], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(document)))
    text = json.dumps(document, ensure_ascii=data.draw(st.booleans()))
    twice = text[:-1] + ", " + json.dumps(key) + ": " + json.dumps(document[key]) + "}"
    nested = json.dumps({"outer": [1, {"x": 2}]})[:-1] + ', "inner": ' + twice + "}"
    for shown in (twice, nested):
        with pytest.raises(WireError, match="appears twice"):
            read_json(shown)


def test_a_colon_written_as_an_escape_cannot_hide_a_duplicate() -> None:
    with pytest.raises(WireError, match="'a' appears twice"):
        read_json('{"a": 1, "a": 2, "b": "x\\u003ay"}')
    assert read_json('{"a": "x\\u003ay"}') == {"a": "x:y"}


def test_numbers_nesting_and_constants() -> None:
    assert read_json('{"n": 12.50, "e": 1e3, "i": 7}') == {"n": Decimal("12.50"), "e": Decimal("1E+3"), "i": 7}
    assert read_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    for deep in ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), '{"a": ' * 5000 + "1" + "}" * 5000):
        with pytest.raises(WireError, match=f"nested more than {MAX_DEPTH} levels"):
            read_json(deep)
    for constant in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(WireError, match="is not JSON"):
            read_json('{"n": ' + constant + "}")
    with pytest.raises(WireError, match="line 2 column 1"):
        read_json('{"n": 1,\n}')
    with pytest.raises(WireError, match="UTF-8"):
        read_json(b'{"n": "\xff"}')


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 10**12))
def test_a_duration_is_stored_and_read_back_to_the_millisecond(ms: int) -> None:
    """`int(total_seconds() * 1000)` truncated the float: 32.477 s was stored as 32476 ms."""
    duration = dt.timedelta(milliseconds=ms)
    assert stored(duration) == ms == duration_ms(duration)
    assert from_stored(stored(duration), DURATION) == duration


def test_a_duration_is_whole_milliseconds_rounded_down() -> None:
    assert duration_ms(dt.timedelta(seconds=32, microseconds=477_000)) == 32_477
    assert duration_ms(dt.timedelta(microseconds=999)) == 0
    assert duration_ms(dt.timedelta(milliseconds=-1)) == -1
