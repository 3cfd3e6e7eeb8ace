"""Contacts: find one by id or email; one contact with everything scn knows of them."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from ..api_commerce import contact_loyalty, issued_code
from ..api_data import contact_view, message_view, run_view
from ..core import Core
from ..deps import get_core
from .frame import page

SHOWN = 50


@get("/contacts")
async def contacts(
    request: Request[Any, Any, Any], core: NamedDependency[Core], q: FromQuery[str | None] = None
) -> Response[Any]:
    """Contacts whose id starts with the query or whose email is it; one match opens it."""
    query = (q or "").strip()
    found = await core.store.find_contacts(query, SHOWN) if query else []
    if len(found) == 1 and query in (found[0]["id"], found[0]["email"]):
        return Redirect(f"/contacts/{found[0]['id']}", status_code=303)
    return page(request, "contacts.html", q=query, found=found)


@get("/contacts/{contact_id:str}")
async def contact(request: Request[Any, Any, Any], core: NamedDependency[Core], contact_id: FromPath[str]) -> Template:
    """Attributes, lists, segments, group and bonus, coupons, subscriptions, messages, runs."""
    shown = await contact_view(core, contact_id)
    loyalty = await contact_loyalty(core, contact_id)
    codes = [issued_code(r) for r in await core.store.issued_codes(contact_id, 0, SHOWN)]
    messages = [message_view(m) for m in await core.store.contact_messages(contact_id, SHOWN)]
    runs = [run_view(r) for r in await core.store.contact_runs(contact_id, SHOWN)]
    return page(request, "contact.html", contact=shown, loyalty=loyalty, codes=codes, messages=messages, runs=runs,
                shown=SHOWN)  # fmt: skip


router = Router("/", route_handlers=[contacts, contact], dependencies={"core": Provide(get_core, sync_to_thread=False)})
