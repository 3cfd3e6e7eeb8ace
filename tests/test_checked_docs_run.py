"""What `scn check` passes, runs: the examples of docs/language.md, with any events the door takes.

Every ```scn block of the reference (beside its prelude) that checks with no finding at
all is played on the real engine against events drawn at random for the event types it
names: contacts with or without each field (names in several scripts, languages, zones
around the world), orders of any total in UAH, PLN or EUR (each order keeps its own)
with or without items, and the fields each event declares, given or left out where they
may be. Nothing may go wrong that the check could have said (tests/test_checked_runs.py:
no event set aside, no run failed, no message failed for its template or holding
template code). Events the door refuses are not played.

A bounded run is part of the suite; `SCN_LONG_FUZZ=1` runs `SCN_FUZZ_EXAMPLES` cases.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scn.interpreter.checker import CheckResult, check_workspace
from scn.interpreter.types import BOOL, DATE, DATETIME, NUMBER, PERCENT, STRING, TIME, Entity, ListOf, Money, Ref, Type
from scn.interpreter.workspace import workspace_from_texts

from .test_check_fuzz import EXAMPLES, LONG
from .test_checked_runs import what_went_wrong
from .test_docs import EXAMPLE_FILE, PRELUDE_FILE, SCN_BLOCKS, prelude, resources_for

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
NAMES = ["Anna", "Jānis", "Збіґнєв", "Łucja", "O'Brien", "李", "x"]
CURRENCIES = ["UAH", "PLN", "EUR"]


@cache
def clean_blocks() -> list[tuple[str, CheckResult]]:
    """The reference's examples that check with no finding, checked."""
    found = []
    for block in SCN_BLOCKS:
        files = {PRELUDE_FILE: prelude()}
        if block.text != files[PRELUDE_FILE]:
            files[EXAMPLE_FILE] = block.text
        checked = check_workspace(workspace_from_texts(files, resources_for(*files.values())))
        if not checked.diagnostics:
            found.append((block.text, checked))
    return found


def value_of(t: Type, currency: str) -> st.SearchStrategy[Any]:
    if isinstance(t, Money):
        return st.sampled_from(["0", "0.01", "1", "150", "999.99", "1000", "25000"]).map(
            lambda a: f"{a} {t.currency or currency}"
        )
    if isinstance(t, ListOf):
        return st.lists(value_of(t.item, currency), max_size=2)
    choices: dict[Type, list[Any]] = {
        NUMBER: [0, 1, 2, 5, 50, 89, 90, 100, 1000],
        PERCENT: [0, 50, 100],
        STRING: ["a", "course-a", "basic", "paid", "delivered", "Ā", "x" * 50],
        BOOL: [True, False],
        DATE: ["2026-03-10", "2000-02-29", "1990-12-31"],
        DATETIME: [(START + dt.timedelta(days=d)).isoformat() for d in (-400, -1, 0, 1, 30, 400)],
        TIME: ["09:30", "00:00", "23:59"],
    }
    return st.sampled_from(choices.get(t, ["a"]))


@st.composite
def contact(draw: st.DrawFn, number: int) -> dict[str, Any]:
    cid = f"c{number}"
    fields: dict[str, list[Any]] = {
        "email": [f"{cid}@example.com"], "phone": ["+380501234567", "+48500100200"], "first_name": NAMES,
        "last_name": NAMES, "language": ["uk", "ru", "pl", "lv", "en", "de", "fr"],
        "timezone": ["Europe/Kyiv", "Europe/Riga", "America/New_York", "Asia/Tokyo", "UTC", "Pacific/Chatham"],
        "country": ["UA", "PL", "LV"], "push_token": ["tok-1"],
    }  # fmt: skip
    record: dict[str, Any] = {"id": cid}
    for name, values in fields.items():
        if draw(st.integers(0, 9)) < 7:
            record[name] = draw(st.sampled_from(values))
    if draw(st.booleans()):
        record["subscriptions"] = {"email": draw(st.integers(0, 4)) > 0, "sms": draw(st.integers(0, 4)) > 0}
    return record


@st.composite
def order(draw: st.DrawFn, number: int, currency: str) -> dict[str, Any]:
    items = []
    for _ in range(draw(st.integers(0, 3))):
        item: dict[str, Any] = {
            "product_id": f"p{draw(st.integers(1, 5))}", "name": draw(st.sampled_from(["Kubek", "Курс", "Mug"])),
            "quantity": draw(st.integers(1, 3)), "price": draw(st.sampled_from(["0", "10", "150.50", "999"])),
        }  # fmt: skip
        if draw(st.booleans()):
            item |= {"offer": "course-a", "tariff": "basic", "category": "mugs", "url": "https://shop.example/p/1"}
        items.append(item)
    total = draw(st.sampled_from(["0", "50", "199.99", "200", "500", "1000", "5000"]))
    record: dict[str, Any] = {"id": f"o{number}", "number": f"N-{number}", "currency": currency, "total": total}
    listed = draw(st.booleans())  # an order without items may still say it has none
    if items or listed:
        record["items"] = items
    if draw(st.booleans()):
        record["status"] = draw(st.sampled_from(["new", "paid", "delivered", "cancelled"]))
    if draw(st.booleans()):
        record["offer"] = "course-a"
    return record


@st.composite
def timeline(draw: st.DrawFn, text: str, checked: CheckResult) -> list[dict[str, Any]]:
    symbols = checked.symbols
    types = [t for t in symbols.events if re.search(rf"\b{re.escape(t)}\b", text)] or ["order.paid"]
    currencies: dict[int, str] = {}  # an order keeps its currency
    documents = []
    hours = 0
    for index in range(draw(st.integers(3, 10))):
        spec = symbols.events[draw(st.sampled_from(types))]
        hours += draw(st.sampled_from([0, 1, 5, 30]))
        at = (START + dt.timedelta(hours=hours)).isoformat()
        person = draw(contact(draw(st.integers(1, 4))))
        document: dict[str, Any] = {"type": spec.name, "key": f"k{index}", "at": at, "contact": person}
        if spec.carries & {"order", "item"} or draw(st.integers(0, 4)) == 0:
            number = draw(st.integers(1, 3))
            currency = currencies.setdefault(number, draw(st.sampled_from(CURRENCIES)))
            document["order"] = draw(order(number, currency))
            if "item" in spec.carries and document["order"].get("items"):
                document["item"] = document["order"]["items"][0]
        data = {}
        for name, t in spec.fields.items():
            if name == "occurred_at" or isinstance(t, Entity) or (name in spec.optional and draw(st.booleans())):
                continue
            if isinstance(t, Ref):
                declared = [n for n in symbols.decls if symbols.kind_of(n) == t.kind]
                if declared:
                    data[name] = draw(st.sampled_from(sorted(declared)))
                continue
            data[name] = draw(value_of(t, draw(st.sampled_from(CURRENCIES))))
        if data:
            document["data"] = data
        documents.append(document)
    return documents


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, CheckResult, list[dict[str, Any]]]:
    text, checked = draw(st.sampled_from(clean_blocks()))
    return text, checked, draw(timeline(text, checked))


def test_most_examples_of_the_reference_check_clean() -> None:
    """The corpus: blocks that check with a finding are not played (the check spoke)."""
    assert len(clean_blocks()) >= 50


@pytest.mark.timeout(0 if LONG else 300)
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(case=cases())
def test_what_checks_clean_in_the_reference_runs_clean(case: tuple[str, CheckResult, list[dict[str, Any]]]) -> None:
    text, checked, documents = case
    wrong = asyncio.run(what_went_wrong(checked, documents))
    assert wrong == [], (text[:300], wrong[:5])
