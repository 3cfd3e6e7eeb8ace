"""Structured logs: a JSON object per line with what the line is about, or text for a
terminal with the same fields; every line of a request carries its id."""

from __future__ import annotations

import io
import json
import logging
import sys
from pathlib import Path

import pytest

from scn.server.logs import REQUEST_ID, ConsoleFormatter, JsonFormatter, configure_logging

from .server_harness import serving

FILES = {"a.scn": 'list vip "VIP"\n'}


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("scn.runtime", logging.WARNING, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_a_json_line_holds_the_message_and_what_it_is_about() -> None:
    line = JsonFormatter().format(record("run %s failed", 7, run_id=7, scenario="unpaid", contact="Олег"))
    parsed = json.loads(line)
    assert "\n" not in line and "Олег" in line, "one line, UTF-8 as it is"
    assert parsed["message"] == "run 7 failed" and parsed["level"] == "warning" and parsed["logger"] == "scn.runtime"
    assert (parsed["run_id"], parsed["scenario"], parsed["contact"]) == (7, "unpaid", "Олег")
    assert parsed["time"].endswith("+00:00") and "request_id" not in parsed, "unset fields are left out"


def test_an_exception_stays_inside_its_json_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        made = record("failed")
        made.exc_info = sys.exc_info()
    line = JsonFormatter().format(made)
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["exception"]


def test_the_console_form_adds_the_fields_after_the_message() -> None:
    text = ConsoleFormatter().format(record("message %s undeliverable", 3, message_id=3, channel="email"))
    assert text.endswith("scn.runtime: message 3 undeliverable message_id=3 channel=email"), text


@pytest.mark.parametrize("form", ["json", "console"])
def test_lines_logged_while_a_request_is_answered_carry_its_id(form: str) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    configure_logging("json" if form == "json" else "console")
    try:
        (handler,) = root.handlers
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        token = REQUEST_ID.set("req-7")
        try:
            logging.getLogger("scn.test").info("inside")
        finally:
            REQUEST_ID.reset(token)
        logging.getLogger("scn.test").info("outside")
    finally:
        root.handlers[:] = before  # the test runner's own handlers back
        root.setLevel(level)
    first, second = stream.getvalue().splitlines()
    if form == "json":
        assert json.loads(first)["request_id"] == "req-7" and "request_id" not in json.loads(second)
    else:
        assert first.endswith("inside request_id=req-7") and second.endswith("outside")


async def test_a_request_id_is_taken_from_the_client_only_when_it_is_sane(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES) as s:
        given = await s.public.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert given.headers["x-request-id"] == "abc-123"
        for bad in ("a" * 65, "two words", ""):
            answer = await s.public.get("/healthz", headers={"X-Request-ID": bad})
            assert answer.headers["x-request-id"] != bad and len(answer.headers["x-request-id"]) == 32
        missing = await s.public.get("/no/such/page")
        assert missing.status_code == 404 and len(missing.headers["x-request-id"]) == 32, "a 404 is a request too"
