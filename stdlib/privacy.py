"""GDPR on a store: everything held about a contact (export) and erasing it, each with an
audit record. Used by the API (server/services/privacy.py) and by `scn contact`."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from ..interpreter.store.privacy import PrivacyMixin
from .suppression import SuppressionError, normal_address

#: The channels whose suppressions follow a contact's email or phone.
_ADDRESS_CHANNELS = (("email", "email"), ("sms", "phone"), ("viber", "phone"))


class UnknownContact(LookupError):
    """No contact has that id (or it was erased already)."""


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


async def _record(store: PrivacyMixin, contact_id: str) -> dict[str, Any]:
    record: dict[str, Any] | None = (await store.contacts([contact_id])).get(contact_id)  # type: ignore[attr-defined]
    if record is None:
        raise UnknownContact(contact_id)
    return record


async def export_contact(store: PrivacyMixin, contact_id: str, actor: str, now: int) -> dict[str, Any]:
    """Every row held about a contact, by table; audited. UnknownContact if there is none."""
    record = await _record(store, contact_id)
    data = await store.contact_data(contact_id, _addresses(record))
    if data is None:
        raise UnknownContact(contact_id)
    await store.audit(contact_id, "export", actor, now, {})
    exported_at = dt.datetime.fromtimestamp(now / 1000, dt.UTC).isoformat()
    return {"contact_id": contact_id, "exported_at": exported_at, **data}


async def erase_contact(store: PrivacyMixin, contact_id: str, actor: str, now: int) -> dict[str, Any]:
    """Erase a contact's personal data: what was changed, by table. UnknownContact if there is none."""
    record = await _record(store, contact_id)
    pseudonym = f"erased-{secrets.token_hex(8)}"
    personal = [contact_id] + [str(record[f]) for f in ("email", "phone", "first_name", "last_name") if record.get(f)]
    changed = await store.erase_contact(contact_id, pseudonym, personal, _addresses(record), actor, now)
    if changed is None:
        raise UnknownContact(contact_id)
    return {"erased": True, "pseudonym": pseudonym, "changed": changed}
