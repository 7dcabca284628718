"""SMTP submission with smtplib: TLS with certificate checks, login, and one transaction per message.

One `SmtpConnection` is one connection to the server, reused for message after message. Its
`deliver()` runs MAIL, RCPT and DATA itself (not `sendmail()`) so that it knows how far a
transaction got when the connection breaks: before the message data was complete the server
cannot have accepted it (`lost`, safe to send again); after it, only the reply is missing
(`uncertain`, it may have been delivered).
"""

from __future__ import annotations

import enum
import logging
import re
import shlex
import smtplib
import socket
import ssl

# token_command is the user's own command from settings.yaml, run without a shell.
import subprocess  # nosec B404
from collections.abc import Callable
from dataclasses import dataclass

from pipeline.errors import DeliveryError
from pipeline.models import DeliverySettings

log = logging.getLogger(__name__)

PASSWORD_ENV = "WINDSTIL_SMTP_PASSWORD"  # noqa: S105 (the variable's name, not a password)
TOKEN_TIMEOUT = 60  # seconds for token_command


class Result(enum.Enum):
    ACCEPTED = "accepted"  # 2xx after the data
    REFUSED = "refused"  # 5xx for the recipient (RCPT): a hard bounce
    REJECTED = "rejected"  # 5xx for the message (DATA): failed, the address stays
    TEMPORARY = "temporary"  # 4xx: try again later
    THROTTLED = "throttled"  # the provider's "too many" reply: pause, then try again
    QUOTA = "quota"  # the provider's sending quota is used up: stop for now
    LOST = "lost"  # the connection broke before the data was complete: not delivered
    UNCERTAIN = "uncertain"  # the connection broke after the data, before the reply
    SENDER = "sender"  # the server refuses our envelope sender: no message can go
    CONNECT = "connect"  # (re)connecting or logging in failed: nothing was sent
    WITHDRAWN = "withdrawn"  # the sender withdrew it before the end of the data: nothing was sent


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one SMTP transaction ended."""

    result: Result
    reply: str  # "250 2.0.0 OK queued as …", or what went wrong


def reply_text(code: int, message: bytes | str) -> str:
    """Return an SMTP reply as one line: `code text`."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}".strip()


def classify(code: int, message: bytes | str) -> Result:
    """Return what a refusal means for the message: temporary, throttled, quota or permanent."""
    text = reply_text(code, message)
    enhanced = re.search(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b", text)
    status = enhanced.group(0) if enhanced else ""
    if code == 421 or (code in (450, 451, 452) and status.startswith("4.7.")):
        return Result.THROTTLED  # Microsoft 365 "4.7.0 … rate limit", Google "4.7.28", a busy relay
    if code == 554 and status == "5.2.0":
        return Result.QUOTA  # Microsoft 365: the mailbox's daily recipient limit
    if 400 <= code < 500:
        return Result.TEMPORARY
    return Result.REJECTED


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the login needs: the password, or the command that prints an OAuth token."""

    password: str = ""
    token_command: str = ""

    def token(self) -> str:
        """Run token_command and return the access token it prints (fresh at each login)."""
        try:
            # The user's configured command, split with shlex and run without a shell.
            done = subprocess.run(  # noqa: S603  # nosec B603
                shlex.split(self.token_command),
                capture_output=True,
                text=True,
                timeout=TOKEN_TIMEOUT,
                check=False,
            )
        except (OSError, ValueError, subprocess.TimeoutExpired) as error:
            raise DeliveryError(f"settings.yaml: delivery.token_command: cannot run it ({error})") from error
        token = done.stdout.strip()
        if done.returncode != 0 or not token or "\n" in token:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise DeliveryError(
                f"settings.yaml: delivery.token_command: exit {done.returncode}, no single-line token ({last})"
            )
        return token


def credentials_from(settings: DeliverySettings, environ: dict[str, str]) -> Credentials:
    """Return the credentials the settings ask for; a missing password is a bad setting (exit 2)."""
    from pipeline.errors import UsageError

    if settings.auth == "password":
        password = environ.get(PASSWORD_ENV, "")
        if not password:
            raise UsageError(
                f"delivery.auth is password, but {PASSWORD_ENV} is not set: put the password of "
                f"{settings.username} in that environment variable (never in settings.yaml)"
            )
        return Credentials(password=password)
    if settings.auth == "xoauth2":
        return Credentials(token_command=settings.token_command)
    return Credentials()


class SmtpConnection:
    """One SMTP connection, opened on first use and reused across messages."""

    def __init__(self, settings: DeliverySettings, credentials: Credentials) -> None:
        self.settings = settings
        self.credentials = credentials
        self._smtp: smtplib.SMTP | None = None

    @property
    def where(self) -> str:
        """Return `host:port` for messages."""
        return f"{self.settings.host}:{self.settings.port}"

    def open(self) -> None:
        """Connect, secure and log in; raise DeliveryError with one line that says what to fix."""
        if self._smtp is not None:
            return
        s = self.settings
        smtp: smtplib.SMTP | None = None
        try:
            context = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
            if s.security == "tls":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            # The end of the data (".\r\n") goes out on its own once the message is committed as
            # sending; Nagle's algorithm would hold it until the server's delayed ACK (40 ms).
            if smtp.sock is not None:
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(
                        f"{self.where} does not offer STARTTLS; refusing to send in plain text "
                        "(check delivery.host and delivery.port, or use security: tls)"
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            self._login(smtp)
        except DeliveryError:
            _quietly_close(smtp)
            raise
        except smtplib.SMTPAuthenticationError as error:
            _quietly_close(smtp)
            what = "WINDSTIL_SMTP_PASSWORD" if s.auth == "password" else "the token from delivery.token_command"
            raise DeliveryError(
                f"{self.where}: login refused for {s.username} ({reply_text(error.smtp_code, error.smtp_error)}); "
                f"check delivery.username and {what}"
            ) from None
        except ssl.SSLCertVerificationError as error:
            _quietly_close(smtp)
            raise DeliveryError(
                f"{self.where}: the server's TLS certificate is not trusted ({error.verify_message}); "
                "check delivery.host, or set delivery.ca_file for a relay with its own CA"
            ) from None
        except ssl.SSLError as error:
            _quietly_close(smtp)
            raise DeliveryError(f"{self.where}: TLS failed ({error.reason or error}); "
                                "check delivery.port and delivery.security") from None
        except socket.gaierror:
            _quietly_close(smtp)
            raise DeliveryError(f"{self.where}: unknown host; check delivery.host") from None
        except smtplib.SMTPResponseException as error:
            _quietly_close(smtp)
            refusal = reply_text(error.smtp_code, error.smtp_error)
            raise DeliveryError(f"{self.where}: the server refused us ({refusal})") from None
        except (smtplib.SMTPException, OSError) as error:
            _quietly_close(smtp)
            raise DeliveryError(f"{self.where}: cannot connect ({error or type(error).__name__}); "
                                "check delivery.host, delivery.port and delivery.security") from None
        self._smtp = smtp
        log.debug("smtp: connected to %s", self.where)

    def _login(self, smtp: smtplib.SMTP) -> None:
        s = self.settings
        if s.auth == "none":
            return
        if not smtp.has_extn("auth"):
            raise DeliveryError(f"{self.where} offers no login (AUTH); set delivery.auth: none for a relay "
                                "that needs none, or check delivery.security")
        if s.auth == "password":
            smtp.login(s.username, self.credentials.password)
            return
        token = self.credentials.token()
        initial = f"user={s.username}\x01auth=Bearer {token}\x01\x01"
        # XOAUTH2 (Microsoft 365, Google): one response; on failure the server sends a JSON
        # challenge that is answered with an empty line, after which it says 535.
        smtp.auth("XOAUTH2", lambda challenge=None: initial if challenge is None else "", initial_response_ok=True)

    def deliver(
        self, envelope_from: str, recipient: str, data: bytes, proceed: Callable[[], bool] = lambda: True
    ) -> Outcome:
        """Run one transaction for `data` (CRLF lines, not yet dot-stuffed); never raise for SMTP trouble.

        Everything up to the end of the data (the line with one dot) goes out at once; only
        that last line, the one that makes the server take the message, waits for
        `proceed()`. The caller commits the message as `sending` meanwhile, so the commit and
        the transfer overlap, and nothing can arrive that the outbox does not know may have.
        When `proceed()` says no, the connection is dropped and the server discards the data.
        """
        try:
            self.open()
        except DeliveryError as error:
            return Outcome(Result.CONNECT, str(error))
        smtp = self._smtp
        if smtp is None:  # open() sets it or raises
            return Outcome(Result.CONNECT, f"{self.where}: not connected")
        data_sent = False
        try:
            code, message = smtp.mail(envelope_from)
            if code != 250:
                self._reset(smtp)
                result = classify(code, message)
                return Outcome(Result.SENDER if result is Result.REJECTED else result, reply_text(code, message))
            code, message = smtp.rcpt(recipient)
            if code not in (250, 251):
                self._reset(smtp)
                result = classify(code, message)
                return Outcome(Result.REFUSED if result is Result.REJECTED else result, reply_text(code, message))
            smtp.putcmd("data")
            code, message = smtp.getreply()
            if code != 354:
                self._reset(smtp)
                return Outcome(classify(code, message), reply_text(code, message))
            smtp.send(_dot_stuffed(data))
            if not proceed():
                self._drop()
                return Outcome(Result.WITHDRAWN, "withdrawn before the end of the data; the server discards it")
            smtp.send(b".\r\n")
            data_sent = True  # from here on the server may have the message
            code, message = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            self.close()
            what = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            if data_sent:
                return Outcome(Result.UNCERTAIN, f"connection lost after the message data, before the reply ({what})")
            return Outcome(Result.LOST, f"connection lost before the message data was complete ({what})")
        if code == 421:
            self.close()  # the server closes the connection after 421
        if 200 <= code < 300:
            return Outcome(Result.ACCEPTED, reply_text(code, message))
        return Outcome(classify(code, message), reply_text(code, message))

    def _reset(self, smtp: smtplib.SMTP) -> None:
        """End a refused transaction so the connection can carry the next one."""
        try:
            smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def _drop(self) -> None:
        """Close the socket without a word (no QUIT: in the middle of DATA it would be message text)."""
        smtp, self._smtp = self._smtp, None
        _quietly_close(smtp)

    def close(self) -> None:
        """Say QUIT and close; a broken connection is just dropped."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            _quietly_close(smtp)


def _quietly_close(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.close()
    except OSError:
        log.debug("smtp: closing a broken connection failed", exc_info=True)


_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


def _dot_stuffed(data: bytes) -> bytes:
    """Return the DATA payload without its end: lines starting with a dot doubled, ending in CRLF (RFC 5321 4.5.2)."""
    stuffed = _LEADING_DOT.sub(b"..", data)
    return stuffed if stuffed.endswith(b"\r\n") else stuffed + b"\r\n"
