"""SpamAssassin scores of a run's variants, offline (`spamassassin -L`), in the background.

SpamAssassin needs a few seconds to load its rules and then a fraction of a second per
message, so the messages go to it in batches, as one mbox per process, from a thread that
works while the render processes are still rendering. Scores are kept by the message's
content hash (in the state), so a re-run scores only what changed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess  # nosec B404 - runs the fixed spamassassin command, no shell
import tempfile
import threading
from collections.abc import Hashable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from pipeline.checks import Finding, Level

log = logging.getLogger(__name__)

WARN_AT, ERROR_AT = 2.0, 5.0
BATCH = 16  # messages per spamassassin process: its start-up is shared by a batch
TIMEOUT_PER_MESSAGE = 30.0  # seconds; SpamAssassin's own per-message limit is 300
_STATUS = re.compile(
    rb"^X-Spam-Status: (?:Yes|No), score=(-?[\d.]+) required=[\d.]+ tests=(.*?)\s+autolearn=",
    re.M | re.S,
)
# Offline rules only, and nothing learnt from what we score: our drafts are not mail received.
# report_safe 0: the message comes back as it was, with the X-Spam headers added (and our own key header).
OPTIONS = ("-L", "--cf=use_bayes 0", "--cf=bayes_auto_learn 0", "--cf=use_auto_whitelist 0", "--cf=report_safe 0")
# SpamAssassin's mbox reader may reorder the messages (it sorts by date): each carries its number.
_KEY = re.compile(rb"^X-Windstil-Key: (\d+)\r?$", re.M)


@dataclass(frozen=True, slots=True)
class SpamResult:
    score: float
    rules: tuple[str, ...]


def content_hash(eml: bytes) -> str:
    """Return the cache key of a message: SHA-256 of its bytes."""
    return hashlib.sha256(eml).hexdigest()


def spam_findings(result: SpamResult | None, *, available: bool, scored: bool = True) -> list[Finding]:
    """Return the spam_score finding of one variant's score (none below the warning level)."""
    if not available:
        return [Finding("spam_score", Level.INFO, "not run: SpamAssassin is not installed")]
    if not scored:
        return [Finding("spam_score", Level.INFO, "not scored: beyond the variants scored per run")]
    if result is None:
        return [Finding("spam_score", Level.INFO, "not scored: SpamAssassin gave no result")]
    rules = ", ".join(result.rules) or "none"
    if result.score >= ERROR_AT:
        return [Finding("spam_score", Level.ERROR, f"SpamAssassin score {result.score:.1f} (rules: {rules})")]
    if result.score >= WARN_AT:
        return [Finding("spam_score", Level.WARNING, f"SpamAssassin score {result.score:.1f} (rules: {rules})")]
    return []


def spamassassin_available() -> bool:
    """Return whether the `spamassassin` command is installed."""
    return shutil.which("spamassassin") is not None


K = TypeVar("K", bound=Hashable)


class SpamScorer(Generic[K]):
    """Score messages in the background, batch by batch, reusing cached scores.

    `submit()` hands over a message (from any thread); `results()` waits for all and returns
    the score of each key (None where SpamAssassin failed).
    """

    def __init__(self, cache: Mapping[str, SpamResult], *, command: str | None = None) -> None:
        self.command = command or shutil.which("spamassassin")
        self._cache = dict(cache)
        self.new: dict[str, SpamResult] = {}  # scored now: to be kept in the state
        self._keys: dict[K, str] = {}  # submitted key → content hash
        self._pending: list[tuple[str, bytes]] = []
        self._futures: list[Future[None]] = []
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()
        self._closed = False
        # Two SpamAssassin processes at most: each is one busy core, and the render needs the others.
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(2, (os.cpu_count() or 1))),
                                        thread_name_prefix="windstil-spam")
        self._folder = tempfile.TemporaryDirectory(prefix="windstil-spam-")
        (Path(self._folder.name) / "user_prefs").write_text("", encoding="utf-8")

    @property
    def available(self) -> bool:
        return self.command is not None

    def submit(self, key: K, eml: bytes) -> None:
        """Score one message (under `key`, e.g. its variant) unless its content was scored before."""
        digest = content_hash(eml)
        with self._lock:
            self._keys[key] = digest
            if digest in self._cache or not self.available:
                return
            self._pending.append((digest, eml))
            if len(self._pending) >= BATCH:
                self._flush()

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            self._futures.append(self._pool.submit(self._score, batch))

    def results(self) -> dict[K, SpamResult | None]:
        """Wait for every submitted message; return its result by key."""
        with self._lock:
            self._flush()
            futures = list(self._futures)
        for future in futures:
            future.result()
        self.close()
        return {key: self._cache.get(digest) for key, digest in self._keys.items()}

    def close(self) -> None:
        """Stop scoring: end a SpamAssassin still at work, stop the threads, remove the temporary files.

        After results() nothing is running; called on the way out of a failed or interrupted
        run, it does not wait for SpamAssassin to finish a batch nobody will read.
        """
        with self._lock:
            self._closed = True
            for process in self._running:
                process.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._folder.cleanup()

    def _score(self, batch: list[tuple[str, bytes]]) -> None:
        mbox = b"".join(_mbox_entry(eml, number) for number, (_, eml) in enumerate(batch))
        if self.command is None:  # submit() queues nothing without it
            return
        with self._lock:
            if self._closed:
                return
            try:
                process = subprocess.Popen(  # noqa: S603  # nosec B603 - fixed command and options, mbox on stdin
                    [self.command, *OPTIONS, "-p", str(Path(self._folder.name) / "user_prefs"), "--mbox"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                )
            except OSError as error:
                log.warning("spamassassin could not start: %s", error)
                return
            self._running.add(process)
        try:
            stdout, stderr = process.communicate(mbox, timeout=30 + TIMEOUT_PER_MESSAGE * len(batch))
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            log.warning("spamassassin took too long on %d messages; they are not scored", len(batch))
            return
        finally:
            with self._lock:
                self._running.discard(process)
        if self._closed:
            return
        scored: dict[int, SpamResult] = {}
        for message in re.split(rb"(?m)^From windstil@localhost ", stdout):
            key, status = _KEY.search(message), _STATUS.search(message)
            if key is not None and status is not None:
                tests = status.group(2).decode("ascii", "replace")
                rules = tuple(r for r in re.split(r"[,\s]+", tests) if r and r != "none")
                scored[int(key.group(1))] = SpamResult(float(status.group(1)), rules)
        if len(scored) != len(batch):
            log.warning("spamassassin scored %d of %d messages (exit %d): %s", len(scored), len(batch),
                        process.returncode, stderr.decode("utf-8", "replace").strip()[-300:])
        with self._lock:
            for number, result in scored.items():
                digest = batch[number][0]
                self._cache[digest] = self.new[digest] = result


def _mbox_entry(eml: bytes, number: int) -> bytes:
    """Return one message as an mbox entry with its number in a header (mboxrd quoting of "From " lines)."""
    body = eml.replace(b"\r\n", b"\n")
    body = re.sub(rb"(?m)^(>*From )", rb">\1", body)
    head = b"From windstil@localhost Thu Jan  1 00:00:00 1970\nX-Windstil-Key: %d\n" % number
    return head + body + (b"" if body.endswith(b"\n") else b"\n") + b"\n"
