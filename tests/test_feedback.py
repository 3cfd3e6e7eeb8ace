"""Bounces and complaints from providers: each signature scheme (SendGrid's published test
vector, SNS with a locally made certificate served over HTTP), the providers' formats,
and the webhooks over real HTTP: suppression, the soft-bounce threshold, the events."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from scn.stdlib.delivery.config import DeliveryConfig, EmailSettings, FeedbackSettings
from scn.stdlib.feedback import (
    PayloadError,
    SignatureError,
    mailgun_feedback,
    postmark_feedback,
    sendgrid_feedback,
    sendgrid_key,
    ses_feedback,
    sns_certificate_url,
    sns_string_to_sign,
    verify_basic,
    verify_mailgun,
    verify_sendgrid,
    verify_sns,
)

from .http_stub import HttpStub
from .server_harness import items, serving
from .smtp_server import SmtpServer

# SendGrid's own test vector (sendgrid-python, test/unit/test_eventwebhook.py).
SG_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8e"
    "NEc6wEA3F+g=="
)
SG_OTHER_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/"
    "R1NGe1OPzpA=="
)
SG_SIGNATURE = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
SG_OTHER_SIGNATURE = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH3j/0="
SG_TIMESTAMP = "1600112502"
SG_PAYLOAD = (
    json.dumps(
        [{"email": "hello@world.com", "event": "dropped", "reason": "Bounced Address",
          "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
          "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
          "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>", "timestamp": 1600112492}],
        sort_keys=True, separators=(",", ":"),
    )
    + "\r\n"
).encode()  # fmt: skip


def test_sendgrid_published_test_vector() -> None:
    now = int(SG_TIMESTAMP) + 5
    verify_sendgrid(sendgrid_key(SG_KEY), SG_PAYLOAD, SG_SIGNATURE, SG_TIMESTAMP, now)
    refused = [
        (SG_OTHER_KEY, SG_PAYLOAD, SG_SIGNATURE, SG_TIMESTAMP, now),  # another key
        (SG_KEY, b"payload", SG_SIGNATURE, SG_TIMESTAMP, now),  # another body
        (SG_KEY, SG_PAYLOAD, SG_OTHER_SIGNATURE, SG_TIMESTAMP, now),  # another signature
        (SG_KEY, SG_PAYLOAD, SG_SIGNATURE, "timestamp", now),  # another timestamp
        (SG_KEY, SG_PAYLOAD, "not base64!", SG_TIMESTAMP, now),
        (SG_KEY, SG_PAYLOAD, "", SG_TIMESTAMP, now),
        (SG_KEY, SG_PAYLOAD, SG_SIGNATURE, SG_TIMESTAMP, int(SG_TIMESTAMP) + 601),  # a replay, later
    ]
    for key, body, signature, timestamp, at in refused:
        with pytest.raises(SignatureError):
            verify_sendgrid(sendgrid_key(key), body, signature, timestamp, at)
    verify_sendgrid(sendgrid_key(SG_KEY), SG_PAYLOAD, SG_SIGNATURE, SG_TIMESTAMP, int(SG_TIMESTAMP) + 600)
    with pytest.raises(SignatureError, match="not a public key"):
        sendgrid_key("bm90IGEga2V5")
    # The vector's event is a `dropped`: not feedback (the bounce that caused it was).
    assert sendgrid_feedback(json.loads(SG_PAYLOAD)) == []


def test_sendgrid_events() -> None:
    events = [
        {"email": "a@x.example", "event": "bounce", "type": "bounce", "reason": "550 5.1.1 no such user",
         "sg_event_id": "e1"},
        {"email": "b@x.example", "event": "bounce", "type": "blocked", "sg_event_id": "e2"},
        {"email": "c@x.example", "event": "spamreport", "sg_event_id": "e3"},
        {"email": "d@x.example", "event": "delivered", "sg_event_id": "e4"},
    ]  # fmt: skip
    found = sendgrid_feedback(events)
    assert [(f.kind, f.address, f.event_id, f.detail) for f in found] == [
        ("hard_bounce", "a@x.example", "e1", "550 5.1.1 no such user"),
        ("soft_bounce", "b@x.example", "e2", None),
        ("complaint", "c@x.example", "e3", None),
    ]
    with pytest.raises(PayloadError) as bad:
        sendgrid_feedback([{"event": "bounce", "sg_event_id": "e"}])
    assert bad.value.field == "[0].email"
    with pytest.raises(PayloadError):
        sendgrid_feedback({"event": "bounce"})


def _mailgun(key: str, timestamp: str, event: dict[str, Any]) -> dict[str, Any]:
    token = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {"signature": {"timestamp": timestamp, "token": token, "signature": signature}, "event-data": event}


MG_FAILED = {"event": "failed", "severity": "permanent", "recipient": "alice@example.com",
             "id": "G9Bn5sl1TC6nu79C8C0bwg", "reason": "bounce",
             "delivery-status": {"code": 550, "message": "No such mailbox"}}  # fmt: skip


def test_mailgun_signature_and_events() -> None:
    """Mailgun documents the scheme (HMAC-SHA256 of timestamp + token with the signing key,
    hex) but publishes no vector: this one is made by that recipe."""
    body = _mailgun("key-secret", "1529006854", MG_FAILED)
    verify_mailgun("key-secret", body, 1529006854)
    for key, document, now in (("other-key", body, 1529006854), ("key-secret", body, 1529006854 + 601),
                               ("key-secret", {**body, "signature": {**body["signature"], "token": "x"}}, 1529006854),
                               ("key-secret", {"event-data": MG_FAILED}, 1529006854)):  # fmt: skip
        with pytest.raises(SignatureError):
            verify_mailgun(key, document, now)
    assert [(f.kind, f.address, f.detail) for f in mailgun_feedback(body)] == [
        ("hard_bounce", "alice@example.com", "550 No such mailbox bounce")
    ]
    assert mailgun_feedback({"event-data": {**MG_FAILED, "severity": "temporary"}})[0].kind == "soft_bounce"
    assert mailgun_feedback({"event-data": {**MG_FAILED, "event": "complained"}})[0].kind == "complaint"
    assert mailgun_feedback({"event-data": {**MG_FAILED, "event": "delivered"}}) == []


def test_postmark_basic_auth_and_records() -> None:
    good = "Basic " + base64.b64encode(b"hooks:s3cret").decode()
    verify_basic(good, "hooks", "s3cret")
    for header in ("", "Basic " + base64.b64encode(b"hooks:wrong").decode(), "Bearer s3cret", "Basic !!"):
        with pytest.raises(SignatureError):
            verify_basic(header, "hooks", "s3cret")
    # The shape of Postmark's documented bounce webhook example.
    bounce = {"RecordType": "Bounce", "ID": 4323372036854775807, "Type": "HardBounce", "TypeCode": 1,
              "Email": "john@example.com", "Description": "The server was unable to deliver your message"}  # fmt: skip
    assert [(f.kind, f.address, f.event_id) for f in postmark_feedback(bounce)] == [
        ("hard_bounce", "john@example.com", "4323372036854775807")
    ]
    assert postmark_feedback({**bounce, "Type": "SoftBounce"})[0].kind == "soft_bounce"
    assert postmark_feedback({"RecordType": "SpamComplaint", "ID": 1, "Email": "j@x.example"})[0].kind == "complaint"
    assert postmark_feedback({**bounce, "Type": "AutoResponder"}) == []
    assert postmark_feedback({"RecordType": "Delivery", "ID": 2}) == []
    with pytest.raises(PayloadError) as bad:
        postmark_feedback({**bounce, "Email": None})
    assert bad.value.field == "Email"


# ---------------------------------------------------------------- SNS


def _certificate() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))  # fmt: skip
    return key, cert.public_bytes(serialization.Encoding.PEM)


def _signed(key: rsa.RSAPrivateKey, message: dict[str, Any], version: str = "2") -> dict[str, Any]:
    message = {**message, "SignatureVersion": version}
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 (SNS's version 1 is SHA1withRSA)
    signature = key.sign(sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
    return {**message, "Signature": base64.b64encode(signature).decode()}


TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-feedback"


def _notification(notification: dict[str, Any], cert_url: str, message_id: str = "m-1") -> dict[str, Any]:
    return {"Type": "Notification", "MessageId": message_id, "TopicArn": TOPIC, "Message": json.dumps(notification),
            "Timestamp": "2025-03-01T10:00:00.000Z", "SigningCertURL": cert_url}  # fmt: skip


SES_BOUNCE = {"notificationType": "Bounce", "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
              "bouncedRecipients": [{"emailAddress": "ann@example.com",
                                     "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]},
              "mail": {"messageId": "0000"}}  # fmt: skip


def test_sns_signature_versions_1_and_2() -> None:
    key, pem = _certificate()
    for version in ("1", "2"):
        message = _signed(key, _notification(SES_BOUNCE, "https://sns.eu-west-1.amazonaws.com/x.pem"), version)
        verify_sns(message, pem)
        with pytest.raises(SignatureError):
            verify_sns({**message, "Message": message["Message"].replace("ann@", "bob@")}, pem)
        with pytest.raises(SignatureError):
            verify_sns(message, _certificate()[1])  # another certificate
    with pytest.raises(SignatureError, match="SignatureVersion"):
        verify_sns({**message, "SignatureVersion": "3"}, pem)
    with pytest.raises(SignatureError, match="not a PEM certificate"):
        verify_sns(message, b"nonsense")
    subject = _signed(key, {**_notification(SES_BOUNCE, "u"), "Subject": "Amazon SES Email Event Notification"})
    verify_sns(subject, pem)
    assert b"Subject\nAmazon SES Email Event Notification\n" in sns_string_to_sign(subject)


def test_sns_certificates_come_only_from_sns() -> None:
    allowed = FeedbackSettings().sns_certificate_url
    assert sns_certificate_url({"SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem"},
                               allowed)  # fmt: skip
    refused = (
        "http://sns.us-east-1.amazonaws.com/a.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/a.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/a.pem",
        "https://s3.amazonaws.com/a.pem",
        None,
    )
    for url in refused:
        with pytest.raises(SignatureError):
            sns_certificate_url({"SigningCertURL": url}, allowed)


def test_ses_notifications() -> None:
    assert [(f.kind, f.address, f.event_id, f.detail) for f in ses_feedback(SES_BOUNCE, "m-1")] == [
        ("hard_bounce", "ann@example.com", "m-1:0", "Permanent General: smtp; 550 5.1.1 user unknown")
    ]
    transient = {**SES_BOUNCE, "bounce": {**SES_BOUNCE["bounce"], "bounceType": "Transient"}}  # type: ignore[dict-item]
    assert ses_feedback(transient, "m")[0].kind == "soft_bounce"
    complaint = {"eventType": "Complaint", "complaint": {"complaintFeedbackType": "abuse",
                 "complainedRecipients": [{"emailAddress": "bob@example.com"}]}}  # fmt: skip
    assert [(f.kind, f.detail) for f in ses_feedback(complaint, "m")] == [("complaint", "abuse")]
    assert ses_feedback({"notificationType": "Delivery"}, "m") == []
    with pytest.raises(PayloadError) as bad:
        ses_feedback({"notificationType": "Bounce", "bounce": {"bouncedRecipients": [{}]}}, "m")
    assert bad.value.field == "Message.bounce.recipients[0].emailAddress"


# ---------------------------------------------------------------- over HTTP

WORKSPACE = """
list complainers "Marked us as spam"

scenario complaints "Complaints"
  on message.complained where event.provider == "sendgrid"
  add to list complainers
end

scenario bounces "Hard bounces"
  on message.bounced where event.kind == "hard"
  add to list complainers
end
"""
FILES = {"feedback.scn": WORKSPACE}


async def _contacts(s: Any, *ids: str) -> None:
    for contact in ids:
        r = await s.client.post("/api/contacts", json={"id": contact, "email": f"{contact}@Example.com"})
        assert r.status_code == 202
    await s.settle()


async def _suppressed(s: Any) -> dict[str, tuple[str, str]]:
    page = (await s.client.get("/api/suppressions/email")).json()
    return {i["address"]: (i["reason"], i["source"]) for i in page["items"]}


def _sendgrid_post(key: ec.EllipticCurvePrivateKey, events: object, at: int | None = None) -> dict[str, Any]:
    body = json.dumps(events).encode()
    timestamp = str(at or int(time.time()))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"content": body, "headers": {"Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp}}  # fmt: skip


async def test_sendgrid_webhook_suppresses_and_raises_events(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(key.public_key().public_bytes(serialization.Encoding.DER,
                              serialization.PublicFormat.SubjectPublicKeyInfo)).decode()  # fmt: skip
    feedback = FeedbackSettings(sendgrid_public_key=public, soft_bounce_threshold=2)
    with SmtpServer() as smtp:
        delivery = DeliveryConfig(email=EmailSettings(url=smtp.url), feedback=feedback)
        async with serving(tmp_path, FILES, delivery=delivery) as s:
            await _contacts(s, "ann", "bob", "cat")
            events = [
                {"email": "ann@example.com", "event": "bounce", "type": "bounce", "reason": "550 5.1.1",
                 "sg_event_id": "e1"},
                {"email": "bob@example.com", "event": "spamreport", "sg_event_id": "e2"},
                {"email": "cat@example.com", "event": "bounce", "type": "blocked", "sg_event_id": "e3"},
                {"email": "nobody@example.com", "event": "bounce", "type": "bounce", "sg_event_id": "e4"},
                {"email": "not an address", "event": "spamreport", "sg_event_id": "e5"},
                {"email": "ann@example.com", "event": "open", "sg_event_id": "e6"},
            ]  # fmt: skip
            r = await s.public.post("/webhooks/sendgrid", **_sendgrid_post(key, events))
            assert r.status_code == 200, r.text
            assert r.json() == {"feedback": 5, "suppressed": 3, "soft_bounces": 1, "events": 2, "ignored": 1}
            assert await _suppressed(s) == {"ann@example.com": ("hard_bounce", "sendgrid"),
                                            "bob@example.com": ("complaint", "sendgrid"),
                                            "nobody@example.com": ("hard_bounce", "sendgrid")}  # fmt: skip
            # The same request again (a provider's retry): no new events.
            again = await s.public.post("/webhooks/sendgrid", **_sendgrid_post(key, events))
            assert again.json()["events"] == 0
            # cat's second soft bounce reaches the threshold of 2.
            second = [{"email": "cat@example.com", "event": "bounce", "type": "blocked", "sg_event_id": "e7"}]
            r = await s.public.post("/webhooks/sendgrid", **_sendgrid_post(key, second))
            assert r.json() == {"feedback": 1, "suppressed": 1, "soft_bounces": 0, "events": 1, "ignored": 0}
            assert (await _suppressed(s))["cat@example.com"] == ("soft_bounce", "sendgrid")
            await s.settle()
            members = (await s.client.get("/api/lists/complainers")).json()
            assert items(members) == ["ann", "bob"]  # hard bounce and complaint, not cat's soft ones
            bob = (await s.client.get("/api/contacts/bob")).json()
            assert bob["subscriptions"]["email"]["subscribed"] is False  # a complaint unsubscribes
            ann = (await s.client.get("/api/contacts/ann")).json()
            assert ann["subscriptions"]["email"]["reachable"] is False

            for bad in (_sendgrid_post(key, events, at=int(time.time()) - 3600),
                        {**_sendgrid_post(key, events), "content": b"[]"},
                        _sendgrid_post(ec.generate_private_key(ec.SECP256R1()), events)):  # fmt: skip
                r = await s.public.post("/webhooks/sendgrid", **bad)
                assert r.status_code == 403 and r.json()["type"] == "/problems/invalid-signature", r.text
            # Signed, but not SendGrid's format: the field is named, nothing changes.
            r = await s.public.post("/webhooks/sendgrid", **_sendgrid_post(key, {"event": "bounce"}))
            assert r.status_code == 422 and r.json()["errors"] == [
                {"field": "body", "message": "a SendGrid batch is a JSON array of events"}
            ], r.text
            assert "nothing was changed" in r.json()["detail"]
            r = await s.public.post("/webhooks/mailgun", json={})
            assert r.status_code == 404 and "[feedback]" in r.json()["detail"]


async def test_mailgun_and_postmark_webhooks(tmp_path: Path) -> None:
    feedback = FeedbackSettings(mailgun_signing_key="key-secret", postmark_user="hooks", postmark_password="s3cret")
    with SmtpServer() as smtp:
        delivery = DeliveryConfig(email=EmailSettings(url=smtp.url), feedback=feedback)
        async with serving(tmp_path, FILES, delivery=delivery) as s:
            body = _mailgun("key-secret", str(int(time.time())), MG_FAILED)
            r = await s.public.post("/webhooks/mailgun", json=body)
            assert r.status_code == 200 and r.json()["suppressed"] == 1, r.text
            r = await s.public.post("/webhooks/mailgun", json=_mailgun("wrong", str(int(time.time())), MG_FAILED))
            assert r.status_code == 403
            r = await s.public.post("/webhooks/mailgun", content=b"not json")
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
            record = {"RecordType": "SpamComplaint", "ID": 42, "Email": "Carol@Example.com"}
            r = await s.public.post("/webhooks/postmark", json=record, auth=("hooks", "s3cret"))
            assert r.status_code == 200 and r.json()["suppressed"] == 1, r.text
            r = await s.public.post("/webhooks/postmark", json=record, auth=("hooks", "nope"))
            assert r.status_code == 403
            r = await s.public.post("/webhooks/postmark", json={**record, "ID": None}, auth=("hooks", "s3cret"))
            assert r.status_code == 422 and r.json()["errors"] == [
                {"field": "ID", "message": "missing: a Postmark record has an ID"}
            ]
            assert await _suppressed(s) == {"alice@example.com": ("hard_bounce", "mailgun"),
                                            "carol@example.com": ("complaint", "postmark")}  # fmt: skip


async def test_ses_through_sns_with_a_certificate_served_over_http(tmp_path: Path) -> None:
    """A locally made certificate on a local HTTP server stands for SNS's (AWS cannot be
    reached from the tests); the subscription is confirmed on the same host."""
    key, pem = _certificate()
    with HttpStub() as stub:
        stub.pages["/cert.pem"] = pem
        stub.pages["/confirm?Token=t"] = b"<ConfirmSubscriptionResponse/>"
        cert_url = f"{stub.base}/cert.pem"
        feedback = FeedbackSettings(ses_topics=(TOPIC,), sns_certificate_url=r"^http://127\.0\.0\.1:\d+/[a-z]+\.pem$")
        with SmtpServer() as smtp:
            delivery = DeliveryConfig(email=EmailSettings(url=smtp.url), feedback=feedback)
            async with serving(tmp_path, FILES, delivery=delivery) as s:
                await _contacts(s, "ann")
                confirm = _signed(key, {"Type": "SubscriptionConfirmation", "MessageId": "c-1", "Token": "t",
                                        "TopicArn": TOPIC, "Message": "You have chosen to subscribe",
                                        "SubscribeURL": f"{stub.base}/confirm?Token=t",
                                        "Timestamp": "2025-03-01T10:00:00.000Z",
                                        "SigningCertURL": cert_url})  # fmt: skip
                sns = {"Content-Type": "text/plain; charset=UTF-8"}  # as SNS sends it
                r = await s.public.post("/webhooks/ses", content=json.dumps(confirm).encode(), headers=sns)
                assert r.status_code == 200, r.text
                assert [q.path for q in stub.requests] == ["/cert.pem", "/confirm?Token=t"]

                notification = _signed(key, _notification(SES_BOUNCE, cert_url), "1")
                r = await s.public.post("/webhooks/ses", content=json.dumps(notification).encode(), headers=sns)
                assert r.status_code == 200 and r.json()["suppressed"] == 1 and r.json()["events"] == 1, r.text
                assert await _suppressed(s) == {"ann@example.com": ("hard_bounce", "ses")}
                assert [q.path for q in stub.requests].count("/cert.pem") == 1, "the certificate is kept"

                refused = [
                    {**notification, "Message": notification["Message"].replace("ann@", "bob@")},
                    {**notification, "TopicArn": "arn:aws:sns:eu-west-1:1:other"},
                    {**notification, "SigningCertURL": "https://evil.example/cert.pem"},
                    _signed(key, {**_notification(SES_BOUNCE, f"{stub.base}/missing.pem")}),
                ]
                for message in refused:
                    r = await s.public.post("/webhooks/ses", content=json.dumps(message).encode(), headers=sns)
                    assert r.status_code == 403 and r.json()["type"] == "/problems/invalid-signature", r.text
                assert len(await _suppressed(s)) == 1
                # Signed, but its Message is not an SES notification: the field is named.
                unreadable = _signed(key, {**_notification(SES_BOUNCE, cert_url), "Message": "not json"}, "1")
                r = await s.public.post("/webhooks/ses", content=json.dumps(unreadable).encode(), headers=sns)
                assert r.status_code == 422 and r.json()["errors"][0]["field"] == "Message", r.text
