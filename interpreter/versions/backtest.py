"""A backtest: the events a live store received in a period, replayed through a candidate
version of the scenarios in virtual time, on a copy, and what it would have sent beside
what the live scenarios sent (see docs/versions.md).

The replay is `scn simulate`'s: the real engine on an in-memory store with a virtual
clock (`simulate.replay`), fed the stored events straight, not over HTTP. The live store
is only read, through a read-only connection (store/sqlite_history.py says why); the copy
has no sender, so nothing is sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections.abc import Callable

import msgspec

from .. import telemetry
from ..checker import CheckResult
from ..clock import VirtualClock, ms_of
from ..program import Bundle
from ..runtime import Engine, Settings
from ..runtime.worker import import_pools
from ..simulate import replay
from ..store import SqliteStore, StoreError
from ..store.sqlite_history import (
    copy_tables,
    issued_coupons,
    open_read_only,
    period_events,
    pool_codes,
    replayed_coupons,
    replayed_messages,
    sent_messages,
)
from .backtest_compare import Comparison, compare

UTC = dt.UTC


class BacktestError(Exception):
    """The backtest cannot be made as asked; the message says what to change."""


#: A period's start given as how long ago: `30d`, `12h`, `2w`, `1d12h`.
_AGO = re.compile(r"(?:\d+[mhdw])+")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_moment(field: str, text: str, now: dt.datetime, *, ago: bool = True) -> dt.datetime:
    """``text`` as a moment: how long before ``now`` (`30d`, `12h`, `2w`; with ``ago``) or an
    ISO date or time (UTC unless it has an offset). BacktestError naming ``field`` otherwise."""
    text = text.strip()
    if ago and _AGO.fullmatch(text):
        seconds = sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([mhdw])", text))
        try:
            return now - dt.timedelta(seconds=seconds)
        except OverflowError:
            raise BacktestError(f"{field}: {text} is further back than any event can be") from None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        how = "a duration before now such as 30d, 12h or 2w, or " if ago else ""
        raise BacktestError(f"{field}: {text!r} is not {how}a date or time such as 2026-11-01 or "
                            "2026-11-01T10:00+02:00") from None  # fmt: skip
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class BacktestResult(msgspec.Struct, kw_only=True):
    scenarios: list[str]
    since: dt.datetime
    until: dt.datetime
    #: Events replayed, and contacts copied (with their attributes as they are now).
    events: int
    contacts: int
    seconds: float
    events_per_s: float
    comparison: Comparison


async def backtest(
    path: str, candidate: Bundle, scenarios: list[str], since: dt.datetime, until: dt.datetime,
    settings: Settings, *, checked: CheckResult | None = None, progress: Callable[[int, int], None] | None = None,
    limit: int | None = None,
) -> BacktestResult:  # fmt: skip
    """Replay the events the store at ``path`` received in [since, until) through
    ``candidate`` (every scenario in it; the pools of ``checked`` loaded when given) and
    compare what ``scenarios`` would have sent with what they sent. ``progress`` is told
    (events replayed, events); ``limit``: how many changed messages to keep (all: None).
    BacktestError for a period or scenario that cannot be used."""
    if since.tzinfo is None or until.tzinfo is None:
        raise BacktestError("since and until need a time zone")
    if since >= until:
        raise BacktestError(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
    unknown = [name for name in scenarios if name not in candidate.scenarios]
    if unknown:
        raise BacktestError(f"the candidate has no scenario {', '.join(unknown)}; it has "
                            f"{', '.join(sorted(candidate.scenarios)) or 'none'}")  # fmt: skip
    try:
        live = open_read_only(path)
    except StoreError as error:
        raise BacktestError(str(error)) from error
    telemetry.not_observed()
    started = time.perf_counter()
    begin, end = ms_of(since), ms_of(until)
    clock = VirtualClock(since)
    store = SqliteStore(":memory:", synchronous="OFF")
    await store.open()
    try:
        events = period_events(live, begin, end)
        copied = await copy_tables(live, store)
        engine = Engine(store, clock, settings)
        # A copy of the bundle: installing numbers it, and the caller's may be in use.
        await engine.install(msgspec.msgpack.decode(msgspec.msgpack.encode(candidate), type=Bundle))
        for name, coupon in candidate.coupons.items():
            if coupon.source == "pool":
                await store.import_pool(name, pool_codes(live, name))
        if checked is not None:
            await import_pools(store, checked)
        replayed = await replay(engine, clock, events, until, progress)
        took = time.perf_counter() - started
        comparison = compare(
            sent_messages(live, scenarios, begin, end), await replayed_messages(store, scenarios, begin, end),
            issued_coupons(live, scenarios, begin, end), await replayed_coupons(store, scenarios, begin, end),
        )  # fmt: skip
    finally:
        await store.close()
        live.close()
    if limit is not None:
        comparison.changes = comparison.changes[: max(limit, 0)]
    return BacktestResult(
        scenarios=scenarios, since=since, until=until, events=replayed, contacts=copied.get("contacts", 0),
        seconds=round(took, 3), events_per_s=round(replayed / took, 1) if took > 0 else 0.0, comparison=comparison,
    )  # fmt: skip


async def backtest_in_thread(
    path: str, candidate: Bundle, scenarios: list[str], since: dt.datetime, until: dt.datetime,
    settings: Settings, *, checked: CheckResult | None = None, limit: int | None = None,
) -> BacktestResult:  # fmt: skip
    """`backtest` on a thread with an event loop of its own, so that a long replay does not
    hold up the caller's loop (the server's requests)."""
    work = backtest(path, candidate, scenarios, since, until, settings, checked=checked, limit=limit)
    return await asyncio.to_thread(asyncio.run, work)
