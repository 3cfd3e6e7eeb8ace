"""Runs and messages: runs filtered by scenario, status, step and contact; one run's trace
as a timeline that answers "why did this contact get (or not get) this mail"; one
message as the contact received it."""

from __future__ import annotations

import json
import re
from typing import Any, get_args

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from ...interpreter import program as p
from ...interpreter.store import LIVE
from ...stdlib.tracking import read_token
from ..core import Core
from ..deps import MAX_ID, not_found
from ..models import RunDetail, RunStatus
from ..problems import Problem
from ..services import MessageService, RunService, ScenarioService, dependencies
from ..services.messages import message_view
from .frame import page
from .text import _

PAGE = 50
STATUSES = get_args(RunStatus)
_PIXEL = re.compile(r"<img\b[^>]*?/o/[^\"'>\s]+[\"'][^>]*>", re.IGNORECASE)


def _number(text: str | None, what: str) -> int:
    """A page cursor from the query (0 when absent); 400 when it is not one."""
    if not text:
        return 0
    if not text.isdigit() or int(text) > MAX_ID:
        raise Problem(400, "invalid-request", f"{what} must be a whole number, not {text!r}")
    return int(text)


@get("/runs")
async def runs(
    request: Request[Any, Any, Any], runs: NamedDependency[RunService], scenarios: NamedDependency[ScenarioService],
    scenario: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None, step: FromQuery[str | None] = None, contact: FromQuery[str | None] = None,
    after: FromQuery[str | None] = None,
) -> Template:  # fmt: skip
    """Runs, oldest first, filtered as the API filters them."""
    scenario, status, step, contact = (v.strip() or None if v else None for v in (scenario, status, step, contact))
    if status is not None and status not in STATUSES:
        raise Problem(400, "invalid-request", f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    names = await scenarios.names()
    steps = [(c.step, c.name) for c in await scenarios.step_counts(scenario)] if scenario in names else []
    found = await runs.page(scenario=scenario, contact=contact, status=status, step=step,
                            after=_number(after, "after"), limit=PAGE)  # fmt: skip
    query = {k: v for k, v in (("scenario", scenario), ("status", status), ("step", step), ("contact", contact)) if v}
    return page(
        request, "runs.html", runs=found.items, next=found.next, scenarios=names, statuses=STATUSES, steps=steps,
        chosen=query,
    )  # fmt: skip


def _answers(program: p.Program | None, run: RunDetail) -> list[dict[str, Any]]:
    """For each send of the scenario: what this run did there, in words."""
    if program is None:
        return []
    entries: dict[str, list[Any]] = {}
    for entry in run.trace:
        entries.setdefault(entry.step, []).append(entry)
    answers = []
    for instr in program.instructions:
        if not isinstance(instr, p.Send):
            continue
        seen = entries.get(instr.id)
        if seen:
            last = seen[-1]
            answers.append({"step": instr.id, "name": instr.name, "outcome": last.outcome, "detail": last.detail})
        elif run.status in LIVE:
            where = _("not yet: the run is %(status)s at %(step)s") % {"status": run.status, "step": run.step}
            answers.append({"step": instr.id, "name": instr.name, "outcome": "not reached", "detail": where})
        else:
            ended = _("never: the run ended (%(status)s) at %(step)s") % {"status": run.status, "step": run.step}
            reason = f"{ended}: {run.reason}" if run.reason else ended
            answers.append({"step": instr.id, "name": instr.name, "outcome": "not reached", "detail": reason})
    return answers


@get("/runs/{run_id:int}")
async def run(
    request: Request[Any, Any, Any], runs: NamedDependency[RunService], messages: NamedDependency[MessageService],
    run_id: FromPath[int],
) -> Template:  # fmt: skip
    if not 1 <= run_id <= MAX_ID:
        raise not_found(f"run {run_id}")
    detail = await runs.detail(run_id)
    program = await runs.program(run_id)
    return page(request, "run.html", run=detail, answers=_answers(program, detail), live=detail.status in LIVE,
                messages=await messages.of_run(run_id))  # fmt: skip


@post("/runs/{run_id:int}/cancel", status_code=303)
async def cancel(runs: NamedDependency[RunService], run_id: FromPath[int]) -> Response[Any]:
    if not 1 <= run_id <= MAX_ID:
        raise not_found(f"run {run_id}")
    await runs.cancel(run_id, _("cancelled in the console"))
    return Redirect(f"/runs/{run_id}", status_code=303)


def untracked(html: str, links: list[str], core: Core) -> str:
    """A sent email's HTML without its tracking: each tracked link back to the address it
    stands for, the open pixel gone (looking at a message is neither a click nor an open)."""
    base = re.escape(core.settings.public_url.rstrip("/"))

    def restore(match: re.Match[str]) -> str:
        found = read_token(core.settings, "c", match.group(1))
        if found is None or found[1] >= len(links):
            return "#"
        return links[found[1]]

    return re.sub(base + r"/c/([^\"'\s<>]+)", restore, _PIXEL.sub("", html))


@get("/messages/{message_id:int}")
async def message(
    request: Request[Any, Any, Any], core: NamedDependency[Core], messages: NamedDependency[MessageService],
    message_id: FromPath[int],
) -> Template:  # fmt: skip
    if not 1 <= message_id <= MAX_ID:
        raise not_found(f"message {message_id}")
    row = await messages.row(message_id)
    content: dict[str, Any] = json.loads(row.message or "{}")
    html = content.get("html")
    shown = untracked(str(html), [str(u) for u in content.get("links") or []], core) if html else None
    text = content.get("plain") or content.get("text")
    return page(request, "message.html", message=message_view(row), content=content, html=shown, text=text,
                subject=content.get("subject") or content.get("title"))  # fmt: skip


router = Router("/", route_handlers=[runs, run, cancel, message], dependencies=dependencies())
