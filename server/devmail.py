"""A development mail sink: a real SMTP server (aiosmtpd) in the same process, and pages
at /dev/mails that list what it received and show each mail as the recipient would.

Only with `scn serve --dev-smtp`: nothing leaves the machine, and a newcomer sees the
scenarios' mail within a minute of starting the server.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import html
import itertools
import threading
from collections import deque
from email.message import EmailMessage
from typing import Any

import msgspec
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from litestar import MediaType, Request, Response, Router, get
from litestar.openapi.datastructures import ResponseSpec

from ..interpreter.store import OutboxRow
from ..stdlib.delivery import Channel
from ..stdlib.delivery.base import Outcome, content, sent
from ..stdlib.delivery.config import DeliveryConfig, EmailSettings, build_channels
from ..stdlib.delivery.http import sms_segments
from .deps import KEYED, Id, require_key_in_browser
from .problems import Problem, problems


class Mail(msgspec.Struct, kw_only=True):
    id: int
    #: "email" for what came over SMTP; "sms", "viber", "push"... for what SinkChannel shows.
    channel: str
    received_at: dt.datetime
    sender: str
    recipients: list[str]
    subject: str
    html: str | None
    text: str | None
    headers: list[tuple[str, str]]
    raw: bytes


class MailSink:
    """Keeps the last ``keep`` mails received over SMTP on 127.0.0.1:``port``."""

    def __init__(self, port: int, keep: int = 1000) -> None:
        self.port = port
        self.mails: deque[Mail] = deque(maxlen=keep)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        raw = envelope.original_content or b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        html_part = parsed.get_body(("html",))
        text_part = parsed.get_body(("plain",))
        self.keep(
            channel="email", sender=str(envelope.mail_from), recipients=[str(r) for r in envelope.rcpt_tos],
            subject=str(parsed["Subject"] or ""), html=html_part.get_content() if html_part is not None else None,
            text=text_part.get_content() if text_part is not None else None,
            headers=[(k, str(v)) for k, v in parsed.items()], raw=raw,
        )  # fmt: skip
        return "250 Message accepted for delivery"

    def keep(
        self, *, channel: str, sender: str, recipients: list[str], subject: str, html: str | None, text: str | None,
        headers: list[tuple[str, str]], raw: bytes,
    ) -> None:  # fmt: skip
        """Add a received message (mail, or an SMS / push shown like one), numbered in order."""
        with self._lock:
            self.mails.append(Mail(
                id=next(self._ids), channel=channel, received_at=dt.datetime.now(dt.UTC), sender=sender,
                recipients=recipients, subject=subject, html=html, text=text, headers=headers, raw=raw,
            ))  # fmt: skip

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=off"

    def find(self, mail_id: int) -> Mail:
        with self._lock:
            found = next((m for m in self.mails if m.id == mail_id), None)
        if found is None:
            raise Problem(404, "not-found", f"mail {mail_id} is not (or no longer) in the development sink")
        return found


def _sink(request: Request[Any, Any, Any]) -> MailSink:
    sink: MailSink | None = request.app.state.get("mail_sink")
    if sink is None:
        raise Problem(404, "not-found", "the development mail sink is off: start the server with --dev-smtp")
    return sink


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;width:100%}"
    "td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}"
    "iframe{width:100%;height:70vh;border:1px solid #ccc}"
)


@get("/dev/mails", media_type=MediaType.HTML, responses=problems(401, 404))
async def mail_list(request: Request[Any, Any, Any]) -> str:
    """What the development SMTP sink received, newest first (JSON with ?format=json)."""
    sink = _sink(request)
    mails = list(reversed(sink.mails))
    rows = "".join(
        f'<tr><td><a href="/dev/mails/{m.id}">{m.id}</a></td><td>{m.received_at:%H:%M:%S}</td>'
        f"<td>{html.escape(', '.join(m.recipients))}</td><td>{html.escape(m.subject)}</td></tr>"
        for m in mails
    )
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">'
        f"<title>scn: development mail</title><style>{_STYLE}</style></head><body>"
        f"<h1>Development mail ({len(mails)})</h1><p>Received on {html.escape(sink.url)}; refreshes every 5 s.</p>"
        f"<table><tr><th>#</th><th>time (UTC)</th><th>to</th><th>subject</th></tr>{rows}</table></body></html>"
    )


@get("/dev/mails.json", responses=problems(401, 404))
async def mail_list_json(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    return [
        {"id": m.id, "channel": m.channel, "received_at": m.received_at.isoformat(), "from": m.sender,
         "to": m.recipients, "subject": m.subject}
        for m in reversed(_sink(request).mails)
    ]  # fmt: skip


@get("/dev/mails/{mail_id:int}", media_type=MediaType.HTML, responses=problems(400, 401, 404))
async def mail_page(request: Request[Any, Any, Any], mail_id: Id) -> str:
    """One mail: its headers, the HTML as rendered (sandboxed), and the text part."""
    mail = _sink(request).find(mail_id)
    headers = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in mail.headers)
    shown = (
        f'<iframe sandbox="" srcdoc="{html.escape(mail.html, quote=True)}"></iframe>'
        if mail.html
        else "<p>(no HTML)</p>"
    )
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(mail.subject)}</title>'
        f'<style>{_STYLE}</style></head><body><p><a href="/dev/mails">all mail</a> · '
        f'<a href="/dev/mails/{mail.id}/raw">{"raw" if mail.channel == "email" else "text"}</a></p>'
        f"<h1>{html.escape(mail.subject)}</h1>"
        f"<table>{headers}</table><h2>HTML</h2>{shown}<h2>Text</h2><pre>{html.escape(mail.text or '')}</pre>"
        "</body></html>"
    )


@get(
    "/dev/mails/{mail_id:int}/raw",
    responses={
        200: ResponseSpec(None, description="the mail as received (message/rfc822), or an SMS's text"),
        **problems(400, 401, 404),
    },
)
async def mail_raw(request: Request[Any, Any, Any], mail_id: Id) -> Response[bytes]:
    """A mail exactly as the SMTP server received it (`message/rfc822`); for an SMS, Viber or
    push message, which is no mail, its text (`text/plain`), as the provider would get it."""
    mail = _sink(request).find(mail_id)
    kind = "message/rfc822" if mail.channel == "email" else MediaType.TEXT  # Litestar adds the charset
    return Response(mail.raw, media_type=kind)


# Mails hold coupon codes and signed unsubscribe links: the API key guards them, asked for
# as a password so that a browser can open the pages.
router = Router(
    "/", route_handlers=[mail_list, mail_list_json, mail_page, mail_raw], guards=[require_key_in_browser],
    security=KEYED, tags=["development"],
)  # fmt: skip


class SinkChannel:
    """SMS, Viber and push in development: shown at /dev/mails next to the mail."""

    def __init__(self, channel: str, sink: MailSink) -> None:
        self.channel = channel
        self.sink = sink

    async def send(self, message: OutboxRow) -> Outcome:
        parts = content(message)
        text = str(parts.get("text") or parts.get("plain") or "")
        title = str(parts.get("title") or "")
        segments = sms_segments(text)[1] if self.channel == "sms" else 1
        self.sink.keep(
            channel=self.channel, sender=str(parts.get("from_name") or ""), recipients=[message.recipient],
            subject=f"[{self.channel}] {title or text[:70]}", html=None, text=text,
            headers=[("Channel", self.channel), ("Segments", str(segments))], raw=text.encode(),
        )  # fmt: skip
        return sent(f"shown at /dev/mails ({self.channel})", parts=segments)

    async def close(self) -> None:
        pass


def sink_delivery(
    sink: MailSink, delivery: DeliveryConfig | None, secret: str
) -> tuple[DeliveryConfig, dict[str, Channel]]:
    """The delivery settings and channels of `scn serve --dev-smtp`: email over SMTP to the
    sink, SMS, Viber and push shown by it; ``delivery``'s other settings (retries) kept."""
    settings = msgspec.structs.replace(
        delivery or DeliveryConfig(), email=EmailSettings(url=sink.url, sender="scn demo <demo@scn.local>")
    )
    channels: dict[str, Channel] = {
        **build_channels(settings, secret),
        **{c: SinkChannel(c, sink) for c in ("sms", "viber", "push", "webpush")},
    }
    return settings, channels
