"""Scenarios: upload (checked first), list, source, versions, pause / resume / archive, delete."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Router, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Schema
from litestar.params import FromPath, FromQuery

from ..interpreter.render import as_json_records
from ..interpreter.workspace import CheckTimeout
from .bodies import body_operation
from .core import CheckFailed, Core, WorkspaceError, WorkspaceTooLarge, normalise_path
from .deps import KEYED, After, AfterName, Limit, get_core, instant, not_found, require_api_key
from .models import (
    DeployResult,
    FilesUpload,
    ScenarioDetail,
    ScenarioPage,
    ScenarioSummary,
    ScenarioVersion,
    VersionPage,
)
from .problems import Problem, problems


def check_failed(error: CheckFailed) -> Problem:
    diagnostics = as_json_records(error.result.diagnostics)
    errors = [d for d in diagnostics if d["severity"] == "error"]
    first = errors[0] if errors else {}
    where = f"{first.get('filename')}:{first['location']['row']}:{first['location']['column']}" if first else ""
    return Problem(
        422, "workspace-has-errors",
        f"the workspace has {len(errors)} error(s); nothing was deployed. First: {where}: {first.get('message', '')}",
        diagnostics=diagnostics,
    )  # fmt: skip


async def uploaded_files(request: Request[Any, Any, Any], path: str | None = None) -> dict[str, str]:
    """The files of an upload request, by safe relative path (400 / 415 Problems otherwise);
    ``path`` names the file of a text/plain body."""
    kind = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            upload = msgspec.json.decode(await request.body(), type=FilesUpload)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise Problem(400, "invalid-request", f"the body is not a files upload: {error}") from error
        files = upload.files
    elif kind == "text/plain":
        if not path:
            raise Problem(400, "invalid-request", "a text/plain upload needs ?path=name.scn")
        files = {path: await _text(await request.body(), path)}
    elif kind == "multipart/form-data":
        form = await request.form()
        files = {}
        for field, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[value.filename or field] = await _text(await value.read(), value.filename or field)
            elif isinstance(value, str) and field.endswith((".scn", ".html", ".txt", ".csv")):
                files[field] = value
    else:
        raise Problem(
            415, "unsupported-media-type",
            "upload scenarios as application/json ({\"files\": {\"path\": \"text\"}}), text/plain with ?path=, "
            "or multipart/form-data with one file per part",
        )  # fmt: skip
    if not files:
        raise Problem(400, "invalid-request", "the upload holds no files")
    try:
        return {normalise_path(path): text for path, text in files.items()}
    except WorkspaceError as error:
        raise Problem(400, "invalid-request", str(error)) from error


async def _text(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Problem(400, "invalid-request", f"{path}: not UTF-8 text (byte {error.start})") from error


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
    request: Request[Any, Any, Any], core: NamedDependency[Core], path: FromQuery[str | None] = None
) -> DeployResult:
    """Upload .scn files with their templates and pools; the whole workspace is checked first.

    Bodies: `application/json` `{"files": {"path": "text"}}`, `text/plain` with `?path=`,
    or `multipart/form-data` with one file per part. A workspace with errors answers 422
    with the same diagnostics as `scn check --format json` and changes nothing."""
    files = await uploaded_files(request, path)
    if not any(p.endswith(".scn") for p in files) and not any(p.endswith(".scn") for p in core.files):
        raise Problem(400, "invalid-request", "the upload holds no .scn file and the workspace has none")
    try:
        versions = await core.deploy(files)
    except CheckFailed as error:
        raise check_failed(error) from error
    except WorkspaceTooLarge as error:
        raise Problem(413, "too-large", f"{error}; nothing was deployed (limits: docs/api.md)") from error
    except CheckTimeout as error:
        raise Problem(
            422, "check-took-too-long",
            f"checking the workspace took longer than {core.check_seconds:g} s, so nothing was deployed: "
            "upload fewer or smaller files at once",
        ) from error  # fmt: skip
    warnings = as_json_records((await core.checked()).diagnostics)
    return DeployResult(versions=versions, warnings=warnings, files=sorted(files))


async def scenario_summaries(core: Core) -> list[ScenarioSummary]:
    """Every scenario by name: its title, state, version, file and runs by status."""
    counts = await core.store.run_counts()
    files = await core.scenario_files()
    summaries = []
    for row in await core.store.scenarios():
        bundle = core.engine.bundles.get(row.bundle)
        program = bundle.scenarios.get(row.name) if bundle is not None else None
        summaries.append(ScenarioSummary(
            name=row.name, title=program.title if program else None, state=row.state, version=row.version,
            file=files.get(row.name), runs=counts.get(row.name, {}),
        ))  # fmt: skip
    return summaries


@get("/", responses=problems(400, 401))
async def list_scenarios(core: NamedDependency[Core], after: AfterName = "", limit: Limit = 50) -> ScenarioPage:
    """Every scenario by name: its state, version, file and runs by status."""
    later = [s for s in await scenario_summaries(core) if s.name > after]
    page = later[:limit]
    return ScenarioPage(items=page, next=page[-1].name if len(later) > limit else None)


async def scenario_summary(core: Core, name: str) -> ScenarioSummary:
    found = next((s for s in await scenario_summaries(core) if s.name == name), None)
    if found is None:
        raise not_found(f"scenario {name!r}")
    return found


@get("/{name:str}", responses=problems(400, 401, 404))
async def scenario(core: NamedDependency[Core], name: FromPath[str]) -> ScenarioDetail:
    summary = await scenario_summary(core, name)
    versions = await scenario_versions(core, name)
    source = core.files.get(summary.file) if summary.file else None
    return ScenarioDetail(**msgspec.structs.asdict(summary), source=source, versions=versions)


@get("/{name:str}/versions", responses=problems(400, 401, 404))
async def versions(
    core: NamedDependency[Core], name: FromPath[str], after: After = 0, limit: Limit = 50
) -> VersionPage:
    """A scenario's versions, oldest first."""
    await scenario_summary(core, name)
    later = [v for v in await scenario_versions(core, name) if v.version > after]
    page = later[:limit]
    return VersionPage(items=page, next=page[-1].version if len(later) > limit else None)


async def scenario_versions(core: Core, name: str) -> list[ScenarioVersion]:
    return [
        ScenarioVersion(version=v, bundle=b, digest=d, created_at=instant(at))
        for v, b, d, at in await core.store.scenario_versions(name)
    ]


async def set_state(core: Core, name: str, state: str) -> ScenarioSummary:
    """Pause ("paused"), resume ("active") or archive ("archived") a scenario."""
    current = await scenario_summary(core, name)
    if current.state == "archived" and state == "paused":
        raise Problem(409, "conflict", f"scenario {name!r} is archived; resume it before pausing")
    await core.engine.set_state(name, state)
    return await scenario_summary(core, name)


@post("/{name:str}/pause", status_code=200, responses=problems(400, 401, 404, 409))
async def pause(core: NamedDependency[Core], name: FromPath[str]) -> ScenarioSummary:
    """Hold every run where it is; nothing new starts until it is resumed."""
    return await set_state(core, name, "paused")


@post("/{name:str}/resume", status_code=200, responses=problems(400, 401, 404))
async def resume(core: NamedDependency[Core], name: FromPath[str]) -> ScenarioSummary:
    return await set_state(core, name, "active")


@post("/{name:str}/archive", status_code=200, responses=problems(400, 401, 404))
async def archive(core: NamedDependency[Core], name: FromPath[str]) -> ScenarioSummary:
    """No new runs start; runs in flight finish on their version."""
    return await set_state(core, name, "archived")


@delete("/{name:str}", status_code=200, responses=problems(400, 401, 404, 409, 422))
async def remove(core: NamedDependency[Core], name: FromPath[str]) -> ScenarioSummary:
    """Cancel the scenario's live runs, archive it, and drop its file from the workspace
    (refused when that file declares anything else: upload it without the scenario)."""
    summary = await scenario_summary(core, name)
    path = summary.file
    if path is not None:
        symbols = (await core.checked()).symbols
        others = [n for n, f in symbols.scenario_files.items() if f == path and n != name]
        others += [n for n, f in symbols.decl_files.items() if f == path]
        if others:
            raise Problem(
                409, "conflict",
                f"{path} also declares {', '.join(sorted(others))}; upload {path} without scenario {name} instead",
            )  # fmt: skip
    live: list[int] = []
    after = 0
    while page := await core.store.list_runs(scenario=name, after=after, limit=1000):
        live += [r.id for r in page if r.status in ("running", "waiting", "awaiting")]
        after = page[-1].id
    await core.store.cancel_runs(live, core.now_ms(), "the scenario was deleted")
    await core.engine.set_state(name, "archived")
    if path is not None:
        try:
            await core.remove_files([path])
        except CheckFailed as error:
            raise check_failed(error) from error
    return await scenario_summary(core, name)


router = Router(
    "/api/scenarios",
    route_handlers=[upload, list_scenarios, scenario, versions, pause, resume, archive, remove],
    guards=[require_api_key],
    security=KEYED,
    dependencies={"core": Provide(get_core, sync_to_thread=False)},
    tags=["scenarios"],
)
