"""Segments that fill themselves, and coupon codes checked when an order uses one.

After every event, the contact's segments are evaluated again: entering or leaving one
raises `segment.entered` / `segment.left`, which scenarios can trigger on. A paid
order that carries a coupon code is checked against the code's rules (it exists, it
is this contact's, it is within its validity, it is unused, the contact is still in
the coupon's list, the order is for one of its offers) and the redemption recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ...stdlib.coupons import coupon_of, price_after
from ...stdlib.coupons import refusal as coupon_refusal
from ..program import Bundle
from ..store import EventRow
from ..views import OrderView
from .batch import Batch
from .crossing import segment_clocks
from .facts import contact_in_segment, segment_env

UTC = dt.UTC
Trace = Callable[[str, str, str, str | None], None]


async def update_segments(
    batch: Batch, bundle: Bundle, contact_id: str, *, timed_only: bool = False, every_ms: int = 3_600_000
) -> None:
    """Evaluate every segment (or only those that read the clock) for a contact; record
    and announce the changes, and when the clock-dependent ones can change next (see
    crossing.py; ``every_ms`` for those that cannot be followed)."""
    if not bundle.segments:
        return
    clocks = segment_clocks(bundle)
    if clocks.timed:
        due = await clocks.next_check(await segment_env(batch, bundle, contact_id), every_ms)
        batch.changes.segment_checks.append((contact_id, due))
    key = ("segments", contact_id)
    current: set[str] | None = batch.cached(key)
    if current is None:
        current = batch.remember(key, await batch.store.segments_of(contact_id))
    for name, segment in bundle.segments.items():
        if timed_only and not segment.timed:
            continue
        inside = await contact_in_segment(batch, bundle, contact_id, name)
        if inside == (name in current):
            continue
        if inside:
            current.add(name)
            batch.changes.segment_adds.append((name, contact_id, batch.now_ms))
            batch.emit(
                "segment.entered", contact_id, {"segment": name}, f"segment:{name}:{contact_id}:{batch.now_ms}:in"
            )
        else:
            current.discard(name)
            batch.changes.segment_removes.append((name, contact_id))
            batch.emit("segment.left", contact_id, {"segment": name}, f"segment:{name}:{contact_id}:{batch.now_ms}:out")


async def redeem(batch: Batch, bundle: Bundle, event: EventRow, order: dict[str, Any], trace: Trace) -> None:
    """Check the coupon code of a paid order and record its use (or why it is refused)."""
    code = order.get("coupon")
    if not code or event.type != "order.paid":
        return
    contact_id = event.contact_id
    rows = await batch.store.code_rows(code)
    if any(r["redeemed_order"] == order["id"] for r in rows):
        return  # this order's use is already recorded
    coupon = coupon_of(bundle, code, rows)
    row = next((r for r in rows if r["contact_id"] == contact_id), None)
    in_lists = coupon is None or not coupon.lists or await _in_any(batch, contact_id, coupon.lists)
    offer_ok = coupon is None or not coupon.offers or _for_offer(order, coupon.offers)
    refusal = coupon_refusal(coupon, row, at_ms=event.occurred_at, in_lists=in_lists, offer_ok=offer_ok)
    if refusal is not None:
        trace(f"redeem {code}", "refused", f"order {order['id']}: {refusal}", coupon.name if coupon else None)
        return
    assert coupon is not None
    if row is not None:
        batch.changes.redemptions.append((row["id"], order["id"], event.occurred_at))
    total = OrderView(order).total
    priced = price_after(coupon, total) if total is not None else None
    after = f" -> {priced}" if priced is not None else ""
    batch.emit("coupon.redeemed", contact_id, {"coupon": coupon.name, "code": code},
               f"coupon:{code}:{order['id']}")  # fmt: skip
    trace(f"redeem {code}", "accepted", f"order {order['id']} ({total}{after})", coupon.name)


async def _in_any(batch: Batch, contact_id: str, names: tuple[str, ...]) -> bool:
    lists = await batch.lists_of(contact_id)
    segments = batch.cached(("segments", contact_id))
    if segments is None:
        segments = await batch.store.segments_of(contact_id)
    return any(n in lists or n in segments for n in names)


def _for_offer(order: dict[str, Any], offers: tuple[str, ...]) -> bool:
    if order.get("offer") in offers:
        return True
    return any({i.get("offer"), i.get("product_id"), i.get("sku")} & set(offers) for i in order.get("items") or [])
