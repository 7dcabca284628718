"""Approval: a reviewed run becomes final, and its messages count as sent from then on."""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from pipeline.checks import CHECKS
from pipeline.config import load_settings
from pipeline.csvinput import suppression_key
from pipeline.errors import InputError, Problem, UsageError
from pipeline.lock import project_lock
from pipeline.mail.outbox import Outbox
from pipeline.mail.send import planned_message
from pipeline.models import Delivery
from pipeline.run import read_deliveries
from pipeline.state import State
from pipeline.writer import spreadsheet_value

log = logging.getLogger(__name__)

STALE_SHOWN = 10  # customers named in the warning on call lists made before contacts were left out


@dataclass(frozen=True)
class ApproveResult:
    run_id: str
    added: int  # deliveries recorded now
    excluded: int  # contacts the reviewer left out
    already_sent: int  # deliveries whose contact × kind × month was recorded before
    was_approved: bool  # the run was approved before this call
    accepted: dict[str, int] = field(default_factory=dict)  # checks accepted despite errors → their errors
    withdrawn: int = 0  # of an approved run: deliveries of excluded contacts taken out
    unsubscribed: tuple[str, ...] = ()  # contacts left out: they unsubscribed after the run was made
    # The call-list rows made with the run about a customer of a contact left out now (excluded,
    # withdrawn or unsubscribed): they may still mention that contact's messages.
    stale_calls: tuple[StaleCall, ...] = ()


@dataclass(frozen=True, slots=True)
class StaleCall:
    account_manager_id: str
    customer_id: str
    customer: str


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
    Contacts who unsubscribed after the run was made are left out too, and named. Excluding
    contacts from a run approved already withdraws their messages, unless one is on its way.
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
    with project_lock(settings.paths.output), State.open(settings.paths.state) as state:
        status = state.run_status(run_id)
        if status is None:
            raise UsageError(f"run {run_id} is not in the state {settings.paths.state}; run it again")
        if status == "approved":  # only fewer messages can follow: the checks were passed or accepted then
            stale = stale_calls(folder, excluded)  # read before anything changes
            result = _exclude_after_approval(state, run_id, excluded)
            return replace(result, stale_calls=stale) if result.withdrawn else result
        accepted = refuse_unaccepted_errors(run_id, check_errors(folder, excluded), accept)
        chosen = [d for d in deliveries if d.contact_id not in excluded]
        unsubscribed = _late_unsubscribes(state, folder, run_id, chosen)
        keep = [d for d in chosen if d.contact_id not in unsubscribed]
        stale = stale_calls(folder, excluded | set(unsubscribed))
        added = state.approve_run(run_id, keep, accepted)
    log.info("approved %s: %d deliveries recorded", run_id, added)
    return ApproveResult(run_id, added, len(excluded), len(keep) - added, was_approved=False, accepted=accepted,
                         unsubscribed=tuple(unsubscribed), stale_calls=stale)


def _exclude_after_approval(state: State, run_id: str, excluded: set[str]) -> ApproveResult:
    """Withdraw the excluded contacts' messages from the approved run; refuse when one is on its way."""
    if not excluded:
        return ApproveResult(run_id, 0, 0, 0, was_approved=True)
    withdrawn, too_late = Outbox(state, run_id).withdraw(excluded)
    if too_late:
        shown = ", ".join(f"{contact} ({kind}: {status})" for contact, kind, status in too_late[:5])
        raise UsageError(
            f"run {run_id} was approved already and {len(too_late)} message(s) of the excluded contacts went out "
            f"or may have: {shown}; nothing was changed (take them out of the exclusion file to withdraw the rest)"
        )
    log.info("approved run %s: withdrew %d deliveries of %d excluded contact(s)", run_id, withdrawn, len(excluded))
    return ApproveResult(run_id, 0, len(excluded), 0, was_approved=True, withdrawn=withdrawn)


def stale_calls(folder: Path, left_out: set[str]) -> tuple[StaleCall, ...]:
    """Return the run's call-list rows about the customers of contacts left out after the run was made.

    The call lists were written with the run, when those contacts' messages were still in it:
    a row about their customer may say what was sent to them ("Newsletter to …", "Also sent
    to …"), and the account manager would ask about a message that never went out.

    Never stops the approval: a file that cannot be read (re-saved by a spreadsheet, say) is
    reported in a warning instead.
    """
    if not left_out:
        return ()
    try:
        recipients = _csv_rows(folder / "recipients.csv", ("contact_id", "customer_id"))
        calls = _csv_rows(folder / "calls" / "all.csv", ("account_manager_id", "customer_id", "customer"))
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as error:
        log.warning("could not check the call lists for rows about the contacts left out (%s): look for them "
                    "by hand", error)
        return ()
    customers = {row["customer_id"] for row in recipients if row["contact_id"] in left_out}
    rows = {(row["account_manager_id"], spreadsheet_value(row["customer_id"]), spreadsheet_value(row["customer"]))
            for row in calls}
    stale = tuple(StaleCall(*row) for row in sorted(rows) if row[1] in customers)
    if stale:
        shown = "; ".join(f"{s.account_manager_id}: {s.customer} ({s.customer_id})" for s in stale[:STALE_SHOWN])
        more = f"; … and {len(stale) - STALE_SHOWN} more in calls/all.csv" if len(stale) > STALE_SHOWN else ""
        log.warning("the call lists were made with the run: what they say about %d customer(s) may mention messages "
                    "that will not be sent now; tell the account managers: %s%s", len(stale), shown, more)
    return stale


def _csv_rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Return the rows of one of the run's own CSV files (none when it is absent); ValueError without `columns`."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return []
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in columns if c not in (reader.fieldnames or ())]
    if missing:
        raise ValueError(f"{path.name} has no column {', '.join(missing)}")
    return list(reader)


def _late_unsubscribes(state: State, folder: Path, run_id: str, deliveries: list[Delivery]) -> list[str]:
    """Return the contacts whose messages go to an address unsubscribed after the run was rendered.

    The run left out every address suppressed when it was made; an unsubscribe since (the web
    endpoint, `windstil unsubscribe import`, a mailto) must not be sent anyway, so the
    approval leaves those contacts out, as if excluded.
    """
    rendered_at = next((r.rendered_at for r in state.runs() if r.run_id == run_id), None)
    if rendered_at is None:
        return []
    late = {s.email for s in state.suppressions_added_since(rendered_at)}
    if not late:
        return []
    month = deliveries[0].month if deliveries else ""
    problems: list[Problem] = []  # a message that cannot be read is refused by send, with its problem
    hit = set()
    for delivery in deliveries:
        path = f"emails/{delivery.contact_id}/{delivery.kind.value}.eml"
        message = planned_message(folder, path, delivery.contact_id, delivery.kind.value, month, problems)
        if message is not None and suppression_key(message.recipient) in late:
            hit.add(delivery.contact_id)
    return sorted(hit)


