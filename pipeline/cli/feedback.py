"""What comes back: call outcomes, unsubscribes, bounces and replies, and the endpoint that receives them."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from pipeline.cli.base import Context, cli, echo_err, pass_context, user_errors
from pipeline.errors import UsageError

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
    """Record call outcomes in the state, so the next run knows who was called.

    FILE is an account manager's call list (.xlsx, or saved as CSV) with "Called on" and
    "Outcome" filled in (rows left empty were not called), or a CSV with the columns
    customer_id, contact_id, date (YYYY-MM-DD, not after today), outcome; optional note,
    channel (default call) and our_level (account_manager, or management when our director
    held the conversation). `;` or `,`, UTF-8 with or without BOM.

    Importing the same file twice adds nothing. Rows that cannot be recorded are listed as
    `file:line: field: reason`; the other rows are recorded, and the exit code is 2 so a
    script notices: fix those lines and import the file again. Outcomes such as "niet
    bereikt" or "voicemail" are counted but not recorded: nobody was reached.

    \b
    Example:
      windstil calls import uitkomsten-jan.csv
      windstil --project ~/crm-export calls import ~/Downloads/bellijst-AM02-2026-11-30.xlsx
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
    if result.not_called:
        parts.append(f"{result.not_called} left empty (not called)")
    click.echo(f"{result.file}: " + ", ".join(parts))
    if result.rejected:
        sys.exit(2)


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

    from pipeline.config import load_settings
    from pipeline.lock import project_lock
    from pipeline.state import State
    from pipeline.unsubscribe import existing_secret
    from pipeline.unsubscribe_import import import_unsubscribes

    settings = load_settings(obj.project)
    # Never make a new secret here: tokens in sent e-mails were signed with an existing one.
    secret = existing_secret(settings.paths.state.parent)
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

    from pipeline.config import load_settings
    from pipeline.load import load_dataset
    from pipeline.unsubscribe import existing_secret

    settings = load_settings(obj.project)
    # Never make a new secret here: tokens in sent e-mails were signed with an existing one.
    secret = existing_secret(settings.paths.state.parent)
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
        raise UsageError("settings.yaml has no bounces: block: add the IMAP mailbox there (host and username; "
                         "port, folder and security have defaults: see the settings reference)")
    with project_lock(settings.paths.output), State.open(settings.paths.state) as db:
        result = fetch_mailbox(settings.bounces, db, secret, contacts, datetime.now(UTC))
    _print_mail_import(result)


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
    company's HTTPS proxy; the docs (Feedback) have a systemd unit and a proxy example.

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
