"""Product recommendations for templates and expressions.

Computed from paid orders by the store: what is bought together with what, what sells
most (overall, lately, in a category, among a segment's members), what is new, and what
people who bought the same things bought too. Like the hosted platforms, the figures
are recomputed now and then, not per message: each is kept for `ttl` of clock time
(virtual time in simulations), so a mailing to a million contacts asks the store once.
Products come from the catalogue (`product` events), or else from order items.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from ..interpreter.clock import duration_ms
from ..interpreter.store import Store
from ..interpreter.views import ProductView

#: How far back "all time" looks, to keep the work bounded.
HISTORY = dt.timedelta(days=365)
#: How long a computed figure is used before it is computed again.
TTL = dt.timedelta(hours=1)
#: Figures kept at most (one per product for "bought with", one per segment, ...).
MAX_ENTRIES = 20_000

KINDS = ("related", "popular", "new_arrivals", "bestsellers", "personal", "in_category", "bought_by_segment")


def item_key(item: dict[str, Any]) -> str | None:
    """What identifies the product of an order item."""
    key = item.get("product_id") or item.get("sku") or item.get("offer")
    return str(key) if key is not None else None


class Recommender:
    def __init__(self, store: Store, ttl: dt.timedelta = TTL) -> None:
        self.store = store
        self.ttl_ms = duration_ms(ttl)
        self._figures: OrderedDict[tuple[Any, ...], tuple[int, Any]] = OrderedDict()

    async def _figure(self, key: tuple[Any, ...], now_ms: int, compute: Callable[[], Awaitable[Any]]) -> Any:
        kept = self._figures.get(key)
        if kept is not None and now_ms - kept[0] < self.ttl_ms:
            self._figures.move_to_end(key)
            return kept[1]
        value = await compute()
        self._figures[key] = (now_ms, value)
        if len(self._figures) > MAX_ENTRIES:
            self._figures.popitem(last=False)
        return value

    async def _counts(
        self, now_ms: int, since: dt.timedelta, limit: int, category: str | None = None, segment: str | None = None
    ) -> list[tuple[str, int]]:
        start = now_ms - duration_ms(since)
        return list(
            await self._figure(
                ("counts", since, limit, category, segment),
                now_ms,
                lambda: self.store.product_counts(start, limit, category=category, segment=segment),
            )
        )

    async def _bought_with(self, now_ms: int, products: Collection[str]) -> Counter[str]:
        start = now_ms - duration_ms(HISTORY)
        together: Counter[str] = Counter()
        for product in sorted(products):

            async def compute(product: str = product) -> list[tuple[str, int]]:
                return await self.store.bought_with(product, start, 50)

            together.update(dict(await self._figure(("with", product), now_ms, compute)))
        return together

    async def recommend(
        self, now_ms: int, mine: list[dict[str, Any]], kind: str, limit: int, **params: Any
    ) -> list[ProductView]:
        """Up to ``limit`` products of one kind for a contact whose orders are ``mine``."""
        bought = {k for o in mine for i in o.get("items") or [] if (k := item_key(i))}
        ranked: list[str]
        if kind == "popular":
            days = params.get("days") or dt.timedelta(days=30)
            ranked = _top(await self._counts(now_ms, days, limit), limit, set())
        elif kind == "bestsellers":
            ranked = _top(await self._counts(now_ms, HISTORY, limit), limit, set())
        elif kind == "in_category":
            category = str(params.get("category"))
            ranked = _top(await self._counts(now_ms, HISTORY, limit, category=category), limit, set())
        elif kind == "bought_by_segment":
            # What people like them bought, less what they already have.
            segment = str(params.get("segment"))
            counts = await self._counts(now_ms, HISTORY, limit + len(bought), segment=segment)
            ranked = _top(counts, limit, bought)
        elif kind == "related":
            last = mine[-1] if mine else {}
            given = params.get("basket")
            basket = set(given) if given is not None else {k for i in last.get("items") or [] if (k := item_key(i))}
            ranked = _top(list((await self._bought_with(now_ms, basket)).items()), limit, basket)
        elif kind == "personal":
            ranked = _top(list((await self._bought_with(now_ms, bought)).items()), limit, bought)
        elif kind == "new_arrivals":
            newest = await self._figure(("new", limit), now_ms, lambda: self.store.products(None, limit))
            return [ProductView(p) for p in newest]
        else:
            raise ValueError(f"unknown recommendation {kind}")
        return await self._views(now_ms, ranked)

    async def _views(self, now_ms: int, ids: list[str]) -> list[ProductView]:
        records = await self._figure(("products", tuple(ids)), now_ms, lambda: self.store.products(ids))
        by_id = {p["id"]: p for p in records}
        return [ProductView(by_id[i]) for i in ids if i in by_id]


def _top(counts: list[tuple[str, int]], limit: int, exclude: set[str]) -> list[str]:
    ranked = sorted((c for c in counts if c[0] not in exclude), key=lambda kv: (-kv[1], kv[0]))
    return [key for key, _ in ranked[:limit]]
