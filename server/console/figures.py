"""The numbers the console's scenario pages show, gathered from the API's own functions
(scenario summaries, step counts, reports) and the store's per-scenario aggregates.

Kept apart from the page handlers so that the live refresh and the benchmark
(bench/bench_console.py) read exactly what the pages read.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from ...interpreter.clock import WallClock, ms_of
from ..core import Core
from ..models import ScenarioSummary
from ..reports import counts, totals_by_scenario
from ..services.scenarios import scenario_summaries, step_counts
from .diagram import numbers
from .flow import Flow, flow_of

#: The period of the figures beside each scenario in the list.
RECENT = dt.timedelta(days=7)


def recent_since(core: Core) -> tuple[dt.datetime, bool]:
    """Where the list's recent figures start: 7 days ago; on a compressed clock (the demo's:
    7 days pass in half a minute) when the clock started, as reports do. The flag says
    which."""
    now = core.clock.now()
    clock = core.clock
    if isinstance(clock, WallClock) and clock.speed != 1.0:
        return min(now - RECENT, clock.origin), True
    return now - RECENT, False


@dataclass
class ScenarioLine:
    """A scenario as the list shows it."""

    summary: ScenarioSummary
    #: Runs that have not ended.
    in_flight: int
    #: Messages sent in the last 7 days (failed ones included, skipped ones not), and the
    #: orders attributed to them (as the reports attribute them).
    sent: int
    ordered: int
    conversion: float | None
    #: Why and when the latest message or run failed.
    failure: tuple[str, int] | None


async def scenario_lines(core: Core, *, orders: bool = True) -> list[ScenarioLine]:
    """Every scenario with its figures of the last 7 days (on the server's clock); without
    ``orders``, the attribution of orders (the dearest figure) is left out."""
    summaries = await scenario_summaries(core)
    until = core.clock.now()
    since, _compressed = recent_since(core)
    since_ms = ms_of(since)
    tallies = totals_by_scenario(await counts(core, since, until)) if orders else {}
    lines = []
    for summary in summaries:
        live = await core.store.live_runs_by_status(summary.name)
        sends = await core.store.sends_since(summary.name, since_ms)
        figures: dict[str, Any] = tallies[summary.name].figures() if orders else {}
        lines.append(ScenarioLine(
            summary=summary, in_flight=sum(live.values()), sent=sum(sends.values()),
            ordered=int(figures.get("ordered") or 0), conversion=figures.get("conversion"),
            failure=await core.store.last_failure(summary.name),
        ))  # fmt: skip
    return lines


def current_flow(core: Core, name: str) -> Flow | None:
    """The flow of a scenario's current version (None when no bundle has it any more)."""
    if name not in core.engine.scenarios:
        return None
    return flow_of(core.engine.program(name))


async def diagram_numbers(core: Core, name: str, flow: Flow) -> dict[str, str]:
    """The numbers on a scenario's diagram, by key (see diagram.numbers)."""
    return numbers(name, flow, await step_counts(core, name), await core.store.skip_reasons(name))


def list_numbers(line: ScenarioLine) -> dict[str, str]:
    """The list's figures of a scenario that the live refresh updates, by their keys."""
    name = line.summary.name
    return {
        f"{name}/list/state": line.summary.state,
        f"{name}/list/in_flight": str(line.in_flight),
        f"{name}/list/sent": str(line.sent),
    }


_HEADLINE = re.compile(r"^#\s*([^.(\n]+)")


def case_title(source: str | None, path: str) -> str:
    """A file's headline: the first words of its opening comment ("KWIGA: unpaid orders"),
    else its name."""
    found = _HEADLINE.match((source or "").lstrip())
    return found.group(1).strip() if found else path
