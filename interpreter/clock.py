"""One clock abstraction for the whole runtime.

The engine asks the clock what time it is and to wait until a moment. Production uses
the wall clock. Tests and `scn simulate` use a virtual clock: when the engine has
nothing left to do now, the clock jumps straight to the next moment something is due,
so weeks of scenario time take milliseconds and always come out the same.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Protocol

UTC = dt.UTC


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current moment, timezone-aware, in UTC."""
        ...

    async def sleep_until(self, moment: dt.datetime | None, wake: asyncio.Event) -> None:
        """Wait until ``moment`` (forever if None) or until ``wake`` is set."""
        ...


class WallClock:
    """Real time. ``speed`` > 1 compresses time for tests of the wall-clock path."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._origin_real = dt.datetime.now(UTC)
        self._origin_loop: float | None = None

    def now(self) -> dt.datetime:
        if self.speed == 1.0:
            return dt.datetime.now(UTC)
        elapsed = dt.datetime.now(UTC) - self._origin_real
        return self._origin_real + elapsed * self.speed

    async def sleep_until(self, moment: dt.datetime | None, wake: asyncio.Event) -> None:
        timeout = None
        if moment is not None:
            timeout = max((moment - self.now()).total_seconds() / self.speed, 0.0)
        try:
            await asyncio.wait_for(wake.wait(), timeout)
        except TimeoutError:
            pass


class VirtualClock:
    """Time that moves only when the engine has nothing to do now."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the virtual clock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> dt.datetime:
        return self._now

    def advance_to(self, moment: dt.datetime) -> None:
        """Move forward (never back) to ``moment``."""
        if moment > self._now:
            self._now = moment.astimezone(UTC)

    async def sleep_until(self, moment: dt.datetime | None, wake: asyncio.Event) -> None:
        if moment is not None:
            self.advance_to(moment)
        await asyncio.sleep(0)
