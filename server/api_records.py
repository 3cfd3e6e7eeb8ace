"""Orders, products, contact CSV imports (with progress), template previews and test sends."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import msgspec
from litestar import Request, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath, FromQuery, JSONBody

from ..interpreter.clock import ms_of
from ..interpreter.runtime import EventInput
from ..interpreter.runtime.batch import Batch
from ..interpreter.runtime.engine import KeyConflict
from ..interpreter.runtime.events import ContactIn, EventError, Key, OrderIn, ProductIn, product_errors
from ..interpreter.runtime.facts import TypedContactView, contact_zone
from ..interpreter.store import Changes, OutboxRow
from ..stdlib import messages
from .bodies import body_operation
from .core import Core
from .deps import KEYED, Id, get_core, not_found, require_api_key
from .intake import accept, admit
from .models import Accepted, Strict
from .problems import Problem, problems

#: Order statuses that have an event of their own; any other is `order.status_changed`.
STATUS_EVENTS = {"created": "order.created", "unpaid": "order.unpaid", "paid": "order.paid",
                 "cancelled": "order.cancelled", "refunded": "order.refunded"}  # fmt: skip
CONTACT_COLUMNS = ("id", "email", "phone", "push_token", "first_name", "last_name", "language", "timezone", "country",
                   "group")  # fmt: skip
IMPORT_CHUNK = 1000


class OrderUpsert(Strict):
    """An order and its status; the status picks the event (`paid` -> `order.paid`...)."""

    contact: ContactIn
    order: OrderIn
    key: Key | None = None


@post("/orders", status_code=202, responses=problems(400, 401, 409, 413, 415, 422))
async def upsert_order(core: NamedDependency[Core], data: JSONBody[OrderUpsert]) -> Accepted:
    status = data.order.status or "created"
    kind = STATUS_EVENTS.get(status, "order.status_changed")
    extra = {"status": status} if kind == "order.status_changed" else {}
    event = EventInput(type=kind, key=data.key, contact=data.contact, order=data.order, data=extra)
    row = admit(core, event, "the order")
    ((event_id, duplicate),) = await accept(core, [row])
    return Accepted(key=row.key, id=event_id, duplicate=duplicate)


@post("/products", status_code=200, responses=problems(400, 401, 413, 415, 422))
async def upsert_products(core: NamedDependency[Core], data: JSONBody[list[ProductIn]]) -> dict[str, int]:
    """Add or update catalogue products (used by recommendations)."""
    errors = [e for index, p in enumerate(data) for e in product_errors(p, f"[{index}]")]
    if errors:
        raise Problem(422, "invalid-request", f"{errors[0]['field']}: {errors[0]['message']}; nothing was changed",
                      errors=errors)  # fmt: skip
    now = core.now_ms()
    rows = [
        {"id": p.id, "name": p.name, "category": p.category, "price": str(p.price) if p.price is not None else None,
         "currency": p.currency, "url": p.url, "image": p.image,
         "created_at": ms_of(p.created_at) if p.created_at else now}
        for p in data
    ]  # fmt: skip
    await core.store.commit(Changes(products=rows))
    return {"products": len(rows)}


# ---------------------------------------------------------------- CSV imports


class ImportJob(msgspec.Struct, kw_only=True):
    id: int
    status: str  # "running", "done"
    total: int
    accepted: int = 0
    duplicates: int = 0
    #: Lines that could not become a contact, with why.
    errors: list[dict[str, Any]] = []


def _contact(row: dict[str, str]) -> ContactIn:
    known = {k: v for k in CONTACT_COLUMNS if (v := (row.get(k) or "").strip())}
    subscriptions = {k[len("subscribed.") :]: v.strip().lower() in ("1", "true", "yes", "y")
                     for k, v in row.items() if k and k.startswith("subscribed.") and v and v.strip()}  # fmt: skip
    attributes = {k: v for k, v in row.items() if k and k not in CONTACT_COLUMNS and not k.startswith("subscribed.")
                  and v not in (None, "")}  # fmt: skip
    return msgspec.convert({**known, "subscriptions": subscriptions or None, "attributes": attributes or None},
                           ContactIn)  # fmt: skip


async def _run_import(core: Core, job: ImportJob, rows: list[tuple[int, dict[str, str]]]) -> None:
    for start in range(0, len(rows), IMPORT_CHUNK):
        events, lines = [], []
        for line, row in rows[start : start + IMPORT_CHUNK]:
            try:
                contact = _contact(row)
                key = f"import:{job.id}:{line}"
                events.append(core.engine.event_in(EventInput(type="contact.updated", key=key, contact=contact)))
                lines.append(line)
            except (msgspec.ValidationError, EventError) as error:
                job.errors.append({"line": line, "error": str(error)})
        if events:
            try:
                results = await core.engine.accept(events)
            except KeyConflict as error:  # the same file imported again, changed
                results = []
                job.errors.append(
                    {"line": lines[0], "error": f"{error}; lines {lines[0]}-{lines[-1]} were not imported"}
                )
            job.accepted += sum(1 for _, duplicate in results if not duplicate)
            job.duplicates += sum(1 for _, duplicate in results if duplicate)
        await asyncio.sleep(0)  # let requests in between chunks
    job.status = "done"


#: A contact import's body.
CONTACTS_CSV = body_operation(
    "CSV with a header: id, email, phone, first_name, last_name, language, timezone, country, group, "
    "subscribed.<channel>; any other column is an attribute",
    {"text/csv": Schema(type=OpenAPIType.STRING)},
)


@post("/contacts/import", status_code=202, operation_class=CONTACTS_CSV, responses=problems(400, 401, 413, 422))
async def import_contacts(core: NamedDependency[Core], request: Request[Any, Any, Any]) -> ImportJob:
    """Import contacts from CSV (header: id, email, phone, first_name, last_name, language,
    timezone, country, group, `subscribed.<channel>`, anything else an attribute). Answers
    at once with a job; follow it at /api/contacts/import/{id}."""
    try:
        text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Problem(400, "invalid-request", f"the CSV is not UTF-8 text (byte {error.start})") from error
    reader = csv.DictReader(io.StringIO(text, newline=""))  # a lone CR ends a line, as in any CSV
    try:
        if not reader.fieldnames or "id" not in reader.fieldnames:
            raise Problem(422, "invalid-request", "the CSV needs a header row with an `id` column")
        rows = [(number + 2, row) for number, row in enumerate(reader)]
    except csv.Error as error:  # a field longer than the reader's limit
        raise Problem(422, "invalid-request", f"the CSV is not readable CSV: {error}") from None
    job = ImportJob(id=len(core.imports) + 1, status="running", total=len(rows))
    missing = [line for line, row in rows if not (row.get("id") or "").strip()]
    job.errors += [{"line": line, "error": "no id"} for line in missing]
    rows = [(line, row) for line, row in rows if line not in set(missing)]
    core.imports[job.id] = job
    task = asyncio.create_task(_run_import(core, job, rows))
    core.background.add(task)
    task.add_done_callback(core.background.discard)
    return job


@get("/contacts/import/{job_id:int}", responses=problems(400, 401, 404))
async def import_progress(core: NamedDependency[Core], job_id: Id) -> ImportJob:
    """How far an import is: accepted, duplicates (lines imported before), errors by line."""
    job: ImportJob | None = core.imports.get(job_id)
    if job is None:
        raise not_found(f"import {job_id}")
    return job


# ---------------------------------------------------------------- previews and test sends


class Preview(msgspec.Struct, kw_only=True):
    template: str
    channel: str
    lang: str
    parts: dict[str, str]


async def render_preview(
    core: Core, name: str, contact_id: str, *, lang: str | None = None, extra: dict[str, Any] | None = None
) -> Preview:
    """Template ``name`` rendered for a contact: in the contact's language, or in ``lang``
    when the template has it; ``extra`` adds variables (a sample order or coupon).
    404 for an unknown template or contact, 422 when it does not render."""
    bundle = core.engine.current
    template = bundle.templates.get(name) if bundle is not None else None
    if bundle is None or template is None:
        raise not_found(f"template {name!r}")
    record = (await core.store.contacts([contact_id])).get(contact_id)
    if record is None:
        raise not_found(f"contact {contact_id!r}")
    context: dict[str, Any] = {
        "contact": TypedContactView(record, bundle.attributes),
        "scenario": "preview",
        "unsubscribe_url": core.settings.link("unsubscribe", contact_id, template.channel),
        "preferences_url": core.settings.link("preferences", contact_id, template.channel),
    }
    if "bestsellers" in template.uses:
        batch = Batch(core.store, core.clock.now(), core.engine.recommender, None)
        context["bestsellers"] = await batch.recommend(contact_id, "bestsellers", 4)
    context.update(extra or {})
    chosen = next((v for v in template.variants if lang is not None and v.lang == lang), None)
    variant = chosen or messages.choose_variant(template, record.get("language"))
    zone = contact_zone(record, core.settings.default_timezone)
    try:
        # Off the event loop: a render takes up to its budget, and the API must go on answering.
        parts = await asyncio.to_thread(messages.render_variant, variant, context, record.get("language"), zone)
    except Exception as error:
        raise Problem(
            422, "template-failed",
            f"template {name} ({variant.lang or 'default'}) does not render for a contact alone: {error} "
            "(a preview has the contact, links and bestsellers; order, coupon and products come from a run)",
        ) from error  # fmt: skip
    return Preview(template=name, channel=template.channel, lang=variant.lang, parts=parts)


@get("/templates/{name:str}/preview", responses=problems(400, 401, 404, 422))
async def preview(core: NamedDependency[Core], name: FromPath[str], contact: FromQuery[str]) -> Preview:
    """A template rendered for a contact, in their language."""
    return await render_preview(core, name, contact)


class TestSend(Strict):
    template: str
    contact: str
    #: Where to send it instead of the contact's own address.
    to: str


class TestSent(msgspec.Struct, kw_only=True):
    status: str
    detail: str | None
    preview: Preview


@post("/messages/test", status_code=200, responses=problems(400, 401, 404, 409, 413, 415, 422))
async def test_send(core: NamedDependency[Core], data: JSONBody[TestSend]) -> TestSent:
    """Render a template for a contact and send it to another address now (not through
    the outbox: nothing is recorded against the contact)."""
    return await send_test(core, data.template, data.contact, data.to)


async def send_test(
    core: Core, name: str, contact_id: str, to: str, *, lang: str | None = None, extra: dict[str, Any] | None = None
) -> TestSent:
    """Render template ``name`` as `render_preview` does and send it to ``to`` now, subject
    prefixed `[test]`; 409 when its channel has no delivery on this server."""
    shown = await render_preview(core, name, contact_id, lang=lang, extra=extra)
    sender = core.sender
    channel = sender.channels.get(shown.channel) if sender is not None else None
    if channel is None:
        raise Problem(409, "conflict", f"no {shown.channel} delivery is configured on this server")
    bundle = core.engine.current
    assert bundle is not None
    template = bundle.templates[name]
    content = {**shown.parts, "from_name": template.sender_name, "from_address": template.sender_address,
               "reply_to": template.reply_to, "subject": "[test] " + shown.parts.get("subject", "")}  # fmt: skip
    message = OutboxRow(
        id=0, run_id=None, step=None, scenario=None, contact_id=contact_id, channel=shown.channel,
        template=name, recipient=to, message=msgspec.json.encode(content).decode(), coupon_code=None,
        variant=None, status="pending", attempts=1, next_attempt_at=None, created_at=core.now_ms(),
    )  # fmt: skip
    outcome = await channel.send(message)
    return TestSent(status=outcome.status, detail=outcome.detail, preview=shown)


router = Router(
    "/api",
    route_handlers=[upsert_order, upsert_products, import_contacts, import_progress, preview, test_send],
    guards=[require_api_key],
    security=KEYED,
    dependencies={"core": Provide(get_core, sync_to_thread=False)},
    tags=["records"],
)
