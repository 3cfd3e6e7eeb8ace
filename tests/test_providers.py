"""SMS, push and webhooks over real HTTP to a local stub provider; segment counting; settings."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from scn.interpreter.store import PENDING, SENT, UNDELIVERED
from scn.stdlib.delivery import RetryPolicy, Sender
from scn.stdlib.delivery.base import Channel
from scn.stdlib.delivery.config import ConfigError, build_channels, load_delivery
from scn.stdlib.delivery.http import HttpChannel, HttpProviderConfig, WebhookChannel, sms_segments, verify_signature

from .harness import Harness
from .http_stub import HttpStub

POLICY = RetryPolicy(first_delay_ms=60_000, max_delay_ms=600_000, max_age_ms=3_600_000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, ("gsm7", 1)),
        ("a" * 161, ("gsm7", 2)),
        ("a" * 306, ("gsm7", 2)),
        ("a" * 307, ("gsm7", 3)),
        ("{" * 80, ("gsm7", 1)),  # extension characters take two septets
        ("{" * 81, ("gsm7", 2)),
        ("Ä ö ü é €", ("gsm7", 1)),
        ("я" * 70, ("ucs2", 1)),
        ("я" * 71, ("ucs2", 2)),
        ("я" * 134, ("ucs2", 2)),
        ("я" * 135, ("ucs2", 3)),
        ("Laipni lūdzam", ("ucs2", 1)),  # ū is not in GSM-7
        ("Zażółć" + "a" * 64, ("ucs2", 1)),
        ("Zażółć" + "a" * 65, ("ucs2", 2)),
        ("🙂" * 35, ("ucs2", 1)),  # outside the BMP: two UTF-16 units each
        ("🙂" * 36, ("ucs2", 2)),
    ],
)
def test_sms_segments(text: str, expected: tuple[str, int]) -> None:
    assert sms_segments(text) == expected


SMS = """
template welcome_sms sms
  from "SkyShop"
  fallback uk
  lang uk
    text "Вітаємо у SkyShop, {{ contact.first_name }}! За кожне замовлення ви отримуєте бонуси. Гарного дня!"
  lang en
    text "Welcome to SkyShop, {{ contact.first_name }}!"
end

template sale push
  title "Sale"
  text "Up to 30% off, {{ contact.first_name }}"
  url "https://shop.example/sale"
end

scenario welcome "Welcome"
  on contact.registered
  send sms welcome_sms
end

scenario sale "Sale"
  on contact.active
  send push sale
  call webhook "https://crm.example.com/hook" with contact = contact.email, name = contact.first_name
end
"""


async def rows(h: Harness, channel: str) -> list[tuple[Any, ...]]:
    return await h.rows(
        "SELECT recipient, status, attempts, error, cost, parts FROM outbox WHERE channel = ? ORDER BY id", channel
    )


def person(phone: str, language: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"phone": phone, "language": language, "first_name": name, **extra}


async def test_sms_through_a_provider_with_segments_cost_and_auth() -> None:
    with HttpStub() as stub:
        config = HttpProviderConfig(url=f"{stub.base}/sms", headers={"Authorization": "Bearer k1"}, price="0.035 EUR")
        async with Harness(SMS) as h:
            await h.play([
                h.event("contact.registered", "oksana", person=person("+380501112233", "uk", "Оксана")),
                h.event("contact.registered", "bob", person=person("+15550001111", "en", "Bob")),
            ])  # fmt: skip
            channel = HttpChannel("sms", config)
            sender = Sender(h.store, h.clock, {"sms": channel}, policy=POLICY)
            assert await sender.deliver_due() == 2
            await channel.close()
            outbox = await rows(h, "sms")
    uk_text = "Вітаємо у SkyShop, Оксана! За кожне замовлення ви отримуєте бонуси. Гарного дня!"
    assert len(uk_text) > 70
    assert outbox == [
        ("+380501112233", SENT, 1, None, "0.070 EUR", 2),
        ("+15550001111", SENT, 1, None, "0.035 EUR", 1),
    ]
    requests = sorted(stub.to("/sms"), key=lambda r: str(r.json()["id"]))  # sent in parallel: any order
    assert [r.json() for r in requests] == [
        {"to": "+380501112233", "text": uk_text, "sender": "SkyShop", "id": requests[0].json()["id"]},
        {"to": "+15550001111", "text": "Welcome to SkyShop, Bob!", "sender": "SkyShop", "id": requests[1].json()["id"]},
    ]
    assert all(r.headers["authorization"] == "Bearer k1" for r in requests)
    assert all(r.headers["idempotency-key"] == r.json()["id"] for r in requests)


async def test_provider_errors_retry_refuse_and_time_out() -> None:
    with HttpStub() as stub:
        stub.replies["/sms"] = [(503, "down for maintenance", 0.0), (400, '{"error": "invalid number"}', 0.0)]
        config = HttpProviderConfig(url=f"{stub.base}/sms", timeout_s=0.5)
        async with Harness(SMS) as h:
            await h.play([h.event("contact.registered", "a", person=person("+380501", "en", "A"))])
            sender = Sender(h.store, h.clock, {"sms": HttpChannel("sms", config)}, policy=POLICY)
            await sender.deliver_due()
            (row,) = await rows(h, "sms")
            assert row[1:3] == (PENDING, 1) and "HTTP 503" in row[3]
            h.clock.advance_to(h.clock.now() + dt.timedelta(minutes=1))
            await sender.deliver_due()
            (row,) = await rows(h, "sms")
            assert row[1] == UNDELIVERED and "invalid number" in row[3]
            assert await h.rows("SELECT 1 FROM events WHERE type = 'message.bounced'") == [], "no suppression for SMS"

            stub.replies["/sms"] = [(200, "{}", 1.5)]
            await h.play([h.event("contact.registered", "b", person=person("+380502", "en", "B"))])
            await sender.deliver_due()
            row = (await rows(h, "sms"))[1]
            assert row[1] == PENDING and row[3] == f"the provider at {stub.base}/sms did not answer within 0.5s"
            await sender.close()


async def test_gone_push_token_is_suppressed() -> None:
    with HttpStub() as stub:
        stub.replies["/push"] = [(410, '{"error": "NotRegistered"}', 0.0)]
        hooks = f"{stub.base}/hook"
        async with Harness(SMS.replace("https://crm.example.com/hook", hooks)) as h:
            token = {"push_token": "tok-1", "first_name": "Ann"}
            await h.play([h.event("contact.active", "ann", person=token)])
            channels: dict[str, Channel] = {
                "push": HttpChannel("push", HttpProviderConfig(url=f"{stub.base}/push")),
                "webhook": WebhookChannel("hook-secret"),
            }
            sender = Sender(h.store, h.clock, channels, policy=POLICY)
            await sender.deliver_due()
            (row,) = await rows(h, "push")
            assert row[:2] == ("tok-1", UNDELIVERED) and "no longer valid" in row[3]
            assert [r[0] for r in await h.rows("SELECT type FROM events WHERE type = 'message.bounced'")] == [
                "message.bounced"
            ]
            await h.play([h.event("contact.active", "ann")])
            log = await h.rows("SELECT outcome, detail FROM step_log WHERE name LIKE 'send push%' ORDER BY id")
            assert log[-1] == ("skipped", "push unreachable (bounced)")
            await h.play([h.event("contact.active", "ann", person={"push_token": "tok-2"})])
            log = await h.rows("SELECT outcome FROM step_log WHERE name LIKE 'send push%' ORDER BY id")
            assert log[-1] == ("sent",), "a new token is tried again"
            await sender.close()
    pushed = stub.to("/push")[0].json()
    assert pushed["token"] == "tok-1" and pushed["title"] == "Sale" and pushed["body"] == "Up to 30% off, Ann"


async def test_webhook_is_signed_and_retried() -> None:
    with HttpStub() as stub:
        stub.replies["/hook"] = [(500, "oops", 0.0)]
        async with Harness(SMS.replace("https://crm.example.com/hook", f"{stub.base}/hook")) as h:
            await h.play([h.event("contact.active", "ann", person={"first_name": "Аня"})])
            sender = Sender(h.store, h.clock, {"webhook": WebhookChannel("hook-secret")}, policy=POLICY)
            await sender.deliver_due()
            assert (await rows(h, "webhook"))[0][1] == PENDING
            h.clock.advance_to(h.clock.now() + dt.timedelta(minutes=1))
            await sender.deliver_due()
            assert (await rows(h, "webhook"))[0][1:3] == (SENT, 2)
            await sender.close()
    first, second = stub.to("/hook")
    assert first.body == second.body and first.headers["idempotency-key"] == second.headers["idempotency-key"]
    body = second.json()
    assert body["contact"] == "ann@example.com" and body["name"] == "Аня" and body["scenario"] == "sale"
    assert verify_signature("hook-secret", second.headers["x-scn-signature"], second.body)
    assert not verify_signature("other-secret", second.headers["x-scn-signature"], second.body)
    assert not verify_signature("hook-secret", second.headers["x-scn-signature"], second.body + b" ")


async def test_custom_body_template_and_a_broken_one() -> None:
    with HttpStub() as stub:
        body = '{"msisdn": {{ to|tojson }}, "message": {{ text|tojson }}, "parts": {{ segments }}}'
        async with Harness(SMS) as h:
            await h.play([h.event("contact.registered", "a", person=person("+371200", "en", "A"))])
            good = HttpChannel("sms", HttpProviderConfig(url=f"{stub.base}/sms", body=body))
            assert await Sender(h.store, h.clock, {"sms": good}).deliver_due() == 1
            await h.play([h.event("contact.registered", "b", person=person("+371201", "en", "B"))])
            broken = HttpChannel("sms", HttpProviderConfig(url=f"{stub.base}/sms", body="{{ to }}, {{ text }}"))
            await Sender(h.store, h.clock, {"sms": broken}).deliver_due()
            row = (await rows(h, "sms"))[1]
            assert row[1] == PENDING and "body template" in row[3], "a configuration error keeps the message"
    assert stub.to("/sms")[0].json() == {"msisdn": "+371200", "message": "Welcome to SkyShop, A!", "parts": 1}
    assert len(stub.requests) == 1


async def test_a_channel_without_a_provider_fails_with_a_reason() -> None:
    async with Harness(SMS) as h:
        await h.play([h.event("contact.registered", "a", person=person("+371200", "en", "A"))])
        await Sender(h.store, h.clock, {}).deliver_due()
        (row,) = await rows(h, "sms")
        assert row[1] == UNDELIVERED and "no provider is configured for sms" in row[3]


def test_settings_from_toml_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "delivery.toml"
    path.write_text(
        '[email]\nurl = "smtp://localhost:2525"\nfrom = "Shop <shop@example.com>"\n\n'
        '[sms]\nurl = "https://sms.example.com/send"\nheaders = { Authorization = "Bearer x" }\nprice = "0.04 EUR"\n\n'
        '[retry]\nfirst_delay = "30s"\nmax_age = "2d"\n',
        encoding="utf-8",
    )
    config = load_delivery(path, {"SCN_SMTP_URL": "smtp://mail.internal:25"})
    assert config.email is not None and config.email.url == "smtp://mail.internal:25"
    assert config.email.sender == "Shop <shop@example.com>"
    policy = config.retry_policy()
    assert (policy.first_delay_ms, policy.max_age_ms) == (30_000, 172_800_000)
    channels = build_channels(config, "secret")
    assert sorted(channels) == ["email", "sms", "webhook"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[retry]\nfirst_delay = "soon"\n', "retry.first_delay: 'soon' is not a duration"),
        ('[sms]\nurl = "https://x"\nprise = "1 EUR"\n', "unknown field `prise`"),
        ('[email]\nurl = "http://x"\n', "smtp:// or smtps://"),
        ("[email\n", "not valid TOML"),
    ],
)
def test_bad_settings_say_where_and_what(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "delivery.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_delivery(path, {})
    assert str(error.value).startswith(str(path)) and message in str(error.value)


def test_outbox_message_json_is_what_the_provider_gets() -> None:
    # The runtime stores rendered parts as JSON; the provider body is built from them alone.
    from scn.interpreter.store import OutboxRow

    row = OutboxRow(
        id=7, run_id=1, step="s1", scenario="x", contact_id="c", channel="viber", template="t", recipient="+371",
        message=json.dumps({"text": "Sveiki!", "from_name": "Shop"}), coupon_code=None, variant=None,
        status="pending", attempts=1, next_attempt_at=0, created_at=0,
    )  # fmt: skip
    body, parts = HttpChannel("viber", HttpProviderConfig(url="http://unused")).body(row)
    assert json.loads(body) == {"to": "+371", "text": "Sveiki!", "sender": "Shop", "id": "scn-7"} and parts == 1
