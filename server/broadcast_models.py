"""What the broadcasts API answers (api_broadcasts.py): msgspec Structs, as in models.py."""

from __future__ import annotations

import datetime as dt

import msgspec

from .models import Preview


class Audience(msgspec.Struct, kw_only=True):
    #: "segment" or "list".
    kind: str
    name: str


class BroadcastProgress(msgspec.Struct, kw_only=True):
    #: Members of the audience: counted when the broadcast began, or now before that.
    audience: int
    #: Contacts given their run so far (one each).
    queued: int
    #: Its runs by status (running, waiting, done, cancelled...).
    runs: dict[str, int]
    #: Its messages by status: pending (waiting for the sender), sent, failed, skipped
    #: (never meant to go: unsubscribed, suppressed, cancelled; the run's log says why).
    messages: dict[str, int]


class BroadcastSummary(msgspec.Struct, kw_only=True):
    name: str
    title: str | None
    #: scheduled, running, paused, cancelled, done; `draft` for one whose only version is
    #: a draft (it is scheduled once published).
    state: str
    audience: Audience
    #: The time as written (`2026-11-27 10:00 local`), or null: as soon as it was deployed.
    at: str | None
    #: When it begins (for `local`, when the earliest zone reaches its time).
    starts_at: dt.datetime | None
    #: When every member of its audience had a run.
    queued_at: dt.datetime | None
    version: int
    file: str | None
    progress: BroadcastProgress


class BroadcastPage(msgspec.Struct, kw_only=True):
    items: list[BroadcastSummary]
    #: Pass as `after` for the next page; null on the last one.
    next: str | None


class BroadcastPreview(msgspec.Struct, kw_only=True):
    broadcast: str
    #: Members of the audience now.
    audience: int
    #: The contact the sample is for (the audience's first member unless one was asked
    #: for); null when the audience is empty.
    contact: str | None
    #: The broadcast's first message rendered for that contact; null without a contact.
    preview: Preview | None
    #: What in the sample is made up (a coupon code the contact was not given yet).
    samples: list[str]


class BroadcastCancelled(msgspec.Struct, kw_only=True):
    broadcast: BroadcastSummary
    #: Runs that had not ended, cancelled.
    runs_cancelled: int
    #: Messages no sender had taken yet, not sent.
    messages_stopped: int
