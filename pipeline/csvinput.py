"""Reading the CRM export's CSV files: cells parsed exactly, rows with their physical line numbers.

Reading rules (see the README's "Inputs"):

- UTF-8 with or without a BOM; anything else stops with an error naming the file.
- The delimiter (`,` or `;`) is decided per file from its header line.
- Line numbers are physical lines as an editor shows them, the header being line 1; a quoted
  cell holding newlines makes the next row start further down.
- Header names are matched case-insensitively; unknown columns are ignored.
- Amounts are `Decimal`. With decimal mark "." a value like `1,234.56` is read as 1234.56
  (commas grouping thousands, followed by decimals); `1,234` or `12,5` is refused because it
  could equally be a decimal comma from a misconfigured export. With decimal mark "," the
  mirror rule holds (`1.234,56` is 1234.56, `1.234` is refused). A refused amount never
  becomes a silently wrong number.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from email_validator import EmailNotValidError, validate_email

from pipeline.config import SAFE_ID
from pipeline.errors import InputError, Problem
from pipeline.models import Reject
from pipeline.tables import amount_parts

E = TypeVar("E", bound=Enum)

MAX_CELL = 1000
INVALID_EMAIL = "invalid e-mail address"
CUT_OFF = "row cut off: a quote opened here is never closed before the end of the file"
# The csv module refuses a cell over 128 KB and so the whole file with it; the file is in
# memory already, so read such a cell and reject its row ("value too long") instead.
csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
BOOLEANS = {
    "yes": True,
    "no": False,
    "true": True,
    "false": False,
    "1": True,
    "0": False,
    "ja": True,
    "nee": False,
    # Dutch Excel writes TRUE/FALSE as WAAR/ONWAAR when it saves a CSV.
    "waar": True,
    "onwaar": False,
}
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INT = re.compile(r"[+-]?[0-9]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a tab is harmless whitespace and stays


# --------------------------------------------------------------------------- cell parsers


class CellError(ValueError):
    """A cell that cannot be read; its message is the reject reason."""


def _amount_patterns(decimal_mark: str) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    group = "," if decimal_mark == "." else "."
    mark = re.escape(decimal_mark)
    return (
        re.compile(r"([0-9]+)(?:" + mark + r"([0-9]+))?"),
        # Digits grouped in threes by the other mark (or spaces), then the decimals: unambiguous.
        re.compile(r"([0-9]{1,3}(?:[" + re.escape(group) + r" ][0-9]{3})+)" + mark + r"([0-9]+)"),
        re.compile(r"([0-9]{1,3}(?: [0-9]{3})+)"),  # spaces never mark decimals
    )


_AMOUNT = {mark: _amount_patterns(mark) for mark in (".", ",")}
_PLAIN_POINT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def parse_amount(text: str, decimal_mark: str = ".") -> Decimal:
    """Return `text` as a Decimal, reading `decimal_mark` and refusing ambiguous grouping."""
    if decimal_mark == "." and _PLAIN_POINT.fullmatch(text):
        return Decimal(text)  # the common case: a plain export number
    value = text.strip().replace("\u00a0", " ").replace("\u202f", " ")
    if value.startswith("€"):
        value = value[1:].strip()
    sign = ""
    if value and value[0] in "+-":
        sign, value = ("-" if value[0] == "-" else ""), value[1:].strip()
    plain_pattern, grouped_pattern, spaced_pattern = _AMOUNT[decimal_mark]
    if plain := plain_pattern.fullmatch(value):
        whole, decimals = plain.group(1), plain.group(2)
    elif grouped := grouped_pattern.fullmatch(value):
        whole, decimals = re.sub(r"[^0-9]", "", grouped.group(1)), grouped.group(2)
    elif spaced := spaced_pattern.fullmatch(value):
        whole, decimals = spaced.group(1).replace(" ", ""), None
    else:
        raise CellError("invalid amount")
    try:
        return Decimal(f"{sign}{whole}.{decimals}" if decimals else f"{sign}{whole}")
    except InvalidOperation:
        raise CellError("invalid amount") from None


def _amount_parts(text: str, decimal_mark: str) -> tuple[int, int]:
    """Return parse_amount(text) as (coefficient, exponent), as the orders table keeps it.

    A plain export number needs no Decimal made and taken apart. An amount beyond 1.7E+38
    (an Int128) is no amount of money, and the table cannot hold it: refused.
    """
    if decimal_mark == "." and _PLAIN_POINT.fullmatch(text) and len(text) < 38:
        whole, _, decimals = text.partition(".")
        return int(whole + decimals), -len(decimals)
    parts = amount_parts(parse_amount(text, decimal_mark))
    if parts is None:
        raise CellError("invalid amount")
    return parts


def parse_date(text: str) -> date:
    """Return an ISO `YYYY-MM-DD` date."""
    value = text.strip()
    if not _ISO_DATE.fullmatch(value):
        raise CellError("invalid date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CellError("invalid date") from None


def parse_bool(text: str, default: bool = False) -> bool:
    """Return the boolean of yes/no, true/false, 1/0, ja/nee (any case); empty is `default`."""
    value = text.strip().lower()
    if not value:
        return default
    try:
        return BOOLEANS[value]
    except KeyError:
        raise CellError("invalid boolean") from None


def parse_int(text: str) -> int:
    """Return a whole number."""
    value = text.strip()
    if not _INT.fullmatch(value):
        raise CellError("invalid number")
    return int(value)


def parse_tags(text: str) -> tuple[str, ...]:
    """Split tags on `;` or `|`: trimmed, lower-cased, empties dropped, first occurrence kept."""
    seen: dict[str, None] = {}
    for part in re.split(r"[;|]", text):
        tag = " ".join(part.split()).lower()
        if tag:
            seen.setdefault(tag, None)
    return tuple(seen)


def normalise_email(text: str) -> str:
    """Return the validated address, lower-cased so it compares with suppressions."""
    try:
        checked = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise CellError(INVALID_EMAIL) from None
    # Lower-casing the local part is safe in practice and makes matching reliable.
    return str(checked.normalized).lower()


# --------------------------------------------------------------------------- CSV reading


@dataclass
class _Table:
    file: str
    header: dict[str, int]  # lower-cased column name → index (first one wins)
    rows: list[tuple[int, list[str]]]  # (physical start line, cells)
    cut_line: int | None = None  # start line of a last row that ends inside an open quote


def sniff_delimiter(header_line: str) -> str:
    """Return `;` or `,`: whichever separates more fields of the header line."""
    inside = False
    counts = Counter[str]()
    for ch in header_line:
        if ch == '"':
            inside = not inside
        elif not inside and ch in ",;":
            counts[ch] += 1
    return ";" if counts[";"] > counts[","] else ","


def read_csv(path: Path, file: str) -> _Table:
    """Read a CSV file into its header and rows with their physical line numbers."""
    stream = open_csv(path, file)
    rows = list(stream)
    return _Table(file, stream.header, rows, stream.cut_line)


class CsvStream:
    """A CSV file's header, and its rows read one at a time: a big export is never all in memory.

    Iterating yields (physical start line, stripped cells) for every non-blank row. The row
    after is read before a row is handed out, so that when the last row runs into the end of
    the file inside an open quote, `cut_line` is set before that row is yielded.
    """

    def __init__(self, path: Path, file: str) -> None:
        self.file = file
        self.header: dict[str, int] = {}  # lower-cased column name → index (first one wins)
        self.count = 0  # rows yielded so far
        self.cut_line: int | None = None
        self._path = path
        with path.open(encoding="utf-8-sig", newline="") as handle:
            self.delimiter = sniff_delimiter(handle.readline())
        self._row_lines: list[str] = []  # the physical lines of the row being read
        self._handle = path.open(encoding="utf-8-sig", newline="")
        self._reader = csv.reader(self._recorded(self._handle), delimiter=self.delimiter)
        self._start = 1
        self._rows = self._cells()
        for cells in self._rows:
            if any(cells):
                for index, name in enumerate(cells):
                    self.header.setdefault(name.lower(), index)
                break
        if not self.header:
            self._handle.close()
            raise InputError(f"{file}: the file is empty (no header row)", [Problem(file, 1, "", "no header row")])

    def close(self) -> None:
        """Close the file (done by itself once every row is read)."""
        self._handle.close()

    def _recorded(self, lines: Iterable[str]) -> Iterator[str]:
        for line in lines:
            self._row_lines.append(line)
            yield line

    def _cells(self) -> Iterator[list[str]]:
        reader = self._reader
        try:
            self._start = reader.line_num + 1
            self._row_lines.clear()
            for cells in reader:
                yield [c.strip() for c in cells]  # once here, so no reader strips again
                self._start = reader.line_num + 1
                self._row_lines.clear()
        except csv.Error as error:
            message = f"cannot be read as CSV: {error}"
            raise InputError(f"{self.file}: {message}", [Problem(self.file, reader.line_num, "", message)]) from None
        finally:
            self._handle.close()

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        pending: tuple[int, list[str]] | None = None
        pending_lines: list[str] = []
        for cells in self._rows:
            if not any(cells):  # blank lines and Excel's ";;;;" rows are no rows
                continue
            if pending is not None:
                self.count += 1
                yield pending
            pending, pending_lines = (self._start, cells), list(self._row_lines)
        if pending is not None:
            if _ends_in_open_quote(pending_lines, self.delimiter):
                self.cut_line = pending[0]
            self.count += 1
            yield pending


def open_csv(path: Path, file: str) -> CsvStream:
    """Open a CSV file: check it is UTF-8, sniff its delimiter, read its header; rows come when iterated."""
    _check_utf8(path, file)
    return CsvStream(path, file)


def _check_utf8(path: Path, file: str) -> None:
    """Raise InputError naming the file and line when `path` is not UTF-8 (read in chunks, not held)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return
    except UnicodeDecodeError:
        raw = path.read_bytes()  # only now, to name the line
        try:
            raw.decode("utf-8")
            line = raw.count(b"\n") + 1
        except UnicodeDecodeError as error:
            line = raw[: error.start].count(b"\n") + 1
    except OSError as error:
        raise InputError(f"{file}: cannot read ({error.strerror})", [Problem(file, None, "", "cannot read")]) from error
    message = "not UTF-8 text; save it as 'CSV UTF-8' (Excel) or convert it to UTF-8"
    raise InputError(f"{file}: {message}", [Problem(file, line, "", message)])


def _ends_in_open_quote(lines: list[str], delimiter: str) -> bool:
    """Say whether the last row (its physical lines) runs into the end of the file inside quotes.

    The lenient reader returns such a row as if the file had closed the quote: a file cut off
    halfway (or a stray opening quote that swallowed the rest) would pass as a good row.
    """
    try:
        for _ in csv.reader(lines, delimiter=delimiter, strict=True):
            pass
    except csv.Error as error:
        return "unexpected end of data" in str(error)
    return False


# --------------------------------------------------------------------------- row reading


class _Row:
    """One data row; getters record a reject on a bad cell and return None."""

    def __init__(self, table: CsvStream, line: int, cells: list[str], rejects: list[Reject]) -> None:
        self.table = table
        self.line = line
        self.cells = cells
        self.rejects = rejects
        self.bad = False

    def raw(self, column: str) -> str:
        index = self.table.header.get(column)
        if index is None or index >= len(self.cells):
            return ""
        return self.cells[index]  # stripped by read_csv

    def reject(self, column: str, value: str, reason: str) -> None:
        self.rejects.append(Reject(self.table.file, self.line, column, value[:200], reason))
        if reason != INVALID_EMAIL:
            self.bad = True

    def text(self, column: str, required: bool = False) -> str:
        value = self.raw(column)
        if len(value) > MAX_CELL:
            self.reject(column, value, "value too long")
            return ""
        if required and not value:
            self.reject(column, value, "missing required value")
        if value.isprintable():
            return value
        # Control characters are never meaningful in a CRM cell and would reach e-mail headers.
        return _CONTROL.sub(" ", value).strip()

    def id(self, column: str, required: bool = True) -> str:
        value = self.raw(column)
        if not value:
            if required:
                self.reject(column, value, "missing required value")
            return ""
        if not SAFE_ID.fullmatch(value):
            self.reject(column, value, "unsafe id")
            return ""
        return value

    def parsed(self, column: str, parse: Callable[[str], Any], required: bool = False) -> Any:
        value = self.raw(column)
        if not value:
            if required:
                self.reject(column, value, "missing required value")
            return None
        try:
            return parse(value)
        except CellError as error:
            self.reject(column, value, str(error))
            return None

    def flag(self, column: str, default: bool = False) -> bool:
        result = self.parsed(column, lambda v: parse_bool(v, default))
        return default if result is None else bool(result)

    def choice(self, column: str, kind: type[E]) -> E | None:
        value = self.raw(column).lower()
        if not value:
            return None
        try:
            return kind(value)
        except ValueError:
            self.reject(column, self.raw(column), "invalid value")
            return None

    def ranged(self, column: str, low: int, high: int | None) -> int:
        number = self.parsed(column, parse_int)
        if number is None:
            return 0
        if number < low or (high is not None and number > high):
            reason = f"number outside {low}-{high}" if high is not None else f"number below {low}"
            self.reject(column, self.raw(column), reason)
            return 0
        return int(number)


def _rows(table: CsvStream | None, rejects: list[Reject]) -> Iterable[_Row]:
    if table is None:
        return
    for line, cells in table:
        row = _Row(table, line, cells, rejects)
        if line == table.cut_line:
            names = {index: name for name, index in table.header.items()}
            row.reject(names.get(len(cells) - 1, ""), cells[-1] if cells else "", CUT_OFF)
        yield row
