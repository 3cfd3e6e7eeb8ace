"""Messages of the outbox: pages filtered by contact, status, channel and scenario; one
message with its content; a run's, a contact's and a step's messages."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from ...interpreter.store import OutboxRow
from ...interpreter.views import moment
from ..core import Core
from ..deps import instant, not_found
from ..models import Message, MessagePage


def message_view(row: OutboxRow) -> Message:
    return Message(
        id=row.id, run_id=row.run_id, scenario=row.scenario, contact_id=row.contact_id, channel=row.channel,
        template=row.template, recipient=row.recipient, status=row.status, attempts=row.attempts,
        created_at=instant(row.created_at), sent_at=moment(row.sent_at),
        error=row.error, failure=row.failure, cost=row.cost, coupon_code=row.coupon_code, variant=row.variant,
    )  # fmt: skip


def _page(rows: list[OutboxRow], limit: int) -> MessagePage:
    page = rows[:limit]
    return MessagePage(items=[message_view(r) for r in page], next=page[-1].id if len(rows) > limit else None)


class MessageService:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def page(
        self, *, contact: str | None = None, status: str | None = None, channel: str | None = None,
        scenario: str | None = None, after: int = 0, limit: int = 50,
    ) -> MessagePage:  # fmt: skip
        """Messages in the outbox, oldest first, filtered by contact, status, channel and scenario."""
        rows = await self.core.store.outbox(contact_id=contact, status=status, channel=channel, scenario=scenario,
                                            after=after, limit=limit + 1)  # fmt: skip
        return _page(rows, limit)

    async def row(self, message_id: int) -> OutboxRow:
        """One message of the outbox as stored (404 if unknown)."""
        rows = await self.core.store.outbox(after=message_id - 1, limit=1)
        if not rows or rows[0].id != message_id:
            raise not_found(f"message {message_id}")
        return rows[0]

    async def detail(self, message_id: int) -> dict[str, Any]:
        """One message with its content as it was sent (404 if unknown)."""
        row = await self.row(message_id)
        body = json.loads(row.message or "{}")
        return {**msgspec.to_builtins(message_view(row)), "content": body}

    async def of_run(self, run_id: int) -> dict[str, Message]:
        """A run's messages by the step that made them."""
        return {m.step: message_view(m) for m in await self.core.store.run_messages(run_id) if m.step}

    async def of_contact(self, contact_id: str, limit: int) -> list[Message]:
        """A contact's latest messages."""
        return [message_view(m) for m in await self.core.store.contact_messages(contact_id, limit)]

    async def of_step(self, scenario: str, step: str, after: int, limit: int) -> MessagePage:
        """A page of the messages a step of a scenario made."""
        return _page(await self.core.store.step_messages(scenario, step, after, limit + 1), limit)
