"""Bounces and complaints from providers, acted on: a hard bounce or a complaint
suppresses the address at once, soft bounces once they reach the threshold, and the
contacts with that address get `message.bounced` / `message.complained` events."""

from __future__ import annotations

import logging
from typing import Any

from ...interpreter.runtime import EventInput
from ...interpreter.runtime.events import ContactIn, EventError
from ...interpreter.store import EventIn
from ...interpreter.store.suppressions import Suppression
from ...stdlib.delivery.config import FeedbackSettings
from ...stdlib.delivery.sender import MAX_REASON
from ...stdlib.feedback import Feedback
from ...stdlib.suppression import SuppressionError, bounce_entry, normal_address
from ..core import Core
from ..models import FeedbackTaken
from ..problems import Problem
from .events import EventService

logger = logging.getLogger("scn.feedback")


class FeedbackService:
    def __init__(self, core: Core) -> None:
        self.core = core

    def settings(self, provider: str, secret: str) -> FeedbackSettings:
        """The `[feedback]` settings, when ``secret`` (the provider's) is set in them; else a 404."""
        delivery = self.core.delivery
        if delivery is None or not getattr(delivery.feedback, secret):
            raise Problem(404, "not-found", f"the {provider} webhook is not configured: set its secret in the "
                                            "delivery settings' [feedback] (docs/delivery.md)")  # fmt: skip
        return delivery.feedback

    async def take(self, found: list[Feedback], settings: FeedbackSettings) -> FeedbackTaken:
        """Suppress what must be, count soft bounces, raise the contacts' events."""
        now = self.core.now_ms()
        entries: list[Suppression] = []
        events: list[EventIn] = []
        soft = ignored = 0
        for item in found:
            try:
                address = normal_address("email", item.address)
            except SuppressionError:
                ignored += 1
                continue
            entry, new = await bounce_entry(
                self.core.store, "email", address, kind=item.kind, source=item.provider,
                key=f"{item.provider}:{item.event_id}", detail=item.detail, at=now,
                threshold=settings.soft_bounce_threshold,
            )  # fmt: skip
            if entry is None:
                soft += new  # else the provider's retry of a bounce counted already
                continue
            entries.append(entry)
            kind = "message.complained" if item.kind == "complaint" else "message.bounced"
            data: dict[str, Any] = {"channel": "email", "provider": item.provider,
                                    "reason": (entry.detail or item.kind.replace("_", " "))[:MAX_REASON]}  # fmt: skip
            if kind == "message.bounced":
                data["kind"] = "soft" if item.kind == "soft_bounce" else "hard"
            for contact in await self.core.store.contacts_by_email([item.address, address]):
                key = f"{item.provider}:{item.event_id}:{contact}"[:200]
                try:
                    made = EventInput(type=kind, key=key, contact=ContactIn(id=contact), data=data)
                    events.append(self.core.engine.event_in(made))
                except EventError:
                    logger.exception("could not make a %s event for contact %s", kind, contact)
        if entries:
            await self.core.store.add_suppressions(entries)
        known = await self.core.store.payloads_by_key([e.key for e in events])
        fresh = list({e.key: e for e in events if e.key not in known}.values())  # a provider's retry: once
        if fresh:
            await EventService(self.core).accept(fresh)
        return FeedbackTaken(feedback=len(found), suppressed=len(entries), soft_bounces=soft, events=len(fresh),
                             ignored=ignored)  # fmt: skip
