"""One batch of work: what it has read, what it changes, written in one transaction.

The runtime handles events and due runs in batches so that one commit (and one fsync)
serves hundreds of them. Inside a batch, later work must see what earlier work did
(a run started by one event may be ended by the next), so the batch keeps every record
it touches in memory and answers the runtime's questions from that overlay first and
from the store second.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from decimal import Decimal
from typing import Any

from ...stdlib.recommend import Recommender
from ..clock import ms_of
from ..store import LIVE, Changes, ContactUpdate, EventIn, EventRow, RunRow, RunStart, Store
from ..views import ProductView

UTC = dt.UTC


class Batch:
    def __init__(
        self, store: Store, now: dt.datetime, recommender: Recommender | None = None, listened: set[str] | None = None,
        dated: bool = False,
    ) -> None:  # fmt: skip
        self.store = store
        #: Date triggers are deployed: a contact whose fields or zone change is due for them at once.
        self.dated = dated
        #: The event types worth raising (None: all of them).
        self.listened = listened
        #: Long-lived (the engine's): recommendation figures outlive a batch.
        self.recommender = recommender
        self.now = now
        self.now_ms = ms_of(now)
        self.changes = Changes()
        self.contacts: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any] | None] = {}
        self.runs: dict[int, RunRow] = {}
        self.new_run_ids: set[int] = set()
        self._lists: dict[str, set[str]] = {}
        self._messages: Counter[tuple[str, str | None]] = Counter()
        #: Messages queued in this batch that the workspace policy counts, by contact and channel.
        self._policy_messages: Counter[tuple[str, str]] = Counter()
        self._last_message: dict[str, int] = {}
        self._drawn: dict[str, set[str]] = {}
        self._cache: dict[Any, Any] = {}
        #: Contacts known here but not yet in the store (made up for a first event).
        self._unsaved: set[str] = set()
        self._events: dict[int, EventRow | None] = {}
        self._expected_contacts: set[str] = set()
        self._expected_orders: set[str] = set()
        self._expected_events: set[int] = set()
        #: Runs started in this batch, by scenario and contact (for entry rules).
        self._new_runs_of: dict[tuple[str, str], list[RunRow]] = {}
        #: Contacts the store was asked about and does not know.
        self._absent: set[str] = set()
        #: Runs not yet ended, per contact, for contacts fetched in bulk (see prefetch_live_runs).
        self._live: dict[str, list[RunRow]] = {}
        #: Run starts per (contact, scenario), for entry rules (see prefetch_starts).
        self._starts: dict[tuple[str, str], list[RunStart]] = {}

    # ------------------------------------------------------------ records

    def expect(self, contacts: set[str], orders: set[str], events: set[int]) -> None:
        """Records this batch will probably need: the first one asked for loads them all.

        (A run that only moves from one wait to the next needs none of them.)"""
        self._expected_contacts |= contacts
        self._expected_orders |= orders
        self._expected_events |= events

    async def load_contacts(self, ids: set[str]) -> None:
        missing = ids - self.contacts.keys() - self._absent
        if missing:
            found = await self.store.contacts(missing)
            self.contacts.update(found)
            self._absent |= missing - found.keys()

    async def contact(self, contact_id: str) -> dict[str, Any]:
        if contact_id not in self.contacts and contact_id not in self._absent:
            wanted, self._expected_contacts = self._expected_contacts | {contact_id}, set()
            await self.load_contacts(wanted)
        if contact_id not in self.contacts:  # a contact the store does not know yet
            self.contacts[contact_id] = {"id": contact_id, "created_at": self.now_ms, "attributes": {}, "channels": {},
                                         "tags": []}  # fmt: skip
            self._unsaved.add(contact_id)
        return self.contacts[contact_id]

    def update_contact(self, contact_id: str, fields: dict[str, Any], at: int | None = None) -> None:
        """Change a contact here and in the store."""
        record = self.contacts.setdefault(contact_id, {"id": contact_id, "created_at": at or self.now_ms})
        if self.dated and (
            contact_id in self._unsaved
            or any(record.get(f) != fields[f] for f in ("attributes", "timezone") if f in fields)
        ):
            self.changes.date_checks.append((contact_id, self.now_ms))
        record.update(fields)
        self._unsaved.discard(contact_id)
        self.changes.contacts.append(ContactUpdate(id=contact_id, at=at or self.now_ms, fields=dict(fields)))

    def ensure_saved(self, contact_id: str, at: int) -> None:
        """Make sure a contact first seen in this batch is written."""
        if contact_id in self._unsaved:
            self.update_contact(contact_id, {}, at)

    async def load_orders(self, ids: set[str]) -> None:
        missing = ids - self.orders.keys()
        if missing:
            found = await self.store.orders(missing)
            for order_id in missing:
                self.orders[order_id] = found.get(order_id)

    async def order(self, order_id: str | None) -> dict[str, Any] | None:
        if order_id is None:
            return None
        if order_id not in self.orders:
            wanted, self._expected_orders = self._expected_orders | {order_id}, set()
            await self.load_orders(wanted)
        return self.orders.get(order_id)

    async def load_events(self, ids: set[int]) -> None:
        missing = ids - self._events.keys()
        if missing:
            found = await self.store.events(missing)
            for event_id in missing:
                self._events[event_id] = found.get(event_id)

    async def event(self, event_id: int) -> EventRow | None:
        """A stored event (the trigger of a run), kept for the batch."""
        if event_id not in self._events:
            wanted, self._expected_events = self._expected_events | {event_id}, set()
            await self.load_events(wanted)
        return self._events[event_id]

    # ------------------------------------------------------------ runs

    def add_run(self, run: RunRow) -> None:
        self.runs[run.id] = run
        self.new_run_ids.add(run.id)
        self._new_runs_of.setdefault((run.scenario, run.contact_id), []).append(run)

    def touch(self, run: RunRow) -> RunRow:
        """The batch's copy of a run (so that later work sees its changes)."""
        return self.runs.setdefault(run.id, run)

    # A batch handles hundreds of events or runs; asking the store once for all their
    # contacts beats asking once per event (each question costs a round trip).

    async def prefetch_live_runs(self, contact_ids: set[str]) -> None:
        missing = contact_ids - self._live.keys()
        if missing:
            for contact_id in missing:
                self._live[contact_id] = []
            for run in await self.store.live_runs_of(missing):
                self._live[run.contact_id].append(run)

    async def prefetch_starts(self, contact_ids: set[str], scenarios: set[str]) -> None:
        wanted = {(c, s) for c in contact_ids for s in scenarios} - self._starts.keys()
        if wanted:
            for key in wanted:
                self._starts[key] = []
            for start in await self.store.run_starts({c for c, _ in wanted}, {s for _, s in wanted}):
                if (start.contact_id, start.scenario) in wanted:
                    self._starts[(start.contact_id, start.scenario)].append(start)

    async def prefetch_lists(self, contact_ids: set[str]) -> None:
        missing = contact_ids - self._lists.keys()
        if missing:
            self._lists.update(await self.store.lists_of_many(missing))

    async def prefetch_segments(self, contact_ids: set[str]) -> None:
        missing = {c for c in contact_ids if ("segments", c) not in self._cache}
        if missing:
            for contact_id, segments in (await self.store.segments_of_many(missing)).items():
                self._cache[("segments", contact_id)] = segments

    async def live_runs(self, contact_id: str, scenarios: set[str]) -> list[RunRow]:
        known = self._live.get(contact_id)
        stored = (
            [r for r in known if r.scenario in scenarios]
            if known is not None
            else await self.store.live_runs(contact_id, scenarios)
        )
        found = {r.id: r for r in stored}
        for run in self.runs.values():
            if run.contact_id == contact_id and run.scenario in scenarios:
                found[run.id] = run
        return [self.touch(r) for r in found.values() if r.status in LIVE]

    async def awaiting_runs(self, contact_id: str, event_type: str) -> list[RunRow]:
        known = self._live.get(contact_id)
        stored = (
            [r for r in known if r.await_event == event_type]
            if known is not None
            else await self.store.awaiting_runs(contact_id, event_type)
        )
        found = {r.id: r for r in stored}
        for run in self.runs.values():
            if run.contact_id == contact_id:
                found[run.id] = run
        return [self.touch(r) for r in found.values() if r.await_event == event_type and r.status in LIVE]

    async def count_runs(
        self, scenario: str, *, contact_id: str | None = None, order_id: str | None = None, since: int | None = None
    ) -> int:
        starts = self._starts.get((contact_id, scenario)) if contact_id is not None else None
        if starts is not None:
            stored = sum(
                1
                for s in starts
                if (order_id is None or s.order_id == order_id) and (since is None or s.started_at >= since)
            )
        else:
            stored = await self.store.count_runs(scenario, contact_id=contact_id, order_id=order_id, since=since)
        candidates = (
            self._new_runs_of.get((scenario, contact_id), [])
            if contact_id is not None
            else [self.runs[i] for i in self.new_run_ids if self.runs[i].scenario == scenario]
        )
        fresh = sum(
            1
            for r in candidates
            if (order_id is None or r.order_id == order_id) and (since is None or r.started_at >= since)
        )
        return stored + fresh

    def finish(self) -> Changes:
        """The changes, with every run this batch created or changed."""
        for run_id, run in self.runs.items():
            if run_id in self.new_run_ids:
                self.changes.new_runs.append(run)
            elif run.dirty:
                self.changes.runs.append(run)
        return self.changes

    # ------------------------------------------------------------ messages

    async def count_messages(self, contact_id: str, scenario: str | None, since: int) -> int:
        stored = await self.store.count_messages(contact_id, scenario=scenario, since=since)
        if scenario is None:
            return stored + sum(n for (c, _), n in self._messages.items() if c == contact_id)
        return stored + self._messages[(contact_id, scenario)]

    async def count_policy_messages(self, contact_id: str, channel: str, since: int, exempt: frozenset[str]) -> int:
        """Messages of a channel to a contact since a moment, over every scenario, the
        templates in ``exempt`` (transactional ones) aside: what the policy's cap counts."""
        stored = await self.store.count_messages(contact_id, scenario=None, since=since, channel=channel,
                                                 exempt=exempt)  # fmt: skip
        return stored + self._policy_messages[(contact_id, channel)]

    def message_queued(self, contact_id: str, scenario: str | None, channel: str | None = None) -> None:
        """A message queued for ``contact_id``; ``channel`` when the policy counts it."""
        self._messages[(contact_id, scenario)] += 1
        if channel is not None:
            self._policy_messages[(contact_id, channel)] += 1
        self._last_message[contact_id] = self.now_ms

    async def last_message_at(self, contact_id: str, channel: str | None) -> int | None:
        if contact_id in self._last_message:
            return self._last_message[contact_id]
        return await self.store.last_message_at(contact_id, channel)

    # ------------------------------------------------------------ lists and coupons

    async def lists_of(self, contact_id: str) -> set[str]:
        if contact_id not in self._lists:
            await self.prefetch_lists(self._expected_contacts | self.contacts.keys() | {contact_id})
        return self._lists[contact_id]

    async def change_list(self, name: str, contact_id: str, add: bool) -> bool:
        """Add or remove a member; True when membership changed."""
        members = await self.lists_of(contact_id)
        if add == (name in members):
            return False
        if add:
            members.add(name)
            self.changes.list_adds.append((name, contact_id, self.now_ms))
        else:
            members.discard(name)
            self.changes.list_removes.append((name, contact_id))
        return True

    async def draw_pool_code(self, coupon: str) -> str | None:
        drawn = self._drawn.setdefault(coupon, set())
        code = await self.store.draw_pool_code(coupon, drawn)
        if code is not None:
            drawn.add(code)
        return code

    async def pool_left(self, coupon: str) -> int:
        """Free codes left in a pool once this batch's draws are committed."""
        key = ("pool free", coupon)
        free: int | None = self.cached(key)
        if free is None:
            # Counted once per batch, before this batch's draws were committed.
            free = self.remember(key, await self.store.free_pool_codes(coupon))
        return max(0, free - len(self._drawn.get(coupon, ())))

    # ------------------------------------------------------------ events made by the runtime

    def emit(
        self, event_type: str, contact_id: str, data: dict[str, Any], key: str, order: dict[str, Any] | None = None,
        at: int | None = None,
    ) -> None:  # fmt: skip
        """An event the runtime itself raises (list.entered, group.changed), processed later in order;
        ``at``: when it happened, if not now."""
        if self.listened is not None and event_type not in self.listened:
            return
        payload = {"type": event_type, "key": key, "contact": {"id": contact_id}, "data": data}
        if order is not None:
            payload["order"] = order
        self.changes.emitted_events.append(
            EventIn(key=key, type=event_type, contact_id=contact_id, occurred_at=self.now_ms if at is None else at,
                    payload=json.dumps(payload, separators=(",", ":")))
        )  # fmt: skip

    # ------------------------------------------------------------ cached facts

    async def contact_orders(self, contact_id: str) -> list[dict[str, Any]]:
        key = ("orders", contact_id)
        if key not in self._cache:
            orders = {o["id"]: o for o in await self.store.contact_orders(contact_id)}
            for order_id, record in self.orders.items():
                if record is not None and record.get("contact_id") == contact_id:
                    orders[order_id] = record
            self._cache[key] = sorted(orders.values(), key=lambda o: (o["created_at"], o["id"]))
        return list(self._cache[key])

    def forget_orders(self, contact_id: str) -> None:
        self._cache.pop(("orders", contact_id), None)

    async def course_access(self, contact_id: str) -> dict[str, tuple[str | None, str]]:
        key = ("courses", contact_id)
        if key not in self._cache:
            self._cache[key] = await self.store.course_access(contact_id)
        result: dict[str, tuple[str | None, str]] = self._cache[key]
        return result

    async def set_course(self, contact_id: str, course: str, tariff: str | None, progress: Decimal) -> None:
        # Later reads in this batch (segments, conditions) must see the new progress
        # before it is committed, so the overlay is updated, not dropped.
        courses = dict(await self.course_access(contact_id))
        courses[course] = (tariff, str(progress))
        self._cache[("courses", contact_id)] = courses
        self.changes.course_access.append(
            {"contact_id": contact_id, "course": course, "tariff": tariff, "progress": str(progress),
             "granted_at": self.now_ms}
        )  # fmt: skip

    async def recommend(self, contact_id: str, kind: str, limit: int, **params: Any) -> list[ProductView]:
        if self.recommender is None:
            self.recommender = Recommender(self.store)
        mine = await self.contact_orders(contact_id)
        return await self.recommender.recommend(self.now_ms, mine, kind, limit, **params)

    def cached(self, key: Any) -> Any:
        return self._cache.get(key)

    def remember(self, key: Any, value: Any) -> Any:
        self._cache[key] = value
        return value
