"""Bounce and complaint webhooks of email providers: checked by each one's signature
scheme (`stdlib.feedback`), then acted on: a hard bounce or a complaint suppresses the
address at once, soft bounces once they reach the threshold, and the contacts with that
address get `message.bounced` / `message.complained` events for their scenarios.

Public (no API key: the providers cannot send one); each endpoint answers only when its
provider's secret is in the delivery settings' `[feedback]`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

from litestar import Request, Router, post
from litestar.di import NamedDependency

from ..stdlib.feedback import (
    PayloadError,
    SignatureError,
    mailgun_feedback,
    postmark_feedback,
    read_json_object,
    sendgrid_feedback,
    sendgrid_key,
    ses_feedback,
    sns_certificate_url,
    verify_basic,
    verify_mailgun,
    verify_sendgrid,
    verify_sns,
)
from .models import FeedbackTaken
from .problems import Problem, problems
from .services import FeedbackService, dependencies

logger = logging.getLogger("scn.feedback")
#: SNS signing certificates fetched, by URL (a few: one per region and key rotation).
_CERTIFICATES: dict[str, bytes] = {}
MAX_CERTIFICATES = 16


@contextlib.contextmanager
def _checked() -> Iterator[None]:
    """Where a provider's request is verified and read: a signature that does not check
    is a 403 problem, a signed body that is not the provider's format a 422 naming the
    field; either way nothing was changed."""
    try:
        yield
    except SignatureError as error:
        logger.warning("feedback webhook refused: %s", error)
        raise Problem(403, "invalid-signature", f"{error}; nothing was changed") from None
    except PayloadError as error:
        raise Problem(422, "invalid-request", f"{error}; nothing was changed",
                      errors=[{"field": error.field, "message": error.message}]) from None  # fmt: skip


#: The answer to an SNS message that carries no feedback (a subscription confirmed, an unsubscription).
NOTHING = FeedbackTaken(feedback=0, suppressed=0, soft_bounces=0, events=0, ignored=0)


RESPONSES = problems(403, 404, 413, 422)


@post("/sendgrid", status_code=200, responses=RESPONSES)
async def sendgrid(feedback: NamedDependency[FeedbackService], request: Request[Any, Any, Any]) -> FeedbackTaken:
    """SendGrid's signed event webhook: bounces, blocks (soft) and spam reports."""
    settings = feedback.settings("SendGrid", "sendgrid_public_key")
    body = await request.body()
    with _checked():
        assert settings.sendgrid_public_key is not None
        verify_sendgrid(sendgrid_key(settings.sendgrid_public_key), body,
                        request.headers.get("X-Twilio-Email-Event-Webhook-Signature", ""),
                        request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp", ""), time.time())  # fmt: skip
        found = sendgrid_feedback(read_json_object(body))
    return await feedback.take(found, settings)


@post("/mailgun", status_code=200, responses=RESPONSES)
async def mailgun(feedback: NamedDependency[FeedbackService], request: Request[Any, Any, Any]) -> FeedbackTaken:
    """Mailgun's webhooks (`failed`: permanent or temporary, `complained`), signed with HMAC."""
    settings = feedback.settings("Mailgun", "mailgun_signing_key")
    with _checked():
        document = read_json_object(await request.body())
        assert settings.mailgun_signing_key is not None
        verify_mailgun(settings.mailgun_signing_key, document, time.time())
        found = mailgun_feedback(document)
    return await feedback.take(found, settings)


@post("/postmark", status_code=200, responses=RESPONSES)
async def postmark(feedback: NamedDependency[FeedbackService], request: Request[Any, Any, Any]) -> FeedbackTaken:
    """Postmark's bounce and spam complaint webhooks, behind basic authentication."""
    settings = feedback.settings("Postmark", "postmark_password")
    with _checked():
        verify_basic(request.headers.get("Authorization", ""), settings.postmark_user or "",
                     settings.postmark_password or "")  # fmt: skip
        found = postmark_feedback(read_json_object(await request.body()))
    return await feedback.take(found, settings)


async def _certificate(url: str) -> bytes:
    import httpx  # here and below, not at the top: a server that gets no SNS message never needs it

    if url not in _CERTIFICATES:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.get(url)
        if answer.status_code != 200:
            raise SignatureError(f"the SNS signing certificate could not be fetched (HTTP {answer.status_code})")
        if len(_CERTIFICATES) >= MAX_CERTIFICATES:
            _CERTIFICATES.clear()
        _CERTIFICATES[url] = answer.content
    return _CERTIFICATES[url]


@post("/ses", status_code=200, responses=RESPONSES)
async def ses(feedback: NamedDependency[FeedbackService], request: Request[Any, Any, Any]) -> FeedbackTaken:
    """Amazon SES bounce and complaint notifications through SNS: the SNS signature checked
    with its certificate; a subscription to a configured topic is confirmed."""
    settings = feedback.settings("SES", "ses_topics")
    import httpx

    with _checked():
        message = read_json_object(await request.body())
        if not isinstance(message, dict):
            raise PayloadError("body", "an SNS message is a JSON object")
        if message.get("TopicArn") not in settings.ses_topics:
            raise SignatureError(f"the SNS topic {str(message.get('TopicArn'))[:200]!r} is not one of [feedback] "
                                 "ses_topics")  # fmt: skip
        url = sns_certificate_url(message, settings.sns_certificate_url)
        try:
            verify_sns(message, await _certificate(url))
        except httpx.HTTPError:
            raise SignatureError("the SNS signing certificate could not be fetched") from None
        if message.get("Type") == "SubscriptionConfirmation":
            await _confirm(message, url)
            return NOTHING
        if message.get("Type") != "Notification":
            return NOTHING
        try:
            notification = json.loads(message["Message"])
        except ValueError:
            raise PayloadError("Message", "not JSON: SES notifications are JSON") from None
        found = ses_feedback(notification, str(message["MessageId"]))
    return await feedback.take(found, settings)


async def _confirm(message: dict[str, Any], certificate_url: str) -> None:
    """Visit the SubscribeURL of a signed confirmation; only on the certificate's own host."""
    import httpx

    subscribe = message.get("SubscribeURL")
    origin = httpx.URL(certificate_url)
    if not isinstance(subscribe, str) or (httpx.URL(subscribe).scheme, httpx.URL(subscribe).host) != (
        origin.scheme, origin.host,
    ):  # fmt: skip
        raise SignatureError("the SNS SubscribeURL is not on the SNS host")
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.get(subscribe)
    except httpx.HTTPError:
        raise SignatureError("the SNS subscription could not be confirmed: SNS did not answer") from None
    if answer.status_code != 200:
        raise SignatureError(f"the SNS subscription could not be confirmed (HTTP {answer.status_code})")
    logger.info("confirmed the SNS subscription to %s", message.get("TopicArn"))


router = Router(
    "/webhooks",
    route_handlers=[sendgrid, mailgun, postmark, ses],
    dependencies=dependencies(),
    tags=["feedback"],
)
