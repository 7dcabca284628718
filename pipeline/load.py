"""Load the CRM export (data/) into typed values: the good rows, and a reject per bad cell.

Reading rules (DESIGN.md "Inputs"):

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
- A missing file or column, or more than `max_reject_share` of a file's rows rejected, stops
  with `InputError` (exit 2). A contact with an invalid e-mail address is listed as a reject
  but kept (for the call list); such rejects do not count toward the share.
"""

from __future__ import annotations

import codecs
import csv
import gc
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
from email_validator import EmailNotValidError, validate_email

from pipeline.addresses import AddressBook, known_addresses
from pipeline.config import SAFE_ID, load_segments_config, load_settings, load_settings_leniently, read_yaml
from pipeline.content import load_content
from pipeline.errors import ConfigError, InputError, Problem
from pipeline.models import (
    AccountManager,
    Channel,
    Contact,
    Customer,
    Dataset,
    Evaluation,
    Interaction,
    Level,
    OrderStatus,
    OurLevel,
    Product,
    Project,
    Reject,
    Settings,
    Suppression,
)
from pipeline.tables import OrderColumns, RecordColumns, amount_parts

__all__ = [
    "Validation",
    "check_project",
    "load_content",
    "load_dataset",
    "load_project",
    "validate_project",
]

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Enum)
T = TypeVar("T")

MAX_CELL = 1000
INVALID_EMAIL = "invalid e-mail address"
CUT_OFF = "row cut off: a quote opened here is never closed before the end of the file"
# The csv module refuses a cell over 128 KB and so the whole file with it; the file is in
# memory already, so read such a cell and reject its row ("value too long") instead.
csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
REQUIRED_FILES = ("account_managers.csv", "customers.csv", "contacts.csv", "orders.csv")
COLUMNS: dict[str, tuple[tuple[str, ...], bool]] = {
    # file: (required columns, file required)
    "account_managers.csv": (("account_manager_id", "name", "email"), True),
    "customers.csv": (("customer_id", "name", "account_manager_id"), True),
    "contacts.csv": (("contact_id", "customer_id", "first_name"), True),
    "orders.csv": (("order_id", "customer_id", "order_date", "revenue"), True),
    "evaluations.csv": (("customer_id", "date", "score"), True),
    "interactions.csv": (("customer_id", "date"), False),
    "suppressions.csv": (("email",), False),
}
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


# --------------------------------------------------------------------------- the dataset


@dataclass
class _Loaded:
    """The full outcome of reading data/: what a run uses, and what validate reports."""

    dataset: Dataset
    errors: list[Problem] = field(default_factory=list)  # not rejects: catalogue, content
    share_problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def load_dataset(settings: Settings, addresses: AddressBook | None = None) -> Dataset:
    """Load data/ and content/; raise InputError for a missing file or column or too many rejects."""
    loaded = _load(settings, addresses)
    if loaded.share_problems:
        first = loaded.share_problems[0]
        shown = [*loaded.share_problems, *_reject_problems(loaded.dataset.rejects)[:20]]
        raise InputError(f"{first.file}: {first.message}", shown)
    return loaded.dataset


def _load(settings: Settings, addresses: AddressBook | None = None) -> _Loaded:
    """Read data/ with the cyclic garbage collector paused.

    Loading creates millions of small lists and strings and no reference cycles; the
    collector would rescan them over and over (about two thirds of the load time on 100,000
    customers), so it waits until the load is done.

    E-mail addresses are checked once each through `addresses` (a book of its own when
    None), and those the state remembers from earlier runs are not checked again. The load
    never writes the state: a run records the book's new checks once it has succeeded.
    """
    addresses = addresses or AddressBook(normalise_email)
    addresses.learn(known_addresses(settings.paths.state))
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _load_all(settings, addresses)
    finally:
        if was_enabled:
            gc.enable()


def _load_all(settings: Settings, addresses: AddressBook) -> _Loaded:
    data_dir = settings.paths.data
    tables: dict[str, CsvStream | None] = {}
    fatal: list[Problem] = []
    for file, (required, file_required) in COLUMNS.items():
        path = data_dir / file
        if not path.is_file():
            if file_required:
                fatal.append(Problem(file, None, "", f"required file is missing (looked in {data_dir})"))
            tables[file] = None
            continue
        try:
            table = open_csv(path, file)
        except InputError as error:
            fatal.extend(error.problems)
            continue
        missing = [c for c in required if c not in table.header]
        fatal.extend(Problem(file, 1, c, "required column is missing") for c in missing)
        tables[file] = table
    products, product_problems = _products(data_dir / "products.yaml")
    fatal.extend(p for p in product_problems if p.line is None and p.field == "")
    if fatal:
        for stream in tables.values():
            if stream is not None:
                stream.close()
        files = sorted({p.file for p in fatal})
        columns = [f"{p.file}: {p.field}" for p in fatal if p.field]
        what = f"missing column {', '.join(columns)}" if columns else f"cannot load {', '.join(files)}"
        raise InputError(what, fatal)

    rejects: list[Reject] = []
    bad_rows: Counter[str] = Counter()

    def email_of(text: str) -> str:
        """Return the normalised address, checked once per distinct address (see AddressBook)."""
        normalised = addresses.normalised(text)
        if normalised is None:
            raise CellError(INVALID_EMAIL)
        return normalised
    mark = settings.decimal_mark
    dates: dict[str, date] = {}

    def day(text: str) -> date:
        """Parse a date once per distinct text: a big export repeats the same few thousand days."""
        found = dates.get(text)
        if found is None:
            found = dates[text] = parse_date(text)
        return found

    repeated: dict[Any, Any] = {}

    def once(value: T) -> T:
        """Return the equal value read before: an export repeats the same few thousand order
        descriptions, job titles, first and last names, interest lists, languages and account
        manager ids (a tenth of the loaded orders' memory; a fifth of the contacts')."""
        return repeated.setdefault(value, value)  # type: ignore[no-any-return]

    account_managers: dict[str, AccountManager] = {}
    for row in _rows(tables["account_managers.csv"], rejects):
        am_id = row.id("account_manager_id")
        name = row.text("name", required=True)
        email = row.parsed("email", email_of, required=True)
        if not row.bad and am_id in account_managers:
            row.reject("account_manager_id", am_id, "duplicate id")
        if row.bad or email is None:
            row.bad = True
            bad_rows[row.table.file] += 1
            continue
        account_managers[am_id] = AccountManager(am_id, name, email, row.text("phone"))

    customers: dict[str, Customer] = {}
    for row in _rows(tables["customers.csv"], rejects):
        customer_id = row.id("customer_id")
        name = row.text("name", required=True)
        am_id = row.id("account_manager_id")
        language = once(row.raw("language").lower() or "nl")
        if language not in ("nl", "en"):
            row.reject("language", row.raw("language"), "invalid value")
        customer = Customer(
            customer_id=customer_id,
            name=name,
            account_manager_id=once(am_id),  # one string per manager, not per customer
            sector=once(row.text("sector")),
            language=language,
            customer_since=row.parsed("customer_since", parse_date),
            reference_customer=row.flag("reference_customer"),
            referrals=row.ranged("referrals", 0, None),
            knowledge_partner=row.flag("knowledge_partner"),
            strategic_fit=row.ranged("strategic_fit", 0, 5),
        )
        if not row.bad and customer_id in customers:
            row.reject("customer_id", customer_id, "duplicate id")
        elif not row.bad and am_id not in account_managers:
            row.reject("account_manager_id", am_id, "unknown account_manager_id")
        if row.bad:
            bad_rows[row.table.file] += 1
            continue
        customers[customer_id] = customer

    contacts: dict[str, Contact] = {}
    for row in _rows(tables["contacts.csv"], rejects):
        contact_id = row.id("contact_id")
        customer_id = row.id("customer_id")
        first_name = once(row.text("first_name", required=True))
        # Emptiness is judged on the raw cell: a cell of only control characters is no address.
        email, valid = row.text("email"), False
        if row.raw("email"):
            checked = row.parsed("email", email_of)
            if checked is not None:
                email, valid = checked, True
        contact_language = once(row.raw("language").lower()) or None
        if contact_language is not None and contact_language not in ("nl", "en"):
            row.reject("language", row.raw("language"), "invalid value")
        contact = Contact(
            contact_id=contact_id,
            # one string per customer, not per row
            customer_id=customers[customer_id].customer_id if customer_id in customers else customer_id,
            first_name=first_name,
            last_name=once(row.text("last_name")),
            email=email,
            email_valid=valid,
            phone=row.text("phone"),
            job_title=once(row.text("job_title")),
            level=row.choice("level", Level) or Level.OPERATIONAL,
            language=contact_language,
            newsletter_opt_in=row.flag("newsletter_opt_in"),
            do_not_call=row.flag("do_not_call"),
            interests=once(row.parsed("interests", parse_tags) or ()),
        )
        if not row.bad and contact_id in contacts:
            row.reject("contact_id", contact_id, "duplicate id")
        elif not row.bad and customer_id not in customers:
            row.reject("customer_id", customer_id, "unknown customer_id")
        if row.bad:
            bad_rows[row.table.file] += 1
            continue
        contacts[contact_id] = contact

    # The orders go straight into their columns. Whose order each order_id is is needed until
    # the evaluations are checked against it, and then dropped.
    orders = OrderColumns()
    order_rows: dict[str, str] = {}
    parts = lambda v: _amount_parts(v, mark)  # noqa: E731 - a one-line reader bound to the mark
    for row in _rows(tables["orders.csv"], rejects):
        order_id = row.id("order_id")
        customer_id = row.id("customer_id")
        order_date = row.parsed("order_date", day, required=True)
        end_date = row.parsed("end_date", day)
        revenue = row.parsed("revenue", parts, required=True)
        cost = row.parsed("cost", parts)
        product_id = row.id("product_id", required=False)
        status = row.choice("status", OrderStatus)
        if not row.bad and end_date is not None and end_date < order_date:
            row.reject("end_date", row.raw("end_date"), "end date before order date")
        if not row.bad and order_id in order_rows:
            row.reject("order_id", order_id, "duplicate id")
        elif not row.bad and customer_id not in customers:
            row.reject("customer_id", customer_id, "unknown customer_id")
        if row.bad:
            bad_rows[row.table.file] += 1
            continue
        order_rows[order_id] = customers[customer_id].customer_id
        orders.add(
            order_id=order_id,
            customer_id=customers[customer_id].customer_id,  # one string per customer, not per row
            order_date=order_date,
            revenue=revenue,
            product_id=products[product_id].id if product_id in products else product_id,
            description=once(row.text("description")),
            end_date=end_date,
            cost=cost if cost is not None else (0, 0),
            status=status,
        )

    scores: dict[str, Decimal] = {}

    def score_of(text: str) -> Decimal:
        """Parse a score once per distinct text: there are a hundred (1-10, one decimal).

        By the text, not by `once`: 8 and 8.0 are equal Decimals that print differently.
        """
        found = scores.get(text)
        if found is None:
            found = scores[text] = parse_amount(text, mark)
        return found

    # The evaluations and interactions go straight into their columns too: an object per row
    # made first and dropped later would leave its pool space as holes (see the order_id below).
    evaluations = RecordColumns(Evaluation)
    for row in _rows(tables["evaluations.csv"], rejects):
        customer_id = row.id("customer_id")
        order_id = row.id("order_id", required=False)
        when = row.parsed("date", day, required=True)
        score = row.parsed("score", score_of, required=True)
        if score is not None and not 1 <= score <= 10:
            row.reject("score", row.raw("score"), "score outside 1-10")
        order_of = order_rows.get(order_id) if order_id else None
        if not row.bad and customer_id not in customers:
            row.reject("customer_id", customer_id, "unknown customer_id")
        elif not row.bad and order_id and order_of is None:
            row.reject("order_id", order_id, "unknown order_id")
        elif not row.bad and order_of is not None and order_of != customer_id:
            row.reject("order_id", order_id, "order of another customer")
        if row.bad:
            bad_rows[row.table.file] += 1
            continue
        customer_id = customers[customer_id].customer_id
        # The table keeps the row's own order_id cell, not the order's string: that one is freed once
        # the order table is built, and a quarter of them kept alive would pin the freed rest (22 MB
        # at 30,000 demo customers, never given back).
        evaluations.add(customer_id, when, score, order_id, row.text("comment"))  # each distinct value kept once
    del order_rows
    order_table = orders.frame()

    interactions = RecordColumns(Interaction)
    for row in _rows(tables.get("interactions.csv"), rejects):
        customer_id = row.id("customer_id")
        contact_id = row.id("contact_id", required=False)
        when = row.parsed("date", day, required=True)
        channel = row.choice("channel", Channel)
        our_level = row.choice("our_level", OurLevel)
        their_level = row.choice("their_level", Level)
        if not row.bad and customer_id not in customers:
            row.reject("customer_id", customer_id, "unknown customer_id")
        elif not row.bad and contact_id and contact_id not in contacts:
            row.reject("contact_id", contact_id, "unknown contact_id")
        elif not row.bad and contact_id and contacts[contact_id].customer_id != customer_id:
            row.reject("contact_id", contact_id, "contact of another customer")
        if row.bad:
            bad_rows[row.table.file] += 1
            continue
        interactions.add(
            customers[customer_id].customer_id,
            when,
            contacts[contact_id].contact_id if contact_id else "",  # the contact's own string
            channel,
            our_level,
            their_level,
            row.text("note"),  # each distinct note kept once, as every value
        )

    suppressions: dict[str, Suppression] = {}
    for row in _rows(tables.get("suppressions.csv"), rejects):
        raw_email = row.text("email", required=True)
        address = raw_email.lower()
        if raw_email:
            try:
                address = email_of(raw_email)
            except CellError:
                # Still honoured: suppressing a malformed address costs nothing and is safe.
                row.reject("email", raw_email, INVALID_EMAIL)
        when = row.parsed("date", parse_date)
        if row.bad:
            bad_rows[row.table.file] += 1
            continue
        suppressions.setdefault(address, Suppression(address, row.text("reason"), when))

    warnings: list[str] = []
    errors = [p for p in product_problems if not (p.line is None and p.field == "")]
    named = order_table.filter((pl.col("product_id") != "") & ~pl.col("product_id").is_in(list(products)))
    unknown_products = Counter(named.get_column("product_id").to_list())
    if unknown_products:
        example = ", ".join(sorted(unknown_products)[:3])
        warnings.append(
            f"orders.csv: {sum(unknown_products.values())} orders name a product that is not in "
            f"products.yaml ({example}); they count for value but not for cross-sell"
        )
    in_use = Counter(c.email for c in contacts.values() if c.email_valid)
    shared = sorted(a for a, n in in_use.items() if n > 1)
    if shared:
        warnings.append(
            f"contacts.csv: {len(shared)} e-mail addresses belong to more than one contact "
            f"(e.g. {shared[0]}); each of them gets its own newsletter"
        )

    content, content_problems = load_content(settings.paths.content, settings.paths.root)
    for item in content.values():
        unknown = [p for p in item.products if p not in products]
        if unknown:
            errors.append(Problem(item.path, None, "products", f"unknown product {', '.join(unknown)}"))
    errors.extend(content_problems)
    warnings.extend(str(p) for p in errors)

    share_problems: list[Problem] = []
    for file, read in tables.items():
        if read is None or not read.count:
            continue
        share = Decimal(bad_rows[file]) / Decimal(read.count)
        if share > settings.max_reject_share:
            share_problems.append(
                Problem(
                    file,
                    None,
                    "",
                    f"{bad_rows[file]} of {read.count} rows rejected ({share:.0%}), more than "
                    f"max_reject_share {settings.max_reject_share:.0%}; fix the export "
                    f"(windstil validate lists every row)",
                )
            )

    rejects.sort(key=lambda r: (list(COLUMNS).index(r.file), r.line))
    dataset = Dataset(
        account_managers=account_managers,
        customers=customers,
        contacts=contacts,
        orders=order_table,
        evaluations=evaluations.frame(),
        interactions=interactions.frame(),
        suppressions=tuple(suppressions.values()),
        products=products,
        content=content,
        rejects=tuple(rejects),
        warnings=tuple(warnings),
    )
    log.info(
        "loaded %d customers, %d contacts, %d orders, %d content items; %d rejects",
        len(customers),
        len(contacts),
        len(order_table),
        len(content),
        len(rejects),
    )
    return _Loaded(dataset, errors, share_problems, warnings)


def _products(path: Path) -> tuple[dict[str, Product], list[Problem]]:
    """Read products.yaml; a problem without line and field means the file is unusable."""
    file = "products.yaml"
    try:
        document, lines = read_yaml(path, file)
    except ConfigError as error:
        if not path.exists():
            return {}, [Problem(file, None, "", f"required file is missing (looked in {path.parent})")]
        return {}, [Problem(p.file, None, "", p.message) for p in error.problems] or [
            Problem(file, None, "", str(error))
        ]
    problems: list[Problem] = []

    def problem(key: str, message: str) -> None:
        line = lines.get(key) or lines.get(key.split(".")[0])
        problems.append(Problem(file, line, key, message))

    if not isinstance(document, list):
        return {}, [Problem(file, None, "", "must be a list of products ({id, name, tags, ...})")]
    products: dict[str, Product] = {}
    allowed = {"id", "name", "tags", "cross_sell", "up_sell"}
    for index, entry in enumerate(document):
        key = f"[{index}]"
        if not isinstance(entry, dict):
            problem(key, "must be a mapping with id and name")
            continue
        for name in entry:
            if name not in allowed:
                problem(f"{key}.{name}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
        product_id = str(entry.get("id") or "")
        name = str(entry.get("name") or "").strip()
        ok = True
        if not SAFE_ID.fullmatch(product_id):
            problem(f"{key}.id", "missing or unsafe id")
            ok = False
        elif product_id in products:
            problem(f"{key}.id", f"duplicate id {product_id}")
            ok = False
        if not name:
            problem(f"{key}.name", "required value is missing")
            ok = False
        lists: dict[str, tuple[str, ...]] = {}
        for list_name in ("tags", "cross_sell", "up_sell"):
            value = entry.get(list_name) or []
            if isinstance(value, str):
                value = re.split(r"[;|,]", value)
            if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
                problem(f"{key}.{list_name}", "must be a list")
                value = []
            if list_name == "tags":
                lists[list_name] = parse_tags(";".join(str(v) for v in value))
            else:
                lists[list_name] = tuple(dict.fromkeys(str(v).strip() for v in value if str(v).strip()))
        if ok:
            products[product_id] = Product(product_id, name, lists["tags"], lists["cross_sell"], lists["up_sell"])
    for index, product in enumerate(list(products.values())):
        for list_name in ("cross_sell", "up_sell"):
            ids: tuple[str, ...] = getattr(product, list_name)
            unknown = [p for p in ids if p not in products]
            if unknown:
                problem(f"[{index}].{list_name}", f"unknown product {', '.join(unknown)}")
    return products, problems


def _reject_problems(rejects: Iterable[Reject]) -> list[Problem]:
    return [Problem(r.file, r.line, r.column, f"{r.reason} ({r.value!r})") for r in rejects]


# --------------------------------------------------------------------------- project level


def load_project(root: Path, addresses: AddressBook | None = None) -> Project:
    """Load settings, segments config and data; raise on anything that must stop a run."""
    settings = load_settings(root)
    segments = load_segments_config(root / "segments.yaml")
    data = load_dataset(settings, addresses)
    unknown = [o.customer_id for o in segments.overrides if o.customer_id not in data.customers]
    if unknown:
        data = _with_warnings(data, f"segments.yaml: overrides name unknown customers ({', '.join(unknown)}); ignored")
    return Project(settings=settings, segments=segments, data=data)


def _with_warnings(data: Dataset, *warnings: str) -> Dataset:
    return replace(data, warnings=(*data.warnings, *warnings))


@dataclass(frozen=True)
class Validation:
    """What `windstil validate` reports: errors fail it, warnings do not."""

    errors: tuple[Problem, ...]
    warnings: tuple[str, ...]
    counts: dict[str, int]


def check_project(root: Path) -> Validation:
    """Load and check everything in the project; collect every problem instead of stopping."""
    errors: list[Problem] = []
    warnings: list[str] = []
    counts: dict[str, int] = {}
    settings: Settings | None = None
    try:
        settings = load_settings(root)
    except ConfigError as error:
        errors.extend(error.problems or [Problem("settings.yaml", None, "", str(error))])
        settings = load_settings_leniently(root)
    segments = None
    try:
        segments = load_segments_config(root / "segments.yaml")
    except ConfigError as error:
        errors.extend(error.problems or [Problem("segments.yaml", None, "", str(error))])
    if settings is None:
        return Validation(tuple(errors), tuple(warnings), counts)
    try:
        loaded = _load(settings)
    except InputError as error:
        errors.extend(error.problems or [Problem("data", None, "", str(error))])
        loaded = None
    if loaded is not None:
        data = loaded.dataset
        # A row rejected only for its e-mail address is kept (call lists use it): a warning.
        errors.extend(_reject_problems(r for r in data.rejects if r.reason != INVALID_EMAIL))
        warnings.extend(str(p) for p in _reject_problems(r for r in data.rejects if r.reason == INVALID_EMAIL))
        errors.extend(loaded.share_problems)
        errors.extend(loaded.errors)
        warnings.extend(w for w in loaded.warnings if w not in {str(p) for p in loaded.errors})
        counts = {
            "account managers": len(data.account_managers),
            "customers": len(data.customers),
            "contacts": len(data.contacts),
            "orders": len(data.orders),
            "evaluations": len(data.evaluations),
            "interactions": len(data.interactions),
            "suppressions": len(data.suppressions),
            "products": len(data.products),
            "content items": len(data.content),
            "rejects": len(data.rejects),
        }
        warnings.extend(_sector_warnings(data))
        if segments is not None:
            for index, override in enumerate(segments.overrides):
                if override.customer_id not in data.customers:
                    errors.append(
                        Problem(
                            "segments.yaml",
                            None,
                            f"overrides[{index}].customer_id",
                            f"unknown customer {override.customer_id}",
                        )
                    )
    errors.extend(_template_problems(settings.paths.templates, settings.paths.root))
    if not errors:
        # Syntax is fine: now compile the e-mail templates as a run would (MJML, inlining,
        # the placeholders surviving both), so a template that breaks the run fails here.
        from pipeline.render.compile import check_templates

        errors.extend(check_templates(settings))
    return Validation(tuple(errors), tuple(warnings), counts)


def _sector_warnings(data: Dataset) -> list[str]:
    """Warn about item sectors no customer has: selection compares them exactly, so a typo hides the item."""
    known = {c.sector for c in data.customers.values() if c.sector}
    by_folded = {sector.casefold(): sector for sector in known}
    warnings: list[str] = []
    for item in data.content.values():
        for sector in item.sectors:
            if sector in known:
                continue
            hint = f"; did you mean {by_folded[sector.casefold()]!r}?" if sector.casefold() in by_folded else ""
            warnings.append(f"{item.path}: sectors: no customer has sector {sector!r}, so no one gets this item{hint}")
    return warnings


def validate_project(root: Path) -> tuple[list[Problem], list[str]]:
    """Return every error and warning in the project (config, data, content, templates)."""
    result = check_project(root)
    return list(result.errors), list(result.warnings)


def _template_problems(templates: Path, root: Path) -> list[Problem]:
    """Parse every template with Jinja (i18n on) and report the ones that do not parse.

    The e-mail templates are two-stage (pipeline/render/i18n.py): stage one, in `[% %]` /
    `[[ ]]` / `[# #]`, is parsed and rendered leniently; the stage-two source it yields is
    then parsed with the usual delimiters.
    """
    if not templates.is_dir():
        return []
    import gettext

    import jinja2

    from pipeline.render.i18n import STATIC_SYNTAX

    plain = jinja2.Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    # Stage one's output is template source, not HTML: escaping would corrupt it.
    static = jinja2.Environment(  # noqa: S701
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.ChainableUndefined,
        **STATIC_SYNTAX,  # type: ignore[arg-type]
    )
    static.install_gettext_translations(gettext.NullTranslations(), newstyle=True)  # type: ignore[attr-defined]
    problems: list[Problem] = []
    for path in sorted(templates.rglob("*")):
        if path.suffix not in (".mjml", ".txt", ".html") or not path.is_file():
            continue
        display = _display(path, root)
        try:
            source = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.append(Problem(display, None, "", "not UTF-8 text"))
            continue
        try:
            if any(mark in source for mark in ("[%", "[[", "[#")):
                stage = "stage one"
                compiled = static.from_string(source)
                try:
                    source = compiled.render()
                except Exception as error:  # lenient: the values are unknown here
                    log.debug("%s: stage one not rendered for checking: %s", display, error)
                    continue
                stage = "stage two"
            else:
                stage = ""
            plain.parse(source)
        except jinja2.TemplateSyntaxError as error:
            label = f" ({stage})" if stage else ""
            problems.append(Problem(display, error.lineno, "", f"template syntax{label}: {error.message}"))
    return problems


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
