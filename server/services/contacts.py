"""Contacts: one contact as the API shows it, finding contacts, and CSV imports (with progress)."""

from __future__ import annotations

import asyncio
from typing import Any

from ...interpreter.runtime.imports import CsvError, read_contacts, run_import
from ...interpreter.store.imports import ImportRow
from ...interpreter.views import channel_flags
from ..core import Core
from ..deps import not_found
from ..models import Contact, ImportJob
from ..problems import Problem


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
        try:
            rows, errors = read_contacts(text)
        except CsvError as error:
            where = {"field": "body", "line": error.line, "message": error.message}
            raise Problem(422, "invalid-request", f"the CSV, {error}", errors=[where]) from None
        job_id = await self.core.store.create_import(len(rows) + len(errors), rows, errors, self.core.now_ms())
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
        task = asyncio.create_task(run_import(core.engine, core.store, job, core.now_ms))
        core.background.add(task)
        task.add_done_callback(core.background.discard)


def _job_view(job: ImportRow) -> ImportJob:
    return ImportJob(id=job.id, status=job.status, total=job.total, accepted=job.accepted,
                     duplicates=job.duplicates, errors=job.errors)  # fmt: skip
