"""schemathesis over the whole served API, with every check it has.

`schemathesis run` against the real app (uvicorn in a thread, a deployed workspace, some
events so that lookups find things), with the API key and every check schemathesis has
(tests/schemathesis.toml enables them all, which `--checks all` would do too, except
that it would override the settings of single operations there): its four phases
(the document's examples, the coverage phase's boundary values, generated requests, and
stateful sequences that feed one answer's ids into the next request) and every check:
no server error, only documented statuses and content types, answers that match their
schema, schema-valid requests accepted and invalid ones refused, auth not ignored,
Allow headers... The same file holds what the document alone cannot say.

The suite runs a bounded, deterministic pass (a few examples per operation). The long
mode, `SCN_LONG_SCHEMATHESIS=1`, runs for `SCN_SCHEMATHESIS_SECONDS` (default 300) with
a new seed each time (printed, with a way to replay it), and reports every failure it
finds rather than the first.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .server_harness import API_KEY, served_in_thread
from .test_server import FILES, paid

LONG = os.environ.get("SCN_LONG_SCHEMATHESIS") == "1"
LONG_SECONDS = int(os.environ.get("SCN_SCHEMATHESIS_SECONDS", "300"))
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_in_thread(tmp_path_factory.mktemp("schemathesis"), FILES, secret="fuzz") as base:
        with httpx.Client(base_url=base, headers={"X-API-Key": API_KEY}) as client:
            assert client.post("/api/events", json=[paid("ann", "o1"), paid("bob", "o2")]).status_code == 202
        yield base


def schemathesis(base: str, folder: Path, *options: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Runs in ``folder``: schemathesis keeps its cache in the working directory."""
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "--no-color",
        "run", f"{base}/schema/openapi.json", "--header", f"X-API-Key: {API_KEY}",
        "--workers", "1", "--request-timeout", "20", "--suppress-health-check", "all", *options,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, cwd=folder)


def failures(run: subprocess.CompletedProcess[str]) -> str:
    """The report's failures and summary (its start lists every operation it tested)."""
    text = run.stdout + run.stderr
    start = text.find("FAILURES")
    return text[start if start >= 0 else 0 :][-20_000:]


@pytest.mark.skipif(LONG, reason="the long mode runs instead")
def test_every_operation_passes_every_check(base_url: str, tmp_path: Path) -> None:
    run = schemathesis(
        base_url, tmp_path, "--max-examples", "4", "--seed", "1", "--generation-deterministic", timeout=240
    )
    assert run.returncode == 0, failures(run)
    tested = re.search(r"Tested: (\d+)", run.stdout)
    assert tested is not None and int(tested.group(1)) >= 45, run.stdout[-3000:]  # every operation
    assert "Stateful" in run.stdout and "Coverage" in run.stdout, run.stdout[-3000:]


@pytest.mark.skipif(not LONG, reason="set SCN_LONG_SCHEMATHESIS=1 (runs SCN_SCHEMATHESIS_SECONDS, default 300)")
@pytest.mark.timeout(LONG_SECONDS + 600)
def test_every_operation_passes_every_check_for_minutes(base_url: str, tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    print(f"schemathesis seed {seed}: SCN_LONG_SCHEMATHESIS=1 replays it with SCN_SCHEMATHESIS_SEED={seed}")
    seed = int(os.environ.get("SCN_SCHEMATHESIS_SEED", seed))
    run = schemathesis(
        base_url, tmp_path, "--max-time", str(LONG_SECONDS), "--max-examples", "100000", "--seed", str(seed),
        "--continue-on-failure", timeout=LONG_SECONDS + 500,
    )  # fmt: skip
    assert run.returncode == 0, f"seed {seed}\n" + failures(run)
