"""The environments expressions are evaluated in, and the facts functions may ask for."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from ...stdlib.catalog import BUILTIN_EVENTS
from ...stdlib.loyalty import tier_percent
from ..environment import EvaluationError
from ..program import Bundle
from ..store import EventRow, RunRow, decode_json
from ..timing import zone
from ..types import DECLARABLE, STRING, Type
from ..values import Percent, to_decimal
from ..views import ContactView, EventView, ItemView, OrderView, ProductView, RunView, moment
from . import wire
from .batch import Batch
from .evaluate import Env, condition
from .events import custom_spec, payload_types

UTC = dt.UTC


def decode_attribute(value: Any, type_name: str) -> Any:
    """A custom attribute as stored (JSON) -> its runtime value (unset when it cannot be read)."""
    return wire.from_stored(value, DECLARABLE.get(type_name, STRING))


class TypedContactView(ContactView):
    """A contact whose custom attributes come back with their declared types."""

    def __init__(self, record: dict[str, Any], attributes: dict[str, str]) -> None:
        super().__init__(record, frozenset(attributes))
        self._types = attributes

    def __getattr__(self, name: str) -> Any:
        raw = super().__getattr__(name)
        return decode_attribute(raw, self._types[name])


class RunFacts:
    """Facts about one contact, answered from the batch."""

    def __init__(self, batch: Batch, bundle: Bundle, contact_id: str) -> None:
        self.batch = batch
        self.bundle = bundle
        self.contact_id = contact_id

    async def contact_orders(self) -> list[dict[str, Any]]:
        return await self.batch.contact_orders(self.contact_id)

    async def course_access(self) -> dict[str, tuple[str | None, str]]:
        return await self.batch.course_access(self.contact_id)

    async def in_list(self, name: str) -> bool:
        return name in await self.batch.lists_of(self.contact_id)

    async def in_segment(self, name: str) -> bool:
        return await contact_in_segment(self.batch, self.bundle, self.contact_id, name)

    async def last_message_at(self, channel: str | None) -> int | None:
        return await self.batch.last_message_at(self.contact_id, channel)

    async def recommend(self, kind: str, limit: int, **params: Any) -> list[ProductView]:
        return await self.batch.recommend(self.contact_id, kind, limit, **params)

    def tier_percent(self, program: str) -> Percent:
        record = self.batch.contacts.get(self.contact_id) or {}
        tiers = self.bundle.programs[program]
        if record.get("currency") not in (None, tiers.currency):
            raise EvaluationError(
                f"money of two currencies: the tiers of program {program} are in {tiers.currency}, "
                f"the contact's spend in {record['currency']}"
            )
        return tier_percent(tiers, to_decimal(record.get("lifetime_spend") or 0))


def contact_zone(record: dict[str, Any], default: str) -> ZoneInfo:
    return zone(record.get("timezone"), default)


async def segment_env(batch: Batch, bundle: Bundle, contact_id: str) -> Env:
    """What a segment's condition reads about a contact, now."""
    record = await batch.contact(contact_id)
    return Env(
        {"contact": TypedContactView(record, bundle.attributes)},
        bundle,
        RunFacts(batch, bundle, contact_id),
        batch.now,
        zone(record.get("timezone")),
    )


async def contact_in_segment(batch: Batch, bundle: Bundle, contact_id: str, segment: str) -> bool:
    """Does the contact match the segment's condition now?"""
    return await condition(bundle.segments[segment].condition, await segment_env(batch, bundle, contact_id))


def event_fields(event: EventRow, order: dict[str, Any] | None, bundle: Bundle) -> dict[str, Any]:
    """`event.*` with runtime values: the event's own fields typed as ``bundle`` declares
    them (a run reads its trigger with the bundle it started on), the records it carries,
    and when it happened. A field the event left out is unset (None)."""
    payload = decode_json(event.payload)
    data = payload.get("data") or {}
    types = _types(event.type, bundle)
    fields: dict[str, Any] = {name: wire.from_stored(data.get(name), t) for name, t in types.items()}
    fields["occurred_at"] = moment(event.occurred_at)
    if order is not None:
        fields["order"] = OrderView(order)
    item = payload.get("item")
    if item is not None:
        fields["item"] = ItemView(item, (order or {}).get("currency"))
    return fields


def _types(event_type: str, bundle: Bundle) -> dict[str, Type]:
    if event_type in BUILTIN_EVENTS:
        return _BUILTIN_TYPES[event_type]
    if event_type in bundle.events:
        return payload_types(custom_spec(event_type, bundle.events[event_type]))
    return {}


_BUILTIN_TYPES = {name: payload_types(spec) for name, spec in BUILTIN_EVENTS.items()}


def event_roots(
    event: EventRow, contact: dict[str, Any], order: dict[str, Any] | None, bundle: Bundle
) -> dict[str, Any]:
    """Names in a `where` about one event: contact, event, and the order and item it carries."""
    fields = event_fields(event, order, bundle)
    roots: dict[str, Any] = {"contact": TypedContactView(contact, bundle.attributes), "event": EventView(fields)}
    if "order" in fields:
        roots["order"] = fields["order"]
    if "item" in fields:
        roots["item"] = fields["item"]
    return roots


def run_roots(
    run: RunRow, contact: dict[str, Any], order: dict[str, Any] | None, trigger: EventView, bundle: Bundle
) -> dict[str, Any]:
    """Names in a scenario's steps."""
    roots: dict[str, Any] = {
        "contact": TypedContactView(contact, bundle.attributes),
        "event": trigger,
        "run": RunView(run.started_at, run.variant),
    }
    if order is not None:
        roots["order"] = OrderView(order)
    item = getattr(trigger, "item", None) if "item" in trigger._fields else None
    if item is not None:
        roots["item"] = item
    return roots
