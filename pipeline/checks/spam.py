"""SpamAssassin scores of a run's variants, offline, in the background.

SpamAssassin spends one to two seconds loading its rules and then about 0.2 CPU-second on
each of our messages. Where spamd is installed, the run starts a spamd of its own at the
first message to score (local tests only, on a unix socket in a private temporary folder,
two children, ended with the run) and hands it each message with spamc as soon as the
message is written, so the rules are loaded once a run instead of once per batch. Without
spamd, or when it does not start, the messages go to `spamassassin -L` in batches, one mbox
per process. Both read the same rules with the same settings, so a message gets the same
score either way. SpamAssassin runs at a lower priority than the run itself: it takes the
cores the render and the later stages leave idle instead of slowing them down. Scores are
kept by the message's content hash (in the state), so a re-run scores only what changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import queue
import re
import shutil
import signal
import subprocess  # nosec B404 - runs the fixed spamassassin, spamd and spamc commands (spamd under a fixed sh script)
import tempfile
import threading
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Literal, TypeVar

from pipeline.checks import Finding, Level

log = logging.getLogger(__name__)

WARN_AT, ERROR_AT = 2.0, 5.0
BATCH = 16  # messages per `spamassassin -L` process: its start-up is shared by a batch
WORKERS = 2  # messages scored at once: each is one busy core, and the render needs the others
TIMEOUT_PER_MESSAGE = 30.0  # seconds; SpamAssassin's own per-message limit is 300
START_TIMEOUT = 60.0  # seconds for spamd to load its rules and answer; then spamassassin -L takes over
# Below the run's own processes, so SpamAssassin mostly gets the cores they leave idle; not far
# below, since on a machine busy with other work a lower priority starves it (10 made the
# sample company's checks a third slower than 5 at a load average of 5).
NICENESS = 5
_STATUS = re.compile(
    rb"^X-Spam-Status: (?:Yes|No), score=(-?[\d.]+) required=[\d.]+ tests=(.*?)\s+autolearn=",
    re.M | re.S,
)
# Offline rules only, and nothing learnt from what we score: our drafts are not mail received.
# report_safe 0: the message comes back as it was, with the X-Spam headers added (and our own key header).
# The same lines configure `spamassassin -L` and spamd, so both give a message the same score.
CONFIG = (
    "use_bayes 0",
    "bayes_auto_learn 0",
    # SpamAssassin 4 knows the setting only while the AWL plugin is loaded (Debian does not load it).
    "ifplugin Mail::SpamAssassin::Plugin::AWL",
    "use_auto_whitelist 0",
    "endif",
    "report_safe 0",
)
OPTIONS = ("-L", *(f"--cf={line}" for line in CONFIG))
# SpamAssassin's mbox reader may reorder the messages (it sorts by date): each carries its number.
_KEY = re.compile(rb"^X-Windstil-Key: (\d+)\r?$", re.M)
# Debian installs spamd in /usr/sbin, which is not on an ordinary user's PATH.
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


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


def spamd_commands() -> tuple[str, str] | None:
    """Return the installed spamd and spamc commands, or None when either is missing."""
    spamd = shutil.which("spamd") or shutil.which("spamd", path=os.pathsep.join(_SBIN))
    spamc = shutil.which("spamc")
    return (spamd, spamc) if spamd and spamc else None


def _niced(command: Sequence[str]) -> list[str]:
    """Return `command` to run at the lower priority (as it is where `nice` is missing)."""
    nice = shutil.which("nice")
    return [nice, "-n", str(NICENESS), *command] if nice else list(command)


# spamd runs under a small sh that ends it when the run's end of a pipe closes: the run
# closes it in stop(), and the kernel closes it when the run dies outright (SIGKILL, the
# out-of-memory killer), which before left spamd and its two children behind (some 330 MB).
# A parent-death signal (setpriv --pdeathsig) did not do: it ends a plain perl child so, but
# spamd kept running (why, not found out). The sh waits for spamd, so it lives exactly as
# long as spamd does; the watcher it starts reads the pipe (kept as fd 3: an asynchronous
# list's stdin is /dev/null). They have a process group of their own, for stop() to end
# them all if spamd will not go.
_WATCHED = ('exec 3<&0 </dev/null; "$@" 3<&- & spamd=$!; '
            '{ read -r _ <&3; kill -TERM "$spamd" 2>/dev/null; } & exec 3<&-; wait "$spamd"')


class _Spamd:
    """A spamd of one run: local tests only, on a unix socket in `folder`, until stop().

    The socket lives in the scorer's private temporary folder (mode 0700), so no other user
    of the machine can hand it messages.
    """

    def __init__(self, spamd: str, spamc: str, folder: Path) -> None:
        self.spamc = spamc
        self.socket = folder / "spamd.sock"
        self._log = folder / "spamd.log"
        with self._log.open("wb") as log_file:
            self._process = subprocess.Popen(  # noqa: S603  # nosec B603 - fixed script; the command as its arguments
                ["/bin/sh", "-c", _WATCHED, "windstil-spamd",
                 *_niced([spamd, *OPTIONS, "--nouser-config", f"--socketpath={self.socket}",
                          f"--min-children={WORKERS}", f"--max-children={WORKERS}", f"--max-spare={WORKERS}",
                          "--syslog=stderr"])],
                # A group of its own (for killpg), in the run's session: a new session would be a
                # new scheduler autogroup, which shares the CPU with the run's group as an equal
                # whatever spamd's nice value says, so SpamAssassin would take a core from the render.
                stdin=subprocess.PIPE, stdout=log_file, stderr=subprocess.STDOUT, process_group=0,
            )

    def wait_ready(self, timeout: float, cancelled: threading.Event) -> bool:
        """Wait until spamd answers a ping; return False if it exits, the time is up or the run stops."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not cancelled.is_set():
            if self._process.poll() is not None:
                return False
            if self.socket.exists():
                try:
                    ping = subprocess.run(  # noqa: S603  # nosec B603 - fixed command, no shell
                        [self.spamc, "-U", str(self.socket), "-K"], capture_output=True, timeout=10, check=False)
                except subprocess.TimeoutExpired:
                    continue
                if ping.returncode == 0:
                    return True
            cancelled.wait(0.05)
        return False

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def command(self, size: int) -> list[str]:
        """Return the spamc command that scores one message of `size` bytes (no safe fallback: errors fail)."""
        # spamc passes a message above its size limit through unscored, so the limit is the message's size.
        return [self.spamc, "--no-safe-fallback", "-U", str(self.socket), "-s", str(max(size, 1)),
                "-t", str(int(TIMEOUT_PER_MESSAGE))]

    def log_tail(self) -> str:
        """Return the end of spamd's log, for a warning."""
        try:
            return self._log.read_text(encoding="utf-8", errors="replace").strip()[-300:]
        except OSError:
            return ""

    def stop(self) -> None:
        """End spamd and its children (it ends them itself on SIGTERM); its sh then ends too."""
        if self._process.stdin is not None:
            self._process.stdin.close()  # the watcher sends spamd SIGTERM
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()


K = TypeVar("K", bound=Hashable)
_Job = tuple[str, bytes]  # content hash, message


class SpamScorer(Generic[K]):
    """Score messages in the background, as they come, reusing cached scores.

    `submit()` hands over a message (from any thread); `results()` waits for all and returns
    the score of each key (None where SpamAssassin failed). `daemon` says which spamd and
    spamc to use: "installed" (the default) finds them, None scores with `spamassassin -L` only.
    """

    def __init__(
        self,
        cache: Mapping[str, SpamResult],
        *,
        command: str | None = None,
        daemon: tuple[str, str] | Literal["installed"] | None = "installed",
    ) -> None:
        self.command = command or shutil.which("spamassassin")
        self._daemon_commands = spamd_commands() if daemon == "installed" else daemon
        self._daemon: _Spamd | None = None
        self._daemon_tried = False
        self._cache = dict(cache)
        self.new: dict[str, SpamResult] = {}  # scored now: to be kept in the state
        self.scored_by: dict[str, str] = {}  # content hash → "spamd" or "spamassassin", of those scored now
        self._keys: dict[K, str] = {}  # submitted key → content hash
        self._queued: set[str] = set()
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()
        self._closed = threading.Event()
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
            if digest in self._cache or digest in self._queued or not self.available or self._closed.is_set():
                return
            self._queued.add(digest)
            if not self._workers:  # the first message to score starts the workers (and they spamd)
                self._workers = [threading.Thread(target=self._work, name=f"windstil-spam-{n}", daemon=True)
                                 for n in range(WORKERS)]
                for worker in self._workers:
                    worker.start()
        self._queue.put((digest, eml))

    def results(self) -> dict[K, SpamResult | None]:
        """Wait for every submitted message; return its result by key."""
        self._queue.put(None)  # the end of the messages
        for worker in self._workers:
            worker.join()
        self.close()
        return {key: self._cache.get(digest) for key, digest in self._keys.items()}

    def close(self) -> None:
        """Stop scoring: end SpamAssassin's processes and spamd, stop the threads, remove the temporary files.

        After results() nothing is running; called on the way out of a failed or interrupted
        run, it does not wait for SpamAssassin to finish messages nobody will read.
        """
        with self._lock:
            self._closed.set()
            for process in self._running:
                process.kill()
        self._queue.put(None)
        for worker in self._workers:
            worker.join()
        with self._start_lock:
            if self._daemon is not None:
                self._daemon.stop()
        self._folder.cleanup()

    # ----------------------------------------------------------------- the workers

    def _work(self) -> None:
        """Score queued messages until the end: one by one with spamd, else in batches with `spamassassin -L`."""
        while (job := self._next()) is not None:
            daemon = self._ready_daemon()
            if daemon is not None and self._score_with_spamd(daemon, job):
                continue
            batch = [job]
            while len(batch) < BATCH and (more := self._next()) is not None:
                batch.append(more)
            self._score_with_spamassassin(batch)

    def _next(self) -> _Job | None:
        """Return the next message to score, or None at the end (left in the queue for the other workers)."""
        job = self._queue.get()
        if job is None or self._closed.is_set():
            self._queue.put(None)
            return None
        return job

    def _ready_daemon(self) -> _Spamd | None:
        """Return the run's spamd, started on first use; None without spamd or when it failed."""
        with self._start_lock:
            if self._daemon_tried or self._daemon_commands is None:
                return self._daemon
            self._daemon_tried = True
            spamd, spamc = self._daemon_commands
            try:
                daemon = _Spamd(spamd, spamc, Path(self._folder.name))
            except OSError as error:
                log.info("spamd could not start (%s); scoring with spamassassin -L", error)
                return None
            if daemon.wait_ready(START_TIMEOUT, self._closed):
                self._daemon = daemon
            else:
                daemon.stop()
                if not self._closed.is_set():
                    log.warning("spamd did not start; scoring with spamassassin -L: %s", daemon.log_tail())
            return self._daemon

    def _start(self, command: list[str]) -> subprocess.Popen[bytes] | None:
        """Start one SpamAssassin process unless the scorer is closed (then close() cannot miss it)."""
        with self._lock:
            if self._closed.is_set():
                return None
            try:
                process = subprocess.Popen(  # noqa: S603  # nosec B603 - fixed command and options, message on stdin
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            except OSError as error:
                log.warning("%s could not start: %s", Path(command[0]).name, error)
                return None
            self._running.add(process)
            return process

    def _communicate(self, process: subprocess.Popen[bytes], data: bytes, timeout: float) -> tuple[bytes, bytes] | None:
        """Return a process's output, or None when it took longer than `timeout` (it is ended)."""
        try:
            return process.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            return None
        finally:
            with self._lock:
                self._running.discard(process)

    def _score_with_spamd(self, daemon: _Spamd, job: _Job) -> bool:
        """Score one message with spamc; return False when spamd is gone (the caller falls back)."""
        digest, eml = job
        process = self._start(daemon.command(len(eml)))
        if process is None:
            return True  # closed, or spamc missing: nothing more to do for this message
        output = self._communicate(process, eml, TIMEOUT_PER_MESSAGE + 5)
        if self._closed.is_set():
            return True
        result = _status(output[0]) if output is not None else None
        if result is not None:
            self._keep({digest: result}, "spamd")
            return True
        if not daemon.alive:
            with self._start_lock:
                if self._daemon is daemon:
                    log.warning("spamd stopped; scoring the rest with spamassassin -L: %s", daemon.log_tail())
                    self._daemon = None
            return False
        error = output[1].decode("utf-8", "replace").strip()[-300:] if output is not None else "took too long"
        log.warning("spamc gave no score for a message (exit %s): %s", process.returncode, error)
        return True

    def _score_with_spamassassin(self, batch: list[_Job]) -> None:
        """Score a batch as one mbox with one `spamassassin -L` process."""
        if self.command is None:  # submit() queues nothing without it
            return
        mbox = b"".join(_mbox_entry(eml, number) for number, (_, eml) in enumerate(batch))
        process = self._start(_niced([self.command, *OPTIONS, "-p", str(Path(self._folder.name) / "user_prefs"),
                                      "--mbox"]))
        if process is None:
            return
        output = self._communicate(process, mbox, 30 + TIMEOUT_PER_MESSAGE * len(batch))
        if self._closed.is_set():
            return
        if output is None:
            log.warning("spamassassin took too long on %d messages; they are not scored", len(batch))
            return
        stdout, stderr = output
        scored: dict[str, SpamResult] = {}
        for message in re.split(rb"(?m)^From windstil@localhost ", stdout):
            key, result = _KEY.search(message), _status(message)
            if key is not None and result is not None and int(key.group(1)) < len(batch):
                scored[batch[int(key.group(1))][0]] = result
        if len(scored) != len(batch):
            log.warning("spamassassin scored %d of %d messages (exit %d): %s", len(scored), len(batch),
                        process.returncode, stderr.decode("utf-8", "replace").strip()[-300:])
        self._keep(scored, "spamassassin")

    def _keep(self, scored: Mapping[str, SpamResult], by: str) -> None:
        with self._lock:
            for digest, result in scored.items():
                self._cache[digest] = self.new[digest] = result
                self.scored_by[digest] = by


def _status(message: bytes) -> SpamResult | None:
    """Return the score and rules of SpamAssassin's X-Spam-Status header in `message`, if there is one."""
    status = _STATUS.search(message)
    if status is None:
        return None
    tests = status.group(2).decode("ascii", "replace")
    return SpamResult(float(status.group(1)), tuple(r for r in re.split(r"[,\s]+", tests) if r and r != "none"))


def _mbox_entry(eml: bytes, number: int) -> bytes:
    """Return one message as an mbox entry with its number in a header (mboxrd quoting of "From " lines)."""
    body = eml.replace(b"\r\n", b"\n")
    body = re.sub(rb"(?m)^(>*From )", rb">\1", body)
    head = b"From windstil@localhost Thu Jan  1 00:00:00 1970\nX-Windstil-Key: %d\n" % number
    return head + body + (b"" if body.endswith(b"\n") else b"\n") + b"\n"
