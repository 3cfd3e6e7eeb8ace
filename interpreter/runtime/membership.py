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

from ..program import Bundle
from ..store import EventRow
from .batch import Batch
from .facts import contact_in_segment
from .views import OrderView, moment

UTC = dt.UTC
Trace = Callable[[str, str, str, str | None], None]


async def update_segments(batch: Batch, bundle: Bundle, contact_id: str) -> None:
    """Evaluate every segment for a contact; record and announce the changes."""
    if not bundle.segments:
        return
    key = ("segments", contact_id)
    current: set[str] | None = batch.cached(key)
    if current is None:
        current = batch.remember(key, await batch.store.segments_of(contact_id))
    for name in bundle.segments:
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
    name = rows[0]["coupon"] if rows else next((c.name for c in bundle.coupons.values() if c.code == code), None)
    coupon = bundle.coupons.get(name or "")
    refusal = None
    row = next((r for r in rows if r["contact_id"] == contact_id), None)
    if coupon is None:
        refusal = "unknown code"
    elif coupon.source != "code" and row is None:
        refusal = "this code was not given to this contact"
    elif row is not None and row["valid_until"] is not None and event.occurred_at > row["valid_until"]:
        refusal = f"expired at {moment(row['valid_until']):%Y-%m-%d %H:%M} UTC"
    elif row is not None and row["redeemed_order"] is not None:
        refusal = f"already used for order {row['redeemed_order']}"
    elif coupon.lists and not await _in_any(batch, contact_id, coupon.lists):
        refusal = f"only for members of {', '.join(coupon.lists)}"
    elif coupon.offers and not _for_offer(order, coupon.offers):
        refusal = f"not valid for this offer (only {', '.join(coupon.offers)})"
    if refusal is not None:
        trace(f"redeem {code}", "refused", f"order {order['id']}: {refusal}", name)
        return
    assert coupon is not None
    if row is not None:
        batch.changes.redemptions.append((row["id"], order["id"], event.occurred_at))
    total = OrderView(order).total
    batch.emit("coupon.redeemed", contact_id, {"coupon": coupon.name, "code": code},
               f"coupon:{code}:{order['id']}")  # fmt: skip
    trace(f"redeem {code}", "accepted", f"order {order['id']} ({total})", coupon.name)


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
