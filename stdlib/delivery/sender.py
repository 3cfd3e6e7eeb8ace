"""The sender: claims due outbox messages, delivers them through their channel, records outcomes.

Temporary failures are tried again after 1, 2, 4, 8... minutes (up to `max_delay`), until
the message is `max_age` old; then it is given up with the last reason. A permanent
failure is recorded at once; when the provider says the address does not exist (a hard
bounce: SMTP 5xx about the mailbox, a push token gone), the address goes on the
suppression list at once (`Bounces`, as a provider's webhook puts it there) and a
`message.bounced` event (kind `hard`, in the transaction of the outcome) marks the
channel unreachable for that contact, so later sends to it are skipped with that reason.
A message given up after temporary refusals of the recipient's mailbox (SMTP 4xx about
it) is a soft bounce: counted, and the address suppressed once it reaches the threshold.

What a crash can cost is kept small. Each channel is sent by as many lanes as it holds
connections (`parallel`: the SMTP pool's size) or `concurrency`; a lane sends one message
at a time, and lets the provider accept the next only once the outcome of the last is on
disk. So when the process dies, at most one message per lane was accepted by the
provider without our knowing it (it goes again after the restart, with the same
Message-ID or Idempotency-Key). The lanes' outcomes are written and their next messages
claimed together, one transaction per round, a few at a time; and a sender starting up
takes back at once what a dead one had claimed (`Store.reclaim_outbox`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import cast

import msgspec

from ...interpreter import telemetry
from ...interpreter.clock import Clock, idle_until, ms_of
from ...interpreter.store import PENDING, SENT, UNDELIVERED, Claim, Delivery, EventIn, OutboxRow, Store
from ...interpreter.store.unavailable import unavailable
from ..failures import CONFIGURATION, GAVE_UP, plain_reason
from .base import BounceKind, Bounces, Channel, Outcome, Pipelined, Ready, Screening, bounce_source, failed, retry
from .pacing import Pace, paced, paces

UTC = dt.UTC
logger = logging.getLogger("scn.delivery")
#: Channels whose addresses belong to contacts (a webhook's URL belongs to a scenario).
CONTACT_CHANNELS = frozenset({"email", "sms", "viber", "push", "webpush"})
#: Longest reason a bounce event carries (event strings are bounded at the door).
MAX_REASON = 200
#: While other senders hold claims, how often (seconds) to look whether one of them died.
RECHECK_S = 1.0
#: After the store could not be used (`interpreter.store.unavailable`), the first wait
#: before the sender tries again (seconds), doubling up to the second.
STORE_PAUSE_S = 1.0
STORE_PAUSE_MAX_S = 30.0


async def wait_for_stop(stop: asyncio.Event, seconds: float) -> None:
    """``seconds`` on the wall clock, or less if ``stop`` is set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    first_delay_ms: int = 60_000
    max_delay_ms: int = 3_600_000
    #: A message older than this is given up instead of tried again.
    max_age_ms: int = 86_400_000
    #: How long a claimed message is left to its sender before another may try it, when
    #: nobody can tell that the sender died (its death is noticed at once otherwise).
    lease_ms: int = 300_000

    def delay(self, attempts: int) -> int:
        """Wait before the next attempt, after ``attempts`` failed ones: 1, 2, 4, 8... x first."""
        return int(min(self.max_delay_ms, self.first_delay_ms * 2 ** max(0, attempts - 1)))


def _age(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)):
        if ms >= size:
            return f"{ms / size:.3g}{unit}"
    return f"{ms / 1000:.3g}s"


def _about(message: OutboxRow) -> dict[str, object]:
    """What a log line about a message is about (its fields in structured logs)."""
    return {"message_id": message.id, "channel": message.channel, "scenario": message.scenario,
            "run_id": message.run_id, "contact": message.contact_id}  # fmt: skip


class Sender:
    def __init__(
        self, store: Store, clock: Clock, channels: Mapping[str, Channel], *,
        policy: RetryPolicy | None = None, batch_size: int = 100, concurrency: int = 16,
        bounces: Bounces | None = None,
    ) -> None:  # fmt: skip
        """``bounces`` takes the bounces seen (the suppression list); without it a hard
        bounce still marks the contact's channel unreachable."""
        self.store = store
        self.bounces = bounces
        self.clock = clock
        self.channels = dict(channels)
        self.policy = policy or RetryPolicy()
        #: The most messages `deliver_due` tries, and a claim of messages no channel sends.
        self.batch_size = batch_size
        #: Lanes per channel: as many as it sends at once (`parallel`), else ``concurrency``.
        self.lanes = {name: max(1, int(getattr(channel, "parallel", None) or concurrency))
                      for name, channel in self.channels.items()}  # fmt: skip
        #: The channels that look at each claim as a whole before its sends (`Screening`).
        self.screens = {name: channel for name, channel in self.channels.items() if isinstance(channel, Screening)}
        self._owner: str | None = None
        self._wake = asyncio.Event()
        #: Called after recording bounces (`message.bounced` events for the engine).
        self.on_events: list[Callable[[], None]] = []
        #: The workspace policy's provider rates, by channel (`set_rates`).
        self.paces: dict[str, Pace] = {}

    def set_rates(self, rates: dict[str, tuple[int, int]]) -> None:
        """Pace the providers as the workspace policy says: ``(count, period_ms)`` by
        provider name (`smtp`); a provider the policy does not name goes as fast as it can."""
        self.paces = paces(rates, self.paces)

    def nudge(self) -> None:
        """New messages are in the outbox: look now rather than at the next planned time."""
        self._wake.set()

    async def _attempt(self, message: OutboxRow, ready: Ready | None) -> Outcome:
        """One attempt; a pipelined channel is given ``ready`` to await before the
        provider may accept the message."""
        channel = self.channels[message.channel]
        try:
            if ready is not None:  # the lane gives one only to a Pipelined channel
                return await cast(Pipelined, channel).send_after(message, ready)
            return await channel.send(message)
        except Exception as error:  # a bug in a channel must not lose the message
            logger.exception("channel %s failed on message %s", message.channel, message.id, extra=_about(message))
            return retry(f"an internal error in the {message.channel} channel ({plain_reason(error)}); it is logged")

    async def deliver_due(self) -> int:
        """The messages due now, at most `batch_size`: claimed, delivered, recorded.
        Returns how many were tried."""
        return await _Pass(self, await self._start(), self.batch_size).run()

    async def deliver_all(self) -> int:
        """Every message due now, until none is left (what the sender's loop does).
        Returns how many were tried."""
        return await _Pass(self, await self._start(), None).run()

    async def _start(self) -> str:
        """This sender's identity; the first time, the claims of dead senders are taken back."""
        if self._owner is None:
            self._owner = self.store.new_sender()
            await self._reclaim()
        return self._owner

    async def _reclaim(self) -> None:
        assert self._owner is not None
        _, others = await self.store.reclaim_outbox(ms_of(self.clock.now()), self._owner)
        if others:  # another sender holds claims: look again soon, it may die
            asyncio.get_running_loop().call_later(RECHECK_S, self._wake.set)

    def _record(
        self, finished: list[tuple[OutboxRow, Outcome]], now: int
    ) -> tuple[list[Delivery], list[tuple[OutboxRow, BounceKind, str]]]:
        """The deliveries to write for finished attempts, and the bounces among them."""
        deliveries: list[Delivery] = []
        bounces: list[tuple[OutboxRow, BounceKind, str]] = []
        for message, outcome in finished:
            delivery = self._delivery(message, outcome, now)
            deliveries.append(delivery)
            if delivery.status == UNDELIVERED:
                logger.warning(
                    "message %s to %s undeliverable: %s", message.id, message.recipient, delivery.error,
                    extra=_about(message),
                )  # fmt: skip
            if message.channel not in CONTACT_CHANNELS:
                continue
            if outcome.status == "failed" and outcome.suppress:
                bounces.append((message, "hard_bounce", outcome.detail or "undeliverable"))
            elif delivery.failure == GAVE_UP and outcome.soft_bounce:
                bounces.append((message, "soft_bounce", outcome.detail or "refused for now"))
        return deliveries, bounces

    async def _bounced(self, bounces: list[tuple[OutboxRow, BounceKind, str]], now: int) -> list[EventIn]:
        """The bounces taken by the suppression list; the `message.bounced` events of
        those that made the address unreachable."""
        events = []
        for message, kind, detail in bounces:
            suppressed = kind == "hard_bounce"
            if self.bounces is not None:
                suppressed = await self.bounces.bounced(message, kind, detail, now)
            if suppressed:
                events.append(self._bounce(message, kind, detail, now))
        return events

    def _delivery(self, message: OutboxRow, outcome: Outcome, now: int) -> Delivery:
        if outcome.status == "sent":
            telemetry.message_sent(message.channel, message.created_at, now)
            return Delivery(id=message.id, status=SENT, at=now, cost=outcome.cost, parts=outcome.parts)
        if outcome.status == "failed":
            return Delivery(id=message.id, status=UNDELIVERED, at=now, error=outcome.detail, failure=outcome.failure)
        # The provider's Retry-After when it asks for longer than the backoff, up to the
        # policy's longest wait between attempts.
        wait = max(self.policy.delay(message.attempts), min(outcome.after_ms or 0, self.policy.max_delay_ms))
        next_attempt = now + wait
        if next_attempt - message.created_at > self.policy.max_age_ms:
            error = f"gave up after {message.attempts} attempts over {_age(now - message.created_at)}: {outcome.detail}"
            return Delivery(id=message.id, status=UNDELIVERED, at=now, error=error, failure=GAVE_UP)
        return Delivery(id=message.id, status=PENDING, at=now, next_attempt_at=next_attempt, error=outcome.detail)

    def _bounce(self, message: OutboxRow, kind: BounceKind, detail: str, now: int) -> EventIn:
        """The `message.bounced` event of a bounce, with the fields a provider's webhook gives it."""
        data = {"channel": message.channel, "template": message.template, "scenario": message.scenario,
                "reason": detail[:MAX_REASON], "kind": kind.removesuffix("_bounce"),
                "provider": bounce_source(message.channel)}  # fmt: skip
        return EventIn(
            key=f"scn:bounce:{message.id}",
            type="message.bounced",
            contact_id=message.contact_id,
            occurred_at=now,
            payload=json.dumps({"data": data}, ensure_ascii=False),
        )

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Delivers until ``stop``. A store that cannot be used for a while (locked by another
        process past its busy timeout, the disk full) stops nothing: the pass that met it gave
        back what it claimed, and the loop waits (1 s, doubling up to STORE_PAUSE_MAX_S) and
        goes on. Any other error ends the loop (the server reports it down)."""
        loop = asyncio.get_running_loop()
        checked = loop.time()
        pause = STORE_PAUSE_S
        while not stop.is_set():
            try:
                if self._owner is None:
                    await self._start()
                self._wake.clear()
                if loop.time() - checked >= RECHECK_S:
                    await self._reclaim()
                    checked = loop.time()
                if await self.deliver_all():
                    pause = STORE_PAUSE_S
                    continue
                due = await self.store.next_outbox_attempt()
            except Exception as error:
                why = unavailable(error)
                if why is None:
                    raise
                logger.warning("the sender cannot use the store (%s: %s); it tries again in %g s", why, error, pause)
                await wait_for_stop(stop, pause)
                pause = min(pause * 2, STORE_PAUSE_MAX_S)
                continue
            pause = STORE_PAUSE_S
            await idle_until(self.clock, due, self._wake, stop)

    async def close(self) -> None:
        """Closes the channels and gives back what this sender still holds (nothing is
        being sent once its loop has stopped)."""
        for channel in self.channels.values():
            await channel.close()
        if self._owner is not None:
            await self.store.release_outbox(ms_of(self.clock.now()), self._owner)


class _Pass:
    """One pass of a sender over what is due: lanes send, rounds record and claim.

    A lane sends one message at a time and starts on the next one (claimed in an earlier
    round: up to two wait for each lane) before the outcome of the last is written; a
    pipelined channel (SMTP) sends the envelope and data meanwhile, the others wait.
    Nothing the provider could accept leaves before the outcome of the lane's message
    before is on disk. A round goes when a lane waits for it, or when every lane has an
    outcome to write (`_pressing`). A channel whose claim comes back short has nothing
    more due: its lanes end, and the pass ends when every lane has and every outcome is
    written."""

    def __init__(self, sender: Sender, owner: str, limit: int | None) -> None:
        self.sender = sender
        self.owner = owner
        #: How many more messages may be claimed (None: no limit).
        self.room = limit
        self.ready: dict[str, deque[OutboxRow]] = {name: deque() for name in sender.lanes}
        #: Lanes per channel that have not ended.
        self.active = dict(sender.lanes)
        #: Channels with nothing more due; None stands for channels with no provider.
        self.drained: set[str | None] = set()
        self.finished: list[tuple[OutboxRow, Outcome, asyncio.Future[None] | None]] = []
        #: Claimed and not recorded yet.
        self.held: set[int] = set()
        #: Lanes waiting for a round: for the record of their last message, or for a message.
        self.waiting = 0
        self.work = asyncio.Event()
        self.round = asyncio.Event()
        self.tried = 0

    async def run(self) -> int:
        lanes = [asyncio.create_task(self._lane(name)) for name, count in self.sender.lanes.items()
                 for _ in range(count)]  # fmt: skip
        try:
            while True:
                claims = self._claims()
                ended = all(lane.done() for lane in lanes)
                if (self.finished or claims) and (ended or self._pressing()):
                    await self._round(claims)
                elif ended:
                    break
                else:
                    self.work.clear()
                    await self.work.wait()
        except Exception:
            # What this pass holds goes back at once (the process lives on: nobody would
            # see it die); should that fail too, the lease gives it to the next sender.
            await self._cancel(lanes)
            try:
                await self.sender.store.release_outbox(ms_of(self.sender.clock.now()), self.owner, self.held)
            except Exception:
                logger.exception("could not give back %d claimed messages", len(self.held))
                self.sender._owner = None
            raise
        finally:
            await self._cancel(lanes)
        return self.tried

    def _pressing(self) -> bool:
        """Whether a round must go now: a lane waits for the record of its last message
        (or for a message), or every lane has an outcome to record. Otherwise outcomes
        gather: a lane needs the record of its last message only before the end of the
        next (it sends the envelope and data meanwhile), and a round that writes several
        outcomes costs one disk flush for them all."""
        return bool(self.waiting) or len(self.finished) >= sum(self.active.values())

    @staticmethod
    async def _cancel(lanes: list[asyncio.Task[None]]) -> None:
        # Again until they end: Python 3.11's wait_for (in aiosmtplib) can swallow a cancel
        # that comes as its answer arrives, and the lane would wait for a round forever.
        while pending := [lane for lane in lanes if not lane.done()]:
            for lane in pending:
                lane.cancel()
            await asyncio.wait(pending, timeout=0.05)

    def _waited(self, _: asyncio.Future[None]) -> None:
        self.waiting -= 1

    async def _lane(self, name: str) -> None:
        queue = self.ready[name]
        pipelined = isinstance(self.sender.channels[name], Pipelined)
        recorded: asyncio.Future[None] | None = None  # the write of this lane's last outcome

        def written() -> asyncio.Future[None] | None:
            """What to await before the provider may accept the next message: the write of
            the last outcome, unless it is done (asking for a round if it is not)."""
            if recorded is None:
                return None
            if recorded.done():
                recorded.result()  # the round failed (cancelled): nothing more goes
                return None
            self.waiting += 1
            self.work.set()
            recorded.add_done_callback(self._waited)
            return recorded

        try:
            while True:
                while not queue:
                    if name in self.drained:
                        return
                    end_of_round = self.round
                    self.waiting += 1
                    self.work.set()
                    try:
                        await end_of_round.wait()
                    finally:
                        self.waiting -= 1
                message = queue.popleft()  # its replacement is claimed with the next round
                pace = self.sender.paces.get(name)
                if pipelined:
                    # Paced at the last moment, as the data goes: what the provider counts.
                    outcome = await self.sender._attempt(message, written if pace is None else paced(written, pace))
                else:
                    if (waiting := written()) is not None:
                        await waiting
                    if pace is not None:
                        await pace.wait()
                    outcome = await self.sender._attempt(message, None)
                recorded = asyncio.get_running_loop().create_future()
                self.finished.append((message, outcome, recorded))
                self.work.set()
        finally:
            self.active[name] -= 1
            self.work.set()

    def _claims(self) -> list[tuple[str | None, Claim]]:
        claims: list[tuple[str | None, Claim]] = []
        room = self.room
        for name in self.sender.lanes:
            # Claimed a few at a time (a claim costs more than a record): up to two
            # waiting per lane, topped up once fewer than one per lane wait.
            waiting = len(self.ready[name])
            want = 2 * self.active[name] - waiting if waiting < self.active[name] else 0
            if name not in self.drained and want > 0:
                want = want if room is None else min(want, room)
                screen = self.sender.screens.get(name)  # the suppression list read with the claim
                listed_as = screen.listed_as if screen is not None else None
                claims.append((name, Claim(limit=want, channel=name, screen=listed_as)))
                room = None if room is None else room - want
        if None not in self.drained:
            # Messages of channels without a provider fail as soon as they are claimed.
            limit = self.sender.batch_size if room is None else min(self.sender.batch_size, room)
            claims.append((None, Claim(limit=limit, not_channels=tuple(self.sender.lanes))))
        return [(name, claim) for name, claim in claims if claim.limit > 0]

    async def _round(self, claims: list[tuple[str | None, Claim]]) -> None:
        finished, self.finished = self.finished, []
        sender = self.sender
        now = ms_of(sender.clock.now())
        deliveries, bounced = sender._record([(m, o) for m, o, _ in finished], now)
        try:
            # The suppression list first: should the process die before the outcome is
            # written, the message is tried again and refused by the list, never sent.
            bounces = await sender._bounced(bounced, now) if bounced else []
            batches = await sender.store.exchange_outbox(
                deliveries, bounces, [c for _, c in claims], now=now, lease_ms=sender.policy.lease_ms,
                owner=self.owner,
            )  # fmt: skip
        except BaseException:
            for _, _, recorded in finished:
                if recorded is not None:
                    recorded.cancel()
            raise
        self.held.difference_update(m.id for m, _, _ in finished)
        for _, _, recorded in finished:
            if recorded is not None:
                recorded.set_result(None)
        if bounces:
            for listener in sender.on_events:
                listener()
        for rows in batches:
            self.held.update(r.id for r in rows)
        for (name, _), rows in zip(claims, batches, strict=True):
            if rows and name in sender.screens:  # the claim's answers from the suppression list
                sender.screens[name].screened(rows, rows.suppressed)
        for (name, claim), rows in zip(claims, batches, strict=True):
            self.tried += len(rows)
            if self.room is not None:
                self.room -= len(rows)
            if len(rows) < claim.limit:
                self.drained.add(name)
            if name is not None:
                self.ready[name].extend(rows)
            for row in rows if name is None else ():
                why = f"no provider is configured for {row.channel}: add one to the delivery settings"
                self.finished.append((row, failed(why, CONFIGURATION), None))
        if self.room == 0:
            self.drained.update([None, *sender.lanes])
        self.round.set()
        self.round = asyncio.Event()
