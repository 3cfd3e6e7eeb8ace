"""Benchmark of `scn lsp`: from an edit to its diagnostics, as an editor sees it.

A workspace of 50 files of 200 lines each (the file of bench_language.py's L1, with
its declarations, and 49 files of scenarios that use them); the first is open in a
real LSP client (pygls's) talking to `scn lsp` over stdio with no debounce. Each
sample is one edit (a changed `wait`), timed from sending `didChange` to receiving the
`publishDiagnostics` of that version: the parse of the edited file, the check of the
whole workspace, and the JSON-RPC both ways.

Run: python bench/bench_lsp.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_language import SCENARIO, two_hundred_lines  # noqa: E402
from tests.lsp_client import lsp_session  # noqa: E402

FILES = 50
LINES = 200


def scenarios_file(index: int) -> str:
    """200 lines of scenarios that use the first file's declarations."""
    text = ""
    n = 1
    while (text + SCENARIO.format(n=n)).count("\n") <= LINES:
        text += SCENARIO.format(n=n).replace(f"flow_{n} ", f"flow_{index}_{n} ")
        n += 1
    while text.count("\n") < LINES:
        text += f'list extra_{index}_{text.count(chr(10))} "Extra list"\n'
    return text


def workspace(folder: Path) -> Path:
    first = folder / "f00.scn"
    first.write_text(two_hundred_lines(), encoding="utf-8")
    for index in range(1, FILES):
        (folder / f"f{index:02}.scn").write_text(scenarios_file(index), encoding="utf-8")
    return first


async def measure(folder: Path, edits: int) -> list[float]:
    first = workspace(folder)
    text = first.read_text(encoding="utf-8")
    samples = []
    async with lsp_session(folder, debounce=0.0) as session:
        target = session.open(first)
        found = await session.diagnostics(target, version=1)
        assert found == [], f"the workspace must check clean: {found[:3]}"
        for edit in range(edits):
            changed = text.replace("wait 30m", f"wait {31 + edit % 2}m", 1)
            started = time.perf_counter()
            version = session.change(target, changed)
            await session.diagnostics(target, version=version)
            samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 edits instead of 200")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        samples = asyncio.run(measure(Path(folder), 20 if args.quick else 200))
    ordered = sorted(samples)
    figures = {
        "files": FILES,
        "lines_per_file": LINES,
        "edits": len(samples),
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
