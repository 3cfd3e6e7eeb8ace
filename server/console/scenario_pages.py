"""Scenario pages: the list with every diagram (the console's home), one scenario with its
diagram, source, versions and controls, one step's runs and messages, a diff of versions."""

from __future__ import annotations

import difflib
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from markupsafe import Markup

from ...interpreter.render import as_json_records
from ..core import Core
from ..deps import not_found
from ..problems import Problem
from ..services import MessageService, RunService, ScenarioService, dependencies
from .auth import console_actor
from .diagram import diagram
from .figures import case_title, current_flow, diagram_numbers, list_numbers, recent_since, scenario_lines
from .frame import HEADERS, page
from .highlight import source_view
from .text import _

PAGE = 50


async def _drawing(core: Core, name: str, selected: str | None = None) -> tuple[Markup | None, dict[str, str]]:
    flow = current_flow(core, name)
    if flow is None:
        return None, {}
    shown = await diagram_numbers(core, name, flow)
    return diagram(name, flow, shown, f"/scenarios/{name}", selected=selected), shown


@get("/", name="console:home")
async def home(request: Request[Any, Any, Any], core: NamedDependency[Core]) -> Template:
    """Every scenario, grouped by the file (the customer case) that declares it, each with
    its figures and its diagram."""
    lines = await scenario_lines(core)
    cases: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        svg, _shown = await _drawing(core, line.summary.name)
        cases.setdefault(line.summary.file or "", []).append({"line": line, "diagram": svg})
    shown_cases = [
        {"file": path, "title": case_title(core.files.get(path), path or _("(no file)")), "scenarios": items}
        for path, items in sorted(cases.items())
    ]
    _since, compressed = recent_since(core)
    return page(request, "home.html", lines=lines, cases=shown_cases, since_demo=compressed)


def _live(numbers: dict[str, str]) -> Response[dict[str, str]]:
    return Response(numbers, headers=HEADERS)


@get("/live")
async def home_live(core: NamedDependency[Core]) -> Response[dict[str, str]]:
    """The home page's numbers as they are now (console.js refreshes the page with them)."""
    shown: dict[str, str] = {}
    for line in await scenario_lines(core, orders=False):
        shown.update(list_numbers(line))
        flow = current_flow(core, line.summary.name)
        if flow is not None:
            shown.update(await diagram_numbers(core, line.summary.name, flow))
    return _live(shown)


@get("/scenarios/{name:str}")
async def scenario(
    request: Request[Any, Any, Any], core: NamedDependency[Core], scenarios: NamedDependency[ScenarioService],
    name: FromPath[str],
) -> Template:  # fmt: skip
    summary = await scenarios.summary(name)
    svg, _shown = await _drawing(core, name)
    source = core.files.get(summary.file) if summary.file else None
    warnings = [d for d in as_json_records((await core.checked()).diagnostics) if d.get("filename") == summary.file]
    versions = await scenarios.versions(name)
    failure = await scenarios.last_failure(name)
    return page(request, "scenario.html", summary=summary, diagram=svg, versions=versions, failure=failure,
                source=source_view(source, warnings) if source is not None else None)  # fmt: skip


@get("/scenarios/{name:str}/live")
async def scenario_live(
    core: NamedDependency[Core], scenarios: NamedDependency[ScenarioService], name: FromPath[str]
) -> Response[dict[str, str]]:
    await scenarios.summary(name)
    flow = current_flow(core, name)
    return _live(await diagram_numbers(core, name, flow) if flow is not None else {})


@get("/scenarios/{name:str}/steps/{step:str}")
async def step(
    request: Request[Any, Any, Any], core: NamedDependency[Core], scenarios: NamedDependency[ScenarioService],
    runs: NamedDependency[RunService], messages: NamedDependency[MessageService], name: FromPath[str],
    step: FromPath[str], runs_after: FromQuery[int] = 0, messages_after: FromQuery[int] = 0,
) -> Template:  # fmt: skip
    """One step: its numbers, the runs at it, the messages it made."""
    summary = await scenarios.summary(name)
    counts = next((c for c in await scenarios.step_counts(name) if c.step == step), None)
    if counts is None:
        raise not_found(f"step {step!r} of scenario {name!r}")
    svg, _shown = await _drawing(core, name, selected=step)
    at_step = await runs.page(scenario=name, step=step, after=max(runs_after, 0), limit=PAGE)
    made = await messages.of_step(name, step, max(messages_after, 0), PAGE)
    return page(
        request, "step.html", summary=summary, counts=counts, diagram=svg, skips=await scenarios.skips(name, step),
        runs=at_step.items, runs_next=at_step.next, messages=made.items, messages_next=made.next,
    )  # fmt: skip


async def _change(scenarios: ScenarioService, name: str, state: str, actor: str) -> Response[Any]:
    await scenarios.set_state(name, state, actor)
    return Redirect(f"/scenarios/{name}", status_code=303)


@post("/scenarios/{name:str}/pause", status_code=303)
async def pause(
    request: Request[Any, Any, Any], scenarios: NamedDependency[ScenarioService], name: FromPath[str]
) -> Response[Any]:
    return await _change(scenarios, name, "paused", console_actor(request))


@post("/scenarios/{name:str}/resume", status_code=303)
async def resume(
    request: Request[Any, Any, Any], scenarios: NamedDependency[ScenarioService], name: FromPath[str]
) -> Response[Any]:
    return await _change(scenarios, name, "active", console_actor(request))


@post("/scenarios/{name:str}/archive", status_code=303)
async def archive(
    request: Request[Any, Any, Any], scenarios: NamedDependency[ScenarioService], name: FromPath[str]
) -> Response[Any]:
    return await _change(scenarios, name, "archived", console_actor(request))


@get("/scenarios/{name:str}/diff")
async def diff(
    request: Request[Any, Any, Any],
    scenarios: NamedDependency[ScenarioService],
    name: FromPath[str],
    old: FromQuery[int] = 0,
    new: FromQuery[int] = 0,
) -> Template:
    """What changed between two versions: the steps, from the compiled programs (added,
    removed, moved, changed and how), then the source file line by line."""
    versions = {v.version: v for v in await scenarios.versions(name)}
    if old not in versions or new not in versions:
        known = ", ".join(str(v) for v in sorted(versions))
        raise Problem(400, "invalid-request", f"choose two versions of {name} among {known}")
    changes = await scenarios.diff(name, old, new)
    texts = [await scenarios.source_at(name, versions[number]) for number in (old, new)]
    lines = list(difflib.unified_diff(texts[0].splitlines(), texts[1].splitlines(), f"version {old}",
                                      f"version {new}", lineterm=""))  # fmt: skip
    marked = [("add" if ln.startswith("+") else "del" if ln.startswith("-") else "hunk" if ln.startswith("@@")
               else "", ln) for ln in lines[2:]]  # fmt: skip
    return page(request, "diff.html", name=name, old=old, new=new, lines=marked, versions=sorted(versions),
                changes=changes)  # fmt: skip


router = Router(
    "/",
    route_handlers=[home, home_live, scenario, scenario_live, step, pause, resume, archive, diff],
    dependencies=dependencies(),
)
