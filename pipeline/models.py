"""Typed values passed between the stages of the batch.

Every stage takes these as explicit arguments and returns new ones; nothing is mutated
after construction. The words are the documentation's words (docs/reference/).
"""

from __future__ import annotations

import enum
import operator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # at run time only Dataset needs Polars: a call-list process never loads it
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
# How a tag reads in an e-mail: tag → language → label (content/tags.yaml).
TagLabels = dict[str, dict[str, str]]


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
    name: str  # as products.yaml gives it: its one name, or the first of its names per language
    tags: tuple[str, ...] = ()
    cross_sell: tuple[str, ...] = ()
    up_sell: tuple[str, ...] = ()
    names: dict[str, str] = field(default_factory=dict)  # per language, when products.yaml gives them

    def name_in(self, language: str) -> str:
        """Return the product's name in `language`: its own there, else its one name."""
        return self.names.get(language, self.name)


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
    translation_of: str = ""  # the id of the item this one translates ("": an original)

    @property
    def topic(self) -> str:
        """The id of the original: an item and its translations are one topic, sent to a contact once."""
        return self.translation_of or self.id


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
    evaluations: pl.DataFrame  # pipeline.tables.EVALUATION_SCHEMA; given any iterable of Evaluation, made a frame
    interactions: pl.DataFrame  # pipeline.tables.INTERACTION_SCHEMA; likewise
    suppressions: tuple[Suppression, ...]
    products: dict[str, Product]
    content: dict[str, ContentItem]  # by id, sorted by id
    rejects: tuple[Reject, ...] = ()
    warnings: tuple[str, ...] = ()
    tag_labels: TagLabels = field(default_factory=dict)  # how a tag reads in an e-mail; absent: as the tag

    def tag_label(self, tag: str, language: str) -> str:
        """Return how `tag` reads in an e-mail in `language`: its label, else the tag itself."""
        return self.tag_labels.get(tag, {}).get(language, tag)

    def topic(self, item_id: str) -> str:
        """Return the topic of the item `item_id` (see ContentItem.topic); an item no longer there is its own."""
        item = self.content.get(item_id)
        return item.topic if item is not None else item_id

    def __post_init__(self) -> None:
        import polars as pl

        from pipeline.tables import orders_frame, records_frame  # they build on these types

        if not isinstance(self.orders, pl.DataFrame):
            object.__setattr__(self, "orders", orders_frame(self.orders))
        for name, record_type in (("evaluations", Evaluation), ("interactions", Interaction)):
            if not isinstance(getattr(self, name), pl.DataFrame):
                object.__setattr__(self, name, records_frame(record_type, getattr(self, name)))


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
class DkimSettings:
    """settings.yaml `delivery.dkim`: sign here when the relay does not."""

    domain: str
    selector: str
    key_file: Path  # PEM private key, resolved against the project folder


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """settings.yaml `delivery:`, validated: how `windstil send` reaches the SMTP server."""

    host: str
    port: int
    security: str  # starttls | tls | none
    auth: str  # password | xoauth2 | none
    username: str = ""
    token_command: str = ""  # xoauth2: prints an access token
    envelope_from: str = ""  # Return-Path; empty: the sender address
    per_minute: int | None = 30  # None: no limit
    per_day: int | None = 10000
    connections: int = 1
    max_attempts: int = 5
    timeout: float = 60.0  # seconds for each SMTP command
    ca_file: Path | None = None  # trust this CA instead of the system's (a relay with a private CA)
    dkim: DkimSettings | None = None


SPAM_MAX_VARIANTS = 200  # checks.spam_max_variants when settings.yaml does not say


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
    language: str = "nl"  # of everything people at the company read: site, reports, call lists
    checks_enabled: bool = True  # the pre-send checks stage (checks.csv)
    spam_max_variants: int = SPAM_MAX_VARIANTS  # variants SpamAssassin scores per run; 0: none
    tracking: Tracking | None = None  # click tracking; None: off (the default)
    bounces: BounceMailbox | None = None  # the IMAP mailbox `windstil bounces fetch` reads
    delivery: DeliverySettings | None = None  # no `delivery:` block: `windstil send` refuses


@dataclass(frozen=True, slots=True)
class Tracking:
    """settings.yaml `tracking:`: signed click redirects at `url` for the items' links."""

    clicks: bool
    url: str  # https; the served path of `windstil serve`, the token goes in ?t=


@dataclass(frozen=True, slots=True)
class BounceMailbox:
    """settings.yaml `bounces:`: where bounces and replies arrive (password from the environment)."""

    host: str
    port: int = 993
    username: str = ""
    folder: str = "INBOX"
    security: str = "tls"  # tls | starttls | none (none only for a server on this machine)


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


class ReasonKind(enum.StrEnum):
    """What made an item score for a contact (an ItemReason's kind)."""

    INTEREST = "interest"
    OWN_PRODUCT = "own_product"
    PRODUCT_TAG = "product_tag"
    CROSS_SELL = "cross_sell"
    UP_SELL = "up_sell"
    SECTOR = "sector"
    PRIORITY = "priority"
    FRESHNESS = "freshness"
    FALLBACK = "fallback"
    TIMELY = "timely"


@dataclass(frozen=True, slots=True)
class ItemReason:
    """One reason an item scored for a contact, with the points it gave."""

    kind: ReasonKind
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


class LintCode(enum.StrEnum):
    """What a lint found in a rendered message."""

    SIZE_BUDGET = "size_budget"
    FALLBACK_FIELD = "fallback_field"
    ITEM_EXPIRED = "item_expired"
    ITEM_FUTURE = "item_future"
    MISSING_ALT = "missing_alt"
    BROKEN_LINK = "broken_link"


@dataclass(frozen=True, slots=True)
class Lint:
    code: LintCode
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
    CLICKED = "clicked"  # clicked an item of this or the previous run's message (not a scanner)
    REPLIED = "replied"  # replied to a newsletter or alert since the last run


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
    """Which customers keep buying: this window against the window before (the retention report)."""

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
    returned: tuple[str, ...] = ()  # of `new`: those that bought before the previous window too (came back)

    @property
    def factor(self) -> Fraction | None:
        """Retained ÷ customers of the previous window; None when there were none."""
        return Fraction(len(self.retained), self.previous_customers) if self.previous_customers else None


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
