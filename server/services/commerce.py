"""Commerce: lists' and segments' members, coupon pools, issued codes, code checks and
redemptions, loyalty (groups, balances, discounts) and the product catalogue."""

from __future__ import annotations

from typing import Any

import msgspec

from ...interpreter.checker import pool_codes
from ...interpreter.clock import ms_of
from ...interpreter.program import Bundle
from ...interpreter.runtime import EventInput, wire
from ...interpreter.runtime.events import ContactIn, OrderIn, ProductIn, product_errors
from ...interpreter.store import Changes
from ...interpreter.values import Money
from ...interpreter.views import moment
from ...stdlib.catalog import ISO_CURRENCIES
from ...stdlib.coupons import CodeCheck, check_code
from ...stdlib.loyalty import Discount, GroupStats, checkout_discount, group_statistics
from ..core import Core
from ..deps import instant, not_found
from ..models import (
    Amount,
    CodeAnswer,
    CurrencyFigures,
    DiscountAnswer,
    GroupAnswer,
    GroupPage,
    IssuedCode,
    IssuedCodePage,
    LedgerEntry,
    Loyalty,
    Members,
    PoolImport,
)
from ..problems import Problem
from .events import EventService


def amount(value: Money | None) -> Amount | None:
    return Amount(amount=str(value.amount), currency=value.currency) if value is not None else None


def issued_code(row: dict[str, Any]) -> IssuedCode:
    return IssuedCode(
        coupon=row["coupon"], code=row["code"], shared=bool(row["shared"]), run_id=row["run_id"],
        issued_at=moment(row["issued_at"]), valid_until=moment(row["valid_until"]),
        redeemed_order=row["redeemed_order"], redeemed_at=moment(row["redeemed_at"]),
    )  # fmt: skip


def _answer(found: CodeCheck) -> CodeAnswer:
    return CodeAnswer(
        code=found.code, valid=found.valid, reason=found.reason, coupon=found.coupon, discount=found.discount,
        price_before=amount(found.price_before), price_after=amount(found.price_after),
    )  # fmt: skip


def _discount(found: Discount | None) -> DiscountAnswer | None:
    if found is None:
        return None
    return DiscountAnswer(group=found.group, program=found.program, percent=str(found.percent),
                          lifetime_spend=amount(found.lifetime_spend))  # fmt: skip


class CommerceService:
    def __init__(self, core: Core) -> None:
        self.core = core

    def bundle(self) -> Bundle:
        """The deployed workspace (409 before the first upload)."""
        current = self.core.engine.current
        if current is None:
            raise Problem(409, "conflict", "no workspace is deployed yet: upload one first")
        return current

    # ------------------------------------------------------------ lists and segments

    async def counts(self, kind: str) -> dict[str, int]:
        """Every declared list (``kind`` "list") or segment ("segment") with its size."""
        counts = await self.core.store.member_counts(kind)
        declared = self.bundle().lists if kind == "list" else self.bundle().segments
        return {name: counts.get(name, 0) for name in declared}

    async def members(self, kind: str, name: str, after: str, limit: int) -> Members:
        """A page of a list's or segment's members (404 when it is not declared)."""
        declared = self.bundle().lists if kind == "list" else self.bundle().segments
        if name not in declared:
            raise not_found(f"{kind} {name!r}")
        page = await self.core.store.members(kind, name, after, limit + 1)
        counts = await self.core.store.member_counts(kind)
        return Members(name=name, count=counts.get(name, 0), items=page[:limit],
                       next=page[limit - 1] if len(page) > limit else None)  # fmt: skip

    # ------------------------------------------------------------ coupons

    async def import_pool(self, name: str, body: bytes) -> PoolImport:
        """Add the codes of a CSV (a `code` column, or the first column) to a pool coupon."""
        coupon = self.bundle().coupons.get(name)
        if coupon is None:
            raise not_found(f"coupon {name!r}")
        if coupon.source != "pool":
            raise Problem(409, "conflict", f"coupon {name} is not drawn from a pool; its codes are {coupon.source}")
        try:
            codes = pool_codes(body.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise Problem(400, "invalid-request", f"the CSV is not UTF-8 text (byte {error.start})") from error
        except ValueError as error:
            raise Problem(422, "invalid-request", f"the CSV {error}") from None
        if not codes:
            raise Problem(422, "invalid-request", "the CSV holds no codes")
        imported = await self.core.store.import_pool(name, codes)
        return PoolImport(coupon=name, imported=imported, free=await self.core.store.free_pool_codes(name))

    async def issued(self, contact_id: str, after: int, limit: int) -> IssuedCodePage:
        """A page of the codes a contact was given, oldest first."""
        rows = await self.core.store.issued_codes(contact_id, after, limit + 1)
        page = rows[:limit]
        return IssuedCodePage(items=[issued_code(r) for r in page], next=page[-1]["id"] if len(rows) > limit else None)

    async def issued_rows(self, contact_id: str) -> list[dict[str, Any]]:
        """Every code a contact was given, as stored, oldest first."""
        return await self.core.store.issued_codes(contact_id)

    async def check(
        self, code: str, contact: str, *, total: str | None, currency: str | None, offer: str | None
    ) -> CodeAnswer:
        """Whether a code can be used by a contact now (and the price after it, given the
        order's ``total``), without using it up."""
        price = None
        if total is not None:
            try:
                given = wire.amount(total, False)
            except wire.WireError as error:
                raise Problem(400, "invalid-request", f"total: {error}") from error
            if currency is not None and currency not in ISO_CURRENCIES:
                raise Problem(422, "invalid-request", f"currency: {currency!r} is not an ISO 4217 currency")
            price = Money(given, currency or self.bundle().currency or "XXX")
        found = await check_code(
            self.core.store, self.bundle(), code, contact, now_ms=self.core.now_ms(), total=price, offer=offer
        )
        return _answer(found)

    async def redeem(self, code: str, contact: ContactIn, order: OrderIn, key: str | None) -> CodeAnswer:
        """Check the code for this contact and order (409 with the reason when it cannot be
        used), then accept the `order.paid` event carrying it; its processing records the use."""
        events = EventService(self.core)
        paid = msgspec.structs.replace(order, coupon=code)
        row = events.admit(EventInput(type="order.paid", key=key, contact=contact, order=paid), "the order")
        total = Money(order.total, order.currency or self.bundle().currency or "XXX") if order.total else None
        found = await check_code(self.core.store, self.bundle(), code, contact.id, now_ms=self.core.now_ms(),
                                 total=total, offer=order.offer)  # fmt: skip
        if not found.valid:
            raise Problem(409, "coupon-refused", f"code {code} cannot be used: {found.reason}", reason=found.reason)
        await events.accept([row])
        return msgspec.structs.replace(_answer(found), valid=True, reason=None)

    # ------------------------------------------------------------ loyalty

    async def groups(self, after: int, limit: int) -> GroupPage:
        """Per group (declared ones first): contacts, paid orders, and revenue and average
        order value per currency; ``after`` counts the groups of the pages before."""
        stats: list[GroupStats] = await group_statistics(self.core.store, self.core.engine.current)
        page = stats[after : after + limit]
        items = [
            GroupAnswer(group=g.group, title=g.title, program=g.program, contacts=g.contacts, orders=g.orders,
                        currencies=[CurrencyFigures(currency=c.currency, contacts=c.contacts, orders=c.orders,
                                                    revenue=str(c.revenue.amount),
                                                    average_order=str(c.average_order.amount)
                                                    if c.average_order else None)
                                    for c in g.currencies])
            for g in page
        ]  # fmt: skip
        return GroupPage(items=items, next=after + limit if after + limit < len(stats) else None)

    async def loyalty(self, contact_id: str) -> Loyalty:
        """A contact's bonus balance and ledger and their group's checkout discount (404 if unknown)."""
        store = self.core.store
        record = (await store.contacts([contact_id])).get(contact_id)
        if record is None:
            raise not_found(f"contact {contact_id!r}")
        return Loyalty(
            contact=contact_id, group=record.get("grp"), bonus_balance=str(record.get("bonus_balance") or "0"),
            lifetime_spend=str(record.get("lifetime_spend") or "0"),
            discount=_discount(await checkout_discount(store, self.bundle(), contact_id)),
            ledger=[LedgerEntry(**{**e, "at": instant(e["at"])}) for e in await store.bonus_entries(contact_id)],
        )  # fmt: skip

    # ------------------------------------------------------------ products

    async def upsert_products(self, products: list[ProductIn]) -> int:
        """Add or update catalogue products; 422 naming each field that does not fit (and none is changed)."""
        errors = [e for index, p in enumerate(products) for e in product_errors(p, f"[{index}]")]
        if errors:
            raise Problem(422, "invalid-request", f"{errors[0]['field']}: {errors[0]['message']}; nothing was changed",
                          errors=errors)  # fmt: skip
        now = self.core.now_ms()
        rows = [
            {"id": p.id, "name": p.name, "category": p.category, "price": str(p.price) if p.price is not None else None,
             "currency": p.currency, "url": p.url, "image": p.image,
             "created_at": ms_of(p.created_at) if p.created_at else now}
            for p in products
        ]  # fmt: skip
        await self.core.store.commit(Changes(products=rows))
        return len(rows)

    async def products(self, limit: int) -> list[dict[str, Any]]:
        """The catalogue's products (the newest first, as the store keeps them)."""
        return await self.core.store.products(limit=limit)
