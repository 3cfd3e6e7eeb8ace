"""`scn simulate` over a long timeline shows how far it is: a progress bar on standard
error (on a terminal by default, or with --progress), told by the simulation as it plays."""

from __future__ import annotations

import asyncio
import contextlib
import io

from scn.cli import main
from scn.interpreter.checker import check_workspace
from scn.interpreter.simulate import read_timeline, simulate
from scn.interpreter.workspace import load_workspace

from .conftest import EXAMPLES

EVENTS = EXAMPLES / "post_purchase.events.jsonl"


def test_the_simulation_tells_how_many_events_it_has_played() -> None:
    checked = check_workspace(load_workspace([EXAMPLES]))
    events, sources = read_timeline(EVENTS)
    told: list[tuple[int, int]] = []
    asyncio.run(simulate(checked, events, sources=sources, progress=lambda done, total: told.append((done, total))))
    assert told and all(total == len(events) for _, total in told)
    played = [done for done, _ in told]
    assert played == sorted(played) and played[-1] == len(events) and played[0] >= 1


def run(*options: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["simulate", str(EXAMPLES), "--events", str(EVENTS), *options])
    return code, out.getvalue(), err.getvalue()


def test_the_progress_bar_goes_to_standard_error_and_leaves_the_output_alone() -> None:
    code, out, err = run("--progress")
    total = len(read_timeline(EVENTS)[0])
    assert code == 0 and "simulating events" in err and f"{total}/{total}" in err, err
    quiet_code, quiet_out, quiet_err = run("--no-progress")
    assert (quiet_code, quiet_out, quiet_err) == (0, out, ""), "the same output; no bar when it is not asked for"
