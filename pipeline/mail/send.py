"""`windstil send`: deliver an approved run through the outbox, paced, resumable, never twice.

The main thread owns the state: it reserves messages (see pipeline/mail/outbox.py), hands each
to an idle SMTP connection running in a worker thread, marks it as having its data ended
while the worker sends everything but the data's last line, and records the outcome when the
worker returns. At most `delivery.connections` messages are in an SMTP transaction at any
moment, so a kill -9 leaves at most that many `uncertain` messages.

Time comes from the `clock` and `sleep` arguments (default: the real ones), so the pacing and
the back-off can be tested against a real server without waiting minutes.

Ctrl+C (SIGINT) and SIGTERM (a scheduler's stop) stop the send the same way: no new message
is started, the ones in an SMTP transaction are finished and their outcome recorded, and
the send ends with the signal's exit code (130, 143). A message the server accepted is
`sent`, never left `uncertain` by a stop. Only a kill that gives no chance (kill -9, power
loss) leaves the messages in a transaction `uncertain`.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from email.utils import format_datetime, getaddresses
from pathlib import Path
from typing import Any

from pipeline.config import load_settings
from pipeline.csvinput import read_csv, suppression_key
from pipeline.errors import InputError, Problem, UsageError
from pipeline.lock import project_lock
from pipeline.mail.outbox import FINAL, Outbox, OutboxRow, PlannedMessage, Status, hard_bounce
from pipeline.mail.smtp import Outcome, Result, SmtpConnection, credentials_from
from pipeline.models import DeliverySettings, DkimSettings, MessageKind
from pipeline.state import State

log = logging.getLogger(__name__)

MINUTE, DAY = 60.0, 86400.0
BACKOFF = (60.0, 300.0, 900.0, 1800.0, 3600.0)  # seconds before the 2nd, 3rd, … attempt after a 4xx
THROTTLE_PAUSE = 60.0  # after the provider's "too many": one whole per-minute window
RESERVE = 64  # rows reserved (one disk flush) at once when pacing is off: a power cut leaves at most these uncertain
MAX_WAIT = 900.0  # wait in-process for a window or a retry up to 15 minutes; later: stop, exit 1
HEADER_BYTES = 65536  # the most of a message read to find its headers; the body is not read to plan
HEADER_CHUNK = 4096  # our headers fit in one such read
DKIM_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id", b"list-id", b"list-unsubscribe",
                b"list-unsubscribe-post")

Progress = Callable[[int, int], None]


@dataclass
class SendResult:
    """What one `windstil send` did, and where the run's delivery stands now."""

    run_id: str
    dry_run: bool = False
    queued_now: int = 0  # rows added to the outbox by this send
    due: int = 0  # messages this send set out to deliver
    done: Counter[Status] = field(default_factory=Counter)  # outcomes of this send
    counts: dict[Status, int] = field(default_factory=dict)  # the run's totals afterwards
    interrupted: list[OutboxRow] = field(default_factory=list)  # found `sending`: now `uncertain`
    uncertain: list[OutboxRow] = field(default_factory=list)  # the run's uncertain messages
    elsewhere: list[OutboxRow] = field(default_factory=list)  # this month's message went with another run
    stopped: str = ""  # why sending stopped before the work was done
    signal: int = 0  # the signal that stopped it (SIGINT, SIGTERM), 0: none
    server: str = ""

    @property
    def exit_code(self) -> int:
        """Return 0 when nothing is left to do, 1 when messages remain (queued after --limit, deferred or
        uncertain), 128+N after signal N."""
        if self.dry_run:
            return 0
        if self.signal:
            return 128 + self.signal
        left = sum(self.counts.get(status, 0) for status in (Status.QUEUED, Status.DEFERRED, Status.UNCERTAIN))
        return 1 if left or self.stopped else 0


def send_run(
    root: Path,
    run_id: str,
    *,
    limit: int | None = None,
    dry_run: bool = False,
    resend_uncertain: bool = False,
    resend: Collection[str] = (),
    progress: Progress | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    environ: Mapping[str, str] | None = None,
) -> SendResult:
    """Deliver the approved run `run_id` of the project at `root` (see the module docstring).

    `resend_uncertain`: queue every uncertain message of the run again; `resend`: only the
    uncertain messages with these Message-IDs (with or without the angle brackets).
    """
    try:
        as_of = date.fromisoformat(run_id)
    except ValueError:
        raise UsageError(f"{run_id!r} is not a run id (the run's as-of date, YYYY-MM-DD)") from None
    if resend_uncertain and resend:
        raise UsageError("--resend-uncertain sends every uncertain message again, --resend only those named: "
                         "give one of the two")
    settings = load_settings(root)
    delivery = settings.delivery
    if delivery is None:
        raise UsageError("settings.yaml has no delivery: block; add the SMTP server there (docs: Sending)")
    folder = settings.paths.output / run_id
    credentials = credentials_from(delivery, dict(os.environ if environ is None else environ))
    signer = DkimSigner(delivery.dkim) if delivery.dkim else None
    envelope_from = delivery.envelope_from or settings.sender_email
    suppressed = read_suppressions_csv(settings.paths.data / "suppressions.csv")
    with project_lock(settings.paths.output), State.open(settings.paths.state) as state:
        status = state.run_status(run_id)
        if status is None and not (folder / "manifest.json").is_file():
            raise UsageError(f"no run {run_id} in {settings.paths.output} (make it with "
                             f"`windstil run --as-of {run_id}`, review it, approve it, then send)")
        if status != "approved":
            shown = "not in the state" if status is None else f"{status}, not approved"
            raise UsageError(f"run {run_id} is {shown}: review it and `windstil approve {run_id}` before sending")
        planned = plan_messages(folder, state, run_id, as_of, suppressed)
        connections = [SmtpConnection(delivery, credentials) for _ in range(delivery.connections)]
        connections[0].open()  # a wrong password or host fails here, before anything is claimed
        result = SendResult(run_id=run_id, dry_run=dry_run, server=connections[0].where)
        outbox = Outbox(state, run_id)
        try:
            if dry_run:
                result.due = _dry_run_due(outbox, planned)
                return result
            now = clock()
            result.interrupted, requeued = outbox.recover_interrupted(now)
            if requeued:
                log.info("%d reserved message(s) of an interrupted send were not started: queued again", requeued)
            for row in result.interrupted:
                log.warning("%s %s to %s was interrupted mid-transaction: now uncertain", row.kind, row.contact_id,
                            row.recipient)
            result.queued_now, result.elsewhere = outbox.enqueue(planned, now)
            if resend_uncertain:
                requeued = outbox.requeue_uncertain(now)
                log.info("queued %d uncertain message(s) again (--resend-uncertain)", requeued)
            elif resend:
                requeued = outbox.requeue_uncertain(now, _uncertain_ids(outbox, resend))
                log.info("queued %d uncertain message(s) again (--resend)", requeued)
            _Sender(outbox, delivery, connections, folder, envelope_from, signer, suppressed, run_id,
                    clock, sleep, progress, limit, result).run()
        finally:
            for connection in connections:
                connection.close()
        result.counts = outbox.counts()
        result.uncertain = outbox.rows(Status.UNCERTAIN)
    return result


class _Sender:
    """The sending loop of one `send`: claims, pacing, worker threads, outcomes."""

    def __init__(
        self,
        outbox: Outbox,
        delivery: DeliverySettings,
        connections: list[SmtpConnection],
        folder: Path,
        envelope_from: str,
        signer: DkimSigner | None,
        suppressed: frozenset[str],
        run_id: str,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        progress: Progress | None,
        limit: int | None,
        result: SendResult,
    ) -> None:
        self.outbox = outbox
        self.delivery = delivery
        self.idle = list(reversed(connections))
        self.folder = folder
        self.envelope_from = envelope_from
        self.signer = signer
        self.suppressed = suppressed
        self.run_id = run_id
        self.clock = clock
        self.sleep = sleep
        self.progress = progress
        self.limit = limit
        self.result = result
        self.pending: dict[Future[Outcome], tuple[SmtpConnection, OutboxRow]] = {}
        self.reserved: deque[OutboxRow] = deque()
        self.inline = len(connections) == 1
        self.paused_until = 0.0
        self.claimed = 0
        self.finished = 0
        self.sleeping = False  # in a wait for the pacing or a retry: a stop signal ends the wait

    def run(self) -> None:
        counts = self.outbox.counts()
        due = counts[Status.QUEUED] + counts[Status.DEFERRED]
        self.result.due = due if self.limit is None else min(due, self.limit)
        self._tick()
        with ThreadPoolExecutor(max_workers=len(self.idle), thread_name_prefix="smtp") as pool, self._stop_signals():
            try:
                self._loop(pool)
            except KeyboardInterrupt:  # a second signal: the wait for a transaction is given up
                self.result.signal = self.result.signal or int(signal.SIGINT)
                self.result.stopped = ("interrupted twice: the message(s) in an SMTP transaction were left as they "
                                       f"were; `windstil send {self.run_id}` marks them uncertain and goes on")
            finally:
                self.outbox.release(self.reserved)
                self.reserved.clear()
        if self.result.signal:
            log.info("stopped by %s after finishing the messages in an SMTP transaction",
                     signal.Signals(self.result.signal).name)

    @contextmanager
    def _stop_signals(self) -> Iterator[None]:
        """While sending, SIGINT, SIGTERM and SIGHUP stop the send between messages (see the module docstring).

        The handler only sets flags (no I/O: it may interrupt a write to the same stream) and
        ends a wait for the pacing at once. A second signal restores the handlers before and
        raises KeyboardInterrupt: a transaction that hangs can still be given up.
        """
        if threading.current_thread() is not threading.main_thread():
            yield  # signals are the main thread's
            return
        signums = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
        before: dict[int, Any] = {}

        def restore() -> None:
            for signum, handler in before.items():
                signal.signal(signum, handler)

        def on_signal(signum: int, frame: object) -> None:
            if self.result.signal:
                restore()
                raise KeyboardInterrupt
            self._stop(signal.Signals(signum))
            if self.sleeping:
                self.sleeping = False
                raise _Wake

        before.update({signum: signal.signal(signum, on_signal) for signum in signums})
        try:
            yield
        finally:
            restore()

    def _stop(self, signum: signal.Signals) -> None:
        """Record the stop (called from the signal handler: flags and text only)."""
        name = "Ctrl+C" if signum is signal.SIGINT else signum.name
        self.result.signal = int(signum)
        self.result.stopped = (f"interrupted ({name}): no new message was started, the ones in an SMTP transaction "
                               f"were finished and recorded; `windstil send {self.run_id}` goes on from there")

    def _loop(self, pool: ThreadPoolExecutor) -> None:
        while True:
            wait_for: float | None = None  # seconds until a message may start; None: a result first
            while self.idle and not self.result.stopped and (self.limit is None or self.claimed < self.limit):
                now = self.clock()
                wait_for = self._window(now)
                if wait_for != 0.0:
                    break
                if not self.reserved:
                    rows, skipped = self.outbox.reserve(now, self.suppressed, self._batch())
                    for gone in skipped:
                        self._skipped(gone)
                    if not rows:
                        wait_for = self._until_next_retry(now)
                        break
                    self.reserved.extend(rows)
                self._start(pool, self.reserved.popleft(), now)
            self._tick()
            if self.pending:
                self.outbox.flush()  # outcomes no `begin()` took along: recorded before waiting
                self._collect(wait_all=False)
                continue
            self.outbox.release(self.reserved)  # nothing in flight: reserved rows go back before a wait or the end
            self.reserved.clear()
            if self.result.stopped or wait_for is None or (self.limit is not None and self.claimed >= self.limit):
                return
            if wait_for > MAX_WAIT:
                when = datetime.fromtimestamp(self.clock() + wait_for).astimezone().strftime("%Y-%m-%d %H:%M")
                self.result.stopped = f"the next message can go at {when}; run `windstil send {self.run_id}` again then"
                return
            try:
                self.sleeping = True
                if not self.result.signal:  # a signal just before the flag was set: no wait at all
                    self.sleep(wait_for)
                self.sleeping = False
            except _Wake:
                pass  # a stop signal: the loop sees `stopped` and returns

    def _start(self, pool: ThreadPoolExecutor, row: OutboxRow, now: float) -> None:
        """Start the SMTP transaction of `row` while committing it as `sending`; its data ends only after the commit."""
        connection = self.idle.pop()
        if self.inline:
            # One connection: a worker thread would add two thread switches a message, more than
            # the commit it overlaps costs. Commit first, then run the transaction right here.
            reason = self.outbox.begin(row, now, self.suppressed)
            future: Future[Outcome] = Future()
            future.set_result(self._transact(connection, row, None) if reason is None
                              else Outcome(Result.WITHDRAWN, reason))
            self.pending[future] = (connection, row)
            if reason is None:
                self.claimed += 1
            else:
                self._skipped(row)
            return
        decided = threading.Event()
        verdict = [False]

        def proceed() -> bool:
            decided.wait()
            return verdict[0]

        future = pool.submit(self._transact, connection, row, proceed)
        self.pending[future] = (connection, row)
        reason = "not begun"
        try:
            reason = self.outbox.begin(row, now, self.suppressed)
        finally:
            verdict[0] = reason is None
            decided.set()
        if reason is None:
            self.claimed += 1
        else:
            self._skipped(row)

    def _batch(self) -> int:
        """Return how many rows to reserve at once: a batch without pacing, one at a time with it."""
        if self.delivery.per_minute is not None or self.delivery.per_day is not None:
            return 1
        left = RESERVE if self.limit is None else min(RESERVE, self.limit - self.claimed)
        return max(1, left)

    def _skipped(self, row: OutboxRow) -> None:
        log.info("skipped %s %s: %s is suppressed", row.kind, row.contact_id, row.recipient)
        self.result.done[Status.SKIPPED] += 1
        self.finished += 1

    def _window(self, now: float) -> float | None:
        """Return 0 when a message may start now, else seconds to wait (None: until a result comes)."""
        longest = max(0.0, self.paused_until - now)
        in_flight = len(self.pending)
        for limit, span in ((self.delivery.per_minute, MINUTE), (self.delivery.per_day, DAY)):
            if limit is None:
                continue
            since = now - span
            count = self.outbox.count_since(since)
            excess = count + in_flight - limit  # ≥ 0: the window is full
            if excess < 0:
                continue
            if excess >= count:
                return None  # only messages still in a transaction fill it: their time is not known yet
            oldest = self.outbox.nth_since(since, excess)
            if oldest is not None:
                longest = max(longest, oldest + span - now)
        return longest

    def _until_next_retry(self, now: float) -> float | None:
        """Return seconds until a deferred message is due again, None when none is waiting."""
        if self.pending:
            return None
        nxt = self.outbox.next_deferred()
        return None if nxt is None else max(0.0, nxt - now)

    def _transact(self, connection: SmtpConnection, row: OutboxRow, proceed: Callable[[], bool] | None) -> Outcome:
        """Send one message (runs in a worker thread; touches no state)."""
        try:
            raw = (self.folder / row.path).read_bytes()
        except OSError as error:
            return Outcome(Result.REJECTED, f"cannot read {row.path}: {error.strerror}")
        data = prepare_message(raw, self.clock(), self.signer)
        return connection.deliver(self.envelope_from, row.recipient, data, proceed)

    def _collect(self, *, wait_all: bool) -> None:
        done, _ = wait(list(self.pending), return_when="ALL_COMPLETED" if wait_all else FIRST_COMPLETED)
        for future in done:
            connection, row = self.pending.pop(future)
            self.idle.append(connection)
            outcome = future.result()
            if outcome.result is Result.WITHDRAWN:
                continue  # suppressed at the last moment: recorded as skipped by the claim
            self._record(row, outcome)
            self.finished += 1
        self._tick()

    def _record(self, row: OutboxRow, outcome: Outcome) -> None:
        now = self.clock()
        attempts = row.attempts + 1
        result, reply = outcome.result, outcome.reply
        next_attempt, count_attempt, suppress = 0.0, True, None
        if result is Result.ACCEPTED:
            status = Status.SENT
        elif result is Result.UNCERTAIN:
            status = Status.UNCERTAIN
            log.warning("%s %s to %s: %s", row.kind, row.contact_id, row.recipient, reply)
        elif result is Result.REFUSED:
            status = Status.FAILED
            suppress = hard_bounce(row.recipient, self.run_id, date.fromtimestamp(now))
        elif result is Result.REJECTED:
            status = Status.FAILED
        elif result in (Result.TEMPORARY, Result.LOST) and attempts >= self.delivery.max_attempts:
            status, reply = Status.FAILED, f"gave up after {attempts} attempts: {reply}"
        elif result in (Result.TEMPORARY, Result.LOST):
            status, next_attempt = Status.DEFERRED, now + BACKOFF[min(attempts, len(BACKOFF)) - 1]
        elif result is Result.THROTTLED:
            self.paused_until = max(self.paused_until, now + THROTTLE_PAUSE)
            status, next_attempt, count_attempt = Status.DEFERRED, self.paused_until, False
            log.warning("the server asks to slow down (%s): pausing %d s", reply, THROTTLE_PAUSE)
        else:  # QUOTA, SENDER, CONNECT: nothing was delivered, and no next message can be
            status, count_attempt = Status.QUEUED, False
            self.result.stopped = self.result.stopped or _stop_reason(result, reply)
        self.outbox.finish(row, status, reply, now, next_attempt=next_attempt, count_attempt=count_attempt,
                           suppress=suppress)
        self.result.done[status] += 1

    def _tick(self) -> None:
        if self.progress is not None:
            self.progress(min(self.finished, self.result.due), self.result.due)


def _uncertain_ids(outbox: Outbox, wanted: Collection[str]) -> list[str]:
    """Return the Message-IDs of `wanted` as the outbox holds them; refuse one that is not an uncertain message."""
    uncertain = {row.message_id for row in outbox.rows(Status.UNCERTAIN)}
    ids = [f"<{text.strip().strip('<>')}>" for text in wanted]
    unknown = [i for i in ids if i not in uncertain]
    if unknown:
        listed = ", ".join(sorted(uncertain)) or "none"
        raise UsageError(f"--resend: not an uncertain message of run {outbox.run_id}: {', '.join(unknown)} "
                         f"(its uncertain messages: {listed}); nothing was sent")
    return ids


class _Wake(Exception):
    """Raised by the stop-signal handler in the sending loop's wait, to end the wait at once."""


def _stop_reason(result: Result, reply: str) -> str:
    if result is Result.QUOTA:
        return f"the server says the sending quota is used up ({reply}); send again later"
    if result is Result.SENDER:
        return f"the server refuses the envelope sender ({reply}); check delivery.envelope_from and sender.email"
    return reply


def _dry_run_due(outbox: Outbox, planned: list[PlannedMessage]) -> int:
    """Return how many messages a real send would try (nothing is written)."""
    known = {(r.contact_id, r.kind) for r in outbox.rows()}
    counts = outbox.counts()
    return sum(1 for m in planned if (m.contact_id, m.kind) not in known) + counts[Status.QUEUED] \
        + counts[Status.DEFERRED]


# --------------------------------------------------------------------------- the run's messages


def plan_messages(
    folder: Path, state: State, run_id: str, as_of: date, suppressed: Collection[str] = ()
) -> list[PlannedMessage]:
    """Return the run's messages in sending order: approved newsletters and alerts, then call lists.

    The approved deliveries in the state are the run's messages minus the reviewer's
    exclusions. Each .eml must still carry the Message-ID that was approved: a run folder
    changed since the approval is refused, every problem listed. A message this run is done
    with (sent, failed or skipped), or one queued to an address suppressed since (`suppressed`:
    data/suppressions.csv's; the state's are read here), is not read again: a run made again
    with --force no longer writes the message of a contact who bounced or unsubscribed
    meanwhile, and the sender skips the queued one before it reads a file.
    """
    month = as_of.strftime("%Y-%m")
    problems: list[Problem] = []
    planned: list[PlannedMessage] = []
    gone = {suppression_key(s.email) for s in state.suppressions()} | set(suppressed)
    done = {
        (row.contact_id, row.kind)
        for row in Outbox(state, run_id).rows()
        if row.status in FINAL or suppression_key(row.recipient) in gone
    }
    approved = sorted(
        (d for d in state.deliveries() if d.run_id == run_id and (d.contact_id, d.kind.value) not in done),
        key=lambda d: (d.contact_id, d.kind is not MessageKind.NEWSLETTER),
    )
    for delivery in approved:
        path = f"emails/{delivery.contact_id}/{delivery.kind.value}.eml"
        message = planned_message(folder, path, delivery.contact_id, delivery.kind.value, month, problems)
        if message is None:
            continue
        if delivery.message_id and message.message_id != delivery.message_id:
            problems.append(Problem(path, None, "Message-ID", "differs from the approved message: the run folder "
                                    f"changed after the approval; run `windstil approve {run_id}` again"))
            continue
        planned.append(message)
    calls = folder / "calls"
    for eml in sorted(calls.glob("*.eml")) if calls.is_dir() else ():
        message = planned_message(folder, f"calls/{eml.name}", eml.stem, "calls", month, problems)
        if message is not None:
            planned.append(message)
    if problems:
        raise InputError(f"run {run_id}: {len(problems)} message(s) cannot be sent; nothing was sent", problems)
    return planned


def planned_message(folder: Path, path: str, contact_id: str, kind: str, month: str,
                    problems: list[Problem]) -> PlannedMessage | None:
    """Return the message at `folder`/`path` as the outbox plans it (its one recipient and Message-ID), or
    None with the problem appended."""
    try:
        with (folder / path).open("rb") as handle:
            head = handle.read(HEADER_CHUNK)
            while b"\r\n\r\n" not in head and len(head) < HEADER_BYTES and (more := handle.read(HEADER_CHUNK)):
                head += more
    except OSError as error:
        problems.append(Problem(path, None, "", f"cannot read the message ({error.strerror})"))
        return None
    # Only To and Message-ID are needed: picked from the header block by pattern. The email
    # package's parsers build every header (about a millisecond a message with
    # email.policy.default), which added up to most of the planning for a large run.
    block = head.partition(b"\r\n\r\n")[0].replace(b"\r\n", b"\n")
    found = {name: [_FOLD.sub(b" ", m).decode("utf-8", "replace").strip() for m in pattern.findall(block)]
             for name, pattern in _HEADERS.items()}
    recipients = [address for _, address in getaddresses(found["to"])]
    message_id = " ".join((found["message-id"] or [""])[0].split())
    if len(recipients) != 1 or "@" not in recipients[0]:
        problems.append(Problem(path, None, "To", "needs exactly one recipient address"))
        return None
    if not message_id:
        problems.append(Problem(path, None, "Message-ID", "missing"))
        return None
    return PlannedMessage(contact_id, kind, month, message_id, recipients[0].lower(), path)


_FOLD = re.compile(rb"\n[ \t]+")
_HEADERS = {name: re.compile(rb"^" + name.encode() + rb"[ \t]*:(.*(?:\n[ \t].*)*)", re.MULTILINE | re.IGNORECASE)
            for name in ("to", "message-id")}


def read_suppressions_csv(path: Path) -> frozenset[str]:
    """Return the addresses of data/suppressions.csv (none when it is absent), as suppressions compare.

    Read with the loader's own CSV reader (delimiter, quotes, BOM as in a run), every row's
    address taken as it is: a row the run lists as a reject still suppresses here too.
    """
    if not path.is_file():
        return frozenset()
    table = read_csv(path, "suppressions.csv")
    column = table.header.get("email")
    if column is None:
        raise InputError(f"{path}: no email column")
    return frozenset(suppression_key(cells[column]) for _, cells in table.rows if len(cells) > column and cells[column])


# --------------------------------------------------------------------------- the bytes sent


_DATE = re.compile(rb"^Date:[^\r\n]*(\r\n[ \t][^\r\n]*)*", re.MULTILINE | re.IGNORECASE)


def prepare_message(raw: bytes, now: float, signer: DkimSigner | None = None) -> bytes:
    """Return the .eml as sent: CRLF lines, Date set to the moment of sending, DKIM-signed when configured.

    The run's files carry the as-of date, so they are reproducible; a message dated weeks
    before it arrives would sort wrongly in the inbox.
    """
    if raw.count(b"\n") != raw.count(b"\r\n"):
        raw = re.sub(rb"\r?\n", b"\r\n", raw)
    head, separator, body = raw.partition(b"\r\n\r\n")
    stamp = format_datetime(datetime.fromtimestamp(now).astimezone()).encode("ascii")
    head = _DATE.sub(lambda _: b"Date: " + stamp, head, count=1)
    message = head + separator + body
    return signer.sign(message) if signer else message


class DkimSigner:
    """DKIM-sign messages with the key of `delivery.dkim` (dkimpy)."""

    def __init__(self, settings: DkimSettings) -> None:
        import dkim

        self._dkim = dkim
        self.settings = settings
        try:
            self.key = settings.key_file.read_bytes()
        except OSError as error:
            raise UsageError(f"settings.yaml: delivery.dkim.key_file: cannot read {settings.key_file} "
                             f"({error.strerror})") from error
        try:
            self.sign(b"From: a@example.org\r\nSubject: key check\r\n\r\nkey check\r\n")
        except dkim.DKIMException as error:
            raise UsageError(f"settings.yaml: delivery.dkim.key_file: not a usable private key ({error})") from error

    def sign(self, message: bytes) -> bytes:
        """Return `message` with a DKIM-Signature header over the headers that matter (RFC 8058 too)."""
        signature: bytes = self._dkim.sign(
            message,
            self.settings.selector.encode("ascii"),
            self.settings.domain.encode("ascii"),
            self.key,
            include_headers=list(DKIM_HEADERS),
        )
        return signature + message
