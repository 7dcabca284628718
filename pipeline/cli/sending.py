"""Delivering an approved run and following it: `send` and `outbox`."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from pipeline.cli.base import Context, cli, echo_err, pass_context, summary_table, user_errors

# --------------------------------------------------------------------------- send & outbox


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Send at most N messages now.")
@click.option("--dry-run", is_flag=True, help="Connect and log in, then stop: check the settings, send nothing.")
@click.option("--resend-uncertain", is_flag=True,
              help="Send again the messages left uncertain (they may have arrived already).")
@click.option("--resend", "resend", metavar="MESSAGE_ID", multiple=True,
              help="Send again only this uncertain message (its Message-ID); repeat for more.")
@pass_context
@user_errors
def send(obj: Context, run_id: str, limit: int | None, dry_run: bool, resend_uncertain: bool,
         resend: tuple[str, ...]) -> None:
    """Deliver an approved run over SMTP (settings.yaml `delivery:`): paced, resumable, never twice.

    Sends the run's newsletters and alerts (minus the exclusions), then each account manager's
    call list, through the outbox in the state: a message is never sent twice, and a
    stopped or killed send continues where it was. The password comes from
    WINDSTIL_SMTP_PASSWORD (auth: password) or from delivery.token_command (auth: xoauth2).

    Exit 0 when nothing is left to do; 1 when messages remain queued (after --limit), deferred
    or uncertain (run it again later), or the server refused the login; 2 for a run that is not
    approved or a bad setting. Ctrl+C, SIGTERM or SIGHUP finishes the messages in an SMTP
    transaction, records them and exits 130, 143 or 129. Uncertain messages (the connection
    broke before the server's reply) are listed; `windstil outbox RUN` shows them all. Look
    each one up in the provider's message trace: resend those that did not arrive with
    --resend MESSAGE_ID (or all with --resend-uncertain).

    \b
    Example:
      WINDSTIL_SMTP_PASSWORD=… windstil send 2026-11-30 --dry-run
      windstil send 2026-11-30
      windstil send 2026-11-30 --limit 500
      windstil send 2026-11-30 --resend '<newsletter.20261130.93cb…@polderlicht-it.nl>'
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
                          resend=resend, progress=progress)
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
        click.echo(f"run {run_id}, all messages:\n{summary_table(rows)}")
    for row in result.uncertain:
        echo_err(f"uncertain: {row.kind} {row.contact_id} <{row.recipient}> {row.message_id}: {row.last_reply}")
    if result.uncertain:
        echo_err(f"{len(result.uncertain)} message(s) may or may not have arrived: look each Message-ID up in the "
                 f"provider's message trace (docs: Sending, 'What to do with uncertain messages'); resend those that "
                 f"did not arrive with `windstil send {run_id} --resend MESSAGE_ID`")
    if result.stopped:
        echo_err(f"stopped: {result.stopped}")
    queued = result.counts.get(Status.QUEUED, 0)
    if queued and limit is not None and not result.stopped:
        echo_err(f"{queued} message(s) still queued after --limit {limit}; `windstil send {run_id}` goes on with them")
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
                   + summary_table([(status.value, str(n)) for status, n in report.counts.items()]))
        for row in report.attention:
            click.echo(f"{row.status}: {row.kind} {row.contact_id} <{row.recipient}> "
                       f"attempts {row.attempts}: {row.last_reply}")
    if csv_path is not None:
        click.echo(f"wrote {csv_path}")
