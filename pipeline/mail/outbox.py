"""The outbox: one row per message of an approved run, and where its delivery stands.

A mail queue in the state database. Every status change is its own committed transaction, so
whatever kills the sending process, the outbox says what happened up to that moment:

- `queued`    waiting to be sent;
- `sending`   handed to an SMTP connection (committed before the transaction starts);
- `sent`      the server accepted it (its reply and the time are kept);
- `deferred`  a 4xx reply, or the connection broke before the message data was complete:
              tried again after a back-off, up to `max_attempts`;
- `failed`    a 5xx reply (for the recipient: the address is suppressed as `hard_bounce`),
              or still 4xx after `max_attempts`;
- `uncertain` the connection broke after the message data was sent, before the server's
              reply, or the process died while the row was `sending`: it may have arrived,
              so it is never resent without being asked to;
- `skipped`   the address was suppressed (unsubscribe, bounce) after the run was approved.

`UNIQUE (contact_id, kind, month)` in the table makes a second copy of a contact's newsletter
in the same month impossible, whichever run or re-run it would come from.

Durability without one disk flush per message: rows are *reserved* (`sending`, stage 1) a few
at a time in a transaction that is flushed to disk (synchronous FULL). Right before the last
line of a message's data goes out, its row is marked stage 2 in a transaction that reaches
the operating system but is not flushed (synchronous NORMAL): that survives the death of the
process, not a power cut. So at start-up a `sending` row is `uncertain` when it reached
stage 2, or when the machine has rebooted since it was reserved (the kernel's boot id
differs: the unflushed marks may be lost); a stage-1 row of the same boot never had its data
ended and goes back to `queued`. A kill -9 leaves at most `connections` uncertain messages; a
power cut at most the reserved ones. Nothing that may have arrived is ever sent again.
"""

from __future__ import annotations

import enum
import logging
import sqlite3
import time
from collections.abc import Collection, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from pipeline.csvinput import suppression_key
from pipeline.models import Suppression
from pipeline.state import State

log = logging.getLogger(__name__)


class Status(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    SKIPPED = "skipped"


# Statuses whose message may have reached the server: they count for the pacing windows.
COUNTED = (Status.SENT, Status.UNCERTAIN)
# Statuses no send changes again: the message went, or never will.
FINAL = (Status.SENT, Status.FAILED, Status.SKIPPED)


@dataclass(frozen=True, slots=True)
class PlannedMessage:
    """A message of an approved run, as found in its folder, before it is queued."""

    contact_id: str  # for `calls`, the account manager's id
    kind: str  # newsletter | alert | calls
    month: str  # YYYY-MM of the run's as-of date
    message_id: str
    recipient: str  # the address in To, lower-cased
    path: str  # the .eml, relative to the run folder


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One message in the outbox."""

    id: int
    run_id: str
    contact_id: str
    kind: str
    month: str
    message_id: str
    recipient: str
    path: str
    status: Status
    attempts: int
    next_attempt: float  # epoch seconds
    last_reply: str
    sent_at: float | None  # epoch seconds of the accepting (or possibly accepting) transaction
    updated: str  # UTC, ISO 8601
    stage: int = 0  # while sending: 1 reserved, 2 the data's last line may have gone out
    boot: str = ""  # the kernel's boot id when it was reserved


def iso(moment: float) -> str:
    """Return epoch seconds as UTC ISO 8601, to the second."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


class Outbox:
    """The outbox rows of one run, and the pacing counts over all runs."""

    def __init__(self, state: State, run_id: str) -> None:
        self.state = state
        self.run_id = run_id
        # Outcomes not yet committed: the next claim commits them in its own transaction (one
        # fsync a message instead of two), or flush() does when no claim follows at once.
        self._unwritten: list[tuple[str, tuple[object, ...]]] = []
        self._durable = True  # the state's own setting (synchronous FULL)

    # ----------------------------------------------------------------- filling

    def enqueue(self, messages: Iterable[PlannedMessage], now: float) -> tuple[int, list[OutboxRow]]:
        """Queue the run's messages once; return how many are new, and the rows another run holds.

        A message whose (contact, kind, month) is in the outbox already, from this run (a
        second `send`) or another one (a re-run in the same month), is not queued again.
        """
        planned = list(messages)
        stamp = iso(now)
        with self.state.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                """INSERT INTO outbox (run_id, contact_id, kind, month, message_id, recipient, path, updated)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (contact_id, kind, month) DO NOTHING""",
                [(self.run_id, m.contact_id, m.kind, m.month, m.message_id, m.recipient, m.path, stamp)
                 for m in planned],
            )
            added = conn.total_changes - before
        if added == len(planned):
            return added, []
        keys = {(m.contact_id, m.kind, m.month) for m in planned}
        others = [
            row
            for month in sorted({m.month for m in planned})
            for row in self._rows("month = ? AND run_id != ?", (month, self.run_id))
            if (row.contact_id, row.kind, row.month) in keys
        ]
        return added, others

    def recover_interrupted(self, now: float) -> tuple[list[OutboxRow], int]:
        """Settle the `sending` rows a dead process left: return the ones now `uncertain`, and how many were requeued.

        Called under the project lock, so no other `send` is alive. A row whose data was
        ended (stage 2), or any row after a reboot, may have been delivered: `uncertain`. A
        reserved row of this boot (stage 1) never got its data's last line: `queued` again.
        """
        boot = boot_id()
        rows = self._rows("status = 'sending'", ())
        uncertain = [r for r in rows if r.stage >= 2 or not boot or r.boot != boot]
        requeued = [r for r in rows if r not in uncertain]
        if rows:
            with self._transaction(durable=True) as conn:
                for r in uncertain:
                    conn.execute(
                        """UPDATE outbox SET status = 'uncertain', updated = ?, sent_at = coalesce(sent_at, ?),
                           last_reply = 'interrupted during the SMTP transaction; it may have been delivered'
                           WHERE id = ?""",
                        (iso(now), now, r.id),
                    )
                for r in requeued:
                    conn.execute("UPDATE outbox SET status = 'queued', stage = 0 WHERE id = ?", (r.id,))
        return uncertain, len(requeued)

    def withdraw(self, contact_ids: Collection[str]) -> tuple[int, list[tuple[str, str, str]]]:
        """Take the contacts' messages out of the approved run, unless one is on its way; return what happened.

        Returns (the deliveries withdrawn, the messages too late as (contact, kind, status)). A
        message `sending`, `sent` or `uncertain` may have arrived: then nothing changes at all.
        Otherwise, in one transaction, the contacts' deliveries of the run are deleted (they no
        longer count as sent) and their messages waiting in the outbox become `skipped`.
        """
        ids = sorted(set(contact_ids))
        among = f"run_id = ? AND contact_id IN ({', '.join('?' for _ in ids)})"  # placeholders only
        on_its_way = (Status.SENDING, *COUNTED)
        waiting = (Status.QUEUED, Status.DEFERRED)
        with self.state.transaction() as conn:
            rows = conn.execute(f"SELECT contact_id, kind, status FROM outbox WHERE {among}", (self.run_id, *ids))  # noqa: S608
            too_late = sorted((r[0], r[1], r[2]) for r in rows if r[2] in on_its_way)
            if too_late:
                return 0, too_late
            withdrawn = conn.execute(f"DELETE FROM deliveries WHERE {among}", (self.run_id, *ids)).rowcount  # noqa: S608
            conn.execute(
                f"UPDATE outbox SET status = ?, last_reply = ?, updated = ? WHERE {among} "  # noqa: S608
                f"AND status IN ({', '.join('?' for _ in waiting)})",
                (Status.SKIPPED, "excluded by the reviewer after the approval", iso(time.time()), self.run_id, *ids,
                 *waiting),
            )
        return withdrawn, too_late

    def requeue_uncertain(self, now: float, message_ids: Collection[str] | None = None) -> int:
        """Queue this run's `uncertain` messages again (those of `message_ids`, when given); return how many."""
        with self.state.transaction() as conn:
            if message_ids is None:
                cursor = conn.execute(
                    "UPDATE outbox SET status = 'queued', next_attempt = 0, updated = ? "
                    "WHERE run_id = ? AND status = 'uncertain'",
                    (iso(now), self.run_id),
                )
                return cursor.rowcount
            cursor = conn.executemany(
                "UPDATE outbox SET status = 'queued', next_attempt = 0, updated = ? "
                "WHERE run_id = ? AND status = 'uncertain' AND message_id = ?",
                [(iso(now), self.run_id, message_id) for message_id in message_ids],
            )
            return cursor.rowcount

    # ----------------------------------------------------------------- sending

    def reserve(self, now: float, suppressed: Collection[str], count: int) -> tuple[list[OutboxRow], list[OutboxRow]]:
        """Reserve the next `count` due messages (flushed to disk); return them, and those skipped as suppressed.

        Suppressions are read again here and in `begin()`, right before each message:
        `suppressed` holds the addresses of data/suppressions.csv, the state's table is
        queried, so an unsubscribe or bounce recorded a moment ago is honoured.
        """
        reserved: list[OutboxRow] = []
        skipped: list[OutboxRow] = []
        boot = boot_id()
        with self._transaction(durable=True) as conn:
            self._write_outcomes(conn)
            cursor = conn.execute(
                """SELECT * FROM outbox WHERE run_id = ? AND status IN ('queued', 'deferred')
                   AND next_attempt <= ? ORDER BY id LIMIT ?""",
                (self.run_id, now, count),
            )
            cursor.row_factory = sqlite3.Row
            for found in cursor.fetchall():
                row = _row(found)
                reason = _suppressed(conn, row.recipient, suppressed)
                if reason is None:
                    conn.execute(
                        "UPDATE outbox SET status = 'sending', stage = 1, boot = ?, updated = ? WHERE id = ?",
                        (boot, iso(now), row.id),
                    )
                    reserved.append(row)
                else:
                    self._skip(conn, row, reason, now)
                    skipped.append(row)
        return reserved, skipped

    def begin(self, row: OutboxRow, now: float, suppressed: Collection[str]) -> str | None:
        """Mark a reserved row as having its data ended (stage 2); return None, or why it is skipped instead.

        Committed with the outcomes recorded so far, without a disk flush (see the module
        docstring): it only has to outlive the process, which it does once committed.
        """
        with self._transaction(durable=False) as conn:
            self._write_outcomes(conn)
            reason = _suppressed(conn, row.recipient, suppressed)
            if reason is not None:
                self._skip(conn, row, reason, now)
                return reason
            conn.execute(
                "UPDATE outbox SET stage = 2, attempts = attempts + 1, updated = ? WHERE id = ?",
                (iso(now), row.id),
            )
            return None

    def release(self, rows: Collection[OutboxRow]) -> None:
        """Put reserved rows that were not started back in the queue, and commit everything to disk."""
        with self._transaction(durable=True) as conn:
            self._write_outcomes(conn)
            for row in rows:
                conn.execute("UPDATE outbox SET status = 'queued', stage = 0 WHERE id = ? AND stage = 1", (row.id,))

    @staticmethod
    def _skip(conn: sqlite3.Connection, row: OutboxRow, reason: str, now: float) -> None:
        conn.execute(
            "UPDATE outbox SET status = 'skipped', stage = 0, last_reply = ?, updated = ? WHERE id = ?",
            (reason, iso(now), row.id),
        )

    def _transaction(self, *, durable: bool) -> AbstractContextManager[sqlite3.Connection]:
        # synchronous applies to the next commit; FULL also flushes every earlier unflushed one.
        if durable is not self._durable:
            self.state.query(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            self._durable = durable
        return self.state.transaction()

    def finish(
        self,
        row: OutboxRow,
        status: Status,
        reply: str,
        now: float,
        *,
        next_attempt: float = 0.0,
        count_attempt: bool = True,
        suppress: Suppression | None = None,
    ) -> None:
        """Record the end of a message's SMTP transaction (and a hard bounce's suppression).

        It is committed with the next `begin()`, which follows at once, or by `flush()`. A
        crash in between leaves the row `sending` at stage 2: `uncertain`, never sent twice.
        """
        sent_at = now if status in COUNTED else None
        self._unwritten.append((
            """UPDATE outbox SET status = ?, last_reply = ?, updated = ?, next_attempt = ?,
               sent_at = coalesce(?, sent_at), attempts = attempts - ? WHERE id = ?""",
            (status.value, reply[:500], iso(now), next_attempt, sent_at, 0 if count_attempt else 1, row.id),
        ))
        if suppress is not None:
            self._unwritten.append((
                "INSERT OR IGNORE INTO suppressions (email, reason, date, source, added_at) VALUES (?, ?, ?, ?, ?)",
                (
                    suppression_key(suppress.email),
                    suppress.reason,
                    suppress.date.isoformat() if suppress.date else None,
                    suppress.source,
                    iso(now),
                ),
            ))

    def flush(self, *, durable: bool = False) -> None:
        """Commit the recorded outcomes that no `begin()` has committed yet (durable: flushed to disk)."""
        if self._unwritten or durable:
            with self._transaction(durable=durable) as conn:
                self._write_outcomes(conn)

    def _write_outcomes(self, conn: sqlite3.Connection) -> None:
        for sql, params in self._unwritten:
            conn.execute(sql, params)
        self._unwritten.clear()

    # ----------------------------------------------------------------- pacing

    def count_since(self, moment: float) -> int:
        """Return how many messages went out after `moment`, over all runs."""
        self.flush()
        rows = self.state.query(
            "SELECT count(*) FROM outbox WHERE sent_at > ? AND status IN ('sent', 'uncertain')", (moment,)
        )
        return int(rows[0][0])

    def nth_since(self, moment: float, index: int) -> float | None:
        """Return the send time of the `index`-th message (0-based) after `moment`, oldest first."""
        self.flush()
        rows = self.state.query(
            "SELECT sent_at FROM outbox WHERE sent_at > ? AND status IN ('sent', 'uncertain') "
            "ORDER BY sent_at LIMIT 1 OFFSET ?",
            (moment, index),
        )
        return float(rows[0][0]) if rows else None

    def next_deferred(self) -> float | None:
        """Return when the earliest deferred message of this run may be tried again."""
        self.flush()
        rows = self.state.query(
            "SELECT min(next_attempt) FROM outbox WHERE run_id = ? AND status IN ('queued', 'deferred')",
            (self.run_id,),
        )
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    # ----------------------------------------------------------------- reading

    def rows(self, status: Status | None = None) -> list[OutboxRow]:
        """Return the run's rows (those with `status`, when given) in sending order."""
        self.flush()
        if status is None:
            return self._rows("run_id = ?", (self.run_id,))
        return self._rows("run_id = ? AND status = ?", (self.run_id, status.value))

    def counts(self) -> dict[Status, int]:
        """Return how many of the run's messages have each status (every status present)."""
        self.flush()
        found = {
            Status(r[0]): int(r[1])
            for r in self.state.query("SELECT status, count(*) FROM outbox WHERE run_id = ? GROUP BY status",
                                      (self.run_id,))
        }
        return {status: found.get(status, 0) for status in Status}

    def _rows(self, where: str, params: tuple[object, ...]) -> list[OutboxRow]:
        rows = self.state.query(f"SELECT * FROM outbox WHERE {where} ORDER BY id", params)  # noqa: S608 (fixed text)
        return [_row(r) for r in rows]


def _row(r: sqlite3.Row) -> OutboxRow:
    return OutboxRow(
        id=int(r["id"]),
        run_id=r["run_id"],
        contact_id=r["contact_id"],
        kind=r["kind"],
        month=r["month"],
        message_id=r["message_id"],
        recipient=r["recipient"],
        path=r["path"],
        status=Status(r["status"]),
        attempts=int(r["attempts"]),
        next_attempt=float(r["next_attempt"]),
        last_reply=r["last_reply"],
        sent_at=None if r["sent_at"] is None else float(r["sent_at"]),
        updated=r["updated"],
        stage=int(r["stage"]),
        boot=r["boot"],
    )


def boot_id() -> str:
    """Return this boot's id (Linux), or "" where the system does not tell: then every crash counts as a reboot."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _suppressed(conn: sqlite3.Connection, recipient: str, suppressed: Collection[str]) -> str | None:
    """Return why `recipient` must not be mailed now, or None."""
    key = suppression_key(recipient)
    if key in suppressed:
        return "suppressed: listed in suppressions.csv"
    found = conn.execute("SELECT reason, source FROM suppressions WHERE email = ?", (key,)).fetchone()
    if found is None:
        return None
    reason, source = found
    return f"suppressed since the approval: {reason or 'unsubscribed'} ({source})"


def hard_bounce(recipient: str, run_id: str, today: date) -> Suppression:
    """Return the suppression a permanent refusal of `recipient` records (the reply stays on the outbox row)."""
    return Suppression(email=recipient, reason="hard_bounce", date=today, source=f"windstil send {run_id}")
