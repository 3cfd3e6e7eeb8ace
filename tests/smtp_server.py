"""A real SMTP server (aiosmtpd) on 127.0.0.1 whose replies a test can script."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import time
from collections import Counter
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ScriptedHandler:
    """Accepts everything, except what `rcpt_replies` / `data_replies` say for an address.

    A reply list is used up one attempt at a time: ["451 4.7.1 try later"] refuses the
    first attempt and accepts the next. `data_delay` holds DATA that long (timeouts)."""

    def __init__(self) -> None:
        self.rcpt_replies: dict[str, list[str]] = {}
        self.data_replies: dict[str, list[str]] = {}
        self.data_delay = 0.0
        self.received: list[tuple[list[str], EmailMessage]] = []
        #: The bytes of each of `received` as they came (signatures are checked over them).
        self.raw: list[bytes] = []
        #: When each of `received` arrived (time.monotonic()), and its MAIL options
        #: (SMTPUTF8...), in the same order.
        self.received_at: list[float] = []
        self.mail_options: list[list[str]] = []
        self.sessions: Counter[int] = Counter()

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any) -> str:
        replies = self.rcpt_replies.get(address)
        if replies:
            reply = replies.pop(0)
            if reply != "250":
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.sessions[id(session)] += 1
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        for address in envelope.rcpt_tos:
            replies = self.data_replies.get(address)
            if replies:
                return replies.pop(0)
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), parsed))
        self.raw.append(content)
        self.mail_options.append(list(envelope.mail_options))
        self.received_at.append(time.monotonic())
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.received if address in rcpts]


class SmtpServer:
    """``with SmtpServer() as server``: listening on ``server.port`` until the block ends."""

    def __init__(self, port: int | None = None, **smtp_options: Any) -> None:
        """``smtp_options`` go to aiosmtpd's SMTP (tls_context, require_starttls, authenticator,
        enable_SMTPUTF8: on unless given)."""
        self.handler = ScriptedHandler()
        self.port = port or free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **smtp_options)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=5"
