"""Email over SMTP (aiosmtplib): building the message and a pool of reused connections.

Every message is multipart/alternative (text and HTML; the text derived from the HTML
when the template has none), with Message-ID, Date, From with a display name, Reply-To,
and one-click unsubscribe (RFC 8058): `List-Unsubscribe` with the signed HTTPS link and
a mailto, plus `List-Unsubscribe-Post`. Non-ASCII names and subjects are encoded as
RFC 2047 words. Internationalised addresses (`stdlib.addresses`) go with their domain in
IDNA A-labels; one whose local part is not ASCII goes with SMTPUTF8 (RFC 6531, its
headers in UTF-8 as RFC 6532 allows) where the server offers it, and fails at once
(class `address`, or `configuration` for our own sender) where it does not.

How SMTP answers are read (one recipient per message, so a refusal of the recipient is
that message's; `reply_kind` decides from the reply's code and its enhanced status code,
RFC 3463, what the reply is about):

* a 5xx reply about the recipient's mailbox (5.1.1 no such user, 5.1.2 no such domain,
  5.1.3 bad address, 5.1.6 moved, 5.1.10 null MX, 5.2.1 disabled; without an enhanced
  code, 550/551/553 to RCPT) is a hard bounce: the message is undeliverable and the
  address suppressed (`Outcome.suppress`);
* a 5xx reply about us, not the recipient (530/535 authentication required, 5.7.0/5.7.8
  authentication, relaying denied, 5.1.7/5.1.8 our sender's address), to whatever
  command, is the operator's configuration: temporary, so that fixing the settings
  delivers what waited, and the recipient is never suppressed for it;
* other 5xx replies (content or policy refused, mailbox full, message too large) are
  permanent for this message only;
* 4xx replies, timeouts and dropped connections are temporary: try again later; a 4xx
  reply about the recipient's mailbox is a soft bounce once the message is given up;
* a refusal before any message is named (at the greeting, of EHLO and HELO) is about our
  connection, and an answer that is no SMTP reply (the wrong host or port) the operator's:
  both temporary, never the message's failure.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import functools
import logging
import re
import secrets
import urllib.parse
from collections.abc import Callable
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from typing import Literal, NamedTuple

import aiosmtplib
import msgspec

from ...interpreter.store import OutboxRow
from ..addresses import Mailbox, mailbox
from ..failures import ADDRESS, CONFIGURATION, REFUSED, address_problem, is_email_address, plain_reason
from .base import HeaderError, Outcome, Ready, content, failed, header_value, retry, sent

logger = logging.getLogger("scn.delivery.email")


class SmtpConfig(msgspec.Struct, frozen=True, kw_only=True):
    host: str = "localhost"
    port: int = 25
    username: str | None = None
    password: str | None = None
    #: "tls" (implicit, smtps), "starttls" (required), "auto" (if offered), "off".
    security: str = "auto"
    verify: bool = True
    #: A CA bundle to verify the server's certificate with (a private CA), else the system's.
    cafile: str | None = None
    #: Connections kept open and used in parallel.
    connections: int = 4
    timeout_s: float = 30.0

    @classmethod
    def from_url(cls, url: str, **overrides: object) -> SmtpConfig:
        """`smtp://user:pass@host:587?starttls=require&connections=8&timeout=20`, or `smtps://...`.

        `starttls` is `auto` (use it when the server offers it; the default), `require`
        or `off`; `cafile=PATH` trusts a private CA; `verify=off` accepts any certificate
        (test servers only)."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP URL {url!r}: the scheme must be smtp:// or smtps://")
        query = dict(urllib.parse.parse_qsl(parts.query))
        starttls = query.get("starttls", "auto")
        if starttls not in ("auto", "require", "off"):
            raise ValueError(f"SMTP URL {url!r}: starttls must be auto, require or off")
        security = "tls" if parts.scheme == "smtps" else {"require": "starttls"}.get(starttls, starttls)
        values: dict[str, object] = {
            "host": parts.hostname or "localhost",
            "port": parts.port or (465 if security == "tls" else 587 if security == "starttls" else 25),
            "username": urllib.parse.unquote(parts.username) if parts.username else None,
            "password": urllib.parse.unquote(parts.password) if parts.password else None,
            "security": security,
            "verify": query.get("verify", "on") not in ("off", "0", "false", "no"),
            "cafile": query.get("cafile") or None,
        }
        if "connections" in query:
            values["connections"] = int(query["connections"])
        if "timeout" in query:
            values["timeout_s"] = float(query["timeout"])
        values.update(overrides)
        return msgspec.convert(values, cls)

    def client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.security == "tls",
            start_tls={"starttls": True, "off": False, "tls": False}.get(self.security),
            validate_certs=self.verify,
            cert_bundle=self.cafile,
            timeout=self.timeout_s,
        )


class MailDefaults(msgspec.Struct, frozen=True, kw_only=True):
    """What a template that does not say gets: sender, and where mailto unsubscribes go."""

    from_name: str | None = "scn"
    from_address: str = "scn@localhost"
    #: The mailbox of the `List-Unsubscribe` mailto; default `unsubscribe@` the sender's domain.
    unsubscribe_mailbox: str | None = None


class Mime(NamedTuple):
    """A message ready for SMTP: its envelope, and the bytes of the message."""

    sender: str
    data: bytes
    recipient: str = ""
    #: The headers whose address has a non-ASCII local part ("From", "To", "Reply-To"):
    #: the message needs a server that offers SMTPUTF8, and its headers are UTF-8.
    international: tuple[str, ...] = ()


@functools.lru_cache(maxsize=512)
def _named(display: str | None, address: str, what: str) -> tuple[str | None, Mailbox]:
    """The display name and mailbox of a sender or reply-to address, written bare or as
    `Name <address>`. Raises HeaderError when it is not an address.

    Kept for the senders and reply-to addresses templates use over and over: the
    standard library's parsing of a name costs ~100 µs a message."""
    header_value(what, display)
    header_value(what, address)
    box = mailbox(address)
    if box is None:
        name, bare = parseaddr(address)
        box = mailbox(bare) if is_email_address(address) else None
        if box is None:
            raise HeaderError(f"{what} {address!r} is not an email address")
        display = display or name or None
    return display, box


@functools.lru_cache(maxsize=512)
def _address(display: str | None, box: Mailbox, utf8: bool) -> str:
    """A header's address: the display name RFC 2047-encoded when not ASCII; the domain
    in A-labels, unless the message goes as UTF-8 (SMTPUTF8), where it is as people
    write it."""
    address = box.unicode if utf8 else box.ascii
    if not display:
        return address
    if address.isascii():
        return formataddr((display, address), charset="utf-8")
    # The standard library writes only ASCII addresses: the name is written its way all the same.
    return formataddr((display, "_@_"), charset="utf-8").removesuffix("<_@_>") + f"<{address}>"


#: The longest UTF-8 run one encoded word holds: `=?utf-8?b?` + base64 + `?=` <= 75 characters.
_WORD_BYTES = 45


def _encoded(name: str, text: str) -> str:
    """A header value: as it is when ASCII and short, else folded RFC 2047 encoded words.

    Non-ASCII text becomes base64 encoded words of whole characters, one per folded line,
    the first fitting after `Name: `; readers join adjacent words without the space that
    folds them (RFC 2047 6.2), so the text decodes back exactly. The standard library's
    `Header` does the same in ~150 µs per subject (measured), this in a tenth of that."""
    header_value(name, text)
    if text.isascii():
        if len(name) + len(text) < 76:
            return text
        return Header(text, "utf-8", header_name=name).encode(linesep="\r\n")  # folded at spaces
    first = max(3, 3 * ((76 - len(name) - 2 - 12) // 4))  # what the first line holds after "Name: "
    words: list[str] = []
    chunk = bytearray()
    room = first
    for char in text:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > room:
            words.append(f"=?utf-8?b?{base64.b64encode(chunk).decode()}?=")
            chunk.clear()
            room = _WORD_BYTES
        chunk += encoded
    words.append(f"=?utf-8?b?{base64.b64encode(chunk).decode()}?=")
    return "\r\n ".join(words)


@functools.lru_cache(maxsize=4)
def _date(second: dt.datetime, offset: dt.timedelta | None) -> str:
    """The Date header's value for a moment without its microseconds (RFC 5322 dates
    have whole seconds): the mails of one second share it instead of formatting it again.
    Keyed by the offset too: the same instant in two offsets is equal, not written alike."""
    return format_datetime(second)


#: A base64 body's lines: 76 characters and CRLF (RFC 2045), as `base64.encodebytes` cuts them.
_BASE64_LINE = re.compile(rb".{1,76}", re.DOTALL)


def _part(kind: str, text: str) -> bytes:
    # One encoding and one cut into lines, where `encodebytes` encodes line by line.
    encoded = binascii.b2a_base64(text.encode("utf-8"), newline=False)
    body = b"\r\n".join(_BASE64_LINE.findall(encoded)) + b"\r\n" if encoded else b""
    return (f'Content-Type: text/{kind}; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n').encode() + body


def build_email(message: OutboxRow, defaults: MailDefaults, now: dt.datetime) -> Mime:
    """The MIME bytes of an outbox email: multipart/alternative (text, then HTML), every
    header CRLF-free and ASCII (names and subjects as encoded words, domains as IDNA
    A-labels), but for the addresses of a message that needs SMTPUTF8 (a non-ASCII local
    part), which are UTF-8 (RFC 6532). Raises HeaderError on unsafe header text.

    Written directly rather than through `email.message.EmailMessage`, whose header
    objects cost ~2.4 ms per message and its flattening ~1.4 ms more (measured)."""
    parts = content(message)
    from_name, sender = _named(
        parts.get("from_name") or (None if parts.get("from_address") else defaults.from_name),
        parts.get("from_address") or defaults.from_address,
        "From",
    )
    _, recipient = _named(None, message.recipient, "To")
    reply_to = _named(None, parts["reply_to"], "Reply-To")[1] if parts.get("reply_to") else None
    boxes = (("From", sender), ("To", recipient), ("Reply-To", reply_to))
    international = tuple(what for what, box in boxes if box is not None and box.needs_smtputf8)
    utf8 = bool(international)
    domain = sender.ascii_domain
    headers = [
        f"From: {_address(from_name, sender, utf8)}",
        f"To: {_address(None, recipient, utf8)}",
        # Readers drop the spaces around a plain subject anyway: drop them for every subject.
        f"Subject: {_encoded('Subject', (parts.get('subject') or '').strip())}",
        f"Date: {_date(now.replace(microsecond=0), now.utcoffset())}",
        f"Message-ID: <scn.{message.id}.{message.created_at}@{domain}>",
        "MIME-Version: 1.0",
    ]
    if reply_to is not None:
        headers.append(f"Reply-To: {_address(None, reply_to, utf8)}")
    unsubscribe = header_value("List-Unsubscribe", parts.get("unsubscribe_url"))
    if unsubscribe:
        # A URI is ASCII: a non-ASCII mailbox is percent-encoded UTF-8 (RFC 6068).
        to = urllib.parse.quote(defaults.unsubscribe_mailbox or f"unsubscribe@{domain}", safe="@")
        query = f"subject=unsubscribe&body={urllib.parse.quote(unsubscribe, safe='')}"  # as `urlencode` writes it
        headers.append(f"List-Unsubscribe: <{unsubscribe}>,\r\n <mailto:{to}?{query}>")
        headers.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    if message.scenario:
        headers.append(f"X-Scn-Scenario: {_encoded('X-Scn-Scenario', message.scenario)}")
    plain = _part("plain", parts.get("plain") or parts.get("text") or "")
    if parts.get("html"):
        boundary = f"scn-{message.id}-{secrets.token_hex(8)}"
        headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        body = (f"--{boundary}\r\n".encode() + plain + f"\r\n--{boundary}\r\n".encode()
                + _part("html", parts["html"]) + f"\r\n--{boundary}--\r\n".encode())  # fmt: skip
        return Mime(sender.ascii, "\r\n".join(headers).encode() + b"\r\n\r\n" + body, recipient.ascii, international)
    return Mime(sender.ascii, "\r\n".join(headers).encode() + b"\r\n" + plain, recipient.ascii, international)


def _at_once() -> asyncio.Future[None] | None:
    return None


async def _data(client: aiosmtplib.SMTP, data: bytes, waiting: asyncio.Future[None] | None) -> None:
    """The message, once ``waiting`` is done (the record of the mail before is on disk):
    the server accepts a message only when its data ends, so at most one accepted mail
    per connection is ever unrecorded. The envelope (MAIL, RCPT) went before, meanwhile."""
    if waiting is not None:
        await waiting  # cancelled: the record before failed, and nothing more goes
    await client.data(data)


async def _greet(client: aiosmtplib.SMTP) -> None:
    """EHLO (HELO where it is refused) unless done: the server's extensions are known after."""
    if client.is_ehlo_or_helo_needed:
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            await client.helo()


def _without_smtputf8(mail: Mime, recipient: str) -> Outcome:
    """A message with an internationalised address, for a server that cannot take one."""
    why = "the mail server does not take internationalised addresses (it does not offer SMTPUTF8)"
    if mail.international == ("To",):
        return failed(f'{why}, and "{recipient}" is one: it cannot reach this contact', ADDRESS)
    ours = " and ".join(w for w in mail.international if w != "To")
    return failed(f"{why}, and the {ours} address is one: use an ASCII address there, or a server that "
                  "offers SMTPUTF8", CONFIGURATION)  # fmt: skip


#: An enhanced status code (RFC 3463) at the start of a reply's text: class.subject.detail.
_ENHANCED = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")
#: Enhanced codes that say the recipient's mailbox cannot be reached (RFC 3463, RFC 7505).
_MAILBOX = frozenset({(1, 1), (1, 2), (1, 3), (1, 4), (1, 6), (1, 10), (2, 1)})
#: Enhanced codes about our sender's address or our login: the operator's to fix.
_OURS = frozenset({(1, 7), (1, 8), (7, 0), (7, 8), (7, 9), (7, 11), (7, 14)})
#: Basic codes that refuse our login, whatever command they answer.
_LOGIN = frozenset({530, 535, 538})
#: Basic codes by which a refused recipient means its mailbox (RFC 5321 4.2.2: unavailable,
#: not local, name not allowed) when no enhanced code says more.
_MAILBOX_BASIC = frozenset({450, 550, 551, 553})
_RELAYING = re.compile(r"\brelay(ing)?\b.*\b(denied|not permitted|refused|prohibited)|\bnot allowed to relay", re.I)

#: What an SMTP refusal is about: the recipient's mailbox, our configuration, or the message.
ReplyKind = Literal["mailbox", "configuration", "message"]


#: The start of the reason of a message that waits for the operator's SMTP settings.
OUR_SETTINGS = "the server refuses our sender or login (check the SMTP settings)"


def reply_kind(code: int, text: str, *, at_recipient: bool) -> ReplyKind:
    """What a refusal (4xx or 5xx) is about, from its code and text: ``mailbox`` (the
    recipient's: a bounce), ``configuration`` (our login, relaying or sender address:
    never the recipient's fault) or ``message`` (this message only). ``at_recipient``:
    the reply answered RCPT (else DATA, where one recipient per message makes a mailbox
    reply that recipient's all the same)."""
    enhanced = _ENHANCED.match(text)
    status = (int(enhanced.group(2)), int(enhanced.group(3))) if enhanced else None
    if code in _LOGIN or status in _OURS:
        return "configuration"
    if status in _MAILBOX:
        return "mailbox"
    if _RELAYING.search(text):
        return "configuration"
    if status is None and at_recipient and code in _MAILBOX_BASIC:
        return "mailbox"
    return "message"


def _shown(text: str) -> str:
    """A server's reply as a reason shows it: on one line, without control characters, cut short."""
    line = " ".join(_CONTROLS.sub("?", text).split())
    return line if len(line) <= 200 else line[:200] + "…"


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _for_now(code: int, text: str) -> bool:
    """Whether a refusal of MAIL is the server's trouble of the moment (4xx, and not about
    our sender or login), rather than our settings."""
    return 400 <= code < 500 and reply_kind(code, text, at_recipient=False) != "configuration"


def _refused(code: int, text: str, *, at_recipient: bool) -> Outcome:
    detail = " ".join(f"{code} {text}".split())  # a multi-line reply on one line
    kind = reply_kind(code, text, at_recipient=at_recipient)
    if kind == "configuration":
        logger.error("the SMTP server refuses our login, relaying or sender: %s", detail)
        return retry(f"{OUR_SETTINGS}: {detail}")
    if 400 <= code < 500:
        return retry(f"the mail server refused for now: {detail}", soft_bounce=kind == "mailbox")
    if kind == "mailbox":
        return failed(f"the mail server refused the address: {detail}", ADDRESS, suppress=True)
    return failed(f"the mail server refused the message: {detail}", REFUSED)


#: The replies by which a server takes a recipient (RFC 5321: 250, or 251 forwarded).
_RCPT_TAKEN = frozenset({aiosmtplib.SMTPStatus.completed, aiosmtplib.SMTPStatus.will_forward})


class SmtpChannel:
    """Sends email through a pool of at most `connections` SMTP connections, reused."""

    def __init__(
        self, config: SmtpConfig, defaults: MailDefaults | None = None, sign: Callable[[bytes], bytes] | None = None
    ) -> None:
        """``sign`` turns a built message's bytes into signed ones (DKIM: `signing.DkimSigner.sign`)."""
        self.config = config
        self.defaults = defaults or MailDefaults()
        self.sign = sign
        #: Messages sent at once, one per connection: the sender runs as many lanes.
        self.parallel = max(1, config.connections)
        self._slots = asyncio.Semaphore(self.parallel)
        self._idle: list[aiosmtplib.SMTP] = []
        #: Connections opened so far (a pool that works opens few).
        self.opened = 0

    async def send(self, message: OutboxRow) -> Outcome:
        return await self.send_after(message, _at_once)

    async def send_after(self, message: OutboxRow, ready: Ready) -> Outcome:
        """`send`, calling ``ready()`` once the server took the envelope (MAIL, RCPT) and
        awaiting what it returns before the data, at whose end the server accepts the
        message (aiosmtplib's public `data`)."""
        problem = address_problem("email", message.recipient)
        if problem is not None:
            return failed(problem, ADDRESS)
        try:
            mail = build_email(message, self.defaults, dt.datetime.now(dt.UTC))
            if self.sign is not None:  # the one place mail is signed: built, not yet sent
                mail = mail._replace(data=self.sign(mail.data))
        except (HeaderError, ValueError) as error:  # the sender's addresses or links: the operator's settings
            return failed(f"cannot build the email: {error}", CONFIGURATION)
        async with self._slots:
            client = self._idle.pop() if self._idle else self.config.client()
            keep = False
            try:
                if not client.is_connected:
                    self.opened += 1
                    await client.connect()
                await _greet(client)
                options = [f"SIZE={len(mail.data)}"] if client.supports_extension("size") else []
                encoding = "ascii"
                if mail.international:
                    if not client.supports_extension("smtputf8"):
                        keep = True
                        return _without_smtputf8(mail, message.recipient)
                    options.append("SMTPUTF8")  # RFC 6531: UTF-8 in the envelope and the headers
                    if client.supports_extension("8bitmime"):
                        options.append("BODY=8BITMIME")
                    encoding = "utf-8"
                # MAIL and RCPT as aiosmtplib's `mail` and `rcpt` write them, less their
                # `parseaddr` of addresses `build_email` took apart already (`stdlib.addresses`:
                # a dot-atom local part and a host name, so no space, `<`, `>`, quote or
                # control character); `execute_command` still refuses any control character.
                args = [option.encode("ascii") for option in options]
                reply = await client.execute_command(b"MAIL", b"FROM:<%s>" % mail.sender.encode(encoding), *args)
                if reply.code != aiosmtplib.SMTPStatus.completed:
                    if _for_now(reply.code, reply.message):  # 421 closing, 451 local error: the server's moment
                        return _refused(reply.code, reply.message, at_recipient=False)
                    raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, mail.sender)
                reply = await client.execute_command(b"RCPT", b"TO:<%s>" % mail.recipient.encode(encoding))
                if reply.code not in _RCPT_TAKEN:
                    await client.rset()
                    keep = True  # the session is fine: only this recipient was refused
                    return _refused(reply.code, reply.message, at_recipient=True)
                await _data(client, mail.data, ready())
                keep = True
                return sent()
            except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPAuthenticationError) as error:
                logger.error("the SMTP server refuses our sender or login: %s %s", error.code, error.message)
                return retry(f"{OUR_SETTINGS}: {' '.join(f'{error.code} {error.message}'.split())}")
            except aiosmtplib.SMTPResponseException as error:
                if error.code == aiosmtplib.SMTPStatus.invalid_response:  # garbage, or a line too long
                    return self._not_smtp(error.message)
                if isinstance(error, aiosmtplib.SMTPConnectResponseError | aiosmtplib.SMTPHeloError):
                    return self._turned_away(error.code, error.message)
                return _refused(error.code, error.message, at_recipient=False)
            except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError) as error:
                return retry(f"cannot reach the mail server at {self.config.host}:{self.config.port}: "
                             f"{plain_reason(error)}")  # fmt: skip
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                return retry(f"the connection to the mail server failed: {plain_reason(error)}")
            except (UnicodeError, ValueError):  # what the checks above let through, aiosmtplib refuses
                return failed(f'"{message.recipient}" cannot be written in an SMTP command', ADDRESS)
            finally:
                if keep and client.is_connected:
                    self._idle.append(client)
                else:
                    client.close()

    def _where(self) -> str:
        return f"the mail server at {self.config.host}:{self.config.port}"

    def _not_smtp(self, said: str) -> Outcome:
        """The server's answer is no SMTP reply: the wrong host or port (an HTTP or POP3
        server), the operator's to fix; the mail waits for it."""
        detail = f"{self._where()} does not answer in SMTP ({_shown(said)}): check the SMTP settings' host and port"
        logger.error("%s", detail)
        return retry(detail)

    def _turned_away(self, code: int, said: str) -> Outcome:
        """A refusal at the greeting or of EHLO and HELO: before any message was named, so
        about our connection (our address blocklisted, the server closing), never the mail's."""
        detail = f"{self._where()} turns our connection away: {_shown(f'{code} {said}')}"
        if code >= 500:
            logger.error("%s", detail)
        return retry(detail)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
