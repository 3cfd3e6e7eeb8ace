"""Reports over HTTP: sends, opens and clicks through the tracking endpoints, attributed orders."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path

from scn.interpreter.clock import WallClock
from scn.stdlib.delivery.config import DeliveryConfig, EmailSettings

from .server_harness import serving
from .smtp_server import SmtpServer

PROMO = """
template promo_a email
  subject "A"
  html "a.html"
end
template promo_b email
  subject "B"
  html "b.html"
end

scenario promo "Promo"
  on contact.registered
  entry once per contact
  attribution 2d
  split
    variant a 50%
      send email promo_a
    variant b 50%
      send email promo_b
  end
end
"""
PAGE = '<p><a href="https://shop.example/{v}">shop</a> <a href="{{{{ unsubscribe_url }}}}">unsubscribe</a></p>'
FILES = {"promo.scn": PROMO, "a.html": PAGE.format(v="a"), "b.html": PAGE.format(v="b")}


class Later(WallClock):
    """The wall clock, moved on by `ahead` when the test needs days to pass (an event's `at`
    cannot be in the future)."""

    ahead = dt.timedelta(0)

    def now(self) -> dt.datetime:
        return super().now() + self.ahead


async def test_a_report_counts_sends_opens_clicks_unsubscribes_and_attributed_orders(tmp_path: Path, db: str) -> None:
    with SmtpServer() as smtp:
        delivery = DeliveryConfig(email=EmailSettings(url=smtp.url))
        clock = Later()
        async with serving(tmp_path, FILES, delivery=delivery, clock=clock, db=db) as s:
            people = [f"c{i:02}" for i in range(20)]
            await s.client.post("/api/events", json=[
                {"type": "contact.registered", "key": f"r-{p}", "contact": {"id": p, "email": f"{p}@example.com"}}
                for p in people
            ])  # fmt: skip
            for _ in range(200):
                if len(smtp.handler.received) == 20:
                    break
                await asyncio.sleep(0.05)
            mails = {m["To"]: m for _, m in smtp.handler.received}
            assert len(mails) == 20

            def html(person: str) -> str:
                body = mails[f"{person}@example.com"].get_body(("html",))
                assert body is not None
                return str(body.get_content())

            def link(person: str, kind: str) -> str:
                pattern = r'src="([^"]+/o/[^"]+)"' if kind == "open" else r'href="([^"]+/c/[^"]+)"'
                found = re.search(pattern, html(person))
                assert found is not None
                return found.group(1)

            for person in ("c00", "c01", "c02"):
                assert (await s.public.get(link(person, "open"))).status_code == 200
            for person in ("c00", "c03", "c03"):
                assert (await s.public.get(link(person, "click"))).status_code == 302
            unsubscribe = re.search(r'href="([^"]+/unsubscribe/[^"]+)"', html("c04"))
            assert unsubscribe is not None
            assert (await s.public.post(unsubscribe.group(1))).status_code == 200
            now = s.core.clock.now()

            def paid(person: str, order: str, total: str) -> dict[str, object]:
                return {"type": "order.paid", "key": f"p-{order}", "contact": {"id": person},
                        "order": {"id": order, "total": total, "currency": "EUR"}}  # fmt: skip

            await s.client.post("/api/events", json=[
                paid("c03", "o1", "100.50"),  # clicked, then paid: attributed to the click
                paid("c05", "o2", "20.00"),  # only received it: attributed to the send
            ])  # fmt: skip
            await s.settle()
            clock.ahead = dt.timedelta(days=3)
            late = await s.client.post("/api/events", json=paid("c06", "o3", "999.00"))
            assert late.status_code == 202, late.text  # three days later: outside the 2-day window
            await s.settle()
            period = {
                "since": (now - dt.timedelta(hours=1)).isoformat(),
                "until": (now + dt.timedelta(hours=1)).isoformat(),
            }
            report = (await s.client.get("/api/reports/promo", params=period)).json()
            variants = {r["variant"]: r for r in (await s.client.get("/api/reports/promo")).json()["rows"]}
    totals = report["totals"]
    assert (totals["sent"], totals["delivered"], totals["bounced"]) == (20, 20, 0)
    assert (totals["opened"], totals["clicked"], totals["unsubscribed"]) == (4, 2, 1)
    assert (totals["ordered"], totals["revenue"]) == (2, {"EUR": "120.50"})
    assert (totals["ctr"], totals["conversion"]) == (0.1, 0.1)
    assert report["attribution_window_h"] == 48
    assert set(variants) == {"a", "b"}
    assert sum(r["sent"] for r in variants.values()) == 20
    assert sum(r["ordered"] for r in variants.values()) == 2
