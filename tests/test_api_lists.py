"""The data API's lists: pages, step counts, times, enumerated query values, loyalty groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from .server_harness import serving
from .test_client import scn
from .test_server import FILES, is_problem, paid

RUN_STATUSES = "running, waiting, awaiting, done, stopped, exited, failed, cancelled"


@pytest.mark.parametrize(
    ("path", "parameter", "value", "allowed"),
    [
        ("/api/runs", "status", "bogus", RUN_STATUSES),
        ("/api/messages", "status", "bogus", "pending, sent, failed, skipped"),
        ("/api/messages", "channel", "fax", "email, sms, viber, push, webpush, webhook"),
    ],
)
async def test_a_bad_enumerated_query_value_is_a_400_naming_the_allowed_values(
    tmp_path: Path, path: str, parameter: str, value: str, allowed: str
) -> None:
    async with serving(tmp_path, FILES) as s:
        problem = is_problem(await s.client.get(path, params={parameter: value}), 400)
    assert problem["detail"] == f"{parameter} must be one of {allowed}, not {value!r}"
    assert problem["errors"][0]["key"] == parameter and problem["errors"][0]["source"] == "query"


async def test_scn_runs_with_a_bad_status_exits_2_with_the_servers_message(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES) as s:
        await s.client.post("/api/events", json=paid("ann", "o1"))
        await s.settle()
        code, out, err = await scn(s.base, "runs", "--status", "bogus")
        assert code == 2 and out == ""
        assert f"status must be one of {RUN_STATUSES}, not 'bogus'" in err, err
        code, out, _ = await scn(s.base, "runs", "--status", "waiting")
        assert code == 0 and "ann" in out
