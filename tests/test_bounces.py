"""Our own SMTP sender's refusals as bounces, with a real aiosmtpd: a 5xx about the
recipient's mailbox suppresses the address at once (reason hard_bounce, source smtp) and
raises `message.bounced` as a provider's webhook does; 4xx replies are tried again and
count as a soft bounce only once the message is given up; a refusal about our login,
relaying or sender address never suppresses the recipient."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult

from scn.interpreter.store import PENDING, SENT, UNDELIVERED
from scn.stdlib.delivery import Sender
from scn.stdlib.delivery.config import DeliveryConfig, EmailSettings, FeedbackSettings, RetrySettings, build_sender
from scn.stdlib.delivery.email import reply_kind

from .harness import Harness
from .smtp_server import SmtpServer

WORKSPACE = """
template hello email
  subject "Привіт, {{ contact.first_name }}"
  html "hello.html"
end

scenario hello "Hello"
  on contact.registered
  on contact.active
  send email hello
end

list bounced "Bounced hard"

scenario bounces "Bounces"
  on message.bounced where event.kind == "hard" and event.provider == "smtp"
  add to list bounced
end
"""
RESOURCES = {"hello.html": "<p>Вітаємо, {{ contact.first_name }}</p>"}


@pytest.mark.parametrize(
    ("code", "text", "at_recipient", "kind"),
    [
        (550, "5.1.1 <gone@example.com>: Recipient address rejected: User unknown", True, "mailbox"),
        (550, "5.1.1 User unknown in relay recipient table", True, "mailbox"),  # "relay" in it, about the user
        (553, "5.1.3 Bad recipient address syntax", True, "mailbox"),
        (550, "5.1.10 Recipient address has null MX", True, "mailbox"),
        (550, "5.2.1 Mailbox disabled", True, "mailbox"),
        (550, "No such user here", True, "mailbox"),  # no enhanced code: 550 to RCPT is the mailbox
        (551, "User not local", True, "mailbox"),
        (550, "5.1.1 No such user", False, "mailbox"),  # after DATA: one recipient a message
        (550, "Message refused", False, "message"),  # after DATA without a code: the content
        (552, "5.2.2 Mailbox full", True, "message"),
        (554, "5.7.1 Message rejected as spam", False, "message"),
        (550, "5.7.1 Client host blocked using zen.spamhaus.org", True, "message"),
        (530, "5.7.0 Authentication required", True, "configuration"),
        (530, "Authentication required", False, "configuration"),
        (535, "5.7.8 Authentication credentials invalid", True, "configuration"),
        (554, "5.7.1 <x@example.com>: Relay access denied", True, "configuration"),
        (550, "Relaying denied", True, "configuration"),
        (553, "5.1.8 <shop@demo.example>: Sender address rejected: Domain not found", True, "configuration"),
        (450, "4.1.1 Mailbox temporarily unavailable", True, "mailbox"),
        (450, "Mailbox busy", True, "mailbox"),
        (451, "4.7.1 Greylisted, try again later", True, "message"),
        (452, "4.2.2 Mailbox full", True, "message"),
    ],
)
def test_what_a_refusal_is_about(code: int, text: str, at_recipient: bool, kind: str) -> None:
    assert reply_kind(code, text, at_recipient=at_recipient) == kind


def _config(url: str, threshold: int = 3) -> DeliveryConfig:
    return DeliveryConfig(
        email=EmailSettings(url=url),
        retry=RetrySettings(first_delay="1m", max_delay="1m", max_age="150s"),
        feedback=FeedbackSettings(soft_bounce_threshold=threshold),
    )


def _sender(h: Harness, url: str, threshold: int = 3) -> Sender:
    return build_sender(h.store, h.clock, _config(url, threshold), "secret")


def registered(h: Harness, contact: str, email: str | None = None) -> Any:
    person = {"email": email or f"{contact}@example.com", "first_name": "Ярина"}
    return h.event("contact.registered", contact, person=person)


async def outbox(h: Harness) -> dict[str, tuple[str, str | None, str | None]]:
    """(status, failure, error) of each contact's last message."""
    rows = await h.rows("SELECT contact_id, status, failure, error FROM outbox ORDER BY id")
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


async def suppressed(h: Harness) -> dict[str, tuple[str, str, str | None]]:
    rows = await h.rows("SELECT address, reason, source, detail FROM suppressions ORDER BY address")
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


async def bounce_events(h: Harness) -> list[tuple[str, dict[str, Any]]]:
    rows = await h.rows("SELECT contact_id, payload FROM events WHERE type = 'message.bounced' ORDER BY id")
    return [(r[0], json.loads(r[1])["data"]) for r in rows]


async def deliver(h: Harness, sender: Sender) -> None:
    await sender.deliver_due()
    await h.play([])  # the bounce events reach the scenarios


async def test_a_5xx_about_the_mailbox_suppresses_the_address_and_the_next_send_is_held() -> None:
    with SmtpServer() as server:
        server.handler.rcpt_replies["gone@example.com"] = ["550 5.1.1 <gone@example.com>: No such user here"]
        async with Harness(WORKSPACE, resources=RESOURCES) as h:
            await h.play([registered(h, "gone"), registered(h, "fine")])
            sender = _sender(h, server.url)
            await deliver(h, sender)
            sent = await outbox(h)
            assert sent["fine"][0] == SENT, "another recipient is not affected"
            assert sent["gone"] == (UNDELIVERED, "address", "the mail server refused the address: "
                                    "550 5.1.1 <gone@example.com>: No such user here")  # fmt: skip
            assert await suppressed(h) == {"gone@example.com": ("hard_bounce", "smtp", sent["gone"][2])}
            ((contact, data),) = await bounce_events(h)
            assert contact == "gone" and (data["kind"], data["provider"], data["channel"]) == ("hard", "smtp", "email")
            assert "550 5.1.1" in data["reason"]
            assert await h.rows("SELECT contact_id FROM list_members WHERE list = 'bounced'") == [("gone",)]

            # Another contact with the same address: held by the list, with why; nothing is sent to it.
            await h.play([registered(h, "twin", "Gone@Example.com"), h.event("contact.active", "fine")])
            await deliver(h, sender)
            await sender.close()
            status, failure, error = (await outbox(h))["twin"]
            assert (status, failure) == (UNDELIVERED, "suppressed")
            assert error is not None and "on the email suppression list" in error and "hard bounce from smtp" in error
            assert len(await bounce_events(h)) == 1, "a suppressed address is not a new bounce"
    assert server.handler.to("gone@example.com") == [] and server.handler.to("Gone@Example.com") == []
    assert len(server.handler.to("fine@example.com")) == 2


async def test_a_5xx_after_data_about_the_mailbox_is_a_hard_bounce_and_mailbox_full_is_not() -> None:
    with SmtpServer() as server:
        server.handler.data_replies["gone@example.com"] = ["550 5.1.1 No such user"]
        server.handler.data_replies["full@example.com"] = ["552 5.2.2 Mailbox full"]
        async with Harness(WORKSPACE, resources=RESOURCES) as h:
            await h.play([registered(h, "gone"), registered(h, "full")])
            sender = _sender(h, server.url)
            await deliver(h, sender)
            await sender.close()
            sent = await outbox(h)
            assert sent["full"][:2] == (UNDELIVERED, "refused")
            assert list(await suppressed(h)) == ["gone@example.com"]
            assert [c for c, _ in await bounce_events(h)] == ["gone"]


async def test_a_refusal_about_our_relaying_is_not_the_recipients_fault() -> None:
    """Every recipient refused at RCPT with "relay access denied": our settings, kept for later."""
    with SmtpServer() as server:
        for contact in ("ann", "bob"):
            server.handler.rcpt_replies[f"{contact}@example.com"] = [f"554 5.7.1 <{contact}@example.com>: Relay "
                                                                     "access denied"]  # fmt: skip
        async with Harness(WORKSPACE, resources=RESOURCES) as h:
            await h.play([registered(h, "ann"), registered(h, "bob")])
            sender = _sender(h, server.url)
            await deliver(h, sender)
            sent = await outbox(h)
            assert {c: s[0] for c, s in sent.items()} == {"ann": PENDING, "bob": PENDING}
            assert "check the SMTP settings" in (sent["ann"][2] or "") and "Relay access denied" in (
                sent["ann"][2] or ""
            )
            assert await suppressed(h) == {} and await bounce_events(h) == []
            # Fixed (the server relays now): what waited goes.
            h.clock.advance_to(h.clock.now() + dt.timedelta(minutes=1))
            await deliver(h, sender)
            await sender.close()
            assert {c: s[0] for c, s in (await outbox(h)).items()} == {"ann": SENT, "bob": SENT}


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_authentication_required_on_mail_from_suppresses_nobody() -> None:
    def authenticator(*_: object) -> AuthResult:
        return AuthResult(success=False, handled=False)

    with SmtpServer(auth_required=True, auth_require_tls=False, authenticator=authenticator) as server:
        async with Harness(WORKSPACE, resources=RESOURCES) as h:
            await h.play([registered(h, "ann"), registered(h, "bob")])
            sender = _sender(h, server.url)
            for _ in range(3):  # until it is given up: still nobody's bounce
                await deliver(h, sender)
                h.clock.advance_to(h.clock.now() + dt.timedelta(minutes=1))
            await sender.close()
            sent = await outbox(h)
            assert {s[1] for s in sent.values()} == {"gave_up"}
            assert "530 5.7.0 Authentication required" in (sent["ann"][2] or "")
            assert await suppressed(h) == {} and await bounce_events(h) == []
            assert await h.rows("SELECT * FROM soft_bounces") == []
    assert server.handler.received == []


async def test_4xx_about_the_mailbox_is_retried_and_counts_as_a_soft_bounce_once_given_up() -> None:
    with SmtpServer() as server:
        server.handler.rcpt_replies["busy@example.com"] = ["450 4.2.1 Mailbox busy"] * 6
        server.handler.rcpt_replies["grey@example.com"] = ["451 4.7.1 Greylisted, try again later"] * 6
        async with Harness(WORKSPACE, resources=RESOURCES) as h:
            await h.play([registered(h, "busy"), registered(h, "grey")])
            sender = _sender(h, server.url, threshold=2)
            await deliver(h, sender)
            first = await outbox(h)
            assert first["busy"][0] == PENDING and "450 4.2.1 Mailbox busy" in (first["busy"][2] or "")
            assert await suppressed(h) == {} and await h.rows("SELECT * FROM soft_bounces") == [], "4xx: not yet"
            for _ in range(2):
                h.clock.advance_to(h.clock.now() + dt.timedelta(minutes=1))
                await deliver(h, sender)
            given_up = await outbox(h)
            assert given_up["busy"][:2] == (UNDELIVERED, "gave_up") and given_up["grey"][:2] == (UNDELIVERED, "gave_up")
            counted = await h.rows("SELECT address, bounces FROM soft_bounces")
            assert counted == [("busy@example.com", 1)], "greylisting is not about the mailbox"
            assert await suppressed(h) == {}, "one soft bounce is below the threshold of 2"

            # A second message given up the same way reaches the threshold.
            await h.play([h.event("contact.active", "busy")])
            for _ in range(3):
                await deliver(h, sender)
                h.clock.advance_to(h.clock.now() + dt.timedelta(minutes=1))
            await sender.close()
            reason, source, detail = (await suppressed(h))["busy@example.com"]
            assert (reason, source) == ("soft_bounce", "smtp")
            assert detail is not None and detail.startswith("2 soft bounces, the last: ") and "450 4.2.1" in detail
            ((contact, data),) = await bounce_events(h)
            assert contact == "busy" and data["kind"] == "soft" and data["provider"] == "smtp"
