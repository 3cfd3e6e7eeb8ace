"""What a contact reads in each example template, in each of its languages.

Every variant of every example template is rendered for a contact of its language, once
with every optional value given (a long first name, links on products) and once with
them unset (no first name, products without a page, no bestsellers), and read for what a
recipient would find wrong: an empty slot ("Hi, !"), template syntax or "None" in the
text, a link that points nowhere, a heading over an empty list, a coupon's declared name
shown as if it were the code, or an SMS that needs a second segment.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scn.interpreter import program as p
from scn.interpreter.checker import check_workspace
from scn.interpreter.compiler import compile_workspace
from scn.interpreter.runtime.facts import TypedContactView
from scn.interpreter.values import Money, Percent
from scn.interpreter.views import BonusView, OrderView, ProductView
from scn.interpreter.workspace import load_workspace
from scn.stdlib import formatting, messages
from scn.stdlib.delivery.http import sms_segments

from .conftest import EXAMPLES

BUNDLE = compile_workspace(check_workspace(load_workspace([EXAMPLES])))
#: Long, real first names of each language, with the letters that break naive encodings.
NAMES = {"uk": "Олександра", "ru": "Владислава", "pl": "Małgorzata", "lv": "Ģirts", "en": "Zoë"}
CURRENCY = {"uk": "UAH", "ru": "UAH", "pl": "PLN", "lv": "EUR", "en": "EUR"}
ZONE = {"uk": "Europe/Kyiv", "ru": "Europe/Kyiv", "pl": "Europe/Warsaw", "lv": "Europe/Riga", "en": "Europe/London"}
NOW = dt.datetime(2026, 12, 9, 16, 30, tzinfo=dt.UTC)
CODE = "CODE-7QX2M9KD"


def _coupon(template: str) -> p.Coupon | None:
    for program in BUNDLE.scenarios.values():
        for instruction in program.instructions:
            if isinstance(instruction, p.Send) and instruction.template == template and instruction.coupon:
                return BUNDLE.coupons[instruction.coupon]
    return None


def _context(template: str, lang: str, given: bool) -> dict[str, Any]:
    currency = CURRENCY[lang]
    record: dict[str, Any] = {
        "id": "c1", "email": "c@example.com", "phone": "+380501112233", "language": lang, "timezone": ZONE[lang],
        "first_name": NAMES[lang] if given else None,
        "attributes": {"subscription_ends": "2026-12-12T18:00:00+02:00"} if given else {},
    }  # fmt: skip
    url = "https://shop.example/p/1" if given else None
    order = OrderView({"id": "o1", "number": "UA-102345", "status": "paid", "total": "1350.50", "currency": currency,
                       "items": [{"product_id": "a", "name": "Kubek", "quantity": 2, "price": "75.25", "url": url},
                                 {"product_id": "b", "name": "Czajnik", "price": "1200.00"}]})  # fmt: skip
    products = [ProductView({"id": "p1", "name": "Product", "price": "199.00", "currency": currency, "url": url})]
    context: dict[str, Any] = {
        "contact": TypedContactView(record, BUNDLE.attributes), "scenario": "S",
        "unsubscribe_url": "https://scn.example/u/1", "preferences_url": "https://scn.example/p/1" if given else None,
        "bestsellers": products if given else [], "order": order, "purchased": order.items, "products": products,
        "bonus": BonusView(Money(Decimal("1250"), "UAH"), Percent(Decimal("5")), Money(Decimal("12345.60"), "UAH")),
    }  # fmt: skip
    coupon = _coupon(template)
    if coupon is not None:
        context["coupon"] = messages.coupon_view(
            CODE, coupon.name, Percent(coupon.percent) if coupon.percent is not None else None,
            Money(coupon.amount, coupon.currency or "XXX") if coupon.amount is not None else None,
            NOW + dt.timedelta(hours=36) if given else None, order.total, formatting.locale_of(lang),
        )  # fmt: skip
    return context


CASES = [
    (name, variant, given)
    for name, template in sorted(BUNDLE.templates.items())
    for variant in template.variants
    for given in (True, False)
]


@pytest.mark.parametrize(
    ("name", "variant", "given"), CASES, ids=[f"{n}-{v.lang or 'any'}-{'set' if g else 'unset'}" for n, v, g in CASES]
)
def test_an_example_message_reads_right(name: str, variant: p.TemplateVariant, given: bool) -> None:
    lang = variant.lang or "en"
    parts = messages.render_variant(variant, _context(name, lang, given), lang, ZoneInfo(ZONE[lang]))
    for key, text in parts.items():
        for leak in ("{{", "{%", "None", "null", "undefined"):
            assert leak not in text, (key, leak, text)
        assert not re.search(r",\s*[!?.:]", text), (key, "an empty slot after a comma", text)
        assert 'href=""' not in text, (key, "a link to nowhere", text)
    if "plain" in parts:
        lines = [line for line in parts["plain"].splitlines() if line]
        for heading, below in zip(lines, lines[1:], strict=False):
            if heading.endswith(":"):  # a list follows, one row a line
                assert " | " in below, ("a heading with nothing under it", heading, below)
        assert "https://scn.example/u/1" in parts["plain"], "every email can be left"
        coupon = _coupon(name)
        if coupon is not None:
            assert CODE in parts["plain"]
            assert coupon.name not in parts["plain"], "the coupon's declared name is not the code"
    if "text" in parts:  # an SMS: one segment, with a long name and long numbers
        assert sms_segments(parts["text"])[1] == 1, parts["text"]


@pytest.mark.parametrize("name", ["loyal_offer", "next_level", "comeback", "unpaid_reminder"])
def test_a_kwiga_contact_in_a_language_without_a_variant_reads_english(name: str) -> None:
    # A Polish or Latvian student of the school reads English, never Russian.
    assert messages.choose_variant(BUNDLE.templates[name], "pl").lang == "en"


def test_a_latvian_deadline_is_written_in_numbers() -> None:
    # "līdz" (until) takes the dative, which CLDR's long date does not have: "līdz 2026.
    # gada 11. decembris" reads wrong to a Latvian, "līdz 11.12.2026. 06:30" does not.
    variant = next(v for v in BUNDLE.templates["unpaid_reminder"].variants if v.lang == "lv")
    parts = messages.render_variant(variant, _context("unpaid_reminder", "lv", True), "lv", ZoneInfo(ZONE["lv"]))
    assert "(līdz 11.12.2026. 06:30)" in parts["plain"]
