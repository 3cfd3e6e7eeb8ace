"""GDPR over HTTP: export everything held about a contact, and erase it."""

from __future__ import annotations

from typing import Any

from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from .deps import KEYED, require_api_key
from .problems import problems
from .services import PrivacyService, dependencies

#: Who the audit records as having asked: the holder of the API key.
ACTOR = "api"


@get("/contacts/{contact_id:str}/export", responses=problems(400, 401, 404))
async def export_contact(privacy: NamedDependency[PrivacyService], contact_id: FromPath[str]) -> dict[str, Any]:
    """Everything held about a contact, table by table: the contact, its orders (with their
    status history), lists, segments, events, runs (with their step log), messages (with
    their content), coupons, bonus ledger, suppressions of its addresses, and the audit."""
    return await privacy.export(contact_id, ACTOR)


@post("/contacts/{contact_id:str}/erase", status_code=200, responses=problems(400, 401, 404))
async def erase_contact(privacy: NamedDependency[PrivacyService], contact_id: FromPath[str]) -> dict[str, Any]:
    """Erase a contact's personal data: live runs cancelled, rows kept under a pseudonym
    for the reports with names, addresses, attributes, contents and payloads removed."""
    return await privacy.erase(contact_id, ACTOR)


router = Router(
    "/api",
    route_handlers=[export_contact, erase_contact],
    guards=[require_api_key],
    security=KEYED,
    dependencies=dependencies(),
    tags=["privacy"],
)
