"""Typed values passed between the stages of the batch.

Every stage takes these as explicit arguments and returns new ones; nothing is mutated
after construction. The words are DESIGN.md's words.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import itertools
import operator
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import polars as pl


class Segment(enum.StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


class Level(enum.StrEnum):
    """The level of a contact person on the customer's side."""

    MANAGEMENT = "management"
    OPERATIONAL = "operational"
    TECHNICAL = "technical"
    FINANCE = "finance"


class OurLevel(enum.StrEnum):
    """Who on our side held an interaction."""

    ACCOUNT_MANAGER = "account_manager"
    MANAGEMENT = "management"


class Channel(enum.StrEnum):
    CALL = "call"
    VISIT = "visit"
    MEETING = "meeting"
    EMAIL = "email"


class OrderStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class ItemType(enum.StrEnum):
    ARTICLE = "article"
    ALERT = "alert"
    CASE = "case"
    EVENT = "event"


LANGUAGES = ("nl", "en")


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class AccountManager:
    account_manager_id: str
    name: str
    email: str
    phone: str = ""


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str
    name: str
    account_manager_id: str
    sector: str = ""
    language: str = "nl"
    customer_since: date | None = None
    reference_customer: bool = False
    referrals: int = 0
    knowledge_partner: bool = False
    strategic_fit: int = 0


@dataclass(frozen=True, slots=True)
class Contact:
    contact_id: str
    customer_id: str
    first_name: str
    last_name: str = ""
    email: str = ""  # normalised when valid, else as given ("" when absent)
    email_valid: bool = False
    phone: str = ""
    job_title: str = ""
    level: Level = Level.OPERATIONAL
    language: str | None = None  # overrides the customer's language when set
    newsletter_opt_in: bool = False
    do_not_call: bool = False
    interests: tuple[str, ...] = ()

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    customer_id: str
    order_date: date
    revenue: Decimal
    product_id: str = ""
    description: str = ""
    end_date: date | None = None  # None: still running
    cost: Decimal = Decimal(0)
    status: OrderStatus | None = None

    @property
    def cancelled(self) -> bool:
        return self.status is OrderStatus.CANCELLED


@dataclass(frozen=True, slots=True)
class Evaluation:
    customer_id: str
    date: date
    score: Decimal
    order_id: str = ""
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Interaction:
    customer_id: str
    date: date
    contact_id: str = ""
    channel: Channel | None = None
    our_level: OurLevel | None = None
    their_level: Level | None = None
    note: str = ""
    source: str = "interactions.csv"  # or "calls import"


@dataclass(frozen=True, slots=True)
class Suppression:
    email: str  # normalised (lower-cased)
    reason: str = ""
    date: date | None = None
    source: str = "suppressions.csv"


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    name: str
    tags: tuple[str, ...] = ()
    cross_sell: tuple[str, ...] = ()
    up_sell: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ContentItem:
    """One content item; `body_html` is the sanitised HTML fragment, made once at load."""

    id: str
    path: str  # relative to the project root, for messages
    title: str
    type: ItemType
    language: str
    published: date
    body_markdown: str
    body_html: str
    tags: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    sectors: tuple[str, ...] = ()
    segments: tuple[Segment, ...] = ()  # empty: all segments
    expires: date | None = None
    priority: int = 0
    url: str = ""
    summary: str = ""
    event_date: date | None = None  # for events: when it takes place (default: published)


@dataclass(frozen=True, slots=True)
class Reject:
    """A bad input row, as listed in rejects.csv."""

    file: str
    line: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.column}: {self.reason} ({self.value!r})"


@dataclass(frozen=True, slots=True)
class Dataset:
    """Everything loaded from data/ and content/: the good rows and the rejects."""

    account_managers: dict[str, AccountManager]
    customers: dict[str, Customer]
    contacts: dict[str, Contact]  # in file order
    orders: pl.DataFrame  # pipeline.tables.ORDER_SCHEMA, file order; given any iterable of Order, made a frame
    evaluations: RecordTable[Evaluation]  # given any iterable of Evaluation, kept as a RecordTable
    interactions: RecordTable[Interaction]  # likewise
    suppressions: tuple[Suppression, ...]
    products: dict[str, Product]
    content: dict[str, ContentItem]  # by id, sorted by id
    rejects: tuple[Reject, ...] = ()
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.orders, pl.DataFrame):
            from pipeline.tables import orders_frame  # it builds on these types

            object.__setattr__(self, "orders", orders_frame(self.orders))
        # And so are its evaluations and interactions: as objects they were 21 MB at 30,000 demo customers.
        for name, record_type in (("evaluations", Evaluation), ("interactions", Interaction)):
            records = getattr(self, name)
            if not (isinstance(records, RecordTable) and records.record_type is record_type):
                object.__setattr__(self, name, RecordTable(record_type, records))


# --------------------------------------------------------------------------- config


@dataclass(frozen=True, slots=True)
class Paths:
    """Input and output locations, resolved against the project root."""

    root: Path
    data: Path
    content: Path
    templates: Path
    output: Path
    state: Path  # the SQLite file


@dataclass(frozen=True, slots=True)
class Settings:
    """settings.yaml, validated."""

    paths: Paths
    sender_name: str
    sender_email: str
    reply_to: str
    company_name: str
    postal_address: str  # one line per address line, joined with "\n"
    company_phone: str
    website_url: str  # base URL for links
    unsubscribe_url: str  # https base; the token is appended
    unsubscribe_mailto: str  # address for the mailto: entry
    decimal_mark: str = "."  # "." or ","
    max_reject_share: Decimal = Decimal("0.05")
    utm_source: str = "newsletter"
    utm_medium: str = "email"


@dataclass(frozen=True, slots=True)
class StrategicPoints:
    reference_customer: int = 3
    knowledge_partner: int = 2
    referral: int = 1
    max_referrals: int = 3
    strategic_fit: int = 1


@dataclass(frozen=True, slots=True)
class ScheduleRule:
    """One contact_schedule pair: who on our side talks to which level on theirs, how often."""

    ours: OurLevel
    theirs: Level
    every_days: int


@dataclass(frozen=True, slots=True)
class Treatment:
    newsletter_every_days: int | None  # None: this segment gets no newsletter
    alerts: bool = False
    max_items: int = 3
    call_within_days: int | None = None
    contact_schedule: tuple[ScheduleRule, ...] = ()
    review: bool = False


@dataclass(frozen=True, slots=True)
class Override:
    customer_id: str
    segment: Segment
    reason: str
    until: date | None = None


@dataclass(frozen=True, slots=True)
class SelectionWeights:
    """How items are scored for a contact; tunable under segments.yaml `selection:`."""

    interest_tag: int = 3  # per tag shared with the contact's interests
    product_tag: int = 2  # per tag shared with products the customer bought
    cross_sell: int = 4
    up_sell: int = 4
    sector: int = 2
    priority: int = 1  # per priority point
    freshness: int = 2  # full points when published in the last `fresh_days`
    fresh_days: int = 30
    event_window_days: int = 30  # an event is timely within this many days of as-of
    own_product: int = 3  # the item is about a product the customer already has


@dataclass(frozen=True, slots=True)
class SegmentsConfig:
    """segments.yaml, validated. Weights are exact fractions so cut-offs are decided exactly."""

    window_months: int
    weights: dict[str, Fraction]  # revenue, margin, strategic
    points: StrategicPoints
    groups_by: str | None  # a customer attribute, e.g. "sector"; None: one group
    cutoffs: dict[Segment, Fraction]  # A and B
    overrides: tuple[Override, ...]
    quiet_after_days: int
    treatment: dict[Segment, Treatment]
    satisfaction_norm: Decimal
    selection: SelectionWeights = field(default_factory=SelectionWeights)
    revenue_decline_share: Decimal = Decimal("0.30")


@dataclass(frozen=True, slots=True)
class Project:
    """A loaded, validated project: config plus data."""

    settings: Settings
    segments: SegmentsConfig
    data: Dataset


# --------------------------------------------------------------------------- stages


@dataclass(frozen=True, slots=True)
class CustomerValue:
    """One customer's row of the segmentation (segments.csv)."""

    customer_id: str
    name: str
    group: str
    segment: Segment
    computed_segment: Segment  # before overrides
    value_share: Fraction
    revenue: Decimal
    margin: Decimal
    strategic: int
    revenue_share: Fraction
    margin_share: Fraction
    strategic_share: Fraction
    override_reason: str = ""
    override_until: date | None = None  # of the applied override; None: none or open-ended
    cumulative_before: Fraction = Fraction(0)  # group's cumulative value share before this one


@dataclass(frozen=True, slots=True)
class SegmentMove:
    """A customer whose segment changed since the last frozen segmentation."""

    customer_id: str
    name: str
    before: Segment
    after: Segment
    explanation: str  # "A → B: revenue share 4.1% → 1.9%"


@dataclass(frozen=True, slots=True)
class Segmentation:
    as_of: date
    customers: dict[str, CustomerValue]  # in segment order (value share descending per group)
    frozen_at: date | None = None  # set when this one was read from the state
    moves: tuple[SegmentMove, ...] = ()
    warnings: tuple[str, ...] = ()

    def segment_of(self, customer_id: str) -> Segment:
        return self.customers[customer_id].segment


class Activity(enum.StrEnum):
    ACTIVE = "active"
    QUIET = "quiet"  # no running order, last activity at least after_days ago
    RECENT = "recent"  # no running order, but the last one ended too recently
    NO_ORDERS = "no_orders"


@dataclass(frozen=True, slots=True)
class QuietStatus:
    customer_id: str
    activity: Activity
    last_activity: date | None = None
    quiet_since: date | None = None  # set when quiet

    @property
    def quiet(self) -> bool:
        return self.activity is Activity.QUIET


class SkipReason(enum.StrEnum):
    """Why a newsletter or alert was not made (recipients.csv)."""

    NOT_QUIET = "not_quiet"
    NO_ORDERS = "no_orders"
    NO_OPT_IN = "no_opt_in"
    NO_VALID_EMAIL = "no_valid_email"
    SUPPRESSED = "suppressed"
    CADENCE = "cadence"
    SEGMENT_TREATMENT = "segment_treatment"
    NO_MATCHING_ITEM = "no_matching_item"


@dataclass(frozen=True, slots=True)
class ItemReason:
    """One reason an item scored for a contact, with the points it gave."""

    # interest | own_product | product_tag | cross_sell | up_sell | sector | priority | freshness | fallback | timely
    kind: str
    detail: str  # e.g. "backup" or "Backup Pro (u gebruikt Cloud Opslag)"
    points: int


@dataclass(frozen=True, slots=True)
class ChosenItem:
    item_id: str
    score: int
    reasons: tuple[ItemReason, ...]


@dataclass(frozen=True, slots=True)
class Selection:
    """What one contact gets this run, and why."""

    contact_id: str
    customer_id: str
    account_manager_id: str
    segment: Segment
    language: str
    quiet: bool
    newsletter_reasons: tuple[SkipReason, ...]  # empty: newsletter is made
    alert_reasons: tuple[SkipReason, ...]  # empty: alert is made
    items: tuple[ChosenItem, ...] = ()  # newsletter items, best first
    fallback: bool = False  # nothing personal scored; general items filled in
    alert_item: ChosenItem | None = None

    @property
    def newsletter(self) -> bool:
        return not self.newsletter_reasons

    @property
    def alert(self) -> bool:
        return not self.alert_reasons


class MessageKind(enum.StrEnum):
    NEWSLETTER = "newsletter"
    ALERT = "alert"


@dataclass(frozen=True, slots=True)
class Lint:
    code: str  # size_budget | fallback_field | item_expired | item_future | missing_alt | broken_link
    message: str


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """What rendering produced for one message, without its bytes (those are on disk)."""

    contact_id: str
    kind: MessageKind
    subject: str
    preheader: str
    message_id: str
    item_ids: tuple[str, ...]
    html_bytes: int
    lints: tuple[Lint, ...] = ()


class CallReason(enum.StrEnum):
    EVALUATION_BELOW_NORM = "evaluation_below_norm"
    QUIET_FOLLOWUP = "quiet_followup"
    CONTACT_OVERDUE = "contact_overdue"
    CROSS_SELL = "cross_sell"
    UP_SELL = "up_sell"
    REVENUE_DECLINE = "revenue_decline"
    REVIEW_SEGMENT_D = "review_segment_d"


@dataclass(frozen=True, slots=True)
class CallItem:
    """One row of an account manager's call list."""

    account_manager_id: str
    customer_id: str
    customer_name: str
    segment: Segment
    priority: int  # 1 is most urgent
    due: date
    reasons: tuple[CallReason, ...]
    contact_id: str  # "" when nobody is callable
    contact_name: str
    job_title: str
    phone: str
    talking_points: tuple[str, ...]
    last_contact: date | None = None
    last_contact_channel: str = ""
    note: str = ""  # e.g. "no callable contact: all marked do_not_call"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message that counts as sent: recorded when its run is approved."""

    run_id: str  # the run's as-of date, ISO
    contact_id: str
    kind: MessageKind
    as_of: date
    item_ids: tuple[str, ...] = ()
    message_id: str = ""

    @property
    def month(self) -> str:
        """The as-of month: a contact gets at most one delivery of a kind per month."""
        return self.as_of.strftime("%Y-%m")


@dataclass(frozen=True, slots=True)
class RetentionSegment:
    """Retention of one segment: the customers it had in the previous window, and what became of them."""

    segment: Segment
    previous: int  # customers of the previous window with this segment at its end
    retained: int
    lost: int
    new: int  # new customers in this window whose current segment is this one
    revenue_retained: Decimal = Decimal(0)  # this window's revenue from its retained customers

    @property
    def factor(self) -> Fraction | None:
        """Retained ÷ customers of the previous window; None when there were none."""
        return Fraction(self.retained, self.previous) if self.previous else None


@dataclass(frozen=True, slots=True)
class LostCustomer:
    """A customer that bought in the previous window but not in this one, with its signals."""

    customer_id: str
    name: str
    account_manager_id: str
    segment: Segment  # at the end of the previous window
    current_segment: Segment | None  # in the segmentation the report was made with
    previous_revenue: Decimal
    last_order: date | None
    account_manager_name: str = ""
    last_evaluation_score: Decimal | None = None
    last_evaluation_date: date | None = None
    last_interaction: date | None = None
    months_since_interaction: int | None = None  # None: no interaction on record


@dataclass(frozen=True, slots=True)
class RetainedChange:
    """A retained customer whose revenue moved: previous window against this one."""

    customer_id: str
    name: str
    segment: Segment
    previous_revenue: Decimal
    revenue: Decimal


@dataclass(frozen=True, slots=True)
class Retention:
    """Which customers keep buying: this window against the window before (DESIGN.md "Retention report")."""

    as_of: date
    window_start: date  # this window is (window_start, as_of]
    previous_start: date  # the previous one is (previous_start, window_start]
    previous_customers: int
    current_customers: int
    retained: tuple[str, ...]
    new: tuple[str, ...]
    lost: tuple[LostCustomer, ...]  # biggest previous revenue first
    revenue_retained: Decimal
    revenue_new: Decimal
    revenue_lost: Decimal  # what the lost customers brought in the previous window
    by_segment: tuple[RetentionSegment, ...]
    declines: tuple[RetainedChange, ...] = ()  # retained customers that bought less, biggest drop first
    satisfaction_norm: Decimal = Decimal(8)

    @property
    def factor(self) -> Fraction | None:
        """Retained ÷ customers of the previous window; None when there were none."""
        return Fraction(len(self.retained), self.previous_customers) if self.previous_customers else None


# --------------------------------------------------------------------------- tables: rows stored by column

T = TypeVar("T")


class _Table(Sequence[T]):
    """What the column tables share: a read-only sequence whose rows are made when asked for.

    A subclass stores its rows by column and says how to make row r (`_row`) and what a row
    is called in an error (`_row_name`).
    """

    __slots__ = ()

    def _row(self, row: int) -> T:
        raise NotImplementedError

    def _row_name(self) -> str:
        return "row"

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[T, ...]: ...

    def __getitem__(self, index: int | slice) -> T | tuple[T, ...]:
        """Return the row at `index`; a slice gives a tuple of them."""
        if isinstance(index, slice):
            return tuple(map(self._row, range(*index.indices(len(self)))))
        row = operator.index(index)
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(f"{self._row_name()} out of range")
        return self._row(row)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (type(self), tuple, list)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]


_NEXT: Callable[[int], int] = functools.partial(operator.add, 1)


class _Texts(Sequence[str]):
    """Strings kept as one: value i is text[bounds[i]:bounds[i + 1]].

    Strings that are mostly distinct (the orders' ids, an evaluation's order_id) cost their
    characters and 4 bytes each this way, instead of a str object (about 58 bytes) and a list
    slot each.
    """

    __slots__ = ("_bounds", "_text")

    def __init__(self, values: Sequence[str]) -> None:
        self._text = "".join(values)
        bounds = itertools.accumulate(map(len, values), initial=0)
        self._bounds = array("I" if len(self._text) < _CODES_UP_TO["I"] else "Q", bounds)

    def __len__(self) -> int:
        return len(self._bounds) - 1

    @overload
    def __getitem__(self, code: int) -> str: ...

    @overload
    def __getitem__(self, code: slice) -> list[str]: ...

    def __getitem__(self, code: int | slice) -> str | list[str]:
        if isinstance(code, slice):
            return list(self.at(range(*code.indices(len(self)))))
        code = operator.index(code)
        if code < 0:
            code += len(self)
        if not 0 <= code < len(self):
            raise IndexError("text code out of range")
        return self._text[self._bounds[code] : self._bounds[code + 1]]

    def at(self, codes: Sequence[int]) -> Iterator[str]:
        """Return the values of the given codes, one by one (sliced in C, no Python call per value)."""
        bound = self._bounds.__getitem__
        return map(self._text.__getitem__, map(slice, map(bound, codes), map(bound, map(_NEXT, codes))))

    def __reduce__(self) -> tuple[Any, ...]:
        return _unpickle_texts, (self._text, self._bounds)


def _unpickle_texts(text: str, bounds: array[int]) -> _Texts:
    texts = _Texts.__new__(_Texts)
    texts._text, texts._bounds = text, bounds
    return texts



# --------------------------------------------------------------------------- records stored by column

# The widths of a column's codes, narrowest first: a column starts at one byte a row and is
# widened when its distinct values outgrow the width (a language, a channel or a score never do).
_WIDER = {"B": "H", "H": "I", "I": "Q"}
_CODES_UP_TO = {typecode: 1 << (8 * array(typecode).itemsize) for typecode in _WIDER}
_CODE_LIMITS = frozenset(_CODES_UP_TO.values())
_PLAIN = frozenset({str, date, type(None)})  # the common cells, each equal only to values of its own type


def _distinct_key(value: Any) -> Any:
    """Return what tells `value` apart from every value that is not interchangeable with it.

    Equal is not enough: Decimal("8") == Decimal("8.0") and 0.0 == -0.0 print differently,
    and 1 == True == Decimal(1) and Channel.CALL == "call" are of different types.
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, Decimal):
        return kind, value.as_tuple()
    if isinstance(value, float):
        return kind, value.hex()
    if isinstance(value, tuple):
        return kind, tuple(map(_distinct_key, value))
    return kind, value


def _kept_as_texts(values: list[Any], rows: int) -> bool:
    """Tell whether a field's distinct values are better kept as _Texts: strings, most of them met once.

    Not when they repeat (a customer_id): the list then shares the strings the dataset holds
    anyway, and a record made from it does too.
    """
    return 2 * len(values) > rows and all(type(value) is str for value in values)


class RecordTable(_Table[T]):
    """Records of one frozen slotted dataclass, stored by field: each field's distinct values once,
    and per row a code into them of as few bytes as they need (the records themselves are not kept).

    A sequence of the records in the order added: indexing and iterating make a record per row
    (a transient one, about 1 µs each). Immutable. Values stay exactly as given, exponent of a
    Decimal and type included (see _distinct_key).
    """

    __slots__ = ("_codes", "_type", "_values")
    _type: type[T]
    _values: tuple[Sequence[Any], ...]  # per field, in the constructor's order: its distinct values
    _codes: tuple[array[int], ...]  # per field: a row's code into that field's values

    def __init__(self, record_type: type[T], records: Iterable[T] = ()) -> None:
        builder = RecordTableBuilder(record_type)
        for record in records:
            builder.add_record(record)
        builder.fill(self)

    @property
    def record_type(self) -> type[T]:
        return self._type

    # -- Sequence

    def __len__(self) -> int:
        return len(self._codes[0])

    def __iter__(self) -> Iterator[T]:
        return map(self._type, *self._columns())

    def _row_name(self) -> str:
        return f"{self._type.__name__} row"

    def __repr__(self) -> str:
        return f"RecordTable({self._type.__name__}, {tuple(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the columns, not the records."""
        return _unpickle_record_table, (self._type, self._values, self._codes)

    # -- inside

    def _row(self, row: int) -> T:
        return self._type(*[values[codes[row]] for values, codes in zip(self._values, self._codes, strict=True)])

    def _columns(self) -> list[Iterator[Any]]:
        """Return one iterator per field over every row's value, in the constructor's order."""
        return [
            values.at(codes) if isinstance(values, _Texts) else map(values.__getitem__, codes)
            for values, codes in zip(self._values, self._codes, strict=True)
        ]


def _unpickle_record_table(
    record_type: type[T], values: tuple[Sequence[Any], ...], codes: tuple[array[int], ...]
) -> RecordTable[T]:
    table: RecordTable[T] = RecordTable.__new__(RecordTable)
    table._type, table._values, table._codes = record_type, values, codes
    return table


class RecordTableBuilder(Generic[T]):
    """Collect records one by one into the columns of a RecordTable (no record object needed)."""

    def __init__(self, record_type: type[T]) -> None:
        if not dataclasses.is_dataclass(record_type) or not isinstance(record_type, type):
            raise TypeError(f"a RecordTable holds dataclass instances, not {record_type!r}")
        fields = dataclasses.fields(record_type)
        if not fields or not all(f.init for f in fields):
            raise TypeError(f"{record_type.__name__} must have fields, each set by its constructor")
        self._type = record_type
        self._names = tuple(f.name for f in fields)
        self._defaults = tuple(f.default for f in fields)  # dataclasses.MISSING: none
        self._values: tuple[list[Any], ...] = tuple([] for _ in fields)
        self._codes = [array("B") for _ in fields]
        self._appends = [codes.append for codes in self._codes]
        self._known: tuple[dict[Any, int], ...] = tuple({} for _ in fields)

    def add(self, *values: Any) -> None:
        """Add one record: its field values in the constructor's order; trailing ones may be left to their defaults."""
        if len(values) < len(self._defaults):
            values = (*values, *self._defaults[len(values) :])
            if any(value is dataclasses.MISSING for value in values):
                raise TypeError(f"{self._type.__name__}: a field without a default is missing")
        elif len(values) > len(self._defaults):
            raise TypeError(f"{self._type.__name__} has {len(self._defaults)} fields, not {len(values)}")
        for value, known, distinct, append in zip(values, self._known, self._values, self._appends, strict=True):
            code = known.setdefault(value if type(value) in _PLAIN else _distinct_key(value), len(known))
            if code == len(distinct):
                distinct.append(value)
                if code in _CODE_LIMITS:
                    append = self._widened(distinct)
            append(code)

    def _widened(self, distinct: list[Any]) -> Callable[[int], None]:
        """Widen the codes of the field whose values are `distinct` when its next code needs it; return their append."""
        field_number = next(i for i, values in enumerate(self._values) if values is distinct)
        codes = self._codes[field_number]
        if len(distinct) - 1 == _CODES_UP_TO[codes.typecode]:
            codes = self._codes[field_number] = array(_WIDER[codes.typecode], codes)
            self._appends[field_number] = codes.append
        return codes.append

    def add_record(self, record: T) -> None:
        """Add a record."""
        if type(record) is not self._type:
            raise TypeError(f"a table of {self._type.__name__} cannot hold {record!r}")
        self.add(*(getattr(record, name) for name in self._names))

    def build(self) -> RecordTable[T]:
        """Return the table of the records added so far."""
        table: RecordTable[T] = RecordTable.__new__(RecordTable)
        self.fill(table)
        return table

    def fill(self, table: RecordTable[T]) -> None:
        """Make `table` (being constructed) the table of the records added so far; the builder is done then."""
        rows = len(self._codes[0]) if self._codes else 0
        table._type, table._codes = self._type, tuple(self._codes)
        table._values = tuple(_Texts(values) if _kept_as_texts(values, rows) else values for values in self._values)
        # The lookups are for adding only (a big export's are megabytes); the columns are the table's now.
        self._values, self._codes, self._appends, self._known = (), [], [], ()


# --------------------------------------------------------------------------- pickling


def _pickled_as_constructor_call(cls: type[Any]) -> None:
    """Pickle `cls` as a call of its constructor with its field values, in C, not field by field.

    A frozen slotted dataclass pickles through generated __getstate__/__setstate__ that call
    fields() and object.__setattr__ per field in Python: handing a render process a chunk of
    250 recipients with their orders took 21 ms each way, a third of rendering the chunk.
    """
    names = cls.__slots__
    values = operator.attrgetter(*names) if len(names) > 1 else (lambda obj: (getattr(obj, names[0]),))

    def __reduce__(self: Any) -> tuple[type[Any], tuple[Any, ...]]:
        return cls, values(self)

    cls.__reduce__ = __reduce__  # type: ignore[assignment]


# What crosses to a render process and back, per chunk of recipients, and what a run keeps on
# disk through the render stage.
for _cls in (Customer, Contact, Order, Selection, ChosenItem, ItemReason, RenderedMessage, Lint,
             Segmentation, CustomerValue, SegmentMove):
    _pickled_as_constructor_call(_cls)
