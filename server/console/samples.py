"""What a template preview needs beyond the contact: the order, coupon, products and bonus a
run would give it. The contact's own are used where they exist (their latest order, a
code they were given, the shop's catalogue); otherwise a sample stands in, and every
stand-in is named, so that the page can say which parts of the preview are made up.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ...interpreter import program as p
from ...interpreter.clock import ms_of
from ...interpreter.values import Money, Percent
from ...interpreter.views import BonusView, OrderView, ProductView, moment
from ...stdlib import messages
from ...stdlib.formatting import locale_of
from ..services import CommerceService, ContactService
from .text import _

SAMPLE_CODE = "SAMPLE-CODE"


def _currency(bundle: p.Bundle, coupon: p.Coupon | None) -> str:
    return bundle.currency or (coupon.currency if coupon is not None else None) or "EUR"


def coupon_of(bundle: p.Bundle, template: str) -> p.Coupon | None:
    """The coupon the scenarios send this template with (the first found), else none."""
    for program in bundle.scenarios.values():
        for instr in program.instructions:
            if isinstance(instr, p.Send) and instr.template == template and instr.coupon in bundle.coupons:
                return bundle.coupons[instr.coupon]
    return None


async def preview_context(
    contacts: ContactService, commerce: CommerceService, bundle: p.Bundle, template: p.Template, contact_id: str,
    language: str | None, now: dt.datetime,
) -> tuple[dict[str, Any], list[str]]:  # fmt: skip
    """Variables for a preview of ``template`` for a contact, and what in them is a sample
    (made as of ``now``)."""
    uses = template.uses
    context: dict[str, Any] = {}
    samples: list[str] = []
    coupon = coupon_of(bundle, template.name)
    currency = _currency(bundle, coupon)
    order: OrderView | None = None
    if uses & {"order", "purchased", "coupon"}:
        orders = await contacts.orders(contact_id)
        if orders:
            order = OrderView(orders[-1])
        else:
            order = OrderView(_sample_order(currency, now))
            samples.append(_("order %(number)s is a sample: the contact has no order") % {"number": order.number})
        if uses & {"order", "purchased"}:
            context["order"] = order
            context["purchased"] = order.items
    if "coupon" in uses:
        chosen = coupon or next(iter(bundle.coupons.values()), None)
        code, valid_until = await _code(commerce, contact_id, chosen)
        if code is None:
            code = chosen.code if chosen is not None and chosen.code else SAMPLE_CODE
            samples.append(_("coupon code %(code)s is a sample: the contact was given no code") % {"code": code})
        context["coupon"] = messages.coupon_view(
            code, chosen.name if chosen else "SAMPLE",
            Percent(Decimal(chosen.percent)) if chosen and chosen.percent else None,
            Money(Decimal(chosen.amount), chosen.currency or currency) if chosen and chosen.amount else None,
            valid_until, order.total if order is not None else None, locale_of(language),
        )  # fmt: skip
    if "products" in uses:
        found = await commerce.products(limit=4)
        if found:
            context["products"] = [ProductView(r) for r in found]
        else:
            context["products"] = [ProductView(r) for r in _sample_products(currency, now)]
            samples.append(_("the products are samples: the catalogue is empty"))
    if "bonus" in uses:
        amount = Money(Decimal("25"), currency)
        context["bonus"] = BonusView(amount, Percent(Decimal("5")), Money(Decimal("125"), currency))
        samples.append(_("the bonus (25, with 125 in the balance) is a sample"))
    return context, samples


async def _code(
    commerce: CommerceService, contact_id: str, coupon: p.Coupon | None
) -> tuple[str | None, dt.datetime | None]:
    """The latest code the contact was given for ``coupon``, with its validity."""
    if coupon is None:
        return None, None
    issued = [r for r in await commerce.issued_rows(contact_id) if r["coupon"] == coupon.name]
    if not issued:
        return None, None
    return str(issued[-1]["code"]), moment(issued[-1]["valid_until"])


def _sample_order(currency: str, now: dt.datetime) -> dict[str, Any]:
    at = ms_of(now)
    return {
        "id": "SAMPLE-1001", "number": "SAMPLE-1001", "status": "paid", "total": "120.00", "currency": currency,
        "items": [{"product_id": "sample-1", "name": _("Sample product"), "quantity": 1, "price": "120.00"}],
        "created_at": at, "paid_at": at,
    }  # fmt: skip


def _sample_products(currency: str, now: dt.datetime) -> list[dict[str, Any]]:
    return [
        {"id": f"sample-{n}", "name": _("Sample product %(n)s") % {"n": n}, "price": f"{n * 10}.00",
         "currency": currency, "url": "https://example.com/sample", "created_at": ms_of(now)}
        for n in (1, 2, 3)
    ]  # fmt: skip
