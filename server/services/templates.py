"""Templates: a template rendered for a contact (a preview), and a test send of it."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from ...interpreter.program import Bundle
from ...interpreter.runtime.batch import Batch
from ...interpreter.runtime.facts import TypedContactView, contact_zone
from ...interpreter.store import OutboxRow
from ...stdlib import messages
from ..core import Core
from ..deps import not_found
from ..models import Preview, TestSent
from ..problems import Problem


class TemplateService:
    def __init__(self, core: Core) -> None:
        self.core = core

    def current(self) -> Bundle | None:
        """The deployed workspace (None before the first upload)."""
        return self.core.engine.current

    async def preview(
        self, name: str, contact_id: str, *, lang: str | None = None, extra: dict[str, Any] | None = None
    ) -> Preview:
        """Template ``name`` rendered for a contact: in the contact's language, or in ``lang``
        when the template has it; ``extra`` adds variables (a sample order or coupon).
        404 for an unknown template or contact, 422 when it does not render."""
        core = self.core
        bundle = core.engine.current
        template = bundle.templates.get(name) if bundle is not None else None
        if bundle is None or template is None:
            raise not_found(f"template {name!r}")
        record = (await core.store.contacts([contact_id])).get(contact_id)
        if record is None:
            raise not_found(f"contact {contact_id!r}")
        context: dict[str, Any] = {
            "contact": TypedContactView(record, bundle.attributes),
            "scenario": "preview",
            "unsubscribe_url": core.settings.link("unsubscribe", contact_id, template.channel),
            "preferences_url": core.settings.link("preferences", contact_id, template.channel),
        }
        if "bestsellers" in template.uses:
            batch = Batch(core.store, core.clock.now(), core.engine.recommender, None)
            context["bestsellers"] = await batch.recommend(contact_id, "bestsellers", 4)
        context.update(extra or {})
        chosen = next((v for v in template.variants if lang is not None and v.lang == lang), None)
        variant = chosen or messages.choose_variant(template, record.get("language"))
        zone = contact_zone(record, core.settings.default_timezone)
        try:
            # Off the event loop: a render takes up to its budget, and the API must go on answering.
            parts = await asyncio.to_thread(messages.render_variant, variant, context, record.get("language"), zone)
        except Exception as error:
            raise Problem(
                422, "template-failed",
                f"template {name} ({variant.lang or 'default'}) does not render for a contact alone: {error} "
                "(a preview has the contact, links and bestsellers; order, coupon and products come from a run)",
            ) from error  # fmt: skip
        return Preview(template=name, channel=template.channel, lang=variant.lang, parts=parts)

    async def send_test(
        self, name: str, contact_id: str, to: str, *, lang: str | None = None, extra: dict[str, Any] | None = None
    ) -> TestSent:
        """Render template ``name`` as `preview` does and send it to ``to`` now, subject
        prefixed `[test]` (not through the outbox: nothing is recorded against the contact);
        409 when its channel has no delivery on this server."""
        core = self.core
        shown = await self.preview(name, contact_id, lang=lang, extra=extra)
        sender = core.sender
        channel = sender.channels.get(shown.channel) if sender is not None else None
        if channel is None:
            raise Problem(409, "conflict", f"no {shown.channel} delivery is configured on this server")
        bundle = core.engine.current
        assert bundle is not None
        template = bundle.templates[name]
        content = {**shown.parts, "from_name": template.sender_name, "from_address": template.sender_address,
                   "reply_to": template.reply_to, "subject": "[test] " + shown.parts.get("subject", "")}  # fmt: skip
        message = OutboxRow(
            id=0, run_id=None, step=None, scenario=None, contact_id=contact_id, channel=shown.channel,
            template=name, recipient=to, message=msgspec.json.encode(content).decode(), coupon_code=None,
            variant=None, status="pending", attempts=1, next_attempt_at=None, created_at=core.now_ms(),
        )  # fmt: skip
        outcome = await channel.send(message)
        return TestSent(status=outcome.status, detail=outcome.detail, preview=shown)
