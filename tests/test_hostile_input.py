"""Hostile input found by probing the real server and CLI: each answers with a 4xx problem
(or a CLI error) that names what is wrong, never a 500, a traceback or Python's own text."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from scn.interpreter.runtime.events import EventError, read_event
from scn.interpreter.runtime.wire import WireError, read_json

from .server_harness import serving
from .test_server import FILES, is_problem, paid

#: The most digits Python turns into an int (its guard against quadratic conversion).
INT_DIGITS = sys.get_int_max_str_digits()


def _with_total(digits: int) -> bytes:
    """A paid order whose total is a JSON integer of ``digits`` digits."""
    return json.dumps(paid("ann", "o1")).replace('"120.50"', "1" * digits).encode()


@pytest.mark.parametrize("digits", [INT_DIGITS + 1, 100_000])
async def test_a_json_integer_longer_than_python_reads_is_a_bad_request(tmp_path: Path, digits: int) -> None:
    """An integer of more than 4300 digits was a 500 (Python refuses to convert it)."""
    async with serving(tmp_path, FILES) as s:
        for path, body in (
            ("/api/events", _with_total(digits)),
            ("/api/contacts", b'{"id": "ann", "attributes": {"n": ' + b"9" * digits + b"}}"),
        ):
            response = await s.client.post(path, content=body, headers={"Content-Type": "application/json"})
            problem = is_problem(response, 400)
            assert f"at most {INT_DIGITS}" in problem["detail"], problem
            assert "sys.set_int_max_str_digits" not in problem["detail"]
        assert await s.count("SELECT count(*) FROM events") == 0


def test_every_door_reads_a_long_integer_as_the_api_does() -> None:
    """`scn worker`'s standard input and `scn simulate`'s files read with the same reader."""
    with pytest.raises(WireError, match=f"has {INT_DIGITS + 1} digits"):
        read_json(b'{"n": ' + b"1" * (INT_DIGITS + 1) + b"}")
    with pytest.raises(EventError, match=f"at most {INT_DIGITS}"):
        read_event(_with_total(INT_DIGITS + 1).decode())
    # The longest integer Python reads is read (and refused as an amount by the event's rules);
    # a negative one that long, which msgspec cannot hold, is refused in words.
    assert read_json(b'{"n": ' + b"1" * INT_DIGITS + b"}")["n"] == int("1" * INT_DIGITS)
    with pytest.raises(WireError, match=f"out of range: write at most {INT_DIGITS} digits"):
        read_json(b'{"n": -' + b"1" * INT_DIGITS + b"}")
