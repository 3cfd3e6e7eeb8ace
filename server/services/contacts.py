"""Contacts: one contact as the API shows it, finding contacts, and CSV imports (with progress)."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import msgspec

from ...interpreter.runtime import EventInput
from ...interpreter.runtime.engine import KeyConflict
from ...interpreter.runtime.events import ContactIn, EventError
from ...interpreter.store.imports import ImportRow
from ...interpreter.views import channel_flags
from ..core import Core
from ..deps import not_found
from ..models import Contact, ImportJob
from ..problems import Problem

CONTACT_COLUMNS = ("id", "email", "phone", "push_token", "first_name", "last_name", "language", "timezone", "country",
                   "group")  # fmt: skip
IMPORT_CHUNK = 1000


class ContactService:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def record(self, contact_id: str) -> dict[str, Any] | None:
        """The stored contact (its columns), or None."""
        return (await self.core.store.contacts([contact_id])).get(contact_id)

    async def view(self, contact_id: str) -> Contact:
        """A contact's fields, lists, segments, group, balances and subscriptions (404 if unknown)."""
        store = self.core.store
        record = await self.record(contact_id)
        if record is None:
            raise not_found(f"contact {contact_id!r}")
        subscribed, reachable = channel_flags(record)
        return Contact(
            id=contact_id, email=record.get("email"), phone=record.get("phone"), first_name=record.get("first_name"),
            last_name=record.get("last_name"), language=record.get("language"), timezone=record.get("timezone"),
            group=record.get("grp"), attributes=record.get("attributes") or {},
            lists=sorted(await store.lists_of(contact_id)), segments=sorted(await store.segments_of(contact_id)),
            subscriptions={c: {"subscribed": subscribed[c], "reachable": reachable[c]} for c in subscribed},
            bonus_balance=str(record.get("bonus_balance") or "0"),
            lifetime_spend=str(record.get("lifetime_spend") or "0"), orders_count=int(record.get("orders_count") or 0),
        )  # fmt: skip

    async def find(self, query: str, limit: int) -> list[dict[str, Any]]:
        """Contacts whose id starts with ``query`` or whose email is it."""
        return await self.core.store.find_contacts(query, limit)

    async def first_id(self) -> str:
        """Some contact's id ("" when there is none)."""
        return next(iter(await self.core.store.contact_ids("", 1)), "")

    async def orders(self, contact_id: str) -> list[dict[str, Any]]:
        """A contact's orders, oldest first."""
        return await self.core.store.contact_orders(contact_id)

    # ------------------------------------------------------------ CSV imports

    async def start_import(self, text: str) -> ImportJob:
        """Start importing contacts from CSV text (a header with an `id` column; 422 otherwise);
        the job goes on in the background, survives a restart, and says how far it is."""
        reader = csv.DictReader(io.StringIO(text, newline=""))  # a lone CR ends a line, as in any CSV
        try:
            if not reader.fieldnames or "id" not in reader.fieldnames:
                raise Problem(422, "invalid-request", "the CSV needs a header row with an `id` column")
            rows = [(number + 2, row) for number, row in enumerate(reader)]
        except csv.Error as error:  # a field longer than the reader's limit
            raise Problem(422, "invalid-request", f"the CSV is not readable CSV: {error}") from None
        missing = {line for line, row in rows if not (row.get("id") or "").strip()}
        errors: list[dict[str, Any]] = [{"line": line, "error": "no id"} for line in sorted(missing)]
        rows = [(line, row) for line, row in rows if line not in missing]
        job_id = await self.core.store.create_import(len(rows) + len(missing), rows, errors, self.core.now_ms())
        stored = await self.core.store.import_job(job_id)
        assert stored is not None
        stored.rows = rows
        self._go_on(stored)
        return _job_view(stored)

    async def import_job(self, job_id: int) -> ImportJob:
        """An import by id, however long ago and whatever restarts since (404 if unknown)."""
        stored = await self.core.store.import_job(job_id)
        if stored is None:
            raise not_found(f"import {job_id}")
        return _job_view(stored)

    async def resume_imports(self) -> int:
        """Go on with the imports a restart interrupted; how many there were."""
        unfinished = await self.core.store.unfinished_imports()
        for job in unfinished:
            self._go_on(job)
        return len(unfinished)

    def _go_on(self, job: ImportRow) -> None:
        core = self.core
        task = asyncio.create_task(self._run_import(job))
        core.background.add(task)
        task.add_done_callback(core.background.discard)

    async def _run_import(self, job: ImportRow) -> None:
        engine = self.core.engine
        rows = job.rows
        for start in range(job.position, len(rows), IMPORT_CHUNK):
            events, lines = [], []
            for line, row in rows[start : start + IMPORT_CHUNK]:
                try:
                    contact = _contact(row)
                    key = f"import:{job.id}:{line}"
                    events.append(engine.event_in(EventInput(type="contact.updated", key=key, contact=contact)))
                    lines.append(line)
                except (msgspec.ValidationError, EventError) as error:
                    job.errors.append({"line": line, "error": str(error)})
            if events:
                try:
                    results = await engine.accept(events)
                except KeyConflict as error:  # the same file imported again, changed
                    results = []
                    job.errors.append(
                        {"line": lines[0], "error": f"{error}; lines {lines[0]}-{lines[-1]} were not imported"}
                    )
                job.accepted += sum(1 for _, duplicate in results if not duplicate)
                job.duplicates += sum(1 for _, duplicate in results if duplicate)
            job.position = min(start + IMPORT_CHUNK, len(rows))
            done = self.core.now_ms() if job.position >= len(rows) else None
            await self.core.store.import_progress(job.id, job.position, job.accepted, job.duplicates, job.errors, done)
            await asyncio.sleep(0)  # let requests in between chunks
        if not rows:
            await self.core.store.import_progress(job.id, 0, 0, 0, job.errors, self.core.now_ms())


def _job_view(job: ImportRow) -> ImportJob:
    return ImportJob(id=job.id, status=job.status, total=job.total, accepted=job.accepted,
                     duplicates=job.duplicates, errors=job.errors)  # fmt: skip


def _contact(row: dict[str, str]) -> ContactIn:
    known = {k: v for k in CONTACT_COLUMNS if (v := (row.get(k) or "").strip())}
    subscriptions = {k[len("subscribed.") :]: v.strip().lower() in ("1", "true", "yes", "y")
                     for k, v in row.items() if k and k.startswith("subscribed.") and v and v.strip()}  # fmt: skip
    attributes = {k: v for k, v in row.items() if k and k not in CONTACT_COLUMNS and not k.startswith("subscribed.")
                  and v not in (None, "")}  # fmt: skip
    return msgspec.convert({**known, "subscriptions": subscriptions or None, "attributes": attributes or None},
                           ContactIn)  # fmt: skip
