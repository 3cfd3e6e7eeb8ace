"""The typed syntax tree of scn.

Every node is an immutable record that knows where it came from (``span``). Spans do not
take part in equality, so two trees compare equal when they mean the same program even
if they were laid out differently; ``scn fmt`` relies on that to prove it keeps meaning.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, TypeAlias

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """Base of all nodes."""

    span: Span = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ident(Node):
    """A name as written, with its own span for precise carets."""

    name: str


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True, kw_only=True)
class NumberLit(Node):
    value: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class MoneyLit(Node):
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PercentLit(Node):
    value: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class DurationLit(Node):
    """A duration such as ``1h30m``, kept in the units it was written in."""

    parts: tuple[tuple[int, str], ...]

    @property
    def milliseconds(self) -> int:
        return sum(amount * DURATION_UNITS[unit] for amount, unit in self.parts)

    @property
    def timedelta(self) -> dt.timedelta:
        return dt.timedelta(milliseconds=self.milliseconds)


@dataclass(frozen=True, slots=True, kw_only=True)
class StringLit(Node):
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BoolLit(Node):
    value: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DateLit(Node):
    """A calendar date; kept as written so the checker can report 2025-02-30."""

    year: int
    month: int
    day: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeLit(Node):
    """A time of day; kept as written so the checker can report 25:00."""

    hour: int
    minute: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Path(Node):
    """A dotted field path such as ``contact.orders.count``, or a bare name."""

    parts: tuple[Ident, ...]

    @property
    def dotted(self) -> str:
        return ".".join(p.name for p in self.parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class KwArg(Node):
    name: Ident
    value: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class Call(Node):
    func: Ident
    args: tuple[Expr, ...]
    kwargs: tuple[KwArg, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ListLit(Node):
    items: tuple[Expr, ...]


UnaryOp = Literal["not", "-"]
BinaryOp = Literal["or", "and", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "+", "-", "*", "/"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Unary(Node):
    op: UnaryOp
    operand: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class Binary(Node):
    op: BinaryOp
    left: Expr
    right: Expr


Literal_: TypeAlias = NumberLit | MoneyLit | PercentLit | DurationLit | StringLit | BoolLit | DateLit | TimeLit
Expr: TypeAlias = Literal_ | Path | Call | ListLit | Unary | Binary
BandBound: TypeAlias = NumberLit | MoneyLit | PercentLit | DurationLit


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True, kw_only=True)
class ListDecl(Node):
    name: Ident
    title: StringLit | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentDecl(Node):
    name: Ident
    title: StringLit | None
    condition: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class AttributeDecl(Node):
    """A custom contact attribute, readable as ``contact.<name>``."""

    name: Ident
    type_name: Ident


@dataclass(frozen=True, slots=True, kw_only=True)
class CurrencyDecl(Node):
    """The workspace currency: order totals are in it."""

    code: Ident


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldDecl(Node):
    name: Ident
    type_name: Ident


@dataclass(frozen=True, slots=True, kw_only=True)
class EventDecl(Node):
    """A custom event with typed fields (built-in events live in the stdlib)."""

    name: EventRef
    fields: tuple[FieldDecl, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CouponDiscount(Node):
    amount: PercentLit | MoneyLit


@dataclass(frozen=True, slots=True, kw_only=True)
class CouponCode(Node):
    """One static code shared by everyone."""

    code: StringLit


@dataclass(frozen=True, slots=True, kw_only=True)
class CouponPool(Node):
    """Unique codes drawn from an imported CSV file."""

    path: StringLit
    warn_below: NumberLit | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CouponGenerated(Node):
    """Unique codes generated from a pattern such as ``"WELCOME-{XXXXXXXX}"``."""

    pattern: StringLit


@dataclass(frozen=True, slots=True, kw_only=True)
class CouponForList(Node):
    list: Ident


@dataclass(frozen=True, slots=True, kw_only=True)
class CouponForOffer(Node):
    offers: tuple[StringLit, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CouponValid(Node):
    """How long an issued code stays valid for the contact it was issued to."""

    duration: DurationLit


CouponOption: TypeAlias = (
    CouponDiscount | CouponCode | CouponPool | CouponGenerated | CouponForList | CouponForOffer | CouponValid
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CouponDecl(Node):
    name: Ident
    options: tuple[CouponOption, ...]

    def first(self, kind: type[CouponOption]) -> CouponOption | None:
        return next((o for o in self.options if isinstance(o, kind)), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateFrom(Node):
    """Sender: display name and/or address (an SMS sender id is a name alone)."""

    name: StringLit | None
    address: StringLit | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateReplyTo(Node):
    address: StringLit


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateFallback(Node):
    lang: Ident


PartKey = Literal["subject", "preheader", "html", "plain", "text", "title", "url", "image"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplatePart(Node):
    """One part of a message. ``html`` and ``plain`` name files; the rest are inline."""

    key: PartKey
    value: StringLit


TemplateSetting: TypeAlias = TemplateFrom | TemplateReplyTo | TemplateFallback | TemplatePart


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateLang(Node):
    """Parts for one language; they override the template's shared parts."""

    lang: Ident
    parts: tuple[TemplatePart, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateDecl(Node):
    name: Ident
    channel: Channel
    settings: tuple[TemplateSetting, ...]
    langs: tuple[TemplateLang, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Tier(Node):
    """``tier 2% up to 1000 UAH`` or ``tier 5% above 3000 UAH`` (lifetime spend)."""

    percent: PercentLit
    kind: Literal["up_to", "above"]
    bound: MoneyLit


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgramDecl(Node):
    """A loyalty program: cashback bonus or discount by tiers of lifetime spend."""

    name: Ident
    title: StringLit | None
    kind: Literal["bonus", "discount"]
    tiers: tuple[Tier, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupDecl(Node):
    name: Ident
    title: StringLit | None
    program: Ident | None
    default: bool


# ---------------------------------------------------------------- scenario headers


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRef(Node):
    """A dotted event name such as ``order.unpaid``."""

    parts: tuple[Ident, ...]

    @property
    def name(self) -> str:
        return ".".join(p.name for p in self.parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Trigger(Node):
    event: EventRef
    where: Expr | None


Scope = Literal["contact", "order"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryEvery(Node):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryOnce(Node):
    scope: Scope


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryAtMost(Node):
    count: NumberLit
    scope: Scope
    window: DurationLit | None


EntryRule: TypeAlias = EntryEvery | EntryOnce | EntryAtMost


@dataclass(frozen=True, slots=True, kw_only=True)
class FrequencyCap(Node):
    """At most ``count`` messages from this scenario to a contact per ``window``."""

    count: NumberLit
    per_contact: bool
    window: DurationLit


@dataclass(frozen=True, slots=True, kw_only=True)
class ExitGoal(Node):
    event: EventRef
    where: Expr | None


@dataclass(frozen=True, slots=True, kw_only=True)
class QuietHours(Node):
    start: TimeLit
    end: TimeLit


@dataclass(frozen=True, slots=True, kw_only=True)
class Attribution(Node):
    window: DurationLit


Header: TypeAlias = Trigger | EntryRule | FrequencyCap | ExitGoal | QuietHours | Attribution


# ---------------------------------------------------------------- steps


@dataclass(frozen=True, slots=True, kw_only=True)
class StepNode(Node):
    """Base of steps; ``label`` (``@name``) gives a step a stable identity."""

    label: Ident | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Wait(StepNode):
    duration: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitUntil(StepNode):
    """Wait until the next time this time of day comes in the contact's time zone."""

    time: TimeLit


@dataclass(frozen=True, slots=True, kw_only=True)
class Block(Node):
    """Steps under a keyword that has no condition of its own (`else`, `on timeout`)."""

    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitFor(StepNode):
    event: EventRef
    where: Expr | None
    timeout: Expr
    on_timeout: Block | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Branch(Node):
    condition: Expr
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class If(StepNode):
    branches: tuple[Branch, ...]
    else_: Block | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Band(Node):
    """A half-open value range ``[low, high)``; a missing bound is open."""

    low: BandBound | None
    high: BandBound | None
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Bands(StepNode):
    subject: Expr
    bands: tuple[Band, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Variant(Node):
    name: Ident
    weight: PercentLit
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Control(Node):
    """The hold-out group of a split: it gets nothing from the split."""

    weight: PercentLit


@dataclass(frozen=True, slots=True, kw_only=True)
class Split(StepNode):
    arms: tuple[Variant | Control, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Stop(StepNode):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class StopIf(StepNode):
    condition: Expr
    negate: bool  # True for `stop unless`


@dataclass(frozen=True, slots=True, kw_only=True)
class WithCoupon(Node):
    coupon: Ident


@dataclass(frozen=True, slots=True, kw_only=True)
class WithProducts(Node):
    products: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class Send(StepNode):
    channel: Channel
    template: Ident
    options: tuple[WithCoupon | WithProducts, ...]

    @property
    def coupon(self) -> Ident | None:
        return next((o.coupon for o in self.options if isinstance(o, WithCoupon)), None)

    @property
    def products(self) -> Expr | None:
        return next((o.products for o in self.options if isinstance(o, WithProducts)), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class AddToList(StepNode):
    list: Ident


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoveFromList(StepNode):
    list: Ident


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueCoupon(StepNode):
    coupon: Ident
    valid: DurationLit | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AwardBonus(StepNode):
    """Award a bonus; without an amount, by the contact's group's loyalty program."""

    amount: Expr | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetGroup(StepNode):
    group: Ident


@dataclass(frozen=True, slots=True, kw_only=True)
class SetAttribute(StepNode):
    name: Ident
    value: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookField(Node):
    name: Ident
    value: Expr


@dataclass(frozen=True, slots=True, kw_only=True)
class CallWebhook(StepNode):
    url: StringLit
    fields: tuple[WebhookField, ...]


Step: TypeAlias = (
    Wait
    | WaitUntil
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario(Node):
    name: Ident
    title: StringLit | None
    headers: tuple[Header, ...]
    steps: tuple[Step, ...]
    anonymous: bool = False


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
)
Item: TypeAlias = Decl | Scenario


@dataclass(frozen=True, slots=True, kw_only=True)
class Module(Node):
    """One parsed file."""

    path: str
    items: tuple[Item, ...]
