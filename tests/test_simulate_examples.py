"""Every example runs against its events timeline and prints exactly its expected output.

`examples/NAME.events.jsonl` is the timeline and `examples/NAME.expected.txt` the output
of `scn simulate examples/NAME.scn --events examples/NAME.events.jsonl`. After a
deliberate change in behaviour, review the new output and save it with
`SCN_UPDATE_EXPECTED=1 pytest tests/test_simulate_examples.py`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from scn.interpreter.checker import check_workspace
from scn.interpreter.simulate import Entry, Result, read_events, render_text, simulate
from scn.interpreter.workspace import load_workspace

from .conftest import EXAMPLES, ROOT

NAMES = sorted(p.name.removesuffix(".events.jsonl") for p in EXAMPLES.glob("*.events.jsonl"))


def run_example(name: str) -> Result:
    checked = check_workspace(load_workspace([EXAMPLES / f"{name}.scn"]))
    assert checked.ok
    return asyncio.run(simulate(checked, read_events(EXAMPLES / f"{name}.events.jsonl")))


def test_every_example_has_a_timeline() -> None:
    assert NAMES == sorted(p.stem for p in EXAMPLES.glob("*.scn"))


@pytest.mark.parametrize("name", NAMES)
def test_example_output_is_the_expected_one(name: str) -> None:
    got = render_text(run_example(name))
    expected_file = EXAMPLES / f"{name}.expected.txt"
    if os.environ.get("SCN_UPDATE_EXPECTED"):
        expected_file.write_text(got, encoding="utf-8")
    assert got == expected_file.read_text(encoding="utf-8")


def entries(result: Result, contact: str, step: str | None = None) -> list[Entry]:
    return [e for e in result.timeline if e.contact == contact and (step is None or e.step == step)]


def test_no_coupon_when_payment_arrives_within_30_minutes() -> None:
    result = run_example("unpaid_recovery")
    anna = entries(result, "anna")
    assert [e.outcome for e in anna][-1] == "stopped"
    assert not any(e.outcome == "sent" for e in anna)
    oleh_sent = [e for e in entries(result, "oleh") if e.outcome == "sent"]
    assert len(oleh_sent) == 1 and "UNPAID10" in (oleh_sent[0].detail or "")


def test_quiet_hours_push_a_night_send_to_the_morning_in_the_contact_zone() -> None:
    result = run_example("repeat_order")
    related = entries(result, "kateryna", "@related")
    assert [e.outcome for e in related] == ["deferred", "sent"]
    deferred, sent = related
    kyiv = ZoneInfo("Europe/Kyiv")
    assert deferred.at.astimezone(kyiv).hour >= 21  # due at night...
    assert sent.at.astimezone(kyiv).time() == dt.time(9, 0)  # ...sent at 09:00 Kyiv time
    assert sent.at.date() == deferred.at.date() + dt.timedelta(days=1)


def test_frequency_cap_suppresses_a_second_post_purchase_mail() -> None:
    result = run_example("post_purchase")
    ewa = [e for e in entries(result, "ewa") if e.name.startswith("send")]
    assert [e.outcome for e in ewa] == ["sent", "skipped"]
    assert (ewa[1].detail or "").startswith("frequency cap")


def test_a_coupon_is_refused_after_its_validity_and_accepted_before() -> None:
    result = run_example("repeat_sales")
    maria = entries(result, "maria", "redeem")
    taras = entries(result, "taras", "redeem")
    assert [e.outcome for e in maria] == ["accepted"]
    assert [e.outcome for e in taras] == ["refused"]
    assert "expired" in (taras[0].detail or "")


def test_entry_once_per_contact_skips_the_second_trigger() -> None:
    result = run_example("repeat_sales")
    ivan = entries(result, "ivan")
    assert sum(1 for e in ivan if e.outcome == "sent") == 1
    assert any(e.step == "entry" and e.outcome == "skipped" for e in ivan)


def test_the_command_line_prints_the_same_timeline(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "scn", "simulate", "examples/unpaid_recovery.scn",
         "--events", "examples/unpaid_recovery.events.jsonl"],
        cwd=ROOT, capture_output=True, text=True, encoding="utf-8", check=True,
    )  # fmt: skip
    assert out.stdout == (EXAMPLES / "unpaid_recovery.expected.txt").read_text(encoding="utf-8")


def test_json_output_carries_the_same_timeline() -> None:
    import json

    out = subprocess.run(
        [sys.executable, "-m", "scn", "simulate", "examples/post_purchase.scn",
         "--events", "examples/post_purchase.events.jsonl", "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, encoding="utf-8", check=True,
    )  # fmt: skip
    document = json.loads(out.stdout)
    text_result = run_example("post_purchase")
    assert len(document["timeline"]) == len(text_result.timeline)
    assert document["timeline"][0]["contact"] == "ewa"
    assert document["summary"]["skipped"] == {"frequency cap: 1 message(s) in the last 14d": 1}


def test_a_bad_timeline_line_is_reported_with_its_line_number(tmp_path: Path) -> None:
    events = tmp_path / "t.jsonl"
    events.write_text(
        "# a comment\n"
        '{"type": "order.paid", "at": "2025-01-01T10:00:00+02:00", "contact": {"id": "a"}}\n'
        '{"type": "order.paid", "contact": {"id": "a"}, "colour": "red"}\n',
        encoding="utf-8",
    )
    out = subprocess.run(
        [sys.executable, "-m", "scn", "simulate", str(EXAMPLES / "post_purchase.scn"), "--events", str(events)],
        capture_output=True, text=True, encoding="utf-8",
    )  # fmt: skip
    assert out.returncode != 0
    assert f"{events}:3:" in out.stderr and "colour" in out.stderr


def test_the_split_of_repeat_order_gives_each_variant_its_share_of_1000_contacts() -> None:
    from collections import Counter

    from scn.interpreter.runtime.events import convert_event

    start = dt.datetime(2025, 6, 2, 10, 0, tzinfo=dt.UTC)
    events = []
    for i in range(1000):
        at = start + dt.timedelta(minutes=i)
        contact = {"id": f"c{i}", "email": f"c{i}@example.com", "language": "ru", "timezone": "Europe/Kyiv"}
        order = {
            "id": f"o{i}",
            "total": "100.00",
            "currency": "UAH",
            "items": [{"product_id": f"p{i % 7}", "price": "100.00"}, {"product_id": "case", "price": "5.00"}],
        }
        events.append({"type": "order.paid", "key": f"p{i}", "at": at.isoformat(), "contact": contact, "order": order})
        events.append(
            {
                "type": "order.status_changed",
                "key": f"d{i}",
                "at": (at + dt.timedelta(days=1)).isoformat(),
                "contact": {"id": f"c{i}"},
                "order": {"id": f"o{i}"},
                "data": {"status": "delivered"},
            }
        )
    # fmt: skip
    checked = check_workspace(load_workspace([EXAMPLES / "repeat_order.scn"]))
    timeline = [convert_event(e) for e in events]
    result = asyncio.run(simulate(checked, timeline, until=dt.timedelta(days=10)))
    chosen = Counter(e.detail for e in result.timeline if e.outcome == "chose")
    assert sum(chosen.values()) == 1000
    for variant in ("by_segment", "popular", "personal"):
        assert 250 <= chosen[f"variant {variant}"] <= 350, chosen  # 30% each
    assert 60 <= chosen["control group"] <= 140, chosen  # 10%


def test_a_local_broadcast_reaches_each_buyer_at_ten_on_their_clock() -> None:
    result = run_example("black_friday")
    sent = {e.contact: e.at for e in result.timeline if e.scenario == "black_friday" and e.step == "s1"}
    assert set(sent) == {"liga", "marta", "john", "yuki"}  # Jānis never bought: not in the segment
    for contact, zone in (("liga", "Europe/Riga"), ("marta", "Europe/Warsaw"), ("john", "America/New_York"),
                          ("yuki", "Asia/Tokyo")):  # fmt: skip
        local = sent[contact].astimezone(ZoneInfo(zone))
        assert (local.date(), local.time()) == (dt.date(2030, 11, 29), dt.time(10, 0)), contact
    [marta] = [e for e in entries(result, "marta") if e.step == "s1"]
    assert (marta.outcome, marta.detail) == ("skipped", "unsubscribed from email")
