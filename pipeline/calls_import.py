"""Read the call outcomes account managers return, and record them in the state as interactions.

The file (CSV, `;` or `,`, UTF-8 with or without BOM, header row) has the columns
`customer_id`, `contact_id`, `date`, `outcome` (all required), plus three optional ones:
`note`, `channel` (call/visit/meeting/email, default `call`) and `our_level`
(account_manager/management, default `account_manager`: set `management` when our director
held the conversation, so the management pair of the contact schedule counts it).

Or it is the account manager's own call list, returned with its "Called on" and "Outcome"
columns filled in: the .xlsx as it was sent (its first sheet), or that sheet saved as CSV. Its
headings, in any language of the lists, stand for those columns (see
call_lists.OUTCOME_HEADINGS), and a row left empty (neither date nor outcome) is a call not
made: counted, not an error.

Each row is checked: a known customer, a known contact of that customer, a date
(`YYYY-MM-DD`, or the Dutch `DD-MM-YYYY`) not after today, an outcome. Bad rows are rejected
with `file:line: field: reason`; the good rows are stored in one transaction even when
others are rejected, so the account manager fixes the rejected lines and imports the same file
again. Importing is idempotent: a row's identity is customer, contact, date, channel, levels
and outcome + note, so a row imported before counts as a duplicate and adds nothing.

An outcome saying nobody was reached ("niet bereikt", "geen gehoor", "voicemail", "no
answer", ...) is not contact: such rows are counted as not reached and not stored, so the
contact schedule still shows the customer as due.
"""

from __future__ import annotations

import hashlib
import logging
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import openpyxl

from pipeline.call_lists import OUTCOME_HEADINGS
from pipeline.errors import InputError, Problem
from pipeline.language import page_language
from pipeline.load import CellError, parse_date, read_csv
from pipeline.models import LANGUAGES, Channel, Dataset, Interaction, OurLevel
from pipeline.state import State

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("customer_id", "contact_id", "date", "outcome")
OPTIONAL_COLUMNS = ("note", "channel", "our_level")
SOURCE = "calls import"

# Outcomes that mean the call did not reach anyone (compared case- and space-insensitively).
NOT_REACHED = frozenset(
    {
        "niet bereikt",
        "geen gehoor",
        "voicemail",
        "ingesprek",
        "in gesprek",
        "niet opgenomen",
        "no answer",
        "not reached",
        "busy",
        "left voicemail",
    }
)
_DUTCH_DATE = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")  # day first: 24-11-2026, 24/11/2026, 24.11.2026
# A returned call list is a few hundred rows of 16 columns; bounds for a workbook that is not one.
XLSX_MAX_BYTES = 50_000_000
XLSX_MAX_COLUMNS = 64
XLSX_MAX_ROWS = 100_000


@dataclass(frozen=True)
class CallOutcomes:
    """A parsed outcomes file: the interactions to record and the rows that were not."""

    file: str
    source_key: str  # names the file and its content in the state
    interactions: tuple[Interaction, ...]
    rejected: tuple[Problem, ...]
    not_reached: int
    not_called: int = 0  # rows of a returned call list left empty


@dataclass(frozen=True)
class ImportResult:
    file: str
    added: int
    duplicates: int
    rejected: tuple[Problem, ...]  # one or more per rejected row
    not_reached: int
    not_called: int = 0

    @property
    def rejected_rows(self) -> int:
        return len({p.line for p in self.rejected})


def read_call_outcomes(path: Path, data: Dataset, today: date, display: str | None = None) -> CallOutcomes:
    """Parse and check an outcomes file against the data; raise InputError when it cannot be read at all."""
    file = display or path.name
    header, rows = _read_xlsx(path, file) if path.suffix.lower() == ".xlsx" else _read_csv(path, file)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        problems = [Problem(file, 1, column, "required column is missing") for column in missing]
        expected = ", ".join(REQUIRED_COLUMNS)
        raise InputError(
            f"{file}: not a call outcomes file (expected the columns {expected} and optionally note, or a call "
            "list's .xlsx with 'Called on' and 'Outcome' filled in)",
            problems,
        )

    interactions: list[Interaction] = []
    rejected: list[Problem] = []
    not_reached = not_called = 0
    for line, cells in rows:
        row = {column: _cell(cells, header.get(column)) for column in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)}
        if not row["date"] and not row["outcome"]:
            not_called += 1  # a call list's row nobody filled in: the call was not made
            continue
        row_problems: list[tuple[str, str]] = []
        interaction = _check_row(row, data, today, row_problems)
        if row_problems:
            rejected.extend(Problem(file, line, column, message) for column, message in row_problems)
        elif interaction is None:
            not_reached += 1
        else:
            interactions.append(interaction)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return CallOutcomes(
        file, f"{SOURCE}:{path.name}:{digest}", tuple(interactions), tuple(rejected), not_reached, not_called
    )


def _headings() -> dict[str, str]:
    """Return each call-list heading that names an outcomes column (lower-cased, any language) → that column."""
    return {
        page_language(language)(title).casefold(): column
        for language in LANGUAGES
        for column, title in OUTCOME_HEADINGS.items()
    }


def _columns(names: list[str]) -> dict[str, int]:
    """Return the header as column → index (first one wins).

    A returned call list (its "Called on" and "Outcome" headings, in any language) is read by
    those headings only: its other columns, such as the last contact's channel and the list's
    own note, are what the list said, not what came of the call.
    """
    headings = _headings()
    keys = [" ".join(name.split()).casefold() for name in names]
    call_list = {"date", "outcome"} <= {headings.get(key) for key in keys}
    header: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key in headings:
            header.setdefault(headings[key], index)
        elif not call_list:
            header.setdefault(key, index)
    return header


def _read_csv(path: Path, file: str) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    table = read_csv(path, file)
    names = [""] * (max(table.header.values(), default=-1) + 1)
    for name, index in table.header.items():
        names[index] = name
    return _columns(names), table.rows


def _read_xlsx(path: Path, file: str) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    """Return the header and rows (with their row numbers) of a workbook's first sheet, every cell as text.

    A workbook is a zip of XML that can claim a sheet of 16,384 columns by a million rows in a
    few kilobytes: the unpacked size, the columns and the rows read are bounded first.
    """

    def unreadable(reason: str) -> InputError:
        return InputError(f"{file}: {reason}", [Problem(file, None, "", reason)])

    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(entry.file_size for entry in archive.infolist())
        if unpacked > XLSX_MAX_BYTES:
            raise unreadable(f"the workbook unpacks to {unpacked:,} bytes, more than a call list's {XLSX_MAX_BYTES:,}")
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, SyntaxError) as error:  # SyntaxError: XML ParseError
        raise unreadable(f"cannot be read as an Excel workbook ({error})") from None
    rows: list[tuple[int, list[str]]] = []
    try:
        if not book.worksheets:
            raise unreadable("the workbook has no sheet")
        sheet = book.worksheets[0].iter_rows(max_col=XLSX_MAX_COLUMNS, values_only=True)
        for number, values in enumerate(sheet, start=1):
            if number > XLSX_MAX_ROWS:
                raise unreadable(f"more than {XLSX_MAX_ROWS:,} rows: not a call list")
            cells = [_text(v) for v in values]
            if any(cells):
                rows.append((number, cells))
    except (SyntaxError, ValueError, KeyError) as error:  # broken sheet XML (ParseError is a SyntaxError)
        raise unreadable(f"cannot be read as an Excel workbook ({error})") from None
    finally:
        book.close()
    if not rows or rows[0][0] != 1:
        raise InputError(f"{file}: no header row in the first line", [Problem(file, 1, "", "no header row")])
    return _columns(rows[0][1]), rows[1:]


def _text(value: object) -> str:
    """Return a cell's value as the CSV would hold it: a date as YYYY-MM-DD, a whole number without `.0`."""
    if isinstance(value, datetime | date):
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def _cell(cells: list[str], index: int | None) -> str:
    return " ".join(cells[index].split()) if index is not None and index < len(cells) else ""


def _check_row(row: dict[str, str], data: Dataset, today: date, problems: list[tuple[str, str]]) -> Interaction | None:
    """Return the row's interaction; None when nobody was reached. Append (column, reason) for each problem."""
    customer_id, contact_id, outcome, note = row["customer_id"], row["contact_id"], row["outcome"], row["note"]
    if not customer_id:
        problems.append(("customer_id", "required"))
    elif customer_id not in data.customers:
        problems.append(("customer_id", f"unknown customer {customer_id!r}"))
    contact = data.contacts.get(contact_id)
    if not contact_id:
        problems.append(("contact_id", "required (the contact_id from the call list)"))
    elif contact is None:
        problems.append(("contact_id", f"unknown contact {contact_id!r}"))
    elif customer_id in data.customers and contact.customer_id != customer_id:
        problems.append(
            ("contact_id", f"contact {contact_id!r} belongs to customer {contact.customer_id!r}, not {customer_id!r}")
        )
    when = _date(row["date"], problems)
    if when is not None and when > today:
        problems.append(("date", f"{when.isoformat()} is after today ({today.isoformat()})"))
    if not outcome:
        problems.append(("outcome", "required (what came of the call)"))
    channel = _choice(row["channel"], Channel, Channel.CALL, "channel", problems)
    our_level = _choice(row["our_level"], OurLevel, OurLevel.ACCOUNT_MANAGER, "our_level", problems)
    if problems or contact is None or when is None:
        return None
    if outcome.casefold() in NOT_REACHED:
        return None
    return Interaction(
        customer_id=customer_id,
        date=when,
        contact_id=contact_id,
        channel=channel,
        our_level=our_level,
        their_level=contact.level,
        note=f"{outcome}: {note}" if note else outcome,
        source=SOURCE,
    )


def _date(text: str, problems: list[tuple[str, str]]) -> date | None:
    if not text:
        problems.append(("date", "required"))
        return None
    dutch = _DUTCH_DATE.fullmatch(text)
    try:
        if dutch:
            day, month, year = (int(g) for g in dutch.groups())
            return date(year, month, day)
        return parse_date(text)
    except (CellError, ValueError):
        problems.append(("date", f"invalid date {text!r} (use YYYY-MM-DD)"))
        return None


E = TypeVar("E", Channel, OurLevel)


def _choice(text: str, kind: type[E], default: E, column: str, problems: list[tuple[str, str]]) -> E:
    if not text:
        return default
    try:
        return kind(text.lower())
    except ValueError:
        allowed = "/".join(member.value for member in kind)
        problems.append((column, f"{text!r} is not one of {allowed}"))
        return default


def import_call_outcomes(
    path: Path, data: Dataset, state: State, today: date, display: str | None = None
) -> ImportResult:
    """Record the valid outcomes of `path` in the state; return what was added, duplicate, rejected."""
    outcomes = read_call_outcomes(path, data, today, display)
    added, duplicates = state.add_interactions(outcomes.interactions, outcomes.source_key)
    result = ImportResult(
        outcomes.file, added, duplicates, outcomes.rejected, outcomes.not_reached, outcomes.not_called
    )
    log.info("%s: %d added, %d duplicates, %d rejected", result.file, added, duplicates, result.rejected_rows)
    return result
