"""Coupon codes: generated from a pattern with a cryptographic random source."""

from __future__ import annotations

import datetime as dt
import random
import re
import secrets
from decimal import Decimal
from typing import Any

import msgspec

from ..interpreter.program import Bundle, Coupon
from ..interpreter.store import Store
from ..interpreter.values import Money, Percent

#: 32 letters and digits that cannot be mistaken for each other (no I, O, 0, 1): each
#: random character carries 5 bits, so `{XXXXXXXX}` is 40 bits.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_SLOT = re.compile(r"\{(X+)\}")


def generate_code(pattern: str, rng: random.Random | None = None) -> str:
    """Fill every `{XXX...}` of ``pattern`` with as many random characters.

    The characters come from the operating system's cryptographic source; only a
    simulation passes its own seeded ``rng``, so that its output is the same each run.
    """
    choose = rng.choice if rng is not None else secrets.choice
    return _SLOT.sub(lambda m: "".join(choose(ALPHABET) for _ in m.group(1)), pattern)


# ---------------------------------------------------------------- redemption rules
# One place for what makes a code usable, shared by the redemption recorded when an
# order is paid (the runtime) and the look-up a checkout makes before (the API).


def refusal(
    coupon: Coupon | None, row: dict[str, Any] | None, *, at_ms: int, in_lists: bool, offer_ok: bool
) -> str | None:
    """Why this code cannot be used by this contact now, or None when it can.

    ``row`` is the issued code's record for this contact (None if it was not given to
    them); ``in_lists`` whether they are in one of the coupon's lists (or it has none);
    ``offer_ok`` whether the order is for one of its offers (or it has none)."""
    if coupon is None:
        return "unknown code"
    if coupon.source != "code" and row is None:
        return "this code was not given to this contact"
    if row is not None and row.get("valid_until") is not None and at_ms > row["valid_until"]:
        ended = dt.datetime.fromtimestamp(row["valid_until"] / 1000, dt.UTC)
        return f"expired at {ended:%Y-%m-%d %H:%M} UTC"
    if row is not None and row.get("redeemed_order") is not None:
        return f"already used for order {row['redeemed_order']}"
    if coupon.lists and not in_lists:
        return f"only for members of {', '.join(coupon.lists)}"
    if coupon.offers and not offer_ok:
        return f"not valid for this offer (only {', '.join(coupon.offers)})"
    return None


def price_after(coupon: Coupon, total: Money) -> Money | None:
    """The order's price once the coupon applies (never below zero); None for an amount off
    in another currency than the order's (possible without a workspace `currency`)."""
    if coupon.percent is not None:
        return (total - total * Percent(Decimal(coupon.percent))).rounded()
    if coupon.currency and coupon.currency != total.currency:
        return None
    after = total - Money(Decimal(coupon.amount or 0), coupon.currency or total.currency)
    return after if after.amount > 0 else Money(Decimal(0), total.currency)


def coupon_of(bundle: Bundle, code: str, rows: list[dict[str, Any]]) -> Coupon | None:
    """The coupon a code belongs to: an issued row says; otherwise a static code's declaration."""
    name = rows[0]["coupon"] if rows else next((c.name for c in bundle.coupons.values() if c.code == code), None)
    return bundle.coupons.get(name or "")


class CodeCheck(msgspec.Struct, frozen=True, kw_only=True):
    """Whether a code can be used at checkout, and what it does to the price."""

    code: str
    valid: bool
    reason: str | None = None
    coupon: str | None = None
    discount: str | None = None
    price_before: Money | None = None
    price_after: Money | None = None


async def check_code(
    store: Store, bundle: Bundle, code: str, contact_id: str, *, now_ms: int,
    total: Money | None = None, offer: str | None = None,
) -> CodeCheck:  # fmt: skip
    """Validate a code for a contact (and an order total / offer) without using it up."""
    rows = await store.code_rows(code)
    coupon = coupon_of(bundle, code, rows)
    row = next((r for r in rows if r["contact_id"] == contact_id), None)
    in_lists = True
    if coupon is not None and coupon.lists:
        member_of = await store.lists_of(contact_id) | await store.segments_of(contact_id)
        in_lists = any(name in member_of for name in coupon.lists)
    offer_ok = coupon is None or not coupon.offers or offer in coupon.offers
    why = refusal(coupon, row, at_ms=now_ms, in_lists=in_lists, offer_ok=offer_ok)
    if coupon is None or why is not None:
        return CodeCheck(code=code, valid=False, reason=why, coupon=coupon.name if coupon else None)
    discount = f"{coupon.percent}%" if coupon.percent is not None else f"{coupon.amount} {coupon.currency}"
    after = price_after(coupon, total) if total is not None else None
    return CodeCheck(
        code=code, valid=True, coupon=coupon.name, discount=discount, price_before=total, price_after=after
    )
