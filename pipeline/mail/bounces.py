"""`windstil bounces import`: read what came back from a mailbox export and record it once.

The mails come from an mbox file, a Maildir, a folder of `.eml` files (or one `.eml`), or
from IMAP (pipeline.mail.imap). Each mail is classified (pipeline.mail.classify) and recorded
in the state in one transaction together with the key it is remembered by (its Message-ID),
so reading the same mailbox again changes nothing:

- a hard bounce suppresses the address (`hard_bounce`), three soft bounces in a row too
  (`soft_bounce`); a bounce is matched to our message by the original Message-ID, else by
  the recipient's address among the contacts; one that matches neither is listed, not acted on;
- an auto-reply is counted;
- a mailto unsubscribe with a valid token suppresses the address;
- a person's reply is stored (`reply`, with its date and subject) for the next call list;
- what cannot be classified is listed with the reason.
"""

from __future__ import annotations

import logging
import mailbox
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.errors import UsageError
from pipeline.feedback import FeedbackEvent, FeedbackKind
from pipeline.mail.classify import Classified, MailKind, classify
from pipeline.models import Suppression
from pipeline.state import State

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unclassified:
    """A mail that was read but could not be classified (or whose bounce matched no message of ours)."""

    where: str  # file name, mbox position or IMAP UID
    subject: str
    reason: str


@dataclass(frozen=True)
class MailImport:
    """What reading a mailbox did."""

    source: str
    counts: dict[str, int]  # per kind (MailKind values), of the mails read for the first time
    already_read: int
    suppressed: tuple[str, ...]  # addresses suppressed by this import (bounces, unsubscribes)
    unclassified: tuple[Unclassified, ...]

    @property
    def read(self) -> int:
        """Return how many mails were new."""
        return sum(self.counts.values())


def read_mails(path: Path) -> Iterator[tuple[str, bytes]]:
    """Yield (where, raw bytes) for each mail in an mbox, a Maildir, a folder of .eml files or one .eml."""
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    if path.is_dir():
        if (path / "cur").is_dir() and (path / "new").is_dir():
            box = mailbox.Maildir(path, factory=None, create=False)
            for key in sorted(box.keys()):
                yield f"{path.name}/{key}", box.get_bytes(key)
            return
        files = sorted(p for p in path.rglob("*.eml") if p.is_file())
        if not files:
            raise UsageError(f"{path}: neither a Maildir (cur/, new/) nor a folder with .eml files")
        for file in files:
            yield str(file.relative_to(path)), file.read_bytes()
        return
    with path.open("rb") as handle:
        start = handle.read(5)
    if start == b"From ":
        box_file = mailbox.mbox(path, factory=None, create=False)
        try:
            for number, key in enumerate(box_file.keys(), start=1):
                yield f"{path.name}#{number}", box_file.get_bytes(key)
        finally:
            box_file.close()
        return
    yield path.name, path.read_bytes()


class _Recorder:
    """Turn classified mails into the state's events and suppressions."""

    def __init__(self, state: State, contacts: Mapping[str, str], source: str) -> None:
        self.state = state
        self.contacts = contacts  # address (lower-case) → contact_id
        self.source = source

    def is_ours(self, message_id: str) -> bool:
        return self.state.delivery_by_message_id(message_id) is not None

    def is_contact(self, address: str) -> bool:
        return address.lower() in self.contacts

    def record(self, found: Classified) -> tuple[bool, list[str], str]:
        """Record one mail; return (new, addresses suppressed, why it was not acted on or '')."""
        events: list[FeedbackEvent] = []
        suppressions: list[Suppression] = []
        delivery = self.state.delivery_by_message_id(found.original_message_id) if found.original_message_id else None
        run_id = delivery.run_id if delivery else ""
        not_acted = ""
        if found.kind in (MailKind.HARD_BOUNCE, MailKind.SOFT_BOUNCE):
            matched = 0
            for failure in found.failures:
                contact = self.contacts.get(failure.email, "")
                if not contact and delivery is not None and len(found.failures) == 1:
                    contact = delivery.contact_id  # the recipient rewrote the address (alias, forward)
                if not contact and delivery is None:
                    continue
                matched += 1
                kind = FeedbackKind.HARD_BOUNCE if failure.permanent else FeedbackKind.SOFT_BOUNCE
                events.append(self._event(kind, found, f"{kind.value}:{found.mail_key}:{failure.email}",
                                          failure.email, contact, run_id,
                                          f"{failure.status} {failure.diagnostic}".strip()))
                if failure.permanent:
                    reason = f"hard_bounce: {failure.status} {failure.diagnostic}".strip()[:200]
                    suppressions.append(Suppression(failure.email, reason, found.date.date(), self.source))
            if not matched:
                not_acted = "bounce for an address and a message that are not ours"
        elif found.kind is MailKind.AUTO_REPLY:
            events.append(self._event(FeedbackKind.AUTO_REPLY, found, f"auto_reply:{found.mail_key}", found.sender,
                                      self.contacts.get(found.sender, ""), run_id, found.reason))
        elif found.kind is MailKind.UNSUBSCRIBE and found.unsubscribe is not None:
            info = found.unsubscribe
            address = info.email.strip().lower()
            events.append(self._event(FeedbackKind.UNSUBSCRIBE, found, f"unsubscribe:{info.list_name}:{address}",
                                      address, info.contact_id, "", info.list_name))
            suppressions.append(Suppression(address, f"unsubscribed ({info.list_name}) by {info.contact_id} (mailto)",
                                            found.date.date(), self.source))
        elif found.kind is MailKind.REPLY:
            contact = delivery.contact_id if delivery else self.contacts.get(found.sender, "")
            events.append(self._event(FeedbackKind.REPLY, found, f"reply:{found.mail_key}", found.sender, contact,
                                      run_id, found.subject))
        recorded_as = found.kind.value if not not_acted else MailKind.UNCLASSIFIED.value
        # Compared before and after: a third soft bounce in a row suppresses inside record_mail.
        watch = bool(suppressions) or any(e.kind is FeedbackKind.SOFT_BOUNCE for e in events)
        known = {s.email for s in self.state.suppressions()} if watch else set()
        new = self.state.record_mail(found.mail_key, recorded_as, events, suppressions)
        added = sorted({s.email for s in self.state.suppressions()} - known) if watch and new else []
        return new, added, not_acted

    def _event(self, kind: FeedbackKind, found: Classified, key: str, address: str, contact: str, run_id: str,
               detail: str) -> FeedbackEvent:
        return FeedbackEvent(kind=kind, event_key=key, at=found.date, source=self.source, email=address,
                             contact_id=contact, run_id=run_id, message_id=found.original_message_id,
                             detail=detail[:300])


def process_mails(
    mails: Iterable[tuple[str, bytes]],
    state: State,
    secret: bytes | None,
    contacts: Mapping[str, str],
    source: str,
    now: datetime,
) -> MailImport:
    """Classify and record each mail once; return the counts and what could not be classified."""
    recorder = _Recorder(state, contacts, source)
    counts: Counter[str] = Counter()
    already = 0
    suppressed: list[str] = []
    unclassified: list[Unclassified] = []
    for where, raw in mails:
        found = classify(raw, secret, recorder.is_ours, recorder.is_contact, now)
        if state.mail_seen(found.mail_key):
            already += 1
            continue
        new, added, not_acted = recorder.record(found)
        if not new:
            already += 1
            continue
        suppressed.extend(added)
        if not_acted:
            counts[MailKind.UNCLASSIFIED.value] += 1
            unclassified.append(Unclassified(where, found.subject, not_acted))
            continue
        counts[found.kind.value] += 1
        if found.kind is MailKind.UNCLASSIFIED:
            unclassified.append(Unclassified(where, found.subject, found.reason))
    result = MailImport(source, dict(sorted(counts.items())), already, tuple(suppressed), tuple(unclassified))
    log.info("%s: %d new mails (%s), %d already read", source, result.read, result.counts, already)
    return result


def import_mailbox(
    path: Path, state: State, secret: bytes | None, contacts: Mapping[str, str], now: datetime
) -> MailImport:
    """Read the mails of `path` (mbox, Maildir, folder of .eml) into the state."""
    return process_mails(read_mails(path), state, secret, contacts, f"bounces import {path.name}", now)
