"""Contact imports from CSV: reading the file, and the durable job that imports it.

One job runs the same whether the API started it (`POST /api/contacts/import`) or
`scn import contacts`: its rows and how far it got are in the store (store/imports.py),
so an import a stop or a crash interrupted goes on where it stopped. Every row becomes a
`contact.updated` event keyed `import:<job>:<line>`, accepted chunk by chunk; the engine
applies them as it applies any event (the contacts exist once it has).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from typing import Any

import msgspec

from ..store.imports import ImportRow, ImportStore
from .engine import Engine, KeyConflict
from .events import ContactIn, EventError, EventInput, explain

CONTACT_COLUMNS = ("id", "email", "phone", "push_token", "first_name", "last_name", "language", "timezone", "country",
                   "group")  # fmt: skip
#: Rows accepted in one transaction, and recorded as done together.
IMPORT_CHUNK = 1000
#: Told (rows done, rows in all) after each chunk.
Progress = Callable[[int, int], None]


class CsvError(ValueError):
    """A file that cannot be imported at all: no header with `id`, or not readable as CSV.
    ``line`` is where (1: the header)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


def read_contacts(text: str) -> tuple[list[tuple[int, dict[str, str]]], list[dict[str, Any]]]:
    """The rows of a contacts CSV, each with its line, and the rows that cannot be imported
    (no id, more values than the header has columns) as errors {line, error}. CsvError when
    the file as a whole cannot be read."""
    # A lone CR ends a line; strict: an unclosed quote is an error, not a field running to the end.
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[dict[str, Any]] = []
    line = 1  # where the row being read starts
    try:
        if not reader.fieldnames or "id" not in [name.strip() for name in reader.fieldnames]:
            raise CsvError(1, "the CSV needs a header row naming its columns, `id` among them")
        columns = len(reader.fieldnames)
        line = reader.line_num + 1
        for read in reader:
            extra: list[str] = read.pop(None, None) or []  # type: ignore[assignment]
            row = {k.strip(): v for k, v in read.items() if v is not None}
            if extra:
                errors.append({"line": line, "error": f"{columns + len(extra)} values, but the header names "
                                                      f"{columns} columns"})  # fmt: skip
            elif not (row.get("id") or "").strip():
                errors.append({"line": line, "error": "no id"})
            else:
                rows.append((line, row))
            line = reader.line_num + 1
    except csv.Error as error:  # an unclosed quote, a field longer than the reader's limit
        hint = ": a quoted field that starts here is never closed" if "end of data" in str(error) else ""
        raise CsvError(line, f"not readable CSV: {error}{hint}") from None
    return rows, errors


def contact_of(row: dict[str, str]) -> ContactIn:
    """The contact a CSV row describes: its known columns, `subscribed.<channel>` columns
    (1, true, yes), the rest as attributes. msgspec.ValidationError when a value does not fit."""
    known = {k: v for k in CONTACT_COLUMNS if (v := (row.get(k) or "").strip())}
    subscriptions = {k[len("subscribed.") :]: v.strip().lower() in ("1", "true", "yes", "y")
                     for k, v in row.items() if k and k.startswith("subscribed.") and v and v.strip()}  # fmt: skip
    attributes = {k: v for k, v in row.items() if k and k not in CONTACT_COLUMNS and not k.startswith("subscribed.")
                  and v not in (None, "")}  # fmt: skip
    return msgspec.convert({**known, "subscriptions": subscriptions or None, "attributes": attributes or None},
                           ContactIn)  # fmt: skip


def _row_error(error: msgspec.ValidationError | EventError) -> str:
    if isinstance(error, EventError):
        return str(error)
    message, _, path = explain(str(error)).partition(" - at `")
    field = path.rstrip("`").removeprefix("$").removeprefix(".")
    return f"{field}: {message}" if field else message


async def run_import(
    engine: Engine, store: ImportStore, job: ImportRow, now_ms: Callable[[], int], progress: Progress | None = None,
    chunk: int = IMPORT_CHUNK,
) -> None:  # fmt: skip
    """Import the job's rows from where it stopped, ``chunk`` rows a transaction, its
    progress recorded in ``store`` (the engine's) after each (``progress`` told too);
    done when the last is."""
    rows = job.rows
    mark = await store.privacy_mark()
    for start in range(job.position, len(rows), chunk):
        if (now_mark := await store.privacy_mark()) != mark:  # a contact erased meanwhile: its rows are emptied
            rows, mark = await store.import_rows(job.id) or rows, now_mark
        events, lines = [], []
        for line, row in rows[start : start + chunk]:
            if not row:  # the contact was erased while the job waited (store/privacy.py)
                job.errors.append({"line": line, "error": "not imported: the contact was erased meanwhile"})
                continue
            try:
                contact = contact_of(row)
                key = f"import:{job.id}:{line}"
                events.append(engine.event_in(EventInput(type="contact.updated", key=key, contact=contact)))
                lines.append(line)
            except (msgspec.ValidationError, EventError) as error:
                job.errors.append({"line": line, "error": _row_error(error)})
        if events:
            try:
                results = await engine.accept(events)
            except KeyConflict as error:  # the same job's lines, accepted before with other content
                results = []
                job.errors.append({"line": lines[0], "error": f"{error}; lines {lines[0]}-{lines[-1]} were not "
                                                              "imported"})  # fmt: skip
            job.accepted += sum(1 for _, duplicate in results if not duplicate)
            job.duplicates += sum(1 for _, duplicate in results if duplicate)
        job.position = min(start + chunk, len(rows))
        done = now_ms() if job.position >= len(rows) else None
        await store.import_progress(job.id, job.position, job.accepted, job.duplicates, job.errors, done)
        if done is not None:
            job.status = "done"
        if progress is not None:
            progress(job.position, len(rows))
        await asyncio.sleep(0)  # let requests in between chunks
    if not rows:
        await store.import_progress(job.id, 0, 0, 0, job.errors, now_ms())
        job.status = "done"
