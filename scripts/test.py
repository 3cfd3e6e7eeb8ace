#!/usr/bin/env python3
"""Run every check the project has, in order: ruff, mypy, then the test suite.

Stops at the first failure. pytest's "no tests collected" exit (5) counts as a
failure: a suite that silently runs nothing must never pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NO_TESTS_COLLECTED = 5

STEPS: list[tuple[str, list[str]]] = [
    ("ruff check", [sys.executable, "-m", "ruff", "check", "."]),
    ("ruff format", [sys.executable, "-m", "ruff", "format", "--check", "."]),
    ("mypy", [sys.executable, "-m", "mypy"]),
    ("pytest", [sys.executable, "-m", "pytest", *sys.argv[1:]]),
]


def main() -> int:
    for name, command in STEPS:
        started = time.monotonic()
        print(f"==> {name}: {' '.join(command[2:])}", flush=True)
        code = subprocess.call(command, cwd=ROOT)
        took = time.monotonic() - started
        if code == NO_TESTS_COLLECTED and name == "pytest":
            print("==> pytest collected no tests: that is a failure", flush=True)
            return 1
        if code != 0:
            print(f"==> {name} failed (exit {code}) after {took:.1f}s", flush=True)
            return code
        print(f"==> {name} passed in {took:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
