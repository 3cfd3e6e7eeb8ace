"""Subscriptions per channel: the signed unsubscribe link, and what following it does.

The runtime puts `<public>/unsubscribe/<channel>/<contact>/<token>` in every message;
the control plane reads it back here. Unsubscribing is an event (`message.unsubscribed`)
like any other, so it is durable before the answer and ordered with the contact's
other events; the contact's projection then marks the channel unsubscribed and later
sends on it are skipped with that reason on the run.
"""

from __future__ import annotations

from typing import Any

from ..interpreter.settings import Settings, read_link_text
from ..interpreter.views import CHANNELS


def read_link(settings: Settings, kind: str, channel: str, contact: str, token: str) -> str | None:
    """The contact id of a link (``kind`` "unsubscribe" or "preferences") exactly as
    `Settings.link` wrote it; None for anything else, forged or spelled another way."""
    if channel not in CHANNELS:
        return None
    contact_id = read_link_text(contact)
    if contact_id is None or not settings.verify(token, kind, contact_id, channel):
        return None
    return contact_id


def unsubscribe_event(contact_id: str, channel: str, *, at: str) -> dict[str, Any]:
    """The `message.unsubscribed` event for a contact and channel (a document for intake).

    Its key is the same for repeated clicks on the same day: they are accepted once."""
    day = at[:10]
    return {
        "type": "message.unsubscribed",
        "key": f"unsubscribe:{channel}:{contact_id}:{day}",
        "at": at,
        "contact": {"id": contact_id},
        "data": {"channel": channel},
    }
