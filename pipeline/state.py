"""The state database (SQLite): runs, deliveries, frozen segmentations, interactions, suppressions.

The only module that runs SQL on the state. The schema is versioned with `PRAGMA user_version`
and an ordered list of migrations (pipeline/state_schema.py); rows become the domain's values,
and back, in pipeline/state_rows.py. Every write runs in one `BEGIN IMMEDIATE … COMMIT`
transaction, so a crash or an exception halfway leaves the database as it was. WAL journaling
lets a preview read while a run writes; a busy timeout waits for a short lock before giving up
clearly.

The outbox's queue (pipeline/mail/outbox.py) keeps its SQL next to its logic and runs it
through `State.transaction()` and `State.query()`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from pipeline.checks.spam import SpamResult
from pipeline.csvinput import suppression_key
from pipeline.errors import StateError
from pipeline.feedback import SOFT_BOUNCES_IN_A_ROW, FeedbackEvent, FeedbackKind
from pipeline.models import (
    Channel,
    Delivery,
    Interaction,
    Level,
    OurLevel,
    Segment,
    Segmentation,
    SegmentMove,
    Suppression,
)
from pipeline.state_rows import (
    customer_value_from_json,
    customer_value_to_json,
    delivery_from_row,
    event_fields,
    interaction_columns,
    interaction_fingerprint,
    moment_text,
)
from pipeline.state_schema import MIGRATIONS, SCHEMA_VERSION

__all__ = [  # the schema is in pipeline.state_schema; its names are importable from here too
    "AUTOMATED_WITHIN_SECONDS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SQLITE_HEADER",
    "RunRecord",
    "State",
]

log = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"
AUTOMATED_WITHIN_SECONDS = 30  # a click this soon after delivery is a mail gateway's scan


@dataclass(frozen=True)
class RunRecord:
    """One run as the state knows it."""

    run_id: str
    as_of: date
    status: str  # rendered | approved
    hashes: dict[str, str]
    rendered_at: str  # UTC, ISO 8601
    approved_at: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class State:
    """An open state database. Use `State.open(path)`, preferably as a context manager."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: Path, *, timeout: float = 5.0) -> State:
        """Open (or create) the state at `path`, check it and migrate it to the current schema."""
        _refuse_foreign_file(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StateError(f"cannot create the folder for the state database {path}: {error.strerror}") from error
        try:
            conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        except sqlite3.Error as error:
            raise StateError(f"cannot open the state database {path}: {error}") from error
        state = cls(path, conn)
        try:
            state._prepare(timeout)
        except BaseException:
            conn.close()
            raise
        return state

    def _prepare(self, timeout: float) -> None:
        with self._mapped():
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            check = [r[0] for r in self._conn.execute("PRAGMA quick_check").fetchall()]
            if check != ["ok"]:
                raise StateError(
                    self._corrupt_message(),
                ) from None
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if version == 0 and tables:
                raise StateError(f"{self.path} is a SQLite database of something else, not a Windstil state database")
            if version > SCHEMA_VERSION:
                raise StateError(
                    f"{self.path} has schema version {version}, newer than this Windstil knows "
                    f"({SCHEMA_VERSION}); upgrade Windstil"
                )
            self._conn.execute("PRAGMA foreign_keys = ON")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.debug("state: journal mode is %s, not WAL", mode)
        self._migrate()

    def _migrate(self) -> None:
        with self._write() as conn:
            # Read inside the write lock: another process may have migrated in the meantime.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step]:
                    conn.execute(statement)
                log.info("state: migrated %s to schema version %d", self.path, step + 1)
            if version < SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _corrupt_message(self) -> str:
        return f"{self.path} is not a Windstil state database (integrity check failed); it was left untouched"

    def close(self) -> None:
        """Close the database."""
        self._conn.close()

    def __enter__(self) -> State:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- plumbing

    @contextmanager
    def _mapped(self) -> Iterator[None]:
        """Turn sqlite3 errors into StateErrors that say what to do."""
        try:
            yield
        except sqlite3.OperationalError as error:
            text = str(error).lower()
            if "locked" in text or "busy" in text:
                raise StateError(
                    f"the state database {self.path} is locked by another Windstil process "
                    "(a run, approve or import still busy?); try again when it has finished"
                ) from error
            if "not a database" in text or "malformed" in text:
                raise StateError(self._corrupt_message()) from error
            raise StateError(f"state database {self.path}: {error}") from error
        except sqlite3.DatabaseError as error:
            text = str(error).lower()
            if "not a database" in text or "malformed" in text or "corrupt" in text:
                raise StateError(self._corrupt_message()) from error
            raise StateError(f"state database {self.path}: {error}") from error

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Run the block as one transaction: all of it is committed, or none of it."""
        with self._mapped():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._mapped():
            cursor = self._conn.execute(sql, params)
            cursor.row_factory = sqlite3.Row
            return cursor.fetchall()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """Return a write transaction for a module that keeps its own table (the outbox, pipeline/mail)."""
        return self._write()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Return the rows of a read-only query, its errors mapped like every other state access."""
        return self._read(sql, params)

    @property
    def schema_version(self) -> int:
        """Return the schema version of the open database."""
        return int(self._read("PRAGMA user_version")[0][0])

    # ----------------------------------------------------------------- runs

    def record_run(self, run_id: str, as_of: date, hashes: dict[str, str]) -> None:
        """Record a rendered run (status `rendered`), replacing the record of an earlier render."""
        with self._write() as conn:
            conn.execute(
                """INSERT INTO runs (run_id, as_of, status, hashes, rendered_at)
                   VALUES (?, ?, 'rendered', ?, ?)
                   ON CONFLICT (run_id) DO UPDATE SET
                     as_of = excluded.as_of, status = 'rendered',
                     hashes = excluded.hashes, rendered_at = excluded.rendered_at""",
                (run_id, as_of.isoformat(), json.dumps(hashes, sort_keys=True), _now()),
            )

    def run_status(self, run_id: str) -> str | None:
        """Return `rendered` or `approved` for a known run, None for an unknown one."""
        rows = self._read("SELECT status FROM runs WHERE run_id = ?", (run_id,))
        return str(rows[0]["status"]) if rows else None

    def runs(self) -> list[RunRecord]:
        """Return every recorded run, oldest first."""
        return [self._run(r) for r in self._read("SELECT * FROM runs ORDER BY run_id")]

    def latest_run_before(self, run_id: str, *, approved_only: bool = False) -> RunRecord | None:
        """Return the latest run before `run_id` (run ids are ISO dates), or None."""
        status = " AND status = 'approved'" if approved_only else ""
        rows = self._read(
            f"SELECT * FROM runs WHERE run_id < ?{status} ORDER BY run_id DESC LIMIT 1",  # noqa: S608 (fixed text)
            (run_id,),
        )
        return self._run(rows[0]) if rows else None

    def delete_run(self, run_id: str) -> bool:
        """Forget a run that was not approved; refuse an approved one. Return whether it existed."""
        with self._write() as conn:
            row = conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                return False
            if row[0] == "approved":
                raise StateError(f"run {run_id} is approved: its deliveries count as sent and stay recorded")
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            return True

    @staticmethod
    def _run(row: sqlite3.Row) -> RunRecord:
        return RunRecord(
            run_id=row["run_id"],
            as_of=date.fromisoformat(row["as_of"]),
            status=row["status"],
            hashes=json.loads(row["hashes"]),
            rendered_at=row["rendered_at"],
            approved_at=row["approved_at"],
        )

    # ----------------------------------------------------------------- deliveries

    def approve_run(self, run_id: str, deliveries: Sequence[Delivery],
                    accepted: dict[str, int] | None = None) -> int:
        """Mark the run approved and record its deliveries in one transaction; return how many are new.

        A delivery whose (contact, kind, month) is already recorded is skipped: no run, re-run or
        approval can count a second newsletter for a contact in one month. `accepted` holds the
        checks the reviewer accepted despite their errors, with the number of errors each had.
        """
        added = 0
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
                raise StateError(f"run {run_id} is not in the state: render it with `windstil run` first")
            for check_code, errors in sorted((accepted or {}).items()):
                conn.execute(
                    """INSERT INTO accepted_checks (run_id, check_code, errors, accepted_at) VALUES (?, ?, ?, ?)
                       ON CONFLICT (run_id, check_code) DO UPDATE SET
                         errors = excluded.errors, accepted_at = excluded.accepted_at""",
                    (run_id, check_code, errors, _now()),
                )
            for delivery in deliveries:
                if delivery.run_id != run_id:
                    raise StateError(
                        f"delivery for {delivery.contact_id} belongs to run {delivery.run_id}, not {run_id}"
                    )
                cursor = conn.execute(
                    """INSERT OR IGNORE INTO deliveries
                       (run_id, contact_id, kind, month, as_of, item_ids, message_id)
                       VALUES (?, ?, ?, ?, ?, ?, ?)""",
                    (
                        run_id,
                        delivery.contact_id,
                        delivery.kind.value,
                        delivery.month,
                        delivery.as_of.isoformat(),
                        json.dumps(list(delivery.item_ids)),
                        delivery.message_id,
                    ),
                )
                added += cursor.rowcount
            conn.execute(
                "UPDATE runs SET status = 'approved', approved_at = ? WHERE run_id = ?",
                (_now(), run_id),
            )
        return added

    def accepted_checks(self, run_id: str) -> dict[str, int]:
        """Return the checks accepted with a run's approval, with the number of errors each had."""
        rows = self._read("SELECT check_code, errors FROM accepted_checks WHERE run_id = ? ORDER BY check_code",
                          (run_id,))
        return {str(r["check_code"]): int(r["errors"]) for r in rows}

    # ----------------------------------------------------------------- spam scores

    def spam_scores(self) -> dict[str, SpamResult]:
        """Return every cached SpamAssassin score by message content hash."""
        rows = self._read("SELECT content_hash, score, rules FROM spam_scores")
        return {str(r["content_hash"]): SpamResult(float(r["score"]), tuple(json.loads(r["rules"]))) for r in rows}

    def add_spam_scores(self, scores: dict[str, SpamResult]) -> None:
        """Keep SpamAssassin scores by content hash, for later runs of the same messages."""
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO spam_scores (content_hash, score, rules, scored_at) VALUES (?, ?, ?, ?)",
                [(digest, result.score, json.dumps(list(result.rules)), _now()) for digest, result in scores.items()],
            )

    def deliveries(self, approved_only: bool = True) -> list[Delivery]:
        """Return the recorded deliveries, oldest first.

        Deliveries are only recorded on approval, so every one counts as sent; with
        `approved_only` those of a run that was re-rendered since (status back to rendered)
        are still returned, because they were sent.
        """
        del approved_only  # every recorded delivery was approved when it was recorded
        rows = self._read("SELECT * FROM deliveries ORDER BY as_of, contact_id, kind")
        return [delivery_from_row(r) for r in rows]

    # ----------------------------------------------------------------- segmentations

    def freeze_segmentation(self, seg: Segmentation) -> None:
        """Store the segmentation as final; later runs use the latest frozen one."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO segmentations (as_of, frozen_at, customers, moves, warnings) VALUES (?, ?, ?, ?, ?)",
                (
                    seg.as_of.isoformat(),
                    _now(),
                    json.dumps([customer_value_to_json(r) for r in seg.customers.values()], ensure_ascii=False),
                    json.dumps(
                        [[m.customer_id, m.name, m.before.value, m.after.value, m.explanation] for m in seg.moves],
                        ensure_ascii=False,
                    ),
                    json.dumps(list(seg.warnings), ensure_ascii=False),
                ),
            )

    def latest_frozen_segmentation(self, on_or_before: date | None = None) -> Segmentation | None:
        """Return the frozen segmentation with the latest as-of date (not after `on_or_before`)."""
        where, params = ("WHERE as_of <= ?", (on_or_before.isoformat(),)) if on_or_before else ("", ())
        rows = self._read(
            f"SELECT * FROM segmentations {where} ORDER BY as_of DESC, id DESC LIMIT 1",  # noqa: S608 (fixed text)
            params,
        )
        if not rows:
            return None
        row = rows[0]
        try:
            customers = [customer_value_from_json(obj) for obj in json.loads(row["customers"])]
            moves = tuple(
                SegmentMove(customer_id=c, name=n, before=Segment(b), after=Segment(a), explanation=e)
                for c, n, b, a, e in json.loads(row["moves"])
            )
            warnings = tuple(json.loads(row["warnings"]))
        except (ValueError, KeyError, TypeError) as error:
            raise StateError(
                f"{self.path}: frozen segmentation {row['id']} of {row['as_of']} cannot be read ({error}); "
                "freeze a new one with `windstil segment --freeze`"
            ) from error
        return Segmentation(
            as_of=date.fromisoformat(row["as_of"]),
            customers={c.customer_id: c for c in customers},
            frozen_at=datetime.fromisoformat(row["frozen_at"]).date(),
            moves=moves,
            warnings=warnings,
        )

    # ----------------------------------------------------------------- interactions

    def add_interactions(self, items: Iterable[Interaction], source_key: str) -> tuple[int, int]:
        """Record interactions (e.g. imported call outcomes); return (added, duplicates).

        Idempotent: an interaction equal to one recorded before (same customer, contact, date,
        channel, levels and note) counts as a duplicate, so importing a file twice adds nothing.
        """
        added = duplicates = 0
        now = _now()
        with self._write() as conn:
            for item in items:
                columns = interaction_columns(item)
                cursor = conn.execute(
                    """INSERT OR IGNORE INTO interactions
                       (fingerprint, source_key, customer_id, contact_id, date, channel,
                        our_level, their_level, note, source, imported_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (interaction_fingerprint(columns), source_key, *columns, item.source, now),
                )
                if cursor.rowcount:
                    added += 1
                else:
                    duplicates += 1
        return added, duplicates

    def interactions(self) -> list[Interaction]:
        """Return the recorded interactions, by date."""
        rows = self._read("SELECT * FROM interactions ORDER BY date, customer_id, id")
        return [
            Interaction(
                customer_id=r["customer_id"],
                date=date.fromisoformat(r["date"]),
                contact_id=r["contact_id"],
                channel=Channel(r["channel"]) if r["channel"] else None,
                our_level=OurLevel(r["our_level"]) if r["our_level"] else None,
                their_level=Level(r["their_level"]) if r["their_level"] else None,
                note=r["note"],
                source=r["source"],
            )
            for r in rows
        ]

    # ----------------------------------------------------------------- suppressions

    def add_suppressions(self, items: Iterable[Suppression], *, unsubscribes: bool = False) -> tuple[int, int]:
        """Record addresses never to e-mail again; return (added, already known).

        `unsubscribes`: each address added (not one suppressed already, by a bounce or an
        unsubscribe through the endpoint) is also an unsubscribe, recorded as the endpoint
        records one, on the suppression's date, so that the review site counts it once.
        """
        added = known = 0
        with self._write() as conn:
            for item in items:
                email = suppression_key(item.email)
                before = conn.total_changes
                self._suppress(conn, item)
                if conn.total_changes == before:
                    known += 1
                    continue
                added += 1
                if unsubscribes:
                    day = datetime.combine(item.date or date.today(), time(), tzinfo=UTC)
                    self._insert_event(conn, FeedbackEvent(FeedbackKind.UNSUBSCRIBE, f"unsubscribe:import:{email}", day,
                                                           item.source, email=email, detail=item.reason))
        return added, known

    def suppressions(self) -> list[Suppression]:
        """Return the suppressed addresses recorded in the state, by address."""
        return [
            Suppression(
                email=r["email"],
                reason=r["reason"],
                date=date.fromisoformat(r["date"]) if r["date"] else None,
                source=r["source"],
            )
            for r in self._read("SELECT * FROM suppressions ORDER BY email")
        ]

    def suppressions_added_since(self, moment: str) -> list[Suppression]:
        """Return the suppressions recorded at or after `moment` (UTC, ISO 8601 as in `RunRecord`)."""
        return [
            Suppression(
                email=r["email"],
                reason=r["reason"],
                date=date.fromisoformat(r["date"]) if r["date"] else None,
                source=r["source"],
            )
            for r in self._read("SELECT * FROM suppressions WHERE added_at >= ? ORDER BY email", (moment,))
        ]

    # ----------------------------------------------------------------- address checks

    def address_checks(self, validator: str) -> dict[str, str | None]:
        """Return the addresses checked by this `validator` version: as given -> normalised (None: invalid)."""
        return dict(zip(*self.address_check_columns(validator), strict=True))

    def address_check_columns(self, validator: str) -> tuple[list[str], list[str | None]]:
        """Return the addresses checked by this `validator` version: the addresses as given, and each one's outcome.

        SQLite gathers each column into one JSON array (in C, the interpreter let go), not a tuple per row.
        """
        sql = "SELECT json_group_array(address), json_group_array(normalised) FROM address_checks WHERE validator = ?"
        with self._mapped():
            addresses, outcomes = self._conn.execute(sql, (validator,)).fetchone()
            return json.loads(addresses), json.loads(outcomes)

    def remember_address_checks(self, validator: str, checks: Mapping[str, str | None]) -> None:
        """Record checked addresses; the checks of any other validator version are forgotten."""
        with self._write() as conn:
            conn.execute("DELETE FROM address_checks WHERE validator != ?", (validator,))
            conn.executemany(
                "INSERT OR REPLACE INTO address_checks (address, normalised, validator) VALUES (?, ?, ?)",
                ((address, normalised, validator) for address, normalised in checks.items()),
            )

    # ----------------------------------------------------------------- feedback

    def record_unsubscribe(self, event: FeedbackEvent, reason: str) -> bool:
        """Suppress the event's address and record the unsubscribe in one transaction; return whether it is new.

        The event key names the address and the list, so the same link clicked twice is a no-op.
        """
        with self._write() as conn:
            added = self._insert_event(conn, event)
            if added:
                self._suppress(conn, Suppression(event.email, reason, event.at.date(), event.source))
        return added

    def record_click(self, event: FeedbackEvent, burst_seconds: float = 2.0) -> FeedbackEvent:
        """Record a click in one transaction; mark it and its burst automated; return it as recorded.

        A link scanner opens every link of a message at once: a click on another item of the same
        message (contact and run) within `burst_seconds` marks both clicks automated; so does a
        click within AUTOMATED_WITHIN_SECONDS of the message's delivery (the outbox's sent time).
        """
        with self._write() as conn:
            # Times are stored as UTC ISO strings of one fixed form, so they compare as text.
            window = timedelta(seconds=burst_seconds)
            burst = conn.execute(
                """SELECT id FROM feedback WHERE kind = 'click' AND contact_id = ? AND run_id = ?
                   AND item_id != ? AND at BETWEEN ? AND ?""",
                (
                    event.contact_id,
                    event.run_id,
                    event.item_id,
                    moment_text(event.at - window),
                    moment_text(event.at + window),
                ),
            ).fetchall()
            # Within seconds of delivery nobody has read the message yet: a gateway scans it.
            sent = conn.execute(
                """SELECT max(sent_at) FROM outbox WHERE contact_id = ? AND run_id = ?
                   AND kind IN ('newsletter', 'alert') AND status = 'sent'""",
                (event.contact_id, event.run_id),
            ).fetchone()[0]
            early = sent is not None and event.at.timestamp() - float(sent) < AUTOMATED_WITHIN_SECONDS
            if burst:
                conn.executemany("UPDATE feedback SET automated = 1 WHERE id = ?", burst)
            if burst or early:
                event = FeedbackEvent(**{**event_fields(event), "automated": True})
            self._insert_event(conn, event)
        return event

    def record_mail(
        self, mail_key: str, kind: str, events: Sequence[FeedbackEvent], suppressions: Sequence[Suppression] = ()
    ) -> bool:
        """Record one mail read back, its events and suppressions, in one transaction; False if seen before.

        A soft bounce that makes SOFT_BOUNCES_IN_A_ROW temporary failures in a row for its
        address (no hard bounce, reply or click in between) suppresses the address as `soft_bounce`.
        """
        with self._write() as conn:
            seen = conn.execute(
                "INSERT OR IGNORE INTO mail_seen (mail_key, kind, seen_at) VALUES (?, ?, ?)", (mail_key, kind, _now())
            )
            if not seen.rowcount:
                return False
            for event in events:
                self._insert_event(conn, event)
            for item in suppressions:
                self._suppress(conn, item)
            for event in events:
                if event.kind is FeedbackKind.HARD_BOUNCE:
                    self._fail_in_outbox(conn, event)
            for event in events:
                soft = event.kind is FeedbackKind.SOFT_BOUNCE and event.email
                if soft and self._soft_streak(conn, event.email) >= SOFT_BOUNCES_IN_A_ROW:
                    reason = f"soft_bounce: {SOFT_BOUNCES_IN_A_ROW} temporary failures in a row"
                    self._suppress(conn, Suppression(event.email, reason, event.at.date(), event.source))
        return True

    def remember_mails(self, mail_keys: Iterable[str], kind: str) -> None:
        """Remember further keys of mails already recorded (an IMAP folder's UIDs), in one transaction."""
        now = _now()
        with self._write() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO mail_seen (mail_key, kind, seen_at) VALUES (?, ?, ?)",
                [(key, kind, now) for key in mail_keys],
            )

    def mail_seen(self, mail_key: str) -> bool:
        """Say whether a mail with this key was read back before."""
        return bool(self._read("SELECT 1 FROM mail_seen WHERE mail_key = ?", (mail_key,)))

    def feedback(self, kinds: Iterable[FeedbackKind] = (), since: datetime | None = None) -> list[FeedbackEvent]:
        """Return the recorded feedback events (of `kinds`, at or after `since`), oldest first."""
        names = [k.value for k in kinds] or [k.value for k in FeedbackKind]
        marks = ", ".join("?" for _ in names)
        moment = moment_text(since) if since else ""
        rows = self._read(
            f"SELECT * FROM feedback WHERE kind IN ({marks}) AND at >= ? ORDER BY at, id",  # noqa: S608 (only ?s)
            (*names, moment),
        )
        return [
            FeedbackEvent(
                kind=FeedbackKind(r["kind"]),
                event_key=r["event_key"],
                at=datetime.fromisoformat(r["at"]),
                source=r["source"],
                email=r["email"],
                contact_id=r["contact_id"],
                run_id=r["run_id"],
                item_id=r["item_id"],
                message_id=r["message_id"],
                detail=r["detail"],
                automated=bool(r["automated"]),
            )
            for r in rows
        ]

    def delivery_by_message_id(self, message_id: str) -> Delivery | None:
        """Return the approved delivery whose Message-ID is `message_id` (with or without <>), or None."""
        bare = message_id.strip().strip("<>")
        if not bare:
            return None
        rows = self._read("SELECT * FROM deliveries WHERE message_id = ? LIMIT 1", (f"<{bare}>",))
        if not rows:
            return None
        return delivery_from_row(rows[0])

    @staticmethod
    def _insert_event(conn: sqlite3.Connection, event: FeedbackEvent) -> bool:
        cursor = conn.execute(
            """INSERT OR IGNORE INTO feedback (kind, event_key, email, contact_id, run_id, item_id,
                 message_id, at, detail, automated, source, recorded_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                event.kind.value,
                event.event_key,
                event.email.strip().lower(),
                event.contact_id,
                event.run_id,
                event.item_id,
                event.message_id,
                moment_text(event.at),
                event.detail,
                int(event.automated),
                event.source,
                _now(),
            ),
        )
        return bool(cursor.rowcount)

    @staticmethod
    def _suppress(conn: sqlite3.Connection, item: Suppression) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO suppressions (email, reason, date, source, added_at) VALUES (?, ?, ?, ?, ?)",
            (
                suppression_key(item.email),
                item.reason,
                item.date.isoformat() if item.date else None,
                item.source,
                _now(),
            ),
        )

    @staticmethod
    def _fail_in_outbox(conn: sqlite3.Connection, event: FeedbackEvent) -> None:
        """Mark the bounced message `failed` in the outbox: by its Message-ID, else the latest one sent to the address.

        The server accepted it (`sent`), the recipient's server refused it later: the outbox
        then says what became of it.
        """
        reply = f"bounce: {event.detail}"[:300]
        if event.message_id:
            cursor = conn.execute(
                "UPDATE outbox SET status = 'failed', last_reply = ?, updated = ? "
                "WHERE message_id = ? AND status IN ('sent', 'uncertain')",
                (reply, _now(), event.message_id),
            )
            if cursor.rowcount:
                return
        conn.execute(
            """UPDATE outbox SET status = 'failed', last_reply = ?, updated = ? WHERE id = (
                 SELECT id FROM outbox WHERE lower(recipient) = ? AND status IN ('sent', 'uncertain')
                 ORDER BY sent_at DESC LIMIT 1)""",
            (reply, _now(), event.email.strip().lower()),
        )

    @staticmethod
    def _soft_streak(conn: sqlite3.Connection, email: str) -> int:
        """Count the address's latest soft bounces (one per message) before any other sign of a working mailbox."""
        rows = conn.execute(
            """SELECT kind, message_id, event_key FROM feedback WHERE email = ?
               AND kind IN ('soft_bounce', 'hard_bounce', 'reply', 'click') ORDER BY at DESC, id DESC""",
            (email.strip().lower(),),
        ).fetchall()
        messages: set[str] = set()
        for kind, message_id, key in rows:
            if kind != "soft_bounce":
                break
            messages.add(message_id or key)
        return len(messages)

    # ----------------------------------------------------------------- checks

    def check(self) -> list[str]:
        """Return integrity problems (empty when the database is sound)."""
        problems: list[str] = []
        for (line,) in self._read("PRAGMA integrity_check"):
            if line != "ok":
                problems.append(f"integrity: {line}")
        for row in self._read("PRAGMA foreign_key_check"):
            problems.append(f"foreign key: {row[0]} row {row[1]} points to a missing {row[2]}")
        if (version := self.schema_version) != SCHEMA_VERSION:
            problems.append(f"schema version {version}, expected {SCHEMA_VERSION}")
        for row in self._read("SELECT run_id FROM runs WHERE status = 'approved' AND approved_at IS NULL"):
            problems.append(f"run {row[0]} is approved without an approval time")
        for row in self._read(
            "SELECT contact_id, kind, month, as_of FROM deliveries WHERE month != substr(as_of, 1, 7)"
        ):
            problems.append(f"delivery {row[0]}/{row[1]}: month {row[2]} does not match as-of {row[3]}")
        for row in self._read("SELECT id, as_of, customers, moves, warnings FROM segmentations"):
            try:
                for obj in json.loads(row["customers"]):
                    customer_value_from_json(obj)
                json.loads(row["moves"])
                json.loads(row["warnings"])
            except (ValueError, KeyError, TypeError) as error:
                problems.append(f"frozen segmentation {row['id']} of {row['as_of']} is unreadable: {error}")
        return problems


def _refuse_foreign_file(path: Path) -> None:
    """Refuse, before SQLite touches it, a file that is not a SQLite database at all."""
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except IsADirectoryError as error:
        raise StateError(f"{path} is a folder, not a Windstil state database") from error
    except OSError as error:
        raise StateError(f"cannot read the state database {path}: {error.strerror}") from error
    if header and header != SQLITE_HEADER:
        raise StateError(f"{path} is not a Windstil state database (integrity check failed); it was left untouched")
