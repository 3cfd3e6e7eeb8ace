"""The broadcasts API over real HTTP: list and show with progress, a preview for one
contact, pause, resume and cancel, problems that name what is wrong."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from .server_harness import serving
from .test_server import is_problem

WORKSPACE = """
segment buyers "Buyers" where contact.orders.count >= 1

coupon BF20 code "BF20" discount 20%

template bf_offer email
  from "Shop" <shop@example.com>
  subject "Black Friday: {{ coupon.discount }} off with {{ coupon.code }}"
  html "bf.html"
end

broadcast later "Black Friday" to segment buyers at 2099-11-27 10:00 local
  send email bf_offer with coupon BF20
end

broadcast now to segment buyers
  send email bf_offer with coupon BF20
end
"""
FILES = {
    "main.scn": WORKSPACE,
    "bf.html": '<p>Sveiki, {{ contact.first_name }}!</p><a href="{{ unsubscribe_url }}">x</a>',
}


async def test_broadcasts_listed_previewed_paused_resumed_and_cancelled(tmp_path: Path, db: str) -> None:
    async with serving(tmp_path, FILES, db=db) as s:
        # `now` goes as soon as it is deployed, reading its audience then: wait for it to have
        # gone before the buyers come (contacts who join before it goes get it too).
        for _ in range(200):
            if (await s.client.get("/api/broadcasts/now")).json()["state"] == "done":
                break
            await asyncio.sleep(0.05)
        events = [
            {"type": "order.paid", "key": f"p-{who}", "contact": {"id": who, "email": f"{who}@example.com",
             "first_name": name}, "order": {"id": f"o-{who}", "total": "10.00", "currency": "EUR"}}
            for who, name in (("anna", "Anna"), ("zigis", "Žiģis"))
        ]  # fmt: skip
        assert (await s.client.post("/api/events", json=events)).status_code == 202
        await s.settle()
        # `now` has no time: it went when deployed, to nobody (the segment filled afterwards).
        page = (await s.client.get("/api/broadcasts")).json()
        assert [b["name"] for b in page["items"]] == ["later", "now"] and page["next"] is None
        later = page["items"][0]
        assert later["title"] == "Black Friday" and later["state"] == "scheduled"
        assert later["audience"] == {"kind": "segment", "name": "buyers"}
        assert later["at"] == "2099-11-27 10:00 local"
        assert later["starts_at"] == "2099-11-26T20:00:00Z"
        assert later["progress"] == {"audience": 2, "queued": 0, "runs": {}, "messages": {}}
        assert page["items"][1]["state"] == "done" and page["items"][1]["progress"]["audience"] == 0

        shown = (await s.client.get("/api/broadcasts/later/preview")).json()
        assert shown["audience"] == 2 and shown["contact"] == "anna" and shown["samples"] == []
        assert shown["preview"]["parts"]["subject"] == "Black Friday: 20% off with BF20"
        other = (await s.client.get("/api/broadcasts/later/preview", params={"contact": "zigis"})).json()
        assert "Sveiki, Žiģis!" in other["preview"]["parts"]["html"]
        assert "nobody" in is_problem(await s.client.get("/api/broadcasts/later/preview",
                                                         params={"contact": "nobody"}), 404)["detail"]  # fmt: skip
        assert "nope" in is_problem(await s.client.get("/api/broadcasts/nope"), 404)["detail"]

        assert (await s.client.post("/api/broadcasts/later/pause")).json()["state"] == "paused"
        again = is_problem(await s.client.post("/api/broadcasts/later/pause"), 409)
        assert "paused" in again["detail"]
        assert (await s.client.post("/api/broadcasts/later/resume")).json()["state"] == "scheduled"
        is_problem(await s.client.post("/api/broadcasts/later/resume"), 409)
        cancelled = (await s.client.post("/api/broadcasts/later/cancel")).json()
        assert cancelled["broadcast"]["state"] == "cancelled"
        assert (cancelled["runs_cancelled"], cancelled["messages_stopped"]) == (0, 0)
        is_problem(await s.client.post("/api/broadcasts/later/cancel"), 409)
        is_problem(await s.client.post("/api/broadcasts/now/pause"), 409)
        audit = (await s.client.get("/api/scenarios/later/audit")).json()["items"]
        assert [r["action"] for r in audit][-3:] == ["pause", "resume", "cancel"]


async def test_a_broadcast_sends_to_its_audience_and_shows_its_progress(tmp_path: Path, db: str) -> None:
    files = {**FILES, "main.scn": WORKSPACE.replace("to segment buyers\n", "to segment buyers at 2020-01-01 00:00\n")}
    before = WORKSPACE.split("broadcast later")[0]  # the segment, without the broadcasts
    async with serving(tmp_path, {**FILES, "main.scn": before}, db=db) as s:
        events = [
            {"type": "order.paid", "key": f"p-{who}", "contact": {"id": who, "email": f"{who}@example.com"},
             "order": {"id": f"o-{who}", "total": "10.00", "currency": "EUR"}}
            for who in ("a", "b", "c")
        ]  # fmt: skip
        await s.client.post("/api/events", json=events)
        await s.settle()
        assert (await s.client.post("/api/scenarios", json={"files": files})).status_code == 201
        await s.settle()
        for _ in range(200):  # its last runs end; the engine's next turn marks it done
            shown = (await s.client.get("/api/broadcasts/now")).json()
            if shown["state"] == "done":
                break
            await asyncio.sleep(0.05)
        assert shown["state"] == "done" and shown["queued_at"] is not None
        assert shown["progress"]["audience"] == 3 and shown["progress"]["queued"] == 3
        assert shown["progress"]["runs"] == {"done": 3}
        assert sum(shown["progress"]["messages"].values()) == 3
        steps = (await s.client.get("/api/scenarios/now/steps")).json()
        assert steps["items"][0]["name"] == "broadcast to segment buyers"


async def test_scn_broadcast_commands_over_the_api(tmp_path: Path, db: str) -> None:
    from .test_client import scn

    async with serving(tmp_path, FILES, db=db) as s:
        events = [
            {"type": "order.paid", "key": "p-anna", "contact": {"id": "anna", "email": "anna@example.com",
             "first_name": "Anna"}, "order": {"id": "o-anna", "total": "10.00", "currency": "EUR"}},
        ]  # fmt: skip
        await s.client.post("/api/events", json=events)
        await s.settle()
        code, out, err = await scn(s.base, "broadcast", "list")
        assert code == 0, err
        lines = [line.split() for line in out.splitlines()]
        assert lines[0] == ["broadcast", "state", "audience", "at", "queued", "sent"]
        assert lines[1] == ["later", "scheduled", "segment", "buyers", "2099-11-27", "10:00", "local", "0/1", "0"]
        code, out, _ = await scn(s.base, "broadcast", "show", "later")
        assert code == 0 and out.splitlines()[0] == "broadcast later (Black Friday) v1: scheduled"
        assert "to segment buyers, at 2099-11-27 10:00 local (begins 2099-11-26 20:00 UTC)" in out
        code, out, _ = await scn(s.base, "broadcast", "preview", "later")
        assert code == 0 and "for anna: email bf_offer" in out and "Black Friday: 20% off with BF20" in out
        code, out, _ = await scn(s.base, "broadcast", "pause", "later", "--format", "json")
        assert code == 0 and json.loads(out)["state"] == "paused"
        code, _, err = await scn(s.base, "broadcast", "pause", "later")
        assert code == 1 and "refused (409)" in err and "paused" in err
        code, out, _ = await scn(s.base, "broadcast", "resume", "later")
        assert code == 0 and ": scheduled" in out.splitlines()[0]
        code, out, _ = await scn(s.base, "broadcast", "cancel", "later")
        assert code == 0 and out.splitlines()[-1] == "0 run(s) cancelled, 0 message(s) stopped"
        code, _, err = await scn(s.base, "broadcast", "show", "nope")
        assert code == 1 and "refused (404)" in err
