"""How long this disk takes to make a write durable: the floor under every commit.

Writes 4 KiB and calls fsync, N times, in the temporary directory (where the benchmarks
put their databases), and prints the median and p99. Every acknowledged event, every
batch of due runs and every delivery record waits for at least one of these.

Run: python bench/fsync.py [--count N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def fsync_latencies(count: int, folder: str | None = None) -> list[float]:
    with tempfile.NamedTemporaryFile(dir=folder, prefix="scn-fsync-") as handle:
        block = os.urandom(4096)
        took = []
        for _ in range(count):
            handle.write(block)
            handle.flush()
            started = time.perf_counter()
            os.fsync(handle.fileno())
            took.append(time.perf_counter() - started)
        return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    took = sorted(fsync_latencies(args.count))
    median, p99 = statistics.median(took), took[min(len(took) - 1, int(len(took) * 0.99))]
    print(f"fsync of 4 KiB in {tempfile.gettempdir()}: median {median * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms "
          f"({args.count} calls): at most ~{1 / median:,.0f} durable commits/s one after another")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({"median_s": median, "p99_s": p99, "count": args.count}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
