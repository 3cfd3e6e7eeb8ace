"""The sender: claims due outbox messages, delivers them through their channel, records outcomes.

Temporary failures are tried again after 1, 2, 4, 8... minutes (up to `max_delay`), until
the message is `max_age` old; then it is given up with the last reason. A permanent
failure is recorded at once; when the provider says the address does not exist, a
`message.bounced` event marks the channel unreachable for that contact (in the same
transaction), so later sends to it are skipped with that reason on the run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable, Collection, Mapping

import msgspec

from ...interpreter.clock import Clock, idle_until
from ...interpreter.runtime.batch import ms_of
from ...interpreter.store import PENDING, SENT, UNDELIVERED, Delivery, EventIn, OutboxRow, Store
from ..failures import CONFIGURATION, GAVE_UP, plain_reason
from .base import Channel, Outcome, failed, retry

UTC = dt.UTC
logger = logging.getLogger("scn.delivery")
#: Channels whose addresses belong to contacts (a webhook's URL belongs to a scenario).
CONTACT_CHANNELS = frozenset({"email", "sms", "viber", "push", "webpush"})


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    first_delay_ms: int = 60_000
    max_delay_ms: int = 3_600_000
    #: A message older than this is given up instead of tried again.
    max_age_ms: int = 86_400_000
    #: How long a claimed message is left to its sender before another may try it.
    lease_ms: int = 300_000

    def delay(self, attempts: int) -> int:
        """Wait before the next attempt, after ``attempts`` failed ones: 1, 2, 4, 8... x first."""
        return int(min(self.max_delay_ms, self.first_delay_ms * 2 ** max(0, attempts - 1)))


def _age(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)):
        if ms >= size:
            return f"{ms / size:.3g}{unit}"
    return f"{ms / 1000:.3g}s"


class Sender:
    def __init__(
        self, store: Store, clock: Clock, channels: Mapping[str, Channel], *,
        policy: RetryPolicy | None = None, batch_size: int = 100, concurrency: int = 16,
    ) -> None:  # fmt: skip
        self.store = store
        self.clock = clock
        self.channels = dict(channels)
        self.policy = policy or RetryPolicy()
        self.batch_size = batch_size
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        #: Called after recording bounces (`message.bounced` events for the engine).
        self.on_events: list[Callable[[], None]] = []

    def nudge(self) -> None:
        """New messages are in the outbox: look now rather than at the next planned time."""
        self._wake.set()

    async def _attempt(self, message: OutboxRow) -> Outcome:
        channel = self.channels.get(message.channel)
        if channel is None:
            why = f"no provider is configured for {message.channel}: add one to the delivery settings"
            return failed(why, CONFIGURATION)
        async with self._slots:
            try:
                return await channel.send(message)
            except Exception as error:  # a bug in a channel must not lose the message
                logger.exception("channel %s failed on message %s", message.channel, message.id)
                return retry(
                    f"an internal error in the {message.channel} channel ({plain_reason(error)}); it is logged"
                )

    async def deliver_due(self) -> int:
        """One batch: claim, deliver in parallel, record. Returns how many were tried."""
        claimed = await self._claim()
        if claimed:
            await self._record(claimed, await self._send_all(claimed))
        return len(claimed)

    async def deliver_all(self) -> int:
        """Every message due now, batch after batch, with the database work off the wire:
        the next batch is claimed while one is being sent, and a batch's outcomes are
        recorded (at once, as with `deliver_due`) while the next one is being sent. Claiming
        and recording 500 messages take ~60 ms, a tenth of what sending them takes; done
        in turn, the connections stood idle meanwhile. Returns how many were tried."""
        total = 0
        recording: asyncio.Future[None] | None = None
        recorded: set[int] = set()
        claimed = await self._claim()
        try:
            while claimed:
                # Messages being sent or recorded are ours whatever their lease says (a
                # slow server, or a fast test clock, can outlast it): never claimed twice.
                following = asyncio.ensure_future(self._claim({m.id for m in claimed} | recorded))
                try:
                    outcomes = await self._send_all(claimed)
                    if recording is not None:
                        await recording
                    recording = asyncio.ensure_future(self._record(claimed, outcomes))
                    recorded = {m.id for m in claimed}
                    total += len(claimed)
                finally:
                    claimed = await following
        finally:
            if recording is not None:
                await recording
        return total

    async def _claim(self, busy: Collection[int] = ()) -> list[OutboxRow]:
        return await self.store.claim_outbox(ms_of(self.clock.now()), self.batch_size, self.policy.lease_ms, busy)

    async def _send_all(self, claimed: list[OutboxRow]) -> list[Outcome]:
        return await asyncio.gather(*(self._attempt(m) for m in claimed))

    async def _record(self, claimed: list[OutboxRow], outcomes: list[Outcome]) -> None:
        now = ms_of(self.clock.now())
        deliveries: list[Delivery] = []
        bounces: list[EventIn] = []
        for message, outcome in zip(claimed, outcomes, strict=True):
            deliveries.append(self._delivery(message, outcome, now))
            if outcome.status == "failed":
                logger.warning("message %s to %s undeliverable: %s", message.id, message.recipient, outcome.detail)
                if outcome.suppress and message.channel in CONTACT_CHANNELS:
                    bounces.append(self._bounce(message, outcome, now))
        await self.store.record_deliveries(deliveries, bounces)
        if bounces:
            for listener in self.on_events:
                listener()

    def _delivery(self, message: OutboxRow, outcome: Outcome, now: int) -> Delivery:
        if outcome.status == "sent":
            return Delivery(id=message.id, status=SENT, at=now, cost=outcome.cost, parts=outcome.parts)
        if outcome.status == "failed":
            return Delivery(id=message.id, status=UNDELIVERED, at=now, error=outcome.detail, failure=outcome.failure)
        next_attempt = now + self.policy.delay(message.attempts)
        if next_attempt - message.created_at > self.policy.max_age_ms:
            error = f"gave up after {message.attempts} attempts over {_age(now - message.created_at)}: {outcome.detail}"
            return Delivery(id=message.id, status=UNDELIVERED, at=now, error=error, failure=GAVE_UP)
        return Delivery(id=message.id, status=PENDING, at=now, next_attempt_at=next_attempt, error=outcome.detail)

    def _bounce(self, message: OutboxRow, outcome: Outcome, now: int) -> EventIn:
        data = {"channel": message.channel, "template": message.template, "scenario": message.scenario,
                "reason": outcome.detail}  # fmt: skip
        return EventIn(
            key=f"scn:bounce:{message.id}",
            type="message.bounced",
            contact_id=message.contact_id,
            occurred_at=now,
            payload=json.dumps({"data": data}, ensure_ascii=False),
        )

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            if await self.deliver_all():
                continue
            await idle_until(self.clock, await self.store.next_outbox_attempt(), self._wake, stop)

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
