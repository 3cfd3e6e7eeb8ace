"""Scenarios: upload (checked first), list, source, versions, pause / resume / archive, delete."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Router, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Schema
from litestar.params import FromPath, FromQuery, JSONBody

from ..interpreter.versions import ScenarioDiff
from ..interpreter.versions.backtest import BacktestResult
from .bodies import body_operation
from .core import Core
from .deps import KEYED, After, AfterName, Limit, api_actor, require_api_key
from .models import (
    AuditPage,
    BacktestRequest,
    DeployResult,
    PublishRequest,
    PublishResult,
    ScenarioDetail,
    ScenarioPage,
    ScenarioSummary,
    VersionPage,
)
from .problems import problems
from .services import ScenarioService, dependencies
from .uploads import uploaded_files

#: An upload's body, in each form it may take.
UPLOAD = body_operation(
    "Workspace files: `.scn` scenarios with the templates and code pools they name.",
    {
        "application/json": Schema(
            type=OpenAPIType.OBJECT, required=["files"], additional_properties=False,
            properties={"files": Schema(type=OpenAPIType.OBJECT, additional_properties=Schema(type=OpenAPIType.STRING),
                                        min_properties=1, description="file text by relative path")},
        ),
        "text/plain": Schema(type=OpenAPIType.STRING, description="one file, named by `?path=`"),
        "multipart/form-data": Schema(type=OpenAPIType.OBJECT, additional_properties=Schema(
            type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY), description="one file per part"),
    },
)  # fmt: skip


@post("/", status_code=201, operation_class=UPLOAD, responses=problems(400, 401, 413, 415, 422))
async def upload(
    request: Request[Any, Any, Any], scenarios: NamedDependency[ScenarioService], path: FromQuery[str | None] = None,
    draft: FromQuery[bool] = False,
) -> DeployResult:  # fmt: skip
    """Upload .scn files with their templates and pools; the whole workspace is checked first.

    Bodies: `application/json` `{"files": {"path": "text"}}`, `text/plain` with `?path=`,
    or `multipart/form-data` with one file per part. A workspace with errors answers 422
    with the same diagnostics as `scn check --format json` and changes nothing. With
    `?draft=true` the new versions are drafts: no run starts on them until one is published."""
    files = await uploaded_files(request, path)
    return await scenarios.deploy(files, draft=draft, actor=api_actor(request))


@post("/{name:str}/publish", status_code=200, responses=problems(400, 401, 404, 422))
async def publish(
    request: Request[Any, Any, Any], scenarios: NamedDependency[ScenarioService], name: FromPath[str],
    data: JSONBody[PublishRequest],
) -> PublishResult:  # fmt: skip
    """Make a version current (a draft, or any other): new runs start on it. Runs in flight
    stay on the version they started on (`"runs": "stay"`), or move to this one (`"move"`):
    each to its step's counterpart, keeping its wake-up time; those whose step it lacks
    follow `unmatched` (`"finish"` on their version, `"exit"`, or `{"step": "@label"}`).
    All in one transaction. `"dry_run": true` answers the counts and changes nothing."""
    return await scenarios.publish(name, data, api_actor(request))


@post("/{name:str}/rollback", status_code=200, responses=problems(400, 401, 404, 409, 422))
async def rollback(
    request: Request[Any, Any, Any], scenarios: NamedDependency[ScenarioService], name: FromPath[str],
    data: JSONBody[PublishRequest],
) -> PublishResult:  # fmt: skip
    """Make an earlier version current again (the runs in flight as with publish)."""
    return await scenarios.rollback(name, data, api_actor(request))


@post("/{name:str}/backtest", status_code=200, responses=problems(400, 401, 404, 409, 413, 422))
async def backtest(
    scenarios: NamedDependency[ScenarioService], name: FromPath[str], data: JSONBody[BacktestRequest]
) -> BacktestResult:
    """Replay the events of a period (`since`, default `30d`; `until`, default now) through a
    version of the scenario (`version`, default its newest, a draft or not; or `files`: the
    served workspace with these files, checked first) in virtual time on an in-memory copy:
    nothing is sent, nothing stored changes. Answers the messages it would have sent beside
    those the scenario sent (added, removed, moved; per template, step and coupon), and the
    first `limit` changed messages. Contacts are replayed as they are now."""
    return await scenarios.backtest(name, data)


@get("/{name:str}/audit", responses=problems(400, 401, 404))
async def audit(
    scenarios: NamedDependency[ScenarioService], name: FromPath[str], after: After = 0, limit: Limit = 50
) -> AuditPage:
    """Who changed the scenario, when and how (uploads, drafts, publications, rollbacks,
    pause, resume, archive, delete), oldest first."""
    return await scenarios.audit(name, after, limit)


@get("/", responses=problems(400, 401))
async def list_scenarios(
    scenarios: NamedDependency[ScenarioService], after: AfterName = "", limit: Limit = 50
) -> ScenarioPage:
    """Every scenario by name: its state, version, file and runs by status."""
    later = [s for s in await scenarios.summaries() if s.name > after]
    page = later[:limit]
    return ScenarioPage(items=page, next=page[-1].name if len(later) > limit else None)


@get("/{name:str}", responses=problems(400, 401, 404))
async def scenario(
    core: NamedDependency[Core], scenarios: NamedDependency[ScenarioService], name: FromPath[str]
) -> ScenarioDetail:
    summary = await scenarios.summary(name)
    versions = await scenarios.versions(name)
    source = core.files.get(summary.file) if summary.file else None
    return ScenarioDetail(**msgspec.structs.asdict(summary), source=source, versions=versions)


@get("/{name:str}/versions", responses=problems(400, 401, 404))
async def versions(
    scenarios: NamedDependency[ScenarioService], name: FromPath[str], after: After = 0, limit: Limit = 50
) -> VersionPage:
    """A scenario's versions, oldest first."""
    await scenarios.summary(name)
    later = [v for v in await scenarios.versions(name) if v.version > after]
    page = later[:limit]
    return VersionPage(items=page, next=page[-1].version if len(later) > limit else None)


@get("/{name:str}/diff", responses=problems(400, 401, 404, 422))
async def diff(
    scenarios: NamedDependency[ScenarioService],
    name: FromPath[str],
    old: FromQuery[int | None] = None,
    new: FromQuery[int | None] = None,
) -> ScenarioDiff:
    """What changed between two versions, read from their compiled programs: steps added,
    removed, moved or changed (waits, conditions, templates, shares, coupons) and the
    scenario's headers. `new` defaults to the current version, `old` to the one before it."""
    return await scenarios.diff(name, old, new)


@post("/{name:str}/pause", status_code=200, responses=problems(400, 401, 404, 409))
async def pause(
    request: Request[Any, Any, Any], scenarios: NamedDependency[ScenarioService], name: FromPath[str]
) -> ScenarioSummary:
    """Hold every run where it is; nothing new starts until it is resumed."""
    return await scenarios.set_state(name, "paused", api_actor(request))


@post("/{name:str}/resume", status_code=200, responses=problems(400, 401, 404))
async def resume(
    request: Request[Any, Any, Any], scenarios: NamedDependency[ScenarioService], name: FromPath[str]
) -> ScenarioSummary:
    return await scenarios.set_state(name, "active", api_actor(request))


@post("/{name:str}/archive", status_code=200, responses=problems(400, 401, 404))
async def archive(
    request: Request[Any, Any, Any], scenarios: NamedDependency[ScenarioService], name: FromPath[str]
) -> ScenarioSummary:
    """No new runs start; runs in flight finish on their version."""
    return await scenarios.set_state(name, "archived", api_actor(request))


@delete("/{name:str}", status_code=200, responses=problems(400, 401, 404, 409, 422))
async def remove(
    request: Request[Any, Any, Any], scenarios: NamedDependency[ScenarioService], name: FromPath[str]
) -> ScenarioSummary:
    """Cancel the scenario's live runs, archive it, and drop its file from the workspace
    (refused when that file declares anything else: upload it without the scenario)."""
    return await scenarios.remove(name, api_actor(request))


router = Router(
    "/api/scenarios",
    route_handlers=[
        upload,
        list_scenarios,
        scenario,
        versions,
        diff,
        publish,
        rollback,
        backtest,
        audit,
        pause,
        resume,
        archive,
        remove,
    ],
    guards=[require_api_key],
    security=KEYED,
    dependencies=dependencies(),
    tags=["scenarios"],
)
