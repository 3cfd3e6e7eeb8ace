"""Lists and segments, coupons (pools, issued codes, checks), loyalty (groups, balances, discounts)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from ..interpreter.checker import pool_codes
from ..interpreter.runtime import EventInput, wire
from ..interpreter.runtime.events import ContactIn, Key, Name, OrderIn
from ..interpreter.values import Money
from ..stdlib.catalog import ISO_CURRENCIES
from ..stdlib.coupons import CodeCheck, check_code
from ..stdlib.loyalty import Discount, GroupStats, checkout_discount, group_statistics
from .core import Core
from .deps import get_core, not_found, require_api_key
from .intake import accept, admit
from .models import Strict
from .problems import Problem


class Members(msgspec.Struct, kw_only=True):
    name: str
    count: int
    members: list[str]
    #: Pass as `after` for the next page; null on the last one.
    next: str | None


class CodeQuery(Strict):
    code: str
    contact: str
    #: The order's total before the coupon, e.g. "850.00" (with `currency`), to get the price after.
    total: str | None = None
    currency: str | None = None
    offer: str | None = None


class Amount(msgspec.Struct, kw_only=True):
    amount: str
    currency: str | None


def amount(value: Money | None) -> Amount | None:
    return Amount(amount=str(value.amount), currency=value.currency) if value is not None else None


class CodeAnswer(msgspec.Struct, kw_only=True):
    code: str
    valid: bool
    reason: str | None
    coupon: str | None
    discount: str | None
    price_before: Amount | None
    price_after: Amount | None


class GroupAnswer(msgspec.Struct, kw_only=True):
    group: str | None
    title: str | None
    program: str | None
    contacts: int
    orders: int
    revenue: Amount | None
    average_order: Amount | None


class DiscountAnswer(msgspec.Struct, kw_only=True):
    group: str
    program: str
    percent: str
    lifetime_spend: Amount | None


class PoolImport(msgspec.Struct, kw_only=True):
    coupon: str
    imported: int
    free: int


class Loyalty(msgspec.Struct, kw_only=True):
    contact: str
    group: str | None
    bonus_balance: str
    lifetime_spend: str
    discount: DiscountAnswer | None
    ledger: list[dict[str, Any]]


def _bundle(core: Core) -> Any:
    if core.engine.current is None:
        raise Problem(409, "conflict", "no workspace is deployed yet: upload one first")
    return core.engine.current


async def _members(core: Core, kind: str, name: str, after: str, limit: int) -> Members:
    declared = _bundle(core).lists if kind == "list" else _bundle(core).segments
    if name not in declared:
        raise not_found(f"{kind} {name!r}")
    page = await core.store.members(kind, name, after, limit + 1)
    counts = await core.store.member_counts(kind)
    return Members(name=name, count=counts.get(name, 0), members=page[:limit],
                   next=page[limit - 1] if len(page) > limit else None)  # fmt: skip


@get("/lists")
async def lists(core: NamedDependency[Core]) -> dict[str, int]:
    """Every declared list with how many contacts are in it."""
    counts = await core.store.member_counts("list")
    return {name: counts.get(name, 0) for name in _bundle(core).lists}


@get("/lists/{name:str}")
async def list_members(
    core: NamedDependency[Core], name: FromPath[str], after: FromQuery[str] = "", limit: FromQuery[int] = 100
) -> Members:
    return await _members(core, "list", name, after, max(1, min(limit, 1000)))


@get("/segments")
async def segments(core: NamedDependency[Core]) -> dict[str, int]:
    counts = await core.store.member_counts("segment")
    return {name: counts.get(name, 0) for name in _bundle(core).segments}


@get("/segments/{name:str}")
async def segment_members(
    core: NamedDependency[Core], name: FromPath[str], after: FromQuery[str] = "", limit: FromQuery[int] = 100
) -> Members:
    return await _members(core, "segment", name, after, max(1, min(limit, 1000)))


@post("/coupons/{name:str}/pool", status_code=201)
async def import_pool(core: NamedDependency[Core], name: FromPath[str], request: Request[Any, Any, Any]) -> PoolImport:
    """Add codes to a pool coupon from a CSV body (a `code` column, or the first column)."""
    coupon = _bundle(core).coupons.get(name)
    if coupon is None:
        raise not_found(f"coupon {name!r}")
    if coupon.source != "pool":
        raise Problem(409, "conflict", f"coupon {name} is not drawn from a pool; its codes are {coupon.source}")
    try:
        codes = pool_codes((await request.body()).decode("utf-8"))
    except UnicodeDecodeError as error:
        raise Problem(400, "invalid-request", f"the CSV is not UTF-8 text (byte {error.start})") from error
    if not codes:
        raise Problem(400, "invalid-request", "the CSV holds no codes")
    imported = await core.store.import_pool(name, codes)
    return PoolImport(coupon=name, imported=imported, free=await core.store.free_pool_codes(name))


@get("/contacts/{contact_id:str}/coupons")
async def contact_coupons(core: NamedDependency[Core], contact_id: FromPath[str]) -> list[dict[str, Any]]:
    """The codes a contact was given, with their validity and use."""
    return await core.store.issued_codes(contact_id)


@post("/coupons/check", status_code=200)
async def check(core: NamedDependency[Core], data: JSONBody[CodeQuery]) -> CodeAnswer:
    """Whether a code can be used by a contact now (and the price after it), without using it
    up. The use is recorded when the `order.paid` event carrying the code arrives."""
    total = None
    if data.total is not None:
        try:
            given = wire.amount(data.total, False)
        except wire.WireError as error:
            raise Problem(400, "invalid-request", f"total: {error}") from error
        if data.currency is not None and data.currency not in ISO_CURRENCIES:
            raise Problem(400, "invalid-request", f"currency: {data.currency!r} is not an ISO 4217 currency")
        total = Money(given, data.currency or _bundle(core).currency or "XXX")
    found: CodeCheck = await check_code(
        core.store, _bundle(core), data.code, data.contact, now_ms=core.now_ms(), total=total, offer=data.offer
    )
    return CodeAnswer(
        code=found.code, valid=found.valid, reason=found.reason, coupon=found.coupon, discount=found.discount,
        price_before=amount(found.price_before), price_after=amount(found.price_after),
    )  # fmt: skip


class Redemption(Strict):
    """A paid order that uses a code: checked, then recorded when the `order.paid` event is processed."""

    code: Name
    contact: ContactIn
    order: OrderIn
    key: Key | None = None


@post("/coupons/redeem", status_code=202)
async def redeem(core: NamedDependency[Core], data: JSONBody[Redemption]) -> CodeAnswer:
    """Check the code for this contact and order (409 with the reason when it cannot be
    used), then accept the `order.paid` event carrying it; its processing records the use."""
    order = msgspec.structs.replace(data.order, coupon=data.code)
    row = admit(core, EventInput(type="order.paid", key=data.key, contact=data.contact, order=order), "the order")
    total = (
        Money(data.order.total, data.order.currency or _bundle(core).currency or "XXX") if data.order.total else None
    )
    found: CodeCheck = await check_code(core.store, _bundle(core), data.code, data.contact.id, now_ms=core.now_ms(),
                                        total=total, offer=data.order.offer)  # fmt: skip
    if not found.valid:
        raise Problem(409, "coupon-refused", f"code {data.code} cannot be used: {found.reason}", reason=found.reason)
    await accept(core, [row])
    return CodeAnswer(
        code=found.code, valid=True, reason=None, coupon=found.coupon, discount=found.discount,
        price_before=amount(found.price_before), price_after=amount(found.price_after),
    )  # fmt: skip


@get("/loyalty/groups")
async def groups(core: NamedDependency[Core]) -> list[GroupAnswer]:
    """Per group: contacts, paid orders, revenue, average order value."""
    stats: list[GroupStats] = await group_statistics(core.store, core.engine.current)
    return [
        GroupAnswer(group=g.group, title=g.title, program=g.program, contacts=g.contacts, orders=g.orders,
                    revenue=amount(g.revenue), average_order=amount(g.average_order))
        for g in stats
    ]  # fmt: skip


@get("/contacts/{contact_id:str}/loyalty")
async def loyalty(core: NamedDependency[Core], contact_id: FromPath[str]) -> Loyalty:
    """Bonus balance and ledger, and the checkout discount of the contact's group."""
    record = (await core.store.contacts([contact_id])).get(contact_id)
    if record is None:
        raise not_found(f"contact {contact_id!r}")
    return Loyalty(
        contact=contact_id, group=record.get("grp"), bonus_balance=str(record.get("bonus_balance") or "0"),
        lifetime_spend=str(record.get("lifetime_spend") or "0"),
        discount=_discount(await checkout_discount(core.store, _bundle(core), contact_id)),
        ledger=await core.store.bonus_entries(contact_id),
    )  # fmt: skip


def _discount(found: Discount | None) -> DiscountAnswer | None:
    if found is None:
        return None
    return DiscountAnswer(group=found.group, program=found.program, percent=str(found.percent),
                          lifetime_spend=amount(found.lifetime_spend))  # fmt: skip


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
    dependencies={"core": Provide(get_core, sync_to_thread=False)},
    tags=["commerce"],
)
