"""What the runtime reads from and writes to a store.

Times are integer milliseconds since the epoch (UTC); money and other decimals are
text; structured fields are JSON text. The runtime computes a unit of work in memory
(`Changes`) and the store applies it in one transaction, so a crash leaves either all
of a batch's effects or none.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec


def decode_json(text: str) -> Any:
    """A JSON column or payload (attributes, channels, items, events...): msgspec's
    decoder, five times the standard one's speed; `json.dumps` also wrote NaN and
    Infinity, which only `json` reads."""
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return json.loads(text)


#: Rows read in bulk are built positionally, in column order: msgspec builds a Struct from
#: positional values several times faster than from keywords.
#: Records the runtime makes by the thousand are not tracked by the cycle collector
#: (``gc=False``; none of them can be part of a reference cycle): tracked, they made a
#: burst of wake-ups run full collections, straight into the lateness of the runs
#: behind them.
class EventIn(msgspec.Struct, gc=False):
    """An event as accepted: its idempotency key, type, contact and payload (JSON)."""

    key: str
    type: str
    contact_id: str
    occurred_at: int
    payload: str


class EventRow(msgspec.Struct, gc=False):
    id: int
    key: str
    type: str
    contact_id: str
    occurred_at: int
    received_at: int
    payload: str
    processed_at: int | None = None


class RunRow(msgspec.Struct, gc=False):
    """A run: where a contact is in a scenario. Mutable while the runtime works on it."""

    id: int
    scenario: str
    version: int
    bundle: int
    contact_id: str
    order_id: str | None
    trigger_event: int
    position: int
    step: str | None
    vars: dict[str, Any]
    variant: str | None
    status: str
    wake_at: int | None
    await_event: str | None
    started_at: int
    updated_at: int
    ended_at: int | None = None
    reason: str | None = None
    #: Set by the runtime when the row changed and must be written.
    dirty: bool = False


#: Run statuses. Live runs have a wake-up time; the others are finished.
RUNNING = "running"  # due now: the scheduler runs it at its wake-up time
WAITING = "waiting"  # sleeping until its wake-up time
AWAITING = "awaiting"  # waiting for an event, at most until its wake-up time
DONE = "done"
STOPPED = "stopped"
EXITED = "exited"
FAILED = "failed"
CANCELLED = "cancelled"
LIVE = frozenset({RUNNING, WAITING, AWAITING})


class StepLog(msgspec.Struct, array_like=True, gc=False):
    run_id: int
    step: str
    name: str
    at: int
    outcome: str
    detail: str | None


class ReportCount(NamedTuple):
    """A figure of the messages of one bucket of a report's period (report_counts.py)."""

    #: Which bucket of the period: 0 for a report's totals, else (hour - origin) // width.
    bucket: int
    scenario: str
    #: '' where the message had none.
    step: str
    template: str
    channel: str
    variant: str
    #: sent, delivered, bounced, failed, opened, clicked, unsubscribed, ordered,
    #: `failure:CLASS`, or `revenue:CURRENCY` (in millionths).
    figure: str
    value: int


class OutboxIn(msgspec.Struct, kw_only=True):
    """A message to deliver, written in the same transaction as the step that sends it."""

    run_id: int | None
    step: str | None
    scenario: str | None
    contact_id: str
    channel: str
    template: str | None
    recipient: str
    message: str
    coupon_code: str | None
    variant: str | None
    created_at: int
    status: str = "pending"
    error: str | None = None
    #: The class of a failed message's failure (`stdlib.failures`): template, coupon, address...
    failure: str | None = None


class OutboxRow(msgspec.Struct, gc=False):
    """A message in the outbox, as the sender claims it."""

    id: int
    run_id: int | None
    step: str | None
    scenario: str | None
    contact_id: str
    channel: str
    template: str | None
    recipient: str
    message: str
    coupon_code: str | None
    variant: str | None
    status: str
    attempts: int
    next_attempt_at: int | None
    created_at: int
    sent_at: int | None = None
    error: str | None = None
    cost: str | None = None
    parts: int | None = None
    failure: str | None = None


#: Outbox statuses: waiting for (another) attempt, delivered to the provider, failed
#: (before it left, or given up on delivery: `error` says why, `failure` its class), or
#: never meant to go (the step logged why).
PENDING = "pending"
SENT = "sent"
UNDELIVERED = "failed"
SKIPPED = "skipped"


class Delivery(msgspec.Struct, kw_only=True):
    """What one attempt to deliver an outbox message came to."""

    id: int
    #: `SENT`, `UNDELIVERED`, or `PENDING` again (a temporary failure: try later).
    status: str
    at: int
    next_attempt_at: int | None = None
    error: str | None = None
    #: The failure's class when `UNDELIVERED`.
    failure: str | None = None
    cost: str | None = None
    parts: int | None = None


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    """Due messages a sender asks for: at most ``limit``, of ``channel`` (None: of any
    channel but those in ``not_channels``). With ``screen``, the claimed messages are
    looked up on ``channel``'s suppression list in the same transaction: ``screen`` gives
    the address each message's recipient is listed under (None: one the list cannot hold)."""

    limit: int
    channel: str | None = None
    not_channels: tuple[str, ...] = ()
    screen: Callable[[OutboxRow], str | None] | None = None


class CouponIssue(msgspec.Struct, kw_only=True):
    coupon: str
    code: str
    contact_id: str
    run_id: int | None
    issued_at: int
    valid_until: int | None
    #: A code drawn from an imported pool (the row exists; it is updated, not inserted).
    from_pool: bool = False
    #: A static code, one for everyone: each contact it is given to gets a row.
    shared: bool = False


class BonusEntry(msgspec.Struct, kw_only=True):
    contact_id: str
    order_id: str | None
    run_id: int | None
    amount: str
    currency: str | None
    reason: str
    at: int


class ContactUpdate(msgspec.Struct, kw_only=True):
    """Fields to set on a contact (created if new); None leaves a field alone."""

    id: str
    at: int
    fields: dict[str, Any]


class OrderUpdate(msgspec.Struct, kw_only=True):
    id: str
    contact_id: str
    at: int
    fields: dict[str, Any]
    #: A new status to record in the order's status history.
    status_changed_to: str | None = None


class Changes(msgspec.Struct, kw_only=True):
    """Everything a batch of work changes, applied in one transaction."""

    contacts: list[ContactUpdate] = msgspec.field(default_factory=list)
    orders: list[OrderUpdate] = msgspec.field(default_factory=list)
    products: list[dict[str, Any]] = msgspec.field(default_factory=list)
    #: Products known only from order items: added if the catalogue lacks them.
    seen_products: list[dict[str, Any]] = msgspec.field(default_factory=list)
    course_access: list[dict[str, Any]] = msgspec.field(default_factory=list)
    new_runs: list[RunRow] = msgspec.field(default_factory=list)
    runs: list[RunRow] = msgspec.field(default_factory=list)
    step_log: list[StepLog] = msgspec.field(default_factory=list)
    outbox: list[OutboxIn] = msgspec.field(default_factory=list)
    list_adds: list[tuple[str, str, int]] = msgspec.field(default_factory=list)
    list_removes: list[tuple[str, str]] = msgspec.field(default_factory=list)
    segment_adds: list[tuple[str, str, int]] = msgspec.field(default_factory=list)
    segment_removes: list[tuple[str, str]] = msgspec.field(default_factory=list)
    #: (contact, when its clock-dependent segments are next looked at; None: after its next event)
    segment_checks: list[tuple[str, int | None]] = msgspec.field(default_factory=list)
    #: (contact, when its date triggers are next due; None: none is ahead)
    date_checks: list[tuple[str, int | None]] = msgspec.field(default_factory=list)
    #: Date triggers' progress: (trigger key, contact, basis, done until), see DateState.
    date_states: list[tuple[str, str, str | None, int]] = msgspec.field(default_factory=list)
    coupons: list[CouponIssue] = msgspec.field(default_factory=list)
    #: (coupon_codes row id, order id, when)
    redemptions: list[tuple[int, str, int]] = msgspec.field(default_factory=list)
    bonus: list[BonusEntry] = msgspec.field(default_factory=list)
    processed_events: list[tuple[int, int]] = msgspec.field(default_factory=list)
    #: (event id, at, error): events set aside because handling them failed.
    failed_events: list[tuple[int, int, str]] = msgspec.field(default_factory=list)
    #: Events the runtime raises itself (list.entered, group.changed, ...).
    emitted_events: list[EventIn] = msgspec.field(default_factory=list)

    def empty(self) -> bool:
        return not any(
            (
                self.contacts,
                self.orders,
                self.products,
                self.seen_products,
                self.course_access,
                self.new_runs,
                self.runs,
                self.step_log,
                self.outbox,
                self.list_adds,
                self.list_removes,
                self.segment_adds,
                self.segment_removes,
                self.segment_checks,
                self.date_checks,
                self.date_states,
                self.coupons,
                self.redemptions,
                self.bonus,
                self.processed_events,
                self.failed_events,
                self.emitted_events,
            )
        )


class DateState(NamedTuple):
    """How far a date trigger got for a contact: its occurrences were computed from
    ``basis`` (the field's value and the contact's zone; None while unset), and those up to
    ``done_until`` (ms) have fired or came before the trigger watched the contact."""

    basis: str | None
    done_until: int


class RunStart(NamedTuple):
    """When a run of a scenario started, for whom and for which order (for entry rules)."""

    scenario: str
    contact_id: str
    order_id: str | None
    started_at: int


class ScenarioRow(msgspec.Struct, kw_only=True):
    name: str
    state: str
    version: int
    bundle: int
    updated_at: int


class BroadcastRow(msgspec.Struct, kw_only=True):
    """A broadcast's progress (runtime/broadcasts.py): its state, when it begins, and how
    far the making of its runs got."""

    name: str
    #: scheduled, running (its runs are being made, or are under way), paused,
    #: cancelled, or done (every member has a run, and every run has ended).
    state: str
    #: The version of the broadcast this row was scheduled for.
    version: int
    due_at: int
    #: The event its runs start from, made when it begins.
    event_id: int | None
    #: Members of the audience when it began.
    audience: int | None
    #: The last contact given a run (contacts are taken in id order).
    cursor: str | None
    queued: int
    #: When every member had a run.
    expanded_at: int | None
    #: The state a pause interrupted, to go back to on resume.
    paused_from: str | None
    created_at: int
    updated_at: int


#: Broadcast states.
SCHEDULED = "scheduled"
BROADCASTING = "running"
PAUSED = "paused"
BROADCAST_CANCELLED = "cancelled"
BROADCAST_DONE = "done"
