"""Read unsubscribes back into the state, so no later run mails those addresses again.

`windstil unsubscribe import FILE` accepts two shapes of file (UTF-8, a BOM is fine):

- **One entry a line**: an unsubscribe token (`<payload>.<signature>`, as in the links of the
  e-mails), the whole unsubscribe link (`https://…/afmelden?t=<token>`), the subject of the
  mailto unsubscribe (`unsubscribe-<token>`), or a plain e-mail address (a manual unsubscribe,
  e.g. someone who phoned). Empty lines and lines starting with `#` are skipped.
- **The web endpoint's CSV log**: a header row with a `token` column (`,` or `;`) and an
  optional `date` column (`YYYY-MM-DD`, or an ISO timestamp); other columns are ignored. A row
  whose token cell is empty may name an address in an `email` column instead.

Every token's HMAC is checked with the project's secret (`pipeline.unsubscribe.verify_token`,
constant-time). A token whose structure is broken is rejected as malformed, one whose signature
does not match as forged; the file's other lines are still imported, in one transaction.
The state keys suppressions on the address, so importing the same file twice adds nothing.
An unsubscribe from either list (newsletter or alerts) suppresses the address for all mail:
Windstil would rather send one message too few than one the person did not want.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pipeline.errors import InputError, Problem, UsageError
from pipeline.load import CellError, normalise_email, sniff_delimiter
from pipeline.models import Suppression
from pipeline.state import State
from pipeline.unsubscribe import LISTS, verify_token

log = logging.getLogger(__name__)

SOURCE = "unsubscribe import"
MAX_LINE = 2000  # a token for a 64-character id and a long address is well under 300
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_MAC_BYTES = 16
_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Unsubscribes:
    """A parsed file: the suppressions it asks for, and the lines that were rejected."""

    file: str
    suppressions: tuple[Suppression, ...]
    rejected: tuple[Problem, ...]


@dataclass(frozen=True)
class UnsubscribeImport:
    """What an import did: added to the state, already there, rejected by line."""

    file: str
    added: int
    already_suppressed: int
    rejected: tuple[Problem, ...]


def read_unsubscribes(path: Path, secret: bytes | None, today: date, display: str | None = None) -> Unsubscribes:
    """Parse an unsubscribe file into suppressions; collect every bad line as a Problem.

    `secret` verifies the tokens; None means there is none yet, and then a file holding a
    token is refused as a whole (every link in a sent e-mail was signed with some secret).
    """
    file = display or path.name
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise InputError(f"{file}: cannot read ({error.strerror})", [Problem(file, None, "", "cannot read")]) from error
    except UnicodeDecodeError as error:
        raise InputError(f"{file}: not UTF-8 text; save it as UTF-8") from error
    source = f"{SOURCE} {file}"
    reader = _Reader(file, secret, today, source)
    # Lines end at CR/LF, CR or LF only, as an editor counts them (str.splitlines also splits
    # at form feeds and U+2028, which would put every later line number off).
    lines = _LINE_END.split(text)
    first = next((line for line in lines if line.strip()), "")
    if _is_csv_header(first):
        reader.read_csv(text)
    else:
        for number, line in enumerate(lines, start=1):
            reader.read_line(number, line, today)
    return Unsubscribes(file, tuple(reader.suppressions), tuple(reader.rejected))


def import_unsubscribes(
    path: Path, state: State, secret: bytes | None, today: date, display: str | None = None
) -> UnsubscribeImport:
    """Record the unsubscribes of `path` in the state's suppressions; return what happened."""
    parsed = read_unsubscribes(path, secret, today, display)
    added, known = state.add_suppressions(parsed.suppressions, unsubscribes=True)
    log.info(
        "%s: %d suppressions added, %d already known, %d lines rejected",
        parsed.file,
        added,
        known,
        len(parsed.rejected),
    )
    return UnsubscribeImport(parsed.file, added, known, parsed.rejected)


# --------------------------------------------------------------------------- parsing


def _is_csv_header(line: str) -> bool:
    cells = next(csv.reader([line], delimiter=sniff_delimiter(line)), [])
    return "token" in {c.strip().lower() for c in cells}


class _Reader:
    """Turn lines or CSV rows into suppressions and rejects."""

    def __init__(self, file: str, secret: bytes | None, today: date, source: str) -> None:
        self.file = file
        self.secret = secret
        self.today = today
        self.source = source
        self.suppressions: list[Suppression] = []
        self.rejected: list[Problem] = []

    def reject(self, line: int, field: str, message: str) -> None:
        self.rejected.append(Problem(self.file, line, field, message))

    def read_csv(self, text: str) -> None:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text.split("\n", 1)[0]))
        header: dict[str, int] = {}
        start = 1
        try:
            for cells in reader:
                if not header:
                    if any(c.strip() for c in cells):
                        header = {name.strip().lower(): i for i, name in reversed(list(enumerate(cells)))}
                elif any(c.strip() for c in cells):
                    self._read_row(start, header, cells)
                start = reader.line_num + 1
        except csv.Error as error:
            self.reject(reader.line_num, "", f"cannot be read as CSV: {error}")

    def _read_row(self, line: int, header: dict[str, int], cells: list[str]) -> None:
        def cell(name: str) -> str:
            index = header.get(name)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        when = self.today
        if raw_date := cell("date"):
            parsed = _parse_when(raw_date)
            if parsed is None:
                self.reject(line, "date", f"not a date (YYYY-MM-DD): {_shown(raw_date)}")
                return
            if parsed > self.today:
                self.reject(line, "date", f"date {parsed.isoformat()} is after today")
                return
            when = parsed
        token, email = cell("token"), cell("email")
        if token:
            self._token(line, "token", token, when)
        elif email:
            self._address(line, "email", email, when)
        else:
            self.reject(line, "token", "missing: neither a token nor an e-mail address")

    def read_line(self, line: int, text: str, when: date) -> None:
        value = text.strip()
        if not value or value.startswith("#"):
            return
        if "@" in value and "://" not in value and not value.lower().startswith("unsubscribe-"):
            self._address(line, "email", value, when)
        else:
            self._token(line, "token", value, when)

    def _address(self, line: int, field: str, value: str, when: date) -> None:
        if len(value) > MAX_LINE:
            self.reject(line, field, "value too long")
            return
        try:
            address = normalise_email(value)
        except CellError:
            self.reject(line, field, f"invalid e-mail address: {_shown(value)}")
            return
        self.suppressions.append(Suppression(address, "manual unsubscribe", when, self.source))

    def _token(self, line: int, field: str, value: str, when: date) -> None:
        if len(value) > MAX_LINE:
            self.reject(line, field, "malformed token: value too long")
            return
        token = _token_of(value)
        if token is None or not _well_formed(token):
            self.reject(line, field, f"malformed token: {_shown(value)}")
            return
        if self.secret is None:
            raise UsageError(
                f"{self.file}:{line}: cannot verify tokens: no unsubscribe secret (set WINDSTIL_SECRET to "
                "the value the e-mails were made with, or keep the state folder's `secret` file)"
            )
        info = verify_token(self.secret, token)
        if info is None:
            self.reject(line, field, "forged token: its signature does not match this project's secret")
            return
        address = info.email.strip().lower()
        if not address:
            self.reject(line, field, "the token names no e-mail address")
            return
        reason = f"unsubscribed ({info.list_name}) by {info.contact_id}"
        self.suppressions.append(Suppression(address, reason, when, self.source))


def _token_of(value: str) -> str | None:
    """Return the token in a bare token, an unsubscribe link or a mailto subject."""
    if "://" in value:
        query = parse_qs(urlsplit(value).query)
        found = query.get("t") or query.get("token")
        return found[0] if found else None
    if value.lower().startswith("unsubscribe-"):
        return value[len("unsubscribe-") :]
    return value


def _well_formed(token: str) -> bool:
    """Say whether `token` has the shape make_token gives it (whatever its signature)."""
    if not _TOKEN.fullmatch(token):
        return False
    body, _, mac = token.partition(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        signature = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
        parts = payload.decode("utf-8").split("\n")
    except (binascii.Error, ValueError):
        return False
    return len(signature) == _MAC_BYTES and len(parts) == 3 and parts[1] in LISTS


def _parse_when(text: str) -> date | None:
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _shown(value: str) -> str:
    """Return a value fit for one line of output: short, no control characters."""
    clean = re.sub(r"[\x00-\x1f\x7f]", "?", value)
    return repr(clean if len(clean) <= 60 else clean[:57] + "...")
