"""Broadcasts on the engine: a real SQLite store and a virtual clock. At its time a
broadcast gives each member of its audience one run; `local` waits for each contact's
own clock; pause, resume and cancel; a deploy again does not send again."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from .harness import Harness

UTC = dt.UTC
START = dt.datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

WORKSPACE = """
list vip "VIP"
coupon BF20 code "BF20" discount 20%
template bf_offer email
  from "Shop" <shop@example.com>
  subject "Black Friday"
  html "bf.html"
end
"""


def workspace(broadcast: str) -> str:
    return WORKSPACE + broadcast


async def join(h: Harness, contacts: list[str], zones: dict[str, str] | None = None) -> None:
    """Put contacts into the list `vip` (by the API's path: a list.add event)."""
    events = []
    for contact in contacts:
        person: dict[str, Any] = {"timezone": (zones or {}).get(contact, "UTC")}
        events.append(h.event("contact.updated", contact, person=person))
    await h.play(events)
    for contact in contacts:
        await h.store.commit(_list_add(contact, h))


def _list_add(contact: str, h: Harness) -> Any:
    from scn.interpreter.store import Changes

    return Changes(list_adds=[("vip", contact, int(h.clock.now().timestamp() * 1000))])


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_a_broadcast_sends_once_to_each_member_at_its_time(db: str) -> None:
    """On both stores (the PostgreSQL one says the broadcast's SQL its own way)."""
    text = workspace("broadcast bf to list vip at 2026-11-27 10:00 send email bf_offer with coupon BF20\n")

    async def go() -> None:
        async with Harness(text, db, start=START) as h:
            await join(h, ["a", "b", "c"])
            await h.advance(dt.timedelta(days=7, hours=1, minutes=59))
            assert await h.rows("SELECT count(*) FROM outbox") == [(0,)]
            await h.advance(dt.timedelta(minutes=2))
            rows = await h.rows("SELECT contact_id, scenario, coupon_code FROM outbox ORDER BY contact_id")
            assert rows == [("a", "bf", "BF20"), ("b", "bf", "BF20"), ("c", "bf", "BF20")]
            assert await h.rows("SELECT state, audience, queued FROM broadcasts") == [("done", 3, 3)]
            await h.advance(dt.timedelta(days=30))
            assert await h.rows("SELECT count(*) FROM runs") == [(3,)]

    run(go())


def test_a_local_broadcast_reaches_each_contact_at_ten_on_its_own_clock() -> None:
    text = workspace("broadcast bf to list vip at 2026-11-27 10:00 local send email bf_offer\n")
    zones = {"riga": "Europe/Riga", "tokyo": "Asia/Tokyo", "ny": "America/New_York", "kiritimati": "Pacific/Kiritimati"}

    async def go() -> None:
        async with Harness(text, start=START) as h:
            await join(h, list(zones), zones)
            await h.advance(dt.timedelta(days=9))
            rows = await h.rows("SELECT contact_id, created_at FROM outbox ORDER BY created_at")
            sent = {c: dt.datetime.fromtimestamp(ms / 1000, UTC) for c, ms in rows}
            assert sent == {
                "kiritimati": dt.datetime(2026, 11, 26, 20, 0, tzinfo=UTC),  # UTC+14
                "tokyo": dt.datetime(2026, 11, 27, 1, 0, tzinfo=UTC),
                "riga": dt.datetime(2026, 11, 27, 8, 0, tzinfo=UTC),
                "ny": dt.datetime(2026, 11, 27, 15, 0, tzinfo=UTC),
            }

    run(go())


def test_a_broadcast_without_a_time_goes_when_deployed_and_a_deploy_again_does_not_resend() -> None:
    text = workspace("broadcast now to list vip send email bf_offer\n")

    async def go() -> None:
        async with Harness(WORKSPACE, start=START) as h:
            await join(h, ["a", "b"])
            await h.install(text)
            await h.advance(dt.timedelta(minutes=1))
            assert await h.rows("SELECT count(*) FROM outbox WHERE scenario = 'now'") == [(2,)]
            await h.install(text.replace('subject "Black Friday"', 'subject "Black Friday!"'))
            await join(h, ["c"])
            await h.advance(dt.timedelta(days=1))
            assert await h.rows("SELECT count(*) FROM outbox WHERE scenario = 'now'") == [(2,)]

    run(go())


def test_a_scheduled_broadcast_follows_its_new_time() -> None:
    async def go() -> None:
        async with Harness(workspace("broadcast bf to list vip at 2026-11-27 10:00 send email bf_offer\n"),
                           start=START) as h:  # fmt: skip
            await join(h, ["a"])
            await h.install(workspace("broadcast bf to list vip at 2026-11-25 09:00 send email bf_offer\n"))
            await h.advance(dt.timedelta(days=10))
            [(created,)] = await h.rows("SELECT created_at FROM outbox")
            assert dt.datetime.fromtimestamp(created / 1000, UTC) == dt.datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    run(go())


def test_pausing_holds_a_broadcast_and_resuming_sends_the_rest() -> None:
    text = workspace("broadcast bf to list vip at 2026-11-27 10:00 local send email bf_offer\n")
    zones = {"tokyo": "Asia/Tokyo", "ny": "America/New_York"}

    async def go() -> None:
        async with Harness(text, start=START) as h:
            await join(h, list(zones), zones)
            await h.advance(dt.timedelta(days=7, hours=2))  # 10:00 in Tokyo has passed, not in New York
            assert await h.rows("SELECT contact_id FROM outbox") == [("tokyo",)]
            assert await h.engine.pause_broadcast("bf")
            assert not await h.engine.pause_broadcast("bf")
            await h.advance(dt.timedelta(days=1))
            assert await h.rows("SELECT contact_id FROM outbox") == [("tokyo",)]
            assert await h.rows("SELECT state FROM broadcasts") == [("paused",)]
            assert await h.engine.resume_broadcast("bf")
            await h.advance(dt.timedelta(minutes=1))
            assert await h.rows("SELECT contact_id FROM outbox ORDER BY id") == [("tokyo",), ("ny",)]
            await h.advance(dt.timedelta(minutes=1))
            assert await h.rows("SELECT state FROM broadcasts") == [("done",)]

    run(go())


def test_cancelling_stops_the_runs_not_yet_sent() -> None:
    text = workspace("broadcast bf to list vip at 2026-11-27 10:00 local send email bf_offer\n")
    zones = {"tokyo": "Asia/Tokyo", "ny": "America/New_York", "la": "America/Los_Angeles"}

    async def go() -> None:
        async with Harness(text, start=START) as h:
            await join(h, list(zones), zones)
            await h.advance(dt.timedelta(days=7, hours=2))
            # Tokyo's run has sent; its message waits for a sender (none runs here), so it stops too.
            assert await h.engine.cancel_broadcast("bf", "cancelled by ann") == (2, 1)
            assert await h.engine.cancel_broadcast("bf", "again") is None
            assert not await h.engine.resume_broadcast("bf")
            await h.advance(dt.timedelta(days=3))
            assert await h.rows("SELECT contact_id, status, error FROM outbox") == [
                ("tokyo", "skipped", "cancelled by ann")
            ]
            rows = await h.rows("SELECT contact_id, status, reason FROM runs ORDER BY contact_id")
            assert rows == [("la", "cancelled", "cancelled by ann"), ("ny", "cancelled", "cancelled by ann"),
                            ("tokyo", "done", None)]  # fmt: skip
            assert await h.rows("SELECT state FROM broadcasts") == [("cancelled",)]

    run(go())


def test_cancelling_before_its_time_sends_nothing_and_an_empty_audience_is_done() -> None:
    async def go() -> None:
        text = workspace(
            "broadcast bf to list vip at 2026-11-27 10:00 send email bf_offer end\n"
            "broadcast nobody to list vip at 2026-11-21 10:00 send email bf_offer\n"
        )
        async with Harness(text, start=START) as h:
            assert await h.engine.cancel_broadcast("bf", "no") == (0, 0)
            await h.advance(dt.timedelta(days=10))
            assert await h.rows("SELECT name, state, audience, queued FROM broadcasts ORDER BY name") == [
                ("bf", "cancelled", None, 0),
                ("nobody", "done", 0, 0),
            ]

    run(go())


def test_pages_of_exactly_the_audience_give_each_member_one_run() -> None:
    """Pages of 2: an audience of 4 (a last page that is full, then an empty one), of 5 (a
    last page of one) and of 1 (a first page that is the last)."""
    for size in (4, 5, 1):

        async def go(size: int = size) -> None:
            async with Harness(WORKSPACE, start=START) as h:
                h.engine.settings.broadcast_page = 2
                await join(h, [f"c{i}" for i in range(size)])
                await h.install(workspace("broadcast bf to list vip send email bf_offer\n"))
                await h.advance(dt.timedelta(minutes=5))
                rows = await h.rows("SELECT contact_id, count(*) FROM runs GROUP BY 1")
                assert sorted(rows) == [(f"c{i}", 1) for i in range(size)]
                assert await h.rows("SELECT state, audience, queued FROM broadcasts") == [("done", size, size)]

        run(go())
