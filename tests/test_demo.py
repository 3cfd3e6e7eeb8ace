"""`scn serve --demo`: the examples' timelines replayed live, on the app with the
development sink, on a clock fast enough to play a whole round in a second or two."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from scn.interpreter.clock import WallClock
from scn.server.demo import load_timelines, play_demo

from .conftest import EXAMPLES
from .server_harness import Served, items, serving
from .test_serve_process import workspace_files

#: The longest example timeline (about five months) in about a second and a half.
SPEED = 1e7


async def until_found(s: Served, contact: str, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (await s.client.get(f"/api/contacts/{contact}")).status_code != 200:
        assert loop.time() < deadline, f"contact {contact} never appeared"
        await asyncio.sleep(0.05)


async def test_the_first_round_keeps_the_ids_of_the_events_files_and_later_rounds_differ(tmp_path: Path) -> None:
    contacts = sorted({event.contact.id for _, event in load_timelines(EXAMPLES)})
    assert "oleh" in contacts
    clock = WallClock(SPEED)
    async with serving(tmp_path, workspace_files(), clock=clock, dev_sink=True) as s:
        demo = asyncio.create_task(play_demo(s.core, EXAMPLES, s.core.stopping))
        try:
            await until_found(s, "oleh-r2")  # the second round has begun: the first is all played
            await s.settle()
            for contact in contacts:  # as the examples' events files and docs name them
                assert (await s.client.get(f"/api/contacts/{contact}")).status_code == 200, contact
            assert (await s.client.get("/api/contacts/oleh-r1")).status_code == 404
            runs = (await s.client.get("/api/runs", params={"contact": "oleh"})).json()["items"]
            assert {r["scenario"] for r in runs} == {"unpaid_recovery"}

            # Oleh's reminder went out at the start, months ago on the demo's clock; the
            # report's default window still covers it: the demo's whole time.
            assert clock.now() - clock.origin > dt.timedelta(days=60)
            report = (await s.client.get("/api/reports/unpaid_recovery")).json()
            assert dt.datetime.fromisoformat(report["since"]) == clock.origin
            sent = items((await s.client.get("/api/messages", params={"contact": "oleh"})).json())
            assert sent and all(m["status"] == "sent" for m in sent), sent
            assert report["totals"]["sent"] >= len(sent)
        finally:
            s.core.stopping.set()
            await demo


async def test_a_report_on_the_wall_clock_covers_the_last_30_days(tmp_path: Path) -> None:
    async with serving(tmp_path, workspace_files()) as s:
        report = (await s.client.get("/api/reports/unpaid_recovery")).json()
        since, until = (dt.datetime.fromisoformat(report[k]) for k in ("since", "until"))
        assert until - since == dt.timedelta(days=30)
