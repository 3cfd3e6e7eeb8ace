"""Upload: drop .scn files and templates; the checker's findings are shown on the source,
where they can be fixed and checked again; only a clean workspace can be published, and
publishing makes a version of each scenario that changed (as `POST /api/scenarios` does).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import PurePosixPath
from typing import Any

from litestar import Request, Router, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.response import Template

from ...interpreter.checker import CheckResult
from ...interpreter.render import as_json_records
from ...interpreter.workspace import CheckTimeout
from ..core import CheckFailed, Core, WorkspaceError, WorkspaceTooLarge, check_files, normalise_path, within_limits
from ..deps import get_core
from ..problems import Problem
from ..uploads import uploaded_files
from .auth import console_actor
from .frame import page
from .highlight import source_view
from .text import _

#: Extensions shown as scn source (highlighted); everything else is shown as plain text.
SCN = ".scn"


@get("/upload")
async def upload_form(request: Request[Any, Any, Any], core: NamedDependency[Core]) -> Template:
    return page(request, "upload.html", files=sorted(core.files))


def placed(path: str, known: dict[str, str]) -> str:
    """Where an uploaded file goes: a browser sends only a file's name, so a name that one
    file of the workspace has (`unpaid_reminder.en.html`) replaces that file
    (`templates/unpaid_reminder.en.html`); any other name stays as it came."""
    if path in known:
        return path
    same = [k for k in known if PurePosixPath(k).name == PurePosixPath(path).name]
    return same[0] if len(same) == 1 else path


async def _files(request: Request[Any, Any, Any], core: Core) -> dict[str, str]:
    """The files of the form: uploaded ones, or the `path` / `text` pairs of the check page."""
    form = await request.form()
    if any(isinstance(v, UploadFile) and v.filename for _k, v in form.multi_items()):
        return {placed(path, core.files): text for path, text in (await uploaded_files(request)).items()}
    paths, texts = form.getall("path") if "path" in form else [], form.getall("text") if "text" in form else []
    if not paths or len(paths) != len(texts):
        raise Problem(400, "invalid-request", _("choose one or more files to upload"))
    try:
        # A textarea sends its lines with CR LF, whatever the file had.
        pairs = zip(paths, texts, strict=True)
        return {normalise_path(str(path)): str(text).replace("\r\n", "\n") for path, text in pairs}
    except WorkspaceError as error:
        raise Problem(400, "invalid-request", str(error)) from error


async def _check(core: Core, files: dict[str, str]) -> CheckResult:
    workspace = {**core.files, **files}
    try:
        within_limits(workspace)
        return await asyncio.to_thread(check_files, workspace, time.monotonic() + core.check_seconds)
    except WorkspaceTooLarge as error:
        raise Problem(413, "too-large", f"{error}; nothing was published") from error
    except CheckTimeout as error:
        took = f"checking took longer than {core.check_seconds:g} s: upload fewer or smaller files"
        raise Problem(422, "check-took-too-long", took) from error


def _checked_page(request: Request[Any, Any, Any], core: Core, files: dict[str, str], result: CheckResult) -> Template:
    records = as_json_records(result.diagnostics)
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_file[str(record.get("filename"))].append(record)
    uploaded = [
        {"path": path, "text": text, "findings": by_file.get(path, []),
         "view": source_view(text, by_file.get(path, []), scn=path.endswith(SCN))}
        for path, text in sorted(files.items())
    ]  # fmt: skip
    elsewhere = [
        {"path": path, "findings": found, "view": source_view(core.files.get(path, ""), found, scn=path.endswith(SCN))}
        for path, found in sorted(by_file.items()) if path not in files
    ]  # fmt: skip
    errors = sum(1 for r in records if r["severity"] == "error")
    return page(request, "upload_check.html", files=uploaded, elsewhere=elsewhere, errors=errors,
                warnings=len(records) - errors, status=422 if errors else 200)  # fmt: skip


@post("/upload", status_code=200)
async def check(request: Request[Any, Any, Any], core: NamedDependency[Core]) -> Template:
    """Check the workspace with these files added; nothing is published yet."""
    files = await _files(request, core)
    return _checked_page(request, core, files, await _check(core, files))


@post("/upload/publish", status_code=200)
async def publish(request: Request[Any, Any, Any], core: NamedDependency[Core]) -> Template:
    """Check again and deploy: a new version of each scenario whose program changed."""
    files = await _files(request, core)
    try:
        versions = await core.deploy(files, actor=console_actor(request))
    except CheckFailed as error:
        return _checked_page(request, core, files, error.result)
    except WorkspaceTooLarge as error:
        raise Problem(413, "too-large", f"{error}; nothing was published") from error
    except CheckTimeout as error:
        raise Problem(422, "check-took-too-long", f"checking took longer than {core.check_seconds:g} s") from error
    return page(request, "published.html", versions=sorted(versions.items()), files=sorted(files))


router = Router(
    "/", route_handlers=[upload_form, check, publish], dependencies={"core": Provide(get_core, sync_to_thread=False)}
)
