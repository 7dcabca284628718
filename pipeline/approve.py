"""Approval: a reviewed run becomes final, and its messages count as sent from then on."""

from __future__ import annotations

import csv
import email.policy
import io
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from email.parser import BytesHeaderParser
from pathlib import Path

from pipeline.checks import CHECKS
from pipeline.config import load_settings
from pipeline.errors import InputError, Problem, UsageError
from pipeline.lock import project_lock
from pipeline.models import Delivery
from pipeline.run import read_deliveries
from pipeline.state import State

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApproveResult:
    run_id: str
    added: int  # deliveries recorded now
    excluded: int  # contacts the reviewer left out
    already_sent: int  # deliveries whose contact × kind × month was recorded before
    was_approved: bool  # the run was approved before this call: nothing changed
    accepted: dict[str, int] = field(default_factory=dict)  # checks accepted despite errors → their errors


def read_exclusions(path: Path, known: set[str]) -> set[str]:
    """Read one contact_id a line (blank lines and `#` comments allowed); unknown ids are errors."""
    try:
        # Split on newlines only: splitlines() also breaks on form feeds and U+2028, which
        # would make our line numbers differ from an editor's.
        lines = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n").split("\n")
    except OSError as error:
        raise UsageError(f"{path}: cannot read the exclusion file ({error.strerror})") from error
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text") from error
    excluded, problems = set(), []
    for number, line in enumerate(lines, start=1):
        contact_id = line.split("#", 1)[0].strip()
        if not contact_id:
            continue
        if contact_id not in known:
            problems.append(Problem(path.name, number, "contact_id",
                                    f"{contact_id!r} has no message in this run"))
        excluded.add(contact_id)
    if problems:
        raise InputError(f"{path}: {len(problems)} unknown contact id(s); nothing was approved", problems)
    return excluded


def check_errors(folder: Path, excluded: Iterable[str] = ()) -> Counter[str]:
    """Return the `error` findings per check in a run's checks.csv, leaving out excluded contacts."""
    path = folder / "checks.csv"
    if not path.is_file():
        return Counter()  # a run made before the checks existed
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot read the run's check findings ({error})") from error
    leave_out = set(excluded)
    return Counter(row["check"] for row in csv.DictReader(io.StringIO(text))
                   if row.get("level") == "error" and row.get("contact_id") not in leave_out)


def refuse_unaccepted_errors(run_id: str, errors: Counter[str], accept: Iterable[str]) -> dict[str, int]:
    """Return the accepted checks with their error counts; refuse when an erroring check is not accepted."""
    accepted = set(accept)
    unknown = sorted(accepted - set(CHECKS))
    if unknown:
        raise UsageError(f"--accept {unknown[0]}: not a check (one of {', '.join(CHECKS)})")
    open_errors = {check: n for check, n in sorted(errors.items()) if check not in accepted}
    if open_errors:
        listed = ", ".join(f"{check} ({n})" for check, n in open_errors.items())
        flags = " ".join(f"--accept {check}" for check in open_errors)
        raise UsageError(
            f"run {run_id} has error findings: {listed} (see checks.csv and the review site); "
            f"fix them and run again, or approve despite them with {flags}"
        )
    return {check: errors.get(check, 0) for check in sorted(accepted)}


def approve_run(root: Path, run_id: str, exclude: Path | None = None, accept: Iterable[str] = ()) -> ApproveResult:
    """Record run `run_id` as approved with every delivery except the excluded contacts.

    A run with `error` findings in its checks is refused unless each such check is in `accept`.
    """
    try:
        as_of = date.fromisoformat(run_id)
    except ValueError:
        raise UsageError(f"{run_id!r} is not a run id (the run's as-of date, YYYY-MM-DD)") from None
    settings = load_settings(root)
    folder = settings.paths.output / run_id
    if not (folder / "manifest.json").is_file():
        raise UsageError(f"no run {run_id} in {settings.paths.output} (run `windstil run --as-of {run_id}` first)")
    deliveries = read_deliveries(folder, run_id, as_of)
    excluded = read_exclusions(exclude, {d.contact_id for d in deliveries}) if exclude else set()
    accepted = refuse_unaccepted_errors(run_id, check_errors(folder, excluded), accept)
    with project_lock(settings.paths.output), State.open(settings.paths.state) as state:
        status = state.run_status(run_id)
        if status is None:
            raise UsageError(f"run {run_id} is not in the state {settings.paths.state}; run it again")
        if status == "approved":
            return ApproveResult(run_id, 0, len(excluded), 0, was_approved=True)
        _refuse_late_unsubscribes(state, folder, run_id, [d for d in deliveries if d.contact_id not in excluded])
        keep = [d for d in deliveries if d.contact_id not in excluded]
        added = state.approve_run(run_id, keep, accepted)
    log.info("approved %s: %d deliveries recorded", run_id, added)
    return ApproveResult(run_id, added, len(excluded), len(keep) - added, was_approved=False, accepted=accepted)


def _refuse_late_unsubscribes(state: State, folder: Path, run_id: str, deliveries: list[Delivery]) -> None:
    """Refuse a run whose messages go to an address unsubscribed after the run was rendered.

    The run left out every address suppressed when it was made; an unsubscribe imported since
    (`windstil unsubscribe import`) must not be sent anyway. Re-running drops those messages.
    """
    rendered_at = next((r.rendered_at for r in state.runs() if r.run_id == run_id), None)
    if rendered_at is None:
        return
    late = {s.email for s in state.suppressions_added_since(rendered_at)}
    if not late:
        return
    hit = sorted({d.contact_id for d in deliveries if _recipient(folder, d) in late})
    if hit:
        shown = ", ".join(hit[:5]) + (f" and {len(hit) - 5} more" if len(hit) > 5 else "")
        raise UsageError(
            f"run {run_id} has messages for {len(hit)} contact(s) who unsubscribed after it was rendered "
            f"({shown}); run it again (windstil run --as-of {run_id}) so they are left out, then approve"
        )


def _recipient(folder: Path, delivery: Delivery) -> str:
    """Return the lower-cased address in the To header of a delivery's .eml ("" when unreadable)."""
    path = folder / "emails" / delivery.contact_id / f"{delivery.kind.value}.eml"
    try:
        with path.open("rb") as handle:
            headers = BytesHeaderParser(policy=email.policy.default).parse(handle)
        return str(headers["To"].addresses[0].addr_spec).lower() if headers["To"] else ""
    except (OSError, IndexError, AttributeError, ValueError):
        return ""
