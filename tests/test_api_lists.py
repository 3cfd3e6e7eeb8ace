"""The data API's lists: pages, step counts, times, enumerated query values, loyalty groups."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from scn.interpreter.clock import VirtualClock

from .server_harness import serving
from .test_client import scn
from .test_server import COMMERCE, FILES, is_problem, paid

RUN_STATUSES = "running, waiting, awaiting, done, stopped, exited, failed, cancelled"


@pytest.mark.parametrize(
    ("path", "parameter", "value", "allowed"),
    [
        ("/api/runs", "status", "bogus", RUN_STATUSES),
        ("/api/messages", "status", "bogus", "pending, sent, failed, skipped"),
        ("/api/messages", "channel", "fax", "email, sms, viber, push, webpush, webhook"),
    ],
)
async def test_a_bad_enumerated_query_value_is_a_400_naming_the_allowed_values(
    tmp_path: Path, db: str, path: str, parameter: str, value: str, allowed: str
) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        problem = is_problem(await s.client.get(path, params={parameter: value}), 400)
    assert problem["detail"] == f"{parameter} must be one of {allowed}, not {value!r}"
    assert problem["errors"][0]["key"] == parameter and problem["errors"][0]["source"] == "query"


async def test_scn_runs_with_a_bad_status_exits_2_with_the_servers_message(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        await s.client.post("/api/events", json=paid("ann", "o1"))
        await s.settle()
        code, out, err = await scn(s.base, "runs", "--status", "bogus")
        assert code == 2 and out == ""
        assert f"status must be one of {RUN_STATUSES}, not 'bogus'" in err, err
        code, out, _ = await scn(s.base, "runs", "--status", "waiting")
        assert code == 0 and "ann" in out


FOLLOW = """
list buyers "Buyers"
list big "Big"

template thanks email
  subject "Thanks"
  html "thanks.html"
end

scenario follow "Follow up"
  on order.paid
  entry at most 1 per order
  wait for order.refunded up to 1h
  if order.total > 100 UAH
    add to list big
  else
    add to list buyers
  end
  send email thanks
end
"""


def order_event(kind: str, contact: str, order: str, total: str) -> dict[str, object]:
    return {"type": kind, "key": f"{kind}-{order}", "contact": {"id": contact, "email": f"{contact}@example.com"},
            "order": {"id": order, "total": total, "currency": "UAH"}}  # fmt: skip


async def test_steps_count_runs_once_per_step_in_the_scenarios_order(tmp_path: Path, db: str) -> None:
    """Three runs wait and time out, one is resumed by its event: each counts once at the
    `wait for`, by how the step ended for it; steps come in the scenario's order, the
    branches' steps where they are written."""
    clock = VirtualClock(dt.datetime(2025, 3, 3, 8, 0, tzinfo=dt.UTC))
    async with serving(tmp_path, {"follow.scn": FOLLOW, "thanks.html": "<p>Thanks</p>"}, clock=clock, db=db) as s:
        r = await s.client.post("/api/events", json=[
            order_event("order.paid", "a", "o1", "50.00"), order_event("order.paid", "b", "o2", "150.00"),
            order_event("order.paid", "c", "o3", "200.00"), order_event("order.paid", "d", "o4", "80.00"),
            order_event("order.refunded", "d", "o4", "80.00"),
        ])  # fmt: skip
        assert r.status_code == 202, r.text
        # The virtual clock jumps to the waits' end once the engine is idle: settled is when
        # no run waits any more (settle() alone can return before the jump).
        for _ in range(500):
            await s.settle()
            if await s.count("SELECT count(*) FROM runs WHERE status IN ('waiting', 'awaiting')") == 0:
                break
            await asyncio.sleep(0.02)
        page = (await s.client.get("/api/scenarios/follow/steps")).json()
    assert page["next"] is None
    steps = [(c["step"], c["name"], c["passed"], c["outcomes"], c["waiting"]) for c in page["items"]]
    assert steps == [
        ("start", "on order.paid", 4, {"started": 4}, 0),
        ("s1", "wait for order.refunded up to 1h", 4, {"event": 1, "timed out": 3}, 0),
        ("s2", "if order.total > 100 UAH", 4, {"checked": 4}, 0),
        ("s2.if1.1", "add to list big", 2, {"done": 2}, 0),
        ("s2.else.1", "add to list buyers", 2, {"done": 2}, 0),
        ("s3", "send email thanks", 4, {"sent": 4}, 0),
        ("end", "end", 4, {"done": 4}, 0),
    ]
    assert page["items"][-1]["here"] == {"done": 4}


async def test_steps_list_the_steps_no_run_reached_yet_and_page(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        first = (await s.client.get("/api/scenarios/thanks/steps", params={"limit": 3})).json()
        rest = (await s.client.get("/api/scenarios/thanks/steps", params={"after": first["next"]})).json()
        is_problem(await s.client.get("/api/scenarios/thanks/steps", params={"after": "s99"}), 422)
        is_problem(await s.client.get("/api/scenarios/nope/steps"), 404)
    assert [c["step"] for c in first["items"]] == ["start", "s1", "s2"] and first["next"] == "s2"
    assert [c["step"] for c in rest["items"]] == ["s3", "s4", "end"] and rest["next"] is None
    assert all(c["passed"] == 0 and c["outcomes"] == {} for c in first["items"] + rest["items"])


#: A time with its offset: 2025-03-03T08:00:00Z, 2025-03-03T10:00:00.123+02:00.
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)")


def times(document: Any, where: str = "") -> list[tuple[str, Any]]:
    """Every value under a key that names a time (`at`, `*_at`, `*_until`, `since`, `until`)."""
    found: list[tuple[str, Any]] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key in ("at", "since", "until") or key.endswith(("_at", "_until")):
                found.append((f"{where}.{key}", value))
            found += times(value, f"{where}.{key}")
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += times(value, f"{where}[{index}]")
    return found


async def test_every_time_the_api_shows_is_iso_8601_with_an_offset(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, {"shop.scn": COMMERCE, "codes.csv": "code\nP-1\n"}, db=db) as s:
        person = {"id": "ann", "email": "ann@example.com"}
        await s.client.post("/api/events", json=[
            {"type": "contact.registered", "key": "r1", "contact": person},
            {"type": "order.paid", "key": "p1", "contact": person,
             "order": {"id": "o1", "total": "500.00", "currency": "UAH"}},
        ])  # fmt: skip
        await s.settle()
        runs = (await s.client.get("/api/runs", params={"scenario": "vip"})).json()
        run = (await s.client.get(f"/api/runs/{runs['items'][0]['id']}")).json()
        coupons = (await s.client.get("/api/contacts/ann/coupons")).json()
        documents = {
            "runs": runs, "run": run, "coupons": coupons,
            "loyalty": (await s.client.get("/api/contacts/ann/loyalty")).json(),
            "messages": (await s.client.get("/api/messages")).json(),
            "scenario": (await s.client.get("/api/scenarios/vip")).json(),
            "versions": (await s.client.get("/api/scenarios/vip/versions")).json(),
            "report": (await s.client.get("/api/reports/vip")).json(),
        }  # fmt: skip
    issued = dt.datetime.fromisoformat(coupons["items"][0]["issued_at"])
    valid_until = run["variables"]["coupons"]["VIP20"]["valid_until"]
    assert dt.datetime.fromisoformat(valid_until) == issued + dt.timedelta(days=2)
    assert coupons["items"][0]["valid_until"] == valid_until and coupons["next"] is None
    found = [(f"{name}{where}", value) for name, document in documents.items() for where, value in times(document)]
    assert {re.split(r"[.\[]", where)[0] for where, _ in found} >= {"run", "coupons", "loyalty", "versions", "report"}
    assert [(where, value) for where, value in found if value is not None and not ISO.fullmatch(str(value))] == []


async def test_every_list_answers_with_a_page_of_items_and_next(tmp_path: Path, db: str) -> None:
    """Runs, messages, members of lists and segments, issued codes, scenarios, versions,
    steps and groups: `{items, next}`, `next` given back as `after` for the next page."""
    async with serving(tmp_path, {"shop.scn": COMMERCE, "codes.csv": "code\nP-1\n"}, db=db) as s:
        people = [f"c{i}" for i in range(5)]
        await s.client.post("/api/events", json=[
            {"type": "contact.registered", "key": f"r-{p}", "contact": {"id": p, "email": f"{p}@example.com"}}
            for p in people
        ] + [
            {"type": "order.paid", "key": f"p-{p}", "contact": {"id": p},
             "order": {"id": f"o-{p}", "total": "10.00", "currency": "UAH"}}
            for p in people
        ])  # fmt: skip
        await s.settle()
        retitled = COMMERCE.replace('scenario vip "VIP"', 'scenario vip "VIP members"')
        assert (await s.client.post("/api/scenarios", json={"files": {"shop.scn": retitled}})).status_code == 201
        paths = {
            "/api/runs": 10, "/api/messages": 0, "/api/lists/vip": 5, "/api/segments/buyers": 5,
            "/api/contacts/c0/coupons": 1, "/api/scenarios": 2, "/api/scenarios/vip/versions": 2,
            "/api/scenarios/vip/steps": 4, "/api/loyalty/groups": 1,
        }  # fmt: skip
        for path, total in paths.items():
            seen: list[Any] = []
            after: Any = None
            for _ in range(20):
                params = {"limit": 2} if after is None else {"limit": 2, "after": after}
                r = await s.client.get(path, params=params)
                assert r.status_code == 200, (path, r.text)
                page = r.json()
                assert set(page) >= {"items", "next"} and len(page["items"]) <= 2, (path, page)
                seen += page["items"]
                after = page["next"]
                if after is None:
                    break
            assert len(seen) == total, (path, seen)
            assert len({json.dumps(item, sort_keys=True) for item in seen}) == total, f"{path}: no item twice"
        members = (await s.client.get("/api/lists/vip", params={"limit": 10})).json()
        assert members == {"name": "vip", "count": 5, "items": people, "next": None}
        is_problem(await s.client.get("/api/lists/vip", params={"limit": 0}), 400)
        is_problem(await s.client.get("/api/scenarios", params={"limit": 1001}), 400)


async def test_loyalty_groups_are_one_entry_each_with_figures_per_currency(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, {"shop.scn": COMMERCE, "codes.csv": "code\nP-1\n"}, db=db) as s:

        def paid(contact: str, order: str, total: str, currency: str) -> dict[str, Any]:
            return {"type": "order.paid", "key": f"p-{order}", "contact": {"id": contact, "group": "members"},
                    "order": {"id": order, "total": total, "currency": currency}}  # fmt: skip

        await s.client.post("/api/events", json=[
            paid("ann", "a1", "500.00", "UAH"), paid("ann", "a2", "850.00", "UAH"), paid("bob", "b1", "40.00", "EUR"),
            {"type": "contact.registered", "key": "r-eve", "contact": {"id": "eve", "group": "members"}},
        ])  # fmt: skip
        await s.settle()
        page = (await s.client.get("/api/loyalty/groups")).json()
    assert page["next"] is None
    (group,) = page["items"]
    assert group == {
        "group": "members", "title": "Members", "program": "cashback", "contacts": 3, "orders": 3,
        "currencies": [
            {"currency": "EUR", "contacts": 1, "orders": 1, "revenue": "40.00", "average_order": "40.00"},
            {"currency": "UAH", "contacts": 1, "orders": 2, "revenue": "1350.00", "average_order": "675.00"},
        ],
    }  # fmt: skip


async def test_no_endpoint_answers_with_a_bare_array_and_every_page_has_next(tmp_path: Path, db: str) -> None:
    """Read from the OpenAPI document, so an endpoint added later is held to it too."""
    async with serving(tmp_path, FILES, db=db) as s:
        document = (await s.public.get("/schema/openapi.json")).json()
    schemas = document["components"]["schemas"]

    def resolved(schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    pages = []
    for path, operations in document["paths"].items():
        answer = operations.get("get", {}).get("responses", {}).get("200", {})
        schema = answer.get("content", {}).get("application/json", {}).get("schema")
        if not path.startswith("/api/") or schema is None:
            continue
        body = resolved(schema)
        assert body.get("type") != "array", f"GET {path} answers with a bare array: make it a page"
        if "items" in body.get("properties", {}):
            assert {"items", "next"} <= set(body["required"]), path
            parameters = {p["name"] for p in operations["get"].get("parameters", [])}
            assert {"after", "limit"} <= parameters, f"GET {path} pages without after and limit"
            pages.append(path)
    assert len(pages) >= 9, pages


def test_the_readme_counts_the_example_scenarios_the_server_serves(root: Path) -> None:
    from scn.interpreter.checker import check_workspace
    from scn.interpreter.workspace import load_workspace

    scenarios = check_workspace(load_workspace([root / "examples"])).symbols.scenario_files
    readme = (root / "README.md").read_text(encoding="utf-8")
    words = {5: "five", 9: "nine", 12: "twelve"}
    # The five customer cases in nine scenarios, birthdays in two, and a broadcast.
    assert len(scenarios) == 12 and len({f for f in scenarios.values()}) == 7
    assert f"written as {words[len(scenarios)]} scenarios" in readme
    assert f"serving {len(scenarios)} scenario(s)" in readme
    assert "five example scenarios" not in readme


def test_the_api_docs_say_events_are_acknowledged_in_an_object(root: Path) -> None:
    docs = (root / "docs" / "api.md").read_text(encoding="utf-8")
    (row,) = [line for line in docs.splitlines() if line.startswith("| `POST /api/events`")]
    assert '`{"accepted": [{"key": …, "id": …, "duplicate": false}, …]}`' in row
