"""The `windstil` command line: parse options, call the core, print results.

This is the only module that imports click and the only one that prints. The core raises
`WindstilError`s; `main()` turns them into one-line messages and exit codes
(0 success, 1 the work failed, 2 bad usage or invalid input/config).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from pipeline.errors import UsageError, WindstilError

log = logging.getLogger("pipeline")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Context:
    """What the group options decide, handed to every command."""

    project_option: Path | None
    verbosity: int

    @property
    def project(self) -> Path:
        """Return the project folder: --project, else the current folder; it must hold settings.yaml."""
        root = (self.project_option or Path.cwd()).resolve()
        if not (root / "settings.yaml").is_file():
            hint = "" if self.project_option else " (cd into the project or pass --project DIR)"
            raise UsageError(f"{root}: no settings.yaml here, so this is not a Windstil project{hint}")
        return root


pass_context = click.make_pass_decorator(Context)


class IsoDate(click.ParamType):  # type: ignore[type-arg, unused-ignore]  # generic from click 8.2 on
    """A `YYYY-MM-DD` date option."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date in the form YYYY-MM-DD", param, ctx)


ISO_DATE = IsoDate()


def echo_err(message: str) -> None:
    click.echo(message, err=True)


def user_errors(func: F) -> F:
    """Turn a WindstilError into a message and its exit code, with no traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except WindstilError as error:
            echo_err(f"error: {error}")
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            echo_err("interrupted; nothing was changed")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


class _ClickHandler(logging.Handler):
    """Send the core's log records to stderr through click (warnings and up by default)."""

    def emit(self, record: logging.LogRecord) -> None:
        prefix = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        click.echo(f"{prefix}{record.getMessage()}", err=True)


def _setup_logging(verbosity: int) -> None:
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    root = logging.getLogger("pipeline")
    root.handlers[:] = [_ClickHandler()]
    root.setLevel(level)
    root.propagate = False


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project folder (the one holding settings.yaml). Default: the current folder.",
)
@click.option("-v", "--verbose", count=True, help="Say more (-vv for debug output).")
@click.option("-q", "--quiet", is_flag=True, help="Only print errors.")
@click.version_option(package_name="windstil", prog_name="windstil")
@click.pass_context
def cli(ctx: click.Context, project: Path | None, verbose: int, quiet: bool) -> None:
    """Windstil: keep B2B customers warm between orders.

    Once a month: segment customers by value, find the ones in a quiet period, render
    personal newsletters and alerts, write call lists, and review it all before it goes out.

    \b
    Example:
      windstil validate
      windstil --project ~/crm-export run --as-of 2026-11-30
    """
    verbosity = -1 if quiet else verbose
    _setup_logging(verbosity)
    ctx.obj = Context(project_option=project, verbosity=verbosity)


# --------------------------------------------------------------------------- run & approve


def _summary_table(rows: list[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label:<{width}}  {value:>8}" for label, value in rows)


@cli.command()
@click.option("--as-of", "as_of", type=ISO_DATE, default=None, help="The run's date (YYYY-MM-DD). Default: today.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Render processes. Default: all cores, or one for a run of up to 1,000 contacts.")
@click.option("--dry-run", is_flag=True, help="Do everything but write: check that the batch would succeed.")
@click.option("--force", is_flag=True, help="Replace a run that was approved already.")
@pass_context
@user_errors
def run(obj: Context, as_of: date | None, jobs: int | None, dry_run: bool, force: bool) -> None:
    """Run the monthly batch: segment, select, render, call lists, reports, review site.

    The run lands in output/<as-of>/ only when complete; open its index.html to review it,
    then `windstil approve <as-of>`.

    \b
    Example:
      windstil run --as-of 2026-11-30
      windstil run --as-of 2026-11-30 --jobs 2 --dry-run
    """
    from pipeline.run import run_batch

    bars: dict[str, Any] = {}

    def progress(step: str, done: int, total: int) -> None:
        if obj.verbosity < 0 or not total or not sys.stderr.isatty():
            return  # a bar is for people watching a terminal, not for logs
        bar = bars.get(step)
        if bar is None:
            bar = bars[step] = click.progressbar(length=total, label=f"{step:<8}", file=sys.stderr,
                                                 show_pos=True)
            bar.__enter__()
        bar.update(done - bar.pos)
        if done >= total:
            bar.__exit__(None, None, None)

    started = time.perf_counter()
    result = run_batch(obj.project, as_of=as_of or date.today(), jobs=jobs, dry_run=dry_run,
                       force=force, progress=progress)
    elapsed = time.perf_counter() - started
    if obj.verbosity < 0:
        return
    c = result.counts
    rows = [
        ("customers", str(c["customers"])),
        ("  segment A / B / C / D", f"{c['segment_A']}/{c['segment_B']}/{c['segment_C']}/{c['segment_D']}"),
        ("quiet customers", str(c["quiet_customers"])),
        ("contacts", str(c["contacts"])),
        ("newsletters", str(c["newsletters"])),
        ("alerts", str(c["alerts"])),
        ("calls", str(c["calls"])),
        ("rejected rows", str(c["rejects"])),
        ("lints", str(c["lints"])),
        ("check errors / warnings", f"{c.get('check_errors', 0)}/{c.get('check_warnings', 0)}"),
        ("warnings", str(len(result.warnings))),
        ("time", f"{elapsed:.1f} s"),
    ]
    title = "dry run (nothing written)" if result.dry_run else f"run {result.run_id}"
    click.echo(f"{title}\n{_summary_table(rows)}")
    if not result.dry_run:
        click.echo(f"review: {result.folder / 'index.html'}  (or: windstil preview {result.run_id})")


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.option("--exclude", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File with one contact_id a line: the reviewer's 'do not send'.")
@click.option("--accept", "accept", multiple=True, metavar="CHECK",
              help="Approve despite this check's error findings (repeatable); recorded with the approval.")
@pass_context
@user_errors
def approve(obj: Context, run_id: str, exclude: Path | None, accept: tuple[str, ...]) -> None:
    """Mark a reviewed run as final: its messages count as sent from now on.

    Cadence and "never the same item twice" read approved deliveries; a contact gets at most
    one newsletter a month, whatever is re-run or re-approved.

    \b
    Example:
      windstil approve 2026-11-30
      windstil approve 2026-11-30 --exclude do-not-send.txt
      windstil approve 2026-11-30 --accept spam_score --accept contrast

    A run whose pre-send checks found errors (checks.csv) is refused unless each check with
    errors is named with --accept.
    """
    from pipeline.approve import approve_run

    result = approve_run(obj.project, run_id, exclude, accept)
    if result.was_approved:
        click.echo(f"run {run_id} was approved already; nothing changed")
        return
    click.echo(
        f"approved {run_id}: {result.added} deliveries recorded, {result.excluded} contacts excluded"
        + (f", {result.already_sent} already sent this month" if result.already_sent else "")
    )
    if result.accepted:
        listed = ", ".join(f"{check} ({n} error{'' if n == 1 else 's'})" for check, n in result.accepted.items())
        click.echo(f"accepted despite their findings: {listed}")


# --------------------------------------------------------------------------- validate


MAX_WARNINGS_SHOWN = 20


@cli.command()
@pass_context
@user_errors
def validate(obj: Context) -> None:
    """Check every input, config file, content item and template; write nothing.

    Prints every problem at once as `file:line: field: message`, then a summary. Exits 0
    when there are no errors (warnings are printed but do not fail), 2 otherwise.

    Any rejected row is an error here, even though `windstil run` tolerates rejects up to
    settings.yaml's max_reject_share: a reject is a row to fix in the export. A contact
    with an invalid e-mail address is only a warning: it is kept for the call list. Only the
    first 20 warnings are printed; -v prints them all.

    \b
    Example:
      windstil validate
      windstil --project ~/crm-export validate
    """
    from pipeline.load import check_project

    result = check_project(obj.project)
    for problem in result.errors:
        click.echo(str(problem))
    if obj.verbosity >= 0:
        # Every error is listed; warnings (kept rows) are capped unless -v asks for all.
        shown = result.warnings if obj.verbosity > 0 else result.warnings[:MAX_WARNINGS_SHOWN]
        for warning in shown:
            click.echo(f"warning: {warning}")
        if len(shown) < len(result.warnings):
            click.echo(f"warning: … and {len(result.warnings) - len(shown)} more (windstil -v validate lists all)")
        counts = ", ".join(f"{n} {what if n != 1 else what.removesuffix('s')}" for what, n in result.counts.items())
        if counts:
            click.echo(f"loaded {counts}")
    n_errors, n_warnings = len(result.errors), len(result.warnings)
    verdict = "ok" if not n_errors else f"{n_errors} error{'s' if n_errors != 1 else ''}"
    if obj.verbosity >= 0 or n_errors:
        click.echo(f"{verdict}, {n_warnings} warning{'s' if n_warnings != 1 else ''}")
    if n_errors:
        sys.exit(2)


# --------------------------------------------------------------------------- calls


@cli.group()
def calls() -> None:
    """Call lists: record what came of the follow-up calls.

    \b
    Example:
      windstil calls import uitkomsten-jan.csv
    """


@calls.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
@user_errors
def calls_import(obj: Context, file: Path) -> None:
    """Record call outcomes (CSV) in the state, so the next run knows who was called.

    Columns: customer_id, contact_id, date (YYYY-MM-DD, not after today), outcome, note;
    optional channel (default call) and our_level (account_manager, or management when our
    director held the conversation). `;` or `,`, UTF-8 with or without BOM.

    Importing the same file twice adds nothing. Rows that cannot be recorded are listed as
    `file:line: field: reason`; the other rows are recorded, and the exit code is 2 so a
    script notices: fix those lines and import the file again. Outcomes such as "niet
    bereikt" or "voicemail" are counted but not recorded: nobody was reached.

    \b
    Example:
      windstil calls import uitkomsten-jan.csv
      windstil --project ~/crm-export calls import ~/Downloads/bellijst-am-jan.csv
    """
    from pipeline.calls_import import import_call_outcomes
    from pipeline.config import load_settings
    from pipeline.load import load_dataset
    from pipeline.state import State

    settings = load_settings(obj.project)
    data = load_dataset(settings)
    with State.open(settings.paths.state) as state:
        result = import_call_outcomes(file, data, state, date.today(), display=str(file))
    for problem in result.rejected:
        echo_err(str(problem))
    parts = [
        f"{result.added} added",
        f"{result.duplicates} skipped as duplicates",
        f"{result.rejected_rows} rejected",
    ]
    if result.not_reached:
        parts.append(f"{result.not_reached} not reached (not recorded)")
    click.echo(f"{result.file}: " + ", ".join(parts))
    if result.rejected:
        sys.exit(2)


# --------------------------------------------------------------------------- preview


@cli.command()
@click.argument("run_id", metavar="[RUN]", required=False)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port on 127.0.0.1; 0 picks a free one.")
@pass_context
@user_errors
def preview(obj: Context, run_id: str | None, port: int) -> None:
    """Serve a run's review site on 127.0.0.1 until Ctrl+C.

    RUN is the run's as-of date (its folder under output/); default: the latest run. Only
    this machine can reach the site. It also opens straight from output/RUN/index.html.

    \b
    Example:
      windstil preview
      windstil preview 2026-11-30 --port 0
    """
    from pipeline.config import load_settings
    from pipeline.preview import find_run, make_server

    settings = load_settings(obj.project)
    folder = find_run(settings.paths.output, run_id)
    server = make_server(folder, port)
    host, bound = str(server.server_address[0]), server.server_address[1]  # AF_INET: always text
    click.echo(f"review site of run {folder.name}: http://{host}:{bound}/  (Ctrl+C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("preview stopped")
    finally:
        server.server_close()


# --------------------------------------------------------------------------- segment


@cli.command("segment")
@click.option("--as-of", "as_of", type=ISO_DATE, default=None,
              help="Measure value up to this date (YYYY-MM-DD). Default: today.")
@click.option("--freeze", is_flag=True, help="Store this segmentation as final: later runs use it.")
@pass_context
@user_errors
def segment_command(obj: Context, as_of: date | None, freeze: bool) -> None:
    """Split the customers into A/B/C/D by value, and write the segmentation report.

    Writes output/segmentation/<as-of>/segments.csv and segments.html. Check the split against
    your own judgement (overrides go in segments.yaml), then make it final with --freeze.
    Customers that moved since the last frozen segmentation are listed with the reason.

    \b
    Example:
      windstil segment --as-of 2026-11-30
      windstil segment --as-of 2026-11-30 --freeze
    """
    from pipeline.models import Segment
    from pipeline.reports import write_segmentation
    from pipeline.segment import percent, summarize

    result = write_segmentation(obj.project, as_of or date.today(), freeze=freeze)
    seg = result.segmentation
    if obj.verbosity < 0:
        return
    summary = summarize(seg)
    state = "frozen" if result.frozen else "not frozen: review it, then run again with --freeze"
    click.echo(f"segmentation {seg.as_of.isoformat()} ({state})")
    for name, (count, share) in summary.items():
        click.echo(f"  segment {name}  {count:>5} customers  {percent(share):>7} of revenue")
    a_count, a_share = summary[Segment.A]
    click.echo(f"A: {a_count} of {len(seg.customers)} customers bring {percent(a_share)} of the revenue")
    if result.previous_as_of is not None:
        click.echo(f"moved since the frozen segmentation of {result.previous_as_of.isoformat()}: {len(seg.moves)}")
        for move in seg.moves[:10]:
            click.echo(f"  {move.name} ({move.customer_id}) {move.explanation}")
        if len(seg.moves) > 10:
            click.echo(f"  … and {len(seg.moves) - 10} more in the report")
    for warning in seg.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"report: {result.folder / 'segments.html'}")


@cli.command("demo-data")
@click.option("--customers", type=click.IntRange(min=1), default=150, show_default=True,
              help="How many customers to generate (about 2.7 contacts and 17 orders each).")
@click.option("--seed", type=int, default=2026, show_default=True,
              help="Random seed: the same seed always gives the same files.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the new project; must not exist yet, or be empty.")
@pass_context
@user_errors
def demo_data(obj: Context, customers: int, seed: int, out: Path) -> None:
    """Write a synthetic project (the sample company, any size) for trials and benchmarks.

    The folder gets data/, content/, templates/, segments.yaml and settings.yaml, so
    `windstil --project DIR` runs on it straight away. Dates are relative to 2026-11-30.

    \b
    Example:
      windstil demo-data --customers 100000 --seed 1 --out big-demo
      windstil --project big-demo validate
    """
    import time

    from pipeline.demo import generate_project

    started = time.perf_counter()
    summary = generate_project(out, customers, seed)
    seconds = time.perf_counter() - started
    if obj.verbosity >= 0:
        click.echo(
            f"wrote {out}: {summary.customers:,} customers, {summary.contacts:,} contacts, "
            f"{summary.orders:,} orders, {summary.evaluations:,} evaluations, "
            f"{summary.interactions:,} interactions, {summary.content_items} content items "
            f"in {seconds:.1f} s"
        )


# --------------------------------------------------------------------------- unsubscribe & state


@cli.group()
def unsubscribe() -> None:
    """Unsubscribes: record who clicked the link or asked to be left out.

    \b
    Example:
      windstil unsubscribe import afmeldingen-nov.csv
    """


@unsubscribe.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
@user_errors
def unsubscribe_import(obj: Context, file: Path) -> None:
    """Add unsubscribes to the state, so no later run mails those addresses.

    FILE holds one entry a line: an unsubscribe token, the whole unsubscribe link, the
    subject of the mailto unsubscribe (unsubscribe-<token>) or an e-mail address (a manual
    unsubscribe). Or it is the web endpoint's CSV log with a `token` column and optionally
    `date` (and `email` for rows without a token).

    Every token's signature is checked with the project's secret (WINDSTIL_SECRET or the
    state folder's `secret` file). Forged or malformed tokens are listed as
    `file:line: token: reason`; the valid lines are imported all the same, and the exit
    code is 2 so a script notices. Importing the same file again adds nothing.

    \b
    Example:
      windstil unsubscribe import afmeldingen-nov.csv
      windstil --project ~/crm-export unsubscribe import ~/Downloads/afmeldingen.txt
    """
    import os

    from pipeline.config import load_settings
    from pipeline.lock import project_lock
    from pipeline.state import State
    from pipeline.unsubscribe import SECRET_ENV, SECRET_FILE, load_secret
    from pipeline.unsubscribe_import import import_unsubscribes

    settings = load_settings(obj.project)
    state_dir = settings.paths.state.parent
    # Never make a new secret here: tokens in sent e-mails were signed with an existing one.
    has_secret = bool(os.environ.get(SECRET_ENV)) or (state_dir / SECRET_FILE).exists()
    secret = load_secret(state_dir) if has_secret else None
    # The project lock: an unsubscribe recorded while a run is selecting would be missed by
    # that run and, being older than its render, not caught by approve either.
    with project_lock(settings.paths.output), State.open(settings.paths.state) as state:
        result = import_unsubscribes(file, state, secret, date.today(), display=str(file))
    for problem in result.rejected:
        echo_err(str(problem))
    click.echo(
        f"{result.file}: {result.added} added, {result.already_suppressed} already suppressed, "
        f"{len(result.rejected)} rejected"
    )
    if result.rejected:
        sys.exit(2)


# --------------------------------------------------------------------------- serve


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; keep 127.0.0.1 behind a proxy on this machine.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="Port to listen on.")
@pass_context
@user_errors
def serve(obj: Context, host: str, port: int) -> None:
    """Serve the links in the e-mails: one-click unsubscribe, click redirects, /healthz.

    Answers at the path of settings.yaml `unsubscribe.url` (GET shows a confirmation page in
    the contact's language; POST, the RFC 8058 one-click body or the page's button,
    unsubscribes) and, when `tracking: {clicks: true, url: ...}` is set, at the path of
    `tracking.url` (records the click and redirects to the item's own page). Every record is
    written to the state at once; the next run and `send` honour it. Run it behind the
    company's HTTPS proxy; see the README for a systemd unit.

    \b
    Example:
      windstil serve --port 8080
      windstil --project /srv/windstil serve --host 127.0.0.1 --port 8080
    """
    from pipeline.config import load_settings
    from pipeline.web.server import serve as serve_endpoint

    settings = load_settings(obj.project)
    click.echo(f"windstil serve: listening on http://{host}:{port} (Ctrl+C stops)", err=True)
    serve_endpoint(settings, host, port)


# --------------------------------------------------------------------------- bounces


@cli.group()
def bounces() -> None:
    """Bounces, auto-replies and replies: read what came back from a mailing.

    \b
    Example:
      windstil bounces import ~/Downloads/retour-december.mbox
      windstil bounces fetch
    """


def _mail_context(obj: Context) -> tuple[Any, bytes | None, dict[str, str]]:
    """Return the settings, the unsubscribe secret (None if there is none yet) and the contacts by address."""
    import os

    from pipeline.config import load_settings
    from pipeline.load import load_dataset
    from pipeline.unsubscribe import SECRET_ENV, SECRET_FILE, load_secret

    settings = load_settings(obj.project)
    state_dir = settings.paths.state.parent
    # Never make a new secret here: tokens in sent e-mails were signed with an existing one.
    has_secret = bool(os.environ.get(SECRET_ENV)) or (state_dir / SECRET_FILE).exists()
    secret = load_secret(state_dir) if has_secret else None
    data = load_dataset(settings)
    contacts = {c.email.lower(): c.contact_id for c in data.contacts.values() if c.email}
    return settings, secret, contacts


def _print_mail_import(result: Any) -> None:
    counts = ", ".join(f"{n} {kind}" for kind, n in result.counts.items()) or "nothing new"
    click.echo(f"{result.source}: {result.read} new mails ({counts}); {result.already_read} read before")
    if result.suppressed:
        click.echo(f"suppressed: {', '.join(result.suppressed)}")
    for item in result.unclassified:
        subject = f" {item.subject!r}" if item.subject else ""
        click.echo(f"unclassified: {item.where}:{subject} {item.reason}")


@bounces.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@pass_context
@user_errors
def bounces_import(obj: Context, path: Path) -> None:
    """Read an mbox file, a Maildir or a folder of .eml files into the state.

    Delivery status notifications (bounces) are matched to our messages by the original
    Message-ID or the recipient: a permanent failure (5.x.x) suppresses the address, so do
    three temporary ones (4.x.x) in a row. Auto-replies and out-of-office notes are counted.
    A mail to the unsubscribe address whose subject carries a valid token unsubscribes. A
    person's reply is stored for the next call list. Each mail is read once (its Message-ID
    is remembered): importing the same mailbox again changes nothing. Mails that could not
    be classified are listed.

    \b
    Example:
      windstil bounces import ~/Downloads/retour-december.mbox
      windstil bounces import /var/mail/Maildir/.Bounces
    """
    from datetime import UTC, datetime

    from pipeline.lock import project_lock
    from pipeline.mail.bounces import import_mailbox
    from pipeline.state import State

    settings, secret, contacts = _mail_context(obj)
    with project_lock(settings.paths.output), State.open(settings.paths.state) as db:
        result = import_mailbox(path, db, secret, contacts, datetime.now(UTC))
    _print_mail_import(result)


@bounces.command("fetch")
@pass_context
@user_errors
def bounces_fetch(obj: Context) -> None:
    """Fetch new mail over IMAP (settings.yaml `bounces:`) and read it like `bounces import`.

    The password comes from the environment variable WINDSTIL_IMAP_PASSWORD. Mails are not
    deleted or marked read on the server; each one is fetched once (its UID and Message-ID
    are remembered in the state).

    \b
    Example:
      WINDSTIL_IMAP_PASSWORD=... windstil bounces fetch
    """
    from datetime import UTC, datetime

    from pipeline.lock import project_lock
    from pipeline.mail.imap import fetch_mailbox
    from pipeline.state import State

    settings, secret, contacts = _mail_context(obj)
    if settings.bounces is None:
        raise UsageError("settings.yaml: bounces: missing (host, port, username, folder of the IMAP mailbox)")
    with project_lock(settings.paths.output), State.open(settings.paths.state) as db:
        result = fetch_mailbox(settings.bounces, db, secret, contacts, datetime.now(UTC))
    _print_mail_import(result)


@cli.group()
def state() -> None:
    """The state database: runs, deliveries, frozen segmentations, suppressions.

    \b
    Example:
      windstil state check
    """


@state.command("check")
@pass_context
@user_errors
def state_check(obj: Context) -> None:
    """Check the state database's integrity; exit 1 when something is wrong.

    Runs SQLite's integrity and foreign-key checks and Windstil's own (schema version,
    approvals, deliveries, frozen segmentations). A damaged database is never repaired or
    overwritten: restore it from a backup.

    \b
    Example:
      windstil state check
      windstil --project ~/crm-export state check
    """
    from pipeline.config import load_settings
    from pipeline.errors import StateError
    from pipeline.state import State

    path = load_settings(obj.project).paths.state
    if not path.exists():
        click.echo(f"{path}: no state database yet (it is made by the first run); nothing to check")
        return
    try:
        with State.open(path) as db:
            problems = db.check()
            counts = (len(db.runs()), len(db.deliveries()), len(db.suppressions()))
    except StateError as error:
        if "locked" in str(error):
            raise  # busy, not broken: no reason to restore anything
        problems, counts = [str(error)], None
    for problem in problems:
        echo_err(f"{path}: {problem}")
    if problems:
        echo_err(f"{path}: {len(problems)} integrity problem{'s' if len(problems) != 1 else ''}; "
                 "restore the database from a backup")
        sys.exit(1)
    runs, deliveries, suppressions = counts or (0, 0, 0)
    click.echo(f"{path}: ok ({runs} runs, {deliveries} deliveries, {suppressions} suppressions)")


# --------------------------------------------------------------------------- send & outbox


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Send at most N messages now.")
@click.option("--dry-run", is_flag=True, help="Connect and log in, then stop: check the settings, send nothing.")
@click.option("--resend-uncertain", is_flag=True,
              help="Send again the messages left uncertain (they may have arrived already).")
@pass_context
@user_errors
def send(obj: Context, run_id: str, limit: int | None, dry_run: bool, resend_uncertain: bool) -> None:
    """Deliver an approved run over SMTP (settings.yaml `delivery:`): paced, resumable, never twice.

    Sends the run's newsletters and alerts (minus the exclusions), then each account manager's
    call list, through the outbox in the state: a message is never sent twice, and a
    stopped or killed send continues where it was. The password comes from
    WINDSTIL_SMTP_PASSWORD (auth: password) or from delivery.token_command (auth: xoauth2).

    Exit 0 when nothing is left to do; 1 when messages remain deferred or uncertain (run it
    again later), or the server refused the login; 2 for a run that is not approved or a bad
    setting. Uncertain messages (the connection broke before the server's reply) are listed;
    `windstil outbox RUN` shows them all.

    \b
    Example:
      WINDSTIL_SMTP_PASSWORD=… windstil send 2026-11-30 --dry-run
      windstil send 2026-11-30
      windstil send 2026-11-30 --limit 500
    """
    from pipeline.mail.outbox import Status
    from pipeline.mail.send import send_run

    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if obj.verbosity < 0 or not total or not sys.stderr.isatty():
            return
        if bar is None:
            bar = click.progressbar(length=total, label="sending ", file=sys.stderr, show_pos=True, show_eta=True)
            bar.__enter__()
        bar.update(done - bar.pos)

    started = time.perf_counter()
    try:
        result = send_run(obj.project, run_id, limit=limit, dry_run=dry_run, resend_uncertain=resend_uncertain,
                          progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if result.dry_run:
        click.echo(f"dry run: logged in to {result.server}; {result.due} message(s) of run {run_id} "
                   "would be sent; nothing was sent")
        return
    if obj.verbosity >= 0:
        for row in result.elsewhere:
            click.echo(f"already in the outbox of run {row.run_id}: {row.kind} {row.contact_id} ({row.status})")
        done = ", ".join(f"{n} {status}" for status, n in sorted(result.done.items()) if n) or "nothing to send"
        click.echo(f"send {run_id} via {result.server}: {done}")
        rows = [(status.value, str(result.counts.get(status, 0))) for status in Status if status is not Status.SENDING]
        rows.append(("time", f"{time.perf_counter() - started:.1f} s"))
        click.echo(f"run {run_id}, all messages:\n{_summary_table(rows)}")
    for row in result.uncertain:
        echo_err(f"uncertain: {row.kind} {row.contact_id} <{row.recipient}> {row.message_id}: {row.last_reply}")
    if result.uncertain:
        echo_err(f"{len(result.uncertain)} message(s) may or may not have arrived; see the README (Sending) before "
                 f"`windstil send {run_id} --resend-uncertain`")
    if result.stopped:
        echo_err(f"stopped: {result.stopped}")
    deferred = result.counts.get(Status.DEFERRED, 0)
    if deferred:
        echo_err(f"{deferred} message(s) deferred by the server; run `windstil send {run_id}` again later")
    sys.exit(result.exit_code)


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write every message and its status to this CSV file.")
@pass_context
@user_errors
def outbox(obj: Context, run_id: str, csv_path: Path | None) -> None:
    """Show every message of a run and its delivery status; --csv writes them as CSV.

    Prints the count per status (queued, sending, sent, deferred, failed, uncertain, skipped)
    and lists the messages that need a look: uncertain, deferred and failed. The CSV has
    contact_id, kind, message_id, status, attempts, last_reply, updated.

    \b
    Example:
      windstil outbox 2026-11-30
      windstil outbox 2026-11-30 --csv outbox-nov.csv
    """
    from pipeline.mail.report import outbox_report, write_outbox_csv

    report = outbox_report(obj.project, run_id)
    if csv_path is not None:
        write_outbox_csv(report.rows, csv_path)
    if obj.verbosity < 0:
        return
    if not report.rows:
        click.echo(f"run {run_id} ({report.run_status}): nothing in the outbox yet"
                   + (f"; `windstil send {run_id}` queues and sends it" if report.run_status == "approved" else ""))
    else:
        click.echo(f"run {run_id}: {len(report.rows)} messages\n"
                   + _summary_table([(status.value, str(n)) for status, n in report.counts.items()]))
        for row in report.attention:
            click.echo(f"{row.status}: {row.kind} {row.contact_id} <{row.recipient}> "
                       f"attempts {row.attempts}: {row.last_reply}")
    if csv_path is not None:
        click.echo(f"wrote {csv_path}")


def main() -> None:
    """Entry point of the console script."""
    cli(prog_name="windstil")
