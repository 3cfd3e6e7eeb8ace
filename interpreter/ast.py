"""The typed syntax tree of scn.

Every node is an immutable msgspec Struct that knows where it came from (``span``).
msgspec makes the classes cheap to define (a cold `scn check` imports them all) and
the trees cheap to store: a checked scenario is kept as its encoded tree. Equality
includes spans; `same_meaning` compares two trees with spans left out, which is how
`scn fmt` proves that it keeps the meaning of a file.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal, TypeAlias

import msgspec

from .span import Span

Channel = Literal["email", "sms", "viber", "push", "webpush"]
CHANNELS: tuple[Channel, ...] = ("email", "sms", "viber", "push", "webpush")

DURATION_UNITS: dict[str, int] = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
}


#: How deep a tree may be. Everything that walks trees (the checker, the compiler, the
#: evaluator, the formatter, and msgspec when it stores them) recurses, so the parser
#: refuses deeper input with a located error (SCN011) instead: an expression has at
#: most this many operators inside one another (a chain of `and` counts each one) ...
MAX_EXPRESSION_DEPTH = 128
#: ... and a step at most this many blocks (if, bands, split, on timeout) around it.
MAX_BLOCK_DEPTH = 32


class Node(msgspec.Struct, frozen=True, kw_only=True, tag=True, tag_field="node"):
    """Base of all nodes: an immutable record that knows where it came from."""

    span: Span


class Ident(Node, frozen=True, kw_only=True):
    """A name as written, with its own span for precise carets."""

    name: str


# ---------------------------------------------------------------- expressions


class NumberLit(Node, frozen=True, kw_only=True):
    value: Decimal


class MoneyLit(Node, frozen=True, kw_only=True):
    amount: Decimal
    currency: str


class PercentLit(Node, frozen=True, kw_only=True):
    value: Decimal


class DurationLit(Node, frozen=True, kw_only=True):
    """A duration such as ``1h30m``, kept in the units it was written in."""

    parts: tuple[tuple[int, str], ...]

    @property
    def milliseconds(self) -> int:
        return sum(amount * DURATION_UNITS[unit] for amount, unit in self.parts)

    @property
    def timedelta(self) -> dt.timedelta:
        return dt.timedelta(milliseconds=self.milliseconds)


class StringLit(Node, frozen=True, kw_only=True):
    value: str


class BoolLit(Node, frozen=True, kw_only=True):
    value: bool


class DateLit(Node, frozen=True, kw_only=True):
    """A calendar date; kept as written so the checker can report 2025-02-30."""

    year: int
    month: int
    day: int


class TimeLit(Node, frozen=True, kw_only=True):
    """A time of day; kept as written so the checker can report 25:00."""

    hour: int
    minute: int


class Path(Node, frozen=True, kw_only=True):
    """A dotted field path such as ``contact.orders.count``, or a bare name."""

    parts: tuple[Ident, ...]

    @property
    def dotted(self) -> str:
        return ".".join(p.name for p in self.parts)


class KwArg(Node, frozen=True, kw_only=True):
    name: Ident
    value: Expr


class Call(Node, frozen=True, kw_only=True):
    func: Ident
    args: tuple[Expr, ...]
    kwargs: tuple[KwArg, ...]


class ListLit(Node, frozen=True, kw_only=True):
    items: tuple[Expr, ...]


UnaryOp = Literal["not", "-"]
BinaryOp = Literal["or", "and", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "+", "-", "*", "/"]


class Unary(Node, frozen=True, kw_only=True):
    op: UnaryOp
    operand: Expr


class Binary(Node, frozen=True, kw_only=True):
    op: BinaryOp
    left: Expr
    right: Expr


class IsSet(Node, frozen=True, kw_only=True):
    """``PATH is set``, or ``PATH is not set`` when ``negate``: does the field hold a value?"""

    path: Path
    negate: bool


class ItemsStatus(Node, frozen=True, kw_only=True):
    """``all items are STATUS`` (``every``) or ``any item is STATUS``: the statuses of the
    items of the order in scope."""

    every: bool
    status: StringLit


Literal_: TypeAlias = NumberLit | MoneyLit | PercentLit | DurationLit | StringLit | BoolLit | DateLit | TimeLit
Expr: TypeAlias = Literal_ | Path | Call | ListLit | Unary | Binary | IsSet | ItemsStatus
BandBound: TypeAlias = NumberLit | MoneyLit | PercentLit | DurationLit


# ---------------------------------------------------------------- declarations


class ListDecl(Node, frozen=True, kw_only=True):
    name: Ident
    title: StringLit | None


class SegmentDecl(Node, frozen=True, kw_only=True):
    name: Ident
    title: StringLit | None
    condition: Expr


class AttributeDecl(Node, frozen=True, kw_only=True):
    """A custom contact attribute, readable as ``contact.<name>``."""

    name: Ident
    type_name: Ident


class CurrencyDecl(Node, frozen=True, kw_only=True):
    """The workspace currency: order totals are in it."""

    code: Ident


class FieldDecl(Node, frozen=True, kw_only=True):
    name: Ident
    type_name: Ident


class EventDecl(Node, frozen=True, kw_only=True):
    """A custom event with typed fields (built-in events live in the stdlib)."""

    name: EventRef
    fields: tuple[FieldDecl, ...]


class CouponDiscount(Node, frozen=True, kw_only=True):
    amount: PercentLit | MoneyLit


class CouponCode(Node, frozen=True, kw_only=True):
    """One static code shared by everyone."""

    code: StringLit


class CouponPool(Node, frozen=True, kw_only=True):
    """Unique codes drawn from an imported CSV file."""

    path: StringLit
    warn_below: NumberLit | None


class CouponGenerated(Node, frozen=True, kw_only=True):
    """Unique codes generated from a pattern such as ``"WELCOME-{XXXXXXXX}"``."""

    pattern: StringLit


class CouponForList(Node, frozen=True, kw_only=True):
    list: Ident


class CouponForOffer(Node, frozen=True, kw_only=True):
    offers: tuple[StringLit, ...]


class CouponValid(Node, frozen=True, kw_only=True):
    """How long an issued code stays valid for the contact it was issued to."""

    duration: DurationLit


class ValidUntil(Node, frozen=True, kw_only=True):
    """An absolute end: `until 2026-12-31` (``date``) or `until end of month` (``date`` None),
    in the contact's time zone."""

    date: DateLit | None


class CouponValidUntil(Node, frozen=True, kw_only=True):
    """Issued codes stay valid until a date or the end of the month they were issued in."""

    until: ValidUntil


CouponOption: TypeAlias = (
    CouponDiscount
    | CouponCode
    | CouponPool
    | CouponGenerated
    | CouponForList
    | CouponForOffer
    | CouponValid
    | CouponValidUntil
)


class CouponDecl(Node, frozen=True, kw_only=True):
    name: Ident
    options: tuple[CouponOption, ...]

    def first(self, kind: type[CouponOption]) -> CouponOption | None:
        return next((o for o in self.options if isinstance(o, kind)), None)


class TemplateFrom(Node, frozen=True, kw_only=True):
    """Sender: display name and/or address (an SMS sender id is a name alone)."""

    name: StringLit | None
    address: StringLit | None


class TemplateReplyTo(Node, frozen=True, kw_only=True):
    address: StringLit


class TemplateFallback(Node, frozen=True, kw_only=True):
    lang: Ident


PartKey = Literal["subject", "preheader", "html", "plain", "text", "title", "url", "image"]


class TemplatePart(Node, frozen=True, kw_only=True):
    """One part of a message. ``html`` and ``plain`` name files; the rest are inline."""

    key: PartKey
    value: StringLit


class TemplateTransactional(Node, frozen=True, kw_only=True):
    """`transactional`: a message the contact asked for (a receipt, a password): the
    workspace policy's caps and quiet hours do not hold it back."""


TemplateSetting: TypeAlias = TemplateFrom | TemplateReplyTo | TemplateFallback | TemplatePart | TemplateTransactional


class TemplateLang(Node, frozen=True, kw_only=True):
    """Parts for one language; they override the template's shared parts."""

    lang: Ident
    parts: tuple[TemplatePart, ...]


class TemplateDecl(Node, frozen=True, kw_only=True):
    name: Ident
    channel: Channel
    settings: tuple[TemplateSetting, ...]
    langs: tuple[TemplateLang, ...]


class Tier(Node, frozen=True, kw_only=True):
    """``tier 2% up to 1000 UAH`` or ``tier 5% above 3000 UAH`` (lifetime spend)."""

    percent: PercentLit
    kind: Literal["up_to", "above"]
    bound: MoneyLit


class ProgramDecl(Node, frozen=True, kw_only=True):
    """A loyalty program: cashback bonus or discount by tiers of lifetime spend."""

    name: Ident
    title: StringLit | None
    kind: Literal["bonus", "discount"]
    tiers: tuple[Tier, ...]


class GroupDecl(Node, frozen=True, kw_only=True):
    name: Ident
    title: StringLit | None
    program: Ident | None
    default: bool


# ---------------------------------------------------------------- scenario headers


class EventRef(Node, frozen=True, kw_only=True):
    """A dotted event name such as ``order.unpaid``."""

    parts: tuple[Ident, ...]

    @property
    def name(self) -> str:
        return ".".join(p.name for p in self.parts)


class Trigger(Node, frozen=True, kw_only=True):
    event: EventRef
    where: Expr | None


class DateTrigger(Node, frozen=True, kw_only=True):
    """`on date contact.birthday [plus|minus D] at 10:00 [once]`: the date attribute's day
    (every year, or ``once``), shifted by ``offset_days``, at a time of day in the contact's zone."""

    date: Path
    #: The shift as written (`minus 3d` is negative), or None.
    offset: DurationLit | None
    minus: bool
    time: TimeLit
    once: bool

    @property
    def offset_days(self) -> int:
        if self.offset is None:
            return 0
        days = self.offset.milliseconds // DURATION_UNITS["d"]
        return -days if self.minus else days


Scope = Literal["contact", "order"]


class EntryEvery(Node, frozen=True, kw_only=True):
    pass


class EntryOnce(Node, frozen=True, kw_only=True):
    scope: Scope


class EntryAtMost(Node, frozen=True, kw_only=True):
    count: NumberLit
    scope: Scope
    window: DurationLit | None


EntryRule: TypeAlias = EntryEvery | EntryOnce | EntryAtMost


class FrequencyCap(Node, frozen=True, kw_only=True):
    """At most ``count`` messages from this scenario to a contact per ``window``."""

    count: NumberLit
    per_contact: bool
    window: DurationLit


class ExitGoal(Node, frozen=True, kw_only=True):
    event: EventRef
    where: Expr | None


class QuietHours(Node, frozen=True, kw_only=True):
    start: TimeLit
    end: TimeLit


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class DayRange(Node, frozen=True, kw_only=True):
    """`mon-fri` (``last`` is the day it runs to, through the week's end if need be) or `sat`."""

    first: Weekday
    last: Weekday | None

    @property
    def days(self) -> tuple[int, ...]:
        """The days it covers, 0 for Monday."""
        start = WEEKDAYS.index(self.first)
        end = WEEKDAYS.index(self.last) if self.last is not None else start
        return tuple((start + n) % 7 for n in range((end - start) % 7 + 1))


class SendWindow(Node, frozen=True, kw_only=True):
    """`send only mon-fri 09:00 to 18:00`: messages go only then, in the contact's zone."""

    ranges: tuple[DayRange, ...]
    start: TimeLit
    end: TimeLit


class Attribution(Node, frozen=True, kw_only=True):
    window: DurationLit


class IgnoreOrders(Node, frozen=True, kw_only=True):
    """``ignore orders older than DURATION``: no run for an order older than this."""

    age: DurationLit


Header: TypeAlias = (
    Trigger | DateTrigger | EntryRule | FrequencyCap | ExitGoal | QuietHours | SendWindow | Attribution | IgnoreOrders
)


# ---------------------------------------------------------------- steps


class StepNode(Node, frozen=True, kw_only=True):
    """Base of steps; ``label`` (``@name``) gives a step a stable identity."""

    label: Ident | None = None


class Wait(StepNode, frozen=True, kw_only=True):
    duration: Expr


class WaitUntil(StepNode, frozen=True, kw_only=True):
    """Wait until the next time this time of day comes in the contact's time zone."""

    time: TimeLit


DayName = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "weekday"]


class WaitUntilDay(StepNode, frozen=True, kw_only=True):
    """`wait until monday 10:00`, or `wait until next weekday 09:00` (``day`` "weekday":
    Monday to Friday): the first such moment from now in the contact's time zone."""

    day: DayName
    time: TimeLit


class WaitUntilMonthDay(StepNode, frozen=True, kw_only=True):
    """`wait until 1st of next month 09:00` (a day past the month's end: its last day)."""

    day: NumberLit
    #: The ordinal's ending as written (`st`, `nd`, `rd`, `th`), with its own span.
    suffix: Ident
    time: TimeLit


class WaitUntilValue(StepNode, frozen=True, kw_only=True):
    """`wait until contact.renewal_at`: a date (its first moment in the contact's zone) or a
    datetime; unset or past, the run goes on at once."""

    value: Path


class Block(Node, frozen=True, kw_only=True):
    """Steps under a keyword that has no condition of its own (`else`, `on timeout`)."""

    steps: tuple[Step, ...]


class WaitFor(StepNode, frozen=True, kw_only=True):
    event: EventRef
    where: Expr | None
    timeout: Expr
    on_timeout: Block | None


class Branch(Node, frozen=True, kw_only=True):
    condition: Expr
    steps: tuple[Step, ...]


class If(StepNode, frozen=True, kw_only=True):
    branches: tuple[Branch, ...]
    else_: Block | None


class Band(Node, frozen=True, kw_only=True):
    """A half-open value range ``[low, high)``; a missing bound is open."""

    low: BandBound | None
    high: BandBound | None
    steps: tuple[Step, ...]


class Bands(StepNode, frozen=True, kw_only=True):
    subject: Expr
    bands: tuple[Band, ...]


class Variant(Node, frozen=True, kw_only=True):
    name: Ident
    weight: PercentLit
    steps: tuple[Step, ...]


class Control(Node, frozen=True, kw_only=True):
    """The hold-out group of a split: it gets nothing from the split."""

    weight: PercentLit


class PerRun(Node, frozen=True, kw_only=True):
    """`split per run`: the variant is drawn for each run, not kept for the contact."""


class Split(StepNode, frozen=True, kw_only=True):
    per_run: PerRun | None = None
    #: `split with 10% control`: a hold-out taken off the top; the variants' shares are
    #: then shares of the rest (None when the split has no such header).
    holdout: Control | None = None
    arms: tuple[Variant | Control, ...]


class Stop(StepNode, frozen=True, kw_only=True):
    pass


class StopIf(StepNode, frozen=True, kw_only=True):
    condition: Expr
    negate: bool  # True for `stop unless`


class WithCoupon(Node, frozen=True, kw_only=True):
    coupon: Ident


class WithProducts(Node, frozen=True, kw_only=True):
    products: Expr


class Send(StepNode, frozen=True, kw_only=True):
    channel: Channel
    template: Ident
    options: tuple[WithCoupon | WithProducts, ...]

    @property
    def coupon(self) -> Ident | None:
        return next((o.coupon for o in self.options if isinstance(o, WithCoupon)), None)

    @property
    def products(self) -> Expr | None:
        return next((o.products for o in self.options if isinstance(o, WithProducts)), None)


class AddToList(StepNode, frozen=True, kw_only=True):
    list: Ident


class RemoveFromList(StepNode, frozen=True, kw_only=True):
    list: Ident


class IssueCoupon(StepNode, frozen=True, kw_only=True):
    coupon: Ident
    valid: DurationLit | None
    until: ValidUntil | None = None


class AwardBonus(StepNode, frozen=True, kw_only=True):
    """Award a bonus; without an amount, by the contact's group's loyalty program."""

    amount: Expr | None


class SetGroup(StepNode, frozen=True, kw_only=True):
    group: Ident


class SetAttribute(StepNode, frozen=True, kw_only=True):
    name: Ident
    value: Expr


class WebhookField(Node, frozen=True, kw_only=True):
    name: Ident
    value: Expr


class CallWebhook(StepNode, frozen=True, kw_only=True):
    url: StringLit
    fields: tuple[WebhookField, ...]


Step: TypeAlias = (
    Wait
    | WaitUntil
    | WaitUntilDay
    | WaitUntilMonthDay
    | WaitUntilValue
    | WaitFor
    | If
    | Bands
    | Split
    | Stop
    | StopIf
    | Send
    | AddToList
    | RemoveFromList
    | IssueCoupon
    | AwardBonus
    | SetGroup
    | SetAttribute
    | CallWebhook
)


def child_blocks(step: Step) -> tuple[tuple[Step, ...], ...]:
    """The nested step sequences of a step, in source order."""
    if isinstance(step, If):
        blocks = tuple(b.steps for b in step.branches)
        return blocks + ((step.else_.steps,) if step.else_ is not None else ())
    if isinstance(step, Bands):
        return tuple(b.steps for b in step.bands)
    if isinstance(step, Split):
        return tuple(a.steps for a in step.arms if isinstance(a, Variant))
    if isinstance(step, WaitFor) and step.on_timeout is not None:
        return (step.on_timeout.steps,)
    return ()


# ---------------------------------------------------------------- top level


class Scenario(Node, frozen=True, kw_only=True):
    name: Ident
    title: StringLit | None
    headers: tuple[Header, ...]
    steps: tuple[Step, ...]
    anonymous: bool = False


class PolicyCap(Node, frozen=True, kw_only=True):
    """`email at most 3 per 7d`: messages of a channel to one contact, over every scenario."""

    channel: Channel
    count: NumberLit
    window: DurationLit


class PolicyRate(Node, frozen=True, kw_only=True):
    """`smtp at most 50 per second`: how fast one provider is handed messages."""

    provider: Ident
    count: NumberLit
    unit: Literal["second", "minute", "hour"]


class PolicyDecl(Node, frozen=True, kw_only=True):
    """The workspace's sending policy (at most one)."""

    rules: tuple[PolicyCap | PolicyRate | QuietHours | SendWindow, ...]


class Audience(Node, frozen=True, kw_only=True):
    """Whom a broadcast goes to: the members of a segment or of a list."""

    kind: Literal["segment", "list"]
    name: Ident


class SendTime(Node, frozen=True, kw_only=True):
    """When a broadcast goes: a date and a time of day, in each contact's own zone
    (``local``), in the zone named by ``zone``, or (neither) in the workspace's zone."""

    date: DateLit
    time: TimeLit
    local: bool
    zone: StringLit | None


class Broadcast(Scenario, frozen=True, kw_only=True):
    """A one-off or scheduled send to a segment or list: a scenario (its steps, runs,
    reports and versions are a scenario's) whose start is its time, not an event. It has
    no headers; each contact of the audience gets one run."""

    audience: Audience
    #: None: as soon as it is deployed.
    at: SendTime | None


Decl: TypeAlias = (
    ListDecl
    | SegmentDecl
    | CouponDecl
    | TemplateDecl
    | ProgramDecl
    | GroupDecl
    | EventDecl
    | AttributeDecl
    | CurrencyDecl
    | PolicyDecl
)
Item: TypeAlias = Decl | Scenario | Broadcast


class Module(Node, frozen=True, kw_only=True):
    """One parsed file."""

    path: str
    items: tuple[Item, ...]


def without_spans(node: Any) -> Any:
    """A plain-data copy of a tree (or of any value holding nodes) with every span removed."""
    plain = msgspec.to_builtins(node)
    pending = [plain]  # a loop, not recursion: the copy is ours to change in place
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            value.pop("span", None)
            pending.extend(value.values())
        elif isinstance(value, list | tuple):
            pending.extend(value)
    return plain


def same_meaning(a: Any, b: Any) -> bool:
    """Do two trees say the same thing, however they were laid out?"""
    return bool(without_spans(a) == without_spans(b))
