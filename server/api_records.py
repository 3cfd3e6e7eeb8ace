"""Orders, products, contact CSV imports (with progress), template previews and test sends."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath, FromQuery, JSONBody

from ..interpreter.runtime import EventInput
from ..interpreter.runtime.events import ContactIn, Key, OrderIn, ProductIn
from ..interpreter.runtime.orders import STATUS_OF_EVENT
from .bodies import body_operation
from .deps import KEYED, Id, require_api_key
from .models import Accepted, ImportJob, Preview, Strict, TestSent
from .problems import Problem, problems
from .services import CommerceService, ContactService, EventService, TemplateService, dependencies

#: Order statuses that have an event of their own; any other is `order.status_changed`.
STATUS_EVENTS = {status: event for event, status in STATUS_OF_EVENT.items()}


class OrderUpsert(Strict):
    """An order and its status; the status picks the event (`paid` -> `order.paid`...)."""

    contact: ContactIn
    order: OrderIn
    key: Key | None = None


@post("/orders", status_code=202, responses=problems(400, 401, 409, 413, 415, 422))
async def upsert_order(events: NamedDependency[EventService], data: JSONBody[OrderUpsert]) -> Accepted:
    status = data.order.status or "created"
    kind = STATUS_EVENTS.get(status, "order.status_changed")
    extra = {"status": status} if kind == "order.status_changed" else {}
    event = EventInput(type=kind, key=data.key, contact=data.contact, order=data.order, data=extra)
    return await events.one(event, "the order")


@post("/products", status_code=200, responses=problems(400, 401, 413, 415, 422))
async def upsert_products(
    commerce: NamedDependency[CommerceService], data: JSONBody[list[ProductIn]]
) -> dict[str, int]:
    """Add or update catalogue products (used by recommendations)."""
    return {"products": await commerce.upsert_products(data)}


#: A contact import's body.
CONTACTS_CSV = body_operation(
    "CSV with a header: id, email, phone, first_name, last_name, language, timezone, country, group, "
    "subscribed.<channel>; any other column is an attribute",
    {"text/csv": Schema(type=OpenAPIType.STRING)},
)


@post("/contacts/import", status_code=202, operation_class=CONTACTS_CSV, responses=problems(400, 401, 413, 422))
async def import_contacts(contacts: NamedDependency[ContactService], request: Request[Any, Any, Any]) -> ImportJob:
    """Import contacts from CSV (header: id, email, phone, first_name, last_name, language,
    timezone, country, group, `subscribed.<channel>`, anything else an attribute). Answers
    at once with a job; follow it at /api/contacts/import/{id}."""
    try:
        text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Problem(400, "invalid-request", f"the CSV is not UTF-8 text (byte {error.start})") from error
    return await contacts.start_import(text)


@get("/contacts/import/{job_id:int}", responses=problems(400, 401, 404))
async def import_progress(contacts: NamedDependency[ContactService], job_id: Id) -> ImportJob:
    """How far an import is: accepted, duplicates (lines imported before), errors by line."""
    return await contacts.import_job(job_id)


@get("/templates/{name:str}/preview", responses=problems(400, 401, 404, 422))
async def preview(templates: NamedDependency[TemplateService], name: FromPath[str], contact: FromQuery[str]) -> Preview:
    """A template rendered for a contact, in their language."""
    return await templates.preview(name, contact)


class TestSend(Strict):
    template: str
    contact: str
    #: Where to send it instead of the contact's own address.
    to: str


@post("/messages/test", status_code=200, responses=problems(400, 401, 404, 409, 413, 415, 422))
async def test_send(templates: NamedDependency[TemplateService], data: JSONBody[TestSend]) -> TestSent:
    """Render a template for a contact and send it to another address now (not through
    the outbox: nothing is recorded against the contact)."""
    return await templates.send_test(data.template, data.contact, data.to)


router = Router(
    "/api",
    route_handlers=[upsert_order, upsert_products, import_contacts, import_progress, preview, test_send],
    guards=[require_api_key],
    security=KEYED,
    dependencies=dependencies(),
    tags=["records"],
)
