"""Benchmark of email delivery (P6 of docs/BENCHMARKS.md).

A local SMTP sink (aiosmtpd, in its own process so that it does not share our GIL)
receives N messages twice, side by side in one run:

* scn: N messages in the outbox of an SQLite file, delivered by the sender `scn serve`
  builds from its settings (`build_sender`: its defaults, SCN_SMTP_URL to the sink; claim,
  build MIME, send, record; `deliver_all`, as its loop does);
* the reference: a bare aiosmtplib loop over as many connections sending the same N
  messages, each built (scn's `build_email`) inside the timed part just before it is
  sent, with nothing claimed or recorded.

Target: scn >= 0.8x the bare loop's rate.

Run: python bench/bench_email.py [--quick] [--connections C] [--json PATH]
(--connections: as `connections` in the delivery settings; default: scn's own default)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiosmtplib
import msgspec

from scn.interpreter.clock import WallClock
from scn.interpreter.store import SENT, Changes, ContactUpdate, OutboxIn, SqliteStore
from scn.stdlib.delivery.config import build_sender, load_delivery
from scn.stdlib.delivery.email import MailDefaults, SmtpConfig, build_email

SINK = """
import asyncio, sys
from aiosmtpd.controller import Controller
class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"""

MESSAGE = {
    "subject": "Дякуємо за замовлення, Олено!",
    "html": "<p>Дякуємо! <a href='https://shop.example/a'>Каталог</a></p>" * 20,
    "plain": "Дякуємо!\n" * 20,
    "from_name": "Магазин",
    "from_address": "shop@example.com",
    "unsubscribe_url": "https://shop.example/unsubscribe/email/x/y",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def fill_outbox(path: Path, count: int) -> SqliteStore:
    store = SqliteStore(str(path))
    await store.open()
    now = int(time.time() * 1000)
    contacts = [ContactUpdate(id=f"c{i}", at=now, fields={"email": f"c{i}@example.com"}) for i in range(count)]
    outbox = [
        OutboxIn(run_id=None, step=None, scenario="bench", contact_id=f"c{i}", channel="email", template="t",
                 recipient=f"c{i}@example.com", message=json.dumps(MESSAGE, ensure_ascii=False), coupon_code=None,
                 variant=None, created_at=now)
        for i in range(count)
    ]  # fmt: skip
    await store.commit(Changes(contacts=contacts, outbox=outbox))
    return store


async def scn_send(folder: Path, url: str, count: int, connections: int | None) -> float:
    store = await fill_outbox(folder / f"outbox-{time.monotonic_ns()}.db", count)
    # The sender as `scn serve` builds it (SCN_SMTP_URL), with its own defaults.
    config = load_delivery(None, {"SCN_SMTP_URL": url})
    if connections is not None:
        assert config.email is not None
        config = msgspec.structs.replace(config, email=msgspec.structs.replace(config.email, connections=connections))
    sender = build_sender(store, WallClock(), config, "bench")
    channel = sender.channels["email"]
    started = time.perf_counter()
    await sender.deliver_all()  # what the sender's loop does when messages are due
    took = time.perf_counter() - started
    sent = await store.outbox(status=SENT, limit=count + 1)
    assert len(sent) == count, len(sent)
    await channel.close()
    await store.close()
    return took


async def bare_send(port: int, count: int, connections: int) -> float:
    from scn.interpreter.store import OutboxRow

    now = dt.datetime.now(dt.UTC)
    rows = [
        OutboxRow(id=i, run_id=None, step=None, scenario="bench", contact_id=f"c{i}", channel="email",
                  template="t", recipient=f"c{i}@example.com", message=json.dumps(MESSAGE, ensure_ascii=False),
                  coupon_code=None, variant=None, status="pending", attempts=1, next_attempt_at=0, created_at=0)
        for i in range(count)
    ]  # fmt: skip
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for row in rows:
        queue.put_nowait(row)
    defaults = MailDefaults()

    async def worker() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        while not queue.empty():
            mail = build_email(queue.get_nowait(), defaults, now)  # built inside the timed part, as scn does
            await client.sendmail(mail.sender, ["bench@example.com"], mail.data)
        await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--connections", type=int, help="SMTP connections (default: scn's default)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    connections = args.connections or SmtpConfig.from_url("smtp://localhost").connections
    count = 1_000 if args.quick else 5_000
    repeats = 1 if args.quick else 3
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert sink.stdout is not None and sink.stdout.readline().strip() == b"ready"
        ours, bare = [], []
        with tempfile.TemporaryDirectory(prefix="scn-bench-email-") as tmp:
            url = f"smtp://127.0.0.1:{port}?starttls=off"
            for attempt in range(repeats):
                # Which side goes first alternates from one attempt to the next.
                for side in ("scn", "bare") if attempt % 2 == 0 else ("bare", "scn"):
                    if side == "scn":
                        ours.append(asyncio.run(scn_send(Path(tmp), url, count, args.connections)))
                    else:
                        bare.append(asyncio.run(bare_send(port, count, connections)))
    finally:
        sink.communicate(b"", timeout=30)
    scn_s, bare_s = statistics.median(ours), statistics.median(bare)
    figures = {"count": count, "connections": connections, "scn_s": scn_s, "bare_s": bare_s,
               "scn_per_s": count / scn_s, "bare_per_s": count / bare_s, "ratio": bare_s / scn_s,
               "scn_runs": ours, "bare_runs": bare}  # fmt: skip
    print(f"P6 {count:,} emails over {connections} connections: scn sender {count / scn_s:,.0f}/s, "
          f"bare aiosmtplib {count / bare_s:,.0f}/s: {bare_s / scn_s:.2f}x (target >= 0.8x)")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
