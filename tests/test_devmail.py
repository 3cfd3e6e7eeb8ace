"""The development mail sink of `scn serve --dev-smtp`: what it shows of each channel, and
the port it listens on."""

from __future__ import annotations

import asyncio
import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from .server_harness import Served, serving

BOTH = """
template thanks email
  from "Магазин" <shop@example.com>
  subject "Дякуємо, {{ contact.first_name }}!"
  html "thanks.html"
end

template thanks_sms sms
  from "Shop"
  text "Дякуємо, {{ contact.first_name }}! Замовлення {{ order.id }} оплачено."
end

scenario thanks "Thank buyers"
  on order.paid
  entry at most 1 per order
  send email thanks
  send sms thanks_sms
end
"""
FILES = {"shop.scn": BOTH, "thanks.html": '<p>Hi {{ contact.first_name }} <a href="{{ unsubscribe_url }}">stop</a></p>'}
OLENA = {
    "type": "order.paid", "key": "p1",
    "contact": {"id": "olena", "email": "olena@example.ua", "phone": "+380501112233", "first_name": "Олена"},
    "order": {"id": "o1", "total": "120.50", "currency": "UAH"},
}  # fmt: skip


async def received(s: Served, count: int) -> list[dict[str, Any]]:
    """The sink's list once it holds ``count`` messages (read with the API key)."""
    for _ in range(500):
        listed: list[dict[str, Any]] = (await s.client.get("/dev/mails.json")).json()
        if len(listed) >= count:
            return listed
        await asyncio.sleep(0.02)
    raise AssertionError(f"the sink has {len(listed)} message(s), not {count}")


async def test_raw_is_the_mail_for_email_and_the_text_for_sms(tmp_path: Path) -> None:
    async with serving(tmp_path, FILES, dev_sink=True) as s:
        await s.client.post("/api/events", json=OLENA)
        listed = await received(s, 2)
        by_channel = {m["channel"]: m for m in listed}
        assert set(by_channel) == {"email", "sms"}, listed

        raw = await s.client.get(f"/dev/mails/{by_channel['email']['id']}/raw")
        assert raw.headers["content-type"] == "message/rfc822"
        mail = email.message_from_bytes(raw.content, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        assert mail["Subject"] == "Дякуємо, Олена!" and mail["To"] == "olena@example.ua"

        sms = by_channel["sms"]
        assert sms["to"] == ["+380501112233"] and sms["subject"].startswith("[sms] Дякуємо, Олена!")
        raw = await s.client.get(f"/dev/mails/{sms['id']}/raw")
        assert raw.headers["content-type"] == "text/plain; charset=utf-8"
        assert raw.text == "Дякуємо, Олена! Замовлення o1 оплачено."
        page = (await s.client.get(f"/dev/mails/{sms['id']}")).text
        assert f'<a href="/dev/mails/{sms["id"]}/raw">text</a>' in page
