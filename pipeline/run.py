"""The monthly batch, top to bottom: load → segment → quiet → select → render → calls → reports → site.

`run_batch()` is the whole run in one screen; each stage is one call with explicit
arguments. Output goes into a temporary folder that replaces `output/<as-of>` only when
everything was written; the state learns of the run only after that rename succeeded, so
a failure or an interruption leaves both the previous run folder and the state untouched.
"""

from __future__ import annotations

import csv
import ctypes
import gc
import io
import json
import logging
import os
import pickle  # nosec B403
import platform
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any

from pipeline import __version__, workers
from pipeline.addresses import VALIDATOR, AddressBook
from pipeline.call_lists import start_list_writer, write_call_lists
from pipeline.calls import build_calls
from pipeline.checks.content import LinkPolicy
from pipeline.checks.spam import SpamResult, SpamScorer, spamassassin_available
from pipeline.checks.stage import (
    CheckResults,
    MessageKey,
    VariantKey,
    add_spam_findings,
    checks_csv_bytes,
    message_variants,
    run_checks,
    spam_representatives,
    unscored_items,
)
from pipeline.errors import OutputError, UsageError, WindstilError
from pipeline.feedback import FeedbackKind
from pipeline.fingerprint import project_hashes
from pipeline.load import load_project, normalise_email
from pipeline.lock import project_lock
from pipeline.models import (
    CallItem,
    Contact,
    Dataset,
    Delivery,
    Interaction,
    MessageKind,
    Project,
    QuietStatus,
    RenderedMessage,
    Segmentation,
    Selection,
    Settings,
)
from pipeline.processes import Processes, Workers
from pipeline.quiet import quiet_periods
from pipeline.render.compile import Compiled, compile_templates
from pipeline.reports import segmentation_report_pieces
from pipeline.retention import compute_retention, render_retention_report
from pipeline.segment import months_before, resolve_segmentation, segment, segments_csv_bytes
from pipeline.select import recipients_csv_bytes, select
from pipeline.site import REPORT_TITLES, SiteData, write_site
from pipeline.state import State
from pipeline.unsubscribe import secret_for_run
from pipeline.workers import WORKER, hold_for_rendering, render_chunk, render_processes
from pipeline.writer import RunWriter, atomic_folder, csv_bytes, remove_stale_temp_folders, spreadsheet_text

log = logging.getLogger(__name__)


Progress = Callable[[str, int, int], None]


class Interrupted(WindstilError):
    """The run was stopped by a signal; nothing was written."""

    def __init__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name}: the run was abandoned, previous output kept")
        self.exit_code = 128 + signum


@dataclass(frozen=True)
class RunResult:
    """What a run did, for the summary table."""

    run_id: str
    folder: Path
    counts: dict[str, int]
    timings: dict[str, float]
    warnings: tuple[str, ...]
    dry_run: bool = False


@dataclass
class _Timer:
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            # A stage may come back (the checks wait for SpamAssassin after the reports): its times add up.
            self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - start, 3)


def run_batch(
    root: Path,
    *,
    as_of: date,
    jobs: int | None = None,
    dry_run: bool = False,
    force: bool = False,
    progress: Progress | None = None,
) -> RunResult:
    """Run the monthly batch for `as_of` on the project at `root` and return its summary.

    With more than one job the render processes are spawned: a script that calls this must
    do so under `if __name__ == "__main__":`, as every multiprocessing program must.
    """
    timer = _Timer()
    run_id = as_of.isoformat()
    with timer.stage("load"):
        project, checked_addresses = _load(root)
    settings, config, data = project.settings, project.segments, project.data
    output = settings.paths.output
    with project_lock(output), _signals_as_errors(), _long_lived(), State.open(settings.paths.state) as state:
        if state.run_status(run_id) == "approved" and not force:
            raise UsageError(f"run {run_id} is approved already; re-run it with --force to replace its files")
        remove_stale_temp_folders(output)
        warnings = _logged_warnings(data)
        secret = secret_for_run(settings.paths.state.parent, warnings, first=not state.runs(), dry_run=dry_run)
        with timer.stage("compile"):
            compiled = compile_templates(settings, data.content)
        # Started now, the render processes get ready while this process segments and selects.
        with render_processes(project, as_of, secret, jobs) as processes:
            with timer.stage("segment"):
                frozen = state.latest_frozen_segmentation(on_or_before=as_of)
                segmentation = resolve_segmentation(data, config, as_of, frozen)
            warnings += segmentation.warnings
            with timer.stage("quiet"):
                quiet = quiet_periods(data, config, as_of)
            with timer.stage("select"):
                # The run's own deliveries (an approved run re-made with --force) must not block it.
                sent = [d for d in state.deliveries(approved_only=True) if d.run_id != run_id]
                suppressed = {s.email for s in state.suppressions()}
                selections = select(data, config, segmentation, quiet, sent, as_of, suppressed)
            gc.freeze()  # the selections live as long as the dataset (see _long_lived)
            previous_as_of = frozen.as_of if frozen else None
            del frozen
            variants = message_variants(selections) if settings.checks_enabled else {}
            spam_targets = spam_representatives(variants, settings.spam_max_variants)
            with atomic_folder(output / run_id, dry_run=dry_run) as writer, \
                    _Spool(writer.root) as records, _Spool(writer.root) as parked, \
                    _spam_scorer(state, spam_targets) as scorer:
                with timer.stage("render"):
                    _park(segmentation, parked)  # waits on disk through the peak (see _render_all)
                    del segmentation
                    _render_all(compiled, selections, project, as_of, secret, writer, records, processes,
                                progress, scorer, spam_targets)
                checks, rendered = _checks_stage(timer, project, run_id, writer, records, variants, processes)
                processes.stop()  # idle from here on: their memory is given back before the call lists
                segmentation = _unpark(parked)
                with timer.stage("calls"), _call_list_processes(data, processes.jobs) as writers:
                    calls, imported, earlier = _call_lists(writer, project, state, segmentation, quiet, selections,
                                                           as_of, writers.pool)
                with timer.stage("reports"):
                    if rendered is None:
                        rendered = _read_records(records, data.contacts)
                    _write_reports(writer, project, segmentation, earlier, selections, rendered, imported, as_of,
                                   previous_as_of)
                warnings += _spam_stage(timer, project, state, checks, rendered, variants, scorer, spam_targets,
                                        dry_run)
                writer.write_bytes("checks.csv", checks_csv_bytes(checks))
                counts = _counts(data, segmentation, quiet, selections, rendered, calls) | checks.counts()
                previous = _previous_manifest(output, run_id)
                with timer.stage("site"):
                    write_site(writer, _site_data(project, state, as_of, counts, warnings, selections, rendered,
                                                  segmentation, calls, previous, quiet, checks))
                manifest = _manifest(project, run_id, counts, timer.timings, warnings, segmentation,
                                     writer.bytes_written, checks)
                writer.write_text("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        if not dry_run:
            state.record_run(run_id, as_of, manifest["hashes"]["inputs"] | manifest["hashes"]["config"])
            state.remember_address_checks(VALIDATOR, checked_addresses)  # for the next load
    return RunResult(run_id, output / run_id, counts, timer.timings, tuple(warnings), dry_run)


def _logged_warnings(data: Dataset) -> list[str]:
    """Log the load's warnings and the number of rejects; return the warnings (the run adds to them)."""
    warnings = list(data.warnings)
    for warning in warnings:
        log.warning(warning)
    if data.rejects:
        log.warning("%d input rows rejected; they are listed in rejects.csv", len(data.rejects))
    return warnings


def _checks_stage(
    timer: _Timer,
    project: Project,
    run_id: str,
    writer: RunWriter,
    records: _Spool,
    variants: Mapping[MessageKey, VariantKey],
    processes: Processes,
) -> tuple[CheckResults, dict[tuple[str, MessageKind], RenderedMessage] | None]:
    """Run the pre-send checks (when on) on what was rendered; return them and the records if read.

    SpamAssassin's findings come later (see _spam_stage): it goes on scoring meanwhile.
    """
    settings = project.settings
    checks, rendered = CheckResults(), None
    if settings.checks_enabled:
        # Read here, not in the reports stage, since the checks need them too.
        with timer.stage("records"):
            rendered = _read_records(records, project.data.contacts)
        with timer.stage("checks"):
            # Before the render processes stop: they run the content checks of the variants.
            checks = run_checks(writer.root, rendered, variants, _link_policy(settings, run_id), pool=processes.pool)
    return checks, rendered


def _spam_stage(
    timer: _Timer,
    project: Project,
    state: State,
    checks: CheckResults,
    rendered: Mapping[tuple[str, MessageKind], RenderedMessage] | None,
    variants: Mapping[MessageKey, VariantKey],
    scorer: SpamScorer[VariantKey] | None,
    spam_targets: Mapping[MessageKey, VariantKey],
    dry_run: bool,
) -> list[str]:
    """Add SpamAssassin's findings to the checks, and remember its new scores in the state.

    Return a warning when items went out in no scored message (see unscored_items).
    """
    if not project.settings.checks_enabled or rendered is None:
        return []
    with timer.stage("checks"):
        # SpamAssassin went on scoring alongside the call lists and reports (one core each,
        # mostly); only what it has left is waited for here.
        add_spam_findings(checks, rendered, variants, _spam_source(scorer, spam_targets)(),
                          spam_available=scorer is not None)
        if scorer is not None and scorer.new and not dry_run:
            state.add_spam_scores(scorer.new)
    if scorer is None:  # nothing to score, or no SpamAssassin: the findings say so
        return []
    unscored = unscored_items(variants, [v for v, result in checks.spam.items() if result is not None])
    if unscored is None:
        return []
    log.warning(unscored)
    return [unscored]


def _call_lists(
    writer: RunWriter,
    project: Project,
    state: State,
    segmentation: Segmentation,
    quiet: dict[str, QuietStatus],
    selections: Sequence[Selection],
    as_of: date,
    pool: Workers | None = None,
) -> tuple[list[CallItem], list[Interaction], Segmentation]:
    """Make and write the call lists; return them, the call outcomes imported into the state, and `earlier`.

    `earlier` is the segmentation a window before the as-of date, by the same method: the call
    lists weigh a revenue decline by it, and the retention report counts per segment by it.

    The call lists and the reports read data.interactions themselves; they get the imported
    call outcomes on top. With a `pool`, its processes write the account managers' files.
    """
    data, settings = project.data, project.settings
    earlier = segment(data, project.segments, months_before(as_of, project.segments.window_months))
    imported = state.interactions()
    before = state.latest_run_before(as_of.isoformat())
    feedback = state.feedback((FeedbackKind.CLICK, FeedbackKind.REPLY))
    calls = build_calls(data, project.segments, segmentation, quiet, selections, imported, as_of,
                        feedback, before.as_of if before else None, language=settings.language, earlier=earlier)
    write_call_lists(writer, calls, data, settings, as_of, pool)
    return calls, imported, earlier


def _call_list_processes(data: Dataset, jobs: int) -> AbstractContextManager[Processes]:
    """Return processes that write the call lists, as many as rendered (none if the render stayed here).

    Fresh ones, small: the render processes' compiled templates would only take memory here.
    They start while this process decides the calls.
    """
    return Processes.spawn(jobs if len(data.account_managers) > 1 else 0, "call-list", start_list_writer)


def _write_reports(
    writer: RunWriter,
    project: Project,
    segmentation: Segmentation,
    earlier: Segmentation,
    selections: Sequence[Selection],
    rendered: Mapping[tuple[str, MessageKind], RenderedMessage],
    imported: Sequence[Interaction],
    as_of: date,
    previous_as_of: date | None,
) -> None:
    """Write the reports and the run's CSV files."""
    data, config, settings = project.data, project.segments, project.settings
    templates = settings.paths.templates
    retention = compute_retention(data, segmentation, config, as_of, imported, earlier)
    writer.write_pieces("reports/segments.html", segmentation_report_pieces(
        segmentation, data, config, previous_as_of=previous_as_of, in_run=True,
        templates=templates, language=settings.language))
    writer.write_text("reports/retention.html", render_retention_report(
        retention, templates=templates, language=settings.language))
    writer.write_bytes("segments.csv", segments_csv_bytes(segmentation))
    writer.write_bytes("recipients.csv", recipients_csv_bytes(selections))
    writer.write_bytes("rejects.csv", rejects_csv_bytes(data))
    writer.write_bytes("deliveries.csv", deliveries_csv_bytes(rendered.values()))


def _site_data(
    project: Project,
    state: State,
    as_of: date,
    counts: dict[str, int],
    warnings: Sequence[str],
    selections: Sequence[Selection],
    rendered: Mapping[tuple[str, MessageKind], RenderedMessage],
    segmentation: Segmentation,
    calls: Sequence[CallItem],
    previous: Mapping[str, Any] | None,
    quiet: Mapping[str, QuietStatus],
    checks: CheckResults,
) -> SiteData:
    """Return what the review site shows of this run."""
    data, settings = project.data, project.settings
    run_id = as_of.isoformat()
    before = state.latest_run_before(run_id)
    return SiteData(
        as_of=as_of,
        created=_now(),
        counts=counts,
        warnings=tuple(warnings),
        selections=selections,
        rendered=rendered,
        data=data,
        segmentation=segmentation,
        calls=calls,
        previous=previous,
        quiet=quiet,
        checks=checks.findings if settings.checks_enabled else None,
        accepted=state.accepted_checks(run_id),
        sender=settings.sender_name,
        spam=checks.spam_summary(),
        templates=_existing(settings.paths.templates / "site"),
        feedback=state.feedback(since=_start_of(before.as_of) if before else None),
        feedback_since=before.as_of if before else None,
        tracking=settings.tracking is not None,
        reports=((REPORT_TITLES["segments"], "reports/segments.html"),
                 (REPORT_TITLES["retention"], "reports/retention.html")),
        language=settings.language,
        locale_templates=settings.paths.templates,
        call_lists=tuple(
            (data.account_managers[am].name, f"calls/{am}.html")
            for am in sorted({c.account_manager_id for c in calls})
        ),
    )


def _start_of(day: date) -> datetime:
    """Return the start of `day` in UTC: what came back on the previous run's date counts as since then."""
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


# --------------------------------------------------------------------------- rendering


def _render_all(
    compiled: Compiled,
    selections: Sequence[Selection],
    project: Project,
    as_of: date,
    secret: bytes,
    writer: RunWriter,
    records: _Spool,
    processes: Processes,
    progress: Progress | None,
    scorer: SpamScorer[VariantKey] | None = None,
    spam_targets: Mapping[MessageKey, VariantKey] | None = None,
) -> None:
    """Render every message of the batch into the writer's folder, in the render processes if there are any.

    SpamAssassin (`scorer`) scores each variant's representative as soon as it is written.
    The render stage is the run's peak: its processes are alive too. What only the later
    stages need waits on disk meanwhile (the segmentation: 17 MB at 30,000 demo customers),
    as do the records of what is rendered, and what was freed before is given back first.

    The chunks are cut one by one as the processes take them (at most two a process are
    handed out at once), so only a few are ever in memory; the records of what each chunk made are
    kept in `records`, unread (see _read_records).
    """
    _give_back_freed_memory()
    todo = [s for s in selections if s.newsletter or s.alert]
    data = project.data
    done = 0
    rendered = _feed_spam(scorer, spam_targets or {}, writer.root) if scorer is not None else None

    def collect(result: tuple[bytes, int, int]) -> None:
        nonlocal done
        made, written, recipients = result
        records.add_pickled(made)
        writer.bytes_written += written
        done += recipients
        if rendered is not None:
            rendered(todo[done - recipients : done])
        if progress:
            progress("render", done, len(todo))

    if progress:
        progress("render", 0, len(todo))
    chunks = workers.chunks(todo, data, workers.CHUNK, writer.root)
    if processes.pool is None or len(todo) <= workers.CHUNK:
        hold_for_rendering(compiled, project.settings, data.content, data.account_managers, data.products,
                            as_of, secret)
        try:
            for chunk in chunks:
                collect(render_chunk(chunk))
        finally:
            WORKER.clear()
    else:
        try:
            for result in processes.pool.imap(render_chunk, chunks):  # in order, streamed
                collect(result)
        except BaseException:
            processes.stop()  # before the temporary folder is removed: they may be writing into it
            raise


@contextmanager
def _spam_scorer(state: State, targets: Mapping[MessageKey, VariantKey]) -> Iterator[SpamScorer[VariantKey] | None]:
    """Return a SpamScorer with the state's cached scores, or None when there is nothing to score or no SpamAssassin."""
    if not targets or not spamassassin_available():
        yield None
        return
    scorer: SpamScorer[VariantKey] = SpamScorer(state.spam_scores())
    try:
        yield scorer
    finally:
        scorer.close()


def _feed_spam(scorer: SpamScorer[VariantKey], targets: Mapping[MessageKey, VariantKey],
               folder: Path) -> Callable[[Sequence[Selection]], None]:
    """Return what hands each rendered representative of a variant to the spam scorer."""

    def feed(done: Sequence[Selection]) -> None:
        for selection in done:
            for kind in MessageKind:
                variant = targets.get((selection.contact_id, kind))
                if variant is None:  # most messages: at most 200 of them stand for a variant
                    continue
                path = folder / "emails" / selection.contact_id / f"{kind.value}.eml"
                if path.is_file():
                    scorer.submit(variant, path.read_bytes())

    return feed


SpamScores = Mapping[VariantKey, SpamResult | None]


def _spam_source(scorer: SpamScorer[VariantKey] | None,
                 targets: Mapping[MessageKey, VariantKey]) -> Callable[[], SpamScores | None]:
    """Return what gives the spam scores: the scorer's, none scored (no SpamAssassin), or None (scoring off)."""
    if scorer is not None:
        return scorer.results

    def nothing_scored() -> SpamScores | None:
        return {} if targets else None

    return nothing_scored


def _link_policy(settings: Settings, run_id: str) -> LinkPolicy:
    """Return what links to the company's site must carry in this run (the unsubscribe link is exempt)."""
    return LinkPolicy(
        website=settings.website_url,
        utm=(("utm_source", settings.utm_source), ("utm_medium", settings.utm_medium), ("utm_campaign", run_id)),
        exempt=(settings.unsubscribe_url,),
    )


class _Spool:
    """Values kept on disk for a while, in the order added: an unnamed temporary file of pickles.

    The file is made in the run's temporary folder, so nothing is ever written outside it,
    and it has no name, so nothing is left behind if the run dies. Only this run's own values
    are ever read back from it.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        try:
            self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 - closed by __exit__
        except OSError as error:
            raise self._error(error) from error

    def __enter__(self) -> _Spool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._file.close()

    def add(self, value: object) -> None:
        """Keep a value."""
        self.add_pickled(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))

    def add_pickled(self, pickled: bytes) -> None:
        """Keep a value pickled elsewhere (by a render process), without unpickling it here."""
        try:
            self._file.seek(0, os.SEEK_END)
            self._file.write(pickled)
            self._file.flush()  # a full disk is said here, not later in whichever stage reads
        except OSError as error:
            raise self._error(error) from error

    def __iter__(self) -> Iterator[Any]:
        """Yield the values kept, in the order added."""
        self._file.seek(0)
        while True:
            try:
                yield pickle.load(self._file)  # noqa: S301 - this run's own values (see the class)
            except EOFError:
                return
            except OSError as error:
                raise self._error(error) from error

    def _error(self, error: OSError) -> OutputError:
        return OutputError(f"cannot keep the run's working data in {self._folder}: {error.strerror}")


_PARKED_AT_ONCE = 1000  # customers a pickle (see _park)


def _load(root: Path) -> tuple[Project, dict[str, str | None]]:
    """Load the project; return it and the addresses this load checked, for the state at the end of the run."""
    addresses = AddressBook(normalise_email)
    project = load_project(root, addresses)
    # The book itself (every address remembered from earlier runs: 10 MB at 30,000 demo
    # customers) is done with.
    return project, addresses.new


def _give_back_freed_memory() -> None:
    """Return the C heap's free pages to the system, before the render stage (the run's peak).

    What the load, segmentation and selection freed stays with the process otherwise: glibc
    gives back only the top of its heap by itself. At 30,000 demo customers this is 19 MB of
    the main process at the peak, at 10,000 4 MB (benchmarks/README.md). Elsewhere than glibc it
    does nothing.
    """
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):  # not a name this system knows
        glibc = None
    if glibc:
        ctypes.CDLL(None).malloc_trim(0)  # glibc's own: loaded in every process it runs


def _park(segmentation: Segmentation, spool: _Spool) -> None:
    """Keep the segmentation in `spool`, a thousand customers at a time (see _unpark).

    Pickled at once, it was held a second time as text while pickling (every share is
    pickled as its str): 20 MB at 30,000 demo customers, at the start of the render stage.
    """
    spool.add(replace(segmentation, customers={}))
    values = list(segmentation.customers.values())
    for start in range(0, len(values), _PARKED_AT_ONCE):
        spool.add(values[start : start + _PARKED_AT_ONCE])


def _unpark(spool: _Spool) -> Segmentation:
    """Return the segmentation _park kept in `spool`, customers in their order."""
    values = iter(spool)
    head: Segmentation = next(values)
    return replace(head, customers={value.customer_id: value for part in values for value in part})


def _read_records(records: _Spool, contacts: Mapping[str, Contact]) -> dict[tuple[str, MessageKind], RenderedMessage]:
    """Return every rendered record by (contact_id, kind), in the order rendered.

    The render processes send each chunk's records pickled, and _render_all keeps them on
    disk unread: held here they were 24 MB at 30,000 demo customers through the render stage.
    Read back for the reports and the site with one copy of each equal subject, preheader and
    item list, and the contact's own id (5,242 distinct subjects over 15,039 messages at
    10,000 demo customers; each chunk came with copies of its own).
    """
    rendered: dict[tuple[str, MessageKind], RenderedMessage] = {}
    distinct: dict[Any, Any] = {}
    for messages in records:
        for message in messages:
            contact_id = contacts[message.contact_id].contact_id
            rendered[(contact_id, message.kind)] = replace(
                message,
                contact_id=contact_id,
                subject=distinct.setdefault(message.subject, message.subject),
                preheader=distinct.setdefault(message.preheader, message.preheader),
                item_ids=distinct.setdefault(message.item_ids, message.item_ids),
                lints=distinct.setdefault(message.lints, message.lints),
            )
    return rendered


# --------------------------------------------------------------------------- files


def rejects_csv_bytes(data: Dataset) -> bytes:
    """Return rejects.csv: every bad input row with file, line, column, value and reason."""
    return csv_bytes(
        ("file", "line", "column", "value", "reason"),
        [(r.file, r.line, r.column, spreadsheet_text(r.value), r.reason) for r in data.rejects],
    )


def deliveries_csv_bytes(rendered: Any) -> bytes:
    """Return deliveries.csv: what `windstil approve` records as sent."""
    rows = sorted(
        (m.contact_id, m.kind.value, ";".join(m.item_ids), m.message_id) for m in rendered
    )
    return csv_bytes(("contact_id", "kind", "item_ids", "message_id"), rows)


def read_deliveries(folder: Path, run_id: str, as_of: date) -> list[Delivery]:
    """Read a run folder's deliveries.csv back as Delivery records."""
    path = folder / "deliveries.csv"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"{path}: cannot read the run's deliveries ({error.strerror})") from error
    return [
        Delivery(run_id=run_id, contact_id=row["contact_id"], kind=MessageKind(row["kind"]),
                 as_of=as_of, item_ids=tuple(filter(None, row["item_ids"].split(";"))),
                 message_id=row["message_id"])
        for row in csv.DictReader(io.StringIO(text))
    ]


# --------------------------------------------------------------------------- manifest


def _counts(
    data: Dataset,
    segmentation: Segmentation,
    quiet: dict[str, Any],
    selections: Sequence[Selection],
    rendered: dict[tuple[str, MessageKind], RenderedMessage],
    calls: Sequence[CallItem],
) -> dict[str, int]:
    segments = Counter(v.segment.value for v in segmentation.customers.values())
    kinds = Counter(kind.value for _, kind in rendered)
    skips = Counter(r.value for s in selections for r in s.newsletter_reasons)
    lints = Counter(lint.code for m in rendered.values() for lint in m.lints)
    counts = {
        "customers": len(data.customers),
        "contacts": len(data.contacts),
        **{f"segment_{s}": segments.get(s, 0) for s in "ABCD"},
        "quiet_customers": sum(1 for q in quiet.values() if q.quiet),
        "newsletters": kinds.get("newsletter", 0),
        "alerts": kinds.get("alert", 0),
        "fallback_newsletters": sum(1 for s in selections if s.newsletter and s.fallback),
        "calls": len(calls),
        "rejects": len(data.rejects),
        "lints": sum(lints.values()),
        **{f"skip_{reason}": n for reason, n in sorted(skips.items())},
        **{f"lint_{code}": n for code, n in sorted(lints.items())},
    }
    return counts


def _previous_manifest(output: Path, run_id: str) -> dict[str, Any] | None:
    """Return the manifest of the latest run before this one, if there is one."""
    earlier = sorted(p.name for p in output.glob("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]")
                     if p.is_dir() and p.name < run_id)
    if not earlier:
        return None
    try:
        result: dict[str, Any] = json.loads((output / earlier[-1] / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return result


def _versions() -> dict[str, str]:
    versions = {"windstil": __version__, "python": platform.python_version()}
    for dist in ("Jinja2", "mjml-python", "premailer", "nh3", "markdown-it-py", "Babel", "XlsxWriter"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def _manifest(
    project: Project,
    run_id: str,
    counts: dict[str, int],
    timings: dict[str, float],
    warnings: Sequence[str],
    segmentation: Segmentation,
    bytes_written: int,
    checks: CheckResults,
) -> dict[str, Any]:
    """Return the run's manifest: what made it, its counts and timings, and SpamAssassin's scores by kind."""
    return {
        "as_of": run_id,
        "created": _now(),
        "versions": _versions(),
        "hashes": project_hashes(project.settings),
        "segmentation": {
            "source": "frozen" if segmentation.frozen_at else "computed",
            "frozen_at": segmentation.frozen_at.isoformat() if segmentation.frozen_at else None,
        },
        "counts": counts,
        "timings": timings,
        "bytes_written": bytes_written,
        "warnings": list(warnings),
        "spam": checks.spam_summary(),
    }


def _now() -> str:
    # Wall-clock time belongs in the manifest and the site only, never inside an e-mail.
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _existing(folder: Path) -> Path | None:
    """Return the project's own template folder when it has one; else the bundled one is used."""
    return folder if folder.is_dir() else None


# --------------------------------------------------------------------------- memory


@contextmanager
def _long_lived() -> Iterator[None]:
    """Keep the cyclic GC from walking the loaded dataset again and again during the run.

    The dataset lives for the whole run, yet every full collection walked its million objects:
    freezing it saved about 2 s of CPU in the later stages at 10,000 customers. Unfrozen at
    the end, for callers that run more than one batch in a process (the tests).
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# --------------------------------------------------------------------------- signals


@contextmanager
def _signals_as_errors() -> Iterator[None]:
    """Turn SIGTERM into an exception, so the temporary folder is cleaned up on the way out."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    before = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(signal.SIGINT) from None
    finally:
        signal.signal(signal.SIGTERM, before)
