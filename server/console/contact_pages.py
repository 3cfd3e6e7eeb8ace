"""Contacts: find one by id or email; one contact with everything scn knows of them."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from ..services import CommerceService, ContactService, MessageService, RunService, dependencies
from .frame import page

SHOWN = 50


@get("/contacts")
async def contacts(
    request: Request[Any, Any, Any], contacts: NamedDependency[ContactService], q: FromQuery[str | None] = None
) -> Response[Any]:
    """Contacts whose id starts with the query or whose email is it; one match opens it."""
    query = (q or "").strip()
    found = await contacts.find(query, SHOWN) if query else []
    if len(found) == 1 and query in (found[0]["id"], found[0]["email"]):
        return Redirect(f"/contacts/{found[0]['id']}", status_code=303)
    return page(request, "contacts.html", q=query, found=found)


@get("/contacts/{contact_id:str}")
async def contact(
    request: Request[Any, Any, Any], contacts: NamedDependency[ContactService],
    commerce: NamedDependency[CommerceService], messages: NamedDependency[MessageService],
    runs: NamedDependency[RunService], contact_id: FromPath[str],
) -> Template:  # fmt: skip
    """Attributes, lists, segments, group and bonus, coupons, subscriptions, messages, runs."""
    shown = await contacts.view(contact_id)
    loyalty = await commerce.loyalty(contact_id)
    codes = (await commerce.issued(contact_id, 0, SHOWN)).items
    return page(request, "contact.html", contact=shown, loyalty=loyalty, codes=codes,
                messages=await messages.of_contact(contact_id, SHOWN), runs=await runs.of_contact(contact_id, SHOWN),
                shown=SHOWN)  # fmt: skip


router = Router("/", route_handlers=[contacts, contact], dependencies=dependencies())
