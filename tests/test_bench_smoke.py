"""The benchmarks' own code still fits the code it measures (a benchmark that breaks is
found here, not at the next `make bench`): cheap parts that need only the test
dependencies (bench_e2e and what imports it need the `bench` extra's psutil)."""

from __future__ import annotations

import importlib
import random
import sys

import pytest

from .conftest import ROOT

# The benchmarks are scripts in bench/, importing each other by name (not type-checked).
sys.path.insert(0, str(ROOT / "bench"))
bench_scale = importlib.import_module("bench_scale")


def test_the_scale_benchmark_builds_events_the_api_would_accept() -> None:
    events = bench_scale.paid_events(100, 3, random.Random(1), "t")
    assert [e.type for e in events] == ["order.paid"] * 3
    assert all(e.order is not None and e.order.total is not None for e in events)


def test_a_burst_pays_for_contacts_no_earlier_burst_paid_for() -> None:
    """Equal work at every size: each contact once, none that an earlier burst used."""
    used = {f"c{i}" for i in range(90)}
    events = bench_scale.paid_events(100, 10, random.Random(1), "t", used)
    contacts = [e.contact.id for e in events if e.contact is not None]
    assert sorted(contacts) == sorted(f"c{i}" for i in range(90, 100)), "the ten left, each once"
    with pytest.raises(SystemExit, match="fill it anew"):  # too few left: said, not looped over forever
        bench_scale.paid_events(100, 11, random.Random(1), "t", used)
