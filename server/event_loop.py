"""Which asyncio event loop the server's processes run on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (not on Windows), else the standard one.

    Every request and every hand-off to a database thread goes through the loop; uvloop's
    costs about a third of the standard loop's CPU per request (docs/BENCHMARKS.md, P1)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return None
    return uvloop.new_event_loop
