"""The monthly batch: validate the inputs, segment, run, review (preview) and approve."""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import click

from pipeline.cli.base import ISO_DATE, Context, cli, pass_context, summary_table, user_errors

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


# --------------------------------------------------------------------------- run & approve


@cli.command()
@click.option("--as-of", "as_of", type=ISO_DATE, default=None, help="The run's date (YYYY-MM-DD). Default: today.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Render processes (the call lists get as many). Default: all cores, or one for a run of up to "
                   "1,000 contacts.")
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
    click.echo(f"{title}\n{summary_table(rows)}")
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
    if result.was_approved and result.excluded:
        click.echo(f"run {run_id} was approved already: withdrew {result.withdrawn} message(s) of "
                   f"{_contacts(result.excluded)}; they will not be sent")
        return
    if result.was_approved:
        click.echo(f"run {run_id} was approved already; nothing changed")
        return
    click.echo(
        f"approved {run_id}: {result.added} deliveries recorded, {_contacts(result.excluded)} excluded"
        + (f", {result.already_sent} already sent this month" if result.already_sent else "")
    )
    if exclude is None:
        click.echo("no exclusion list given: every recipient of the run is approved (the review site's list is "
                   "downloaded on its Recipients page, then given with --exclude)")
    if result.unsubscribed:
        shown = ", ".join(result.unsubscribed[:5]) + (" …" if len(result.unsubscribed) > 5 else "")
        click.echo(f"left out {_contacts(len(result.unsubscribed))} who unsubscribed after the run was made: {shown}")
    if result.accepted:
        listed = ", ".join(f"{check} ({n} error{'' if n == 1 else 's'})" for check, n in result.accepted.items())
        click.echo(f"accepted despite their findings: {listed}")
    click.echo(f"next: windstil send {run_id}  (windstil send {run_id} --dry-run checks the connection first)")


def _contacts(count: int) -> str:
    return f"{count} contact{'' if count == 1 else 's'}"


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
