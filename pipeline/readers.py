"""One reader per file of the CRM export: its checks (see pipeline.rowchecks) and its good rows as values.

Each reader states the checks of a row in the order the row is read, so that the rejects
of one row come in that order: the cells first, then a duplicate id, then a reference to
a row that is not there (only for a row whose cells are good). A reader returns the typed
values of the rows it takes: the account managers, customers, contacts and suppressions as
frozen dataclasses, the orders, evaluations and interactions as frames (pipeline.tables).
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from itertools import repeat
from typing import Any, TypeVar

import polars as pl

from pipeline.addresses import AddressBook
from pipeline.csvinput import (
    INVALID_EMAIL,
    TextTable,
    bare_address,
    parse_amount,
    parse_bool,
    parse_date,
    parse_int,
    parse_tags,
    suppression_key,
)
from pipeline.models import (
    AccountManager,
    Channel,
    Contact,
    Customer,
    Level,
    OrderStatus,
    OurLevel,
    Product,
    Reject,
    Suppression,
)
from pipeline.rowchecks import RowChecks, mapped
from pipeline.tables import EVALUATION_SCHEMA, INTERACTION_SCHEMA, ORDER_SCHEMA

T = TypeVar("T")

# The columns each reader reads.
COLUMNS_READ: dict[str, tuple[str, ...]] = {
    "account_managers.csv": ("account_manager_id", "name", "email", "phone"),
    "customers.csv": (
        "customer_id", "name", "account_manager_id", "sector", "language", "customer_since",
        "reference_customer", "referrals", "knowledge_partner", "strategic_fit",
    ),
    "contacts.csv": (
        "contact_id", "customer_id", "first_name", "last_name", "email", "phone", "job_title", "level",
        "language", "newsletter_opt_in", "do_not_call", "interests",
    ),
    "orders.csv": (
        "order_id", "customer_id", "order_date", "end_date", "revenue", "cost", "product_id", "status", "description",
    ),
    "evaluations.csv": ("customer_id", "order_id", "date", "score", "comment"),
    "interactions.csv": ("customer_id", "contact_id", "date", "channel", "our_level", "their_level", "note"),
    "suppressions.csv": ("email", "reason", "date"),
}


@dataclass
class Reading:
    """What the readers of one load share: the decimal mark, the address book, the rejects and bad rows per file."""

    decimal_mark: str
    addresses: AddressBook
    rejects: list[Reject] = field(default_factory=list)
    bad_rows: dict[str, int] = field(default_factory=dict)

    def emails(self, texts: list[str]) -> dict[str, str | None]:
        """Return each text's normalised address (None: invalid), each checked once (see AddressBook)."""
        return self.addresses.outcomes(texts)

    def email_frame(self, texts: pl.Series) -> pl.DataFrame:
        """Return each text with its normalised address (null: invalid or empty), in order (see AddressBook)."""
        return self.addresses.outcome_frame(texts)

    def done(self, checks: RowChecks, taken: pl.Expr) -> None:
        """Keep a file's rejects and the number of its rows not taken.

        Readers of different files run in two threads (see load._load_all): extending the one
        list and setting a key are each atomic, and the rejects are sorted by file and line.
        """
        self.rejects += checks.rejects()
        self.bad_rows[checks.file] = checks.bad_rows(taken)


def _flag(default: bool = False) -> Callable[[str], bool]:
    return lambda text: parse_bool(text, default)


def read_account_managers(table: TextTable, reading: Reading) -> dict[str, AccountManager]:
    """Return the good account managers by id."""
    checks = RowChecks(table)
    am_id = checks.id("account_manager_id")
    name = checks.text("name", required=True)
    emails = checks.looked_up("email", reading.emails, INVALID_EMAIL, required=True, counts=False)
    valid = pl.col("email").is_in(list(emails))
    duplicate = checks.duplicate("account_manager_id", checks.ok() & valid)
    checks.reject("account_manager_id", duplicate, "duplicate id")
    taken = checks.ok() & valid  # an invalid address makes no account manager, though not counted as a reject
    checks.add(_taken=taken)
    # Read once the row is taken: a phone number too long is listed, but the row is not refused.
    phone = checks.text("phone", counts=False, only=pl.col("_taken"))
    rows = checks.rows(pl.col("_taken"), am_id, name, pl.col("email"), phone)
    reading.done(checks, pl.col("_taken"))
    return {i: AccountManager(i, n, emails[e], p) for i, n, e, p in rows.iter_rows()}


def read_customers(
    table: TextTable, reading: Reading, account_managers: dict[str, AccountManager]
) -> dict[str, Customer]:
    """Return the good customers by id."""
    checks = RowChecks(table)
    customer_id = checks.id("customer_id")
    name = checks.text("name", required=True)
    am_id = checks.id("account_manager_id")
    languages = {"nl": "nl", "en": "en"}
    checks.reject("language", ~pl.col("language").str.to_lowercase().is_in(["", *languages]), "invalid value")
    sector = checks.text("sector")
    since = checks.parsed("customer_since", parse_date)
    reference = checks.parsed("reference_customer", _flag())
    referrals = checks.ranged("referrals", parse_int, 0, None)
    partner = checks.parsed("knowledge_partner", _flag())
    fit = checks.ranged("strategic_fit", parse_int, 0, 5)
    known = pl.col("account_manager_id").is_in(list(account_managers))
    duplicate = checks.duplicate("customer_id", checks.ok() & known)
    checks.reject("customer_id", duplicate, "duplicate id")
    checks.reject("account_manager_id", checks.ok() & ~known, "unknown account_manager_id", am_id)
    taken = checks.ok()
    language = pl.col("language").str.to_lowercase()
    rows = checks.rows(
        taken, customer_id, name, am_id, sector, pl.when(language == "").then(pl.lit("nl")).otherwise(language),
        mapped("customer_since", since, pl.Date), mapped("reference_customer", reference, pl.Boolean, False),
        pl.col("referrals"), mapped("knowledge_partner", partner, pl.Boolean, False), pl.col("strategic_fit"),
    )
    reading.done(checks, taken)
    columns = [rows.to_series(i).to_list() for i in range(rows.width)]
    for index, numbers in ((7, referrals), (9, fit)):  # as Python ints: a count of referrals has no upper bound
        columns[index] = list(map({"": 0, **numbers}.__getitem__, columns[index]))
    return dict(zip(columns[0], frozen_values(Customer, columns), strict=True))


def read_contacts(table: TextTable, reading: Reading, customers: dict[str, Customer]) -> dict[str, Contact]:
    """Return the good contacts by id; one with an invalid address is kept (for the call lists), not valid."""
    checks = RowChecks(table)
    contact_id = checks.id("contact_id")
    customer_id = checks.id("customer_id")
    first_name = checks.text("first_name", required=True)
    email_text = checks.text("email")
    address = checks.joined("email", reading.email_frame, INVALID_EMAIL, counts=False)
    checks.reject("language", ~pl.col("language").str.to_lowercase().is_in(["", "nl", "en"]), "invalid value")
    last_name = checks.text("last_name")
    phone = checks.text("phone")
    job_title = checks.text("job_title")
    levels = checks.choice("level", Level)
    opt_in = checks.parsed("newsletter_opt_in", _flag())
    do_not_call = checks.parsed("do_not_call", _flag())
    interests, _ = checks.distinct("interests", parse_tags)
    known = pl.col("customer_id").is_in(list(customers))
    duplicate = checks.duplicate("contact_id", checks.ok() & known)
    checks.reject("contact_id", duplicate, "duplicate id")
    checks.reject("customer_id", checks.ok() & ~known, "unknown customer_id", customer_id)
    taken = checks.ok()
    language = pl.col("language").str.to_lowercase()
    rows = checks.rows(
        taken, contact_id, customer_id, first_name, last_name, pl.coalesce(address, email_text), address.is_not_null(),
        phone, job_title, mapped("level", {t: v.value for t, v in levels.items()}, pl.String, Level.OPERATIONAL.value),
        pl.when(language == "").then(None).otherwise(language),
        mapped("newsletter_opt_in", opt_in, pl.Boolean, False), mapped("do_not_call", do_not_call, pl.Boolean, False),
        pl.col("interests"),
    )
    reading.done(checks, taken)
    columns = [rows.to_series(i).to_list() for i in range(rows.width)]
    columns[8] = list(map({level.value: level for level in Level}.__getitem__, columns[8]))
    columns[12] = list(map({"": (), **interests}.__getitem__, columns[12]))
    return dict(zip(columns[0], frozen_values(Contact, columns), strict=True))


def frozen_values(kind: type[T], columns: Sequence[Sequence[Any]]) -> list[T]:
    """Return kind(*row) for each row of `columns` (one per field, in field order), built a field at a time.

    A frozen dataclass's __init__ sets each field through object.__setattr__, a Python call
    per field and row (270,000 contacts: about 1.5 s); here each field's slot is set by a loop
    in C over its column, the very store __init__ makes. `kind`: a frozen dataclass with
    slots and no __post_init__, whose fields are all given.
    """
    names = [f.name for f in fields(kind)]  # type: ignore[arg-type]
    if len(columns) != len(names) or hasattr(kind, "__post_init__") or "__slots__" not in vars(kind):
        raise TypeError(f"{kind.__name__}: not a slotted dataclass without __post_init__, or not every field given")
    count = len(columns[0]) if columns else 0
    if any(len(column) != count for column in columns):
        raise ValueError(f"{kind.__name__}: columns of different lengths")
    # Hundreds of thousands of new objects would set off the cycle collector time and again,
    # each time walking every object of the process; these values make no cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        values: list[T] = list(map(object.__new__, repeat(kind, count)))
        for name, column in zip(names, columns, strict=True):
            deque(map(getattr(kind, name).__set__, values, column), maxlen=0)
    finally:
        if collecting:
            gc.enable()
    return values


def read_orders(
    table: TextTable, reading: Reading, customers: dict[str, Customer], products: dict[str, Product]
) -> pl.DataFrame:
    """Return the good orders as a frame (tables.ORDER_SCHEMA), in file order."""
    checks = RowChecks(table)
    order_id = checks.id("order_id")
    customer_id = checks.id("customer_id")
    days = checks.parsed("order_date", parse_date, required=True)
    days |= checks.parsed("end_date", parse_date)
    revenue = checks.amount("revenue", reading.decimal_mark, required=True)
    cost = checks.amount("cost", reading.decimal_mark)
    product_id = checks.id("product_id", required=False)
    statuses = checks.choice("status", OrderStatus)
    checks.add(_order_date=mapped("order_date", days, pl.Date), _end_date=mapped("end_date", days, pl.Date))
    order_date, end_date = pl.col("_order_date"), pl.col("_end_date")
    checks.reject("end_date", checks.ok() & (end_date < order_date), "end date before order date")
    known = pl.col("customer_id").is_in(list(customers))
    duplicate = checks.duplicate("order_id", checks.ok() & known)
    checks.reject("order_id", duplicate, "duplicate id")
    checks.reject("customer_id", checks.ok() & ~known, "unknown customer_id", customer_id)
    taken = checks.ok()
    checks.add(_taken=taken)
    description = checks.text("description", counts=False, only=pl.col("_taken"))  # once the row is taken
    status = mapped("status", {t: s.value for t, s in statuses.items()}, pl.String)
    values = dict(
        order_id=order_id, customer_id=customer_id, order_date=order_date,
        revenue_units=revenue[0], revenue_exp=revenue[1], product_id=product_id,
        description=description, end_date=end_date, cost_units=cost[0],
        cost_exp=cost[1], status=status,
    )
    # Typed in the query that picks the rows: a cast of the frame afterwards copies every column.
    frame = checks.rows(pl.col("_taken"), **{name: value.cast(ORDER_SCHEMA[name]) for name, value in values.items()})
    reading.done(checks, pl.col("_taken"))
    del products  # product ids are kept as given: an unknown one is a warning, not a reject
    return _typed(frame, ORDER_SCHEMA)


def read_evaluations(
    table: TextTable, reading: Reading, customers: dict[str, Customer], orders: pl.DataFrame
) -> pl.DataFrame:
    """Return the good evaluations as a frame (tables.EVALUATION_SCHEMA), in file order."""
    checks = RowChecks(table)
    customer_id = checks.id("customer_id")
    order_id = checks.id("order_id", required=False)
    days = checks.parsed("date", parse_date, required=True)
    scores = checks.parsed("score", lambda text: parse_amount(text, reading.decimal_mark), required=True)
    outside = [text for text, score in scores.items() if not 1 <= score <= 10]
    checks.reject("score", pl.col("score").is_in(outside), "score outside 1-10")
    owners = orders.select(pl.col("order_id").alias("_ref"), pl.col("customer_id").alias("_owner"))
    _check_customer_and_owner(checks, customers, customer_id, "order_id", order_id, owners, "order")
    taken = checks.ok()
    checks.add(_taken=taken)
    comment = checks.text("comment", counts=False, only=pl.col("_taken"))  # read once the row is taken
    # A score is kept as the text of its Decimal: 8 and 8.0 print differently.
    score = mapped("score", {text: str(value) for text, value in scores.items()}, pl.String)
    frame = checks.rows(
        pl.col("_taken"),
        customer_id=customer_id, date=mapped("date", days, pl.Date), score=score,
        order_id=order_id, comment=comment,
    )
    reading.done(checks, pl.col("_taken"))
    return _typed(frame, EVALUATION_SCHEMA)


def read_interactions(
    table: TextTable | None, reading: Reading, customers: dict[str, Customer], contacts: dict[str, Contact]
) -> pl.DataFrame:
    """Return the good interactions as a frame (tables.INTERACTION_SCHEMA), in file order; none without the file."""
    if table is None:
        return pl.DataFrame(schema=INTERACTION_SCHEMA)
    checks = RowChecks(table)
    customer_id = checks.id("customer_id")
    contact_id = checks.id("contact_id", required=False)
    days = checks.parsed("date", parse_date, required=True)
    enums: dict[str, Any] = {"channel": Channel, "our_level": OurLevel, "their_level": Level}
    values = {column: checks.choice(column, kind) for column, kind in enums.items()}
    owners = pl.DataFrame(
        {"_ref": list(contacts), "_owner": [c.customer_id for c in contacts.values()]},
        schema={"_ref": pl.String, "_owner": pl.String},
    )
    _check_customer_and_owner(checks, customers, customer_id, "contact_id", contact_id, owners, "contact")
    taken = checks.ok()
    checks.add(_taken=taken)
    note = checks.text("note", counts=False, only=pl.col("_taken"))  # read once the row is taken
    frame = checks.rows(
        pl.col("_taken"),
        customer_id=customer_id, date=mapped("date", days, pl.Date), contact_id=contact_id,
        **{c: mapped(c, {t: m.value for t, m in values[c].items()}, pl.String) for c in enums},
        note=note, source=pl.lit("interactions.csv"),
    )
    reading.done(checks, pl.col("_taken"))
    return _typed(frame, INTERACTION_SCHEMA)


def _typed(frame: pl.DataFrame, schema: dict[str, pl.DataType | type[pl.DataType]]) -> pl.DataFrame:
    """Return `frame` with `schema`'s types, cast only when a column differs: a cast to the same types copies them."""
    if frame.columns == list(schema) and all(frame.schema[name] == dtype for name, dtype in schema.items()):
        return frame
    return frame.cast(schema)  # type: ignore[arg-type]


def _check_customer_and_owner(
    checks: RowChecks,
    customers: dict[str, Customer],
    customer_id: pl.Expr,
    column: str,
    reference: pl.Expr,
    owners: pl.DataFrame,
    noun: str,
) -> None:
    """Reject an unknown customer, then a `column` that names no known record, or one of another customer.

    `owners` maps each known record (`_ref`) to its customer (`_owner`); an empty `column` refers to none.
    """
    checks.add(_ref=reference)
    # Only the records named: a join's hash table of the 400,000 orders evaluated, not of all 1.6 million.
    records = owners.filter(pl.col("_ref").is_in(checks.frame.get_column("_ref").unique().implode()))
    checks.attach("_ref", records)
    known = pl.col("customer_id").is_in(list(customers))
    checks.reject("customer_id", checks.ok() & ~known, "unknown customer_id", customer_id)
    named = pl.col("_ref") != ""
    checks.reject(column, checks.ok() & named & pl.col("_owner").is_null(), f"unknown {column}", reference)
    other = checks.ok() & pl.col("_owner").is_not_null() & (pl.col("_owner") != customer_id)
    checks.reject(column, other, f"{noun} of another customer", reference)


def read_suppressions(table: TextTable | None, reading: Reading) -> dict[str, Suppression]:
    """Return the suppressed addresses (normalised; a malformed one as given, lower-cased), first row first.

    An address copied with its wrapping (`Noor Nguyen <noor@…>`, `<noor@…>`, `mailto:noor@…`)
    suppresses the address inside: an unsubscribe must never miss for the way it was written.
    """
    if table is None:
        return {}
    # A row with a cell too many is listed but still suppresses: suppressing too much is the safe side.
    checks = RowChecks(table, long_rows_count=False)
    raw_email = checks.text("email", required=True)
    checks.add(_email=raw_email)
    bare = {text: bare_address(text) for text in checks.frame.get_column("_email").unique().to_list() if text}
    checked = reading.emails(list(set(bare.values())))
    found = {text: checked[address] for text, address in bare.items()}
    invalid = [text for text, address in found.items() if address is None]
    # Still honoured: suppressing a malformed address costs nothing and is safe.
    checks.reject("email", (pl.col("_email") != "") & pl.col("_email").is_in(invalid), INVALID_EMAIL,
                  pl.col("_email"), counts=False)
    emails = {text: address for text, address in found.items() if address is not None}
    days = checks.parsed("date", parse_date, counts=False)  # a date that cannot be read is listed; it still suppresses
    taken = checks.ok()
    checks.add(_taken=taken)
    reason = checks.text("reason", counts=False, only=pl.col("_taken"))  # read for every row taken
    rows = checks.rows(pl.col("_taken"), pl.col("_email"), reason, pl.col("date"))
    reading.done(checks, pl.col("_taken"))
    suppressions: dict[str, Suppression] = {}
    for text, why, day in rows.iter_rows():
        address = emails.get(text, suppression_key(text))
        suppressions.setdefault(address, Suppression(address, why, days.get(day)))
    return suppressions
