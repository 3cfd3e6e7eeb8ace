"""Lists and segments, coupons (pools, issued codes, checks), loyalty (groups, balances, discounts)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath, JSONBody

from ..interpreter.runtime.events import AmountText, ContactIn, Currency, Key, Name, OrderIn
from .bodies import body_operation
from .deps import KEYED, After, AfterName, Limit, require_api_key
from .models import CodeAnswer, GroupPage, IssuedCodePage, Loyalty, Members, PoolImport, Strict
from .problems import problems
from .services import CommerceService, dependencies


class CodeQuery(Strict):
    code: str
    contact: str
    #: The order's total before the coupon, e.g. "850.00" (with `currency`), to get the price after.
    total: AmountText | None = None
    currency: Currency | None = None
    offer: str | None = None


#: A pool's codes: CSV with a `code` column, or one code per line.
CSV_BODY = body_operation(
    "CSV: a header with a `code` column, or one code per line", {"text/csv": Schema(type=OpenAPIType.STRING)}
)


@get("/lists", responses=problems(401, 409))
async def lists(commerce: NamedDependency[CommerceService]) -> dict[str, int]:
    """Every declared list with how many contacts are in it."""
    return await commerce.counts("list")


@get("/lists/{name:str}", responses=problems(400, 401, 404, 409))
async def list_members(
    commerce: NamedDependency[CommerceService], name: FromPath[str], after: AfterName = "", limit: Limit = 100
) -> Members:
    """A page of a list's members."""
    return await commerce.members("list", name, after, limit)


@get("/segments", responses=problems(401, 409))
async def segments(commerce: NamedDependency[CommerceService]) -> dict[str, int]:
    return await commerce.counts("segment")


@get("/segments/{name:str}", responses=problems(400, 401, 404, 409))
async def segment_members(
    commerce: NamedDependency[CommerceService], name: FromPath[str], after: AfterName = "", limit: Limit = 100
) -> Members:
    """A page of a segment's members."""
    return await commerce.members("segment", name, after, limit)


@post(
    "/coupons/{name:str}/pool", status_code=201, operation_class=CSV_BODY,
    responses=problems(400, 401, 404, 409, 413, 422),
)  # fmt: skip
async def import_pool(
    commerce: NamedDependency[CommerceService], name: FromPath[str], request: Request[Any, Any, Any]
) -> PoolImport:
    """Add codes to a pool coupon from a CSV body (a `code` column, or the first column)."""
    return await commerce.import_pool(name, await request.body())


@get("/contacts/{contact_id:str}/coupons", responses=problems(400, 401))
async def contact_coupons(
    commerce: NamedDependency[CommerceService], contact_id: FromPath[str], after: After = 0, limit: Limit = 50
) -> IssuedCodePage:
    """The codes a contact was given, with their validity and use, oldest first."""
    return await commerce.issued(contact_id, after, limit)


@post("/coupons/check", status_code=200, responses=problems(400, 401, 409, 413, 415, 422))
async def check(commerce: NamedDependency[CommerceService], data: JSONBody[CodeQuery]) -> CodeAnswer:
    """Whether a code can be used by a contact now (and the price after it), without using it
    up. The use is recorded when the `order.paid` event carrying the code arrives."""
    return await commerce.check(data.code, data.contact, total=data.total, currency=data.currency, offer=data.offer)


class Redemption(Strict):
    """A paid order that uses a code: checked, then recorded when the `order.paid` event is processed."""

    code: Name
    contact: ContactIn
    order: OrderIn
    key: Key | None = None


@post("/coupons/redeem", status_code=202, responses=problems(400, 401, 409, 413, 415, 422))
async def redeem(commerce: NamedDependency[CommerceService], data: JSONBody[Redemption]) -> CodeAnswer:
    """Check the code for this contact and order (409 with the reason when it cannot be
    used), then accept the `order.paid` event carrying it; its processing records the use."""
    return await commerce.redeem(data.code, data.contact, data.order, data.key)


@get("/loyalty/groups", responses=problems(400, 401))
async def groups(commerce: NamedDependency[CommerceService], after: After = 0, limit: Limit = 50) -> GroupPage:
    """Per group (declared ones first): contacts, paid orders, and revenue and average
    order value per currency. `after` counts the groups of the pages before."""
    return await commerce.groups(after, limit)


@get("/contacts/{contact_id:str}/loyalty", responses=problems(400, 401, 404, 409))
async def loyalty(commerce: NamedDependency[CommerceService], contact_id: FromPath[str]) -> Loyalty:
    """Bonus balance and ledger, and the checkout discount of the contact's group."""
    return await commerce.loyalty(contact_id)


router = Router(
    "/api",
    route_handlers=[
        lists,
        list_members,
        segments,
        segment_members,
        import_pool,
        contact_coupons,
        check,
        redeem,
        groups,
        loyalty,
    ],
    guards=[require_api_key],
    security=KEYED,
    dependencies=dependencies(),
    tags=["commerce"],
)
