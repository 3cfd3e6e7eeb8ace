"""GDPR: everything held about a contact (export) and erasing it, each with an audit record
(the work is stdlib/privacy.py's, which `scn contact` uses too)."""

from __future__ import annotations

from typing import Any

from ...stdlib.privacy import UnknownContact, erase_contact, export_contact
from ..core import Core
from ..deps import not_found


class PrivacyService:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def export(self, contact_id: str, actor: str) -> dict[str, Any]:
        """Every row held about a contact, by table (404 if unknown); audited."""
        try:
            return await export_contact(self.core.store, contact_id, actor, self.core.now_ms())
        except UnknownContact:
            raise not_found(f"contact {contact_id!r}") from None

    async def erase(self, contact_id: str, actor: str) -> dict[str, Any]:
        """Erase a contact's personal data (404 if unknown): what was changed, by table."""
        try:
            return await erase_contact(self.core.store, contact_id, actor, self.core.now_ms())
        except UnknownContact:
            raise not_found(f"contact {contact_id!r}") from None
