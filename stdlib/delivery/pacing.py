"""Provider rates: at most N messages handed to a provider per period (`policy`'s
`smtp at most 50 per second`), for a new domain's warm-up or a provider's limit.

The hand-offs are spaced evenly (one every period/N), so no window of the period ever
holds more than N, whatever the number of lanes. Real time (time.monotonic), not the
engine's clock: a provider counts in seconds as they pass.
"""

from __future__ import annotations

import asyncio
import time

from ..catalog import PROVIDER_CHANNELS
from .base import Ready


class Pace:
    """The next free slot of one provider."""

    def __init__(self, count: int, period_ms: int) -> None:
        self.count = count
        self.period_ms = period_ms
        self.interval = period_ms / 1000 / count
        self._next = 0.0

    async def wait(self) -> None:
        """Return at this caller's slot: at once when the provider is free, else later."""
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


def paced(ready: Ready, pace: Pace) -> Ready:
    """``ready`` (what a pipelined channel awaits before the data goes), then the pace's slot."""

    def both() -> asyncio.Future[None]:
        first = ready()

        async def wait() -> None:
            if first is not None:
                await first
            await pace.wait()

        return asyncio.ensure_future(wait())

    return both


def paces(rates: dict[str, tuple[int, int]], old: dict[str, Pace] | None = None) -> dict[str, Pace]:
    """A pace per channel for a policy's provider rates (``(count, period_ms)`` by provider),
    keeping ``old``'s where the rate is the same (its next slot stands)."""
    found: dict[str, Pace] = {}
    for provider, (count, period_ms) in rates.items():
        channel = PROVIDER_CHANNELS.get(provider)
        if channel is None or count < 1 or period_ms <= 0:
            continue  # the checker reports unknown providers and bad counts (SCN402, SCN316)
        kept = (old or {}).get(channel)
        same = kept is not None and (kept.count, kept.period_ms) == (count, period_ms)
        found[channel] = kept if same and kept is not None else Pace(count, period_ms)
    return found
