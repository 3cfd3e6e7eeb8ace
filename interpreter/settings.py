"""What the runtime needs to know about its deployment."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from collections.abc import Callable

import msgspec


class Settings(msgspec.Struct, kw_only=True):
    #: The zone for contacts who have none (IANA name).
    default_timezone: str = "UTC"
    #: Where the control plane is reachable from recipients' mail clients.
    public_url: str = "http://localhost:8000"
    #: Signs unsubscribe and tracking links; set it in production.
    secret: str = "change-me"
    #: How many events / due runs one transaction handles at most.
    batch_size: int = 500
    #: How many contacts of a broadcast's audience get their runs in one transaction.
    broadcast_page: int = 5000
    #: How often segments whose conditions read the clock ("inactive for 30 days") are
    #: re-evaluated for every contact, in milliseconds.
    segment_sweep_ms: int = 3_600_000
    #: How often (milliseconds) a process looks for work other processes left in the
    #: database without telling it (runtime/nudges.py): at most what a lost nudge costs.
    poll_ms: int = 1000
    #: Simulations only: draw generated coupon codes from this seed instead of the OS.
    code_seed: int | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str]) -> Settings:
        """Settings from SCN_* environment variables, defaults for the rest."""
        values: dict[str, object] = {}
        for name, key in (("default_timezone", "SCN_TIMEZONE"), ("public_url", "SCN_PUBLIC_URL"),
                          ("secret", "SCN_SECRET")):  # fmt: skip
            if environ.get(key):
                values[name] = environ[key]
        for name, key in (("batch_size", "SCN_BATCH_SIZE"), ("broadcast_page", "SCN_BROADCAST_PAGE"),
                          ("poll_ms", "SCN_POLL_MS")):  # fmt: skip
            if environ.get(key):
                values[name] = int(environ[key])
        return msgspec.convert(values, cls)

    def sign(self, *parts: str) -> str:
        signed = _keyed(self.secret).copy()  # the key's pads computed once, not per signature
        signed.update("\x1f".join(parts).encode())
        return base64.urlsafe_b64encode(signed.digest()[:18]).decode().rstrip("=")

    def signer(self, *parts: str) -> Callable[[str], str]:
        """``last -> sign(*parts, last)``, for many signatures that share ``parts`` (the
        links of one message): HMAC-SHA256 of what they share is hashed once, and each
        signature hashes only its last part. The same signatures as `sign` gives."""
        shared = _keyed(self.secret).copy()
        shared.update(("\x1f".join(parts) + "\x1f").encode())

        def sign_last(last: str) -> str:
            signed = shared.copy()
            signed.update(last.encode())
            return base64.urlsafe_b64encode(signed.digest()[:18]).decode().rstrip("=")

        return sign_last

    def verify(self, signature: str, *parts: str) -> bool:
        """Whether ``signature`` is exactly what `sign` gives for ``parts`` (in constant time).

        Any other spelling is refused, in any script: a link read from a URL may hold
        anything, and only the signature as issued is ASCII and equal byte for byte."""
        return signature.isascii() and hmac.compare_digest(self.sign(*parts).encode(), signature.encode())

    def link(self, kind: str, contact_id: str, channel: str) -> str:
        """A signed public link (unsubscribe, preferences) for one contact and channel."""
        token = self.sign(kind, contact_id, channel)
        return f"{self.public_url.rstrip('/')}/{kind}/{channel}/{link_text(contact_id)}/{token}"


@functools.lru_cache(maxsize=4)
def _keyed(secret: str) -> hmac.HMAC:
    """HMAC-SHA256 keyed with ``secret``, nothing hashed yet (copied, never updated)."""
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def link_text(text: str) -> str:
    """Text as links carry it: URL-safe base64 of its UTF-8, without padding."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def read_link_text(encoded: str) -> str | None:
    """The text that `link_text` wrote as exactly ``encoded``; None for anything else
    (padding, unused trailing bits set, other characters, not UTF-8)."""
    try:
        text = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return text if link_text(text) == encoded else None
