"""`windstil outbox`: where each message of a run stands, on screen and as CSV."""

from __future__ import annotations

import csv
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pipeline.config import load_settings
from pipeline.errors import OutputError, UsageError
from pipeline.mail.outbox import Outbox, OutboxRow, Status
from pipeline.state import State

log = logging.getLogger(__name__)

CSV_COLUMNS = ("contact_id", "kind", "message_id", "status", "attempts", "last_reply", "updated")
ATTENTION = (Status.UNCERTAIN, Status.SENDING, Status.DEFERRED, Status.FAILED)


@dataclass(frozen=True)
class OutboxReport:
    """A run's outbox: its rows, the count per status, and the rows that need a look."""

    run_id: str
    run_status: str  # rendered | approved
    rows: list[OutboxRow]
    counts: dict[Status, int]

    @property
    def attention(self) -> list[OutboxRow]:
        """Return the uncertain, sending, deferred and failed messages, in that order."""
        return sorted((r for r in self.rows if r.status in ATTENTION), key=lambda r: (ATTENTION.index(r.status), r.id))


def outbox_report(root: Path, run_id: str) -> OutboxReport:
    """Return the outbox of run `run_id` (read only: nothing is written to the state)."""
    try:
        date.fromisoformat(run_id)
    except ValueError:
        raise UsageError(f"{run_id!r} is not a run id (the run's as-of date, YYYY-MM-DD)") from None
    settings = load_settings(root)
    if not settings.paths.state.exists():
        raise UsageError(f"no state database yet ({settings.paths.state}); run and approve a batch first")
    with State.open(settings.paths.state) as state:
        status = state.run_status(run_id)
        if status is None:
            raise UsageError(f"run {run_id} is not in the state {settings.paths.state}")
        outbox = Outbox(state, run_id)
        return OutboxReport(run_id, status, outbox.rows(), outbox.counts())


def write_outbox_csv(rows: list[OutboxRow], path: Path) -> None:
    """Write the rows as CSV at `path`, whole or not at all (a temporary file renamed into place)."""
    target = path.resolve()
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (renamed into place after writing)
            "w", encoding="utf-8", newline="", dir=target.parent, prefix=f".{target.name}.", delete=False
        )
    except OSError as error:
        raise OutputError(f"{path}: cannot write ({error.strerror})") from error
    try:
        with handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            for r in rows:
                writer.writerow([r.contact_id, r.kind, r.message_id, r.status.value, r.attempts, r.last_reply,
                                 r.updated])
        os.replace(handle.name, target)
    except OSError as error:
        Path(handle.name).unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write ({error.strerror})") from error
