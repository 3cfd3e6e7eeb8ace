"""What the runtime needs to know about its deployment."""

from __future__ import annotations

import base64
import hashlib
import hmac

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
    #: How often segments whose conditions read the clock ("inactive for 30 days") are
    #: re-evaluated for every contact, in milliseconds.
    segment_sweep_ms: int = 3_600_000
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
        if environ.get("SCN_BATCH_SIZE"):
            values["batch_size"] = int(environ["SCN_BATCH_SIZE"])
        return msgspec.convert(values, cls)

    def sign(self, *parts: str) -> str:
        digest = hmac.new(self.secret.encode(), "\x1f".join(parts).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")

    def link(self, kind: str, contact_id: str, channel: str) -> str:
        """A signed public link (unsubscribe, preferences) for one contact and channel."""
        token = self.sign(kind, contact_id, channel)
        contact = base64.urlsafe_b64encode(contact_id.encode()).decode().rstrip("=")
        return f"{self.public_url.rstrip('/')}/{kind}/{channel}/{contact}/{token}"
