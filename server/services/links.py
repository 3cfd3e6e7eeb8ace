"""The links in messages: tracked opens and clicks, unsubscribes and the preferences page.
Each becomes an event, durable before the answer, feeding scenarios and reports."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from ...interpreter.runtime import EventInput
from ...interpreter.runtime.events import ContactIn, convert_event
from ...interpreter.store import OutboxRow
from ...interpreter.views import channel_flags
from ...stdlib.subscriptions import unsubscribe_event
from ...stdlib.tracking import read_token
from ..core import Core
from ..problems import Problem
from .events import EventService


class Subscriptions(NamedTuple):
    """A contact as the preferences page shows it: per channel, subscribed or not, and
    whether there is an address for it; their language as stored (None if unset or unknown);
    whether the contact is there at all (an erased one is not)."""

    subscribed: dict[str, bool]
    reachable: dict[str, bool]
    language: str | None
    known: bool


class LinkService:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def _tracked(self, kind: str, token: str) -> tuple[OutboxRow, int]:
        found = read_token(self.core.settings, kind, token)
        if found is None:
            raise Problem(404, "not-found", "this link is not valid")
        key, index = found
        run_id, _, step = key.partition(":")
        message = await self.core.store.message_by_step(int(run_id), step) if run_id.isdigit() else None
        if message is None:
            raise Problem(404, "not-found", "this link's message does not exist")
        return message, index

    async def _record(self, message: OutboxRow, event_type: str, key: str, **data: Any) -> None:
        event = EventInput(
            type=event_type,
            key=key,
            at=self.core.clock.now(),
            contact=ContactIn(id=message.contact_id),
            data={"channel": message.channel, "template": message.template or "", "scenario": message.scenario or "",
                  **data},
        )  # fmt: skip
        await EventService(self.core).record(event)

    async def opened(self, token: str) -> None:
        """Count the open of the message an open pixel's token names (404 for a bad token)."""
        message, _ = await self._tracked("o", token)
        await self._record(message, "message.opened", f"open:{message.id}")

    async def clicked(self, token: str) -> str:
        """Count the click a tracked link's token names; the URL the message was sent with."""
        message, index = await self._tracked("c", token)
        links = json.loads(message.message or "{}").get("links") or []
        if index >= len(links):
            raise Problem(404, "not-found", "this link is not in its message")
        url = str(links[index])
        await self._record(message, "message.clicked", f"click:{message.id}:{index}", url=url)
        return url

    async def unsubscribe(self, contact_id: str, channel: str) -> str | None:
        """Unsubscribe a contact from a channel (an `unsubscribed` event); the contact's
        language as `language` gives it. For a contact that is not there, nothing: an erased
        one's rows moved to a pseudonym, and an event about its id would make it again."""
        current = await self.subscriptions(contact_id)
        if current.known:
            document = unsubscribe_event(contact_id, channel, at=self.core.clock.now().isoformat())
            await EventService(self.core).record(convert_event(document))
        return current.language

    async def subscriptions(self, contact_id: str) -> Subscriptions:
        """Per channel: whether the contact is subscribed, and whether they have an address for
        it; and the contact's language. A contact not there (erased, say) has none of them."""
        found = (await self.core.store.contacts([contact_id])).get(contact_id)
        record = found or {}
        language = record.get("language")
        return Subscriptions(*channel_flags(record), language if isinstance(language, str) else None, found is not None)

    async def language(self, contact_id: str) -> str | None:
        """The contact's language as stored (None when unset, or for a contact not there)."""
        return (await self.subscriptions(contact_id)).language

    async def save_subscriptions(self, contact_id: str, wanted: dict[str, bool], current: Subscriptions) -> None:
        """Subscribe the contact to the channels ``wanted`` says, unsubscribe from the others
        (a `contact.updated` event); ``current`` is what `subscriptions` read for the form.
        For a contact that is not there (erased), nothing."""
        if not current.known:
            return
        event = EventInput(
            type="contact.updated", at=self.core.clock.now(), contact=ContactIn(id=contact_id, subscriptions=wanted)
        )
        await EventService(self.core).record(event)
