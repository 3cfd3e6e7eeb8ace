"""The stdlib on a real engine and store: segments swept with the clock, coupon pools and
checks, loyalty look-ups and statistics, unsubscribe links."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

from scn.interpreter.runtime import EventInput, Settings
from scn.interpreter.runtime.events import convert_event
from scn.interpreter.values import Money
from scn.stdlib.coupons import CodeCheck, check_code
from scn.stdlib.loyalty import checkout_discount, group_statistics
from scn.stdlib.subscriptions import read_link, unsubscribe_event

from .harness import Harness

SWEEP = """
segment sleeping "Inactive for 30 days" where contact.last_activity_at < ago(30d)
segment sleeping_buyers "Sleeping and bought" where in_segment(sleeping) and contact.orders.count >= 1
segment buyers "Bought anything" where contact.orders.count >= 1

template hello email
  subject "Hi"
  html "hello.html"
end

scenario win_back "Win back"
  on segment.entered where event.segment == sleeping
  send email hello
end
"""


async def test_a_clock_segment_fills_with_no_event_and_a_segment_built_on_it_too() -> None:
    async with Harness(SWEEP) as h:
        bundle = h.engine.current
        assert bundle is not None
        assert {n: s.timed for n, s in bundle.segments.items()} == {
            "sleeping": True, "sleeping_buyers": True, "buyers": False,
        }  # fmt: skip
        start = h.clock.now()
        await h.play(
            [h.event("contact.active", "ann"), h.event("contact.active", "bob", at=start + dt.timedelta(days=10))]
        )
        await h.advance(start + dt.timedelta(days=29, hours=23) - h.clock.now())
        assert await h.rows("SELECT contact_id FROM segment_members") == []
        await h.advance(dt.timedelta(hours=2))
        assert await h.rows("SELECT segment, contact_id FROM segment_members") == [("sleeping", "ann")]
        (started,) = await h.rows("SELECT contact_id, started_at FROM runs WHERE scenario = 'win_back'")
        entered = dt.datetime.fromtimestamp(started[1] / 1000, dt.UTC)
        assert started[0] == "ann" and dt.timedelta(days=30) < entered - start <= dt.timedelta(days=30, hours=1)
        await h.advance(dt.timedelta(days=10))
        assert sorted(await h.rows("SELECT contact_id FROM segment_members WHERE segment = 'sleeping'")) == [
            ("ann",), ("bob",),
        ]  # fmt: skip
        await h.play([h.event("contact.active", "ann")])
        assert await h.rows("SELECT contact_id FROM segment_members WHERE segment = 'sleeping'") == [("bob",)]
        left = await h.rows("SELECT contact_id FROM events WHERE type = 'segment.left'")
        assert left == [("ann",)]


POOL = """
coupon THANKS discount 10% from pool "codes.csv" warn below 2

template thanks email
  subject "{{ coupon.code }}"
  html "thanks.html"
end

scenario thanks "Thanks"
  on contact.registered
  send email thanks with coupon THANKS
end
"""


async def test_a_pool_running_low_is_said_on_the_run_and_an_empty_one_fails_the_send() -> None:
    resources = {"codes.csv": "code\nA-1\nA-2\nA-3\n"}
    async with Harness(POOL, resources=resources) as h:
        await h.play(
            [h.event("contact.registered", f"c{i}", at=h.clock.now() + dt.timedelta(minutes=i)) for i in range(4)]
        )
        log = await h.rows("SELECT outcome, detail FROM step_log WHERE name LIKE 'send%' ORDER BY id")
    assert [o for o, _ in log] == ["sent", "sent", "sent", "failed"]
    assert "running low" not in log[0][1]
    assert log[1][1].endswith("pool THANKS is running low: 1 codes left (warn below 2)")
    assert "0 codes left" in log[2][1]
    assert log[3][1] == "no code left for coupon THANKS: its pool is used up; import more codes"


CODES = """
list vip "VIP"
coupon VIP20 discount 20% generated "VIP-{XXXXXXXX}" for list vip valid 2d
coupon COURSE discount 100 UAH generated "C-{XXXXXXXX}" for offer "course-a" valid 2d
coupon WELCOME discount 5% code "WELCOME5"

template offer email
  subject "{{ coupon.code }}"
  html "offer.html"
end

scenario give "Give codes"
  on contact.registered
  add to list vip
  issue coupon VIP20
  issue coupon COURSE
end

scenario drop "Leave VIP"
  on contact.active
  remove from list vip
end
"""


async def test_a_code_is_checked_for_contact_window_list_offer_and_use() -> None:
    async with Harness(CODES) as h:
        await h.play([h.event("contact.registered", "ann"), h.event("contact.registered", "bob")])
        codes = dict(await h.rows("SELECT coupon || ':' || contact_id, code FROM coupon_codes"))
        bundle = h.engine.current
        assert bundle is not None
        now = h.engine.clock_ms()
        total = Money(Decimal("850.00"), "UAH")

        async def check(code: str, contact: str, at: int = now, offer: str | None = None) -> CodeCheck:
            return await check_code(h.store, bundle, code, contact, now_ms=at, total=total, offer=offer)

        ok = await check(codes["VIP20:ann"], "ann")
        assert ok.valid and ok.price_before == total and ok.price_after == Money(Decimal("680.00"), "UAH")
        assert (await check(codes["VIP20:ann"], "bob")).reason == "this code was not given to this contact"
        late = now + 2 * 86_400_000 + 1
        assert str((await check(codes["VIP20:ann"], "ann", late)).reason).startswith("expired at ")
        assert (await check("NOPE", "ann")).reason == "unknown code"
        course = await check(codes["COURSE:ann"], "ann", offer="course-a")
        assert course.valid and course.price_after == Money(Decimal("750.00"), "UAH")
        assert "not valid for this offer" in str((await check(codes["COURSE:ann"], "ann", offer="course-b")).reason)
        welcome = await check("WELCOME5", "bob")
        assert welcome.valid and welcome.price_after == Money(Decimal("807.50"), "UAH")

        order = {"id": "o-1", "total": "850.00", "currency": "UAH", "coupon": codes["VIP20:ann"]}
        await h.play([h.event("order.paid", "ann", order=order)])
        assert (await check(codes["VIP20:ann"], "ann")).reason == "already used for order o-1"
        await h.play([h.event("contact.active", "bob")])
        assert (await check(codes["VIP20:bob"], "bob")).reason == "only for members of vip"


LOYALTY = """
program cashback "Cashback" bonus
  tier 2% up to 1000 UAH
  tier 5% above 1000 UAH
end
program discount "Discount" discount
  tier 10% up to 1000 UAH
  tier 20% above 1000 UAH
end
group newcomers "Newcomers" with program cashback default
group regulars "Regulars" with program discount
group staff "Staff"
"""


async def test_checkout_discount_and_group_statistics() -> None:
    async with Harness(LOYALTY) as h:

        def paid(contact: str, order: str, total: str, **person: str) -> EventInput:
            return h.event("order.paid", contact, person=person or None,
                           order={"id": order, "total": total, "currency": "UAH"})  # fmt: skip

        await h.play([
            paid("ann", "a1", "400.00"), paid("ann", "a2", "700.50"),
            paid("bob", "b1", "100.00", group="regulars"), paid("bob", "b2", "1200.00"),
            paid("eve", "e1", "300.10", group="regulars"),
        ])  # fmt: skip
        bundle = h.engine.current
        assert bundle is not None
        assert await checkout_discount(h.store, bundle, "ann") is None, "a bonus program gives no checkout discount"
        bob = await checkout_discount(h.store, bundle, "bob")
        assert bob is not None and str(bob.percent) == "20%" and bob.lifetime_spend == Money(Decimal("1300.00"), "UAH")
        eve = await checkout_discount(h.store, bundle, "eve")
        assert eve is not None and str(eve.percent) == "10%"
        # A spend in EUR falls in no tier of UAH: no discount (it was given the tier of the
        # number, and its spend shown in UAH).
        await h.play([h.event("order.paid", "eur", person={"group": "regulars"},
                              order={"id": "x1", "total": "5000.00", "currency": "EUR"})])  # fmt: skip
        assert await checkout_discount(h.store, bundle, "eur") is None
        stats = {s.group: s for s in await group_statistics(h.store, bundle)}
    assert list(stats) == ["newcomers", "regulars", "staff"]
    assert (stats["newcomers"].contacts, stats["newcomers"].orders) == (1, 2)
    (uah,) = stats["newcomers"].currencies
    assert (uah.currency, uah.average_order) == ("UAH", Money(Decimal("550.25"), "UAH"))
    assert (stats["regulars"].contacts, stats["regulars"].orders) == (3, 4)
    eur, uah = stats["regulars"].currencies
    assert uah.average_order == Money(Decimal("533.37"), "UAH")  # 1600.10 / 3
    assert uah.revenue == Money(Decimal("1600.10"), "UAH")
    assert (stats["staff"].contacts, stats["staff"].currencies) == (0, ())


SUBSCRIBED = """
template hello email
  subject "Hi"
  html "hello.html"
end
scenario hello "Hello"
  on contact.active
  send email hello
end
"""


async def test_the_unsubscribe_link_reads_back_and_unsubscribing_skips_later_sends() -> None:
    settings = Settings(secret="test")
    async with Harness(SUBSCRIBED) as h:
        await h.play([h.event("contact.active", "олена")])
        (message,) = await h.rows("SELECT message FROM outbox")
        url = msgspec.json.decode(message[0])["unsubscribe_url"]
        kind, channel, contact, token = url.split("/")[-4:]
        assert read_link(settings, kind, channel, contact, token) == "олена"
        assert read_link(settings, kind, channel, contact, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        assert read_link(settings, kind, "sms", contact, token) is None, "a link is for one channel"
        assert read_link(Settings(secret="other"), kind, channel, contact, token) is None
        event = unsubscribe_event("олена", "email", at=h.clock.now().isoformat())
        await h.play([convert_event(event), h.event("contact.active", "олена")])
        log = await h.rows("SELECT outcome, detail FROM step_log WHERE name LIKE 'send%' ORDER BY id")
        assert log[-1] == ("skipped", "unsubscribed from email")
