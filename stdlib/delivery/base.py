"""The one interface every channel implements, and what an attempt comes to."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from ...interpreter.store import OutboxRow
from ...interpreter.store.suppressions import Suppression

Status = Literal["sent", "retry", "failed"]


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What one attempt to deliver a message came to."""

    status: Status
    #: Why it failed, or what the provider answered.
    detail: str | None = None
    #: What sending cost (decimal text with its currency, "0.12 EUR"), when known.
    cost: str | None = None
    #: How many parts the message was billed as (SMS segments).
    parts: int | None = None
    #: The address does not exist or refuses for good: stop sending to it.
    suppress: bool = False
    #: A failure's class (`stdlib.failures`): address, refused, configuration...
    failure: str | None = None
    #: A temporary refusal of the recipient's mailbox (SMTP 4xx about it): should the
    #: message be given up, that counts as a soft bounce of the address.
    soft_bounce: bool = False
    #: How long the provider asks to be left alone before the next attempt (its
    #: `Retry-After`, in ms): the next attempt waits at least that, within the policy.
    after_ms: int | None = None


def sent(detail: str | None = None, *, cost: str | None = None, parts: int | None = None) -> Outcome:
    return Outcome(status="sent", detail=detail, cost=cost, parts=parts)


def retry(detail: str, *, soft_bounce: bool = False, after_ms: int | None = None) -> Outcome:
    return Outcome(status="retry", detail=detail, soft_bounce=soft_bounce, after_ms=after_ms)


def failed(detail: str, failure: str, *, suppress: bool = False) -> Outcome:
    """A failure for good: ``detail`` says why in words, ``failure`` is its class."""
    return Outcome(status="failed", detail=detail, suppress=suppress, failure=failure)


#: Who reports the bounces a channel of ours sees, as a suppression's `source` and a
#: `message.bounced` event's `provider` (a webhook's are the provider's name).
_BOUNCE_SOURCES = {"email": "smtp"}


def bounce_source(channel: str) -> str:
    """The `source` of a suppression for a bounce our own ``channel`` saw."""
    return _BOUNCE_SOURCES.get(channel, channel)


BounceKind = Literal["hard_bounce", "soft_bounce"]


class Bounces(Protocol):
    """Where the sender reports the bounces it sees (`stdlib.suppression.BounceList`)."""

    async def bounced(self, message: OutboxRow, kind: BounceKind, detail: str, now: int) -> bool:
        """Take a bounce of the message's address: whether the address is suppressed now (a
        hard bounce at once, soft ones once they reach the threshold)."""


class Channel(Protocol):
    """Delivers outbox messages of one channel (email, sms, viber, push, webpush, webhook).

    A channel that sends over a fixed number of connections says how many in an attribute
    `parallel`: the sender gives it as many lanes, each sending one message at a time."""

    async def send(self, message: OutboxRow) -> Outcome:
        """Try once. Must not raise for delivery problems: they are outcomes, with
        reasons in words (`stdlib.failures.plain_reason`), never an exception's repr."""

    async def close(self) -> None: ...


#: What a pipelined channel calls once a message is about to go (its envelope taken): None
#: when the provider may accept it at once, else what to await before the point where it
#: may (the call itself tells the sender that a record is needed soon).
Ready = Callable[[], "asyncio.Future[None] | None"]


@runtime_checkable
class Pipelined(Protocol):
    """A channel that can start on a message while the sender is still recording the
    outcome of the one before (SMTP sends the envelope meanwhile)."""

    async def send_after(self, message: OutboxRow, ready: Ready) -> Outcome:
        """`Channel.send`, calling ``ready()`` once the message is about to go and
        awaiting what it returns (if anything) before the point from which the provider
        may accept it: nothing it could accept goes before."""


@runtime_checkable
class Screening(Protocol):
    """A channel that looks at each claim of messages as a whole before any of them is
    sent (the suppression gate: the list read in the claim's own transaction, instead of
    a query a message)."""

    def listed_as(self, message: OutboxRow) -> str | None:
        """The address the channel's suppression list would hold ``message``'s recipient
        under (None: one it cannot hold): the claim's `Claim.screen`."""

    def screened(self, messages: Sequence[OutboxRow], found: Mapping[str, Suppression]) -> None:
        """Called with the messages of a claim and the entries of the list that held their
        addresses when they were claimed, before any of them goes to `send`."""


def content(message: OutboxRow) -> dict[str, Any]:
    """The rendered parts and headers the runtime stored with a message."""
    text = message.message or "{}"
    try:
        value = msgspec.json.decode(text)  # several times the standard decoder's speed
    except msgspec.DecodeError:
        value = json.loads(text)  # the standard library's errors, as before, for what is not JSON
    return value if isinstance(value, dict) else {}


class HeaderError(ValueError):
    """A header value that would let text inject another header."""


def header_value(name: str, value: str | None) -> str | None:
    """``value`` if it is safe as a header: no CR or LF anywhere (rendered subjects included)."""
    if value is not None and ("\r" in value or "\n" in value):
        raise HeaderError(f"{name} contains a line break ({value[:60]!r}): refused, it could inject headers")
    return value
