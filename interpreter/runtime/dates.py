"""Date triggers: `on date contact.birthday at 10:00` starts a run when a contact's date
comes, with no event from outside.

Each deployed trigger keeps, per contact, what its occurrences were computed from (the
field's value and the contact's zone: the basis) and the moment up to which they are
done (`DateState`). A contact is looked at when its next occurrence is due (the store's
index of `date_checks`), when its fields change (`Batch.update_contact` makes it due at
once) and once after a deploy that brings a new trigger. Looking at it fires the latest
occurrence in (done, now] — one, however long the engine was down — as an event of type
DATE_EVENT, written in the transaction that moves `done` past it, under an idempotency
key naming the scenario, the contact and the date: an occurrence fires once, also when
a crash loses the transaction's last part or an edit of the trigger's time re-deploys it.

A changed field (or zone) counts from the moment it is seen: an occurrence that had
already passed when the date was set does not fire. A trigger deployed, or deployed
again after a pause, counts from then: what came before is not caught up.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..program import DATE_EVENT, Bundle, DateTrigger
from ..store import DateState
from ..timing import date_occurrences
from .batch import Batch
from .evaluate import EvaluationError, evaluate
from .facts import contact_zone, segment_env

UTC = dt.UTC
_LAST = dt.datetime.max.replace(tzinfo=UTC)
#: A date trigger, as the engine keeps it: its scenario, its rule and the bundle it is from.
DateRule = tuple[str, DateTrigger, Bundle]


def _day_of(value: Any, env_tz: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        try:
            return value.astimezone(env_tz).date()
        except OverflowError:  # a moment at the calendar's edge has no day in this zone
            return None
    if isinstance(value, dt.date):
        return value
    return None


def _years(day: dt.date, offset_days: int, start: dt.datetime, end: dt.datetime) -> range:
    """The years whose occurrence (shifted by the offset) may fall between two moments."""
    spread = abs(offset_days) // 365 + 2
    return range(max(day.year, start.year - spread), end.year + spread + 1)


def latest_due(
    day: dt.date, rule: DateTrigger, tz: Any, done: dt.datetime, now: dt.datetime
) -> tuple[dt.date, dt.datetime] | None:
    """The latest occurrence after ``done`` and not after ``now`` (None: there is none)."""
    at = dt.time(rule.hour, rule.minute)
    found = [o for o in date_occurrences(day, not rule.once, rule.offset_days, at, tz, _years(day, rule.offset_days,
             done, now)) if done < o[1] <= now]  # fmt: skip
    return found[-1] if found else None


def next_after(day: dt.date, rule: DateTrigger, tz: Any, after: dt.datetime) -> dt.datetime | None:
    """The first occurrence after ``after`` (None: a date that happens once and has passed)."""
    at = dt.time(rule.hour, rule.minute)
    ahead = dt.timedelta(days=366 * 2)  # short of the calendar's end: a moment can be at 9999-12-31
    years = _years(day, rule.offset_days, after, min(after, _LAST - ahead) + ahead)
    return next((m for _, m in date_occurrences(day, not rule.once, rule.offset_days, at, tz, years) if m > after),
                None)  # fmt: skip


def _moment(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, UTC)


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


async def look_at_dates(
    batch: Batch, rules: dict[str, DateRule], states: dict[tuple[str, str], DateState], since: dict[str, int],
    contact_id: str, default_timezone: str,
) -> int:  # fmt: skip
    """Fire a contact's due date triggers and say when they are next due; how many fired."""
    contact = await batch.contact(contact_id)
    tz = contact_zone(contact, default_timezone)
    now = batch.now_ms
    fired = 0
    due: list[int] = []
    for key, (scenario, rule, bundle) in rules.items():
        env = await segment_env(batch, bundle, contact_id)
        try:
            value = await evaluate(rule.field, env)
        except EvaluationError:
            value = None
        day = _day_of(value, tz)
        basis = f"{value.isoformat()}|{tz.key}" if day is not None and value is not None else None
        state = states.get((key, contact_id))
        if state is None:  # first seen: from when the trigger was deployed, or the contact came
            done = max(since.get(key, now), int(contact.get("created_at") or 0))
        elif state.basis != basis:  # the date (or the zone) changed: from now on
            done = max(state.done_until, now)
        else:
            done = state.done_until
        if day is not None:
            latest = latest_due(day, rule, tz, _moment(done), _moment(now))
            if latest is not None:
                label, moment = latest
                data = {"scenario": scenario, "trigger": key, "date": label.isoformat(), "field": rule.field.dotted}
                event_key = f"date:{scenario}:{contact_id}:{rule.field.dotted}{rule.offset_days:+d}d:{label}"
                batch.emit(DATE_EVENT, contact_id, data, event_key, at=_ms(moment))
                done = max(done, _ms(moment))
                fired += 1
            upcoming = next_after(day, rule, tz, _moment(max(done, now)))
            if upcoming is not None:
                due.append(_ms(upcoming))
        if state is None or state != DateState(basis, done):
            batch.changes.date_states.append((key, contact_id, basis, done))
    batch.changes.date_checks.append((contact_id, min(due) if due else None))
    return fired


__all__ = ["DateRule", "latest_due", "look_at_dates", "next_after"]
