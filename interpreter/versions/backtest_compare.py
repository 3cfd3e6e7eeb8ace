"""What a backtest's replay sent beside what the live scenarios sent in the same period:
messages paired by contact, channel and template, then counted per template, per step and
per coupon (interpreter/versions/backtest.py makes the two sides)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

import msgspec

from ..store.sqlite_history import IssuedCoupon, SentMessage

UTC = dt.UTC
#: Two messages of a pair this close in time are the same message: the live engine makes
#: a message a little after its moment (its batch's time), the replay at the moment itself.
SAME_TIME_MS = 60_000
ADDED, REMOVED, MOVED = "added", "removed", "moved"


class MessageChange(msgspec.Struct, kw_only=True):
    """A message the candidate would have sent and the live scenario did not (``added``),
    the other way round (``removed``), or sent at another time (``moved``)."""

    change: str
    scenario: str
    contact: str
    channel: str
    template: str
    #: The candidate's step and time (None for a removed message).
    step: str | None
    at: dt.datetime | None
    #: The live step and time (None for an added message).
    live_step: str | None
    live_at: dt.datetime | None


class TemplateFigures(msgspec.Struct, kw_only=True):
    scenario: str
    channel: str
    template: str
    live: int
    backtest: int
    same: int
    moved: int
    added: int
    removed: int


class StepFigures(msgspec.Struct, kw_only=True):
    """Messages per step: a live message counts at its live step, a replayed one at the
    candidate's (the same step may have another id in the other version; labels stay)."""

    scenario: str
    step: str
    live: int
    backtest: int
    moved: int
    added: int
    removed: int


class CouponFigures(msgspec.Struct, kw_only=True):
    scenario: str
    coupon: str
    live: int
    backtest: int


class Comparison(msgspec.Struct, kw_only=True):
    live: int
    backtest: int
    same: int
    moved: int
    added: int
    removed: int
    templates: list[TemplateFigures]
    steps: list[StepFigures]
    coupons: list[CouponFigures]
    #: Every added, removed or moved message, by time (the first ``limit`` of them when
    #: a caller asked for fewer: `changes_total` says how many there are).
    changes: list[MessageChange]
    changes_total: int


def _at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, UTC)


def _pairs(
    live: list[SentMessage], replayed: list[SentMessage]
) -> Iterable[tuple[SentMessage | None, SentMessage | None]]:
    """Live and replayed messages of each contact, channel and template, paired in time
    order (the first live one with the first replayed one...); the rest alone."""
    groups: dict[tuple[str, str, str, str], tuple[list[SentMessage], list[SentMessage]]] = defaultdict(lambda: ([], []))
    for m in live:
        groups[(m.scenario, m.contact_id, m.channel, m.template)][0].append(m)
    for m in replayed:
        groups[(m.scenario, m.contact_id, m.channel, m.template)][1].append(m)
    for before, after in groups.values():
        before.sort(key=lambda m: m.created_at)
        after.sort(key=lambda m: m.created_at)
        for index in range(max(len(before), len(after))):
            yield (before[index] if index < len(before) else None, after[index] if index < len(after) else None)


def compare(
    live: list[SentMessage], replayed: list[SentMessage], live_coupons: list[IssuedCoupon],
    replayed_coupons: list[IssuedCoupon],
) -> Comparison:  # fmt: skip
    """Pair the messages of both sides and count what changed."""
    templates: dict[tuple[str, str, str], TemplateFigures] = {}
    steps: dict[tuple[str, str], StepFigures] = {}
    changes: list[MessageChange] = []
    totals = {"same": 0, MOVED: 0, ADDED: 0, REMOVED: 0}

    def step_of(m: SentMessage) -> StepFigures:
        key = (m.scenario, m.step)
        if key not in steps:
            steps[key] = StepFigures(scenario=m.scenario, step=m.step, live=0, backtest=0, moved=0, added=0, removed=0)
        return steps[key]

    for old, new in _pairs(live, replayed):
        some = old or new
        assert some is not None
        key = (some.scenario, some.channel, some.template)
        if key not in templates:
            templates[key] = TemplateFigures(scenario=key[0], channel=key[1], template=key[2], live=0, backtest=0,
                                             same=0, moved=0, added=0, removed=0)  # fmt: skip
        figures = templates[key]
        if old is not None:
            figures.live += 1
            step_of(old).live += 1
        if new is not None:
            figures.backtest += 1
            step_of(new).backtest += 1
        if old is not None and new is not None and abs(old.created_at - new.created_at) <= SAME_TIME_MS:
            figures.same += 1
            totals["same"] += 1
            continue
        if old is not None and new is not None:
            kind = MOVED
            figures.moved += 1
            step_of(new).moved += 1
        elif new is not None:
            kind = ADDED
            figures.added += 1
            step_of(new).added += 1
        else:
            assert old is not None
            kind = REMOVED
            figures.removed += 1
            step_of(old).removed += 1
        totals[kind] += 1
        changes.append(MessageChange(
            change=kind, scenario=some.scenario, contact=some.contact_id, channel=some.channel,
            template=some.template, step=new.step if new else None, at=_at(new.created_at) if new else None,
            live_step=old.step if old else None, live_at=_at(old.created_at) if old else None,
        ))  # fmt: skip
    changes.sort(key=lambda c: (c.at or c.live_at or _at(0), c.contact))
    coupons: dict[tuple[str, str], CouponFigures] = {}
    for side, issued in (("live", live_coupons), ("backtest", replayed_coupons)):
        for c in issued:
            entry = coupons.setdefault((c.scenario, c.coupon), CouponFigures(scenario=c.scenario, coupon=c.coupon,
                                                                              live=0, backtest=0))  # fmt: skip
            setattr(entry, side, getattr(entry, side) + 1)
    return Comparison(
        live=len(live), backtest=len(replayed), same=totals["same"], moved=totals[MOVED], added=totals[ADDED],
        removed=totals[REMOVED], templates=[templates[k] for k in sorted(templates)],
        steps=[steps[k] for k in sorted(steps, key=_step_order)], coupons=[coupons[k] for k in sorted(coupons)],
        changes=changes, changes_total=len(changes),
    )  # fmt: skip


def _step_order(key: tuple[str, str]) -> tuple[str, int, str]:
    """Scenario, then `s2` before `s10`; labels after numbered steps."""
    scenario, step = key
    digits = step[1:].split(".")[0]
    return scenario, int(digits) if step.startswith("s") and digits.isdigit() else 1 << 30, step
