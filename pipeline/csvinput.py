"""Reading the CRM export's CSV files: cells parsed exactly, rows with their physical line numbers.

The reading rules (encoding, delimiter, physical line numbers, header names, amounts) are
those of pipeline/load.py's docstring and docs/reference/inputs.md; this module is where they
are carried out, for every file alike.
"""

from __future__ import annotations

import codecs
import csv
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import polars as pl
from email_validator import EmailNotValidError, validate_email

from pipeline.errors import InputError, Problem
from pipeline.tables import amount_parts

MAX_CELL = 1000
INVALID_EMAIL = "invalid e-mail address"
CUT_OFF = "row cut off: a quote opened here is never closed before the end of the file"
TOO_MANY_CELLS = (
    "more cells than the header has columns: a value holding the delimiter (`,` `;`) needs quotes; "
    "the cells after the last column are shown"
)
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


def bare_address(text: str) -> str:
    """Return the address inside `Name <address>`, `Last, First <address>`, `<mailto:address>` or
    `mailto:address?…` (percent-escapes undone); other text as given, trimmed.

    Text naming several addresses (`Noor <a@…>, Piet <b@…>`) is left as it is: it is no one
    address, and is reported as invalid rather than half taken.
    """
    stripped = text.strip()
    inside = _BRACKETED.findall(stripped) if "<" in stripped else []
    if len(inside) > 1:
        return stripped
    if inside:
        stripped = inside[0].strip()
    if stripped[:7].lower() == "mailto:":
        stripped = stripped[7:].split("?", 1)[0].strip()
        if "@" not in stripped:  # mailto:noor%40klant.nl; an address with its @ may hold a % of its own
            stripped = unquote(stripped)
    return stripped


_BRACKETED = re.compile(r"<([^<>]*@[^<>]*)>")


def suppression_key(address: str) -> str:
    """Return `address` as suppressions are compared: unwrapped (see bare_address), trimmed and lower-cased.

    The loader's `normalise_email` validates and lower-cases; this key also covers a
    suppression address too malformed to validate, which must still be honoured.
    """
    return bare_address(address).lower()


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
        self.width = 0  # cells in the header row, named or not
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
                self.width = len(cells)
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


# --------------------------------------------------------------------------- a file as a frame of text

# Python's str.strip() set: Polars' own whitespace set lacks the separators \x1c-\x1f.
WHITESPACE = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
_BLANK = "^[" + "".join(f"\\x{{{ord(c):X}}}" for c in WHITESPACE) + "]*$"
LINE = "_line"  # the frame column holding each row's physical start line


@dataclass
class TextTable:
    """A CSV file's rows as a frame of text: one row per non-blank row, in file order.

    `frame` holds the physical start line (LINE) and each column asked for, its cells
    stripped; "" for a column the file lacks or a row too short to have it.
    """

    file: str
    header: dict[str, int]  # lower-cased column name → index (first one wins)
    frame: pl.DataFrame
    cut: tuple[int, str, str] | None = None  # (line, column, value) of a last row cut inside an open quote
    # (line, the cells beyond the header's last column) of each row with something there: its
    # values have shifted (an unquoted delimiter), so none can be trusted.
    long_rows: tuple[tuple[int, str], ...] = ()
    controls: bool = True  # False: no cell holds a control character (LF, CR and the other C0 codes but tab; DEL)

    @property
    def count(self) -> int:
        """Return the number of rows (blank ones are no rows)."""
        return self.frame.height


def read_table(path: Path, file: str, columns: Sequence[str]) -> TextTable:
    """Read a CSV file into a TextTable of `columns`; raise InputError as open_csv does.

    Polars reads the file when it is well-formed: every quote opens or closes a quoted cell or
    doubles a quote inside one, no lone CR ends a line, no row is longer than the header, and
    the header is the first line. Then Polars and the csv module see the very same cells, and
    each row's physical line follows from the line breaks inside its cells. Any other file is
    read by the csv module, row by row, as before (see CsvStream).
    """
    try:
        table = _read_with_polars(path, file, columns)
    except (pl.exceptions.PolarsError, UnicodeDecodeError, OSError):
        table = None
    return table if table is not None else _read_with_csv(path, file, columns)


def _read_with_csv(path: Path, file: str, columns: Sequence[str]) -> TextTable:
    stream = open_csv(path, file)
    indexes = [stream.header.get(name) for name in columns]
    header_width = stream.width
    lines: list[int] = []
    cells: list[list[str]] = [[] for _ in columns]
    last: list[str] = []
    long_rows: list[tuple[int, str]] = []
    for line, row in stream:
        lines.append(line)
        width = len(row)
        for index, column in zip(indexes, cells, strict=True):
            column.append(row[index] if index is not None and index < width else "")
        if width > header_width and any(row[header_width:]):  # empty cells after the last column are harmless
            long_rows.append((line, stream.delimiter.join(row[header_width:]).rstrip(stream.delimiter)))
        last = row
    cut = None
    if stream.cut_line is not None:
        names = {index: name for name, index in stream.header.items()}
        cut = (stream.cut_line, names.get(len(last) - 1, ""), last[-1] if last else "")
    frame = pl.DataFrame(
        {LINE: lines, **dict(zip(columns, cells, strict=True))},
        schema={LINE: pl.Int64, **dict.fromkeys(columns, pl.String)},
    )
    return TextTable(file, stream.header, frame, cut, tuple(long_rows))


def _read_with_polars(path: Path, file: str, columns: Sequence[str]) -> TextTable | None:
    """Return the file read by Polars, or None when the csv module must read it (see read_table)."""
    data = path.read_bytes()
    body = data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data
    first_line = body[: _line_end(body)].decode("utf-8")
    delimiter = sniff_delimiter(first_line)
    if b"\r" in body and body.count(b"\r") != body.count(b"\r\n"):
        return None  # a lone CR ends a line for the csv module, not for Polars
    scan = _scan(body)
    if not _quotes_in_place(scan, delimiter):
        return None
    separators, controls, only_spaces = scan.separators, scan.controls, scan.only_spaces
    lines = scan.line_ends + (1 if not body.endswith(b"\n") else 0)
    del scan  # it holds the file's bytes, which go once Polars has read them: the files are read side by side
    # Polars drops the BOM itself (one, as the csv module does).
    raw = pl.read_csv(data, has_header=False, infer_schema=False, separator=delimiter, truncate_ragged_lines=False)
    del data, body
    if raw.is_empty():
        return None
    names = raw.columns
    head = ["" if cell is None else cell.strip() for cell in raw.row(0)]
    if not any(head):
        return None  # blank lines before the header: the csv module counts them
    header: dict[str, int] = {}
    for index, name in enumerate(head):
        header.setdefault(name.lower(), index)
    start = pl.int_range(1, pl.len() + 1, dtype=pl.Int64)
    # Every row takes one line at least; as many rows as lines: no cell holds a line break, no blank line was skipped.
    if lines != raw.height:
        # A line break inside a cell moves every later row down a line.
        breaks = pl.sum_horizontal(pl.col(n).str.count_matches("\n", literal=True).fill_null(0) for n in names)
        raw = raw.with_columns(breaks.alias("_breaks"))
        if raw.height + int(raw.get_column("_breaks").sum()) != lines:
            return None  # a blank line Polars skipped and the csv module counts
        start = start + pl.col("_breaks").cum_sum().shift(1, fill_value=0)
    used = {header[name] for name in columns if name in header}
    read = {name: names[header[name]] for name in columns if name in header}
    # A line break in a cell is white space too.
    spaced = _spaced_columns(raw, list(read.values()), only_spaces and lines == raw.height)
    picked = {
        name: _cell(pl.col(read[name]), read[name] in spaced, separators) if name in read else pl.lit("")
        for name in columns
    }
    # Blank lines and rows of empty cells (Excel's ";;;;") are no rows.
    blank = pl.all_horizontal(
        *(pl.col(name) == "" for name in columns if name in header),
        *(pl.col(n).is_null() | pl.col(n).str.contains(_BLANK) for i, n in enumerate(names) if i not in used),
    )
    frame = (
        raw.lazy()
        .with_columns(start.alias(LINE), *(expr.alias(name) for name, expr in picked.items()))
        .slice(1)
        .filter(~blank)
        .select(LINE, *columns)
        .collect()
    )
    # A line break inside a cell is a control character in it.
    return TextTable(file, header, frame, controls=controls or lines != raw.height)


_QUOTE, _LF, _CR = ord('"'), ord("\n"), ord("\r")
_SCANNED_AT_ONCE = 1 << 20  # bytes scanned at a time: masks that stay in cache, not one the size of the file


@dataclass
class _Scan:
    """What one pass over a file's bytes found."""

    data: np.ndarray[Any, np.dtype[np.uint8]]  # the bytes themselves
    quotes: np.ndarray[Any, np.dtype[np.intp]]  # where each quote is
    line_ends: int  # how many LF bytes
    separators: bool  # whether a byte 0x1C-0x1F (white space to Python, not to Polars) occurs
    controls: bool  # whether a control character other than LF, CR and tab occurs
    only_spaces: bool  # whether the space is the only white space but line ends: ASCII, no tab, no control character


def _scan(body: bytes) -> _Scan:
    """Find the quotes, count the line ends and look for 0x1C-0x1F.

    numpy counts the line ends a megabyte at a time (masks that stay in cache, not one the
    size of the file); looking for a byte is a loop in C (memchr), so only a file that has
    quotes at all is scanned for where they are.
    """
    data = np.frombuffer(body, dtype=np.uint8)
    chunks = [data[at : at + _SCANNED_AT_ONCE] for at in range(0, data.size, _SCANNED_AT_ONCE)]
    line_ends = sum(int(np.count_nonzero(chunk == _LF)) for chunk in chunks)
    separators = any(bytes((byte,)) in body for byte in range(0x1C, 0x20))
    # Every byte below 0x20 is an LF, a CR or a tab: then no cell holds another control character.
    below_space = sum(int(np.count_nonzero(chunk < 0x20)) for chunk in chunks)
    harmless = line_ends + sum(body.count(byte) for byte in (b"\r", b"\t") if byte in body)
    controls = below_space != harmless or b"\x7f" in body
    only_spaces = not controls and b"\t" not in body and all(int(chunk.max()) < 0x80 for chunk in chunks)
    if b'"' not in body:
        return _Scan(data, np.empty(0, dtype=np.intp), line_ends, separators, controls, only_spaces)
    found = [np.flatnonzero(chunk == _QUOTE) + index * _SCANNED_AT_ONCE for index, chunk in enumerate(chunks)]
    return _Scan(data, np.concatenate(found), line_ends, separators, controls, only_spaces)


def _line_end(body: bytes) -> int:
    """Return where the first line of `body` ends (at its CR or LF; the length when it has neither)."""
    ends = [at for at in (body.find(b"\r"), body.find(b"\n")) if at >= 0]
    return min(ends) if ends else len(body)


def _quotes_in_place(scan: _Scan, delimiter: str) -> bool:
    """Tell whether every quote of the file is where the CSV format puts it; then Polars reads the csv module's cells.

    Counting the file's quotes in order, an even one (outside a quoted cell before it) must
    open a quoted cell: it starts the file, or follows a separator, a line end or the quote
    before it (a doubled quote inside a cell). An odd one must close the cell: it ends the
    file, or comes before a separator, a line end or the next quote (doubled). Any other quote
    (text after a closing quote, a quote inside an unquoted cell, a quote never closed) is
    read differently by the two, and the csv module reads the file.
    """
    data, quotes = scan.data, scan.quotes
    if quotes.size % 2:
        return False
    if not quotes.size:
        return True
    separator = ord(delimiter)
    # A byte past either end of the file reads as a line end.
    before = np.where(quotes[0::2] > 0, data[np.maximum(quotes[0::2] - 1, 0)], _LF)
    after_at = quotes[1::2] + 1
    after = np.where(after_at < data.size, data[np.minimum(after_at, data.size - 1)], _LF)
    opens = np.isin(before, [separator, _LF, _QUOTE]).all()
    closes = np.isin(after, [separator, _LF, _CR, _QUOTE]).all()
    return bool(opens and closes)


def _spaced_columns(raw: pl.DataFrame, names: list[str], only_spaces: bool) -> set[str]:
    """Return the columns of `raw` whose cells may start or end with white space.

    Every column, unless the space is the only white space a cell of the file can hold
    (`only_spaces`, see _scan): then only those with a cell that starts or ends with a space.
    Looking at a cell's first and last byte costs a fraction of stripping it.
    """
    if not only_spaces or not names:
        return set(names)
    edges = raw.select((pl.col(n).str.starts_with(" ") | pl.col(n).str.ends_with(" ")).any().alias(n) for n in names)
    return {name for name, spaced in zip(names, edges.row(0), strict=True) if spaced}


def _cell(cell: pl.Expr, spaced: bool, separators: bool) -> pl.Expr:
    """Return the cell ("" for none) stripped as str.strip() does, when it may have white space to strip."""
    return _stripped(cell.fill_null(""), separators) if spaced else cell.fill_null("")


def _stripped(cell: pl.Expr, separators: bool) -> pl.Expr:
    """Return the cell stripped as str.strip() does; Polars' own set lacks \\x1c-\\x1f, rare in a file."""
    return cell.str.strip_chars(WHITESPACE) if separators else cell.str.strip_chars()
