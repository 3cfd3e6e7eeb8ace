"""SMS, Viber, mobile push and web push through HTTP JSON providers; webhooks.

One generic provider per channel: the operator gives a URL, headers (the auth header)
and a body template (Jinja, sandboxed, with `tojson`), so any provider that takes JSON
over HTTPS fits without code. How answers are read:

* 2xx: sent;
* 3xx: the URL moved (a POST is not followed): temporary, the operator's to correct;
* 408, 425, 429, 5xx, timeouts and connection errors: temporary, try again later (no
  sooner than the answer's `Retry-After`, within the retry policy);
* 404 and 410 on push and web push: the token is gone for good (that is what push
  services answer); the address is suppressed;
* any other 4xx: the provider refuses this message for good.

SMS are billed per segment, so each is counted: GSM-7 text takes 160 characters in one
segment or 153 per part when split; anything else (Cyrillic, Latvian and Polish
letters...) is UCS-2, 70 in one or 67 per part. The cost recorded is segments times the
configured price.

`call webhook` posts the step's JSON with `X-Scn-Signature: t=<unix time>,v1=<hex
HMAC-SHA256 of "<t>.<body>">` so the receiver can check it came from us, and an
`Idempotency-Key` that stays the same across retries.

httpx is imported by the first channel that sends (or the first provider's channel made):
the webhook channel exists on every server, which mostly never calls one, and httpx with
its client's TLS context would be memory held for nothing (tests/test_serve_imports.py).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
import json
import logging
import re
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ...interpreter.store import OutboxRow
from ..failures import ADDRESS, REFUSED, plain_reason
from .base import Outcome, content, failed, retry, sent

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("scn.delivery.http")

# The GSM 03.38 basic character set; the extension table's characters take two septets.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def sms_segments(text: str) -> tuple[str, int]:
    """("gsm7" or "ucs2", number of segments) that ``text`` is sent and billed as."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        septets = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        return "gsm7", 1 if septets <= 160 else -(-septets // 153)
    # UCS-2 counts UTF-16 code units: a character outside the BMP (an emoji) takes two.
    units = len(text.encode("utf-16-le")) // 2
    return "ucs2", 1 if units <= 70 else -(-units // 67)


DEFAULT_BODIES = {
    "sms": '{"to": {{ to|tojson }}, "text": {{ text|tojson }}, "sender": {{ sender|tojson }}, "id": {{ id|tojson }}}',
    "viber": '{"to": {{ to|tojson }}, "text": {{ text|tojson }}, "sender": {{ sender|tojson }}, "id": {{ id|tojson }}}',
    "push": '{"token": {{ to|tojson }}, "title": {{ title|tojson }}, "body": {{ text|tojson }}, "id": {{ id|tojson }}}',
    "webpush": '{"subscription": {{ to|tojson }}, "title": {{ title|tojson }}, "body": {{ text|tojson }}, '
    '"url": {{ url|tojson }}, "id": {{ id|tojson }}}',
}


class HttpProviderConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: str
    #: Sent with every request: the auth header goes here ({"Authorization": "Bearer ..."}).
    headers: dict[str, str] = {}
    #: A Jinja template of the JSON body: `to`, `text`, `title`, `url`, `sender`, `id`,
    #: `channel`, `segments`, `encoding` are given. Default: a plain body per channel.
    body: str | None = None
    timeout_s: float = 10.0
    #: Price of one SMS segment (or one message on other channels): "0.035 EUR".
    price: str | None = None


_environment = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def _price(price: str | None, parts: int) -> str | None:
    if not price:
        return None
    amount, _, currency = price.strip().partition(" ")
    total = Decimal(amount) * parts
    return f"{total} {currency}".strip()


def _client(timeout_s: float) -> httpx.AsyncClient:
    import httpx

    return httpx.AsyncClient(timeout=timeout_s)


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _quoted(text: str) -> str:
    """A provider's answer as a reason quotes it: on one line, without control characters."""
    return " ".join(_CONTROLS.sub("?", text[:200]).split())


def _retry_after_ms(response: httpx.Response) -> int | None:
    """The answer's `Retry-After` (RFC 9110: seconds, or an HTTP date), in ms from now."""
    value = (response.headers.get("retry-after") or "").strip()
    if value.isascii() and value.isdigit():
        return int(value[:9]) * 1000
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0, int((moment - dt.datetime.now(dt.UTC)).total_seconds() * 1000))


def _classify(response: httpx.Response, channel: str) -> Outcome | None:
    """None when the answer means sent; otherwise what it means."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    detail = f"HTTP {status}: {_quoted(response.text)}".rstrip(": ")
    who = "the webhook" if channel == "webhook" else "the provider"
    if 300 <= status < 400:  # a POST is not followed elsewhere: the URL is the operator's to correct
        where = "the scenario" if channel == "webhook" else "the delivery settings"
        location = _quoted(response.headers.get("location") or "nowhere")
        reason = f"{who} redirects (HTTP {status} to {location}): put the URL it names in {where}"
        logger.error("%s", reason)
        return retry(reason)
    if status in (408, 425, 429) or status >= 500:
        return retry(f"{who} is busy or failing: {detail}", after_ms=_retry_after_ms(response))
    if status in (404, 410) and channel in ("push", "webpush"):
        return failed(f"the push token is no longer valid: {detail}", ADDRESS, suppress=True)
    return failed(f"{who} refused the message: {detail}", REFUSED)


def _not_http(who: str, where: str, error: Exception) -> str:
    """httpx's words for an answer that breaks HTTP quote the bytes as Python writes them
    (`bytearray(b'...')`); the reason says what it means."""
    if "without sending a response" in str(error):
        return f"{who} closed the connection without answering"
    return f"{who} does not answer in HTTP: check the URL in {where}"


class HttpChannel:
    """Delivers one channel's messages through an HTTP JSON provider."""

    def __init__(self, channel: str, config: HttpProviderConfig, client: httpx.AsyncClient | None = None) -> None:
        self.channel = channel
        self.config = config
        self._template = _environment.from_string(config.body or DEFAULT_BODIES.get(channel, DEFAULT_BODIES["sms"]))
        self._client = client or _client(config.timeout_s)

    def body(self, message: OutboxRow) -> tuple[str, int]:
        """The request body and how many parts it is billed as."""
        parts = content(message)
        text = parts.get("text") or parts.get("plain") or ""
        encoding, segments = sms_segments(text) if self.channel == "sms" else ("utf8", 1)
        rendered = self._template.render(
            to=message.recipient, text=text, title=parts.get("title") or parts.get("subject") or "",
            url=parts.get("url") or "", sender=parts.get("from_name") or "", id=f"scn-{message.id}",
            channel=self.channel, segments=segments, encoding=encoding,
        )  # fmt: skip
        try:
            json.loads(rendered)
        except ValueError as error:  # a body template that does not make JSON is a configuration error
            raise ValueError(f"it does not make JSON ({error})") from error
        return rendered, segments

    async def send(self, message: OutboxRow) -> Outcome:
        try:
            body, segments = self.body(message)
        except Exception as error:  # the operator's template: say what is wrong, keep the message
            why = plain_reason(error)
            return retry(f"the {self.channel} provider's body template in the delivery settings failed: {why}")
        import httpx  # imported when the client was made: a lookup in sys.modules

        headers = {"Content-Type": "application/json", "Idempotency-Key": f"scn-{message.id}", **self.config.headers}
        try:
            response = await self._client.post(self.config.url, content=body.encode(), headers=headers)
        except httpx.TimeoutException:
            return retry(f"the provider at {self.config.url} did not answer within {self.config.timeout_s:g}s")
        except httpx.RemoteProtocolError as error:
            return retry(_not_http(f"the provider at {self.config.url}", "the delivery settings", error))
        except httpx.TransportError as error:
            return retry(f"cannot reach the provider at {self.config.url}: {plain_reason(error)}")
        refusal = _classify(response, self.channel)
        if refusal is not None:
            return refusal
        return sent(response.text[:200] or None, cost=_price(self.config.price, segments), parts=segments)

    async def close(self) -> None:
        await self._client.aclose()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str, header: str, body: bytes, *, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """Whether a webhook's `X-Scn-Signature` is ours and fresh (for receivers, and tests)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


class WebhookChannel:
    """`call webhook`: the step's JSON, signed, posted to the URL the scenario names."""

    def __init__(self, secret: str, timeout_s: float = 10.0, client: httpx.AsyncClient | None = None) -> None:
        self.secret = secret
        self.timeout_s = timeout_s
        self._client = client  # made by the first call: most servers never call a webhook

    async def send(self, message: OutboxRow) -> Outcome:
        import httpx

        if self._client is None:
            self._client = _client(self.timeout_s)
        body = message.message.encode()
        headers: dict[str, Any] = {
            "Content-Type": "application/json",
            "Idempotency-Key": f"scn-{message.id}",
            "X-Scn-Signature": signature(self.secret, int(time.time()), body),
        }
        try:
            response = await self._client.post(message.recipient, content=body, headers=headers)
        except httpx.TimeoutException:
            return retry(f"the webhook at {message.recipient} did not answer in time")
        except httpx.RemoteProtocolError as error:
            return retry(_not_http(f"the webhook at {message.recipient}", "the scenario", error))
        except httpx.TransportError as error:
            return retry(f"cannot reach the webhook at {message.recipient}: {plain_reason(error)}")
        refusal = _classify(response, "webhook")
        return refusal if refusal is not None else sent(f"HTTP {response.status_code}")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
