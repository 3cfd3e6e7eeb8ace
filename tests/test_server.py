"""The control plane over real HTTP against the real app (uvicorn on a free port)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from scn.interpreter.clock import WallClock
from scn.interpreter.runtime.events import Amount

from .server_harness import Served, serving

SHOP = """
list buyers "Buyers"

template thanks email
  from "Магазин" <shop@example.com>
  subject "Дякуємо, {{ contact.first_name }}!"
  html "thanks.html"
end

scenario thanks "Thank buyers"
  on order.paid
  entry at most 1 per order
  add to list buyers
  send email thanks
  wait 1h
  send email thanks
end
"""
THANKS = '<p>Hi {{ contact.first_name }}, <a href="https://shop.example/new">new arrivals</a></p>' \
         '<p><a href="{{ unsubscribe_url }}">unsubscribe</a></p>'  # fmt: skip
FILES = {"shop.scn": SHOP, "thanks.html": THANKS}


def paid(contact: str, order: str, key: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "order.paid", "key": key or f"paid-{order}",
        "contact": {"id": contact, "email": f"{contact}@example.com", "first_name": "Ганна", **extra},
        "order": {"id": order, "total": "120.50", "currency": "UAH"},
    }  # fmt: skip


#: The engine next to the API, and in a child process as `scn serve` runs it.
BOTH_LAYOUTS = pytest.mark.parametrize("engine_process", [False, True], ids=["one-process", "engine-process"])


def is_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"].startswith("/problems/") and body["title"] and body["detail"]
    return body


async def events_count(s: Served) -> int:
    return await s.count("SELECT count(*) FROM events")


async def test_upload_list_source_and_versions(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, db=db) as s:
        r = await s.client.post("/api/scenarios", json={"files": FILES})
        assert r.status_code == 201, r.text
        assert r.json()["versions"] == {"thanks": 1}
        listed = (await s.client.get("/api/scenarios")).json()["items"]
        assert [(x["name"], x["state"], x["version"], x["file"]) for x in listed] == [
            ("thanks", "active", 1, "shop.scn")
        ]
        detail = (await s.client.get("/api/scenarios/thanks")).json()
        assert detail["source"] == SHOP and [v["version"] for v in detail["versions"]] == [1]

        changed = SHOP.replace("wait 1h", "wait 2h")
        r = await s.client.post("/api/scenarios?path=shop.scn", content=changed, headers={"Content-Type": "text/plain"})
        assert r.status_code == 201 and r.json()["versions"] == {"thanks": 2}
        r = await s.client.post("/api/scenarios", files={"f": ("shop.scn", changed.replace("2h", "3h").encode())})
        assert r.status_code == 201 and r.json()["versions"] == {"thanks": 3}
        versions = (await s.client.get("/api/scenarios/thanks/versions")).json()
        assert [v["version"] for v in versions["items"]] == [1, 2, 3] and versions["next"] is None
        is_problem(await s.client.get("/api/scenarios/nope"), 404)


async def test_a_workspace_with_errors_is_refused_with_diagnostics_and_nothing_changes(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        bad = SHOP.replace("send email thanks\n  wait", "send email thankz\n  wait")
        body = is_problem(await s.client.post("/api/scenarios", json={"files": {"shop.scn": bad}}), 422)
        (error,) = [d for d in body["diagnostics"] if d["severity"] == "error"]
        assert error["code"] == "SCN101" and error["filename"] == "shop.scn"
        assert error["location"] == {"row": 14, "column": 14}
        assert error["message"] == "unknown template `thankz`: did you mean `thanks`?"
        assert "shop.scn:14:14" in body["detail"]
        assert (await s.client.get("/api/scenarios/thanks")).json()["source"] == SHOP
        assert (await s.client.get("/api/scenarios/thanks")).json()["version"] == 1


async def test_every_control_endpoint_needs_the_key(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        for method, path in (("GET", "/api/scenarios"), ("POST", "/api/events"), ("GET", "/api/runs"),
                             ("GET", "/api/messages"), ("POST", "/api/scenarios/thanks/pause")):  # fmt: skip
            for headers in ({}, {"X-API-Key": "wrong"}):
                r = await s.public.request(method, path, headers=headers, json={})
                is_problem(r, 401)
        assert (await s.public.get("/healthz")).status_code == 200


@BOTH_LAYOUTS
async def test_events_are_acknowledged_after_commit_and_duplicates_once(
    tmp_path: Path, db: str, engine_process: bool
) -> None:
    async with serving(tmp_path, FILES, engine_process=engine_process, db=db) as s:
        r = await s.client.post("/api/events", json=paid("ann", "o1"))
        assert r.status_code == 202
        ((first,),) = [r.json()["accepted"]]
        assert first["key"] == "paid-o1" and not first["duplicate"]
        r = await s.client.post("/api/events", json=[paid("ann", "o1"), paid("bob", "o2")])
        assert [a["duplicate"] for a in r.json()["accepted"]] == [True, False]
        assert r.json()["accepted"][0]["id"] == first["id"]
        assert await events_count(s) == 2


async def test_amounts_are_read_once_as_written(tmp_path: Path, db: str) -> None:
    """The body is converted once (strictly) and Litestar passes what it made through:
    an amount keeps what was written, so the door still refuses what is not a plain
    decimal as written and keeps the rest digit for digit, in one event and in a batch."""
    async with serving(tmp_path, FILES, db=db) as s:
        order = {"id": "o1", "total": "120.50", "currency": "UAH",
                 "items": [{"name": "Чай", "quantity": 2, "price": "60.250"}]}  # fmt: skip
        r = await s.client.post("/api/events", json=[{**paid("ann", "o1"), "order": order}])
        assert r.status_code == 202, r.text
        await s.settle()
        stored = (await s.client.get("/api/contacts/ann")).json()
        assert "120.50" in json.dumps(stored), stored
        for total in ("1.2e1", " 12", "+12", "1_2"):
            for body in ({**paid("bob", "o2"), "order": {**order, "total": total}},
                         [paid("cy", "o3"), {**paid("bob", "o2"), "order": {**order, "total": total}}]):  # fmt: skip
                problem = is_problem(await s.client.post("/api/events", json=body), 422)
                assert any(e["field"].endswith("order.total") for e in problem["errors"]), problem
        assert Amount._decoder(Amount, written := Amount("60.250")) is written and written.written == "60.250"


async def test_bad_requests_get_problem_details_and_change_nothing(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        await s.client.post("/api/events", json=paid("ann", "o1"))
        before = await events_count(s)
        headers = {"Content-Type": "application/json"}
        cases = [
            (b'{"type": "order.paid", "contact": {"id": ', 400),  # malformed JSON
            (json.dumps({**paid("x", "o9"), "colour": "red"}).encode(), 400),  # unknown field
            (json.dumps({**paid("x", "o9"), "contact": {"id": 7}}).encode(), 400),  # wrong type
            (json.dumps({**paid("x", "o9"), "type": "order.payed"}).encode(), 422),  # unknown event type
            (json.dumps([paid("y", "o8"), {**paid("x", "o9"), "type": "nope"}]).encode(), 422),  # one bad in a batch
            (json.dumps({**paid("x", "o9"), "at": "2025-03-01T10:00:00"}).encode(), 422),  # no time zone
        ]
        for body, status in cases:
            problem = is_problem(await s.client.post("/api/events", content=body, headers=headers), status)
            assert problem["detail"]
        big = b'{"files": {"a.scn": "' + b"x" * (11 * 1024 * 1024) + b'"}}'
        is_problem(await s.client.post("/api/scenarios", content=big, headers=headers), 413)
        is_problem(await s.client.post("/api/scenarios", content=b"hello", headers={"Content-Type": "image/png"}), 415)
        is_problem(await s.client.get("/api/runs", params={"limit": 0}), 400)
        is_problem(await s.client.get("/api/runs", params={"after": 2**70}), 400)  # found by schemathesis
        is_problem(await s.client.get(f"/api/runs/{2**70}"), 400)
        is_problem(await s.client.get(f"/api/messages/{2**64}"), 400)
        is_problem(await s.client.get("/api/nowhere"), 404)
        assert await events_count(s) == before
        assert (await s.client.get("/api/scenarios/thanks")).json()["version"] == 1


@BOTH_LAYOUTS
async def test_runs_traces_step_counts_and_cancel(tmp_path: Path, db: str, engine_process: bool) -> None:
    async with serving(tmp_path, FILES, engine_process=engine_process, db=db) as s:
        await s.client.post("/api/events", json=[paid(f"c{i}", f"o{i}") for i in range(5)])
        await s.settle()
        page = (await s.client.get("/api/runs", params={"scenario": "thanks", "limit": 2})).json()
        assert len(page["items"]) == 2 and page["next"] == page["items"][-1]["id"]
        rest = (await s.client.get("/api/runs", params={"scenario": "thanks", "after": page["next"]})).json()
        assert len(rest["items"]) == 3 and rest["next"] is None
        run = (await s.client.get(f"/api/runs/{page['items'][0]['id']}")).json()
        assert run["status"] == "waiting" and run["wake_at"] and run["step"]
        assert [(t["name"], t["outcome"]) for t in run["trace"]] == [
            ("on order.paid", "started"), ("add to list buyers", "done"), ("send email thanks", "sent"),
            ("wait 1h", "waiting"),
        ]  # fmt: skip
        cancelled = (await s.client.post(f"/api/runs/{run['id']}/cancel")).json()
        assert cancelled["status"] == "cancelled" and cancelled["trace"][-1]["outcome"] == "cancelled"
        is_problem(await s.client.post(f"/api/runs/{run['id']}/cancel"), 409)
        is_problem(await s.client.get("/api/runs/99999"), 404)
        waiting = (await s.client.get("/api/runs", params={"status": "waiting"})).json()["items"]
        assert len(waiting) == 4
        steps = {c["step"]: c for c in (await s.client.get("/api/scenarios/thanks/steps")).json()["items"]}
        assert steps["s2"]["name"] == "send email thanks" and steps["s4"]["name"] == "send email thanks"
        assert steps["s2"]["passed"] == 5 and steps["s2"]["outcomes"] == {"sent": 5} and steps["s4"]["passed"] == 0
        assert steps["s3"]["name"] == "wait 1h" and steps["s3"]["waiting"] == 4
        contact = (await s.client.get("/api/contacts/c1")).json()
        assert contact["lists"] == ["buyers"] and contact["subscriptions"]["email"] == {
            "subscribed": True, "reachable": True,
        }  # fmt: skip
        messages = (await s.client.get("/api/messages", params={"contact": "c1"})).json()
        assert [(m["channel"], m["template"], m["status"]) for m in messages["items"]] == [
            ("email", "thanks", "pending")
        ] and messages["next"] is None


@BOTH_LAYOUTS
async def test_delete_cancels_runs_and_drops_the_file(tmp_path: Path, db: str, engine_process: bool) -> None:
    other = 'scenario other "Other"\n  on contact.active\n  stop\nend\n'
    async with serving(tmp_path, {**FILES, "other.scn": other}, engine_process=engine_process, db=db) as s:
        await s.client.post("/api/events", json=paid("ann", "o1"))
        await s.settle()
        is_problem(await s.client.delete("/api/scenarios/thanks"), 409)  # shop.scn also declares the list...
        deleted = (await s.client.delete("/api/scenarios/other")).json()
        assert deleted["state"] == "archived" and deleted["file"] is None
        assert "other.scn" not in s.core.files
        assert (await s.client.get("/api/scenarios/thanks")).json()["state"] == "active"


@BOTH_LAYOUTS
async def test_pause_holds_and_resume_continues(tmp_path: Path, db: str, engine_process: bool) -> None:
    clock = WallClock(speed=3600)  # an hour a second
    async with serving(tmp_path, FILES, clock=clock, engine_process=engine_process, db=db) as s:
        assert (await s.client.post("/api/scenarios/thanks/pause")).json()["state"] == "paused"
        await s.client.post("/api/events", json=paid("ann", "o1"))
        await s.settle()
        assert (await s.client.get("/api/runs")).json()["items"] == [], "a paused scenario starts nothing"
        assert (await s.client.post("/api/scenarios/thanks/resume")).json()["state"] == "active"
        await s.client.post("/api/events", json=paid("bob", "o2"))
        await s.settle()
        assert len((await s.client.get("/api/runs")).json()["items"]) == 1


async def test_open_click_and_unsubscribe_through_signed_links(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        await s.client.post("/api/events", json=paid("ann", "o1"))
        await s.settle()
        (message,) = (await s.client.get("/api/messages")).json()["items"]
        content = (await s.client.get(f"/api/messages/{message['id']}")).json()["content"]
        click = re.search(r'href="([^"]+/c/[^"]+)"', content["html"]).group(1)  # type: ignore[union-attr]
        pixel = re.search(r'src="([^"]+/o/[^"]+)"', content["html"]).group(1)  # type: ignore[union-attr]
        r = await s.public.get(pixel)
        assert r.status_code == 200 and r.headers["content-type"] == "image/gif" and r.content.startswith(b"GIF")
        r = await s.public.get(click)
        assert r.status_code == 302 and r.headers["location"] == "https://shop.example/new"
        await s.public.get(click)
        is_problem(await s.public.get(click[:-2] + "xx"), 404)
        is_problem(await s.public.get(s.base + "/c/bm9wZQ.0.forged"), 404)
        await s.settle()
        opened = await s.count("SELECT count(*) FROM events WHERE type = 'message.opened'")
        clicked = await s.count("SELECT count(*) FROM events WHERE type = 'message.clicked'")
        assert (opened, clicked) == (1, 1), "unique per message and link"

        unsubscribe = content["unsubscribe_url"]
        page = await s.public.get(unsubscribe)
        assert page.status_code == 200 and '<form method="post">' in page.text
        await s.settle()
        contact = (await s.client.get("/api/contacts/ann")).json()
        assert contact["subscriptions"]["email"]["subscribed"], "GET changes nothing"
        r = await s.public.post(unsubscribe, content=b"List-Unsubscribe=One-Click",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert r.status_code == 200 and "location" not in r.headers
        await s.settle()
        contact = (await s.client.get("/api/contacts/ann")).json()
        assert contact["subscriptions"]["email"]["subscribed"] is False
        is_problem(await s.public.post(unsubscribe[:-3] + "abc"), 404)


async def test_health_metrics_and_openapi(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        await s.client.post("/api/events", json=paid("ann", "o1"))
        await s.settle()
        health = (await s.public.get("/healthz")).json()
        assert health["status"] == "ok" and health["loops"]["engine"] is True
        metrics = (await s.public.get("/metrics")).text
        assert "scn_up 1" in metrics and 'scn_events{state="processed"} 1' in metrics
        assert 'scn_runs{status="waiting"} 1' in metrics and 'scn_messages{status="pending"} 1' in metrics
        schema = (await s.public.get("/schema/openapi.json")).json()
        assert schema["openapi"].startswith("3.1")
        assert {"/api/events", "/api/runs", "/api/runs/{run_id}", "/api/scenarios"} <= set(schema["paths"])


COMMERCE = """
list vip "VIP"
segment buyers "Bought" where contact.orders.count >= 1
coupon POOLED discount 10% from pool "codes.csv" warn below 1
coupon VIP20 discount 20% generated "VIP-{XXXXXXXX}" for list vip valid 2d
program cashback "Cashback" bonus
  tier 2% up to 1000 UAH
  tier 5% above 1000 UAH
end
group members "Members" with program cashback default

scenario vip "VIP"
  on contact.registered
  entry once per contact
  add to list vip
  issue coupon VIP20
end

scenario bonus "Bonus"
  on order.paid
  entry at most 1 per order
  award bonus
end
"""


async def test_lists_segments_coupons_and_loyalty(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, {"shop.scn": COMMERCE, "codes.csv": "code\nP-1\n"}, db=db) as s:
        person = {"id": "ann", "email": "ann@example.com"}
        await s.client.post("/api/events", json=[
            {"type": "contact.registered", "key": "r1", "contact": person},
            {"type": "order.paid", "key": "p1", "contact": person,
             "order": {"id": "o1", "total": "500.00", "currency": "UAH"}},
        ])  # fmt: skip
        await s.settle()
        assert (await s.client.get("/api/lists")).json() == {"vip": 1}
        assert (await s.client.get("/api/segments")).json() == {"buyers": 1}
        page = (await s.client.get("/api/lists/vip", params={"limit": 10})).json()
        assert page == {"name": "vip", "count": 1, "items": ["ann"], "next": None}
        is_problem(await s.client.get("/api/lists/nope"), 404)

        pool = await s.client.post("/api/coupons/POOLED/pool", content=b"code\nP-2\nP-3\nP-1\n",
                                   headers={"Content-Type": "text/csv"})  # fmt: skip
        assert pool.status_code == 201 and pool.json() == {"coupon": "POOLED", "imported": 2, "free": 3}
        is_problem(await s.client.post("/api/coupons/VIP20/pool", content=b"code\nX\n"), 409)

        (issued,) = (await s.client.get("/api/contacts/ann/coupons")).json()["items"]
        query = {"code": issued["code"], "contact": "ann", "total": "850.00", "currency": "UAH"}
        checked = (await s.client.post("/api/coupons/check", json=query)).json()
        assert checked["valid"] and checked["price_after"] == {"amount": "680.00", "currency": "UAH"}
        other = (await s.client.post("/api/coupons/check", json={**query, "contact": "bob"})).json()
        assert other == {"code": issued["code"], "valid": False, "reason": "this code was not given to this contact",
                         "coupon": "VIP20", "discount": None, "price_before": None, "price_after": None}  # fmt: skip
        is_problem(await s.client.post("/api/coupons/check", json={**query, "total": "lots"}), 400)

        spend = {"code": issued["code"], "contact": {"id": "ann"},
                 "order": {"id": "o2", "total": "850.00", "currency": "UAH"}}  # fmt: skip
        redeemed = await s.client.post("/api/coupons/redeem", json=spend)
        assert redeemed.status_code == 202 and redeemed.json()["price_after"]["amount"] == "680.00"
        await s.settle()
        again = is_problem(await s.client.post("/api/coupons/redeem", json={**spend, "order": {"id": "o3"}}), 409)
        assert again["reason"] == "already used for order o2"

        (group,) = (await s.client.get("/api/loyalty/groups")).json()["items"]
        assert (group["group"], group["contacts"], group["orders"]) == ("members", 1, 2)
        assert group["currencies"] == [
            {"currency": "UAH", "contacts": 1, "orders": 2, "revenue": "1350.00", "average_order": "675.00"}
        ]
        loyalty = (await s.client.get("/api/contacts/ann/loyalty")).json()
        assert loyalty["bonus_balance"] == "27.00" and loyalty["discount"] is None
        assert [e["amount"] for e in loyalty["ledger"]] == ["10.00", "17.00"]


async def test_orders_products_csv_import_preview_and_test_send(tmp_path: Path, db: str) -> None:
    from scn.stdlib.delivery.config import DeliveryConfig, EmailSettings

    from .smtp_server import SmtpServer

    with SmtpServer() as smtp:
        delivery = DeliveryConfig(email=EmailSettings(url=smtp.url))
        async with serving(tmp_path, FILES, delivery=delivery, db=db) as s:
            csv_text = (
                "id,email,first_name,language,subscribed.email,plan\n"
                "olena,olena@example.ua,Олена,uk,yes,gold\n"
                ",nobody@example.com,Nobody,en,yes,\n"
                "jānis,janis@example.lv,Jānis,lv,no,silver\n"
            )
            job = (await s.client.post("/api/contacts/import", content=csv_text.encode(),
                                       headers={"Content-Type": "text/csv"})).json()  # fmt: skip
            assert (job["total"], job["status"]) == (3, "running") and job["errors"] == [{"line": 3, "error": "no id"}]
            for _ in range(100):
                progress = (await s.client.get(f"/api/contacts/import/{job['id']}")).json()
                if progress["status"] == "done":
                    break
                await asyncio.sleep(0.02)  # a loaded machine takes longer than 100 requests
            assert (progress["accepted"], progress["duplicates"]) == (2, 0)
            await s.settle()
            janis = (await s.client.get("/api/contacts/jānis")).json()
            assert janis["first_name"] == "Jānis" and janis["attributes"] == {"plan": "silver"}
            assert janis["subscriptions"]["email"]["subscribed"] is False
            is_problem(await s.client.post("/api/contacts/import", content=b"email\nx@y.z\n"), 422)

            placed = {"id": "k1", "status": "paid", "total": "99.90", "currency": "UAH"}
            order = {"contact": {"id": "olena"}, "order": placed}
            r = await s.client.post("/api/orders", json=order)
            assert r.status_code == 202
            await s.client.post("/api/orders", json={**order, "order": {**placed, "status": "shipped"}})
            await s.settle()
            async with s.core.store.db.execute("SELECT type FROM events WHERE contact_id = 'olena' ORDER BY id") as c:
                types = [t[0] for t in await c.fetchall()]
            assert types[-2:] == ["order.paid", "order.status_changed"]
            mug = {"id": "mug", "name": "Горнятко", "price": "120.00", "currency": "UAH"}
            assert (await s.client.post("/api/products", json=[mug])).json() == {"products": 1}

            shown = (await s.client.get("/api/templates/thanks/preview", params={"contact": "olena"})).json()
            assert shown["parts"]["subject"] == "Дякуємо, Олена!" and "/unsubscribe/email/" in shown["parts"]["html"]
            is_problem(await s.client.get("/api/templates/nope/preview", params={"contact": "olena"}), 404)
            test = {"template": "thanks", "contact": "olena", "to": "qa@example.com"}
            sent = (await s.client.post("/api/messages/test", json=test)).json()
            assert sent["status"] == "sent"
    (test_mail,) = [m for _, m in smtp.handler.received if m["To"] == "qa@example.com"]
    assert test_mail["Subject"] == "[test] Дякуємо, Олена!"


async def test_the_development_sink_shows_the_mail_it_received(tmp_path: Path, db: str) -> None:
    from scn.server.devmail import MailSink
    from scn.stdlib.delivery.config import DeliveryConfig, EmailSettings

    from .smtp_server import free_port

    sink = MailSink(free_port())
    delivery = DeliveryConfig(email=EmailSettings(url=sink.url))
    async with serving(tmp_path, FILES, delivery=delivery, mail_sink=sink, db=db) as s:
        await s.client.post("/api/events", json=paid("ann", "o1"))
        listed: list[dict[str, Any]] = []
        for _ in range(200):
            listed = (await s.client.get("/dev/mails.json")).json()
            if listed:
                break
            await asyncio.sleep(0.02)
        (mail,) = listed
        assert mail["to"] == ["ann@example.com"] and mail["subject"] == "Дякуємо, Ганна!"
        page = await s.client.get(f"/dev/mails/{mail['id']}")
        assert page.status_code == 200 and "Дякуємо, Ганна!" in page.text and "<iframe sandbox" in page.text
        assert "Дякуємо" in (await s.client.get("/dev/mails")).text
        is_problem(await s.client.get("/dev/mails/999"), 404)


async def test_a_code_worth_money_in_another_currency_than_the_order_is_checked_not_a_500(
    tmp_path: Path, db: str
) -> None:
    """Without a workspace `currency`, a 50 PLN code checked and redeemed against an EUR
    order has no price after (the two cannot be subtracted) instead of failing."""
    async with serving(tmp_path, {"shop.scn": 'coupon FIFTY discount 50 PLN code "FIFTY"\n'}, db=db) as s:
        query = {"code": "FIFTY", "contact": "ann", "total": "80.00", "currency": "EUR"}
        checked = await s.client.post("/api/coupons/check", json=query)
        assert checked.status_code == 200 and checked.json()["valid"] is True
        assert checked.json()["price_after"] is None
        spend = {"code": "FIFTY", "contact": {"id": "ann"}, "order": {"id": "o1", "total": "80.00", "currency": "EUR"}}
        redeemed = await s.client.post("/api/coupons/redeem", json=spend)
        assert redeemed.status_code == 202 and redeemed.json()["price_after"] is None
