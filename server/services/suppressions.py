"""The suppression lists: addresses no message may go to, per channel (stdlib.suppression)."""

from __future__ import annotations

from ...interpreter.store.suppressions import Suppression
from ..core import Core


class SuppressionService:
    def __init__(self, core: Core) -> None:
        self.core = core

    def now_ms(self) -> int:
        return self.core.now_ms()

    async def find(self, channel: str, address: str) -> Suppression | None:
        """The entry of one (normalised) address, if it is on the list."""
        return await self.core.store.suppression(channel, address)

    async def page(self, channel: str, after: str, limit: int) -> list[Suppression]:
        """Entries in address order after ``after``."""
        return await self.core.store.suppression_page(channel, after, limit)

    async def add(self, entries: list[Suppression]) -> tuple[int, int]:
        """(added, updated): addresses new to the list, and those whose entry was replaced."""
        return await self.core.store.add_suppressions(entries) if entries else (0, 0)

    async def remove(self, channel: str, address: str) -> bool:
        """Take an address off (its soft bounces forgotten); False if it was not on the list."""
        return await self.core.store.remove_suppression(channel, address)
