"""Lists and segments, coupons (pools, issued codes, checks), loyalty (groups, balances, discounts)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath, JSONBody

from ..interpreter.checker import pool_codes
from ..interpreter.runtime import EventInput, wire
from ..interpreter.runtime.events import AmountText, ContactIn, Currency, Key, Name, OrderIn
from ..interpreter.values import Money
from ..interpreter.views import moment
from ..stdlib.catalog import ISO_CURRENCIES
from ..stdlib.coupons import CodeCheck, check_code
from ..stdlib.loyalty import Discount, GroupStats, checkout_discount, group_statistics
from .bodies import body_operation
from .core import Core
from .deps import KEYED, After, AfterName, Limit, get_core, instant, not_found, require_api_key
from .intake import accept, admit
from .models import IssuedCode, IssuedCodePage, LedgerEntry, Strict
from .problems import Problem, problems


class Members(msgspec.Struct, kw_only=True):
    """A page of a list's or segment's members (contact ids, in order), with its size."""

    name: str
    count: int
    items: list[str]
    #: Pass as `after` for the next page; null on the last one.
    next: str | None


class CodeQuery(Strict):
    code: str
    contact: str
    #: The order's total before the coupon, e.g. "850.00" (with `currency`), to get the price after.
    total: AmountText | None = None
    currency: Currency | None = None
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


class CurrencyFigures(msgspec.Struct, kw_only=True):
    """A group's contacts whose lifetime spend is in one currency, and their orders."""

    currency: str
    contacts: int
    orders: int
    revenue: str
    average_order: str | None


class GroupAnswer(msgspec.Struct, kw_only=True):
    """A customer group: all its contacts and paid orders, and the money per currency
    (amounts in different currencies are never added up)."""

    #: null for the contacts in no group.
    group: str | None
    title: str | None
    program: str | None
    contacts: int
    orders: int
    currencies: list[CurrencyFigures]


class GroupPage(msgspec.Struct, kw_only=True):
    items: list[GroupAnswer]
    #: Pass as `after` for the next page; null on the last one.
    next: int | None


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
    ledger: list[LedgerEntry]


#: A pool's codes: CSV with a `code` column, or one code per line.
CSV_BODY = body_operation(
    "CSV: a header with a `code` column, or one code per line", {"text/csv": Schema(type=OpenAPIType.STRING)}
)


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
    return Members(name=name, count=counts.get(name, 0), items=page[:limit],
                   next=page[limit - 1] if len(page) > limit else None)  # fmt: skip


@get("/lists", responses=problems(401, 409))
async def lists(core: NamedDependency[Core]) -> dict[str, int]:
    """Every declared list with how many contacts are in it."""
    counts = await core.store.member_counts("list")
    return {name: counts.get(name, 0) for name in _bundle(core).lists}


@get("/lists/{name:str}", responses=problems(400, 401, 404, 409))
async def list_members(
    core: NamedDependency[Core], name: FromPath[str], after: AfterName = "", limit: Limit = 100
) -> Members:
    """A page of a list's members."""
    return await _members(core, "list", name, after, limit)


@get("/segments", responses=problems(401, 409))
async def segments(core: NamedDependency[Core]) -> dict[str, int]:
    counts = await core.store.member_counts("segment")
    return {name: counts.get(name, 0) for name in _bundle(core).segments}


@get("/segments/{name:str}", responses=problems(400, 401, 404, 409))
async def segment_members(
    core: NamedDependency[Core], name: FromPath[str], after: AfterName = "", limit: Limit = 100
) -> Members:
    """A page of a segment's members."""
    return await _members(core, "segment", name, after, limit)


@post(
    "/coupons/{name:str}/pool", status_code=201, operation_class=CSV_BODY,
    responses=problems(400, 401, 404, 409, 413, 422),
)  # fmt: skip
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
    except ValueError as error:
        raise Problem(422, "invalid-request", f"the CSV {error}") from None
    if not codes:
        raise Problem(422, "invalid-request", "the CSV holds no codes")
    imported = await core.store.import_pool(name, codes)
    return PoolImport(coupon=name, imported=imported, free=await core.store.free_pool_codes(name))


@get("/contacts/{contact_id:str}/coupons", responses=problems(400, 401))
async def contact_coupons(
    core: NamedDependency[Core], contact_id: FromPath[str], after: After = 0, limit: Limit = 50
) -> IssuedCodePage:
    """The codes a contact was given, with their validity and use, oldest first."""
    rows = await core.store.issued_codes(contact_id, after, limit + 1)
    page = rows[:limit]
    return IssuedCodePage(items=[issued_code(r) for r in page], next=page[-1]["id"] if len(rows) > limit else None)


def issued_code(row: dict[str, Any]) -> IssuedCode:
    return IssuedCode(
        coupon=row["coupon"], code=row["code"], shared=bool(row["shared"]), run_id=row["run_id"],
        issued_at=moment(row["issued_at"]), valid_until=moment(row["valid_until"]),
        redeemed_order=row["redeemed_order"], redeemed_at=moment(row["redeemed_at"]),
    )  # fmt: skip


@post("/coupons/check", status_code=200, responses=problems(400, 401, 409, 413, 415, 422))
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
            raise Problem(422, "invalid-request", f"currency: {data.currency!r} is not an ISO 4217 currency")
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


@post("/coupons/redeem", status_code=202, responses=problems(400, 401, 409, 413, 415, 422))
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


@get("/loyalty/groups", responses=problems(400, 401))
async def groups(core: NamedDependency[Core], after: After = 0, limit: Limit = 50) -> GroupPage:
    """Per group (declared ones first): contacts, paid orders, and revenue and average
    order value per currency. `after` counts the groups of the pages before."""
    stats: list[GroupStats] = await group_statistics(core.store, core.engine.current)
    page = stats[after : after + limit]
    items = [
        GroupAnswer(group=g.group, title=g.title, program=g.program, contacts=g.contacts, orders=g.orders,
                    currencies=[CurrencyFigures(currency=c.currency, contacts=c.contacts, orders=c.orders,
                                                revenue=str(c.revenue.amount),
                                                average_order=str(c.average_order.amount) if c.average_order else None)
                                for c in g.currencies])
        for g in page
    ]  # fmt: skip
    return GroupPage(items=items, next=after + limit if after + limit < len(stats) else None)


@get("/contacts/{contact_id:str}/loyalty", responses=problems(400, 401, 404, 409))
async def loyalty(core: NamedDependency[Core], contact_id: FromPath[str]) -> Loyalty:
    """Bonus balance and ledger, and the checkout discount of the contact's group."""
    return await contact_loyalty(core, contact_id)


async def contact_loyalty(core: Core, contact_id: str) -> Loyalty:
    """A contact's bonus balance and ledger and their group's checkout discount (404 if unknown)."""
    record = (await core.store.contacts([contact_id])).get(contact_id)
    if record is None:
        raise not_found(f"contact {contact_id!r}")
    return Loyalty(
        contact=contact_id, group=record.get("grp"), bonus_balance=str(record.get("bonus_balance") or "0"),
        lifetime_spend=str(record.get("lifetime_spend") or "0"),
        discount=_discount(await checkout_discount(core.store, _bundle(core), contact_id)),
        ledger=[LedgerEntry(**{**e, "at": instant(e["at"])}) for e in await core.store.bonus_entries(contact_id)],
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
    security=KEYED,
    dependencies={"core": Provide(get_core, sync_to_thread=False)},
    tags=["commerce"],
)
