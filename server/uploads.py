"""The files of a workspace upload request (the API's and the console's), by safe relative path."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.datastructures import UploadFile

from .core import WorkspaceError, normalise_path
from .models import FilesUpload
from .problems import Problem


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
