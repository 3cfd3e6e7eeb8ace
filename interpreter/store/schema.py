"""The SQLite schema as an ordered list of migrations.

`schema_version` holds how many migrations a file has; opening a file applies the
missing ones in order, each in its own transaction. Never edit a released migration:
add a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from ..program import DEFAULT_ATTRIBUTION_MS
from . import report_counts
from .counters import FILL, TABLES, TRIGGERS

MIGRATIONS: list[tuple[str, str]] = [
    (
        "initial schema",
        """
        CREATE TABLE bundles (
            version INTEGER PRIMARY KEY,
            created_at INTEGER NOT NULL,
            blob BLOB NOT NULL
        );
        CREATE TABLE scenarios (
            name TEXT PRIMARY KEY,
            state TEXT NOT NULL DEFAULT 'active',
            version INTEGER NOT NULL,
            bundle INTEGER NOT NULL REFERENCES bundles(version),
            updated_at INTEGER NOT NULL
        );
        CREATE TABLE scenario_versions (
            scenario TEXT NOT NULL,
            version INTEGER NOT NULL,
            bundle INTEGER NOT NULL REFERENCES bundles(version),
            digest TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (scenario, version)
        );

        CREATE TABLE contacts (
            id TEXT PRIMARY KEY,
            email TEXT,
            phone TEXT,
            first_name TEXT,
            last_name TEXT,
            language TEXT,
            timezone TEXT,
            country TEXT,
            grp TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            last_activity_at INTEGER,
            attributes TEXT NOT NULL DEFAULT '{}',
            channels TEXT NOT NULL DEFAULT '{}',
            tags TEXT NOT NULL DEFAULT '[]',
            currency TEXT,
            bonus_balance TEXT NOT NULL DEFAULT '0',
            lifetime_spend TEXT NOT NULL DEFAULT '0',
            orders_count INTEGER NOT NULL DEFAULT 0,
            first_order_at INTEGER,
            last_order_at INTEGER,
            last_paid_at INTEGER
        );
        CREATE INDEX contacts_email ON contacts(email);

        CREATE TABLE orders (
            id TEXT PRIMARY KEY,
            contact_id TEXT NOT NULL REFERENCES contacts(id),
            number TEXT,
            status TEXT NOT NULL,
            offer TEXT,
            tariff TEXT,
            total TEXT NOT NULL,
            currency TEXT,
            coupon TEXT,
            items TEXT NOT NULL DEFAULT '[]',
            created_at INTEGER NOT NULL,
            paid_at INTEGER,
            updated_at INTEGER NOT NULL
        );
        CREATE INDEX orders_contact ON orders(contact_id, created_at);
        CREATE TABLE order_statuses (
            order_id TEXT NOT NULL REFERENCES orders(id),
            status TEXT NOT NULL,
            at INTEGER NOT NULL
        );
        CREATE INDEX order_statuses_order ON order_statuses(order_id, at);
        CREATE TABLE products (
            id TEXT PRIMARY KEY,
            name TEXT,
            category TEXT,
            price TEXT,
            currency TEXT,
            url TEXT,
            image TEXT,
            created_at INTEGER
        );
        CREATE TABLE course_access (
            contact_id TEXT NOT NULL REFERENCES contacts(id),
            course TEXT NOT NULL,
            tariff TEXT,
            progress TEXT NOT NULL DEFAULT '0',
            granted_at INTEGER,
            PRIMARY KEY (contact_id, course)
        );

        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            contact_id TEXT NOT NULL,
            occurred_at INTEGER NOT NULL,
            received_at INTEGER NOT NULL,
            payload TEXT NOT NULL,
            processed_at INTEGER
        );
        CREATE INDEX events_unprocessed ON events(id) WHERE processed_at IS NULL;

        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            scenario TEXT NOT NULL,
            version INTEGER NOT NULL,
            bundle INTEGER NOT NULL REFERENCES bundles(version),
            contact_id TEXT NOT NULL,
            order_id TEXT,
            trigger_event INTEGER NOT NULL REFERENCES events(id),
            position INTEGER NOT NULL,
            step TEXT,
            vars TEXT NOT NULL DEFAULT '{}',
            variant TEXT,
            status TEXT NOT NULL,
            wake_at INTEGER,
            held_wake_at INTEGER,
            await_event TEXT,
            started_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            ended_at INTEGER,
            reason TEXT
        );
        CREATE INDEX runs_due ON runs(wake_at) WHERE wake_at IS NOT NULL;
        CREATE INDEX runs_contact ON runs(contact_id, scenario);
        CREATE INDEX runs_order ON runs(order_id, scenario) WHERE order_id IS NOT NULL;
        CREATE INDEX runs_awaiting ON runs(contact_id, await_event) WHERE await_event IS NOT NULL;
        CREATE INDEX runs_scenario ON runs(scenario, status);

        CREATE TABLE step_log (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            step TEXT NOT NULL,
            name TEXT NOT NULL,
            at INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            detail TEXT
        );
        CREATE INDEX step_log_run ON step_log(run_id, id);

        CREATE TABLE list_members (
            list TEXT NOT NULL,
            contact_id TEXT NOT NULL REFERENCES contacts(id),
            added_at INTEGER NOT NULL,
            PRIMARY KEY (list, contact_id)
        ) WITHOUT ROWID;
        CREATE INDEX list_members_contact ON list_members(contact_id);

        CREATE TABLE segment_members (
            segment TEXT NOT NULL,
            contact_id TEXT NOT NULL REFERENCES contacts(id),
            since INTEGER NOT NULL,
            PRIMARY KEY (segment, contact_id)
        ) WITHOUT ROWID;
        CREATE INDEX segment_members_contact ON segment_members(contact_id);

        CREATE TABLE coupon_codes (
            id INTEGER PRIMARY KEY,
            coupon TEXT NOT NULL,
            code TEXT NOT NULL,
            -- 1 for a static code: one code, a row for each contact it was given to
            shared INTEGER NOT NULL DEFAULT 0,
            contact_id TEXT REFERENCES contacts(id),
            run_id INTEGER,
            issued_at INTEGER,
            valid_until INTEGER,
            redeemed_order TEXT,
            redeemed_at INTEGER
        );
        CREATE UNIQUE INDEX coupon_codes_unique ON coupon_codes(coupon, code) WHERE shared = 0;
        CREATE INDEX coupon_codes_code ON coupon_codes(code);
        CREATE INDEX coupon_codes_contact ON coupon_codes(contact_id, coupon);
        CREATE INDEX coupon_codes_free ON coupon_codes(coupon, id) WHERE contact_id IS NULL;

        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            run_id INTEGER REFERENCES runs(id),
            step TEXT,
            scenario TEXT,
            contact_id TEXT NOT NULL REFERENCES contacts(id),
            channel TEXT NOT NULL,
            template TEXT,
            recipient TEXT NOT NULL,
            message TEXT NOT NULL,
            coupon_code TEXT,
            variant TEXT,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER,
            created_at INTEGER NOT NULL,
            sent_at INTEGER,
            error TEXT,
            cost TEXT,
            UNIQUE (run_id, step)
        );
        CREATE INDEX outbox_pending ON outbox(next_attempt_at) WHERE status = 'pending';
        CREATE INDEX outbox_contact ON outbox(contact_id, created_at);
        CREATE INDEX outbox_scenario ON outbox(scenario, created_at);

        CREATE TABLE bonus_ledger (
            id INTEGER PRIMARY KEY,
            contact_id TEXT NOT NULL REFERENCES contacts(id),
            order_id TEXT,
            run_id INTEGER,
            amount TEXT NOT NULL,
            currency TEXT,
            reason TEXT NOT NULL,
            at INTEGER NOT NULL,
            UNIQUE (contact_id, order_id, reason)
        );
        """,
    ),
    (
        "bundle digests: an unchanged workspace is not stored again",
        """
        ALTER TABLE bundles ADD COLUMN digest TEXT;
        CREATE INDEX bundles_digest ON bundles(digest);
        """,
    ),
    (
        "paid orders by time, for recommendations; why an event was set aside",
        """
        CREATE INDEX orders_paid ON orders(paid_at) WHERE paid_at IS NOT NULL;
        ALTER TABLE events ADD COLUMN error TEXT;
        CREATE INDEX events_pending_contact ON events(contact_id, received_at) WHERE processed_at IS NULL;
        """,
    ),
    (
        "delivery: how many parts (SMS segments) a message was billed as",
        """
        ALTER TABLE outbox ADD COLUMN parts INTEGER;
        """,
    ),
    (
        "the workspace's files (scenarios, templates, pools) kept with each bundle; run listings by step",
        """
        ALTER TABLE bundles ADD COLUMN files BLOB;
        CREATE INDEX runs_scenario_step ON runs(scenario, step);
        CREATE INDEX outbox_run ON outbox(run_id);
        """,
    ),
    (
        "failed messages: the class of each failure (template, coupon, address, refused...), counted by channel",
        """
        ALTER TABLE outbox ADD COLUMN failure TEXT;
        CREATE INDEX outbox_failed ON outbox(channel, failure) WHERE status = 'failed';
        """,
    ),
    (
        "the console's aggregates: sends by scenario and status over time, skipped and failed messages per "
        "scenario, a step's messages, runs a split sent somewhere",
        """
        CREATE INDEX outbox_scenario_status ON outbox(scenario, status, created_at);
        CREATE INDEX outbox_scenario_step ON outbox(scenario, step, id);
        CREATE INDEX outbox_skipped ON outbox(scenario, step, error) WHERE status = 'skipped';
        CREATE INDEX outbox_failed_scenario ON outbox(scenario, id) WHERE status = 'failed';
        CREATE INDEX runs_variant ON runs(scenario, started_at) WHERE variant IS NOT NULL;
        """,
    ),
    (
        "delivery: which sender (a start of its process) holds a claim, so that a dead one's are taken back",
        """
        ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
        CREATE INDEX outbox_claimed ON outbox(claimed_by) WHERE claimed_by IS NOT NULL;
        """,
    ),
    (
        "the frequency cap's count: a contact's messages from one scenario in a window, from one index; "
        "messages of a period (all scenarios) from an index of their time",
        """
        CREATE INDEX outbox_contact_scenario ON outbox(contact_id, scenario, created_at);
        CREATE INDEX outbox_created ON outbox(created_at);
        """,
    ),
    (
        "counters kept by triggers in the transaction of each change: runs by scenario, step and status; "
        "each step's runs by last outcome; messages by status and failure; events by state (counters.py)",
        TABLES + TRIGGERS + FILL,
    ),
    (
        "reports from counters: what became of each message (opened, clicked, unsubscribed; orders credited "
        "when paid), figures counted per hour, the scenarios' attribution windows (report_counts.py)",
        report_counts.COLUMNS + report_counts.triggers(DEFAULT_ATTRIBUTION_MS),
    ),
    (
        "the segment sweep looks only at contacts whose time condition crosses: when each is next due, and "
        "which timed segments those moments were computed for",
        """
        CREATE TABLE segment_checks (
            contact_id TEXT PRIMARY KEY,
            due_at INTEGER
        ) WITHOUT ROWID;
        CREATE INDEX segment_checks_due ON segment_checks(due_at) WHERE due_at IS NOT NULL;
        CREATE TABLE segment_sweep (digest TEXT NOT NULL);
        """,
    ),
    # Deliverability (issue 20).
    (
        "the suppression list: addresses no message may go to, per channel, with why, since when and from "
        "where; soft bounces counted per address until they reach the threshold",
        """
        CREATE TABLE suppressions (
            channel TEXT NOT NULL,
            address TEXT NOT NULL,
            reason TEXT NOT NULL,
            source TEXT NOT NULL,
            detail TEXT,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (channel, address)
        ) WITHOUT ROWID;
        CREATE TABLE soft_bounces (
            channel TEXT NOT NULL,
            address TEXT NOT NULL,
            bounces INTEGER NOT NULL,
            first_at INTEGER NOT NULL,
            last_at INTEGER NOT NULL,
            PRIMARY KEY (channel, address)
        ) WITHOUT ROWID;
        """,
    ),
    (
        "bounces and complaints from providers: contacts found by their email in any case, and the soft bounces "
        "already counted (a provider's retry does not count again)",
        """
        CREATE INDEX contacts_email_lower ON contacts(lower(email)) WHERE email IS NOT NULL;
        CREATE TABLE feedback_seen (
            key TEXT PRIMARY KEY,
            at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX feedback_seen_at ON feedback_seen(at);
        """,
    ),
    (
        "contact imports that survive a restart: each job's rows still to import and how far it got",
        """
        CREATE TABLE import_jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            status TEXT NOT NULL,
            total INTEGER NOT NULL,
            position INTEGER NOT NULL,
            accepted INTEGER NOT NULL,
            duplicates INTEGER NOT NULL,
            errors TEXT NOT NULL,
            rows TEXT,
            created_at INTEGER NOT NULL,
            finished_at INTEGER
        );
        CREATE INDEX import_jobs_running ON import_jobs(id) WHERE status = 'running';
        """,
    ),
    (
        "versions: drafts that take no runs until published (a draft bundle is not the current workspace), "
        "and an audit record per change of a scenario's versions: who, when, what",
        """
        ALTER TABLE scenario_versions ADD COLUMN draft INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE bundles ADD COLUMN draft INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE scenario_audit (
            id INTEGER PRIMARY KEY,
            scenario TEXT NOT NULL,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            version INTEGER,
            previous INTEGER,
            detail TEXT
        );
        CREATE INDEX scenario_audit_scenario ON scenario_audit(scenario, id);
        """,
    ),
    (
        "GDPR: who exported or erased a contact's data, when, and what was changed (privacy.py)",
        """
        CREATE TABLE privacy_audit (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            contact_id TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX privacy_audit_contact ON privacy_audit(contact_id, id);
        """,
    ),
    (
        "orders: when scn first heard of each (an order older than 30 days then is an import)",
        """
        ALTER TABLE orders ADD COLUMN seen_at INTEGER;
        """,
    ),
    (
        "several engines on one database: which engine works on a contact now, until when (pg_leases.py; "
        "PostgreSQL only uses it, SQLite runs one engine)",
        """
        CREATE TABLE contact_leases (
            contact_id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            until INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX contact_leases_owner ON contact_leases(owner);
        """,
    ),
    (
        "broadcasts (issue 15): each one's state, when it begins, the event its runs start from, its "
        "audience's size, and how far the making of its runs got (the last contact given one)",
        """
        CREATE TABLE broadcasts (
            name TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            version INTEGER NOT NULL,
            due_at INTEGER NOT NULL,
            event_id INTEGER REFERENCES events(id),
            audience INTEGER,
            cursor TEXT,
            queued INTEGER NOT NULL DEFAULT 0,
            expanded_at INTEGER,
            paused_from TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        CREATE INDEX broadcasts_due ON broadcasts(due_at) WHERE expanded_at IS NULL;
        """,
    ),
    (
        "date triggers (`on date contact.birthday at 10:00`): when each contact's dates are next due, per "
        "trigger and contact what its occurrences were computed from and up to when they are done, and since "
        "when each trigger is deployed (sqlite_dates.py)",
        """
        CREATE TABLE date_checks (
            contact_id TEXT PRIMARY KEY,
            due_at INTEGER
        );
        CREATE INDEX date_checks_due ON date_checks(due_at) WHERE due_at IS NOT NULL;
        CREATE TABLE date_triggers (
            trigger_key TEXT NOT NULL,
            contact_id TEXT NOT NULL,
            basis TEXT,
            done_until INTEGER NOT NULL,
            PRIMARY KEY (contact_id, trigger_key)
        );
        CREATE TABLE date_sweep (
            trigger_key TEXT PRIMARY KEY,
            since INTEGER NOT NULL
        );
        """,
    ),
    (
        "PostgreSQL only: the counters' rows spread over buckets, one a database connection, so that engines "
        "writing at once do not queue on one row (pg_schema.SPREAD; SQLite has one writer)",
        "",
    ),
]


def _fill_reports(db: sqlite3.Connection) -> None:
    report_counts.remember_windows(db)
    report_counts.recount(db, DEFAULT_ATTRIBUTION_MS)


#: What a migration does beyond its SQL, in its transaction: fill what it made for the
#: rows already there.
AFTER: dict[int, Callable[[sqlite3.Connection], None]] = {11: _fill_reports}
