"""Product recommendations for templates and expressions.

Computed from paid orders: what is bought together with what (co-purchase counts),
what sells most (overall, lately, in a category, among a segment's members), what is
new, and what people with a similar history bought. Products come from the product
catalogue when it knows them, else from the order items themselves.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import TYPE_CHECKING, Any

from ..interpreter.program import Bundle
from ..interpreter.runtime.views import ProductView

if TYPE_CHECKING:
    from ..interpreter.runtime.batch import Batch

#: How far back "all time" looks, to keep the work bounded.
HISTORY = dt.timedelta(days=365)


def _item_key(item: dict[str, Any]) -> str | None:
    key = item.get("product_id") or item.get("id") or item.get("sku") or item.get("offer")
    return str(key) if key is not None else None


async def _paid_orders(batch: Batch, since: dt.timedelta) -> list[dict[str, Any]]:
    key = ("paid_orders", since)
    cached = batch.cached(key)
    if cached is None:
        cached = batch.remember(
            key, await batch.store.paid_orders_since(batch.now_ms - int(since.total_seconds() * 1000))
        )
    return list(cached)


async def _products(batch: Batch, ids: list[str], orders: list[dict[str, Any]]) -> list[ProductView]:
    catalogue = {p["id"]: p for p in await batch.store.products(ids)}
    seen_items: dict[str, dict[str, Any]] = {}
    for order in orders:
        for item in order.get("items") or []:
            key = _item_key(item)
            if key is not None and key not in seen_items:
                seen_items[key] = {**item, "currency": order.get("currency")}
    views = []
    for product_id in ids:
        record = catalogue.get(product_id)
        if record is None and product_id in seen_items:
            item = seen_items[product_id]
            record = {"id": product_id, "name": item.get("name"), "category": item.get("category"),
                      "price": item.get("price"), "currency": item.get("currency"), "url": item.get("url"),
                      "image": item.get("image")}  # fmt: skip
        if record is not None:
            views.append(ProductView(record))
    return views


def _top(counts: Counter[str], limit: int, exclude: set[str]) -> list[str]:
    ranked = sorted((c for c in counts.items() if c[0] not in exclude), key=lambda kv: (-kv[1], kv[0]))
    return [key for key, _ in ranked[:limit]]


def _popularity(orders: list[dict[str, Any]], category: str | None = None) -> Counter[str]:
    counts: Counter[str] = Counter()
    for order in orders:
        for item in order.get("items") or []:
            key = _item_key(item)
            if key is not None and (category is None or item.get("category") == category):
                counts[key] += 1
    return counts


async def recommend(
    batch: Batch, bundle: Bundle, contact_id: str, kind: str, limit: int, **params: Any
) -> list[ProductView]:
    orders = await _paid_orders(batch, HISTORY)
    mine = await batch.contact_orders(contact_id)
    bought = {k for o in mine for i in o.get("items") or [] if (k := _item_key(i))}
    if kind == "popular":
        days = params.get("days") or dt.timedelta(days=30)
        recent = await _paid_orders(batch, days)
        return await _products(batch, _top(_popularity(recent), limit, set()), recent)
    if kind == "bestsellers":
        return await _products(batch, _top(_popularity(orders), limit, set()), orders)
    if kind == "in_category":
        return await _products(batch, _top(_popularity(orders, params.get("category")), limit, set()), orders)
    if kind == "new_arrivals":
        newest = await batch.store.products(None, limit)
        return [ProductView(p) for p in newest]
    if kind == "related":
        last = mine[-1] if mine else None
        basket = {k for i in (last or {}).get("items") or [] if (k := _item_key(i))}
        counts: Counter[str] = Counter()
        for order in orders:
            keys = {k for i in order.get("items") or [] if (k := _item_key(i))}
            if keys & basket:
                counts.update(keys - basket)
        return await _products(batch, _top(counts, limit, basket), orders)
    if kind == "personal":
        similar: Counter[str] = Counter()
        for order in orders:
            if order.get("contact_id") == contact_id:
                continue
            keys = {k for i in order.get("items") or [] if (k := _item_key(i))}
            if keys & bought:
                similar.update(keys)
        return await _products(batch, _top(similar, limit, bought), orders)
    if kind == "bought_by_segment":
        from ..interpreter.runtime.facts import contact_in_segment

        segment = str(params.get("segment"))
        members: dict[str, bool] = {}
        chosen = []
        for order in orders:
            buyer = order["contact_id"]
            if buyer not in members:
                members[buyer] = await contact_in_segment(batch, bundle, buyer, segment)
            if members[buyer]:
                chosen.append(order)
        # What people like them bought, less what they already have.
        return await _products(batch, _top(_popularity(chosen), limit, bought), orders)
    raise ValueError(f"unknown recommendation {kind}")
