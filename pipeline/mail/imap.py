"""`windstil bounces fetch`: read new mail from the bounce/reply mailbox over IMAP.

imap-tools opens the connection (TLS with certificate checks, STARTTLS, or plain for a
server on this machine), logs in and selects the folder. Mails are fetched with BODY.PEEK, so
nothing changes on the server (no \\Seen flag, nothing deleted: the mailbox stays the
company's record). Each message's UID, under the folder's UIDVALIDITY, is remembered in the
state once it was read, so a mail is fetched once; its Message-ID is remembered too, so a mail
imported from an export before is not counted twice.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import os
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime

from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import MailboxLoginError

from pipeline.errors import MailboxError, UsageError
from pipeline.mail.bounces import MailImport, process_mails
from pipeline.models import BounceMailbox
from pipeline.state import State

log = logging.getLogger(__name__)

PASSWORD_ENV = "WINDSTIL_IMAP_PASSWORD"  # noqa: S105 - the variable's name, not a password
BATCH = 50


def _connect(box: BounceMailbox) -> MailBox | MailBoxStartTls | MailBoxUnencrypted:
    if box.security == "none":  # settings.yaml allows it only for a server on this machine
        return MailBoxUnencrypted(box.host, box.port, timeout=60)
    context = ssl.create_default_context()  # certificates and host names are checked
    if box.security == "starttls":
        return MailBoxStartTls(box.host, box.port, timeout=60, ssl_context=context)
    return MailBox(box.host, box.port, timeout=60, ssl_context=context)


def fetch_mailbox(
    box: BounceMailbox, state: State, secret: bytes | None, contacts: Mapping[str, str], now: datetime
) -> MailImport:
    """Fetch the folder's mails not read before and record them; return what was found."""
    password = os.environ.get(PASSWORD_ENV, "")
    if not password:
        raise UsageError(f"{PASSWORD_ENV} is not set: the IMAP password comes from the environment")
    where = f"{box.username}@{box.host}:{box.port}/{box.folder}"
    try:
        mailbox = _connect(box)
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as error:
        raise MailboxError(f"bounces fetch: cannot connect to {box.host}:{box.port} ({error})") from error
    try:
        try:
            mailbox.login(box.username, password, initial_folder=box.folder)
        except MailboxLoginError as error:
            raise MailboxError(f"bounces fetch: {where}: login refused; check bounces.username and "
                               f"{PASSWORD_ENV}") from error
        except imaplib.IMAP4.error as error:
            raise MailboxError(f"bounces fetch: {where}: {error}") from error
        status = mailbox.folder.status(box.folder, ["UIDVALIDITY"])
        prefix = f"imap:{box.username}@{box.host}/{box.folder}/{status['UIDVALIDITY']}/"
        every = mailbox.uids("ALL")
        uids = [uid for uid in every if not state.mail_seen(prefix + uid)]
        log.info("bounces fetch: %s: %d new mails", where, len(uids))
        result = process_mails(_raw_mails(mailbox, uids), state, secret, contacts, f"bounces fetch {where}", now)
        # Read and recorded (by Message-ID, in process_mails): the UIDs need not be fetched again.
        state.remember_mails([prefix + uid for uid in uids], "imap uid")
        # The mails remembered by their UID were read before too, though not fetched again to say so.
        return replace(result, already_read=result.already_read + len(every) - len(uids))
    except (TimeoutError, OSError, imaplib.IMAP4.abort) as error:
        raise MailboxError(f"bounces fetch: {where}: connection lost ({error}); run it again") from error
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):  # already closed: nothing left to tidy
            mailbox.logout()


def _raw_mails(mailbox: MailBox | MailBoxStartTls | MailBoxUnencrypted, uids: list[str]) -> Iterator[tuple[str, bytes]]:
    """Yield (UID, raw bytes) of each mail, fetched without setting \\Seen."""
    for uid in uids:
        kind, data = mailbox.client.uid("fetch", uid, "(BODY.PEEK[])")
        if kind != "OK":
            log.warning("bounces fetch: UID %s: the server answered %s", uid, kind)
            continue
        raw = next((part[1] for part in data if isinstance(part, tuple) and len(part) == 2), None)
        if isinstance(raw, bytes):
            yield f"UID {uid}", raw
