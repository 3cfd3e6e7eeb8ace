"""Hostile input found by probing the real server and CLI: each answers with a 4xx problem
(or a CLI error) that names what is wrong, never a 500, a traceback or Python's own text."""

from __future__ import annotations

import json
import os
import subprocess
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


def _scn(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SCN_")}
    return subprocess.run([sys.executable, "-m", "scn", *args], capture_output=True, text=True, timeout=60,
                          env={**environment, **(env or {})}, stdin=subprocess.DEVNULL)  # fmt: skip


def test_a_port_in_the_environment_that_is_no_number_troubles_only_serve_and_says_so(tmp_path: Path) -> None:
    """SCN_PORT=abc made every command (`scn check` too) die with a traceback."""
    (tmp_path / "shop.scn").write_text('list buyers "Buyers"\n', encoding="utf-8")
    assert _scn("check", str(tmp_path), env={"SCN_PORT": "abc"}).returncode == 0
    served = _scn("serve", str(tmp_path), "--db", str(tmp_path / "scn.db"), env={"SCN_PORT": "abc"})
    assert served.returncode == 2, served.stderr
    assert "a port is a number from 1 to 65535, not 'abc'" in served.stderr
    assert "Traceback" not in served.stderr


@pytest.mark.parametrize("option", ["--port", "--dev-smtp-port"])
@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_a_port_out_of_range_is_refused_before_anything_starts(tmp_path: Path, option: str, port: str) -> None:
    """`--dev-smtp-port 0` or 70000 was an internal error with a traceback; `--port 70000`
    said it served on a port that cannot exist."""
    served = _scn("serve", "--db", str(tmp_path / "scn.db"), "--dev-smtp", f"{option}={port}")
    assert served.returncode == 2, served.stderr
    assert f"argument {option}: a port is a number from 1 to 65535, not '{port}'" in served.stderr
    assert "internal error" not in served.stderr and "Traceback" not in served.stderr
    assert not (tmp_path / "scn.db").exists(), "refused before the store was opened"


@pytest.mark.parametrize("name", ["a\x00b.scn", "a\nb.scn", "x\x1b[31m.scn", "dir\x7f/a.scn"])
async def test_a_file_name_with_a_control_character_is_refused(tmp_path: Path, name: str) -> None:
    """A NUL or a line break in an uploaded file's name was stored (and a line break in it
    forges lines of the diagnostics that quote the name)."""
    async with serving(tmp_path, FILES) as s:
        text = 'list nul_test "x"\n'
        as_text = await s.client.post("/api/scenarios", params={"path": name}, content=text,
                                      headers={"Content-Type": "text/plain"})  # fmt: skip
        as_json = await s.client.post("/api/scenarios", json={"files": {**FILES, name: text}})
        for response in (as_text, as_json):
            problem = is_problem(response, 400)
            assert "control character" in problem["detail"], problem
        # Nothing was deployed: the same list in a file of a plain name is no duplicate.
        plain = await s.client.post("/api/scenarios", params={"path": "lists.scn"}, content=text,
                                    headers={"Content-Type": "text/plain"})  # fmt: skip
        assert plain.status_code == 201, plain.text
