"""Pausing Python's cycle collector around tree building.

Parsing and checking build trees of immutable nodes without reference cycles, so
reference counting frees everything they drop. The cycle collector would only re-scan
the growing heap of live nodes again and again: a third of the time of checking a
1000-file workspace. It is paused for such work and resumed after.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Run the block with the cycle collector off (unless it was already off)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
