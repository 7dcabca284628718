"""Classify one mail that came back to the Return-Path or Reply-To mailbox.

Kinds, tried in this order:

- **Delivery status notifications.** RFC 3464 (`multipart/report; report-type=delivery-status`,
  as Postfix, Exchange/Microsoft 365, Gmail and most servers send them): each recipient's
  `Action` and `Status` decide; 5.x.x is a hard bounce, 4.x.x (or `Action: delayed`) a soft
  one. The common non-standard forms (qmail, old Exchange, Yahoo, plain "could not be
  delivered" texts) are left to flufl.bounce's detectors, which find the failed addresses;
  the status code is then read from the text where it gives one.
- **Auto-replies and out-of-office** (`Auto-Submitted` other than `no`, `X-Autoreply`,
  `X-Autorespond`, `X-Auto-Response-Suppress`, `Precedence: auto_reply`, or a typical Dutch or
  English subject): counted and otherwise ignored.
- **Unsubscribe mails**: a subject `unsubscribe-<token>` (the List-Unsubscribe mailto) whose
  token verifies with the project's secret.
- **Replies**: a mail that answers one of our messages (In-Reply-To or References names its
  Message-ID), or comes from a known contact with a reply subject ("Re:", "Antw:").

Anything else, and anything that cannot be read, is `unclassified` with the reason: a mailbox
holds whatever the internet sends, so nothing here may raise.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import enum
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime

from flufl.bounce import all_failures

from pipeline.unsubscribe import LISTS, TokenInfo, verify_token

log = logging.getLogger(__name__)

MAX_MAIL_BYTES = 30 * 1024 * 1024  # larger is not a bounce or a reply we can use; listed, not parsed


class MailKind(enum.StrEnum):
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    AUTO_REPLY = "auto_reply"
    UNSUBSCRIBE = "unsubscribe"
    REPLY = "reply"
    UNCLASSIFIED = "unclassified"


@dataclass(frozen=True)
class Failure:
    """One recipient a delivery status notification reports on."""

    email: str
    status: str  # "5.1.1", "4.2.2"; "" when the notification gives none
    permanent: bool
    diagnostic: str = ""


@dataclass(frozen=True)
class Classified:
    """What one mail is, and what it says."""

    kind: MailKind
    mail_key: str  # its Message-ID, or a digest of its bytes when it has none
    subject: str
    sender: str  # the From address, lower-cased
    date: datetime  # its Date header (UTC), or when it was read
    failures: tuple[Failure, ...] = ()
    original_message_id: str = ""  # of our message it bounces or answers
    unsubscribe: TokenInfo | None = None
    reason: str = ""  # how it was classified, or why it could not be


# Subjects of auto-replies and out-of-office notes (Outlook, Gmail, Exchange, Dutch and English).
AUTO_SUBJECT = re.compile(
    r"^\s*(automatisch antwoord|automatische (re)?actie|automatic reply|auto(matic)?[- ]?reply|autoreply|"
    r"auto:|out of (the )?office|afwezig|niet aanwezig|niet op kantoor|buiten kantoor|afwezigheidsbericht|"
    r"vakantie|on vacation|away from (the )?office|abwesend)",
    re.IGNORECASE,
)
# Subjects of non-standard bounces, when the sender is not a mailer daemon.
BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered mail|returned mail|delivery (status notification|failure|has failed)|"
    r"failure notice|mail delivery (failed|subsystem)|could not be delivered|niet bezorgd|onbestelbaar|"
    r"kan niet worden bezorgd",
    re.IGNORECASE,
)
DAEMON_SENDER = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|microsoftexchange[^@]*)@",
                           re.IGNORECASE)
REPLY_SUBJECT = re.compile(r"^\s*(re|antw|antwoord|aw|sv|vs)\s*(\[\d+\])?\s*:", re.IGNORECASE)
STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
MESSAGE_ID = re.compile(r"^message-id:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
UNSUBSCRIBE_SUBJECT = re.compile(r"unsubscribe-([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)", re.IGNORECASE)


def mail_key_of(raw: bytes, message: email.message.Message | None) -> str:
    """Return the key a mail is remembered by: its Message-ID, else a digest of its bytes."""
    if message is not None:
        try:
            value = str(message.get("Message-ID", "") or "").strip()
        except Exception:
            value = ""
        found = re.search(r"<[^<>\s]{1,500}>", value)
        if found:
            return f"mid:{found.group(0).lower()}"
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"


def classify(
    raw: bytes,
    secret: bytes | None,
    is_ours: Callable[[str], bool],
    is_contact: Callable[[str], bool],
    now: datetime,
) -> Classified:
    """Classify one raw mail; never raise.

    `is_ours(message_id)` says whether a Message-ID is one of our messages; `is_contact(address)`
    whether an address is a contact's.
    """
    if len(raw) > MAX_MAIL_BYTES:
        return Classified(MailKind.UNCLASSIFIED, mail_key_of(raw, None), "", "", now,
                          reason=f"too large to read ({len(raw) // (1024 * 1024)} MB)")
    try:
        message = email.message_from_bytes(raw)
    except Exception as error:
        return Classified(MailKind.UNCLASSIFIED, mail_key_of(raw, None), "", "", now,
                          reason=f"cannot be parsed: {type(error).__name__}")
    key = mail_key_of(raw, message)
    try:
        return _classify(message, key, secret, is_ours, is_contact, now)
    except Exception as error:
        log.debug("classify %s: %s", key, error, exc_info=True)
        return Classified(MailKind.UNCLASSIFIED, key, _header(message, "Subject"), "", now,
                          reason=f"cannot be read: {type(error).__name__}: {_short(str(error))}")


def _classify(
    message: email.message.Message,
    key: str,
    secret: bytes | None,
    is_ours: Callable[[str], bool],
    is_contact: Callable[[str], bool],
    now: datetime,
) -> Classified:
    subject = _header(message, "Subject")
    sender = _address(message, "From")
    when = _date(message) or now
    base = Classified(MailKind.UNCLASSIFIED, key, subject, sender, when)

    dsn = _delivery_status(message)
    if dsn is not None:
        failures, note = dsn
        if failures:
            return _bounce(failures, _original_id(message), "RFC 3464 delivery status", base)
        return replace(base, kind=MailKind.UNCLASSIFIED, reason=f"delivery status notification: {note}")

    looks_like_bounce = bool(DAEMON_SENDER.match(sender)) or bool(BOUNCE_SUBJECT.search(subject))
    if looks_like_bounce:
        temporary, permanent = all_failures(message)
        text = _text(message)
        status = STATUS.search(text)
        code = ".".join(status.groups()) if status else ""
        failures = [
            Failure(_decoded(a), code if code.startswith("5") or not code else "5.0.0", True, _diagnostic(text))
            for a in sorted(permanent)
        ] + [
            Failure(_decoded(a), code if code.startswith("4") else "4.0.0", False, _diagnostic(text))
            for a in sorted(temporary - permanent)
        ]
        failures = [f for f in failures if "@" in f.email]
        if failures:
            return _bounce(failures, _original_id(message), "non-standard bounce (flufl.bounce)", base)

    auto = _auto_reply(message, subject)
    if auto:
        return replace(base, kind=MailKind.AUTO_REPLY, original_message_id=_in_reply_to(message, is_ours),
                          reason=auto)
    if looks_like_bounce:
        return replace(base, kind=MailKind.UNCLASSIFIED, reason="looks like a bounce, but names no failed address")

    token = UNSUBSCRIBE_SUBJECT.search(subject)
    if token:
        info = verify_token(secret, token.group(1)) if secret else None
        if info is None or info.list_name not in LISTS or "@" not in info.email:
            return replace(base, kind=MailKind.UNCLASSIFIED, reason="unsubscribe mail whose token does not verify")
        return replace(base, kind=MailKind.UNSUBSCRIBE, unsubscribe=info, reason="mailto unsubscribe")

    answered = _in_reply_to(message, is_ours)
    if answered:
        return replace(base, kind=MailKind.REPLY, original_message_id=answered, reason="answers a message of ours")
    if sender and is_contact(sender) and REPLY_SUBJECT.match(subject):
        return replace(base, kind=MailKind.REPLY, reason="reply subject from a contact's address")
    return replace(base, kind=MailKind.UNCLASSIFIED, reason="not a bounce, auto-reply or reply to a message of ours")


def _bounce(failures: list[Failure], original: str, how: str, base: Classified) -> Classified:
    kind = MailKind.HARD_BOUNCE if any(f.permanent for f in failures) else MailKind.SOFT_BOUNCE
    return replace(base, kind=kind, failures=tuple(failures), original_message_id=original, reason=how)


def _delivery_status(message: email.message.Message) -> tuple[list[Failure], str] | None:
    """Return the failures of an RFC 3464 report, or None when the mail is not one."""
    report = None
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            report = part
            break
    if report is None:
        return None
    blocks = _status_blocks(report)
    if len(blocks) < 2:
        return [], "no per-recipient fields"
    failures = []
    for block in blocks[1:]:  # the first block is per-message
        action = block.get("action", "").strip().lower()
        status_match = STATUS.search(block.get("status", ""))
        status = ".".join(status_match.groups()) if status_match else ""
        # The address we sent to; Final-Recipient may be a rewritten one (alias, forward).
        recipient = block.get("original-recipient") or block.get("final-recipient") or ""
        address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
        if "@" not in address:
            continue
        diagnostic = _short(re.sub(r"\s+", " ", block.get("diagnostic-code", "").split(";", 1)[-1]).strip())
        if action == "failed" or (not action and status.startswith("5")):
            failures.append(Failure(address, status or "5.0.0", not status.startswith("4"), diagnostic))
        elif action == "delayed" or status.startswith("4"):
            failures.append(Failure(address, status or "4.0.0", False, diagnostic))
        # delivered, relayed, expanded: not a failure
    return failures, "every recipient was delivered, relayed or expanded" if not failures else ""


def _status_blocks(report: email.message.Message) -> list[dict[str, str]]:
    """Return the header blocks of a message/delivery-status part, field names lower-cased."""
    payload = report.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):  # the stdlib parses each block as a Message
        for block in payload:
            if isinstance(block, email.message.Message):
                blocks.append({k.lower(): str(v) for k, v in block.items()})
        return blocks
    text = payload if isinstance(payload, str) else ""
    for chunk in re.split(r"\r?\n\s*\r?\n", text.strip()):
        fields: dict[str, str] = {}
        name = ""
        for line in chunk.splitlines():
            if line[:1] in (" ", "\t") and name:
                fields[name] += " " + line.strip()
            elif ":" in line:
                name, value = line.split(":", 1)
                name = name.strip().lower()
                fields[name] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def _original_id(message: email.message.Message) -> str:
    """Return the Message-ID of the returned message (its attached copy or headers), or ''."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], email.message.Message):
                value = str(inner[0].get("Message-ID", "") or "")
                found = re.search(r"<[^<>\s]+>", value)
                if found:
                    return found.group(0)
        elif kind == "text/rfc822-headers":
            found = MESSAGE_ID.search(_part_text(part))
            if found:
                return found.group(1)
    found = MESSAGE_ID.search(_text(message))
    return found.group(1) if found else ""


def _in_reply_to(message: email.message.Message, is_ours: Callable[[str], bool]) -> str:
    """Return the first of our Message-IDs that In-Reply-To or References names, or ''."""
    named = " ".join(str(message.get(name, "") or "") for name in ("In-Reply-To", "References"))
    for found in re.findall(r"<[^<>\s]+>", named):
        if is_ours(found):
            return str(found)
    return ""


def _auto_reply(message: email.message.Message, subject: str) -> str:
    auto = str(message.get("Auto-Submitted", "") or "").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto[:40]}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "X-Autogenerated"):
        if message.get(name) is not None:
            return f"{name} header"
    precedence = str(message.get("Precedence", "") or "").strip().lower()
    if precedence == "auto_reply":
        return "Precedence: auto_reply"
    if AUTO_SUBJECT.match(subject):
        return "auto-reply subject"
    return ""


def _header(message: email.message.Message, name: str) -> str:
    value = message.get(name)
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except Exception:
        text = str(value)
    return _short(re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip(), 200)


def _address(message: email.message.Message, name: str) -> str:
    pairs = getaddresses([str(message.get(name, "") or "")])
    return pairs[0][1].strip().lower() if pairs and "@" in pairs[0][1] else ""


def _date(message: email.message.Message) -> datetime | None:
    try:
        when = parsedate_to_datetime(str(message.get("Date", "")))
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def _part_text(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return "" if not isinstance(payload, str) else payload
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload[:200_000].decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        return payload[:200_000].decode("utf-8", errors="replace")


def _text(message: email.message.Message) -> str:
    """Return the mail's text parts joined (at most 200 KB each): where non-standard bounces say what failed."""
    texts = [_part_text(part) for part in message.walk() if part.get_content_maintype() == "text"]
    return "\n".join(texts)


def _diagnostic(text: str) -> str:
    for line in text.splitlines():
        if STATUS.search(line) or re.search(r"\b[45]\d\d\b", line):
            return _short(line.strip())
    return ""


def _decoded(address: bytes | str) -> str:
    text = address.decode("utf-8", errors="replace") if isinstance(address, bytes) else address
    return text.strip().strip("<>").lower()


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
