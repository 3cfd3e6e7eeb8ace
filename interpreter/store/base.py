"""The interface between the runtime and a store.

Everything the runtime, the simulator and the server need from storage goes through
these methods, and nothing else: no SQL leaves the store. `SqliteStore` is the embedded
implementation; a PostgreSQL store would implement the same protocol (its `due_runs`
would claim with `FOR UPDATE SKIP LOCKED` so several workers can share the load).

Times are integer milliseconds since the epoch (UTC); money travels as decimal strings.
Reads may be served from any committed state; every write that matters to a run goes
through `commit`, one transaction per batch of `Changes`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, Protocol

from .records import (
    BroadcastRow,
    Changes,
    Claim,
    DateState,
    Delivery,
    EventIn,
    EventRow,
    OutboxRow,
    ReportCount,
    RunRow,
    RunStart,
    ScenarioRow,
    StepLog,
)
from .run_moves import RunMove, RunPlace
from .suppressions import Claimed


class StoreError(Exception):
    """The store cannot be used as it is (a file from a newer scn, a broken file)."""


class WorkTakenOver(Exception):
    """A batch's contacts went to another engine before the batch was committed (this
    engine was held up past its leases): nothing of it is applied; the other engine does
    the work."""


class Store(Protocol):
    # ------------------------------------------------------------ lifecycle
    async def open(self) -> None:
        """Connect and migrate to the current schema."""

    async def close(self) -> None: ...

    async def schema_version(self) -> int: ...

    async def optimize(self) -> None:
        """Refresh the query planner's statistics where they went stale (cheap; the engine
        calls it every few hours, and closing the store does too)."""

    def allocate_run_id(self) -> int:
        """A fresh run id (the runtime is the only creator of runs)."""

    # ------------------------------------------------------------ bundles and scenarios
    async def save_bundle(
        self, blob: bytes, digests: dict[str, str], now: int, files: bytes | None = None, *, draft: bool = False,
        actor: str = "system",
    ) -> tuple[int, dict[str, int]]:  # fmt: skip
        """Store a bundle (and the workspace files it was compiled from, msgpack-encoded);
        each scenario whose program digest changed gets a new version, current at once or,
        with ``draft``, only once published; each change gets an audit record by ``actor``.

        Returns the bundle id and the scenario -> version map of the new bundle."""

    async def bundle_blob(self, version: int) -> bytes | None: ...

    async def latest_bundle(self) -> int | None:
        """The newest bundle that is not only a draft."""

    async def scenarios(self) -> list[ScenarioRow]: ...

    async def scenario_versions(self, name: str) -> list[tuple[int, int, str, int, bool]]:
        """(version, bundle, digest, created_at, draft) of a scenario, oldest first."""

    async def publish_version(
        self, name: str, version: int, now: int, actor: str, action: str = "publish", detail: str | None = None,
        move: Callable[[list[RunPlace]], Sequence[RunMove]] | None = None,
    ) -> list[RunMove]:  # fmt: skip
        """Make ``version`` the scenario's current one (publish a draft, or roll back), with
        an audit record, in one transaction; StoreError for an unknown version. With
        ``move``, the live runs on other versions are planned by it and moved in that same
        transaction (all or none); returns the plan."""

    async def live_places(self, name: str, version: int) -> list[RunPlace]:
        """Where the live runs of a scenario that are not on ``version`` are."""

    async def record_audit(self, name: str, now: int, actor: str, action: str, detail: str | None = None) -> None:
        """An audit record of a change that is not a version's (pause, resume, archive, delete)."""

    async def audit_records(self, name: str, after: int = 0, limit: int = 50) -> list[dict[str, Any]]:
        """A scenario's audit records, oldest first."""

    async def set_scenario_state(self, name: str, state: str, now: int) -> None:
        """Pause (its runs hold where they are), resume (they go on) or archive a scenario."""

    # ------------------------------------------------------------ events
    async def append_events(self, events: list[EventIn], now: int) -> list[tuple[int, bool]]:
        """Accept events durably, in one transaction. Returns (id, duplicate) for each."""

    async def append_batches(
        self, batches: list[list[EventIn]], now: int, refusals: Callable[[dict[str, str]], list[str | None]]
    ) -> list[list[tuple[int, bool]] | str]:
        """Accept batches of events durably, in one transaction, each whole or not at all: the
        payloads already accepted under their keys are read in the same transaction and given
        to ``refusals``, which names for each batch the key that refuses it (or None). Returns
        per batch its (id, duplicate) for each event, or the key that refused it."""

    async def unprocessed_events(self, limit: int) -> list[EventRow]: ...

    async def event(self, event_id: int) -> EventRow | None: ...

    async def events(self, ids: Collection[int]) -> dict[int, EventRow]: ...

    async def payloads_by_key(self, keys: Collection[str]) -> dict[str, str]:
        """The payloads of the events already accepted under these idempotency keys."""

    # ------------------------------------------------------------ projections
    async def contacts(self, ids: Collection[str]) -> dict[str, dict[str, Any]]: ...

    async def orders(self, ids: Collection[str]) -> dict[str, dict[str, Any]]: ...

    async def contact_orders(self, contact_id: str) -> list[dict[str, Any]]:
        """A contact's orders, oldest first."""

    async def course_access(self, contact_id: str) -> dict[str, tuple[str | None, str]]:
        """course -> (tariff, progress) for a contact."""

    async def lists_of(self, contact_id: str) -> set[str]: ...

    async def group_stats(self) -> list[tuple[str | None, str | None, int, int, int]]:
        """(group, currency, contacts, paid orders, lifetime spend in thousandths) per
        group and currency, from the contacts' running totals (no scan of orders)."""

    async def contact_ids(self, after: str, limit: int) -> list[str]:
        """Contact ids in order, from just after ``after`` (for sweeps over everyone)."""

    async def lists_of_many(self, contact_ids: Collection[str]) -> dict[str, set[str]]:
        """contact -> the lists it is in, for every contact asked about."""

    async def segments_of_many(self, contact_ids: Collection[str]) -> dict[str, set[str]]:
        """contact -> the segments it is in, for every contact asked about."""

    async def segments_of(self, contact_id: str) -> set[str]: ...

    async def reset_segment_checks(self, digest: str, now: int) -> bool:
        """Make every contact due for the segment sweep at ``now``, unless the moments kept
        were computed for the timed segments ``digest`` names. Whether it did."""

    async def forget_segment_checks(self) -> None:
        """Forget for which timed segments the moments kept were computed (none is deployed)."""

    async def due_segment_checks(self, now: int, limit: int) -> list[str]:
        """Contacts whose clock-dependent segments are due to be looked at by ``now``, earliest first."""

    async def next_segment_check(self) -> int | None:
        """The earliest moment a contact's clock-dependent segments are due to be looked at."""

    async def reset_date_checks(self, keys: Collection[str], now: int) -> bool:
        """Make the date triggers ``keys`` the deployed ones: a key not deployed before is
        watched from ``now`` on (its progress kept from an earlier deployment moves up to
        ``now``), and then every contact is due at ``now``. Nothing when the keys are those
        deployed already (a restart). Whether it did."""

    async def due_date_checks(self, now: int, limit: int) -> list[str]:
        """Contacts whose date triggers are due to be looked at by ``now``, earliest first."""

    async def next_date_check(self) -> int | None:
        """The earliest moment a contact's date triggers are due to be looked at."""

    async def date_states(self, contact_ids: Collection[str]) -> dict[tuple[str, str], DateState]:
        """(trigger key, contact) -> its progress, for the contacts asked about."""

    async def date_since(self) -> dict[str, int]:
        """trigger key -> since when it is deployed, for every deployed date trigger."""

    async def products(self, ids: Collection[str] | None = None, limit: int = 1000) -> list[dict[str, Any]]: ...

    async def product_counts(
        self, since: int, limit: int, *, category: str | None = None, segment: str | None = None
    ) -> list[tuple[str, int]]:
        """Products by how many paid orders since ``since`` hold them (of a category, or
        bought by members of a segment), most first."""

    async def bought_with(self, product: str, since: int, limit: int) -> list[tuple[str, int]]:
        """Products in the same paid orders as ``product`` since ``since``, most often first."""

    # ------------------------------------------------------------ runs
    async def due_runs(self, now: int, limit: int) -> list[RunRow]:
        """Runs whose wake-up time is at or before ``now``, by (wake-up time, id), leaving
        out runs whose contact has events received before that time still unprocessed."""

    async def next_wake(self) -> int | None:
        """The earliest wake-up time of any run of an active scenario."""

    async def awaiting_runs(self, contact_id: str, event_type: str) -> list[RunRow]: ...

    async def live_runs(self, contact_id: str, scenarios: Collection[str]) -> list[RunRow]: ...

    async def live_runs_of(self, contact_ids: Collection[str]) -> list[RunRow]:
        """Every run of these contacts that has not ended."""

    async def run_starts(self, contact_ids: Collection[str], scenarios: Collection[str]) -> list[RunStart]:
        """Every run (ended or not) of these contacts in these scenarios, for entry rules."""

    async def run(self, run_id: int) -> RunRow | None: ...

    async def count_runs(
        self, scenario: str, *, contact_id: str | None = None, order_id: str | None = None, since: int | None = None
    ) -> int: ...

    async def run_counts(self) -> dict[str, dict[str, int]]:
        """scenario -> status -> number of runs."""

    # ------------------------------------------------------------ messages
    async def count_messages(
        self, contact_id: str, *, scenario: str | None, since: int, channel: str | None = None,
        exempt: Collection[str] = (),
    ) -> int:  # fmt: skip
        """Messages to a contact (from one scenario, on one channel, if given) since a
        moment; skipped and failed ones aside (they never reached the contact), and those of
        the templates in ``exempt``."""

    async def last_message_at(self, contact_id: str, channel: str | None) -> int | None:
        """When the contact was last sent a message (on ``channel``), skipped and failed ones aside."""

    async def message_counts(self) -> list[tuple[str, str, str, str, str, int]]:
        """(scenario, channel, template, status, failure class or "", count) over the whole outbox."""

    # ------------------------------------------------------------ coupons and bonus
    async def draw_pool_code(self, coupon: str, skip: Collection[str]) -> str | None:
        """A free code of an imported pool, not among ``skip`` (drawn earlier in this batch)."""

    async def free_pool_codes(self, coupon: str) -> int: ...

    async def import_pool(self, coupon: str, codes: Iterable[str]) -> int:
        """Add codes to a coupon's pool; known codes are left alone. Returns how many were new."""

    async def coupon_code(self, code: str) -> dict[str, Any] | None:
        """Any row of a code (to tell whether a generated code is taken)."""

    async def code_rows(self, code: str) -> list[dict[str, Any]]:
        """Every row of a code: one for a unique code, one per contact for a shared one."""

    async def issued_codes(self, contact_id: str, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """The codes a contact was given (rows of `coupon_codes`), by id after ``after``."""

    async def bonus_paid(self, contact_id: str, order_id: str | None, reason: str) -> bool: ...

    # ------------------------------------------------------------ broadcasts (sqlite_broadcasts.py)
    async def broadcasts(self) -> list[BroadcastRow]:
        """Every broadcast's row, by name."""

    async def schedule_broadcast(self, name: str, version: int, due_at: int, now: int) -> None:
        """Make a broadcast's row (scheduled), or move a still scheduled one to a new
        version and time; one that began keeps its course."""

    async def begin_broadcast(self, name: str, kind: str, audience: str, event: EventIn, now: int) -> bool:
        """A scheduled broadcast begins: the event its runs start from is stored (as
        processed) and its audience counted, in one transaction. False if it is not scheduled."""

    async def expand_broadcast(
        self, name: str, changes: Changes, cursor: str | None, queued: int, finished: bool, now: int
    ) -> None:
        """A page of a broadcast's runs and its cursor moved past their contacts, in one
        transaction; `BroadcastGone` (nothing written) if it is no longer running."""

    async def audience_page(self, kind: str, name: str, after: str, limit: int) -> list[str]:
        """Members of a list or segment (``kind``) after ``after``, in id order."""

    async def audience_size(self, kind: str, name: str) -> int: ...

    async def pause_broadcast(self, name: str, now: int) -> bool:
        """Pause a scheduled or running broadcast; False when it is in another state."""

    async def resume_broadcast(self, name: str, now: int) -> bool:
        """A paused broadcast goes back to the state it was paused in; False if not paused."""

    async def cancel_broadcast(self, name: str, now: int, reason: str) -> tuple[int, int] | None:
        """Cancel a broadcast, its live runs, and its messages no sender holds yet, in one
        transaction: (runs, messages) stopped, or None when it had ended already."""

    async def finish_broadcasts(self, now: int) -> int:
        """Running broadcasts whose members all have a run, none live, become done."""

    # ------------------------------------------------------------ the one write path of the runtime
    async def commit(self, changes: Changes) -> None:
        """Apply a batch of changes (runs, step log, outbox, projections...) in one transaction."""

    # ------------------------------------------------------------ delivery (the sender's side)
    def new_sender(self) -> str:
        """An identity for a sender starting on this store: its claims carry it, and it
        is known to be alive as long as its process is (or until the store closes)."""

    async def exchange_outbox(
        self, deliveries: list[Delivery], events: list[EventIn], claims: Sequence[Claim], *,
        now: int, lease_ms: int, owner: str,
    ) -> list[Claimed]:  # fmt: skip
        """In one transaction: the outcomes of attempts and the events they raise (a
        bounce), then, for each claim, pending messages due by ``now``, oldest first, each
        claimed by ``owner``: its attempts counted, its next attempt a lease ahead (the
        latest another sender may take it over, should ``owner``'s death go unnoticed).
        Never messages ``owner`` holds already: its own in flight stay its own even when
        it outlasts their lease. A claim with a `Claim.screen` comes with the entries of
        the suppression list that hold its messages' addresses, read in that transaction."""

    async def reclaim_outbox(self, now: int, owner: str) -> tuple[int, bool]:
        """Claims of senders other than ``owner`` that are known to be gone (their process
        died) become due at ``now``. Returns how many messages were taken back, and whether
        other senders that may be alive hold claims."""

    async def release_outbox(self, now: int, owner: str, ids: Collection[int] | None = None) -> None:
        """Messages ``owner`` holds (all, or those of ``ids``) become due at ``now`` for
        another sender, their attempt not counted: it stops, or could not send them."""

    async def next_outbox_attempt(self) -> int | None: ...

    async def outbox(
        self, *, contact_id: str | None = None, status: str | None = None, channel: str | None = None,
        scenario: str | None = None, after: int = 0, limit: int = 100,
    ) -> list[OutboxRow]:  # fmt: skip
        """Messages in id order after ``after``, filtered (keyset pagination)."""


class Queries(Protocol):
    """What the control plane reads (and cancelling runs), beside the runtime's `Store`."""

    async def bundle_files(self, version: int | None = None) -> dict[str, str]:
        """The workspace files kept with a bundle (the latest that has them by default)."""

    async def list_runs(
        self, *, scenario: str | None = None, contact_id: str | None = None, status: str | None = None,
        step: str | None = None, after: int = 0, limit: int = 50,
    ) -> list[RunRow]:  # fmt: skip
        """Runs in id order after ``after``, filtered (keyset pagination)."""

    async def run_log(self, run_id: int) -> list[StepLog]: ...

    async def step_counts(self, scenario: str) -> list[tuple[str, str, str, int]]:
        """(step, name, outcome, runs): each run counted once at each step it reached, by
        the step's last outcome for it; steps in the order they were first reached."""

    async def runs_at(self, scenario: str) -> list[tuple[str | None, str, int]]:
        """(current step, status, runs) of a scenario."""

    async def cancel_runs(self, run_ids: list[int], now: int, reason: str) -> list[int]:
        """Cancel live runs (a cancelled run is never revived by a batch in flight)."""

    async def members(self, kind: str, name: str, after: str = "", limit: int = 100) -> list[str]: ...

    async def member_counts(self, kind: str) -> dict[str, int]: ...

    async def bonus_entries(self, contact_id: str) -> list[dict[str, Any]]: ...

    async def message_by_step(self, run_id: int, step: str) -> OutboxRow | None: ...

    async def messages_between(self, since: int, until: int, scenario: str | None = None) -> list[OutboxRow]:
        """Messages created in [since, until), skipped ones aside (for reports)."""

    async def report_counts(
        self, since: int, until: int, scenario: str | None = None, *, origin: int | None = None,
        bucket_ms: int | None = None,
    ) -> list[ReportCount]:  # fmt: skip
        """The reports' figures of the messages made in [since, until) (of one scenario, or
        all), per scenario, step, template, channel and variant, and per bucket of
        ``bucket_ms`` from ``origin`` (all in bucket 0 when not given); read from counters
        kept as messages are made, delivered, opened, clicked, and credited with orders."""

    async def messages_of(self, contact_ids: list[str], since: int) -> list[OutboxRow]: ...

    async def contact_events(
        self, contact_ids: list[str], types: list[str], since: int
    ) -> list[tuple[str, str, str, int, str]]:
        """(key, type, contact, occurred_at, payload) of events of these types about these contacts."""

    async def paid_orders(
        self, contact_ids: list[str], since: int
    ) -> list[tuple[str, str, str | None, str | None, int]]:
        """(order, contact, total, currency, paid_at) of orders paid since ``since``."""

    async def metrics(self) -> dict[str, dict[str, int]]:
        """Counts by status of events ("processed", "pending", "failed"), runs and messages."""

    async def failed_counts(self) -> list[tuple[str, str, int]]:
        """(channel, failure class, messages) of failed messages ("unknown" for a class not recorded)."""


class Overview(Protocol):
    """What the console's pages read: small aggregates, each from an index (sqlite_overview.py)."""

    async def live_runs_by_status(self, scenario: str) -> dict[str, int]: ...

    async def sends_since(self, scenario: str, since: int) -> dict[str, int]:
        """Messages a scenario made since ``since`` by status (pending, sent, failed)."""

    async def last_failure(self, scenario: str) -> tuple[str, int] | None:
        """(why, when) of the scenario's latest failed message or run."""

    async def skip_reasons(self, scenario: str) -> list[tuple[str, str, int]]:
        """(step, why, messages) of the messages the scenario's steps skipped."""

    async def step_messages(self, scenario: str, step: str, after: int = 0, limit: int = 50) -> list[OutboxRow]: ...

    async def run_messages(self, run_id: int) -> list[OutboxRow]: ...

    async def contact_messages(self, contact_id: str, limit: int = 50) -> list[OutboxRow]:
        """A contact's latest messages, newest first."""

    async def find_contacts(self, text: str, limit: int = 20) -> list[dict[str, Any]]:
        """Contacts whose id starts with ``text`` or whose email is ``text``."""

    async def variant_runs(
        self, scenario: str, since: int, until: int, limit: int = 100_000
    ) -> list[tuple[int, str, str | None]]:
        """(run, contact, variant) of runs a split sent somewhere, started in [since, until)."""

    async def step_entries(self, run_ids: Collection[int], step: str) -> list[tuple[int, int, str, str | None]]:
        """(run, at, outcome, detail) of these runs' log entries at ``step``."""

    async def contact_runs(self, contact_id: str, limit: int = 100) -> list[RunRow]:
        """A contact's latest runs, newest first."""


class ControlStore(Store, Queries, Overview, Protocol):
    """A store the server can run on: the runtime's needs, the control plane's and the console's."""
