"""The state database's schema: the migrations that build it, in order, and the version they reach.

`State.open` (pipeline/state.py) reads the database's `PRAGMA user_version` and runs the
migrations it has not run yet, all in one transaction.
"""

from __future__ import annotations

# MIGRATIONS[i] brings the schema from version i to version i + 1. Append only: never edit a
# step that has shipped, because databases out there already ran it.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: runs, deliveries, frozen segmentations, interactions
    (
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            as_of TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('rendered', 'approved')),
            hashes TEXT NOT NULL DEFAULT '{}',
            rendered_at TEXT NOT NULL,
            approved_at TEXT
        )""",
        """CREATE TABLE deliveries (
            run_id TEXT NOT NULL REFERENCES runs (run_id),
            contact_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('newsletter', 'alert')),
            month TEXT NOT NULL,
            as_of TEXT NOT NULL,
            item_ids TEXT NOT NULL DEFAULT '[]',
            message_id TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (contact_id, kind, month)
        )""",
        """CREATE TABLE segmentations (
            id INTEGER PRIMARY KEY,
            as_of TEXT NOT NULL,
            frozen_at TEXT NOT NULL,
            customers TEXT NOT NULL,
            moves TEXT NOT NULL DEFAULT '[]',
            warnings TEXT NOT NULL DEFAULT '[]'
        )""",
        """CREATE TABLE interactions (
            id INTEGER PRIMARY KEY,
            fingerprint TEXT NOT NULL UNIQUE,
            source_key TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            contact_id TEXT NOT NULL DEFAULT '',
            date TEXT NOT NULL,
            channel TEXT,
            our_level TEXT,
            their_level TEXT,
            note TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL,
            imported_at TEXT NOT NULL
        )""",
    ),
    # 2: suppressions recorded in the state (unsubscribes), next to suppressions.csv
    (
        """CREATE TABLE suppressions (
            email TEXT PRIMARY KEY,
            reason TEXT NOT NULL DEFAULT '',
            date TEXT,
            source TEXT NOT NULL,
            added_at TEXT NOT NULL
        )""",
    ),
    # 3: look-ups by run and by customer stay fast as the history grows
    (
        "CREATE INDEX deliveries_by_run ON deliveries (run_id)",
        "CREATE INDEX interactions_by_customer ON interactions (customer_id, date)",
    ),
    # 4: the outbox of `windstil send`: one row per message of an approved run, and its status.
    # UNIQUE (contact_id, kind, month): no run, re-run or second send can mail a contact twice
    # a month. Times used for pacing are epoch seconds (REAL); `updated` is for people. `stage`
    # and `boot` tell, for a row left `sending`, whether its data was ended (see the outbox).
    (
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs (run_id),
            contact_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('newsletter', 'alert', 'calls')),
            month TEXT NOT NULL,
            message_id TEXT NOT NULL,
            recipient TEXT NOT NULL,
            path TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN
                ('queued', 'sending', 'sent', 'deferred', 'failed', 'uncertain', 'skipped')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt REAL NOT NULL DEFAULT 0,
            last_reply TEXT NOT NULL DEFAULT '',
            sent_at REAL,
            updated TEXT NOT NULL,
            stage INTEGER NOT NULL DEFAULT 0,
            boot TEXT NOT NULL DEFAULT '',
            UNIQUE (contact_id, kind, month)
        )""",
        "CREATE INDEX outbox_by_run ON outbox (run_id, status)",
        "CREATE INDEX outbox_by_sent_at ON outbox (sent_at)",
    ),
    # 5: feedback from the mailings (unsubscribes, clicks, replies, bounces, auto-replies) and
    # the mails already read, so every mail that comes back is processed once
    (
        """CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN
                ('unsubscribe', 'click', 'reply', 'hard_bounce', 'soft_bounce', 'auto_reply')),
            event_key TEXT NOT NULL UNIQUE,
            email TEXT NOT NULL DEFAULT '',
            contact_id TEXT NOT NULL DEFAULT '',
            run_id TEXT NOT NULL DEFAULT '',
            item_id TEXT NOT NULL DEFAULT '',
            message_id TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            automated INTEGER NOT NULL DEFAULT 0,
            source TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        )""",
        "CREATE INDEX feedback_by_kind ON feedback (kind, at)",
        "CREATE INDEX feedback_by_email ON feedback (email, at)",
        """CREATE TABLE mail_seen (
            mail_key TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            seen_at TEXT NOT NULL
        )""",
    ),
    # 6: pre-send checks: SpamAssassin scores by message content, and the checks a reviewer
    # accepted with an approval despite their errors
    (
        """CREATE TABLE spam_scores (
            content_hash TEXT PRIMARY KEY,
            score REAL NOT NULL,
            rules TEXT NOT NULL,
            scored_at TEXT NOT NULL
        )""",
        """CREATE TABLE accepted_checks (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            check_code TEXT NOT NULL,
            errors INTEGER NOT NULL,
            accepted_at TEXT NOT NULL,
            PRIMARY KEY (run_id, check_code)
        )""",
    ),
    # 7: e-mail addresses checked in earlier loads: as given (trimmed) -> normalised, NULL when
    # invalid; `validator` names the validator's version, and rows of another version are dropped
    (
        """CREATE TABLE address_checks (
            address TEXT PRIMARY KEY,
            normalised TEXT,
            validator TEXT NOT NULL
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
