"""Request and response bodies of the API (msgspec; they make the OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, get_args

import msgspec

from ..interpreter.store import (
    AWAITING,
    CANCELLED,
    DONE,
    EXITED,
    FAILED,
    PENDING,
    RUNNING,
    SENT,
    SKIPPED,
    STOPPED,
    UNDELIVERED,
    WAITING,
)
from ..interpreter.views import CHANNELS

#: The values enumerated query parameters take; anything else is a 400 naming these.
RunStatus = Literal["running", "waiting", "awaiting", "done", "stopped", "exited", "failed", "cancelled"]
MessageStatus = Literal["pending", "sent", "failed", "skipped"]
ChannelName = Literal["email", "sms", "viber", "push", "webpush", "webhook"]
assert set(get_args(RunStatus)) == {RUNNING, WAITING, AWAITING, DONE, STOPPED, EXITED, FAILED, CANCELLED}
assert set(get_args(MessageStatus)) == {PENDING, SENT, UNDELIVERED, SKIPPED}
assert get_args(ChannelName) == (*CHANNELS, "webhook")


class Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class FilesUpload(Strict):
    """Workspace files by relative path: .scn scenarios and the templates / pools they name."""

    files: Annotated[dict[str, str], msgspec.Meta(min_length=1)]


class DeployResult(msgspec.Struct, kw_only=True):
    versions: dict[str, int]
    warnings: list[dict[str, Any]]
    files: list[str]


class ScenarioSummary(msgspec.Struct, kw_only=True):
    name: str
    title: str | None
    state: str
    version: int
    file: str | None
    runs: dict[str, int]


class ScenarioPage(msgspec.Struct, kw_only=True):
    items: list[ScenarioSummary]
    #: Pass as `after` for the next page; null on the last one.
    next: str | None


class ScenarioVersion(msgspec.Struct, kw_only=True):
    version: int
    bundle: int
    digest: str
    created_at: dt.datetime
    #: A draft takes no runs until it is published.
    draft: bool = False


class AuditRecord(msgspec.Struct, kw_only=True):
    """One change of a scenario: who made it (an API key's fingerprint, a console user), when,
    and what: `upload`, `draft`, `publish`, `rollback`, `pause`, `resume`, `archive`, `delete`."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    #: The version current after the change (for a draft: the draft's).
    version: int | None
    #: The version current before it (publish and rollback).
    previous: int | None
    detail: str | None


class AuditPage(msgspec.Struct, kw_only=True):
    items: list[AuditRecord]
    #: Pass as `after` for the next page; null on the last one.
    next: int | None


class UnmatchedStep(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Send runs whose step has no counterpart to this labelled step of the new version."""

    step: str


class PublishRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Which version to make current, and what the runs in flight do."""

    version: int
    #: "stay": runs in flight finish on their version; "move": they move to this one.
    runs: Literal["stay", "move"] = "stay"
    #: With "move": what runs whose step the new version lacks do (finish on their old
    #: version, exit, or go to a labelled step of the new version at once).
    unmatched: Literal["finish", "exit"] | UnmatchedStep = "finish"
    #: Answer what would happen and change nothing.
    dry_run: bool = False


class BacktestRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What to replay and through what: the period's events through a version of the scenario."""

    #: The period's start: how long before `until` (`30d`, `12h`, `2w`) or a date or time.
    since: str = "30d"
    #: The period's end: a date or time (default now).
    until: str | None = None
    #: The candidate: a stored version (default: the newest, a draft or not)...
    version: int | None = None
    #: ...or the served workspace with these files added or replaced (checked, not stored).
    files: dict[str, str] | None = None
    #: How many changed messages to list (the figures count them all).
    limit: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 100


class MoveCounts(msgspec.Struct, kw_only=True):
    """What moving the runs in flight does (or, in a dry run, would do)."""

    #: Runs moved, by the new version's step they are at (`start`: not yet at any).
    moved: dict[str, int]
    exited: int
    #: Runs that finish on their old version.
    kept: int


class PublishResult(ScenarioSummary, kw_only=True):
    """The scenario after publishing (unchanged in a dry run), what the runs in flight did,
    and warnings (a removed labelled step that runs are waiting at)."""

    dry_run: bool = False
    moves: MoveCounts | None = None
    warnings: list[str] = msgspec.field(default_factory=list)


class VersionPage(msgspec.Struct, kw_only=True):
    items: list[ScenarioVersion]
    #: Pass as `after` for the next page; null on the last one.
    next: int | None


class ScenarioDetail(ScenarioSummary, kw_only=True):
    source: str | None
    versions: list[ScenarioVersion]


class Accepted(msgspec.Struct, kw_only=True):
    key: str
    id: int
    duplicate: bool


class EventsAccepted(msgspec.Struct, kw_only=True):
    accepted: list[Accepted]


class StepEntry(msgspec.Struct, kw_only=True):
    step: str
    name: str
    at: dt.datetime
    outcome: str
    detail: str | None


class Run(msgspec.Struct, kw_only=True):
    id: int
    scenario: str
    version: int
    contact_id: str
    order_id: str | None
    status: str
    step: str | None
    variant: str | None
    wake_at: dt.datetime | None
    awaiting: str | None
    started_at: dt.datetime
    updated_at: dt.datetime
    ended_at: dt.datetime | None
    reason: str | None


class IssuedCoupon(msgspec.Struct, kw_only=True):
    code: str
    valid_until: dt.datetime | None


class AwardedBonus(msgspec.Struct, kw_only=True):
    amount: str
    currency: str | None
    percent: str | None


class RunVariables(msgspec.Struct, kw_only=True):
    """What a run keeps between its steps (times as ISO 8601, like every time in the API)."""

    #: The code the run gave the contact for each coupon, and until when it is valid.
    coupons: dict[str, IssuedCoupon] = {}
    #: The bonus `award bonus` paid.
    bonus: AwardedBonus | None = None
    #: Why `award bonus` paid nothing, when it did not.
    bonus_missing: str | None = None
    #: The variant each split chose, by the split's step.
    variants: dict[str, str] = {}


class RunDetail(Run, kw_only=True):
    variables: RunVariables
    trace: list[StepEntry]
    #: The messages the run's steps made, with what became of them (sent, failed and why...).
    messages: list[Message] = []


class RunPage(msgspec.Struct, kw_only=True):
    items: list[Run]
    #: Pass as `after` for the next page; null on the last one.
    next: int | None


class StepCount(msgspec.Struct, kw_only=True):
    step: str
    name: str
    #: Runs that reached the step, each counted once.
    passed: int
    #: Those runs by how the step ended for them (its last outcome: `timed out`, `sent`...).
    outcomes: dict[str, int]
    #: Live runs at the step now.
    waiting: int
    #: Runs at the step now, by status.
    here: dict[str, int]


class StepPage(msgspec.Struct, kw_only=True):
    items: list[StepCount]
    #: Pass as `after` for the next page; null on the last one.
    next: str | None


class IssuedCode(msgspec.Struct, kw_only=True):
    """A coupon code given to a contact, its validity and its use."""

    coupon: str
    code: str
    #: One code for everyone (a static code), rather than the contact's own.
    shared: bool
    run_id: int | None
    issued_at: dt.datetime | None
    valid_until: dt.datetime | None
    redeemed_order: str | None
    redeemed_at: dt.datetime | None


class IssuedCodePage(msgspec.Struct, kw_only=True):
    items: list[IssuedCode]
    #: Pass as `after` for the next page; null on the last one.
    next: int | None


class LedgerEntry(msgspec.Struct, kw_only=True):
    """A bonus credited to a contact."""

    order_id: str | None
    run_id: int | None
    amount: str
    currency: str | None
    #: "scenario:step" that paid it.
    reason: str
    at: dt.datetime


class Contact(msgspec.Struct, kw_only=True):
    id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    language: str | None
    timezone: str | None
    group: str | None
    attributes: dict[str, Any]
    lists: list[str]
    segments: list[str]
    subscriptions: dict[str, dict[str, bool]]
    bonus_balance: str
    lifetime_spend: str
    orders_count: int


class Message(msgspec.Struct, kw_only=True):
    id: int
    run_id: int | None
    scenario: str | None
    contact_id: str
    channel: str
    template: str | None
    recipient: str
    #: pending, sent, failed or skipped.
    status: str
    attempts: int
    created_at: dt.datetime
    sent_at: dt.datetime | None
    #: Why it failed (or was skipped, or is being retried), in words.
    error: str | None
    #: A failed message's class of failure: template, coupon, address, refused, gave_up, configuration.
    failure: str | None
    cost: str | None
    coupon_code: str | None
    variant: str | None


class MessagePage(msgspec.Struct, kw_only=True):
    items: list[Message]
    #: Pass as `after` for the next page; null on the last one.
    next: int | None


class Members(msgspec.Struct, kw_only=True):
    """A page of a list's or segment's members (contact ids, in order), with its size."""

    name: str
    count: int
    items: list[str]
    #: Pass as `after` for the next page; null on the last one.
    next: str | None


class Amount(msgspec.Struct, kw_only=True):
    amount: str
    currency: str | None


class CodeAnswer(msgspec.Struct, kw_only=True):
    code: str
    valid: bool
    reason: str | None
    coupon: str | None
    discount: str | None
    price_before: Amount | None
    price_after: Amount | None


class CurrencyFigures(msgspec.Struct, kw_only=True):
    """A group's contacts whose lifetime spend is in one currency, and their orders."""

    currency: str
    contacts: int
    orders: int
    revenue: str
    average_order: str | None


class GroupAnswer(msgspec.Struct, kw_only=True):
    """A customer group: all its contacts and paid orders, and the money per currency
    (amounts in different currencies are never added up)."""

    #: null for the contacts in no group.
    group: str | None
    title: str | None
    program: str | None
    contacts: int
    orders: int
    currencies: list[CurrencyFigures]


class GroupPage(msgspec.Struct, kw_only=True):
    items: list[GroupAnswer]
    #: Pass as `after` for the next page; null on the last one.
    next: int | None


class DiscountAnswer(msgspec.Struct, kw_only=True):
    group: str
    program: str
    percent: str
    lifetime_spend: Amount | None


class PoolImport(msgspec.Struct, kw_only=True):
    coupon: str
    imported: int
    free: int


class Loyalty(msgspec.Struct, kw_only=True):
    contact: str
    group: str | None
    bonus_balance: str
    lifetime_spend: str
    discount: DiscountAnswer | None
    ledger: list[LedgerEntry]


class ImportJob(msgspec.Struct, kw_only=True):
    id: int
    status: str  # "running", "done"
    total: int
    accepted: int = 0
    duplicates: int = 0
    #: Lines that could not become a contact, with why.
    errors: list[dict[str, Any]] = []


class Preview(msgspec.Struct, kw_only=True):
    template: str
    channel: str
    lang: str
    parts: dict[str, str]


class TestSent(msgspec.Struct, kw_only=True):
    status: str
    detail: str | None
    preview: Preview


class FeedbackTaken(msgspec.Struct, kw_only=True):
    #: Bounces and complaints the request reported.
    feedback: int
    #: Addresses suppressed by it (hard bounces, complaints, soft bounces at the threshold).
    suppressed: int
    #: Soft bounces counted, below the threshold.
    soft_bounces: int
    #: Events raised for the contacts with those addresses (`message.bounced`, `message.complained`).
    events: int
    #: Entries whose address is not an email address.
    ignored: int
