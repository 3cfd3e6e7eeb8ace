"""Email over real SMTP: a real aiosmtpd server on 127.0.0.1, parsed with the email package."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scn.interpreter.clock import WallClock
from scn.interpreter.runtime import EventInput
from scn.interpreter.store import PENDING, SENT, UNDELIVERED, Changes, ContactUpdate, OutboxRow
from scn.interpreter.store.suppressions import Claimed
from scn.stdlib.delivery import RetryPolicy, Sender
from scn.stdlib.delivery.base import HeaderError, sent
from scn.stdlib.delivery.email import MailDefaults, SmtpChannel, SmtpConfig, build_email
from scn.stdlib.tracking import read_token

from .harness import Harness
from .smtp_server import SmtpServer, free_port

WORKSPACE = """
template welcome email
  from "Магазин Демо" <shop@demo.example>
  reply to <help@demo.example>
  fallback en
  lang ru
    subject "Добро пожаловать, {{ contact.first_name }}!"
    html "welcome.ru.html"
  lang lv
    subject "Laipni lūdzam, {{ contact.first_name }}! Ūdens, ķirsis, ņemt"
    html "welcome.lv.html"
  lang pl
    subject "Witaj, {{ contact.first_name }}! Zażółć gęślą jaźń"
    html "welcome.pl.html"
  lang en
    subject "Welcome, {{ contact.first_name }}!"
    html "welcome.en.html"
end

scenario welcome "Welcome"
  on contact.registered
  send email welcome
end
"""

PAGE = (
    '<html><body><p>{{ contact.first_name }}: <a href="https://shop.example/catalog?a=1&amp;b=2">каталог</a></p>'
    '<p><a href="{{ unsubscribe_url }}">unsubscribe</a></p></body></html>'
)
RESOURCES = {f"welcome.{lang}.html": PAGE for lang in ("ru", "lv", "pl", "en")}
POLICY = RetryPolicy(first_delay_ms=60_000, max_delay_ms=600_000, max_age_ms=3_600_000)


def registered(
    h: Harness, contact: str, language: str = "en", name: str = "Ann", email: str | None = None
) -> EventInput:
    person = {"email": email or f"{contact}@example.com", "language": language, "first_name": name}
    return h.event("contact.registered", contact, person=person)


async def outbox_rows(h: Harness) -> list[tuple[str, str, int, str | None]]:
    rows = await h.rows("SELECT recipient, status, attempts, error FROM outbox ORDER BY id")
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def sender_for(h: Harness, url: str, **options: object) -> tuple[Sender, SmtpChannel]:
    channel = SmtpChannel(SmtpConfig.from_url(url, **options), MailDefaults())
    return Sender(h.store, h.clock, {"email": channel}, policy=POLICY), channel


async def test_mail_arrives_multipart_with_headers_encoded() -> None:
    with SmtpServer() as server:
        async with Harness(WORKSPACE, resources=RESOURCES) as h:
            await h.play([
                registered(h, "olga", "ru", "Ольга"),
                registered(h, "janis", "lv", "Jānis"),
                registered(h, "zofia", "pl-PL", "Zofia"),
                registered(h, "bob", "de", "Bob"),
            ])  # fmt: skip
            sender, channel = sender_for(h, server.url)
            assert await sender.deliver_due() == 4
            await channel.close()
            assert [r[1] for r in await outbox_rows(h)] == [SENT] * 4
    subjects = {m["To"]: m["Subject"] for _, m in server.handler.received}
    assert subjects == {
        "olga@example.com": "Добро пожаловать, Ольга!",
        "janis@example.com": "Laipni lūdzam, Jānis! Ūdens, ķirsis, ņemt",
        "zofia@example.com": "Witaj, Zofia! Zażółć gęślą jaźń",
        "bob@example.com": "Welcome, Bob!",  # no German variant: the fallback
    }
    _, mail = next((r, m) for r, m in server.handler.received if r == ["olga@example.com"])
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    assert mail["From"].addresses[0].display_name == "Магазин Демо"
    assert mail["From"].addresses[0].addr_spec == "shop@demo.example"
    assert mail["Reply-To"] == "help@demo.example"
    assert re.fullmatch(r"<scn\.\d+\.\d+@demo\.example>", mail["Message-ID"])
    assert mail["Date"].datetime.tzinfo is not None
    unsubscribe = re.findall(r"<([^>]+)>", mail["List-Unsubscribe"])
    assert unsubscribe[0].startswith("http://localhost:8000/unsubscribe/email/")
    assert unsubscribe[1].startswith("mailto:unsubscribe@demo.example?")
    assert urllib.parse.parse_qs(unsubscribe[1].partition("?")[2])["body"] == [unsubscribe[0]]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    raw = mail.as_bytes()
    headers = raw.split(b"\r\n\r\n")[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n")[0]
    assert headers.isascii(), "non-ASCII header text must travel as encoded words"
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and html is not None
    assert "Ольга" in plain.get_content() and "https://shop.example/catalog?a=1&b=2" in plain.get_content()
    page = html.get_content()
    assert "https://shop.example/catalog" not in page, "links in the HTML are tracked"
    tracked = re.findall(r'href="http://localhost:8000/c/([^"]+)"', page)
    assert len(tracked) == 1 and read_token(h.engine.settings, "c", tracked[0]) is not None
    assert re.search(r'<img src="http://localhost:8000/o/[^"]+" width="1" height="1"', page)
    assert unsubscribe[0] in page, "the unsubscribe link is never rewritten"


async def test_temporary_refusal_is_retried_with_backoff_and_delivered_once() -> None:
    with SmtpServer() as server:
        server.handler.rcpt_replies["slow@example.com"] = ["451 4.7.1 Greylisted, try later", "421 4.3.2 Busy"]
        async with Harness(WORKSPACE, resources=RESOURCES) as h:
            await h.play([registered(h, "slow", email="slow@example.com"), registered(h, "fast")])
            sender, channel = sender_for(h, server.url)
            start = h.clock.now()
            await sender.deliver_due()
            rows = await outbox_rows(h)
            assert rows[0][:3] == ("slow@example.com", PENDING, 1) and "451 4.7.1 Greylisted" in (rows[0][3] or "")
            assert rows[1][:3] == ("fast@example.com", SENT, 1), "one recipient's refusal does not hold up another"
            (next_at,) = (await h.rows("SELECT next_attempt_at FROM outbox WHERE recipient = 'slow@example.com'"))[0]
            assert next_at == int(start.timestamp() * 1000) + 60_000
            assert await sender.deliver_due() == 0, "not before the backoff"
            h.clock.advance_to(start + dt.timedelta(minutes=1))
            await sender.deliver_due()
            assert (await outbox_rows(h))[0][1:3] == (PENDING, 2)
            h.clock.advance_to(start + dt.timedelta(minutes=2, seconds=59))
            assert await sender.deliver_due() == 0, "the second delay is twice the first"
            h.clock.advance_to(start + dt.timedelta(minutes=3))
            await sender.deliver_due()
            await channel.close()
            assert (await outbox_rows(h))[0] == ("slow@example.com", SENT, 3, None)
    assert len(server.handler.to("slow@example.com")) == 1


async def test_permanent_refusal_suppresses_the_address_and_later_sends_skip_it() -> None:
    twice = WORKSPACE.replace("on contact.registered", "on contact.registered\n  on contact.active")
    with SmtpServer() as server:
        server.handler.rcpt_replies["gone@example.com"] = ["550 5.1.1 No such user here"]
        async with Harness(twice, resources=RESOURCES) as h:
            await h.play([registered(h, "gone", email="gone@example.com"), registered(h, "fine")])
            sender, channel = sender_for(h, server.url)
            await sender.deliver_due()
            rows = await outbox_rows(h)
            assert rows[0][:2] == ("gone@example.com", UNDELIVERED) and "550 5.1.1" in (rows[0][3] or "")
            assert rows[1][1] == SENT
            bounces = await h.rows("SELECT contact_id, payload FROM events WHERE type = 'message.bounced'")
            assert [b[0] for b in bounces] == ["gone"] and "550 5.1.1" in bounces[0][1]
            await h.play([h.event("contact.active", "gone"), h.event("contact.active", "fine")])
            await sender.deliver_due()
            await channel.close()
            log = await h.rows(
                "SELECT r.contact_id, l.outcome, l.detail FROM step_log l JOIN runs r ON r.id = l.run_id "
                "WHERE l.name LIKE 'send%' ORDER BY l.id"
            )
            assert log[-2:] == [("gone", "skipped", "email unreachable (bounced)"), ("fine", "sent", log[-1][2])]
    assert len(server.handler.to("gone@example.com")) == 0 and len(server.handler.to("fine@example.com")) == 2


async def test_content_refusal_after_data_fails_without_suppressing() -> None:
    with SmtpServer() as server:
        server.handler.data_replies["spam@example.com"] = ["554 5.7.1 Message rejected as spam"]
        async with Harness(WORKSPACE, resources=RESOURCES) as h:
            await h.play([registered(h, "spam", email="spam@example.com")])
            sender, channel = sender_for(h, server.url)
            await sender.deliver_due()
            await channel.close()
            assert (await outbox_rows(h))[0][1] == UNDELIVERED
            assert await h.rows("SELECT 1 FROM events WHERE type = 'message.bounced'") == []


async def test_server_down_then_up_delivers_after_retry() -> None:
    port = free_port()
    async with Harness(WORKSPACE, resources=RESOURCES) as h:
        await h.play([registered(h, "ann")])
        sender, channel = sender_for(h, f"smtp://127.0.0.1:{port}?timeout=2")
        await sender.deliver_due()
        row = (await outbox_rows(h))[0]
        assert row[1] == PENDING and (row[3] or "").startswith(f"cannot reach the mail server at 127.0.0.1:{port}")
        with SmtpServer(port) as server:
            h.clock.advance_to(h.clock.now() + dt.timedelta(minutes=1))
            await sender.deliver_due()
            await channel.close()
        assert (await outbox_rows(h))[0][1:3] == (SENT, 2)
        assert len(server.handler.to("ann@example.com")) == 1


async def test_timeout_is_temporary_and_gives_up_after_max_age() -> None:
    with SmtpServer() as server:
        server.handler.data_delay = 1.5
        async with Harness(WORKSPACE, resources=RESOURCES) as h:
            await h.play([registered(h, "ann")])
            channel = SmtpChannel(SmtpConfig.from_url(server.url, timeout_s=0.5))
            policy = RetryPolicy(first_delay_ms=60_000, max_delay_ms=60_000, max_age_ms=150_000)
            sender = Sender(h.store, h.clock, {"email": channel}, policy=policy)
            await sender.deliver_due()
            row = (await outbox_rows(h))[0]
            assert row[1] == PENDING and row[3] == "the connection to the mail server failed: no answer in time"
            for _ in range(2):
                h.clock.advance_to(h.clock.now() + dt.timedelta(minutes=1))
                await sender.deliver_due()
            await channel.close()
            row = (await outbox_rows(h))[0]
            assert row[1] == UNDELIVERED and row[2] == 3
            assert (row[3] or "").startswith("gave up after 3 attempts over 2m")


async def test_connections_are_reused_and_bounded() -> None:
    with SmtpServer() as server:
        async with Harness(WORKSPACE, resources=RESOURCES) as h:
            await h.play([registered(h, f"c{i}") for i in range(30)])
            sender, channel = sender_for(h, server.url, connections=3)
            assert await sender.deliver_due() == 30
            await channel.close()
            assert {r[1] for r in await outbox_rows(h)} == {SENT}
    assert len(server.handler.received) == 30
    assert channel.opened <= 3
    assert len(server.handler.sessions) <= 3


async def test_the_sender_loop_delivers_batch_after_batch_each_message_once() -> None:
    """`deliver_all` claims the next batch while one is being sent and records a batch
    while the next is sent: every message still goes exactly once and is recorded, and a
    refusal in the middle of a batch is recorded as such. On this sender's clock a lease
    lasts a third of a millisecond, shorter than any send: what it has in flight must
    stay its own (`scn serve --clock-speed` once sent a message twice that way)."""
    with SmtpServer() as server:
        server.handler.rcpt_replies["c17@example.com"] = ["550 5.1.1 No such user here"]
        async with Harness(WORKSPACE, resources=RESOURCES) as h:
            await h.play([registered(h, f"c{i}") for i in range(45)])
            channel = SmtpChannel(SmtpConfig.from_url(server.url, connections=3))
            fast = WallClock(speed=1_000_000)  # the 5-minute lease: 0.3 ms
            sender = Sender(h.store, fast, {"email": channel}, policy=RetryPolicy(), batch_size=10)
            assert await sender.deliver_all() == 45
            assert await sender.deliver_all() == 0
            await channel.close()
            rows = await outbox_rows(h)
            bounced = await h.rows("SELECT contact_id FROM events WHERE type = 'message.bounced'")
    assert sorted(r[1] for r in rows) == sorted([SENT] * 44 + [UNDELIVERED])
    assert bounced == [("c17",)]
    received = sorted(to for recipients, _ in server.handler.received for to in recipients)
    assert received == sorted(f"c{i}@example.com" for i in range(45) if i != 17), "each once"


async def test_no_more_mails_go_unrecorded_than_there_are_connections() -> None:
    """A mail the server accepted is recorded before its connection sends the next one
    (a crash can repeat at most one mail per connection), and the sender claims only a
    few more than it is sending, however slow its disk."""
    with SmtpServer() as server:
        async with Harness(WORKSPACE, resources=RESOURCES) as h:
            await h.play([registered(h, f"c{i}") for i in range(60)])
            sender, channel = sender_for(h, server.url, connections=3)
            exchange = h.store.exchange_outbox
            seen: list[tuple[int, int]] = []

            async def on_a_slow_disk(*args: Any, **kwargs: Any) -> list[Claimed]:
                (recorded, claimed), *_ = await h.rows(
                    "SELECT count(*) FILTER (WHERE status = 'sent'), "
                    "count(*) FILTER (WHERE status = 'pending' AND attempts > 0) FROM outbox"
                )
                seen.append((len(server.handler.received) - recorded, claimed))
                await asyncio.sleep(0.005)
                return await exchange(*args, **kwargs)

            setattr(h.store, "exchange_outbox", on_a_slow_disk)  # noqa: B010 - a method of this one store
            assert await sender.deliver_all() == 60
            await channel.close()
            assert {r[1] for r in await outbox_rows(h)} == {SENT}
    assert len(server.handler.received) == 60
    assert max(unrecorded for unrecorded, _ in seen) <= 3, seen
    assert max(claimed for _, claimed in seen) <= 3 * 3, "in flight, and one or two waiting per connection"
    assert len(seen) < 60, "rounds write the outcomes of several connections at once"


async def test_the_server_accepts_nothing_before_the_last_outcome_is_recorded() -> None:
    """The envelope and the data go while the sender records the mail before; the dot
    that ends the data (where the server accepts) waits for that record."""
    from scn.interpreter.store import OutboxRow

    with SmtpServer() as server:
        channel = SmtpChannel(SmtpConfig.from_url(server.url))
        recorded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        row = OutboxRow(
            id=1, run_id=1, step="s1", scenario="x", contact_id="c", channel="email", template="t",
            recipient="c@example.com", message='{"subject": "Hi", "plain": ".\\n..\\nend"}', coupon_code=None,
            variant=None, status="pending", attempts=1, next_attempt_at=0, created_at=0,
        )  # fmt: skip

        asked: list[bool] = []

        def ready() -> asyncio.Future[None]:
            asked.append(True)
            return recorded

        sending = asyncio.ensure_future(channel.send_after(row, ready))
        await asyncio.sleep(0.3)
        assert asked == [True], "asked as soon as the envelope was taken"
        assert not sending.done() and server.handler.received == []
        recorded.set_result(None)
        assert (await sending).status == "sent"
        await channel.close()
    ((_, mail),) = server.handler.received
    body = mail.get_body(("plain",))
    assert body is not None and body.get_content() == ".\n..\nend", "lines that start with a dot arrive whole"


CLAIMER = """
import asyncio, sys
from scn.interpreter.store import Claim, SqliteStore

async def main() -> None:
    store = SqliteStore(sys.argv[1])
    await store.open()
    now = int(sys.argv[2])
    rows = await store.exchange_outbox([], [], [Claim(limit=5, channel="email")], now=now, lease_ms=300_000,
                                       owner=store.new_sender())
    print(len(rows[0]), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_a_dead_senders_claims_are_taken_back_at_once_and_a_live_ones_never(tmp_path: Path) -> None:
    """Another process claims 5 of 8 mails. While it lives, they stay its own; once it
    is killed, the running sender takes them back within seconds (not the 5 minutes of
    their lease) and sends them."""
    db = tmp_path / "scn.db"
    with SmtpServer() as server:
        async with Harness(WORKSPACE, path=db, resources=RESOURCES) as h:
            await h.play([registered(h, f"c{i}") for i in range(8)])
            now = int(time.time() * 1000)
            claimer = subprocess.Popen([sys.executable, "-c", CLAIMER, str(db), str(now)], stdout=subprocess.PIPE)
            try:
                assert claimer.stdout is not None and claimer.stdout.readline().strip() == b"5"
                channel = SmtpChannel(SmtpConfig.from_url(server.url))
                sender = Sender(h.store, WallClock(), {"email": channel}, policy=POLICY)
                stop = asyncio.Event()
                loop = asyncio.ensure_future(sender.run_forever(stop))
                await asyncio.sleep(1.5)  # the sender looks again after a second: still alive
                assert len(server.handler.received) == 3
                senders = tmp_path / "scn.db-senders"
                assert len(list(senders.iterdir())) == 2, "the claimer and this sender"
                claimer.kill()
                claimer.wait(10)
                killed = time.monotonic()
                while len(server.handler.received) < 8:
                    assert time.monotonic() - killed < 5, "the dead sender's claims were not taken back"
                    await asyncio.sleep(0.05)
                stop.set()
                await loop
                await sender.close()
                assert [p.name.split("-")[0] for p in senders.iterdir()] == [str(os.getpid())]
            finally:
                claimer.kill()
                claimer.wait(10)
            assert {r[1] for r in await outbox_rows(h)} == {SENT}
    assert sorted(to for recipients, _ in server.handler.received for to in recipients) == sorted(
        f"c{i}@example.com" for i in range(8)
    )
    assert not (tmp_path / "scn.db-senders").exists() or not list((tmp_path / "scn.db-senders").iterdir())


async def test_a_sender_that_stops_gives_back_what_it_claimed(tmp_path: Path) -> None:
    from scn.interpreter.store import Claim

    async with Harness(WORKSPACE, path=tmp_path / "scn.db", resources=RESOURCES) as h:
        await h.play([registered(h, f"c{i}") for i in range(4)])
        now = int(h.clock.now().timestamp() * 1000)
        owner = h.store.new_sender()
        (claimed,) = await h.store.exchange_outbox([], [], [Claim(limit=3, channel="email")], now=now,
                                                   lease_ms=300_000, owner=owner)  # fmt: skip
        assert len(claimed) == 3
        again = await h.store.exchange_outbox([], [], [Claim(limit=9, channel="email")], now=now, lease_ms=300_000,
                                              owner=owner)  # fmt: skip
        assert len(again[0]) == 1, "never what the same sender holds"
        await h.store.release_outbox(now, owner)
        rows = await h.rows("SELECT attempts, next_attempt_at, claimed_by FROM outbox ORDER BY id")
    assert rows == [(0, now, None)] * 4, "due at once, the attempts that never were not counted"


async def test_a_pass_that_cannot_record_gives_back_what_it_claimed() -> None:
    """The process lives on after a failed pass (the store refused a write): nobody would
    see it die, so what it claimed goes back at once for the next pass."""
    with SmtpServer() as server:
        async with Harness(WORKSPACE, resources=RESOURCES) as h:
            await h.play([registered(h, f"c{i}") for i in range(6)])
            sender, channel = sender_for(h, server.url, connections=2)
            exchange = h.store.exchange_outbox
            calls = 0

            async def failing_once(*args: Any, **kwargs: Any) -> list[Claimed]:
                nonlocal calls
                calls += 1
                if calls == 2:
                    raise sqlite3.OperationalError("disk I/O error")
                return await exchange(*args, **kwargs)

            setattr(h.store, "exchange_outbox", failing_once)  # noqa: B010 - a method of this one store
            with pytest.raises(sqlite3.OperationalError):
                await sender.deliver_all()
            held = await h.rows("SELECT count(*) FROM outbox WHERE claimed_by IS NOT NULL")
            assert held == [(0,)]
            assert await sender.deliver_all() == 6
            await channel.close()
            assert {r[1] for r in await outbox_rows(h)} == {SENT}
    # The failed round's outcomes were never written: those mails went twice.
    assert len({m["Message-ID"] for _, m in server.handler.received}) == 6


#: Internationalised addresses: a Cyrillic local part and domain, full-width letters and
#: dots (the domain maps to ASCII, the local part stays as written), an ASCII local part
#: at a Cyrillic domain.
VASYA, WIDE, USER = "Вася@пример.рф", "ｖａｓｙａ@ｅｘａｍｐｌｅ．ｃｏｍ", "user@пример.рф"


async def test_internationalised_addresses_go_where_the_server_offers_smtputf8(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with SmtpServer(enable_SMTPUTF8=True) as server:
        async with Harness(WORKSPACE, resources=RESOURCES) as h:
            await h.play([registered(h, "vasya", "ru", "Вася", email=VASYA), registered(h, "wide", email=WIDE),
                          registered(h, "user", email=USER)])  # fmt: skip
            sender, channel = sender_for(h, server.url)
            assert await sender.deliver_due() == 3
            await channel.close()
            assert [r[1:] for r in await outbox_rows(h)] == [(SENT, 1, None)] * 3
    handler = server.handler
    envelopes = [(rcpts, [o for o in options if not o.startswith("SIZE=")])
                 for (rcpts, _), options in zip(handler.received, handler.mail_options, strict=True)]  # fmt: skip
    # Lanes send side by side, so the mails arrive in any order.
    assert sorted(envelopes) == [
        (["user@xn--e1afmkfd.xn--p1ai"], []),  # an ASCII local part needs no SMTPUTF8: its domain in A-labels
        (["Вася@xn--e1afmkfd.xn--p1ai"], ["SMTPUTF8", "BODY=8BITMIME"]),
        (["ｖａｓｙａ@example.com"], ["SMTPUTF8", "BODY=8BITMIME"]),
    ]
    mails = {str(m["To"]): m for _, m in server.handler.received}
    assert sorted(mails) == sorted(["Вася@пример.рф", "ｖａｓｙａ@example.com", "user@xn--e1afmkfd.xn--p1ai"])
    assert mails["Вася@пример.рф"]["Subject"] == "Добро пожаловать, Вася!"
    assert not [r for r in caplog.records if r.name.startswith("scn") and r.levelno >= logging.WARNING]


async def test_without_smtputf8_an_internationalised_local_part_fails_once_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server without SMTPUTF8 cannot take `Вася@…`: the message fails at once (not
    tried again for a day with a traceback each time); `user@пример.рф` goes in A-labels."""
    with SmtpServer(enable_SMTPUTF8=False) as server:
        async with Harness(WORKSPACE, resources=RESOURCES) as h:
            await h.play([registered(h, "vasya", email=VASYA), registered(h, "wide", email=WIDE),
                          registered(h, "user", email=USER)])  # fmt: skip
            sender, channel = sender_for(h, server.url)
            await sender.deliver_due()
            h.clock.advance_to(h.clock.now() + dt.timedelta(hours=1))
            assert await sender.deliver_due() == 0, "not tried again"
            await channel.close()
            rows = await h.rows("SELECT recipient, status, attempts, failure, error FROM outbox ORDER BY id")
            bounces = await h.rows("SELECT 1 FROM events WHERE type = 'message.bounced'")
    why = "the mail server does not take internationalised addresses (it does not offer SMTPUTF8), and"
    assert rows == [
        (VASYA, UNDELIVERED, 1, "address", f'{why} "{VASYA}" is one: it cannot reach this contact'),
        (WIDE, UNDELIVERED, 1, "address", f'{why} "{WIDE}" is one: it cannot reach this contact'),
        (USER, SENT, 1, None, None),
    ]
    assert bounces == [], "the address may be fine: another server could take it"
    ((recipients, mail),) = server.handler.received
    assert recipients == ["user@xn--e1afmkfd.xn--p1ai"] and mail["To"] == "user@xn--e1afmkfd.xn--p1ai"
    assert [o for o in server.handler.mail_options[0] if not o.startswith("SIZE=")] == []
    assert not [r for r in caplog.records if r.name.startswith("scn") and (r.exc_info or r.levelno >= logging.ERROR)]


async def test_an_internationalised_sender_address_is_the_operators_to_fix_without_smtputf8() -> None:
    shop = WORKSPACE.replace('from "Магазин Демо" <shop@demo.example>', 'from "Магазин" <магазин@пример.рф>')
    with SmtpServer(enable_SMTPUTF8=False) as plain, SmtpServer(enable_SMTPUTF8=True) as utf8:
        async with Harness(shop, resources=RESOURCES) as h:
            await h.play([registered(h, "ann")])
            sender, channel = sender_for(h, plain.url)
            await sender.deliver_due()
            await channel.close()
            ((status, failure, error),) = await h.rows("SELECT status, failure, error FROM outbox")
            assert (status, failure) == (UNDELIVERED, "configuration")
            assert error.endswith("and the From address is one: use an ASCII address there, or a server that "
                                  "offers SMTPUTF8")  # fmt: skip
            await h.play([h.event("contact.registered", "bob")])
            sender, channel = sender_for(h, utf8.url)
            await sender.deliver_due()
            await channel.close()
    ((_, mail),) = utf8.handler.received
    assert str(mail["From"]) == "Магазин <магазин@пример.рф>"
    assert re.fullmatch(r"<scn\.\d+\.\d+@xn--e1afmkfd\.xn--p1ai>", mail["Message-ID"])


async def test_line_breaks_from_contact_data_never_reach_a_header() -> None:
    """A subject is one line: a line break in the data becomes a space, and the mail goes."""
    async with Harness(WORKSPACE, resources=RESOURCES) as h:
        with pytest.raises(msgspec.ValidationError, match="first_name"):
            registered(h, "eve", name="Eve\r\nBcc: victim@example.com")  # the door refuses it
        # Data that got into the store another way is kept to one line all the same.
        fields = {"first_name": "Eve\r\nBcc: victim@example.com\u2028X", "email": "eve@example.com"}
        await h.store.commit(Changes(contacts=[ContactUpdate(id="eve", at=0, fields=fields)]))
        await h.play([h.event("contact.registered", "eve", person={"language": "en"})])
        ((message,),) = await h.rows("SELECT message FROM outbox WHERE status = 'pending'")
        assert json.loads(message)["subject"] == "Welcome, Eve Bcc: victim@example.com X!"


def _row(recipient: str, message: dict[str, str], id: int = 1) -> OutboxRow:
    return OutboxRow(
        id=id, run_id=1, step="s1", scenario="x", contact_id="c", channel="email", template="t",
        recipient=recipient, message=json.dumps(message), coupon_code=None, variant=None, status="pending",
        attempts=1, next_attempt_at=0, created_at=0,
    )  # fmt: skip


#: Addresses that would add a command, a recipient or an ESMTP parameter to MAIL or RCPT
#: were they written into the command as they are.
HOSTILE = [
    "ann@example.com>\r\nRCPT TO:<evil@attacker.example",
    "ann@example.com\r\nRCPT TO:<evil@attacker.example>",
    "ann@example.com\nRCPT TO:<evil@attacker.example>",
    "ann@example.com\rRCPT TO:<evil@attacker.example>",
    "ann@example.com> NOTIFY=SUCCESS ORCPT=rfc822;evil@attacker.example",
    "ann@example.com NOTIFY=SUCCESS",
    "ann@example.com\x00",
    "ann@example.com\u2028RCPT TO:<evil@attacker.example>",
    '"ann\r\nRCPT TO:<evil@attacker.example>"@example.com',
    "Evil <evil@attacker.example>, ann@example.com",
]


async def test_a_hostile_address_cannot_add_an_smtp_command_or_parameter() -> None:
    """Neither a contact's address (RCPT) nor a template's sender address (MAIL) can put a
    line break, a second address or a parameter into the envelope: each such message fails
    without sending, and the connection's next message goes to its one recipient alone."""
    with SmtpServer() as server:
        channel = SmtpChannel(SmtpConfig.from_url(server.url, connections=1), MailDefaults())
        outcomes = [await channel.send(_row(address, {"subject": "Hi", "plain": "x"})) for address in HOSTILE]
        outcomes += [
            await channel.send(_row("ann@example.com", {"subject": "Hi", "plain": "x", "from_address": address}))
            for address in HOSTILE
        ]
        assert [o.status for o in outcomes] == ["failed"] * len(outcomes), outcomes
        assert await channel.send(_row("bob@example.com", {"subject": "Hi", "plain": "x"}, id=2)) == sent()
        await channel.close()
    assert [rcpts for rcpts, _ in server.handler.received] == [["bob@example.com"]]
    assert [[o.partition("=")[0] for o in options] for options in server.handler.mail_options] == [["SIZE"]]
    assert channel.opened == 1, "no refusal broke the session"


def test_unsafe_sender_header_is_refused_when_building() -> None:
    from scn.interpreter.store import OutboxRow

    row = OutboxRow(
        id=1, run_id=1, step="s1", scenario="x", contact_id="c", channel="email", template="t",
        recipient="c@example.com", message='{"from_name": "Shop\\nBcc: x@example.com", "subject": "Hi"}',
        coupon_code=None, variant=None, status="pending", attempts=1, next_attempt_at=0, created_at=0,
    )  # fmt: skip
    with pytest.raises(HeaderError, match="line break"):
        build_email(row, MailDefaults(), dt.datetime.now(dt.UTC))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", ("mail.example.com", 25, "auto", None)),
        ("smtp://u%40x:p%3Ass@mail.example.com:587?starttls=require", ("mail.example.com", 587, "starttls", "u@x")),
        ("smtps://mail.example.com", ("mail.example.com", 465, "tls", None)),
    ],
)
def test_smtp_urls(url: str, expected: tuple[object, ...]) -> None:
    config = SmtpConfig.from_url(url)
    assert (config.host, config.port, config.security, config.username) == expected


def test_bad_smtp_url_says_what_to_write() -> None:
    with pytest.raises(ValueError, match="smtp:// or smtps://"):
        SmtpConfig.from_url("http://mail.example.com")


def test_scn_run_delivers_mail_to_a_real_smtp_server(tmp_path: Path) -> None:
    """The whole path in a real process: stdin event -> run -> outbox -> SMTP -> parsed mail."""
    workspace = tmp_path / "w"
    workspace.mkdir()
    (workspace / "welcome.scn").write_text(WORKSPACE, encoding="utf-8")
    for name, text in RESOURCES.items():
        (workspace / name).write_text(text, encoding="utf-8")
    person = {"id": "olga", "email": "olga@example.com", "language": "ru", "first_name": "Ольга"}
    event = {"type": "contact.registered", "key": "r1", "contact": person}
    with SmtpServer() as server:
        process = subprocess.Popen(
            [sys.executable, "-m", "scn", "worker", str(workspace), "--db", str(tmp_path / "scn.db"), "--events", "-"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "SCN_SMTP_URL": server.url, "SCN_SECRET": "e2e"},
        )  # fmt: skip
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write((json.dumps(event, ensure_ascii=False) + "\n").encode())
            process.stdin.flush()
            assert json.loads(process.stdout.readline())["key"] == "r1"
            deadline = time.monotonic() + 20
            while not server.handler.received and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            process.send_signal(signal.SIGTERM)
            _, errors = process.communicate(timeout=20)
        assert process.returncode == 0, errors.decode()
    ((recipients, mail),) = server.handler.received
    assert recipients == ["olga@example.com"] and mail["Subject"] == "Добро пожаловать, Ольга!"
    with sqlite3.connect(tmp_path / "scn.db") as conn:
        assert conn.execute("SELECT status, attempts FROM outbox").fetchall() == [("sent", 1)]


def test_long_subjects_and_names_fold_and_decode_back() -> None:
    import email
    import email.policy

    from scn.interpreter.store import OutboxRow

    subject = "Zażółć gęślą jaźń — " * 12 + "Ūdens ķirsis ņemt; Добрий день!"
    content = {"subject": subject, "from_name": "Sklep „Łódź” " * 5, "from_address": "sklep@example.pl",
               "plain": "Dzień dobry\n" * 3, "html": "<p>Dzień dobry</p>"}  # fmt: skip
    row = OutboxRow(
        id=9, run_id=1, step="s1", scenario="post_purchase", contact_id="c", channel="email", template="t",
        recipient="jan@example.pl", message=json.dumps(content), coupon_code=None, variant=None, status="pending",
        attempts=1, next_attempt_at=0, created_at=0,
    )  # fmt: skip
    mime = build_email(row, MailDefaults(), dt.datetime(2025, 3, 1, tzinfo=dt.UTC))
    head = mime.data.split(b"\r\n\r\n")[0]
    assert head.isascii() and all(len(line) <= 998 for line in head.split(b"\r\n"))
    assert b"\n" not in mime.data.replace(b"\r\n", b""), "every line ends with CRLF"
    parsed = email.message_from_bytes(mime.data, policy=email.policy.default)
    assert parsed["Subject"] == subject
    assert parsed["From"].addresses[0].display_name == "Sklep „Łódź” " * 5
    body = parsed.get_body(("plain",))
    assert body is not None and body.get_content() == "Dzień dobry\n" * 3
    assert mime.sender == "sklep@example.pl"


@pytest.mark.parametrize(
    "now",
    [
        dt.datetime(2025, 3, 1, 23, 59, 59, 999_999, tzinfo=dt.UTC),
        dt.datetime(2025, 3, 2, tzinfo=dt.UTC),
        dt.datetime(2025, 3, 2, 1, 59, 59, 999_999, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        dt.datetime(2025, 3, 2, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    ],  # fmt: skip
)
def test_the_date_header_is_the_moment_of_building_in_its_own_offset(now: dt.datetime) -> None:
    """Formatted once per second and kept: each moment still gets its own second and
    offset, the last microsecond of a second included, and the same instant in another
    offset (equal datetimes) is written in its own."""
    from email.utils import format_datetime

    from scn.interpreter.store import OutboxRow

    row = OutboxRow(
        id=1, run_id=1, step="s1", scenario="s", contact_id="c", channel="email", template="t",
        recipient="jan@example.pl", message=json.dumps({"subject": "x", "plain": "x"}), coupon_code=None,
        variant=None, status="pending", attempts=1, next_attempt_at=0, created_at=0,
    )  # fmt: skip
    other = now.astimezone(dt.timezone(dt.timedelta(hours=3)))
    for moment in (now, now + dt.timedelta(microseconds=1), other, now):
        head = build_email(row, MailDefaults(), moment).data.split(b"\r\n\r\n")[0].decode()
        assert f"\r\nDate: {format_datetime(moment)}\r\n" in head


# Any text but line breaks (which header_value refuses): Cyrillic, Latvian, Polish, emoji...
SUBJECTS = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=300)


@settings(max_examples=300, deadline=None)
@given(subject=SUBJECTS)
def test_any_subject_folds_within_the_limits_and_decodes_back(subject: str) -> None:
    import email
    import email.policy

    from scn.interpreter.store import OutboxRow

    content = {"subject": subject, "from_name": "Магазин", "from_address": "shop@example.com", "plain": "x"}
    row = OutboxRow(
        id=1, run_id=1, step="s1", scenario="s", contact_id="c", channel="email", template="t",
        recipient="jan@example.pl", message=json.dumps(content), coupon_code=None, variant=None, status="pending",
        attempts=1, next_attempt_at=0, created_at=0,
    )  # fmt: skip
    head = build_email(row, MailDefaults(), dt.datetime(2025, 3, 1, tzinfo=dt.UTC)).data.split(b"\r\n\r\n")[0]
    assert head.isascii()
    lines = head.split(b"\r\n")
    assert all(len(line) <= 998 for line in lines)
    start = next(i for i, line in enumerate(lines) if line.startswith(b"Subject: "))
    end = next(i for i in range(start + 1, len(lines) + 1) if i == len(lines) or not lines[i].startswith(b" "))
    for line in lines[start:end]:
        assert len(line) <= 78, line
        assert all(len(word) <= 75 for word in re.findall(rb"=\?utf-8\?b\?[^?]*\?=", line)), line
    parsed = email.message_from_bytes(head + b"\r\n\r\nx", policy=email.policy.default)
    assert str(parsed["Subject"]) == subject.strip()
    assert parsed["From"].addresses[0].display_name == "Магазин"


async def test_starttls_and_login_are_used_and_a_refused_login_keeps_the_mail(tmp_path: Path) -> None:
    import ssl

    import trustme
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    logins: list[tuple[str, bool]] = []

    def authenticator(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
        def raw(value: bytes | str) -> bytes:
            return value if isinstance(value, bytes) else value.encode()

        ok = isinstance(data, LoginPassword) and (raw(data.login), raw(data.password)) == (b"shop", b"s3cret")
        logins.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself

    with SmtpServer(
        tls_context=context, require_starttls=True, auth_required=True, authenticator=authenticator
    ) as server:
        async with Harness(WORKSPACE, resources=RESOURCES) as h:
            await h.play([registered(h, "ann")])
            base = f"smtp://{{}}@127.0.0.1:{server.port}?starttls=require&cafile={cafile}&timeout=5"
            wrong = SmtpChannel(SmtpConfig.from_url(base.format("shop:nope")))
            await Sender(h.store, h.clock, {"email": wrong}, policy=POLICY).deliver_due()
            await wrong.close()
            row = (await outbox_rows(h))[0]
            assert row[1] == PENDING and "sender or login" in (row[3] or ""), "a bad login is ours to fix: kept"
            right = SmtpChannel(SmtpConfig.from_url(base.format("shop:s3cret")))
            h.clock.advance_to(h.clock.now() + dt.timedelta(minutes=1))
            await Sender(h.store, h.clock, {"email": right}, policy=POLICY).deliver_due()
            await right.close()
            assert (await outbox_rows(h))[0][1] == SENT
    outcomes = [ok for _, ok in logins]
    assert outcomes[-1] and not any(outcomes[:-1]), logins  # aiosmtplib tries each mechanism before giving up
    assert len(server.handler.to("ann@example.com")) == 1


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(st.text(max_size=400) | st.sampled_from(["", "a", "ab", "abc", "x" * 57, "x" * 58, "Ц" * 200]))
def test_a_part_and_the_unsubscribe_mailto_are_written_as_the_standard_library_writes_them(text: str) -> None:
    """The base64 of a part cut into lines of 76 (the empty text: no line), and the
    mailto's query, byte for byte as `base64.encodebytes` and `urlencode` give them."""
    import base64

    from scn.stdlib.delivery.email import _part

    body = _part("plain", text).partition(b"\r\n\r\n")[2]
    assert body == base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")
    url = "https://shop.example/unsubscribe/" + urllib.parse.quote(text, safe="/")
    mail = build_email(_row("ann@example.com", {"subject": "Hi", "plain": "x", "unsubscribe_url": url}),
                       MailDefaults(from_address="shop@example.com"), dt.datetime.now(dt.UTC))  # fmt: skip
    query = urllib.parse.urlencode({"subject": "unsubscribe", "body": url}, quote_via=urllib.parse.quote)
    assert f"<mailto:unsubscribe@example.com?{query}>".encode() in mail.data
