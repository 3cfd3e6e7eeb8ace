"""Bounces and complaints from email providers: each provider's signature checked by its
documented scheme, and its events read into one shape (`Feedback`).

* Amazon SES through SNS: the SNS message signature (version 1: SHA1withRSA, version 2:
  SHA256withRSA) over the documented fields, checked with the X.509 certificate at
  `SigningCertURL`, which must be an SNS address (`sns_certificate_url`).
* SendGrid: the signed event webhook, ECDSA P-256 with SHA-256 over the timestamp header
  followed by the raw body, with the verification key SendGrid shows (base64 DER).
* Mailgun: HMAC-SHA256 of timestamp and token with the webhook signing key, hex.
* Postmark: no signature; the webhook's URL carries basic authentication, checked here.

Signatures are checked with `cryptography`; a signed timestamp older than `MAX_AGE_S`
(or as far in the future) is refused, so a captured request cannot be replayed later.
`cryptography` is imported by the first check that needs it: a server that gets no such
webhook does not hold it (tests/test_serve_imports.py).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from typing import TYPE_CHECKING, Any, Literal

import msgspec

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

Kind = Literal["hard_bounce", "soft_bounce", "complaint"]
#: How old (or how far ahead) a signed timestamp may be, in seconds.
MAX_AGE_S = 600
#: Where SNS signing certificates live (a certificate from anywhere else is refused).
SNS_CERTIFICATE_URL = r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[^?#]*\.pem$"


class Feedback(msgspec.Struct, frozen=True, kw_only=True):
    """One bounce or complaint about one address, as a provider reported it."""

    kind: Kind
    address: str
    provider: str
    #: The provider's id of the event (its retries carry the same).
    event_id: str
    detail: str | None = None


class SignatureError(Exception):
    """A request whose signature does not check: it is refused, and nothing is changed."""


class PayloadError(ValueError):
    """A signed request whose content is not the provider's format; `field` says where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _fresh(timestamp: str, now_s: float, what: str) -> None:
    try:
        at = int(timestamp)
    except ValueError:
        raise SignatureError(f"the {what} timestamp {timestamp[:40]!r} is not a number of seconds") from None
    if abs(now_s - at) > MAX_AGE_S:
        raise SignatureError(f"the {what} timestamp is {int(now_s - at)} s away from now: older than {MAX_AGE_S} s "
                             "(or ahead of it) is refused, as a replay could be")  # fmt: skip


def _base64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"the {what} is not base64") from None


def _text(value: object, field: str, *, required: bool = True) -> str:
    if isinstance(value, str) and value:
        return value
    if value is None and not required:
        return ""
    raise PayloadError(field, "missing" if value is None else "must be a non-empty string")


# ---------------------------------------------------------------- SendGrid


def sendgrid_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key as SendGrid shows it (base64 of the DER public key), or as PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    data = text.encode() if "BEGIN PUBLIC KEY" in text else _base64(text, "SendGrid verification key")
    try:
        key = serialization.load_pem_public_key(data) if data.startswith(b"-----") else \
            serialization.load_der_public_key(data)  # fmt: skip
    except ValueError:
        raise SignatureError("the SendGrid verification key is not a public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SignatureError("the SendGrid verification key is not an elliptic-curve key")
    return key


def verify_sendgrid(key: ec.EllipticCurvePublicKey, body: bytes, signature: str, timestamp: str, now_s: float) -> None:
    """SignatureError unless ``signature`` (header `X-Twilio-Email-Event-Webhook-Signature`)
    signs ``timestamp`` (`X-Twilio-Email-Event-Webhook-Timestamp`) + ``body``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if not signature or not timestamp:
        raise SignatureError("the SendGrid signature and timestamp headers are missing")
    try:
        key.verify(_base64(signature, "SendGrid signature"), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureError("the SendGrid signature does not match the body and timestamp") from None
    _fresh(timestamp, now_s, "SendGrid")


def sendgrid_feedback(document: Any) -> list[Feedback]:
    """Bounces (`bounce`: hard; its `type` `blocked`: soft) and spam reports of a batch of
    SendGrid events; the other events are not feedback."""
    if not isinstance(document, list):
        raise PayloadError("body", "a SendGrid batch is a JSON array of events")
    found: list[Feedback] = []
    for index, event in enumerate(document):
        if not isinstance(event, dict):
            raise PayloadError(f"[{index}]", "an event is a JSON object")
        name = event.get("event")
        if name == "bounce":
            kind: Kind = "soft_bounce" if event.get("type") == "blocked" else "hard_bounce"
        elif name == "spamreport":
            kind = "complaint"
        else:
            continue
        found.append(Feedback(
            kind=kind, address=_text(event.get("email"), f"[{index}].email"), provider="sendgrid",
            event_id=_text(event.get("sg_event_id"), f"[{index}].sg_event_id"),
            detail=_text(event.get("reason"), f"[{index}].reason", required=False) or None,
        ))  # fmt: skip
    return found


# ---------------------------------------------------------------- Mailgun


def verify_mailgun(signing_key: str, document: Any, now_s: float) -> None:
    """SignatureError unless the body's `signature` {timestamp, token, signature} is the
    HMAC-SHA256 (hex) of timestamp + token under the webhook signing key."""
    signed = document.get("signature") if isinstance(document, dict) else None
    if not isinstance(signed, dict) or not all(isinstance(signed.get(k), str) for k in ("timestamp", "token",
                                                                                       "signature")):  # fmt: skip
        raise SignatureError("the Mailgun body has no `signature` with timestamp, token and signature")
    expected = hmac.new(signing_key.encode(), (signed["timestamp"] + signed["token"]).encode(), "sha256").hexdigest()
    if not hmac.compare_digest(expected, signed["signature"].lower()):
        raise SignatureError("the Mailgun signature does not match the timestamp and token")
    _fresh(signed["timestamp"], now_s, "Mailgun")


def mailgun_feedback(document: Any) -> list[Feedback]:
    """A `failed` event (`severity` permanent: hard, temporary: soft) or `complained`."""
    data = document.get("event-data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise PayloadError("event-data", "missing: a Mailgun webhook body has `signature` and `event-data`")
    name = data.get("event")
    if name == "failed":
        kind: Kind = "hard_bounce" if data.get("severity") == "permanent" else "soft_bounce"
    elif name == "complained":
        kind = "complaint"
    else:
        return []
    given = data.get("delivery-status")
    status: dict[str, Any] = given if isinstance(given, dict) else {}
    detail = " ".join(str(p) for p in (status.get("code"), status.get("message") or status.get("description"),
                                       data.get("reason")) if p)  # fmt: skip
    return [Feedback(kind=kind, address=_text(data.get("recipient"), "event-data.recipient"), provider="mailgun",
                     event_id=_text(data.get("id"), "event-data.id"), detail=detail or None)]  # fmt: skip


# ---------------------------------------------------------------- Postmark


def verify_basic(authorization: str, user: str, password: str) -> None:
    """SignatureError unless the `Authorization` header is basic auth with ``user`` and ``password``."""
    scheme, _, credentials = authorization.partition(" ")
    try:
        given = base64.b64decode(credentials.strip(), validate=True) if scheme.lower() == "basic" else b""
    except (binascii.Error, ValueError):
        given = b""
    expected = f"{user}:{password}".encode()
    if not given or not hmac.compare_digest(given, expected):
        raise SignatureError("the Postmark webhook's basic authentication is missing or wrong")


#: Postmark bounce types that mean the address is gone, and those that may pass.
_POSTMARK_HARD = frozenset({"HardBounce", "BadEmailAddress", "ManuallyDeactivated", "Blocked", "DMARCPolicy"})
_POSTMARK_SOFT = frozenset({"SoftBounce", "Transient", "DnsError", "Unknown"})


def postmark_feedback(document: Any) -> list[Feedback]:
    """A `Bounce` record (hard or soft by its `Type`) or a `SpamComplaint`."""
    if not isinstance(document, dict):
        raise PayloadError("body", "a Postmark webhook body is a JSON object")
    record = document.get("RecordType")
    kind: Kind
    if record == "SpamComplaint" or document.get("Type") == "SpamComplaint":
        kind = "complaint"
    elif record == "Bounce" and document.get("Type") in _POSTMARK_HARD:
        kind = "hard_bounce"
    elif record == "Bounce" and document.get("Type") in _POSTMARK_SOFT:
        kind = "soft_bounce"
    else:
        return []  # deliveries, opens, auto-responders, subscription changes...
    event_id = document.get("ID")
    if not isinstance(event_id, int | str) or isinstance(event_id, bool) or event_id == "":
        raise PayloadError("ID", "missing: a Postmark record has an ID")
    detail = " ".join(str(document[k]) for k in ("Type", "Description") if isinstance(document.get(k), str))
    return [Feedback(kind=kind, address=_text(document.get("Email"), "Email"), provider="postmark",
                     event_id=str(event_id), detail=detail or None)]  # fmt: skip


# ---------------------------------------------------------------- Amazon SES through SNS

#: The fields an SNS signature covers, in order, by message type (absent ones left out).
_SNS_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}


def sns_string_to_sign(message: dict[str, Any]) -> bytes:
    """What SNS signs: each field of the message's type as `name\\nvalue\\n`, in order."""
    kind = message.get("Type")
    if kind not in _SNS_SIGNED:
        raise PayloadError("Type", f"{str(kind)[:40]!r} is not an SNS message type")
    lines = []
    for name in _SNS_SIGNED[kind]:
        value = message.get(name)
        if value is None and name == "Subject":
            continue
        lines.append(f"{name}\n{_text(value, name)}\n")
    return "".join(lines).encode("utf-8")


def sns_certificate_url(message: dict[str, Any], allowed: str) -> str:
    """The message's `SigningCertURL`, if it matches ``allowed`` (a regular expression)."""
    url = message.get("SigningCertURL")
    if not isinstance(url, str) or not re.fullmatch(allowed, url):
        raise SignatureError(f"the SNS SigningCertURL {str(url)[:200]!r} is not an SNS certificate address")
    return url


def verify_sns(message: dict[str, Any], certificate_pem: bytes) -> None:
    """SignatureError unless the message's `Signature` is the certificate's key's signature
    (SignatureVersion 1: SHA1withRSA; 2: SHA256withRSA) of `sns_string_to_sign`."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    version = message.get("SignatureVersion")
    algorithm: hashes.HashAlgorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(str(version), hashes.SHA256())
    if str(version) not in ("1", "2"):
        raise SignatureError(f"SNS SignatureVersion {str(version)[:20]!r} is not 1 or 2")
    try:
        key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    except ValueError:
        raise SignatureError("the SNS signing certificate is not a PEM certificate") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("the SNS signing certificate does not hold an RSA key")
    signature = _base64(_text(message.get("Signature"), "Signature"), "SNS signature")
    try:
        key.verify(signature, sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        raise SignatureError("the SNS signature does not match the message") from None


def ses_feedback(notification: Any, message_id: str) -> list[Feedback]:
    """The bounced or complaining recipients of an SES notification (an SNS `Message`):
    `bounceType` Permanent is hard, Transient and Undetermined soft."""
    if not isinstance(notification, dict):
        raise PayloadError("Message", "an SES notification is a JSON object")
    kind_name = notification.get("notificationType") or notification.get("eventType")
    found: list[Feedback] = []
    if kind_name == "Bounce":
        bounce = notification.get("bounce")
        if not isinstance(bounce, dict):
            raise PayloadError("Message.bounce", "missing")
        kind: Kind = "hard_bounce" if bounce.get("bounceType") == "Permanent" else "soft_bounce"
        recipients, key = bounce.get("bouncedRecipients"), "bounce"
        why = " ".join(str(bounce[k]) for k in ("bounceType", "bounceSubType") if isinstance(bounce.get(k), str))
    elif kind_name == "Complaint":
        complaint = notification.get("complaint")
        if not isinstance(complaint, dict):
            raise PayloadError("Message.complaint", "missing")
        kind, recipients, key = "complaint", complaint.get("complainedRecipients"), "complaint"
        why = str(complaint.get("complaintFeedbackType") or "") or "complaint"
    else:
        return []  # deliveries, sends, opens...
    if not isinstance(recipients, list):
        raise PayloadError(f"Message.{key}", "has no list of recipients")
    for index, recipient in enumerate(recipients):
        if not isinstance(recipient, dict):
            raise PayloadError(f"Message.{key}.recipients[{index}]", "a recipient is a JSON object")
        code = recipient.get("diagnosticCode")
        found.append(Feedback(
            kind=kind, address=_text(recipient.get("emailAddress"), f"Message.{key}.recipients[{index}].emailAddress"),
            provider="ses", event_id=f"{message_id}:{index}",
            detail=f"{why}: {code}" if isinstance(code, str) and code else why,
        ))  # fmt: skip
    return found


def read_json_object(body: bytes) -> Any:
    """The body as JSON; PayloadError when it is not."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise PayloadError("body", "not JSON") from None
