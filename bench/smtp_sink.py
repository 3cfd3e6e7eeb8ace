"""The SMTP sink of the email benchmarks: aiosmtpd, in a process of its own.

It accepts every message and counts them. Driven over its standard streams, one line
each way:

* it prints ``ready`` once it listens;
* ``expect N [PATH]`` on its input starts a count: when the N-th message since arrives it
  prints ``done T BYTES`` (T: ``time.monotonic()`` of that arrival, comparable with the
  driver's on Linux; BYTES: the size of all N messages), and keeps the first message of
  the count in PATH if given (so the driver can check what was sent);
* ``cpu`` prints the CPU seconds the sink has used so far;
* end of input stops it.

Run: python bench/smtp_sink.py PORT (bench_email.py and bench_e2e.py start it).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.expected = 0
        self.count = 0
        self.size = 0
        self.keep: Path | None = None

    def expect(self, count: int, keep: Path | None) -> None:
        with self.lock:
            self.expected, self.count, self.size, self.keep = count, 0, 0, keep

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        arrived = time.monotonic()
        content = envelope.original_content or b""
        with self.lock:
            self.count += 1
            self.size += len(content)
            if self.count == 1 and self.keep is not None:
                self.keep.write_bytes(content)
            if self.count == self.expected:
                print(f"done {arrived!r} {self.size}", flush=True)
        return "250 OK"


def main() -> int:
    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    print("ready", flush=True)
    try:
        for line in sys.stdin:
            words = line.split()
            if words[:1] == ["expect"]:
                counter.expect(int(words[1]), Path(words[2]) if len(words) > 2 else None)
            elif words[:1] == ["cpu"]:
                print(f"cpu {time.process_time()!r}", flush=True)
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
