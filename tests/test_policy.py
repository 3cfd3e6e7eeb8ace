"""The workspace's sending policy: caps over every scenario, default quiet hours,
transactional templates exempt, each held message recorded with its reason, and the
checker's rules at their bounds (issue 15)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from scn.grammar import parse
from scn.grammar._format import format_source
from scn.interpreter.compiler import compile_workspace
from scn.stdlib.delivery.config import DeliveryConfig, EmailSettings

from .conftest import EXAMPLES, check_texts
from .harness import START, Harness, checked, html_resources
from .server_harness import serving
from .smtp_server import SmtpServer

TEMPLATES = """
template offer email
  from "Shop" <shop@example.com>
  subject "An offer"
  html "offer.html"
end

template receipt email
  transactional
  from "Shop" <shop@example.com>
  subject "Your receipt"
  html "receipt.html"
end
"""

POLICY = """
policy
  email at most 2 per 7d
  quiet hours 21:00 to 09:00
  smtp at most 50 per second
end
"""


def scenarios(*names: str, template: str = "offer", headers: str = "") -> str:
    return "".join(f"\nscenario {name}\n  on order.paid\n{headers}  send email {template}\nend\n" for name in names)


def findings(text: str) -> list[tuple[str, str, int]]:
    result = check_texts({"t.scn": text}, html_resources(text))
    return [(d.code.code, d.message, d.span.line) for d in result.diagnostics]


def codes_of(text: str) -> list[str]:
    return [code for code, _, _ in findings(text)]


def paid(h: Harness, contact: str, n: int, at: dt.datetime | None = None) -> Any:
    order = {"id": f"o-{contact}-{n}", "total": "10.00", "currency": "EUR"}
    return h.event("order.paid", contact, key=f"k-{contact}-{n}", order=order, at=at)


# ---------------------------------------------------------------- the language


def test_the_policy_and_a_transactional_template_compile_into_the_bundle() -> None:
    bundle = compile_workspace(checked(TEMPLATES + POLICY + scenarios("a")))
    assert bundle.policy is not None
    assert bundle.policy.caps == {"email": (2, 7 * 86_400_000)}
    assert bundle.policy.quiet_hours == (21, 0, 9, 0)
    assert bundle.policy.rates == {"smtp": (50, 1000)}
    assert bundle.templates["receipt"].transactional and not bundle.templates["offer"].transactional


def test_the_formatter_writes_the_policy_as_a_block() -> None:
    squashed = "policy email at most 2 per 7d quiet hours 21:00 to 09:00 smtp at most 50 per second end\n"
    assert format_source(parse(squashed, "t.scn")) == POLICY.lstrip("\n")


@pytest.mark.parametrize(
    ("policy", "code", "words"),
    [
        ("policy\n  email at most 2 per 7d\n  email at most 5 per 1d\nend", "SCN401", "already has a cap for email"),
        ("policy\n  smtp at most 1 per second\n  smtp at most 9 per hour\nend", "SCN401", "a rate for smtp"),
        ("policy\n  mailchimp at most 1 per second\nend", "SCN402", "unknown provider `mailchimp`"),
        ("policy\n  email at most 0 per 7d\nend", "SCN316", "not a whole number of 1 or more"),
        ("policy\n  email at most 2 per 0d\nend", "SCN312", "the policy's window must be longer than zero"),
        ("policy\n  quiet hours 21:00 to 21:00\nend", "SCN306", "start and end at the same time"),
        ("policy\n  quiet hours 21:00 to 24:00\nend", "SCN305", "24:00 is not a time of day"),
    ],
)
def test_a_policy_rule_is_checked(policy: str, code: str, words: str) -> None:
    found = findings(TEMPLATES + policy + scenarios("a", headers="  entry once per contact\n"))
    assert any(c == code and words in m for c, m, _ in found), found


def test_a_workspace_has_one_policy_in_whichever_file() -> None:
    files = {"a.scn": TEMPLATES + POLICY, "b.scn": "policy\n  sms at most 1 per 1d\nend\n"}
    result = check_texts(files, html_resources(TEMPLATES))
    (duplicate,) = [d for d in result.diagnostics if d.code.code == "SCN401"]
    assert duplicate.message == "the workspace already has a policy" and duplicate.span.file == "b.scn"


@pytest.mark.parametrize(
    ("cap", "warned"),
    [
        ("frequency at most 2 per 7d", False),  # the policy's own: equal is not looser
        ("frequency at most 1 per 3d", True),  # 3 windows of 3d touch 7d: 3 > 2
        ("frequency at most 1 per 4d", False),  # 2 in 7d: as the policy
        ("frequency at most 3 per 7d", True),
        ("frequency at most 1 per 1d", True),
    ],
)
def test_a_scenario_cap_looser_than_the_policy_is_a_warning(cap: str, warned: bool) -> None:
    text = TEMPLATES + POLICY + scenarios("a", headers=f"  {cap}\n")
    checked(text)  # no error: the policy and the cap are both read
    found = [m for c, m, _ in findings(text) if c == "SCN403"]
    assert bool(found) == warned, found


def test_the_looser_cap_warning_says_what_each_allows() -> None:
    text = TEMPLATES + POLICY + scenarios("a", headers="  frequency at most 1 per 1d\n")
    (message,) = [m for c, m, _ in findings(text) if c == "SCN403"]
    assert message == (
        "this cap lets up to 7 email messages through in 7d, but the policy allows 2 per 7d: "
        "the policy holds back the rest"
    )


def test_a_cap_on_a_channel_the_policy_does_not_cap_is_no_concern_of_it() -> None:
    sms_only = "policy\n  sms at most 1 per 7d\nend\n"
    text = TEMPLATES + sms_only + scenarios("a", headers="  frequency at most 9 per 1d\n")
    assert compile_workspace(checked(text)).policy is not None
    assert "SCN403" not in codes_of(text)


def test_the_policy_caps_a_frequent_trigger_so_the_uncapped_send_warning_goes() -> None:
    assert "SCN308" in codes_of(TEMPLATES + scenarios("a"))
    assert "SCN308" not in codes_of(TEMPLATES + POLICY + scenarios("a"))
    # A transactional template passes the policy: nothing caps it.
    assert "SCN308" in codes_of(TEMPLATES + POLICY + scenarios("a", template="receipt"))


def test_an_offer_in_a_transactional_template_is_a_warning() -> None:
    coupon = 'coupon TEN discount 10% code "TEN"\n'
    with_coupon = TEMPLATES + coupon + "\nscenario a\n  on order.paid\n  entry once per contact\n" \
        "  send email receipt with coupon TEN\nend\n"  # fmt: skip
    found = [(m, line) for c, m, line in findings(with_coupon) if c == "SCN404"]
    line = with_coupon.splitlines().index("  send email receipt with coupon TEN") + 1
    assert found == [("template `receipt` is transactional, but this send gives it a coupon", line)]
    plain = TEMPLATES + scenarios("a", template="receipt", headers="  entry once per contact\n")
    assert "SCN404" not in codes_of(plain)
    shows = check_texts({"t.scn": plain}, {"offer.html": "<p>x</p>", "receipt.html": "<p>{{ coupon.code }}</p>"})
    assert [d.message for d in shows.diagnostics if d.code.code == "SCN404"] == [
        "template `receipt` is transactional, but it shows `coupon`"
    ]


# ---------------------------------------------------------------- the runtime

RESOURCES = {"offer.html": "<p>offer</p>", "receipt.html": "<p>receipt</p>"}
NOON = START.replace(hour=12)  # 12:00 UTC: outside the quiet hours in UTC


async def outbox(h: Harness) -> list[tuple[str, str, str, str | None]]:
    return await h.rows("SELECT scenario, template, status, error FROM outbox ORDER BY id")


async def test_the_policy_holds_the_third_email_of_three_scenarios_and_says_why() -> None:
    text = TEMPLATES + POLICY + scenarios("a", "b", "c", headers="  entry once per contact\n")
    async with Harness(text, start=NOON, resources=RESOURCES) as h:
        await h.play([paid(h, "c1", 1)])
        rows = await outbox(h)
        assert [r[2] for r in rows] == ["pending", "pending", "skipped"]
        assert rows[2][3] == (
            "held by the workspace policy (email at most 2 per 7d): 2 email message(s) in the last 7d"
        )
        trace = await h.rows("SELECT outcome, detail FROM step_log WHERE outcome = 'skipped'")
        assert trace and "held by the workspace policy" in trace[0][1]


async def test_the_cap_is_per_contact_and_transactional_mail_passes_and_is_not_counted() -> None:
    text = (TEMPLATES + POLICY + scenarios("r1", "r2", "r3", template="receipt", headers="  entry once per contact\n")
            + scenarios("a", "b", headers="  entry once per contact\n"))  # fmt: skip
    async with Harness(text, start=NOON, resources=RESOURCES) as h:
        await h.play([paid(h, "c1", 1), paid(h, "c2", 1)])
        statuses = await h.rows("SELECT contact_id, template, status FROM outbox ORDER BY contact_id, id")
    assert all(status == "pending" for _, _, status in statuses), statuses
    assert len(statuses) == 10  # three receipts and two offers each: receipts neither held nor counted


async def test_the_window_is_the_policys_to_the_millisecond() -> None:
    text = TEMPLATES + POLICY + scenarios("a", headers="  entry every time\n  frequency at most 9 per 1h\n")
    async with Harness(text, start=NOON, resources=RESOURCES) as h:
        first = NOON
        events = [paid(h, "c1", 1, at=first), paid(h, "c1", 2, at=first + dt.timedelta(hours=1)),
                  paid(h, "c1", 3, at=first + dt.timedelta(days=7)),  # the first is exactly 7d old: counted
                  paid(h, "c1", 4, at=first + dt.timedelta(days=7, milliseconds=1))]  # fmt: skip
        await h.play(events)
        statuses = [s for (s,) in await h.rows("SELECT status FROM outbox ORDER BY id")]
    assert statuses == ["pending", "pending", "skipped", "pending"]


async def test_the_policys_quiet_hours_defer_scenarios_without_their_own() -> None:
    late = START.replace(hour=22)  # 22:00 UTC, the contacts' zone
    text = (TEMPLATES + POLICY + scenarios("plain", headers="  entry once per contact\n")
            + scenarios("own", headers="  entry once per contact\n  quiet hours 23:00 to 06:00\n")
            + scenarios("receipt_now", template="receipt", headers="  entry once per contact\n"))  # fmt: skip
    async with Harness(text, start=late, resources=RESOURCES) as h:
        await h.play([paid(h, "c1", 1, at=late)])
        sent_at_once = {s for (s,) in await h.rows("SELECT scenario FROM outbox")}
        assert sent_at_once == {"own", "receipt_now"}  # its own quiet hours start at 23:00; receipts pass
        deferred = await h.rows("SELECT detail FROM step_log WHERE outcome = 'deferred'")
        assert [d for (d,) in deferred] == ["the workspace policy's quiet hours until 09:00 UTC"]
        await h.advance(dt.timedelta(hours=11))
        rows = await h.rows("SELECT scenario, created_at FROM outbox WHERE scenario = 'plain'")
    nine = int(late.replace(hour=9).timestamp() * 1000) + 86_400_000
    assert rows == [("plain", nine)]


def test_scn_simulate_shows_the_holds_of_the_policy(tmp_path: Path) -> None:
    """The examples under a policy of one email a month, on the post-purchase timeline
    (where a customer's thank-you is followed by the loyalty scenario's offer): `scn
    simulate` prints each held message in the timeline and counts them among the skipped."""
    shutil.copytree(EXAMPLES, tmp_path, dirs_exist_ok=True)
    (tmp_path / "policy.scn").write_text("policy\n  email at most 1 per 30d\nend\n", encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "scn", "simulate", str(tmp_path), "--events",
         str(EXAMPLES / "post_purchase.events.jsonl"), "--no-progress"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    held = "skipped: held by the workspace policy (email at most 1 per 30d): 1 email message(s) in the last 30d"
    assert held in out
    assert "     1  held by the workspace policy (email at most 1 per 30d)" in out


async def test_the_policy_outlives_a_restart(tmp_path: Path) -> None:
    """The bundle is stored with its policy: an engine started again on the file holds as before."""
    text = TEMPLATES + POLICY + scenarios("a", "b", "c", headers="  entry once per contact\n")
    async with Harness(text, tmp_path / "scn.db", start=NOON, resources=RESOURCES):
        pass
    async with Harness(TEMPLATES + scenarios("a"), tmp_path / "scn.db", start=NOON, resources=RESOURCES) as h:
        h.engine.bundles.clear()  # read version 1 from the store, not from memory
        first = await h.engine.bundle(1)
        assert first.policy is not None and first.policy.caps == {"email": (2, 7 * 86_400_000)}
        assert first.templates["receipt"].transactional


async def test_a_tighter_policy_holds_runs_already_in_flight() -> None:
    """One policy for the workspace: the newest upload's holds the runs that started on an
    earlier version too (their steps stay their version's)."""
    waits = "\nscenario later\n  on order.paid\n  entry once per contact\n  wait 1d\n  send email offer\nend\n"
    before = TEMPLATES + scenarios("now", headers="  entry once per contact\n") + waits
    async with Harness(before, start=NOON, resources=RESOURCES) as h:
        await h.play([paid(h, "c1", 1)])
        await h.install(before + "\npolicy\n  email at most 1 per 7d\nend\n")
        await h.advance(dt.timedelta(days=1))
        rows = await h.rows("SELECT scenario, status, error FROM outbox ORDER BY id")
    assert [r[:2] for r in rows] == [("now", "pending"), ("later", "skipped")]
    assert rows[1][2].startswith("held by the workspace policy (email at most 1 per 7d)")


async def test_the_sender_paces_smtp_as_the_policy_says(tmp_path: Path) -> None:
    """`smtp at most 10 per second`: 20 mails reach a real SMTP server no faster than
    that (any 11 in a row span a second or more), and an upload without the rate lifts it."""
    rate = "policy\n  smtp at most 10 per second\nend\n"
    files = {"w.scn": TEMPLATES + rate + scenarios("a", headers="  entry once per contact\n"), **RESOURCES}
    with SmtpServer() as smtp:
        async with serving(tmp_path, files, delivery=DeliveryConfig(email=EmailSettings(url=smtp.url))) as s:
            assert s.core.sender is not None
            events = [{"type": "order.paid", "key": f"k{i}", "contact": {"id": f"c{i}", "email": f"c{i}@example.com"},
                       "order": {"id": f"o{i}", "total": "10.00", "currency": "EUR"}} for i in range(20)]  # fmt: skip
            assert (await s.client.post("/api/events", json=events)).status_code == 202
            for _ in range(400):
                if len(smtp.handler.received_at) == 20:
                    break
                await asyncio.sleep(0.05)
            arrived = smtp.handler.received_at
            assert len(arrived) == 20
            # The data handed over one every 100 ms, so 20 mails take 1.9 s (unpaced, a
            # fraction of that); arrival adds jitter either way on a busy machine.
            assert arrived[-1] - arrived[0] >= 1.7
            assert min(arrived[i + 10] - arrived[i] for i in range(10)) >= 0.8
            assert set(s.core.sender.paces) == {"email"}
            unpaced = {"files": {"w.scn": files["w.scn"].replace(rate, "")}}
            upload = await s.client.post("/api/scenarios", json=unpaced)
            assert upload.status_code == 201, upload.text
            assert s.core.sender.paces == {}


def test_a_transactional_send_is_no_concern_of_the_cap_check() -> None:
    """The looser-cap warning is about what the policy holds: a scenario that sends only
    transactional mail is not held by it, whatever its own cap."""
    text = TEMPLATES + POLICY + scenarios("a", template="receipt", headers="  frequency at most 1 per 1d\n")
    checked(text)
    assert "SCN403" not in codes_of(text)
    assert "SCN403" in codes_of(text.replace("send email receipt", "send email offer"))


async def test_the_policys_send_window_holds_scenarios_without_their_own() -> None:
    """`send only mon-fri 09:00 to 18:00` in the policy: a Saturday's message waits for
    Monday 09:00 in the contact's zone; a transactional one goes at once."""
    saturday = dt.datetime(2025, 3, 8, 12, 0, tzinfo=dt.UTC)
    policy = "policy\n  send only mon-fri 09:00 to 18:00\nend\n"
    text = (TEMPLATES + policy + scenarios("offer_now", headers="  entry once per contact\n")
            + scenarios("receipt_now", template="receipt", headers="  entry once per contact\n"))  # fmt: skip
    assert compile_workspace(checked(text)).policy is not None
    async with Harness(text, start=saturday, resources=RESOURCES) as h:
        await h.play([paid(h, "c1", 1, at=saturday)])
        assert {s for (s,) in await h.rows("SELECT scenario FROM outbox")} == {"receipt_now"}
        deferred = [d for (d,) in await h.rows("SELECT detail FROM step_log WHERE outcome = 'deferred'")]
        assert deferred == ["outside the workspace policy's send window until Mon 09:00 UTC"]
        await h.advance(dt.timedelta(days=2))
        rows = await h.rows("SELECT created_at FROM outbox WHERE scenario = 'offer_now'")
    monday_nine = int(dt.datetime(2025, 3, 10, 9, 0, tzinfo=dt.UTC).timestamp() * 1000)
    assert rows == [(monday_nine,)]


def test_a_policy_send_window_is_checked_like_a_scenarios() -> None:
    empty = "policy\n  send only mon-fri 09:00 to 09:00\nend\n"
    assert "SCN320" in codes_of(TEMPLATES + empty + scenarios("a", headers="  entry once per contact\n"))
    twice = "policy\n  send only mon 09:00 to 18:00\n  send only tue 09:00 to 18:00\nend\n"
    found = findings(TEMPLATES + twice + scenarios("a", headers="  entry once per contact\n"))
    assert any(c == "SCN401" and "a send window" in m for c, m, _ in found), found


def test_scn_worker_paces_smtp_as_the_policy_says(tmp_path: Path) -> None:
    """`scn worker` with a sender follows the policy's rate too: `smtp at most 5 per
    second`, so 8 mails take 1.4 s at a real SMTP server (unpaced, a fraction of that)."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    rate = "policy\n  smtp at most 5 per second\nend\n"
    text = TEMPLATES + rate + "\nscenario hello\n  on contact.registered\n  send email offer\nend\n"
    (workspace / "w.scn").write_text(text, encoding="utf-8")
    for name, html in RESOURCES.items():
        (workspace / name).write_text(html, encoding="utf-8")
    people = [{"type": "contact.registered", "key": f"r{i}", "contact": {"id": f"c{i}", "email": f"c{i}@example.com"}}
              for i in range(8)]  # fmt: skip
    lines = "".join(json.dumps(person) + "\n" for person in people)
    with SmtpServer() as server:
        process = subprocess.Popen(
            [sys.executable, "-m", "scn", "worker", str(workspace), "--db", str(tmp_path / "scn.db"), "--events", "-"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "SCN_SMTP_URL": server.url, "SCN_SECRET": "pace"},
        )  # fmt: skip
        try:
            assert process.stdin is not None
            process.stdin.write(lines.encode())
            process.stdin.flush()
            deadline = time.monotonic() + 30
            while len(server.handler.received_at) < 8 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            process.send_signal(signal.SIGTERM)
            _, errors = process.communicate(timeout=20)
        arrived = server.handler.received_at
    assert process.returncode == 0, errors.decode()
    assert len(arrived) == 8
    assert arrived[-1] - arrived[0] >= 1.2  # seven gaps of 200 ms, less arrival jitter
