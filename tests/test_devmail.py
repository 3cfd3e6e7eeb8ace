"""The development mail sink of `scn serve --dev-smtp`: what it shows of each channel, and
the port it listens on."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from scn.server.options import DEV_SMTP_PORT

from .server_harness import Served, free_port, serving

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


def scn_serve(tmp_path: Path, *arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "scn", "serve", "--db", str(tmp_path / "scn.db"), "--port", str(free_port()),
         *arguments],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


@contextmanager
def busy(port: int | None = None) -> Iterator[int]:
    """A port something else listens on (``port``, if it is free; it may be busy already)."""
    with socket.socket() as taken:
        try:
            taken.bind(("127.0.0.1", port or 0))
            taken.listen()
        except OSError:
            assert port is not None
        yield port or int(taken.getsockname()[1])


def test_an_explicit_dev_smtp_port_that_is_busy_stops_serve(tmp_path: Path) -> None:
    with busy() as port:
        process = scn_serve(tmp_path, "--dev-smtp", "--dev-smtp-port", str(port))
        try:
            output, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:  # it went on serving: stop it, the assertions say the rest
                process.kill()
                output, _ = process.communicate()
    assert process.returncode == 2, output
    assert f"the development mail sink cannot listen on port {port}" in output
    assert "choose another --dev-smtp-port, or leave it out" in output
    assert "Traceback" not in output and not (tmp_path / "scn.db").exists(), "nothing was started"


def test_the_default_dev_smtp_port_moves_when_busy_and_says_where(tmp_path: Path) -> None:
    with busy(DEV_SMTP_PORT):
        process = scn_serve(tmp_path, "--dev-smtp")
        lines = []
        try:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if "development mail sink on" in line or len(lines) > 50:
                    break
        finally:
            process.send_signal(signal.SIGTERM)
            rest, _ = process.communicate(timeout=30)
    output = "".join(lines) + rest
    taken = re.search(r"port 2525 is in use: the development mail sink listens on port (\d+)", output)
    assert taken is not None, output
    assert f"development mail sink on smtp://127.0.0.1:{taken.group(1)}?starttls=off" in output
    assert process.returncode == 0, output
