"""The benchmarks' own code still fits the code it measures (a benchmark that breaks is
found here, not at the next `make bench`): the cheap parts of each, on tiny sizes."""

from __future__ import annotations

import importlib
import random
import sys
from pathlib import Path

from .conftest import ROOT

# The benchmarks are scripts in bench/, importing each other by name (not type-checked).
sys.path.insert(0, str(ROOT / "bench"))
bench_scale = importlib.import_module("bench_scale")
bench_send_path = importlib.import_module("bench_send_path")


def test_the_scale_benchmark_builds_events_the_api_would_accept() -> None:
    events = bench_scale.paid_events(100, 3, random.Random(1), "t")
    assert [e.type for e in events] == ["order.paid"] * 3
    assert all(e.order is not None and e.order.total is not None for e in events)


async def test_the_send_path_benchmark_turns_events_into_mail(tmp_path: Path) -> None:
    figures = await bench_send_path.engine_cpu(20, tmp_path)
    assert figures["cpu_ms"] > 0 and figures["wall_ms"] > 0
