"""Intake over real HTTP: what the door refuses (422 naming each field, 400 for the form,
409 for a reused key, 415 for a body that is not JSON), limits at their boundaries, and
that a refused request leaves nothing behind."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from .server_harness import Served, serving
from .test_server import FILES, is_problem, paid

JSON = {"Content-Type": "application/json"}
QUIZ = {
    **FILES,
    "quiz.scn": "currency UAH\nevent quiz.passed(course: string, score: number, total: money)\n",
}


async def events(s: Served) -> int:
    return await s.count("SELECT count(*) FROM events")


def quiz(contact: str = "ann", **data: Any) -> dict[str, Any]:
    fields = {"course": "c-1", "score": 90, "total": "12.50", **data}
    return {"type": "quiz.passed", "contact": {"id": contact}, "data": {k: v for k, v in fields.items() if v != ...}}


async def test_a_bad_event_is_422_naming_each_field_and_a_batch_is_all_or_nothing(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, QUIZ, db=db) as s:
        r = await s.client.post("/api/events", json=quiz(score="many", total="NaN", course=...))
        body = is_problem(r, 422)
        assert body["type"] == "/problems/invalid-event"
        assert {e["field"] for e in body["errors"]} == {"data.score", "data.total", "data.course"}
        assert "nothing was accepted" in body["detail"]
        batch = [quiz("a"), quiz("b", total="-1"), quiz("c"), quiz("d", score="1e5")]
        body = is_problem(await s.client.post("/api/events", json=batch), 422)
        assert [(e["event"], e["field"]) for e in body["errors"]] == [(1, "[1].data.total"), (3, "[3].data.score")]
        assert await events(s) == 0
        r = await s.client.post("/api/events", json=[quiz("a"), quiz("b", total={"amount": "1", "currency": "UAH"})])
        assert r.status_code == 202, r.text
        assert await events(s) == 2


@pytest.mark.parametrize("total", ["NaN", "Infinity", "sNaN", "-Infinity", "-10.00", "1e3", "0.12345678901"])
async def test_order_totals_that_are_not_amounts_are_refused_everywhere(tmp_path: Path, total: str) -> None:
    # Refused before the store: on SQLite only (a table of inputs; the rest of the file runs on both).
    async with serving(tmp_path, FILES) as s:
        order = {"id": "o1", "total": total, "currency": "UAH"}
        for path, body in [
            ("/api/events", {**paid("ann", "o1"), "order": order}),
            ("/api/orders", {"contact": {"id": "ann"}, "order": {**order, "status": "paid"}}),
        ]:
            problem = is_problem(await s.client.post(path, json=body), 422)
            assert [e["field"] for e in problem["errors"]] == ["order.total"], problem
        # Numbers too big for any exponent arrive as JSON numbers; the same refusal.
        raw = json.dumps(paid("ann", "o1")).replace('"120.50"', "1e999999").encode()
        is_problem(await s.client.post("/api/events", content=raw, headers=JSON), 422)
        # Text that is no decimal at all is refused by the form of the request (400), named all the same.
        comma = {**paid("ann", "o1"), "order": {**order, "total": "12,50"}}
        assert "order.total" in is_problem(await s.client.post("/api/events", json=comma), 400)["detail"]
        assert await events(s) == 0


async def test_json_numbers_in_money_are_read_exactly_as_written(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        raw = json.dumps(paid("ann", "o1")).replace('"120.50"', "120.50").encode()
        assert (await s.client.post("/api/events", content=raw, headers=JSON)).status_code == 202
        await s.settle()
        assert await s.count("SELECT total = '120.50' FROM orders WHERE id = 'o1'") == 1


async def test_the_body_is_read_strictly(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        deep = '{"type": "order.paid", "contact": {"id": "a"}, "data": {"x": ' + "[" * 1000 + "]" * 1000 + "}}"
        body = is_problem(await s.client.post("/api/events", content=deep.encode(), headers=JSON), 400)
        assert "nested more than 32 levels" in body["detail"]
        twice = b'{"type": "order.paid", "type": "contact.updated", "contact": {"id": "a"}}'
        body = is_problem(await s.client.post("/api/events", content=twice, headers=JSON), 400)
        assert "'type' appears twice" in body["detail"]
        plain = json.dumps(paid("ann", "o1")).encode()
        body = is_problem(
            await s.client.post("/api/events", content=plain, headers={"Content-Type": "text/plain"}), 415
        )
        assert "application/json" in body["detail"]
        nan = json.dumps(paid("ann", "o1")).replace('"120.50"', "NaN").encode()
        is_problem(await s.client.post("/api/events", content=nan, headers=JSON), 400)
        r = await s.client.post(
            "/api/events", content=plain, headers={"Content-Type": "application/json; charset=utf-8"}
        )
        assert r.status_code == 202, r.text
        assert await events(s) == 1


async def test_the_same_key_with_other_content_is_409(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        first = paid("ann", "o1", key="k-1")
        assert (await s.client.post("/api/events", json=first)).status_code == 202
        again = await s.client.post("/api/events", json={**first, "at": "2025-03-01T10:00:00Z"})
        assert again.status_code == 202 and again.json()["accepted"][0]["duplicate"]  # its `at` aside: the same
        other = {**first, "order": {"id": "o1", "total": "999.00", "currency": "UAH"}}
        body = is_problem(await s.client.post("/api/events", json=[paid("bob", "o2"), other]), 409)
        assert body["key"] == "k-1" and body["type"] == "/problems/key-conflict"
        in_one = [paid("cid", "o3", key="k-2"), {**paid("cid", "o3", key="k-2"), "contact": {"id": "dan"}}]
        is_problem(await s.client.post("/api/events", json=in_one), 409)
        assert await events(s) == 1


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("id", "a" * 200, "a" * 201),
        # 254 and 255 characters: 64 before the @, labels of 63
        (
            "email",
            "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 61,
            "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 62,
        ),
        ("first_name", "Ā" * 200, "Ā" * 201),
        # a name of spaces would print as nothing where a template shows it
        ("first_name", " Ann ", "   "),
        ("last_name", "Ā", "\u00a0\u3000"),
        ("phone", "+" + "1" * 31, "+" + "1" * 32),
        ("push_token", "t" * 4096, "t" * 4097),
        ("timezone", "Europe/Kyiv", "Europe/Kyiw"),
        ("language", "uk", "xx"),
        ("language", "pl-PL", "polish"),
        ("country", "UA", "Ukraine"),
        ("email", "ann@example.com", "ann"),
        ("id", "ann.b", ".."),
        ("id", "ann b", "ann/b"),
        ("id", "Олег", " "),
        ("id", "x", ""),
        ("id", "x", "a\x00b"),
        ("id", "x", "a\\b"),
    ],
)
async def test_contact_fields_at_their_limits(tmp_path: Path, db: str, field: str, good: str, bad: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        contact = {"id": "ann", field: good}
        r = await s.client.post("/api/contacts", json=contact)
        assert r.status_code == 202, r.text
        problem = is_problem(await s.client.post("/api/contacts", json={**contact, field: bad}), 400 if field not in (
            "timezone", "language") or bad == "polish" else 422)  # fmt: skip
        shown = json.dumps(problem)
        assert field in shown, shown
        assert len(shown) < 2000, "a refusal never echoes a long value whole"
        assert await events(s) == 1
        if field == "id":
            assert (await s.client.get(f"/api/contacts/{good}")).status_code in (200, 404)


@pytest.mark.parametrize(
    ("order", "field"),
    [
        ({"id": "o1", "total": "10.00", "currency": "XYZ"}, "order.currency"),
        ({"id": "o1", "total": "10.00", "currency": "EUR"}, "order.currency"),  # the workspace's money is in UAH
        ({"id": "o1", "total": "10.00"}, None),  # in the workspace currency
        ({"id": "o1", "items": [{"product_id": "p", "price": "-1"}]}, "order.items[0].price"),
        ({"id": "o1", "items": [{"product_id": "p", "quantity": 0}]}, "order.items[0].quantity"),
        ({"id": "o1", "paid_at": "2025-03-01T10:00:00"}, "order.paid_at"),
    ],
)
async def test_orders_are_checked_against_the_workspace(
    tmp_path: Path, order: dict[str, Any], field: str | None
) -> None:
    # Checked before the store: on SQLite only (a table of inputs; the rest of the file runs on both).
    async with serving(tmp_path, QUIZ) as s:
        r = await s.client.post("/api/orders", json={"contact": {"id": "ann"}, "order": {**order, "status": "paid"}})
        if field is None:
            assert r.status_code == 202, r.text
            return
        assert [e["field"] for e in is_problem(r, 422)["errors"]] == [field]


async def test_an_order_total_needs_a_currency_when_the_workspace_has_none(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        r = await s.client.post("/api/orders", json={"contact": {"id": "a"}, "order": {"id": "o1", "total": "1"}})
        assert [e["field"] for e in is_problem(r, 422)["errors"]] == ["order.currency"]


async def test_coupon_redeem_and_csv_import_check_what_they_turn_into_events(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        redeem = {"code": "X", "contact": {"id": "ann"}, "order": {"id": "o1", "total": "NaN", "currency": "UAH"}}
        assert [e["field"] for e in is_problem(await s.client.post("/api/coupons/redeem", json=redeem), 422)[
            "errors"]] == ["order.total"]  # fmt: skip
        csv = "id,email,timezone,language\nann,ann@example.com,Europe/Kyiv,uk\nbob,bob@example.com,Mars/Base,uk\n"
        r = await s.client.post("/api/contacts/import", content=csv.encode(), headers={"Content-Type": "text/csv"})
        job = r.json()["id"]
        for _ in range(100):
            progress = (await s.client.get(f"/api/contacts/import/{job}")).json()
            if progress["status"] == "done":
                break
            await asyncio.sleep(0.02)  # a loaded machine takes longer than 100 requests
        assert progress["accepted"] == 1
        assert [e["line"] for e in progress["errors"]] == [3] and "timezone" in progress["errors"][0]["error"]


async def test_catalogue_prices_and_coupon_checks_refuse_what_is_not_an_amount(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        products = [{"id": "p1", "price": "10.00", "currency": "UAH"}, {"id": "p2", "price": "NaN"},
                    {"id": "p3", "currency": "XYZ"}]  # fmt: skip
        body = is_problem(await s.client.post("/api/products", json=products), 422)
        assert [e["field"] for e in body["errors"]] == ["[1].price", "[2].currency"]
        assert await s.count("SELECT count(*) FROM products") == 0
        for total in ("NaN", "1e999999", "-5"):
            query = {"code": "X", "contact": "ann", "total": total, "currency": "UAH"}
            assert "total" in is_problem(await s.client.post("/api/coupons/check", json=query), 400)["detail"]


async def test_a_refused_format_is_said_in_words_and_a_trailing_line_break_is_refused(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        body = is_problem(await s.client.post("/api/contacts", json={"id": "ann/b"}), 400)
        assert body["detail"] == (
            "expected an id: no `/` or `\\`, no control characters, no spaces at either end, not `.` or `..` (at id)"
        )
        assert "regex" not in json.dumps(body)
        for contact in ({"id": "ann\n"}, {"id": "ann", "email": "ann@example.com\n"}, {"id": "a", "first_name": "A\n"}):
            is_problem(await s.client.post("/api/contacts", json=contact), 400)
        assert await events(s) == 0


async def test_a_batch_is_read_as_strictly_whichever_way_it_is_read(tmp_path: Path) -> None:
    """The events' body is decoded straight into events when that certainly gives what the
    strict reader gives (events.decode_events): every refusal stays the strict reader's."""
    async with serving(tmp_path, FILES) as s:
        event = {**paid("ann", "o1"), "data": {"n": {"x": [1, {"y": 2}]}}}
        event["contact"] = {**event["contact"], "attributes": {"a": {"b": 1}}}
        event["order"] = {**event["order"], "items": [{"sku": "s1"}]}
        text = json.dumps(event)
        for place in ('"type": ', '"id": "ann"', '"b": 1', '"y": 2', '"sku": ', '"currency": "UAH"'):
            key = place.split(":")[0]
            twice = text.replace(place, f"{key}: 1, {place}", 1)
            for body in (twice, f"[{text}, {twice}]"):
                problem = is_problem(await s.client.post("/api/events", content=body.encode(), headers=JSON), 400)
                assert problem["detail"] == f"the body: the key {key[1:-1]!r} appears twice in one object", problem
        wrong = [paid("bob", "o2"), {**paid("cid", "o3"), "contact": {"id": 7}}]
        problem = is_problem(await s.client.post("/api/events", json=wrong), 400)
        assert problem["errors"] == [{"message": "Expected `str`, got `int`", "key": "[1].contact.id",
                                      "source": "body"}], problem  # fmt: skip
        absent = {k: v for k, v in paid("dan", "o4").items() if k != "contact"}
        problem = is_problem(await s.client.post("/api/events", json=[paid("bob", "o2"), absent]), 400)
        assert problem["errors"][0]["message"] == "Object missing required field `contact`", problem
        assert await events(s) == 0
        # Fields given as null or empty (left unset) are taken as if they were not there.
        unset = [{**paid("eve", "o5"), "at": None, "key": None, "data": {}}, paid("fay", "o6")]
        assert (await s.client.post("/api/events", json=unset)).status_code == 202
        # Addresses in any script; one that is not an address is named.
        ok = [{**paid("gus", "o7"), "contact": {"id": "gus", "email": "Вася@пример.рф"}}, paid("hal", "o8")]
        assert (await s.client.post("/api/events", json=ok)).status_code == 202
        bad = [paid("ivy", "o9"), {**paid("jo", "o10"), "contact": {"id": "jo", "email": "jānis,x@пример.lv"}}]
        problem = is_problem(await s.client.post("/api/events", json=bad), 422)
        assert [e["field"] for e in problem["errors"]] == ["[1].contact.email"], problem
        assert await events(s) == 4


async def test_a_batch_at_its_limits(tmp_path: Path) -> None:
    from scn.interpreter.runtime.wire import MAX_DEPTH
    from scn.server.services.events import MAX_BATCH

    async with serving(tmp_path, FILES) as s:
        many = [{"type": "contact.updated", "key": f"k{i}", "contact": {"id": f"c{i}"}} for i in range(MAX_BATCH + 1)]
        problem = is_problem(await s.client.post("/api/events", json=many), 413)
        assert problem["detail"] == f"{MAX_BATCH + 1} events in one request; send at most {MAX_BATCH}"
        assert await events(s) == 0
        answer = await s.client.post("/api/events", json=many[:MAX_BATCH])
        assert answer.status_code == 202 and len(answer.json()["accepted"]) == MAX_BATCH
        # Nesting: the batch is level 1, an event 2, its data 3, a value in it 4 and more. At
        # the limit the body is read (and the field refused: contact.updated has none).
        for levels, status in ((MAX_DEPTH - 3, 422), (MAX_DEPTH - 2, 400)):
            nested = {"type": "contact.updated", "contact": {"id": "a"}, "data": {"n": "[" * levels + "]" * levels}}
            body = json.dumps([nested]).replace('"' + "[" * levels + "]" * levels + '"', "[" * levels + "]" * levels)
            problem = is_problem(await s.client.post("/api/events", content=body.encode(), headers=JSON), status)
            if status == 422:
                assert [e["field"] for e in problem["errors"]] == ["[0].data.n"], problem
            else:
                assert problem["detail"] == f"the body: the JSON is nested more than {MAX_DEPTH} levels deep"
