"""Where the time goes in a py-spy profile (collapsed stacks, `py-spy record --format raw`).

Prints, per process, the share of samples spent in each function (inclusive: anywhere on
the stack) and where they were taken (exclusive: the innermost frame), the top entries
of each; idle samples (the event loop waiting, threads waiting on a lock) are counted
apart so that shares are of busy time.

Run: python bench/profile_stacks.py FILE [--top N] [--match TEXT]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

#: Frames that mean the thread was waiting, not working.
IDLE = re.compile(r"\b(select|poll|epoll_wait|_worker_thread \(aiosqlite|wait \(threading|get \(queue|run_forever|"
                  r"_run_once|sleep|readline)\b")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", help="only stacks that contain this text")
    args = parser.parse_args()
    inclusive: dict[str, Counter[str]] = defaultdict(Counter)
    exclusive: dict[str, Counter[str]] = defaultdict(Counter)
    busy: Counter[str] = Counter()
    for line in args.file.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        if args.match and args.match not in stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        # py-spy names the process first, and a child's stack after its parent's name.
        names = [f for f in frames if f.startswith("process ")]
        process = names[-1][:100] if names else "?"
        frames = frames[len(names) :]
        if not frames:
            continue
        innermost = frames[-1]
        if IDLE.search(innermost):
            continue
        busy[process] += count
        exclusive[process][_short(innermost)] += count
        for frame in set(map(_short, frames)):
            inclusive[process][frame] += count
    for process, total in busy.most_common():
        print(f"\n== {process}: {total} busy samples")
        print("  inclusive:")
        for frame, count in inclusive[process].most_common(args.top):
            print(f"    {100 * count / total:5.1f}%  {frame}")
        print("  exclusive:")
        for frame, count in exclusive[process].most_common(args.top):
            print(f"    {100 * count / total:5.1f}%  {frame}")
    return 0


def _short(frame: str) -> str:
    """`function (path/to/module.py:line)` -> `function (module.py)`."""
    match = re.match(r"(.*) \((.*?):\d+\)$", frame)
    if not match:
        return frame
    name, path = match.groups()
    parts = Path(path).parts
    return f"{name} ({'/'.join(parts[-2:])})"


if __name__ == "__main__":
    sys.exit(main())
