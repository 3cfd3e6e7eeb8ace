"""DKIM signing of outgoing mail: mail received by a real SMTP server (aiosmtpd) verified
with dkimpy against the public key a DNS lookup stub serves."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from scn.stdlib.delivery.config import (
    ConfigError,
    DeliveryConfig,
    DkimSettings,
    EmailSettings,
    build_sender,
    load_delivery,
)

from .harness import Harness
from .smtp_server import SmtpServer

WORKSPACE = """
template hello email
  from "Магазин Демо" <shop@demo.example>
  reply to <help@demo.example>
  subject "Привіт, {{ contact.first_name }}! Zażółć gęślą jaźń, ķirsis"
  html "hello.html"
end

scenario hello "Hello"
  on contact.registered
  send email hello
end
"""
RESOURCES = {"hello.html": "<p>Вітаємо, {{ contact.first_name }}! <a href='{{ unsubscribe_url }}'>x</a></p>"}
DNS_NAME = b"scn2025._domainkey.demo.example."

Dns = Callable[..., bytes | None]


def _key(path: Path) -> bytes:
    """Writes an RSA private key (PEM) to ``path``; the DNS TXT record of its public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))  # fmt: skip
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def _dns(record: bytes, asked: list[bytes]) -> Dns:
    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        asked.append(name)
        return record if name == DNS_NAME else None

    return lookup


async def _deliver(email: EmailSettings, server: SmtpServer, contacts: dict[str, str]) -> list[bytes]:
    """The bytes the server received for a registration of each of ``contacts`` (id: email)."""
    async with Harness(WORKSPACE, resources=RESOURCES) as h:
        events = [
            h.event("contact.registered", c, person={"first_name": "Олена", "email": e}) for c, e in contacts.items()
        ]
        await h.play(events)
        sender = build_sender(h.store, h.clock, DeliveryConfig(email=email), "test")
        assert await sender.deliver_due() == len(contacts)
        await sender.close()
    assert len(server.handler.raw) == len(contacts)
    return server.handler.raw


@pytest.fixture
def signing(tmp_path: Path) -> tuple[DkimSettings, bytes]:
    record = _key(tmp_path / "dkim.pem")
    return DkimSettings(domain="demo.example", selector="scn2025", key_file=str(tmp_path / "dkim.pem")), record


async def test_received_mail_verifies_and_any_change_breaks_it(signing: tuple[DkimSettings, bytes]) -> None:
    settings, record = signing
    asked: list[bytes] = []
    dns = _dns(record, asked)
    with SmtpServer(enable_SMTPUTF8=True) as server:
        email = EmailSettings(url=server.url, dkim=settings)
        received = await _deliver(email, server, {"olena": "olena@example.com", "vasya": "Вася@пример.рф"})
    for raw in received:
        assert raw.startswith(b"DKIM-Signature: ")
        assert dkim.verify(raw, dnsfunc=dns) is True, raw[:400]
        tags = dict(
            part.strip().split(b"=", 1)
            for part in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\nFrom:", 1)[0].replace(b"\r\n", b"").split(b";")
            if b"=" in part
        )
        assert (tags[b"d"], tags[b"s"], tags[b"a"], tags[b"c"]) == (b"demo.example", b"scn2025", b"rsa-sha256",
                                                                     b"relaxed/relaxed")  # fmt: skip
        signed = [h.strip() for h in tags[b"h"].replace(b" ", b"").split(b":")]
        assert signed[:4] == [b"from", b"to", b"subject", b"date"] and b"list-unsubscribe" in signed
        # Changed on the way, it no longer verifies: the body, the subject, the sender.
        head, body = raw.split(b"\r\n\r\n", 1)
        assert dkim.verify(head + b"\r\n\r\n" + body.replace(b"\r\n\r\n", b"\r\n\r\nX", 1), dnsfunc=dns) is False
        assert dkim.verify(raw.replace(b"Subject: =?utf-8?b?", b"Subject: =?utf-8?b?0J", 1), dnsfunc=dns) is False
        assert dkim.verify(raw.replace(b"shop@demo.example", b"shop@evil.example", 1), dnsfunc=dns) is False
        # Cc is not signed: adding one keeps the signature; a second Reply-To (the one readers take) breaks it.
        assert dkim.verify(head + b"\r\nCc: x@y.example\r\n\r\n" + body, dnsfunc=dns) is True
        assert dkim.verify(head + b"\r\nReply-To: x@y.example\r\n\r\n" + body, dnsfunc=dns) is False
    assert set(asked) == {DNS_NAME}
    # The internationalised address went as UTF-8 (SMTPUTF8) and is signed as it went.
    utf8 = next(raw for raw in received if "Вася@пример.рф".encode() in raw.split(b"\r\n\r\n", 1)[0])
    assert dkim.verify(utf8, dnsfunc=dns) is True
    # Another key published under the name: not the signer's.
    other = _key(Path(settings.key_file).with_name("other.pem"))
    assert dkim.verify(received[0], dnsfunc=_dns(other, [])) is False


async def test_without_a_key_mail_goes_unsigned() -> None:
    with SmtpServer() as server:
        (raw,) = await _deliver(EmailSettings(url=server.url), server, {"olena": "olena@example.com"})
    assert b"DKIM-Signature" not in raw


def _settings_file(tmp_path: Path, dkim_table: str) -> Path:
    path = tmp_path / "delivery.toml"
    path.write_text(f'[email]\nurl = "smtp://127.0.0.1:25"\n\n[email.dkim]\n{dkim_table}', encoding="utf-8")
    return path


def test_settings_from_toml_sign_with_the_headers_given(tmp_path: Path) -> None:
    record = _key(tmp_path / "k.pem")
    table = 'domain = "demo.example"\nselector = "scn2025"\nkey_file = "k.pem"\n'  # beside the settings file
    path = _settings_file(tmp_path, table + 'headers = ["From", "Subject", "Reply-To"]\n')
    config = load_delivery(path, {})
    assert config.email is not None and config.email.dkim is not None
    signed = config.email.dkim.signer().sign(b"From: a@demo.example\r\nSubject: Hi\r\nTo: b@c.example\r\n\r\nHello\r\n")
    assert b"h=from : subject : reply-to;" in signed.replace(b"\r\n", b"")
    dns = _dns(record, [])
    assert dkim.verify(signed, dnsfunc=dns) is True
    # Reply-To was signed as absent: nobody on the way can add one; To was not signed.
    assert dkim.verify(signed.replace(b"\r\nTo: ", b"\r\nReply-To: x@evil.example\r\nTo: "), dnsfunc=dns) is False
    assert dkim.verify(signed.replace(b"To: b@c.example", b"To: d@c.example"), dnsfunc=dns) is True


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('domain = "demo.example"\nselector = "s"\nkey_file = "{bad}"\n',
         r"email\.dkim\.key_file: .*bad\.pem is not an RSA private key in PEM"),
        ('domain = "demo.example"\nselector = "s"\nkey_file = "{ec}"\n',
         r"email\.dkim\.key_file: .*ec\.pem is not an RSA private key in PEM"),
        ('domain = "demo.example"\nselector = "s"\nkey_file = "{missing}"\n',
         r"email\.dkim\.key_file: cannot read .*missing\.pem: No such file"),
        ('domain = "demo.example"\nselector = "s"\nkey_file = "{good}"\nheaders = ["Subject"]\n',
         r"email\.dkim\.headers: headers must include From"),
        ('domain = "demo.example"\nselector = "s"\nkey_file = "{good}"\nheaders = ["From", "Received"]\n',
         r"email\.dkim\.headers: headers: 'received' cannot be signed"),
        ('domain = "пример.рф"\nselector = "s"\nkey_file = "{good}"\n', r"email\.dkim\.domain: .*A-labels"),
        ('domain = "demo.example"\nselector = ""\nkey_file = "{good}"\n', r"email\.dkim\.selector: "),
        ('domain = "demo.example"\nkey_file = "{good}"\n', r"missing required field `selector` - at `\$\.email\.dkim`"),
    ],
)  # fmt: skip
def test_settings_that_cannot_sign_are_refused_at_start_naming_the_setting(
    tmp_path: Path, table: str, message: str
) -> None:
    _key(tmp_path / "good.pem")
    (tmp_path / "bad.pem").write_text("-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pem = ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())  # fmt: skip
    (tmp_path / "ec.pem").write_bytes(pem)
    names = {n: tmp_path / f"{n}.pem" for n in ("bad", "ec", "missing", "good")}
    path = _settings_file(tmp_path, table.format(**names))
    with pytest.raises(ConfigError, match=message) as raised:
        load_delivery(path, {})
    assert str(raised.value).startswith(f"{path}: delivery settings: ")
    assert "Traceback" not in str(raised.value) and "<class" not in str(raised.value)
