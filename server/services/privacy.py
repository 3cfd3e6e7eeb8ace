"""GDPR: everything held about a contact (export) and erasing it, each with an audit record."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from ...interpreter.store.privacy import PrivacyMixin
from ...stdlib.suppression import SuppressionError, normal_address
from ..core import Core
from ..deps import not_found

#: The channels whose suppressions follow a contact's email or phone.
_ADDRESS_CHANNELS = (("email", "email"), ("sms", "phone"), ("viber", "phone"))


def _addresses(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(channel, normal address) of a contact's email and phone, as the suppression list keys them."""
    found = []
    for channel, field in _ADDRESS_CHANNELS:
        value = record.get(field)
        if value:
            try:
                found.append((channel, normal_address(channel, str(value))))
            except SuppressionError:
                continue  # not an address the list could hold
    return found


class PrivacyService:
    def __init__(self, core: Core) -> None:
        self.core = core

    @property
    def store(self) -> PrivacyMixin:
        return self.core.store

    async def _record(self, contact_id: str) -> dict[str, Any]:
        record = (await self.core.store.contacts([contact_id])).get(contact_id)
        if record is None:
            raise not_found(f"contact {contact_id!r}")
        return record

    async def export(self, contact_id: str, actor: str) -> dict[str, Any]:
        """Every row held about a contact, by table (404 if unknown); audited."""
        record = await self._record(contact_id)
        now = self.core.now_ms()
        data = await self.store.contact_data(contact_id, _addresses(record))
        if data is None:
            raise not_found(f"contact {contact_id!r}")
        await self.store.audit(contact_id, "export", actor, now, {})
        exported_at = dt.datetime.fromtimestamp(now / 1000, dt.UTC).isoformat()
        return {"contact_id": contact_id, "exported_at": exported_at, **data}

    async def erase(self, contact_id: str, actor: str) -> dict[str, Any]:
        """Erase a contact's personal data (404 if unknown): what was changed, by table."""
        record = await self._record(contact_id)
        pseudonym = f"erased-{secrets.token_hex(8)}"
        personal = [contact_id] + [
            str(record[f]) for f in ("email", "phone", "first_name", "last_name") if record.get(f)
        ]
        changed = await self.store.erase_contact(
            contact_id, pseudonym, personal, _addresses(record), actor, self.core.now_ms()
        )
        if changed is None:
            raise not_found(f"contact {contact_id!r}")
        return {"erased": True, "pseudonym": pseudonym, "changed": changed}
