"""Events decoded straight into their type (`events.decode_events`, the API's and `scn
worker`'s way in) give what the strict reader and the strict conversion give, or step aside
so that those say what is wrong: a key given twice at any level, a member given with its
default, a time written with fewer colons, nesting past the limit, an escaped colon."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scn.interpreter.runtime.events import convert_event, decode_events, read_event
from scn.interpreter.runtime.wire import MAX_DEPTH, WireError, members, nesting, read_json

TEXT = st.text(alphabet=st.sampled_from('ab:"\\Ж\u003a\n{}'), max_size=5)
NAME = st.sampled_from(["a", "b", "n", "x_1"])
ANY = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | TEXT | st.sampled_from([1.5, 1e300, -0.25]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
TIMES = st.sampled_from(
    ["2025-03-01T10:00:00Z", "2025-03-01T10:00:00+02:00", "2025-03-01T10:00:00+0200", "2025-03-01T10:00:00+00:00",
     "2025-03-01t10:00:00.5z", "2025-03-01T10:00:00", "2025-03-01T10:00"]
)  # fmt: skip
AMOUNTS = st.sampled_from(["12.50", "0", "7", 12.5, 3, 0.1, "1:2"])
CONTACT = st.fixed_dictionaries(
    {"id": st.sampled_from(["c1", "Ж:1", "c:2", "a/b"])},
    optional={"email": st.sampled_from(["a@example.com", "Вася@пример.рф", "a:b@x.y"]),
              "language": st.sampled_from(["uk", "pl-PL", "uk:"]), "tags": st.lists(TEXT, max_size=2),
              "attributes": st.dictionaries(NAME, ANY, max_size=2), "phone": st.none(),
              "subscriptions": st.dictionaries(st.sampled_from(["email", "sms"]), st.booleans(), max_size=2)},
)  # fmt: skip
ITEM = st.fixed_dictionaries({}, optional={"sku": TEXT, "quantity": AMOUNTS, "price": AMOUNTS})
EVENT = st.fixed_dictionaries(
    {"type": st.sampled_from(["contact.updated", "order.paid", "x.y", "a:b"]), "contact": CONTACT},
    optional={"key": st.none() | TEXT, "at": st.none() | TIMES, "data": st.dictionaries(NAME, ANY, max_size=3),
              "order": st.fixed_dictionaries({"id": st.just("o1")}, optional={
                  "total": AMOUNTS, "currency": st.just("UAH"), "created_at": TIMES,
                  "items": st.lists(ITEM, max_size=2)}),
              "product": st.fixed_dictionaries({"id": st.just("p1")}, optional={"created_at": TIMES})},
)  # fmt: skip
BODY = EVENT | st.lists(EVENT, max_size=3)


def written(value: Any, draw: Any) -> str:
    """JSON text of ``value``, now and then with a key of an object given twice (the second
    time with another value, or the same), spaces around colons, or a colon escaped."""
    if isinstance(value, dict):
        parts = [f"{written(k, draw)}{draw(st.sampled_from([':', ' : ']))}{written(v, draw)}" for k, v in value.items()]
        if value and draw(st.integers(0, 11)) == 11:
            key = draw(st.sampled_from(sorted(value)))
            again = draw(st.sampled_from([value[key], None, "a:b", 7]))
            parts.insert(draw(st.integers(0, len(parts))), f"{written(key, draw)}:{written(again, draw)}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(written(v, draw) for v in value) + "]"
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    return text.replace(":", "\\u003a") if isinstance(value, str) and draw(st.integers(0, 7)) == 7 else text


def slowly(raw: bytes) -> Any:
    """What the strict reader and conversion make of ``raw``; the exception when they refuse it."""
    try:
        document = read_json(raw)
        if isinstance(document, list):
            return [convert_event(item) for item in document]
        return convert_event(document)
    except (WireError, msgspec.ValidationError) as error:
        return error


@settings(max_examples=600, deadline=None)
@given(BODY, st.data())
def test_what_is_decoded_straight_is_what_the_strict_reader_makes_of_it(body: Any, data: st.DataObject) -> None:
    raw = written(body, data.draw).encode()
    fast, slow = decode_events(raw), slowly(raw)
    if fast is None:
        return
    assert not isinstance(slow, Exception), (raw, slow)
    assert fast == slow and as_written(fast) == as_written(slow)


def as_written(value: Any) -> Any:
    """Plain data of decoded events, with each amount as it was written."""
    return msgspec.to_builtins(value, enc_hook=lambda amount: ("amount", amount.written))


def test_a_key_given_twice_is_read_the_slow_way_at_every_level() -> None:
    event = '{"type": "contact.updated", "contact": {"id": "c1", "attributes": {"a": {"x": [1, {"y": 2}]}}}}'
    assert decode_events(event.encode()) is not None
    for place in ('"type": "contact.updated"', '"id": "c1"', '"a": {"x"', '"x": [1', '"y": 2'):
        key, _, rest = place.partition(":")
        twice = event.replace(place, f"{key}: {json.dumps('z:z') if '{' not in rest else '{}'}, {place}", 1)
        for raw in (twice, f"[{event}, {twice}]"):
            assert decode_events(raw.encode()) is None, raw
            with pytest.raises(WireError, match=f"the key {key.strip()[1:-1]!r} appears twice"):
                read_json(raw)
    # A key given twice with the same value, and in a struct's field with its default.
    for raw in ('{"type": "x.y", "type": "x.y", "contact": {"id": "a"}}',
                '{"type": "x.y", "contact": {"id": "a", "email": null, "email": null}}'):  # fmt: skip
        assert decode_events(raw.encode()) is None


def test_what_decodes_straight_and_what_steps_aside() -> None:
    plain = {"type": "contact.updated", "key": "k:1", "contact": {"id": "c1", "email": "c1@example.com"}}
    timed = {**plain, "at": "2025-03-01T10:00:00+0200", "data": {"n": [1.50, {"a:b": "c:d"}]}}
    for body in (plain, timed, [plain, timed]):
        raw = json.dumps(body).encode()
        assert decode_events(raw) == slowly(raw) and as_written(decode_events(raw)) == as_written(slowly(raw))
    # Members given with their defaults, an empty batch, an escaped colon that could hide a key
    # given twice, a time written without seconds: the slow way, which decides.
    for text in ('{"type": "x.y", "contact": {"id": "a"}, "data": {}}', "[]",
                 '{"type": "x.y", "contact": {"id": "a"}, "key": null}',
                 '{"type": "x.y", "type": "z", "contact": {"id": "a\\u003ab"}}',
                 '{"type": "x.y", "contact": {"id": "a"}, "at": "2025-03-01T10:00Z"}'):  # fmt: skip
        assert decode_events(text.encode()) is None, text


@pytest.mark.parametrize("batch", [False, True])
def test_nesting_at_the_limit_decodes_and_one_level_more_does_not(batch: bool) -> None:
    # The event is at level 1 (2 in a batch), its data at 2, a value of it at 3.
    base = 2 if batch else 1
    for field, levels_above in (("data", base + 1), ("attributes", base + 2)):
        for extra in (0, 1):
            value = json.loads("[" * (MAX_DEPTH - levels_above + extra) + "]" * (MAX_DEPTH - levels_above + extra))
            contact: dict[str, Any] = {"id": "a"}
            event: dict[str, Any] = {"type": "x.y", "contact": contact}
            if field == "data":
                event["data"] = {"n": value}
            else:
                contact["attributes"] = {"n": value}
            raw = json.dumps([event] if batch else event).encode()
            if extra:
                assert decode_events(raw) is None
                with pytest.raises(WireError, match=f"nested more than {MAX_DEPTH}"):
                    read_json(raw)
            else:
                assert decode_events(raw) == slowly(raw)
    deep = '{"type": "x.y", "contact": {"id": "a"}, "data": {"n": ' + "[" * 5000 + "]" * 5000 + "}}"
    assert decode_events(deep.encode()) is None


def test_members_and_nesting() -> None:
    text = b'{"a": "b:c", "d\\\\": {"e\\"": ":"}, "f": [1, {"g": "\\\\\\":"}]}'
    assert json.loads(text) == {"a": "b:c", "d\\": {'e"': ":"}, "f": [1, {"g": '\\":'}]}
    assert members(text) == 5
    assert nesting(1) == 0 and nesting([]) == 1 and nesting({"a": [[], {"b": [1]}]}) == 4
    assert nesting(json.loads("[" * 100 + "]" * 100)) == MAX_DEPTH + 1, "counted no further than past the limit"


def test_scn_worker_reads_one_event_and_refuses_a_list_as_before() -> None:
    event = {"type": "contact.updated", "contact": {"id": "c1"}}
    assert read_event(json.dumps(event)) == convert_event(event)
    with pytest.raises(Exception, match="Expected `object`, got `array`"):
        read_event(json.dumps([event]))
