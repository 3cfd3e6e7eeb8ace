"""The hand-written pipeline of the E2E benchmark: event in, mail out, and nothing else.

What a developer would write for exactly one scenario ("on order.paid, send this email"),
as lean as it goes, in one process on the same event loop as `scn serve` (uvloop):

* an asyncio HTTP/1.1 server: `POST /api/events` (a JSON list of events, or one; the API
  key in X-API-Key) decodes the events with msgspec and answers 202 with their ids once
  they are committed; requests that arrive together share a commit (group commit);
* aiosqlite with scn's durability (WAL, synchronous=FULL): an `events` table (key
  unique), an `outbox` table;
* a processor: reads the events not processed yet, renders the same Jinja template
  (autoescaped; money by Babel in the contact's language), makes its text part, puts
  every http(s) link behind `/c/<token>` signed with HMAC-SHA256 and adds an open
  pixel, and writes the outbox rows and the events' processed mark in one transaction;
* a sender over C aiosmtplib connections: builds the MIME bytes (multipart/alternative,
  text and HTML in base64, the subject as an RFC 2047 word, List-Unsubscribe) and sends;
  the outcomes are committed in groups (every outcome on disk, none waited for).

It keeps no run state, no step log, no contact or order records, no frequency caps or
reports: the floor under any engine that does this with the same durability.

Run: python bench/e2e_reference.py --port P --db PATH --smtp-port S --workspace DIR
     --api-key K --secret S --public-url URL [--connections C]   (bench_e2e.py starts it)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import html
import json
import re
import secrets
import sys
import time
from decimal import Decimal
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import aiosqlite
import jinja2
import msgspec
from babel import Locale, numbers

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, type TEXT NOT NULL, contact_id TEXT NOT NULL,
  received_at INTEGER NOT NULL, payload TEXT NOT NULL, processed_at INTEGER);
CREATE INDEX IF NOT EXISTS events_pending ON events (id) WHERE processed_at IS NULL;
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL, recipient TEXT NOT NULL, message TEXT NOT NULL,
  status TEXT NOT NULL, created_at INTEGER NOT NULL, sent_at INTEGER);
"""


class Item(msgspec.Struct, kw_only=True):
    name: str
    quantity: Decimal = Decimal(1)
    price: Decimal | None = None
    total: Decimal | None = None
    product_id: str | None = None
    url: str | None = None


class Order(msgspec.Struct, kw_only=True):
    id: str
    number: str | None = None
    total: Decimal | None = None
    currency: str | None = None
    items: list[Item] = []


class Contact(msgspec.Struct, kw_only=True):
    id: str
    email: str | None = None
    first_name: str | None = None
    language: str | None = None


class Event(msgspec.Struct, kw_only=True):
    type: str
    key: str
    contact: Contact
    order: Order | None = None


_decode_events = msgspec.json.Decoder(Event | list[Event]).decode
_decode_event = msgspec.json.Decoder(Event).decode
_encode = msgspec.json.Encoder().encode
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
# The text part: hidden elements out, links spelled out, blocks on lines of their own.
_HIDDEN = re.compile(r"<(head|style|script|title)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_LINK = re.compile(r"""<a\b[^>]*?\bhref\s*=\s*["']([^"']*)["'][^>]*>(.*?)</a\s*>""", re.IGNORECASE | re.DOTALL)
_BLOCK = re.compile(r"<\s*/?\s*(?:br|p|div|tr|h[1-6]|li|table)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def text_of(markup: str) -> str:
    markup = _HIDDEN.sub("", markup)
    markup = _LINK.sub(lambda m: f"{_TAG.sub('', m.group(2)).strip()} ({m.group(1)})", markup)
    markup = _TAG.sub("", _BLOCK.sub("\n", markup))
    lines = (" ".join(line.split()) for line in html.unescape(markup).splitlines())
    return "\n".join(line for line in lines if line) + "\n"


class Pipeline:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.secret = args.secret.encode()
        self.base = args.public_url.rstrip("/")
        folder = Path(args.workspace)
        environment = jinja2.Environment(autoescape=True)
        environment.filters["money"] = self._money
        self.template = environment.from_string((folder / "thanks.html").read_text(encoding="utf-8"))
        self.subject = environment.from_string("Thank you, {{ contact.first_name }}!")
        self.locales: dict[str, Locale] = {}
        self.db: aiosqlite.Connection | None = None
        self.intake: list[tuple[list[tuple[Any, ...]], asyncio.Future[list[int]]]] = []
        self.intake_ready = asyncio.Event()
        self.work = asyncio.Event()
        self.queue: asyncio.Queue[tuple[int, str, dict[str, str]]] = asyncio.Queue()
        self.outcomes: list[tuple[int, int]] = []
        self.outcome_ready = asyncio.Event()
        #: The language and currency of the message being rendered (for `money`).
        self.language = "en"
        self.currency = "XXX"
        #: One connection: one transaction at a time.
        self.lock = asyncio.Lock()

    def _money(self, value: Any) -> str:
        locale = self.locales.get(self.language)
        if locale is None:
            locale = self.locales[self.language] = Locale.parse(self.language)
        return numbers.format_currency(value, self.currency, locale=locale)

    # ------------------------------------------------------------ HTTP

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if path == "/healthz":
                    status, answer = 200, b'{"status":"ok"}'
                elif method == "POST" and path == "/api/events":
                    if not hmac.compare_digest(headers.get("x-api-key", "").encode(), self.args.api_key.encode()):
                        status, answer = 401, b'{"title":"missing or wrong API key"}'
                    else:
                        status, answer = await self.accept(body)
                else:
                    status, answer = 404, b'{"title":"not found"}'
                writer.write(
                    f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(answer)}\r\n\r\n"
                    .encode() + answer
                )  # fmt: skip
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def accept(self, body: bytes) -> tuple[int, bytes]:
        try:
            decoded = _decode_events(body)
        except msgspec.ValidationError as error:
            return 422, _encode({"title": str(error)})
        events = decoded if isinstance(decoded, list) else [decoded]
        now = int(time.time() * 1000)
        rows = [(e.key, e.type, e.contact.id, now, _encode(e).decode()) for e in events]
        done: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self.intake.append((rows, done))
        self.intake_ready.set()
        ids = await done
        return 202, _encode(
            {"accepted": [{"key": e.key, "id": i, "duplicate": False} for e, i in zip(events, ids, strict=True)]}
        )

    async def commit_intake(self) -> None:
        """Every request waiting, in one transaction (group commit)."""
        assert self.db is not None
        while True:
            await self.intake_ready.wait()
            self.intake_ready.clear()
            waiting, self.intake = self.intake, []
            results = []
            rows = [row for batch, _ in waiting for row in batch]
            async with self.lock:
                await self.db.execute("BEGIN IMMEDIATE")
                await self.db.executemany(
                    "INSERT INTO events (key, type, contact_id, received_at, payload) VALUES (?, ?, ?, ?, ?)", rows
                )
                # One writer, rowids given in turn: the rows took the ids up to the last one.
                async with self.db.execute("SELECT last_insert_rowid()") as cursor:
                    last = int((await cursor.fetchone() or (0,))[0])
                await self.db.commit()
            first = last - len(rows) + 1
            for batch, _ in waiting:
                results.append(list(range(first, first + len(batch))))
                first += len(batch)
            for (_, done), ids in zip(waiting, results, strict=True):
                done.set_result(ids)
            self.work.set()

    # ------------------------------------------------------------ processing

    def sign(self, kind: str, key: str, index: int) -> str:
        digest = hmac.digest(self.secret, f"{kind}\x1f{key}\x1f{index}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def render(self, event_id: int, payload: str) -> tuple[str, dict[str, str]]:
        event = _decode_event(payload)
        self.language = event.contact.language or "en"
        self.currency = (event.order.currency if event.order else None) or "XXX"
        contact = event.contact
        unsubscribe = f"{self.base}/unsubscribe/{contact.id}/{self.sign('u', contact.id, 0)}"
        context = {"contact": contact, "order": event.order, "purchased": event.order.items if event.order else [],
                   "unsubscribe_url": unsubscribe}  # fmt: skip
        markup = self.template.render(context)
        key = f"{event_id}"
        links: list[str] = []

        def tracked(match: re.Match[str]) -> str:
            url = match.group(3)
            if url.startswith(self.base + "/unsubscribe/"):
                return match.group(0)
            links.append(url)
            token = f"{key}.{len(links) - 1}.{self.sign('c', key, len(links) - 1)}"
            return f"{match.group(1)}{match.group(2)}{self.base}/c/{token}{match.group(2)}"

        plain = text_of(markup)  # the real URLs: the text part is not tracked
        body = _HREF.sub(tracked, markup)
        pixel = f'<img src="{self.base}/o/{key}.0.{self.sign("o", key, 0)}" width="1" height="1" alt="">'
        body = body.replace("</body>", pixel + "</body>", 1)
        message = {"subject": self.subject.render(context), "html": body, "plain": plain,
                   "unsubscribe": context["unsubscribe_url"], "links": json.dumps(links)}  # fmt: skip
        return event.contact.email or "", message

    async def process(self) -> None:
        assert self.db is not None
        while True:
            await self.work.wait()
            self.work.clear()
            while True:
                async with (
                    self.lock,
                    self.db.execute(
                        "SELECT id, payload FROM events WHERE processed_at IS NULL ORDER BY id LIMIT 500"
                    ) as cursor,
                ):
                    due = list(await cursor.fetchall())
                if not due:
                    break
                now = int(time.time() * 1000)
                made = [(event_id, *self.render(event_id, payload)) for event_id, payload in due]
                async with self.lock:
                    await self.db.execute("BEGIN IMMEDIATE")
                    await self.db.executemany(
                        "INSERT INTO outbox (event_id, recipient, message, status, created_at) "
                        "VALUES (?, ?, ?, 'pending', ?)",
                        [
                            (event_id, recipient, _encode(message).decode(), now)
                            for event_id, recipient, message in made
                        ],
                    )
                    async with self.db.execute("SELECT last_insert_rowid()") as cursor:
                        last = int((await cursor.fetchone() or (0,))[0])
                    await self.db.executemany(
                        "UPDATE events SET processed_at = ? WHERE id = ?", [(now, event_id) for event_id, *_ in due]
                    )
                    await self.db.commit()
                first = last - len(made) + 1
                queued = [(first + n, recipient, message) for n, (_, recipient, message) in enumerate(made)]
                for entry in queued:
                    self.queue.put_nowait(entry)

    # ------------------------------------------------------------ sending

    def mime(self, outbox_id: int, recipient: str, message: dict[str, str]) -> bytes:
        subject = message["subject"]
        if not subject.isascii():
            subject = f"=?utf-8?b?{base64.b64encode(subject.encode()).decode()}?="
        boundary = f"b-{outbox_id}-{secrets.token_hex(8)}"
        headers = (
            f"From: Shop <shop@example.com>\r\nTo: {recipient}\r\nSubject: {subject}\r\n"
            f"Date: {format_datetime(dt.datetime.now(dt.UTC))}\r\nMessage-ID: <{outbox_id}@example.com>\r\n"
            f"MIME-Version: 1.0\r\nList-Unsubscribe: <{message['unsubscribe']}>\r\n"
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
        )

        def part(kind: str, text: str) -> bytes:
            encoded = base64.encodebytes(text.encode()).replace(b"\n", b"\r\n")
            return f'--{boundary}\r\nContent-Type: text/{kind}; charset="utf-8"\r\n' \
                   f"Content-Transfer-Encoding: base64\r\n\r\n".encode() + encoded  # fmt: skip

        return (headers.encode() + part("plain", message["plain"]) + part("html", message["html"])
                + f"--{boundary}--\r\n".encode())  # fmt: skip

    async def send(self) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=self.args.smtp_port, start_tls=False)
        await client.connect()
        while True:
            outbox_id, recipient, message = await self.queue.get()
            await client.sendmail("shop@example.com", [recipient], self.mime(outbox_id, recipient, message))
            self.outcomes.append((int(time.time() * 1000), outbox_id))
            self.outcome_ready.set()

    async def record(self) -> None:
        """The outcomes that came in meanwhile, in one transaction."""
        assert self.db is not None
        while True:
            await self.outcome_ready.wait()
            self.outcome_ready.clear()
            done, self.outcomes = self.outcomes, []
            async with self.lock:
                await self.db.execute("BEGIN IMMEDIATE")
                await self.db.executemany("UPDATE outbox SET status = 'sent', sent_at = ? WHERE id = ?", done)
                await self.db.commit()

    async def run(self) -> None:
        self.db = await aiosqlite.connect(self.args.db, isolation_level=None)
        await self.db.execute("PRAGMA journal_mode = WAL")
        await self.db.execute("PRAGMA synchronous = FULL")
        await self.db.executescript(SCHEMA)
        tasks = [asyncio.create_task(t) for t in (self.commit_intake(), self.process(), self.record())]
        tasks += [asyncio.create_task(self.send()) for _ in range(self.args.connections)]
        server = await asyncio.start_server(self.serve_connection, "127.0.0.1", self.args.port)
        async with server:
            await asyncio.gather(server.serve_forever(), *tasks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--public-url", required=True)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        runner.run(Pipeline(args).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
