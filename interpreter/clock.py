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
    """Real time. ``speed`` > 1 compresses time for tests of the wall-clock path.

    Compressed time runs ``speed`` times faster from ``origin`` on; processes given the same
    origin agree on the time, so a restarted process continues where the last one was."""

    def __init__(self, speed: float = 1.0, origin: dt.datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("the clock speed must be positive")
        if origin is not None and origin.tzinfo is None:
            raise ValueError("the clock origin needs a time zone")
        self.speed = speed
        self._origin_real = origin or dt.datetime.now(UTC)

    @property
    def origin(self) -> dt.datetime:
        """Where compressed time starts (give it to another process to agree with this one)."""
        return self._origin_real

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


async def idle_until(clock: Clock, due_ms: int | None, wake: asyncio.Event, stop: asyncio.Event) -> None:
    """A work loop's rest: until ``due_ms`` (ms since the epoch; None: no planned work),
    a nudge on ``wake``, or ``stop`` — whichever comes first."""
    moment = dt.datetime.fromtimestamp(due_ms / 1000, UTC) if due_ms is not None else None
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(clock.sleep_until(moment, wake))]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


_MS = dt.timedelta(milliseconds=1)


def duration_ms(duration: dt.timedelta) -> int:
    """A duration as whole milliseconds, rounded down, in integers: through a float
    (``total_seconds() * 1000``) 32.477 s is 32476.999… and truncates to 32476."""
    return duration // _MS


def ms_of(moment: dt.datetime) -> int:
    """A moment as whole milliseconds since the epoch: how the store keeps time."""
    return int(moment.timestamp() * 1000)
