"""Coupons and bonuses in the SQLite store: pools of codes, the codes issued to contacts,
the bonus ledger's idempotence check."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from ._sql import SqlAccess
from .sqlite_changes import placeholders


class CouponsMixin(SqlAccess):
    async def draw_pool_code(self, coupon: str, skip: Collection[str]) -> str | None:
        """A free code of an imported pool (not among ``skip``, drawn earlier in this batch)."""
        taken = list(skip)
        sql = "SELECT code FROM coupon_codes WHERE coupon = ? AND contact_id IS NULL"
        if taken:
            sql += f" AND code NOT IN ({placeholders(len(taken))})"
        code = await self._scalar(sql + " ORDER BY id LIMIT 1", (coupon, *taken))
        return None if code is None else str(code)

    async def free_pool_codes(self, coupon: str) -> int:
        return int(await self._scalar("SELECT count(*) FROM coupon_codes WHERE coupon = ? AND contact_id IS NULL",
                                      (coupon,)))  # fmt: skip

    async def import_pool(self, coupon: str, codes: Iterable[str]) -> int:
        """Add codes to a coupon's pool; codes already known are left alone. Returns how many were new."""

        async def work() -> int:
            before = await self._scalar("SELECT count(*) FROM coupon_codes WHERE coupon = ?", (coupon,))
            await self.db.executemany(
                "INSERT INTO coupon_codes (coupon, code) VALUES (?, ?) "
                "ON CONFLICT (coupon, code) WHERE shared = 0 DO NOTHING",
                [(coupon, c) for c in codes],
            )
            after = await self._scalar("SELECT count(*) FROM coupon_codes WHERE coupon = ?", (coupon,))
            return int(after - before)

        return await self._write(work)

    async def coupon_code(self, code: str) -> dict[str, Any] | None:
        """Any row of a code (to tell whether a generated code is taken)."""
        rows = await self._dicts("SELECT * FROM coupon_codes WHERE code = ? ORDER BY id DESC LIMIT 1", (code,))
        return rows[0] if rows else None

    async def code_rows(self, code: str) -> list[dict[str, Any]]:
        """Every row of a code: one for a unique code, one per contact for a static one."""
        return await self._dicts("SELECT * FROM coupon_codes WHERE code = ? ORDER BY id", (code,))

    async def issued_codes(self, contact_id: str, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """The codes a contact was given, by row id from just after ``after`` (keyset pages)."""
        return await self._dicts(
            "SELECT * FROM coupon_codes WHERE contact_id = ? AND id > ? ORDER BY id LIMIT ?", (contact_id, after, limit)
        )

    async def bonus_paid(self, contact_id: str, order_id: str | None, reason: str) -> bool:
        value = await self._scalar(
            "SELECT 1 FROM bonus_ledger WHERE contact_id = ? AND order_id IS ? AND reason = ?",
            (contact_id, order_id, reason),
        )
        return value is not None
