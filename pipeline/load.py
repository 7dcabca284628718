"""Load the CRM export (data/) into typed values: the good rows, and a reject per bad cell.

Reading rules (docs/reference/inputs.md):

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

import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import Decimal
from operator import attrgetter
from pathlib import Path

import polars as pl

from pipeline.addresses import AddressBook, known_address_frame
from pipeline.config import SAFE_ID, load_segments_config, load_settings, load_settings_leniently
from pipeline.content import TAGS_FILE, load_content, load_tag_labels, texts_per_language, unlabelled_tags
from pipeline.csvinput import (
    BOOLEANS,
    CUT_OFF,
    INVALID_EMAIL,
    LINE,
    MAX_CELL,
    CellError,
    CsvStream,
    TextTable,
    normalise_email,
    open_csv,
    parse_amount,
    parse_bool,
    parse_date,
    parse_int,
    parse_tags,
    read_csv,
    read_table,
    sniff_delimiter,
)
from pipeline.errors import ConfigError, InputError, Problem
from pipeline.language import N_, Notice, notice_template
from pipeline.models import (
    LANGUAGES,
    Contact,
    ContentItem,
    Customer,
    Dataset,
    Product,
    Project,
    Reject,
    Settings,
)
from pipeline.readers import (
    COLUMNS_READ,
    Reading,
    read_account_managers,
    read_contacts,
    read_customers,
    read_evaluations,
    read_interactions,
    read_orders,
    read_suppressions,
)
from pipeline.yamlfile import read_yaml

__all__ = [  # the CSV reading is in pipeline.csvinput; its names are importable from here too
    "BOOLEANS",
    "CUT_OFF",
    "INVALID_EMAIL",
    "MAX_CELL",
    "CellError",
    "CsvStream",
    "TextTable",
    "Validation",
    "check_project",
    "load_content",
    "load_dataset",
    "load_project",
    "normalise_email",
    "open_csv",
    "parse_amount",
    "parse_bool",
    "parse_date",
    "parse_int",
    "parse_tags",
    "read_csv",
    "read_table",
    "sniff_delimiter",
    "validate_project",
]

log = logging.getLogger(__name__)

# Warnings the review site shows: English, and said there in the project's language.
UNKNOWN_PRODUCTS = notice_template(N_(
    "orders.csv: %(count)s orders name a product that is not in products.yaml (%(example)s); "
    "they count for value but not for cross-sell"
))
SHARED_ADDRESSES = notice_template(N_(
    "contacts.csv: %(count)s e-mail addresses belong to more than one contact (e.g. %(example)s); "
    "each of them gets its own newsletter"
))
MISSING_COLUMNS = notice_template(N_(
    "%(file)s: no column %(columns)s: every row takes the default (see the input files in the docs)%(found)s"
))
NOT_READ = N_("; columns not read: %(names)s (renamed?)")
KNOCK_ON = notice_template(N_(
    "%(file)s: %(count)s row(s) refer to a row that was rejected itself (e.g. %(column)s %(example)s, "
    "%(where)s): fix that row, and these are taken too"
))
PROBLEM = N_("%(where)s: %(message)s")
PROBLEM_IN_FIELD = N_("%(where)s: %(field)s: %(message)s")
UNKNOWN_PRODUCT = N_("unknown product %(ids)s")
UNLABELLED_TAGS = notice_template(N_(
    "%(file)s: tags of %(language)s items without a label in %(language)s, named as written in "
    "%(language)s e-mails: %(tags)s"
))
UNKNOWN_OVERRIDES = notice_template(N_("segments.yaml: overrides name unknown customers (%(ids)s); ignored"))

MAIL_COLUMNS = {"contacts.csv": ("email", "newsletter_opt_in")}  # optional, but without them no e-mail goes
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
    """Read data/ and content/.

    E-mail addresses are checked once each through `addresses` (a book of its own when
    None), and those the state remembers from earlier runs are not checked again. The load
    never writes the state: a run records the book's new checks once it has succeeded.
    """
    addresses = addresses or AddressBook(normalise_email)
    # Reading a CSV file (numpy, Polars) lets go of the interpreter for most of its time, and
    # so do the readers' Polars queries: the files are read in worker threads, the largest
    # first, while the readers turn the files read already into values. The remembered
    # addresses (SQLite) and the content (YAML, Markdown) need none of the files. Two threads,
    # as fast as four on two cores: each thread's malloc arena keeps what it freed, and after
    # the load of 30,000 demo customers the process held 297 MB with four, 276 with two.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="windstil-load") as pool:
        known = pool.submit(known_address_frame, settings.paths.state)
        tables = _Tables(pool, settings.paths.data)
        content = pool.submit(load_content, settings.paths.content, settings.paths.root)
        try:
            return _load_all(settings, addresses, known, content, tables, pool)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # no file read for a load that has failed
            raise


def _load_all(
    settings: Settings,
    addresses: AddressBook,
    known: Future[pl.DataFrame],
    content_read: Future[tuple[dict[str, ContentItem], list[Problem]]],
    tables: _Tables,
    pool: ThreadPoolExecutor,
) -> _Loaded:
    """Read every file of data/ (one reader each), then the content; collect rejects, warnings and errors.

    `known`: the address checks the state remembers; `content_read`: load_content's outcome;
    `tables`: the files being read; `pool`: where the orders and evaluations are read.
    """
    products, product_problems = tables.products, tables.product_problems
    reading = Reading(settings.decimal_mark, addresses)
    try:
        addresses.learn_frame(known.result())
        account_managers = read_account_managers(tables.present("account_managers.csv"), reading)
        customers = read_customers(tables.present("customers.csv"), reading, account_managers)
        # The orders and evaluations (Polars queries, mostly) are read in a worker thread while
        # this one builds the contacts' values (Python); each reader keeps its own rejects.
        orders_read = pool.submit(_orders_and_evaluations, tables, reading, customers, products)
        contacts = read_contacts(tables.present("contacts.csv"), reading, customers)
        interactions = read_interactions(tables.get("interactions.csv"), reading, customers, contacts)
        suppressions = read_suppressions(tables.get("suppressions.csv"), reading)
        orders, evaluations = orders_read.result()
    except Exception:
        tables.all()  # a file that cannot be read, or lacks a column, is what the load stops for
        raise
    read = tables.all()

    errors = [p for p in product_problems if not (p.line is None and p.field == "")]
    warnings = _column_warnings(read)
    warnings.extend(_data_warnings(orders, contacts, products))
    content, content_problems = content_read.result()
    for item in content.values():
        unknown = [p for p in item.products if p not in products]
        if unknown:
            errors.append(Problem(item.path, None, "products", Notice(UNKNOWN_PRODUCT, ids=", ".join(unknown))))
    errors.extend(content_problems)
    tag_labels, label_problems = load_tag_labels(settings.paths.content, settings.paths.root)
    errors.extend(label_problems)
    warnings.extend(problem_notice(p) for p in errors)
    if tag_labels:  # a project that labels its tags learns of the ones it missed
        labels_file = _display(settings.paths.content / TAGS_FILE, settings.paths.root)
        for language, tags in unlabelled_tags(content.values(), tag_labels).items():
            shown = ", ".join(tags[:8]) + (", …" if len(tags) > 8 else "")
            warnings.append(Notice(UNLABELLED_TAGS, file=labels_file, language=language, tags=shown))
    share_problems = _share_problems(read, reading.bad_rows, settings.max_reject_share, reading.rejects)

    rejects = sorted(reading.rejects, key=lambda r: (list(COLUMNS).index(r.file), r.line))
    warnings.extend(_knock_on_warnings(read, rejects))
    dataset = Dataset(
        account_managers=account_managers,
        customers=customers,
        contacts=contacts,
        orders=orders,
        evaluations=evaluations,
        interactions=interactions,
        suppressions=tuple(suppressions.values()),
        products=products,
        content=content,
        rejects=tuple(rejects),
        warnings=tuple(warnings),
        tag_labels=tag_labels,
    )
    log.info(
        "loaded %d customers, %d contacts, %d orders, %d content items; %d rejects",
        len(customers),
        len(contacts),
        len(orders),
        len(content),
        len(rejects),
    )
    return _Loaded(dataset, errors, share_problems, warnings)


def _orders_and_evaluations(
    tables: _Tables, reading: Reading, customers: dict[str, Customer], products: dict[str, Product]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the good orders and evaluations (the evaluations name orders)."""
    orders = read_orders(tables.present("orders.csv"), reading, customers, products)
    return orders, read_evaluations(tables.present("evaluations.csv"), reading, customers, orders)


# The order the files are read in: the largest first, then as the readers take them.
_READ_ORDER = ("orders.csv", *(file for file in COLUMNS if file != "orders.csv"))


class _Tables:
    """The CSV files of data/, each read in a worker thread of `pool`, and products.yaml.

    A reader takes its file as soon as it is read. A missing file or column, or a file that
    cannot be read, stops the load with one InputError naming every such file, as soon as a
    reader asks for one of them or when all() is called.
    """

    def __init__(self, pool: ThreadPoolExecutor, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._reads: dict[str, Future[TextTable] | None] = {}
        for file in _READ_ORDER:
            path = data_dir / file
            self._reads[file] = pool.submit(read_table, path, file, COLUMNS_READ[file]) if path.is_file() else None
        self.products, self.product_problems = _products(data_dir / "products.yaml")

    def get(self, file: str) -> TextTable | None:
        """Return the file read (None when the file is not there); raise InputError as all() does."""
        read = self._reads[file]
        if read is None:
            if COLUMNS[file][1]:
                self.all()
            return None
        if read.exception() is not None or any(c not in read.result().header for c in COLUMNS[file][0]):
            self.all()
        return read.result()

    def present(self, file: str) -> TextTable:
        """Return a file that must be there (see get)."""
        table = self.get(file)
        if table is None:  # all() stops the load when a required file is missing
            raise InputError(f"{file}: required file is missing", [Problem(file, None, "", "required file is missing")])
        return table

    def all(self) -> dict[str, TextTable | None]:
        """Wait for every file; raise InputError for a missing file or column, or one that cannot be read."""
        tables: dict[str, TextTable | None] = {}
        fatal: list[Problem] = []
        for file, (required, file_required) in COLUMNS.items():
            read = self._reads[file]
            if read is None:
                if file_required:
                    fatal.append(Problem(file, None, "", f"required file is missing (looked in {self._data_dir})"))
                tables[file] = None
                continue
            try:
                table = read.result()
            except InputError as error:
                fatal.extend(error.problems)
                continue
            missing = [c for c in required if c not in table.header]
            fatal.extend(Problem(file, 1, c, "required column is missing") for c in missing)
            hint = _header_hint(table.header) if missing else ""
            if hint:
                fatal.append(Problem(file, 1, "", hint))
            tables[file] = table
        fatal.extend(p for p in self.product_problems if p.line is None and p.field == "")
        if fatal:
            files = sorted({p.file for p in fatal})
            columns = [f"{p.file}: {p.field}" for p in fatal if p.field]
            what = f"missing column {', '.join(columns)}" if columns else f"cannot load {', '.join(files)}"
            raise InputError(what, fatal)
        return tables


def _header_hint(header: dict[str, int]) -> str:
    """Return why a header lacks its columns when the file's shape says so: a tab, UTF-16, Excel's `sep=` line."""
    names = [name for name in header if name]
    if any("\x00" in name for name in names):
        return "the file looks like UTF-16 text: save it as 'CSV UTF-8' (Excel)"
    if names and names[0].startswith("sep="):
        return "the first line is Excel's 'sep=' line: remove it, the header must be the first line"
    if len(names) == 1:
        shown = names[0] if len(names[0]) <= 60 else names[0][:57] + "…"
        tab = " (tab-separated?)" if "\t" in names[0] else ""
        return f"the header reads as one column{tab}: {shown!r}; separate the columns with , or ;"
    return ""


def _column_warnings(tables: dict[str, TextTable | None]) -> list[str]:
    """Warn of a file whose optional columns look renamed, or that lacks what mail needs.

    An optional column that is missing gives every row its default (no `email`: nobody gets an
    e-mail; no `newsletter_opt_in`: nobody has agreed to one). That is right for an export
    without the column, and a silent loss for one whose column was renamed in the CRM. So the
    file is named when it has columns that are not read (the likely new names), and always
    when it lacks a column that every e-mail depends on.
    """
    warnings: list[str] = []
    for file, table in tables.items():
        if table is None:
            continue
        known = COLUMNS_READ[file]
        missing = [c for c in known if c not in table.header]
        unread = [name for name in table.header if name and name not in known]
        if not missing or not (unread or set(missing) & set(MAIL_COLUMNS.get(file, ()))):
            continue
        found = Notice(NOT_READ, names=", ".join(unread)) if unread else ""
        warnings.append(Notice(MISSING_COLUMNS, file=file, columns=", ".join(missing), found=found))
    return warnings


# The files whose rows others refer to, by the referring column.
_REFERRED = {
    "account_manager_id": "account_managers.csv",
    "customer_id": "customers.csv",
    "contact_id": "contacts.csv",
    "order_id": "orders.csv",
}


def _knock_on_warnings(tables: dict[str, TextTable | None], rejects: Sequence[Reject]) -> list[str]:
    """Name the rows rejected only because the row they refer to was rejected itself.

    A contact rejected for a bad cell makes each of its interactions an "unknown contact_id",
    though the contact is in the file: the warning points to the row to fix first.
    """
    rejected_ids: dict[str, dict[str, int]] = {}  # column -> id of a rejected row -> its line
    for column, file in _REFERRED.items():
        lines = {r.line for r in rejects if r.file == file}
        table = tables.get(file)
        if table is not None and lines:
            rows = table.frame.filter(pl.col(LINE).is_in(list(lines))).select(column, LINE).iter_rows()
            rejected_ids[column] = {value: line for value, line in rows if value}
    knocked: dict[tuple[str, str], list[Reject]] = {}
    for reject in rejects:
        if reject.reason == f"unknown {reject.column}" and reject.value in rejected_ids.get(reject.column, {}):
            knocked.setdefault((reject.file, reject.column), []).append(reject)
    warnings: list[str] = []
    for (file, column), found in knocked.items():
        example = found[0].value
        where = f"{_REFERRED[column]}:{rejected_ids[column][example]}"
        warnings.append(Notice(KNOCK_ON, file=file, count=len(found), column=column, example=example, where=where))
    return warnings


def _data_warnings(orders: pl.DataFrame, contacts: dict[str, Contact], products: dict[str, Product]) -> list[str]:
    """Return what is worth knowing about good rows: unknown products, addresses shared by contacts."""
    warnings: list[str] = []
    named = orders.filter((pl.col("product_id") != "") & ~pl.col("product_id").is_in(list(products)))
    unknown_products = Counter(named.get_column("product_id").to_list())
    if unknown_products:
        example = ", ".join(sorted(unknown_products)[:3])
        warnings.append(Notice(UNKNOWN_PRODUCTS, count=sum(unknown_products.values()), example=example))
    in_use = Counter(map(attrgetter("email"), filter(attrgetter("email_valid"), contacts.values())))  # loops in C
    shared = sorted(a for a, n in in_use.items() if n > 1)
    if shared:
        warnings.append(Notice(SHARED_ADDRESSES, count=len(shared), example=shared[0]))
    return warnings

def _share_problems(
    tables: dict[str, TextTable | None], bad_rows: dict[str, int], max_share: Decimal, rejects: Sequence[Reject] = ()
) -> list[Problem]:
    """Return a problem per file with more than `max_share` of its rows rejected, with its most common reason."""
    problems: list[Problem] = []
    for file, read in tables.items():
        if read is None or not read.count:
            continue
        share = Decimal(bad_rows.get(file, 0)) / Decimal(read.count)
        reasons = Counter(r.reason for r in rejects if r.file == file).most_common(1)
        hint = ""
        if reasons:
            reason, count = reasons[0]
            hint = f"; most often: {reason} ({count})"
            if reason == "invalid amount":
                hint += ", is settings.yaml's decimal_mark the one of this export?"
            elif reason.startswith("unknown "):
                hint += ", were the rows they name rejected themselves?"
        if share > max_share:
            problems.append(
                Problem(
                    file,
                    None,
                    "",
                    f"{bad_rows[file]} of {read.count} rows rejected ({share:.0%}), more than "
                    f"max_reject_share {max_share:.0%}{hint}; fix the export "
                    f"(windstil validate lists every row)",
                )
            )
    return problems


def problem_notice(problem: Problem) -> str:
    """Return a problem as the warning the review site shows: `file:line: field: message`, translatable."""
    where = problem.file if problem.line is None else f"{problem.file}:{problem.line}"
    message = problem.message if isinstance(problem.message, Notice) else Notice(problem.message)
    if problem.field:
        return Notice(PROBLEM_IN_FIELD, where=where, field=problem.field, message=message)
    return Notice(PROBLEM, where=where, message=message)


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
        return {}, [Problem(file, None, "", Notice(N_("must be a list of products ({id, name, tags, ...})")))]
    products: dict[str, Product] = {}
    allowed = {"id", "name", "tags", "cross_sell", "up_sell"}
    for index, entry in enumerate(document):
        key = f"[{index}]"
        if not isinstance(entry, dict):
            problem(key, Notice(N_("must be a mapping with id and name")))
            continue
        for name in entry:
            if name not in allowed:
                problem(f"{key}.{name}", Notice(N_("unknown key (allowed: %(keys)s)"), keys=", ".join(sorted(allowed))))
        product_id = str(entry.get("id") or "")
        name, names, wrong = _product_names(entry.get("name"))
        if wrong:
            problem(f"{key}.name", wrong)
        ok = True
        if not SAFE_ID.fullmatch(product_id):
            problem(f"{key}.id", Notice(N_("missing or unsafe id")))
            ok = False
        elif product_id in products:
            problem(f"{key}.id", Notice(N_("duplicate id %(id)s"), id=product_id))
            ok = False
        if not name:
            if not wrong:
                problem(f"{key}.name", Notice(N_("required value is missing")))
            ok = False
        lists: dict[str, tuple[str, ...]] = {}
        for list_name in ("tags", "cross_sell", "up_sell"):
            value = entry.get(list_name) or []
            if isinstance(value, str):
                value = re.split(r"[;|,]", value)
            if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
                problem(f"{key}.{list_name}", Notice(N_("must be a list")))
                value = []
            if list_name == "tags":
                lists[list_name] = parse_tags(";".join(str(v) for v in value))
            else:
                lists[list_name] = tuple(dict.fromkeys(str(v).strip() for v in value if str(v).strip()))
        if ok:
            products[product_id] = Product(
                product_id, name, lists["tags"], lists["cross_sell"], lists["up_sell"], names
            )
    for index, product in enumerate(list(products.values())):
        for list_name in ("cross_sell", "up_sell"):
            ids: tuple[str, ...] = getattr(product, list_name)
            unknown = [p for p in ids if p not in products]
            if unknown:
                problem(f"[{index}].{list_name}", Notice(UNKNOWN_PRODUCT, ids=", ".join(unknown)))
    return products, problems


def _product_names(value: object) -> tuple[str, dict[str, str], str]:
    """Return a product's name, its names per language, and what is wrong ("" if nothing).

    products.yaml gives one name (`name: Managed Werkplek`) or one per language
    (`name: {nl: Managed Werkplek, en: Managed Workplace}`); the first of those is its name
    where a language has none of its own.
    """
    if not isinstance(value, dict):
        return " ".join(str(value or "").split()), {}, ""
    names, wrong = texts_per_language(value, None)
    if wrong or not names:  # a product is named in full, or not at all: one problem, for its name
        return "", {}, Notice(N_("must be a name, or a name per language (%(values)s)"), values=", ".join(LANGUAGES))
    return next(iter(names.values())), names, ""


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
        data = _with_warnings(data, Notice(UNKNOWN_OVERRIDES, ids=", ".join(unknown)))
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
        content_errors, content_warnings = content_check_problems(data.content.values())
        errors.extend(content_errors)
        warnings.extend(content_warnings)
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


def content_check_problems(items: Iterable[ContentItem]) -> tuple[list[Problem], list[str]]:
    """Run the pre-send checks that need only the content on every item: errors and warnings.

    The same checks run on every message of a run; here an author learns of an image without
    alt text or a link that is not https before the run.
    """
    from pipeline.checks import Level as CheckLevel
    from pipeline.checks.content import fragment_findings, link_scheme_findings
    from pipeline.checks.personal import unresolved_snippet

    errors: list[Problem] = []
    warnings: list[str] = []
    for item in sorted(items, key=lambda i: i.path):
        findings = [*link_scheme_findings(item.url, "url"), *fragment_findings(item.body_html)]
        for name, text in (("title", item.title), ("summary", item.summary), ("body", item.body_html)):
            around = unresolved_snippet(text.encode("utf-8"))
            if around is not None:
                detail = f"template syntax reaches the e-mail as written, not filled in: {around!r}"
                errors.append(Problem(item.path, None, name, f"link_unresolved: {detail}"))
        for finding in findings:
            field = "url" if finding.detail.startswith("url ") else "body"
            if finding.level is CheckLevel.ERROR:
                errors.append(Problem(item.path, None, field, f"{finding.check}: {finding.detail}"))
            else:
                warnings.append(f"{item.path}: {field}: {finding.check}: {finding.detail}")
    return errors, warnings


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
