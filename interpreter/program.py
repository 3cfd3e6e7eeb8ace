"""Compiled scenarios: flat programs of instructions, and the bundle that carries them.

A run points at a bundle version and an instruction index. A bundle is everything a run
needs, frozen when the workspace was uploaded: the programs, and the declarations and
template texts they use. Uploading again makes a new bundle; runs in flight keep theirs.
Everything here is a msgspec Struct, stored msgpack-encoded.

Step ids are stable: `s3` is the third step of a scenario, `s3.if1.2` the second step
of its first branch, `s5.else.1`, `s4.band2.1`, `s6.a.1` (variant `a`), `s7.timeout.1`.
A label replaces the position: `@reminder`, and inside it `@reminder.if1.1`. Reports
and the step log use these ids, so they survive edits elsewhere in a scenario.
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

from . import ast

#: The type of the events the engine raises when a contact's date comes (`on date`): not a
#: name an event can be declared or sent with from outside.
DATE_EVENT = "@date"
#: How long after a message an order or unsubscribe is credited to it, unless the
#: scenario says (`attribution`).
DEFAULT_ATTRIBUTION_MS = 5 * 86_400_000  # five days, the edrone / Mindbox habit


class Instr(msgspec.Struct, frozen=True, kw_only=True, tag=True, tag_field="op"):
    """One instruction: its stable step id, a readable name and its source line."""

    id: str
    name: str
    line: int


class Wait(Instr, frozen=True, kw_only=True):
    duration: ast.Expr
    #: The duration when it is written as one (`wait 2d`), worked out once.
    fixed_ms: int | None = None


class WaitUntil(Instr, frozen=True, kw_only=True):
    hour: int
    minute: int


class WaitUntilDay(Instr, frozen=True, kw_only=True):
    """`wait until monday 10:00`, `wait until next weekday 09:00`: ``days`` 0 for Monday."""

    hour: int
    minute: int
    days: tuple[int, ...]


class WaitUntilMonthDay(Instr, frozen=True, kw_only=True):
    """`wait until 1st of next month 09:00`."""

    hour: int
    minute: int
    day: int


class WaitUntilValue(Instr, frozen=True, kw_only=True):
    """`wait until contact.renewal_at`: a date or datetime field."""

    value: ast.Expr


class WaitFor(Instr, frozen=True, kw_only=True):
    event: str
    where: ast.Expr | None
    timeout: ast.Expr
    #: Where a run goes when the time is up (the `on timeout` block, or the next step).
    on_timeout: int


class Branch(Instr, frozen=True, kw_only=True):
    """Go on when the condition holds, else jump to ``otherwise``."""

    condition: ast.Expr
    otherwise: int


class Jump(Instr, frozen=True, kw_only=True):
    target: int


class BandArm(msgspec.Struct, frozen=True, array_like=True):
    low: ast.BandBound | None
    high: ast.BandBound | None
    target: int


class Bands(Instr, frozen=True, kw_only=True):
    subject: ast.Expr
    arms: tuple[BandArm, ...]
    #: Where values outside every band go (after the bands).
    otherwise: int


class SplitArm(msgspec.Struct, frozen=True, array_like=True):
    name: str
    weight: str  # a Decimal as text: percent of runs
    target: int


class Split(Instr, frozen=True, kw_only=True):
    arms: tuple[SplitArm, ...]
    #: The hold-out group's weight ("0" when there is none) and where it goes.
    control: str
    after: int
    #: Drawn for each run (`split per run`) rather than once for the contact.
    per_run: bool = False


class Stop(Instr, frozen=True, kw_only=True):
    """Stop the run; with a condition, only when it holds (or does not, for `unless`)."""

    condition: ast.Expr | None
    negate: bool


class Send(Instr, frozen=True, kw_only=True):
    channel: str
    template: str
    coupon: str | None
    products: ast.Expr | None


class ChangeList(Instr, frozen=True, kw_only=True):
    list: str
    add: bool


class IssueCoupon(Instr, frozen=True, kw_only=True, omit_defaults=True):
    coupon: str
    valid_ms: int | None
    #: An absolute end instead: "2026-12-31" (to the end of that day) or "end of month".
    until: str | None = None


class AwardBonus(Instr, frozen=True, kw_only=True):
    amount: ast.Expr | None


class SetGroup(Instr, frozen=True, kw_only=True):
    group: str


class SetAttribute(Instr, frozen=True, kw_only=True):
    attribute: str
    value: ast.Expr


class CallWebhook(Instr, frozen=True, kw_only=True):
    url: str
    fields: tuple[tuple[str, ast.Expr], ...]


class End(Instr, frozen=True, kw_only=True):
    """The end of the program: the run is done."""


Instruction: TypeAlias = (
    Wait
    | WaitUntil
    | WaitUntilDay
    | WaitUntilMonthDay
    | WaitUntilValue
    | WaitFor
    | Branch
    | Jump
    | Bands
    | Split
    | Stop
    | Send
    | ChangeList
    | IssueCoupon
    | AwardBonus
    | SetGroup
    | SetAttribute
    | CallWebhook
    | End
)


class DateTrigger(msgspec.Struct, frozen=True, kw_only=True):
    """`on date contact.birthday [plus|minus D] at 10:00 [once]`."""

    #: The contact's date or datetime field, as written (`contact.birthday`).
    field: ast.Path
    offset_days: int
    hour: int
    minute: int
    #: The date itself only, not every year.
    once: bool

    def key(self, scenario: str) -> str:
        """What the store keeps this trigger's progress per contact under."""
        once = " once" if self.once else ""
        return f"{scenario}:{self.field.dotted}{self.offset_days:+d}d@{self.hour:02d}:{self.minute:02d}{once}"


class Trigger(msgspec.Struct, frozen=True, array_like=True, omit_defaults=True):
    event: str
    where: ast.Expr | None
    #: A date trigger (its event is DATE_EVENT, which the engine itself raises).
    date: DateTrigger | None = None

    def header(self) -> str:
        """The trigger as people read it (its `where` aside): `on order.paid`, `on date
        contact.birthday minus 3d at 09:00 once`."""
        d = self.date
        if d is None:
            return f"on {self.event}"
        shift = f" {'minus' if d.offset_days < 0 else 'plus'} {abs(d.offset_days)}d" if d.offset_days else ""
        return f"on date {d.field.dotted}{shift} at {d.hour:02d}:{d.minute:02d}" + (" once" if d.once else "")


class EntryLimit(msgspec.Struct, frozen=True, array_like=True):
    """At most ``count`` runs per contact or per order (within ``window_ms``, if set)."""

    scope: str
    count: int
    window_ms: int | None


class Exit(msgspec.Struct, frozen=True, array_like=True):
    event: str
    where: ast.Expr | None


class BroadcastSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Whom a broadcast goes to and when (schedule.py turns the time into moments)."""

    #: "segment" or "list", and its name.
    audience_kind: str
    audience: str
    #: `2026-11-27` and `10:00`; None for a broadcast that goes when it is deployed.
    date: str | None
    time: str | None
    #: The zone named in quotes; None for `local` or for the workspace's zone.
    zone: str | None
    #: The time is on each contact's own clock.
    local: bool


# omit_defaults: a field added with a default leaves the encoding (and so the digest) of
# the programs that do not use it as it was.
class SendWindow(msgspec.Struct, frozen=True, array_like=True):
    """`send only mon-fri 09:00 to 18:00`: ``days`` 0 for Monday, the day the window opens."""

    days: tuple[int, ...]
    start: tuple[int, int]
    end: tuple[int, int]

    def header(self) -> str:
        """`send only mon, tue, wed 09:00 to 18:00` (each day named)."""
        names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        days = ", ".join(names[d] for d in self.days)
        return f"send only {days} {self.start[0]:02d}:{self.start[1]:02d} to {self.end[0]:02d}:{self.end[1]:02d}"


class Program(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    name: str
    title: str
    file: str
    triggers: tuple[Trigger, ...]
    entry_limits: tuple[EntryLimit, ...]
    #: At most ``count`` messages per contact per ``window_ms`` from this scenario.
    frequency: tuple[int, int] | None
    exits: tuple[Exit, ...]
    quiet_hours: tuple[int, int, int, int] | None
    attribution_ms: int
    #: Records every trigger carries ("order", "item"): the run keeps the order's id.
    carries: tuple[str, ...]
    instructions: tuple[Instruction, ...]
    #: `ignore orders older than`: no run for an order older than this when its event is
    #: accepted (None: the default rule for imported orders, runtime/orders.py).
    max_order_age_ms: int | None = None
    #: A broadcast's audience and time: it starts at its time, not on an event.
    broadcast: BroadcastSpec | None = None
    #: When messages may go (None: any time outside the quiet hours).
    send_window: SendWindow | None = None


class TemplateVariant(msgspec.Struct, frozen=True, kw_only=True):
    """The parts of one language, with shared parts filled in and file parts read."""

    lang: str
    parts: dict[str, str]
    #: Where each part came from, for messages about rendering ("templates/x.en.html").
    sources: dict[str, str]


class Template(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    channel: str
    sender_name: str | None
    sender_address: str | None
    reply_to: str | None
    fallback: str | None
    variants: tuple[TemplateVariant, ...]
    #: The top-level variables its text reads ("contact", "coupon", "bonus"...).
    uses: frozenset[str] = frozenset()
    #: A message the contact asked for: the workspace policy's caps and quiet hours pass it.
    transactional: bool = False


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    """The workspace's sending policy (`policy ... end`)."""

    #: Per channel: at most this many messages to one contact per window (ms), over every scenario.
    caps: dict[str, tuple[int, int]] = {}
    #: Quiet hours for scenarios that set none: (start hour, minute, end hour, minute).
    quiet_hours: tuple[int, int, int, int] | None = None
    #: The send window for scenarios that set none.
    send_window: SendWindow | None = None
    #: Per provider: at most this many messages handed to it per period (ms).
    rates: dict[str, tuple[int, int]] = {}
    #: The transactional templates of the same upload: their messages are not counted.
    exempt: frozenset[str] = frozenset()


class Coupon(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    name: str
    percent: str | None
    amount: str | None
    currency: str | None
    #: "code" (one static code), "pool" (from an imported CSV) or "generated".
    source: str
    code: str | None
    pattern: str | None
    pool_file: str | None
    warn_below: int | None
    lists: tuple[str, ...]
    offers: tuple[str, ...]
    valid_ms: int | None
    #: An absolute end instead: "2026-12-31" (to the end of that day) or "end of month".
    until: str | None = None


class Tier(msgspec.Struct, frozen=True, array_like=True):
    percent: str
    #: The tier applies while lifetime spend is below this (None for the last tier).
    up_to: str | None


class LoyaltyProgram(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    title: str | None
    kind: str
    currency: str
    tiers: tuple[Tier, ...]


class Group(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    title: str | None
    program: str | None
    default: bool


class Segment(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    title: str | None
    condition: ast.Expr
    #: The condition reads the clock (`ago`, `now`, `today`): membership can change with
    #: no event at all, so a periodic sweep re-evaluates it.
    timed: bool = False


class EventField(msgspec.Struct, frozen=True, array_like=True):
    name: str
    type: str


class Bundle(msgspec.Struct, kw_only=True):
    """A compiled workspace: what runs started on it need, however long they wait."""

    version: int = 0
    currency: str | None
    lists: dict[str, str | None]
    segments: dict[str, Segment]
    coupons: dict[str, Coupon]
    templates: dict[str, Template]
    programs: dict[str, LoyaltyProgram]
    groups: dict[str, Group]
    attributes: dict[str, str]
    events: dict[str, tuple[EventField, ...]]
    scenarios: dict[str, Program]
    #: The source files, as uploaded, so the control plane can show them again.
    files: dict[str, str]
    resources: dict[str, str]
    policy: Policy | None = None
