"""The suppression list: addresses no message may go to, per channel, and the gate that
keeps every send from them.

The gate is the one seam through which the list is consulted: `delivery.config.build_sender`
wraps each contact channel in one, so a message to a suppressed address fails (class
`suppressed`, with the entry's reason, source and date in words) before the provider is
asked; the outbox, `/api/messages`, the run's messages and /metrics show it. Addresses
are compared in a normal form (`normal_address`): an email's domain in IDNA A-labels and
the whole address in lower case, a phone number without its spacing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

from ..interpreter.clock import ms_of
from ..interpreter.store import OutboxRow
from ..interpreter.store.suppressions import Suppression, SuppressionStore
from .addresses import address_error, mailbox
from .delivery.base import BounceKind, Channel, Outcome, Pipelined, Ready, bounce_source, failed
from .failures import SUPPRESSED

#: Why an address is on the list.
REASONS = ("hard_bounce", "soft_bounce", "complaint", "unsubscribe", "manual")
#: The channels whose addresses can be suppressed (a webhook's URL is the scenario's own).
CHANNELS = ("email", "sms", "viber", "push", "webpush")
#: The columns of the CSV the list is imported from and exported as.
CSV_COLUMNS = ("address", "reason", "source", "detail", "created_at")
#: Limits (docs/api.md): rows in one import, characters of a push token, of a source and of a detail.
MAX_IMPORT_ROWS = 100_000
MAX_TOKEN = 4096
MAX_SOURCE = 64
MAX_DETAIL = 1000

_PHONE_SPACING = re.compile(r"[\s().\-]")
_PHONE = re.compile(r"\+?[0-9]{4,20}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SuppressionError(ValueError):
    """A value the list cannot take; `field` names it (`address`, `reason`...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def normal_address(channel: str, text: str) -> str:
    """``text`` in the form the list keys it by on ``channel``; SuppressionError if it is
    not an address of that channel."""
    value = text.strip()
    if channel == "email":
        box = mailbox(value)
        if box is None:
            raise SuppressionError("address", f"{text!r} is not an email address ({address_error(value)})")
        return f"{box.local}@{box.ascii_domain}".lower()
    if channel in ("sms", "viber"):
        phone = _PHONE_SPACING.sub("", value)
        if not _PHONE.fullmatch(phone):
            raise SuppressionError("address", f"{text!r} is not a phone number: write digits, with + and the "
                                              "country code (+380501234567)")  # fmt: skip
        return phone
    if channel in ("push", "webpush"):
        if not value or len(value) > MAX_TOKEN or _CONTROL.search(value):
            raise SuppressionError("address", f"a {channel} token has 1 to {MAX_TOKEN} characters, none of them "
                                              "control characters")  # fmt: skip
        return value
    raise SuppressionError("channel", f"{channel!r} has no suppression list: use one of {', '.join(CHANNELS)}")


def entry(
    channel: str, address: str, *, reason: str = "manual", source: str = "api", detail: str | None = None,
    at: int,
) -> Suppression:  # fmt: skip
    """A checked entry of the list; SuppressionError names the field that is wrong."""
    if reason not in REASONS:
        raise SuppressionError("reason", f"{reason!r} is not a reason: use one of {', '.join(REASONS)}")
    source = source.strip()
    if not source or len(source) > MAX_SOURCE or _CONTROL.search(source):
        raise SuppressionError("source", f"a source has 1 to {MAX_SOURCE} characters, none of them control characters")
    if detail is not None and (len(detail) > MAX_DETAIL or _CONTROL.search(detail.replace("\t", " "))):
        raise SuppressionError("detail", f"a detail has at most {MAX_DETAIL} characters, on one line")
    return Suppression(channel=channel, address=normal_address(channel, address), reason=reason, source=source,
                       detail=detail or None, created_at=at)  # fmt: skip


def _moment(text: str) -> int:
    """An ISO date or time (UTC unless it carries an offset) as epoch milliseconds."""
    try:
        value = dt.datetime.fromisoformat(text.strip().upper())
    except ValueError as error:
        raise SuppressionError("created_at", f"{text!r} is not a date: write 2025-03-01 or "
                                             "2025-03-01T10:00:00Z") from error  # fmt: skip
    return ms_of(value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC))


def read_csv(channel: str, text: str, now: int) -> tuple[list[Suppression], list[dict[str, Any]]]:
    """The entries of a CSV (header: `address`, and optionally `reason` (default manual),
    `source` (default csv), `detail`, `created_at`), and the errors found: each with its
    `line`, `field` and `message`."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    if "address" not in header:
        message = "the first line must be a header naming the columns, `address` among them"
        return [], [{"line": 1, "field": "address", "message": message}]
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if unknown:
        message = f"unknown column {unknown[0]!r}: the columns are {', '.join(CSV_COLUMNS)}"
        return [], [{"line": 1, "field": unknown[0], "message": message}]
    entries: list[Suppression] = []
    errors: list[dict[str, Any]] = []
    for row in reader:
        line = reader.line_num
        if len(entries) + len(errors) >= MAX_IMPORT_ROWS:
            errors.append(
                {
                    "line": line,
                    "field": "address",
                    "message": f"more than {MAX_IMPORT_ROWS} rows: import the rest in another request",
                }
            )
            break  # fmt: skip
        values = {k.strip(): (v or "").strip() for k, v in row.items() if isinstance(k, str) and isinstance(v, str)}
        if None in row:
            errors.append({"line": line, "field": "address", "message": "more values than columns in the header"})
            continue
        try:
            at = _moment(values["created_at"]) if values.get("created_at") else now
            entries.append(
                entry(
                    channel,
                    values.get("address", ""),
                    reason=values.get("reason") or "manual",
                    source=values.get("source") or "csv",
                    detail=values.get("detail") or None,
                    at=at,
                )
            )
        except SuppressionError as error:  # fmt: skip
            errors.append({"line": line, "field": error.field, "message": error.message})
    return entries, errors


def csv_lines(entries: Iterable[Suppression], header: bool) -> Iterator[str]:
    """CSV text of entries (`CSV_COLUMNS`, dates in UTC ISO 8601), the header first if asked."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for e in entries:
        when = dt.datetime.fromtimestamp(e.created_at / 1000, dt.UTC).isoformat().replace("+00:00", "Z")
        writer.writerow((e.address, e.reason, e.source, e.detail or "", when))
    yield out.getvalue()


async def bounce_entry(
    store: SuppressionStore, channel: str, address: str, *, kind: str, source: str, key: str, detail: str | None,
    at: int, threshold: int,
) -> tuple[Suppression | None, bool]:  # fmt: skip
    """What a bounce or complaint of ``address`` (normal form) puts on the list, whoever
    saw it (a provider's webhook, our own sender): a hard bounce or a complaint its entry
    at once; a soft bounce is counted, and its entry comes once the address has had
    ``threshold``. Returns (the entry or None, whether the bounce is new: ``key`` names
    it, so that a provider's retry or a message given up again is counted once)."""
    flat = " ".join((detail or "").split())  # a multi-line reply on one line
    if kind == "soft_bounce":
        count = await store.count_soft_bounce(channel, address, at, key)
        if count is None:
            return None, False
        if count < threshold:
            return None, True
        flat = f"{count} soft bounces, the last: {flat or 'no detail'}"
    found = Suppression(channel=channel, address=address, reason=kind, source=source,
                        detail=flat[:MAX_DETAIL] or None, created_at=at)  # fmt: skip
    return found, True


class BounceList:
    """The bounces our own sender sees (`delivery.Sender`'s `Bounces`), put on the list
    as the providers' webhooks put theirs (`bounce_entry`)."""

    def __init__(self, store: SuppressionStore, soft_bounce_threshold: int) -> None:
        self.store = store
        self.threshold = soft_bounce_threshold

    async def bounced(self, message: OutboxRow, kind: BounceKind, detail: str, now: int) -> bool:
        try:
            address = normal_address(message.channel, message.recipient)
        except SuppressionError:
            return kind == "hard_bounce"  # not an address the list could hold: the run's flag alone
        source = bounce_source(message.channel)
        found, _ = await bounce_entry(self.store, message.channel, address, kind=kind, source=source,
                                      key=f"{source}:{message.id}", detail=detail, at=now,
                                      threshold=self.threshold)  # fmt: skip
        if found is None:
            return False
        await self.store.add_suppressions([found])
        return True


def suppressed_reason(found: Suppression, address: str) -> str:
    """Why a message to ``address`` did not go, in words."""
    since = dt.datetime.fromtimestamp(found.created_at / 1000, dt.UTC).strftime("%Y-%m-%d")
    kept = "" if found.address == address else " (the address of an erased contact)"
    detail = f": {found.detail}" if found.detail else ""
    return (f"{address} is on the {found.channel} suppression list{kept} since {since} "
            f"({found.reason.replace('_', ' ')} from {found.source}{detail}); not sent. Take it off the list "
            "(DELETE /api/suppressions/...) to send to it again")  # fmt: skip


class SuppressionGate:
    """A channel that sends only to addresses that are not on its suppression list.

    The sender shows the gate each claim of messages: the store reads the list for all
    of them in the claim's own transaction (`Claim.screen` is `listed_as`, the entries
    found go to `screened`), and each message's send takes its answer. A suppression
    committed before the claim stops the message; one committed after it does not stop
    the messages of that claim (docs/delivery.md). A message the gate was not shown (or
    shown at an earlier claim, with fewer attempts) is looked up alone, as it goes."""

    #: The most answers of claims kept; a claim whose messages never went (the sender
    #: stopped) leaves its answers behind, dropped once there are this many.
    SCREENED = 10_000

    def __init__(self, name: str, channel: Channel, store: SuppressionStore) -> None:
        self.name = name
        self.channel = channel
        self.store = store
        parallel = getattr(channel, "parallel", None)
        if parallel is not None:
            self.parallel = parallel
        #: The answers for claimed messages by (id, attempts), each taken as its message
        #: goes; a message claimed again is screened again, its answer replaced.
        self._screened: dict[tuple[int, int], Outcome | None] = {}

    def listed_as(self, message: OutboxRow) -> str | None:
        """The address the list would hold ``message``'s recipient under, or None."""
        try:
            return normal_address(self.name, message.recipient)
        except SuppressionError:
            return None  # not an address of the channel: the channel says why it cannot send

    def _refused(self, found: Suppression | None, address: str) -> Outcome | None:
        return None if found is None else failed(suppressed_reason(found, address), SUPPRESSED)

    def screened(self, messages: Sequence[OutboxRow], found: Mapping[str, Suppression]) -> None:
        """The answers for a claim of messages, from ``found``: the entries of the list
        that hold their addresses (`listed_as`), read when they were claimed."""
        addresses = [(message, self.listed_as(message)) for message in messages]
        if len(self._screened) >= self.SCREENED:
            self._screened.clear()
        for message, address in addresses:
            answer = None if address is None else self._refused(found.get(address), address)
            self._screened[(message.id, message.attempts)] = answer

    async def refusal(self, message: OutboxRow) -> Outcome | None:
        """The failed outcome of a message to a suppressed address, else None."""
        key = (message.id, message.attempts)
        if key in self._screened:
            return self._screened.pop(key)
        address = self.listed_as(message)
        if address is None:
            return None
        return self._refused(await self.store.suppression(self.name, address), address)

    async def send(self, message: OutboxRow) -> Outcome:
        return await self.refusal(message) or await self.channel.send(message)

    async def close(self) -> None:
        await self.channel.close()


class PipelinedGate(SuppressionGate):
    """The gate of a channel that sends the envelope of a message while the one before is recorded."""

    async def send_after(self, message: OutboxRow, ready: Ready) -> Outcome:
        refused = await self.refusal(message)
        if refused is not None:
            return refused
        return await cast(Pipelined, self.channel).send_after(message, ready)


def gated(channels: dict[str, Channel], store: SuppressionStore) -> dict[str, Channel]:
    """Every contact channel of ``channels`` behind its suppression gate."""
    return {
        name: (PipelinedGate if isinstance(channel, Pipelined) else SuppressionGate)(name, channel, store)
        if name in CHANNELS
        else channel
        for name, channel in channels.items()
    }
