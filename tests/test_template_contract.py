"""What checks, runs: every template of a workspace that `scn check` passes renders,
for any values that fit their declared types.

For every send of every scenario of the examples, the language reference's
declarations and the template zoo (tests/templates_zoo, which uses every filter, test,
operator and variable templates may use), hypothesis draws a contact, an order (or
none, where the scenario's triggers carry none), a coupon, products, a bonus and the
event that started the run, from the workspace's own declarations, with unset optional
fields, empty lists and values at the edges; then every language variant of the
template is rendered through the same views and functions as at send time. Nothing may
raise, and nothing may print Python's insides.

SCN_LONG_PROPERTIES=1 runs many more examples per send (the suite runs a few).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scn.interpreter import program as p
from scn.interpreter.checker import CheckResult, check_workspace
from scn.interpreter.compiler import compile_workspace
from scn.interpreter.runtime import wire
from scn.interpreter.runtime.facts import TypedContactView, event_fields
from scn.interpreter.store import EventRow
from scn.interpreter.timing import zone
from scn.interpreter.types import DECLARABLE, Type
from scn.interpreter.values import Money, Percent
from scn.interpreter.views import BonusView, EventView, OrderView, ProductView
from scn.interpreter.workspace import load_workspace, workspace_from_texts
from scn.stdlib import formatting, messages
from scn.stdlib.catalog import BUILTIN_EVENTS

from . import template_values as v
from .conftest import EXAMPLES
from .test_docs import EXAMPLE_FILE, PRELUDE_FILE, SCN_BLOCKS, prelude, resources_for

EXAMPLES_PER_SEND = 300 if os.environ.get("SCN_LONG_PROPERTIES") else 12
ZOO = Path(__file__).resolve().parent / "templates_zoo"


def _checked_folder(folder: Path) -> CheckResult:
    return check_workspace(load_workspace([str(folder)]))


def _docs() -> list[CheckResult]:
    """The reference's examples, each beside its declarations (as tests/test_docs.py checks them)."""
    found = []
    for block in SCN_BLOCKS:
        files = {PRELUDE_FILE: prelude(), EXAMPLE_FILE: block.text}
        found.append(check_workspace(workspace_from_texts(files, resources_for(*files.values()))))
    return found


WORKSPACES: dict[str, Callable[[], list[CheckResult]]] = {
    "examples": lambda: [_checked_folder(EXAMPLES)],
    "docs": _docs,
    "zoo": lambda: [_checked_folder(ZOO)],
}


class Site:
    """One send of one scenario: what the template there is given."""

    def __init__(self, bundle: p.Bundle, program: p.Program, send: p.Send) -> None:
        self.bundle = bundle
        self.program = program
        self.send = send
        self.template = bundle.templates[send.template]

    def __repr__(self) -> str:
        return f"{self.program.name}:{self.send.id}:{self.send.template}"


def _sites() -> list[tuple[str, Site]]:
    """Every send, once per kind of context it gives its template."""
    found = []
    seen: set[tuple[object, ...]] = set()
    for name, make in WORKSPACES.items():
        for checked in make():
            if not checked.ok:
                continue  # the reference's examples that show a mistake: not a workspace that runs
            bundle = compile_workspace(checked)
            for program in bundle.scenarios.values():
                for instruction in program.instructions:
                    if not isinstance(instruction, p.Send):
                        continue
                    site = Site(bundle, program, instruction)
                    texts = tuple((v.lang, tuple(sorted(v.parts.items()))) for v in site.template.variants)
                    kind = (texts, program.carries, tuple(t.event for t in program.triggers),
                            instruction.coupon, instruction.products is not None)  # fmt: skip
                    if kind not in seen:
                        seen.add(kind)
                        found.append((f"{name}:{site!r}", site))
    return found


SITES = _sites()


def _event_spec(bundle: p.Bundle, name: str) -> tuple[dict[str, Type], frozenset[str]]:
    if name in bundle.events:
        return {f.name: DECLARABLE[f.type] for f in bundle.events[name]}, frozenset()
    spec = BUILTIN_EVENTS[name]
    return dict(spec.fields), spec.optional


@st.composite
def contexts(draw: st.DrawFn, site: Site) -> tuple[dict[str, Any], str | None, ZoneInfo]:
    """A template context as the executor builds it, from drawn records."""
    bundle, uses = site.bundle, site.template.uses
    record = draw(v.contact_record(bundle))
    contact_language = record.get("language")
    order_raw = draw(v.order_record(bundle))
    order = OrderView(order_raw) if "order" in site.program.carries else None
    context: dict[str, Any] = {
        "contact": TypedContactView(record, bundle.attributes),
        "scenario": site.program.title,
        "unsubscribe_url": "https://scn.example/u/1",
        "preferences_url": "https://scn.example/p/1",
    }
    if "bestsellers" in uses:
        context["bestsellers"] = [ProductView(r) for r in draw(st.lists(v.product_record(), max_size=4))]
    if "event" in uses:
        # As the engine reads a run's trigger: the stored event, typed by the bundle.
        trigger = draw(st.sampled_from([t.event for t in site.program.triggers]))
        fields, optional = _event_spec(bundle, trigger)
        typed = draw(v.event_fields_of(fields, optional, bundle))
        payload: dict[str, Any] = {"data": {k: wire.stored(x) for k, x in typed.items() if x is not None}}
        if "item" in site.program.carries:
            payload["item"] = draw(v.item_record())
        row = EventRow(1, "k", trigger, record["id"], v.ms(draw(v.MOMENTS)), 0, json.dumps(payload))
        order_record = order_raw if order is not None else None
        decoded = event_fields(row, order_record, bundle)
        for name, value in typed.items():  # the stored form keeps every value as it was
            assert decoded[name] == value, (name, value, decoded[name])
        context["event"] = EventView(decoded)
    if order is not None:
        context["order"] = order
        context["purchased"] = order.items
    if site.send.coupon is not None:
        coupon = bundle.coupons[site.send.coupon]
        valid = draw(st.one_of(st.none(), v.MOMENTS))
        context["coupon"] = messages.coupon_view(
            draw(st.text(min_size=1, max_size=20)), coupon.name,
            Percent(coupon.percent) if coupon.percent is not None else None,
            Money(coupon.amount, coupon.currency or "XXX") if coupon.amount is not None else None,
            valid, order.total if order is not None else None, formatting.locale_of(contact_language),
        )  # fmt: skip
    if site.send.products is not None:
        context["products"] = [ProductView(r) for r in draw(st.lists(v.product_record(), max_size=4))]
    if "bonus" in uses:
        currency = bundle.currency or "UAH"
        percent = draw(st.one_of(st.none(), st.builds(Percent, st.decimals(0, 100, places=2))))
        context["bonus"] = BonusView(Money(draw(v.AMOUNTS), currency), percent, Money(draw(v.AMOUNTS), currency))
    return context, contact_language, zone(record.get("timezone"), "Europe/Kyiv")


def _renders(site: Site, drawn: tuple[dict[str, Any], str | None, ZoneInfo]) -> None:
    context, language, where = drawn
    for variant in site.template.variants:
        parts = messages.render_variant(variant, context, variant.lang or language, where)
        for key, text in parts.items():
            assert isinstance(text, str), key
            for leak in (" object at 0x", "<scn.", "Traceback", "<class "):
                assert leak not in text, (key, text)


@pytest.mark.parametrize("site", [s for _, s in SITES], ids=[i for i, _ in SITES])
def test_every_template_renders_for_any_values_of_its_declared_types(site: Site) -> None:
    @settings(max_examples=EXAMPLES_PER_SEND, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    @given(drawn=contexts(site))
    def renders(drawn: tuple[dict[str, Any], str | None, ZoneInfo]) -> None:
        _renders(site, drawn)

    renders()


def test_the_sites_cover_every_workspace_and_the_zoo_every_filter_and_test() -> None:
    from scn.stdlib.catalog import TEMPLATE_FILTERS, TEMPLATE_TESTS

    assert {i.split(":")[0] for i, _ in SITES} == set(WORKSPACES)
    zoo = "".join(path.read_text(encoding="utf-8") for path in ZOO.rglob("*.*"))
    for name in TEMPLATE_FILTERS:
        assert f"|{name}" in zoo or f"| {name}" in zoo, f"the zoo uses no |{name}"
    for name in TEMPLATE_TESTS:
        assert f" is {name}" in zoo or f" is not {name}" in zoo, f"the zoo uses no `is {name}`"


def test_a_money_value_is_shown_by_the_conventions_of_the_language() -> None:
    amount = Money("1234.5", "UAH")
    locale = formatting.locale_of
    assert formatting.money(amount, locale("uk")) == "1\xa0234,50\xa0₴"
    assert formatting.money(amount, locale("en")) == "UAH\xa01,234.50"
    assert formatting.money(Money("1234.5", "PLN"), locale("pl")) == "1\xa0234,50\xa0zł"
    assert formatting.percent(Percent("12.5"), locale("ru")) == "12,5\xa0%"
    assert formatting.percent(Percent("15"), locale("en")) == "15%"
    moment = dt.datetime(2026, 12, 9, 22, 30, tzinfo=dt.UTC)
    kyiv = ZoneInfo("Europe/Kyiv")
    assert formatting.date(moment, locale("pl"), kyiv) == "10 grudnia 2026", "the date in the contact's zone"
    assert formatting.date(moment, locale("lv"), kyiv) == "2026. gada 10. decembris"
    assert formatting.date(moment, locale("en"), ZoneInfo("UTC")) == "December 9, 2026"
    assert formatting.duration(dt.timedelta(hours=36), locale("en")) == "36 hours"
    assert formatting.duration(dt.timedelta(days=14), locale("uk")) == "2 тижні"
