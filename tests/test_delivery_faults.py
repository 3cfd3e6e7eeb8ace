"""Mail servers and providers that misbehave: what is retried, what is reported, and that
no message is lost to a fault that is not the message's.

The SMTP server here is a real socket server that answers as scripted (aiosmtpd cannot
be made to answer garbage, turn a client away at the greeting, or refuse EHLO and HELO
alike); tests/smtp_server.py's aiosmtpd covers the well-behaved refusals."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from scn.interpreter.clock import ms_of
from scn.interpreter.store import PENDING, SENT
from scn.stdlib.delivery import Sender
from scn.stdlib.delivery.email import OUR_SETTINGS, MailDefaults, SmtpChannel, SmtpConfig
from scn.stdlib.delivery.http import HttpChannel, HttpProviderConfig, WebhookChannel

from .harness import Harness
from .http_stub import HttpStub
from .test_email import POLICY, RESOURCES, WORKSPACE, outbox_rows, registered
from .test_providers import SMS, person


class ScriptedSmtp:
    """Answers like an SMTP server, except at the stages ``replies`` names: `greeting`,
    `EHLO`, `HELO`, `MAIL`, `RCPT`, `DATA` (the reply to the data's end), each with the
    bytes to answer instead (the connection stays open)."""

    def __init__(self, replies: dict[str, bytes]) -> None:
        self.replies = replies
        self.accepted = 0

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(stage: str, normal: bytes) -> None:
            writer.write(self.replies.get(stage, normal))

        try:
            say("greeting", b"220 scripted ESMTP\r\n")
            while line := await reader.readline():
                verb = line[:4].upper().decode("ascii", "replace")
                if verb == "EHLO":
                    say("EHLO", b"250-scripted\r\n250 8BITMIME\r\n")
                elif verb == "HELO":
                    say("HELO", b"250 scripted\r\n")
                elif verb in ("MAIL", "RCPT"):
                    say(verb, b"250 OK\r\n")
                elif verb == "DATA":
                    writer.write(b"354 go on\r\n")
                    await writer.drain()
                    while await reader.readline() not in (b".\r\n", b""):
                        pass
                    say("DATA", b"250 queued\r\n")
                    self.accepted += "DATA" not in self.replies
                elif verb == "QUIT":
                    writer.write(b"221 bye\r\n")
                    break
                else:
                    writer.write(b"250 OK\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):  # the client went, or the test ended
            pass
        finally:
            writer.close()


@asynccontextmanager
async def scripted(replies: dict[str, bytes]) -> AsyncIterator[tuple[ScriptedSmtp, str]]:
    smtp = ScriptedSmtp(replies)
    server = await asyncio.start_server(smtp.session, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield smtp, f"smtp://127.0.0.1:{port}?timeout=5"
    finally:
        server.close()
        await server.wait_closed()


async def _one_attempt(replies: dict[str, bytes]) -> tuple[str, int, str | None]:
    """One mail, one delivery pass through a server answering as scripted: the outbox row's
    (status, attempts, error)."""
    async with scripted(replies) as (_, url), Harness(WORKSPACE, resources=RESOURCES) as h:
        await h.play([registered(h, "ann")])
        channel = SmtpChannel(SmtpConfig.from_url(url), MailDefaults())
        await Sender(h.store, h.clock, {"email": channel}, policy=POLICY).deliver_due()
        await channel.close()
        [(_, status, attempts, error)] = await outbox_rows(h)
        return status, attempts, error


NOT_SMTP = {
    "an HTTP server": {"greeting": b"HTTP/1.1 400 Bad Request\r\n"},
    "binary": {"greeting": b"\x00\xff\x01\r\n"},
    "garbage after the data": {"DATA": b"OK THANKS\r\n"},
    "a reply line too long": {"DATA": b"250 " + b"x" * 20_000 + b"\r\n"},
}


@pytest.mark.parametrize("replies", NOT_SMTP.values(), ids=NOT_SMTP.keys())
async def test_a_server_that_does_not_answer_in_smtp_keeps_the_mail(
    replies: dict[str, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    """The wrong host or port (an HTTP server, a POP3 one) is the operator's to fix: the
    mail waits for it. It failed for good ("refused the message: -1 Malformed SMTP
    response line: ..."), as if the message were refused."""
    with caplog.at_level(logging.ERROR, "scn.delivery.email"):
        status, attempts, error = await _one_attempt(replies)
    assert (status, attempts) == (PENDING, 1), error
    assert error is not None and "does not answer in SMTP" in error and "check the SMTP settings" in error
    assert "-1 " not in error and "\x00" not in error
    assert any("does not answer in SMTP" in r.getMessage() for r in caplog.records), "the operator is told"


TURNED_AWAY = {
    "554 at the greeting": ({"greeting": b"554 5.7.1 no service for your address\r\n"}, "554 5.7.1 no service"),
    "421 at the greeting": ({"greeting": b"421 4.3.2 shutting down\r\n"}, "421 4.3.2 shutting down"),
    "EHLO and HELO refused": ({"EHLO": b"550 go away\r\n", "HELO": b"550 go away\r\n"}, "550 go away"),
}


@pytest.mark.parametrize(("replies", "said"), TURNED_AWAY.values(), ids=TURNED_AWAY.keys())
async def test_a_server_that_turns_the_connection_away_keeps_the_mail(replies: dict[str, bytes], said: str) -> None:
    """A refusal before any message was named (a blocklisted address, a server closing)
    is about our connection, never this message: a 5xx there failed every mail for good."""
    status, attempts, error = await _one_attempt(replies)
    assert (status, attempts) == (PENDING, 1), error
    assert error is not None and error.startswith("the mail server at 127.0.0.1:") and said in error
    assert "turns our connection away" in error


@pytest.mark.parametrize("reply", [b"421 4.4.5 too busy, come back later", b"451 4.3.0 local error in processing"])
async def test_a_temporary_refusal_of_mail_from_is_not_blamed_on_our_settings(
    reply: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """421 or 451 4.3.0 to MAIL is the server's trouble of the moment; it was reported as
    "the server refuses our sender or login (check the SMTP settings)", logged as an error."""
    with caplog.at_level(logging.ERROR, "scn.delivery.email"):
        status, attempts, error = await _one_attempt({"MAIL": reply + b"\r\n"})
    assert (status, attempts, error) == (PENDING, 1, f"the mail server refused for now: {reply.decode()}")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_refusal_of_our_sender_at_mail_from_is_still_our_settings() -> None:
    """The boundary: 5xx to MAIL, or 4xx with an enhanced code about our sender (X.1.8)."""
    for reply in (b"553 5.1.8 sender domain does not exist", b"451 4.1.8 sender domain not found"):
        status, _, error = await _one_attempt({"MAIL": reply + b"\r\n"})
        assert status == PENDING and error == f"{OUR_SETTINGS}: {reply.decode()}"


async def test_a_well_behaved_scripted_server_takes_the_mail() -> None:
    """The scripted server itself, answering as it should: the mail goes."""
    async with scripted({}) as (smtp, url), Harness(WORKSPACE, resources=RESOURCES) as h:
        await h.play([registered(h, "ann")])
        channel = SmtpChannel(SmtpConfig.from_url(url), MailDefaults())
        await Sender(h.store, h.clock, {"email": channel}, policy=POLICY).deliver_due()
        await channel.close()
        assert [row[1:3] for row in await outbox_rows(h)] == [(SENT, 1)]
    assert smtp.accepted == 1


# ---------------------------------------------------------------- HTTP providers and webhooks


async def _sms_attempt(stub: HttpStub, h: Harness) -> tuple[str, int, str | None, int]:
    """One pass of the SMS sender: the row's (status, attempts, error, seconds to the next attempt)."""
    channel = HttpChannel("sms", HttpProviderConfig(url=f"{stub.base}/sms", timeout_s=5))
    await Sender(h.store, h.clock, {"sms": channel}, policy=POLICY).deliver_due()
    await channel.close()
    [(status, attempts, error, next_at)] = await h.rows(
        "SELECT status, attempts, error, next_attempt_at FROM outbox WHERE channel = 'sms'"
    )
    return status, attempts, error, (next_at - ms_of(h.clock.now())) // 1000


@pytest.mark.parametrize(("retry_after", "seconds"), [("300", 300), ("5", 60), ("86400", 600), ("soon", 60)])
async def test_a_provider_busy_with_retry_after_is_tried_again_no_sooner(retry_after: str, seconds: int) -> None:
    """429 with `Retry-After: 300` was tried again after the backoff's first minute. The
    provider's wait counts when longer than the backoff, up to the policy's longest wait
    (10 min here); a Retry-After that is no number of seconds or date leaves the backoff."""
    with HttpStub() as stub:
        stub.replies["/sms"] = [(429, '{"error": "slow down"}', 0.0)]
        stub.headers["/sms"] = {"Retry-After": retry_after}
        async with Harness(SMS) as h:
            await h.play([h.event("contact.registered", "a", person=person("+380501", "en", "A"))])
            status, attempts, error, wait = await _sms_attempt(stub, h)
    assert (status, attempts, wait) == (PENDING, 1, seconds), error
    assert error is not None and error.startswith("the provider is busy or failing: HTTP 429")


async def test_retry_after_as_a_date_counts_from_now() -> None:
    with HttpStub() as stub:
        async with Harness(SMS, start=dt.datetime.now(dt.UTC)) as h:  # the date is on the wall clock
            stub.replies["/sms"] = [(503, "maintenance", 0.0)]
            later = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=240), usegmt=True)
            stub.headers["/sms"] = {"Retry-After": later}
            await h.play([h.event("contact.registered", "a", person=person("+380501", "en", "A"))])
            status, _, _, wait = await _sms_attempt(stub, h)
    assert status == PENDING and 230 <= wait <= 240


@pytest.mark.parametrize("code", [301, 302, 307, 308])
async def test_a_provider_that_redirects_keeps_the_message_and_names_the_new_url(code: int) -> None:
    """A redirect (the provider moved its API, http to https) failed every message for good
    as "the provider refused the message: HTTP 301". The URL is the operator's to fix."""
    with HttpStub() as stub:
        stub.replies["/sms"] = [(code, "", 0.0)]
        stub.headers["/sms"] = {"Location": "https://api.example.com/v2/sms"}
        async with Harness(SMS) as h:
            await h.play([h.event("contact.registered", "a", person=person("+380501", "en", "A"))])
            status, attempts, error, _ = await _sms_attempt(stub, h)
    assert (status, attempts) == (PENDING, 1), error
    assert error == (f"the provider redirects (HTTP {code} to https://api.example.com/v2/sms): put the URL it "
                     "names in the delivery settings")  # fmt: skip


async def test_a_webhook_that_redirects_is_kept_for_the_scenario_to_be_fixed() -> None:
    with HttpStub() as stub:
        stub.replies["/hook"] = [(301, "", 0.0)]
        stub.headers["/hook"] = {"Location": "https://crm.example.com/new-hook"}
        async with Harness(SMS.replace("https://crm.example.com/hook", f"{stub.base}/hook")) as h:
            await h.play([h.event("contact.active", "ann", person={"first_name": "Аня"})])
            channel = WebhookChannel("hook-secret")
            await Sender(h.store, h.clock, {"webhook": channel}, policy=POLICY).deliver_due()
            await channel.close()
            [(status, error)] = await h.rows("SELECT status, error FROM outbox WHERE channel = 'webhook'")
    assert status == PENDING
    assert (
        error
        == "the webhook redirects (HTTP 301 to https://crm.example.com/new-hook): put the URL it names in the scenario"
    )


async def test_an_answer_that_is_no_http_is_said_in_words() -> None:
    """A server that answers garbage: "illegal status line: bytearray(b'garbage')", Python's
    text, was the reason."""
    listener = await asyncio.start_server(_garbage, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}/sms"
    try:
        async with Harness(SMS) as h:
            await h.play([h.event("contact.registered", "a", person=person("+380501", "en", "A"))])
            channel = HttpChannel("sms", HttpProviderConfig(url=url, timeout_s=5))
            await Sender(h.store, h.clock, {"sms": channel}, policy=POLICY).deliver_due()
            await channel.close()
            [(status, error)] = await h.rows("SELECT status, error FROM outbox WHERE channel = 'sms'")
    finally:
        listener.close()
        await listener.wait_closed()
    assert status == PENDING
    assert error == f"the provider at {url} does not answer in HTTP: check the URL in the delivery settings"


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"garbage\r\n\r\n")
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def test_a_providers_error_page_is_quoted_on_one_line_without_control_characters() -> None:
    with HttpStub() as stub:
        stub.replies["/sms"] = [(500, "<html>\n<body>\x00Internal\tError</body>\r\n</html>", 0.0)]
        async with Harness(SMS) as h:
            await h.play([h.event("contact.registered", "a", person=person("+380501", "en", "A"))])
            _, _, error, _ = await _sms_attempt(stub, h)
    assert error == "the provider is busy or failing: HTTP 500: <html> <body>?Internal Error</body> </html>"
