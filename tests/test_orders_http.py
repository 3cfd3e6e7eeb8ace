"""Orders with item statuses over real HTTP: POST /api/orders and /api/events."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from .server_harness import Served, serving

SHOP = """
template thanks email
  subject "Дякуємо!"
  html "thanks.html"
end

scenario all_delivered "Every item delivered"
  on order.status_changed where all items are delivered
  entry at most 3 per order
  send email thanks
end
"""
FILES = {"shop.scn": SHOP, "thanks.html": "<p>Дякуємо</p>"}
CONTACT = {"id": "olena", "email": "olena@example.com"}
MUG = {"product_id": "mug", "price": "120.00"}
TEA = {"product_id": "tea", "price": "30.00"}


def upsert(status: str, *items: dict[str, Any], **order: Any) -> dict[str, Any]:
    body = {"id": "A-1", "status": status, "total": "150.00", "currency": "UAH", "items": list(items), **order}
    return {"contact": CONTACT, "order": body}


async def runs(s: Served) -> int:
    return await s.count("SELECT count(*) FROM runs WHERE scenario = 'all_delivered'")


async def stored_items(s: Served) -> list[Any]:
    async with s.core.store.db.execute("SELECT status, items FROM orders WHERE id = 'A-1'") as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return [row[0], [i.get("status") for i in json.loads(row[1])]]


async def test_item_statuses_from_the_order_body_and_item_events(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        r = await s.client.post("/api/orders", json=upsert("shipped", {**MUG, "status": "delivered"}, TEA))
        assert r.status_code == 202, r.text
        await s.settle()
        assert await stored_items(s) == ["shipped", ["delivered", None]] and await runs(s) == 0
        tea = {"type": "order.item_status_changed", "contact": CONTACT, "order": {"id": "A-1"}, "item": TEA,
               "data": {"status": "delivered", "all_items": False}}  # fmt: skip
        assert (await s.client.post("/api/events", json=tea)).status_code == 202
        await s.settle()
        # Every item is delivered, whatever the sender's all_items said: the order is too.
        assert await stored_items(s) == ["delivered", [None, None]] and await runs(s) == 1
        # The same order sent again, delivered: no second run.
        assert (await s.client.post("/api/orders", json=upsert("delivered", MUG, TEA))).status_code == 202
        await s.settle()
        assert await runs(s) == 1


async def test_a_cancelled_item_in_the_body_blocks_all_items(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        body = upsert("delivered", MUG, {**TEA, "status": "cancelled"})
        assert (await s.client.post("/api/orders", json=body)).status_code == 202
        await s.settle()
        assert await stored_items(s) == ["delivered", [None, "cancelled"]] and await runs(s) == 0


async def test_an_imported_order_arriving_delivered_starts_nothing(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        long_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=31)).isoformat()
        r = await s.client.post("/api/orders", json=upsert("delivered", MUG, created_at=long_ago))
        assert r.status_code == 202
        await s.settle()
        assert await runs(s) == 0 and (await stored_items(s))[0] == "delivered"


async def test_a_bad_item_status_is_a_problem_naming_the_field(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        r = await s.client.post("/api/orders", json=upsert("shipped", {**MUG, "status": "bad\nstatus"}))
        assert r.status_code in (400, 422) and r.headers["content-type"].startswith("application/problem+json")
        assert "order.items[0].status" in r.text
