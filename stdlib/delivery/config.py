"""Delivery settings: a TOML file and SCN_* environment variables, turned into channels.

```toml
[email]
url = "smtp://user:secret@smtp.example.com:587?starttls=require"
from = "Demo Shop <shop@example.com>"   # for templates that name no sender
connections = 4

[email.dkim]                            # optional: sign every mail
domain = "example.com"
selector = "scn2025"
key_file = "/etc/scn/dkim.pem"

[sms]
url = "https://sms.example.com/v1/messages"
headers = { Authorization = "Bearer ..." }
body = '{"to": {{ to|tojson }}, "text": {{ text|tojson }}}'   # optional
price = "0.035 EUR"                                            # per segment

[retry]
first_delay = "1m"
max_delay = "1h"
max_age = "24h"
```

`[viber]`, `[push]` and `[webpush]` take the same keys as `[sms]`; `[webhook]` takes
`secret` (default: SCN_SECRET) and `timeout_s`; `[feedback]` the bounce and complaint
webhooks' secrets and the soft-bounce threshold (`FeedbackSettings`). The environment can give the email
settings instead: SCN_SMTP_URL, SCN_MAIL_FROM.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path

import msgspec

from ...interpreter.clock import Clock
from ...interpreter.store import Store
from ...interpreter.store.suppressions import SuppressionStore
from ..feedback import SNS_CERTIFICATE_URL
from ..suppression import BounceList, gated
from .base import Channel
from .email import MailDefaults, SmtpChannel, SmtpConfig
from .http import HttpChannel, HttpProviderConfig, WebhookChannel
from .sender import RetryPolicy, Sender
from .signing import SIGNED_HEADERS, DkimError, DkimSigner


class DkimSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[email.dkim]`: DKIM signing of every mail (`signing.DkimSigner`)."""

    #: The signing domain (d=) and selector (s=): the public key is at <selector>._domainkey.<domain>.
    domain: str
    selector: str
    #: The RSA private key, PEM.
    key_file: str
    #: The headers signed (From must be one).
    headers: tuple[str, ...] = SIGNED_HEADERS

    def signer(self) -> DkimSigner:
        """The signer; ConfigError naming the setting when it cannot sign."""
        try:
            return DkimSigner.from_file(self.domain, self.selector, self.key_file, self.headers)
        except DkimError as error:
            what = str(error)
            setting = next((s for s in ("domain", "selector", "headers") if what.startswith(s)), "key_file")
            raise ConfigError(f"email.dkim.{setting}: {what}") from None


class EmailSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, rename={"sender": "from"}):
    url: str
    sender: str | None = None
    unsubscribe_mailbox: str | None = None
    connections: int | None = None
    dkim: DkimSettings | None = None


class WebhookSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    secret: str | None = None
    timeout_s: float = 10.0


class RetrySettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    first_delay: str = "1m"
    max_delay: str = "1h"
    max_age: str = "24h"


class FeedbackSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Bounce and complaint webhooks (`stdlib.feedback`): each provider's endpoint answers
    only when its secret is set here."""

    #: Soft bounces of an address before it is suppressed (hard bounces and complaints: at once).
    soft_bounce_threshold: int = msgspec.field(default=3)
    #: SendGrid's verification key of the signed event webhook (base64, as SendGrid shows it).
    sendgrid_public_key: str | None = None
    #: Mailgun's HTTP webhook signing key.
    mailgun_signing_key: str | None = None
    #: The user and password of the basic authentication in Postmark's webhook URL.
    postmark_user: str | None = None
    postmark_password: str | None = None
    #: SNS topics whose SES notifications are taken (their subscriptions confirmed); none: SES is off.
    ses_topics: tuple[str, ...] = ()
    #: Where SNS signing certificates may come from (a regular expression; AWS's by default).
    sns_certificate_url: str = SNS_CERTIFICATE_URL


class DeliveryConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    email: EmailSettings | None = None
    sms: HttpProviderConfig | None = None
    viber: HttpProviderConfig | None = None
    push: HttpProviderConfig | None = None
    webpush: HttpProviderConfig | None = None
    webhook: WebhookSettings = WebhookSettings()
    retry: RetrySettings = RetrySettings()
    feedback: FeedbackSettings = FeedbackSettings()

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            first_delay_ms=duration_ms(self.retry.first_delay, "retry.first_delay"),
            max_delay_ms=duration_ms(self.retry.max_delay, "retry.max_delay"),
            max_age_ms=duration_ms(self.retry.max_age, "retry.max_age"),
        )


class ConfigError(ValueError):
    """Delivery settings that cannot be used; the message says where and how to fix them."""


_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d)\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def duration_ms(text: str, where: str) -> int:
    match = _DURATION.match(text)
    if match is None:
        raise ConfigError(f"{where}: {text!r} is not a duration; write it like 30s, 5m, 2h or 1d")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def load_delivery(path: str | Path | None, environ: Mapping[str, str]) -> DeliveryConfig:
    """The settings from ``path`` (TOML) if given, with SCN_SMTP_URL / SCN_MAIL_FROM on top."""
    data: dict[str, object] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError(f"{path}: cannot read the delivery settings: {error.strerror}") from error
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from error
    if environ.get("SCN_SMTP_URL"):
        email = dict(data.get("email") or {})  # type: ignore[call-overload]
        email["url"] = environ["SCN_SMTP_URL"]
        data["email"] = email
    if environ.get("SCN_MAIL_FROM") and isinstance(data.get("email"), dict):
        data["email"]["from"] = environ["SCN_MAIL_FROM"]  # type: ignore[index]
    try:
        config = msgspec.convert(data, DeliveryConfig)
        config.retry_policy()
        if config.feedback.soft_bounce_threshold < 1:
            raise ValueError("feedback.soft_bounce_threshold: at least 1")
        re.compile(config.feedback.sns_certificate_url)
        if config.email is not None:
            SmtpConfig.from_url(config.email.url)
            dkim = config.email.dkim
            if dkim is not None:
                if (
                    path is not None and not Path(dkim.key_file).is_absolute()
                ):  # beside the settings, as people write it
                    dkim = msgspec.structs.replace(dkim, key_file=str(Path(path).parent / dkim.key_file))
                    config = msgspec.structs.replace(config, email=msgspec.structs.replace(config.email, dkim=dkim))
                dkim.signer()  # a key that cannot sign stops the start
    except (msgspec.ValidationError, ValueError, re.error) as error:
        raise ConfigError(f"{path or 'environment'}: delivery settings: {error}") from error
    return config


def build_channels(config: DeliveryConfig, secret: str) -> dict[str, Channel]:
    """A channel for every configured provider, and the webhook channel."""
    channels: dict[str, Channel] = {}
    if config.email is not None:
        overrides: dict[str, object] = {}
        if config.email.connections is not None:
            overrides["connections"] = config.email.connections
        name, address = parseaddr(config.email.sender or "")
        defaults = MailDefaults(
            from_name=name or "scn", from_address=address or "scn@localhost",
            unsubscribe_mailbox=config.email.unsubscribe_mailbox,
        )  # fmt: skip
        sign = config.email.dkim.signer().sign if config.email.dkim is not None else None
        channels["email"] = SmtpChannel(SmtpConfig.from_url(config.email.url, **overrides), defaults, sign)
    for name in ("sms", "viber", "push", "webpush"):
        provider = getattr(config, name)
        if provider is not None:
            channels[name] = HttpChannel(name, provider)
    channels["webhook"] = WebhookChannel(config.webhook.secret or secret, config.webhook.timeout_s)
    return channels


def build_sender(
    store: Store, clock: Clock, config: DeliveryConfig, secret: str, channels: dict[str, Channel] | None = None
) -> Sender:
    """The outbox's sender for these settings (``channels`` instead of the configured ones:
    the development mail sink). `scn serve` and `scn worker` both build theirs here.

    Every contact channel goes behind the suppression gate (`stdlib.suppression`): the one
    place the suppression list is consulted before a send."""
    made = channels if channels is not None else build_channels(config, secret)
    bounces = None
    if isinstance(store, SuppressionStore):
        made = gated(made, store)
        bounces = BounceList(store, config.feedback.soft_bounce_threshold)
    return Sender(store, clock, made, policy=config.retry_policy(), bounces=bounces)
