"""Selection: for every contact, whether it gets a newsletter and an alert, with what, and why.

Eligibility is decided per contact and every reason that applies is kept, in the order of
the skip reasons in docs/reference/codes.md, so recipients.csv can say exactly why a message was skipped.
Cadence reads the approved deliveries: a newsletter approved fewer than
`newsletter_every_days` days before as-of, or in the same calendar month (deliveries are
unique per contact, kind and month), blocks the next one; an alert blocks further alerts in
its month. Alerts need the same consent, address and quiet period as newsletters, a segment
with `alerts: true`, and a timely item about a product the customer has, sharing a tag with
one, or sharing a tag with the contact's interests.

Items are scored with the weights of segments.yaml `selection:` (`SelectionWeights`); each
point comes with an `ItemReason`, so the preview can show why an item was chosen:

- interest: per item tag shared with the contact's interests (`interest_tag` each);
- own_product: the item is about a product the customer has (`own_product`);
- product_tag: per item tag shared with the tags of products the customer has (`product_tag` each);
- cross_sell / up_sell: the item is about a product in the `cross_sell` / `up_sell` list of
  a product they have, and they do not have it yet (once per item, with the product names; a
  product suggested both ways counts as up-sell only);
- sector: the item is restricted to sectors and the customer's sector is one of them;
- priority: `priority` per priority point of the item;
- freshness: full `freshness` points when published less than `fresh_days` ago, half
  (rounded down) when less than twice that.

The filters are hard rules: the contact's language; the item's `segments` and `sectors`;
`published ≤ as_of < expires`; an event that already took place is over; and never an item
this contact received in an approved run, nor a translation of it (`translation_of`).
Newsletters carry articles, cases and events; alerts carry one timely alert (published in
the last `event_window_days`) or event (taking place within `event_window_days`). The item
made into an alert is not repeated in the same run's newsletter.

The top `max_items` are taken by (score descending, item id), with at most two items sharing
their first tag. Items that scored nothing are left out, unless nothing personal (interest,
own product, product tags, cross-sell, up-sell, sector) scored for any item: then the
general items of the contact's language fill in, ranked the same way, and the selection is
marked `fallback`.
"""

from __future__ import annotations

import functools
import gc
import logging
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar, cast

from pipeline.csvinput import suppression_key
from pipeline.models import (
    Activity,
    ChosenItem,
    Contact,
    ContentItem,
    Customer,
    Dataset,
    Delivery,
    ItemReason,
    ItemType,
    MessageKind,
    QuietStatus,
    ReasonKind,
    Segment,
    Segmentation,
    SegmentsConfig,
    Selection,
    SkipReason,
    Treatment,
)
from pipeline.tables import bought_products
from pipeline.writer import csv_bytes

log = logging.getLogger(__name__)

T = TypeVar("T")

NEWSLETTER_TYPES = frozenset({ItemType.ARTICLE, ItemType.CASE, ItemType.EVENT})
ALERT_TYPES = frozenset({ItemType.ALERT, ItemType.EVENT})
MAX_PER_FIRST_TAG = 2
DEFAULT_LANGUAGE = "nl"
# A customer missing from a frozen segmentation (new since it was frozen) is treated as C,
# the neutral middle, until the next segmentation; the run warns about it.
UNSEGMENTED = Segment.C

RECIPIENTS_COLUMNS = (
    "contact_id",
    "customer_id",
    "segment",
    "quiet",
    "newsletter",
    "alert",
    "items",
    "reason",
    "alert_reason",
    "language",
    "account_manager_id",
    "fallback",
)

# The detail of a reason is in the contact's language: the e-mail may quote it as is.
_PHRASES = {
    "nl": {
        "cross_sell": "{target}, aanvulling op {bought}",
        "up_sell": "{target}, een stap verder dan {bought}",
        "priority": "door de redactie op {n} van 3 gezet",
        "freshness": "{n} dagen geleden verschenen",
        "fallback": "algemeen onderwerp: niets persoonlijks gevonden",
        "alert": "actueel: {n} dagen geleden verschenen",
        "event": "evenement over {n} dagen",
        "and": "en",
    },
    "en": {
        "cross_sell": "{target}, which complements {bought}",
        "up_sell": "{target}, a step up from {bought}",
        "priority": "set to {n} of 3 by the editors",
        "freshness": "published {n} days ago",
        "fallback": "general topic: nothing personal matched",
        "alert": "timely: published {n} days ago",
        "event": "event in {n} days",
        "and": "and",
    },
}


def select(
    data: Dataset,
    config: SegmentsConfig,
    segmentation: Segmentation,
    quiet: dict[str, QuietStatus],
    deliveries: Sequence[Delivery],
    as_of: date,
    suppressed: Collection[str] = (),
) -> list[Selection]:
    """Return one Selection per contact of every valid customer, in contact file order.

    `deliveries` are the approved deliveries from the state; `suppressed` holds extra
    addresses (from the state) that must never be e-mailed, besides data/suppressions.csv.
    """
    selector = _Selector(data, config, segmentation, quiet, deliveries, as_of, suppressed)
    contacts = [contact for contact in data.contacts.values() if contact.customer_id in data.customers]
    # One customer at a time: what selection works out per customer (its products, every item's
    # points) is kept only while its contacts are selected, not for the whole batch (that was a
    # transient 150 MB at 30,000 customers). The selections still come out in contact file order.
    by_customer: dict[str, list[int]] = defaultdict(list)
    for index, contact in enumerate(contacts):
        by_customer[contact.customer_id].append(index)
    made: list[Selection | None] = [None] * len(contacts)
    # Selection makes small acyclic objects for every contact while the whole data set is alive;
    # the cyclic garbage collector would re-scan that data set again and again (two to three
    # times slower at 30,000 contacts), so it pauses for this loop.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for indexes in by_customer.values():
            for index in indexes:
                made[index] = selector.select(contacts[index])
            selector.forget_customer()
    finally:
        if collecting:
            gc.enable()
    selections = cast(list[Selection], made)
    shared = _shared_addresses(data, selections)
    if shared:
        # No skip reason fits (the documented codes are fixed), and which contact should win is a
        # CRM question: say it, so the reviewer can exclude one at approval.
        log.warning(
            "%d e-mail address(es) get more than one newsletter because several contacts share them: %s",
            len(shared),
            ", ".join(shared[:10]),
        )
    if selector.unsegmented:
        log.warning(
            "%d customer(s) are not in the segmentation of %s and are treated as %s: %s",
            len(selector.unsegmented),
            segmentation.as_of,
            UNSEGMENTED,
            ", ".join(sorted(selector.unsegmented)[:10]),
        )
    log.info(
        "selection on %s: %d contacts, %d newsletters, %d alerts",
        as_of,
        len(selections),
        sum(s.newsletter for s in selections),
        sum(s.alert for s in selections),
    )
    return selections


def recipients_csv_bytes(selections: Sequence[Selection]) -> bytes:
    """Return recipients.csv: one row per contact, rendered or skipped and why."""
    return csv_bytes(
        RECIPIENTS_COLUMNS,
        (
            (
                s.contact_id,
                s.customer_id,
                s.segment.value,
                "yes" if s.quiet else "no",
                "rendered" if s.newsletter else "skipped",
                "rendered" if s.alert else "skipped",
                ";".join(item.item_id for item in s.items),
                # The reasons are str enums: joined as they are, their values (no generator per cell).
                ";".join(s.newsletter_reasons),
                ";".join(s.alert_reasons),
                s.language,
                s.account_manager_id,
                "yes" if s.fallback else "no",
            )
            for s in selections
        ),
    )


# --------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Item:
    """What scoring needs of one content item, computed once."""

    item: ContentItem
    tags: frozenset[str]
    products: frozenset[str]
    first_tag: str | None
    general: tuple[ItemReason, ...]  # priority and freshness, in every language's words
    general_points: int


@dataclass(frozen=True)
class _Scored:
    """An item scored for a customer, before the contact's interests; reasons are worded later.

    Only the points are computed for every candidate; the words of the reasons are made
    for the chosen items only, which keeps selection fast for large batches.
    """

    item: _Item
    points: int
    own: tuple[str, ...]  # product ids they have that the item is about
    product_tags: tuple[str, ...]  # item tags shared with the products they have
    cross_sell: tuple[str, ...]  # product ids the item is about, suggested as cross-sell
    up_sell: tuple[str, ...]
    sector: bool

    @property
    def personal(self) -> bool:
        return bool(self.own or self.product_tags or self.cross_sell or self.up_sell or self.sector)


@dataclass
class _CustomerFacts:
    """What selection needs of one customer, independent of the contact."""

    customer: Customer
    segment: Segment
    treatment: Treatment | None
    status: QuietStatus
    owned: frozenset[str]
    owned_tags: frozenset[str]
    tag_products: dict[str, list[str]]  # tag of an owned product -> ids of those products
    cross_sell: dict[str, list[str]]  # suggested product id -> ids of the owned ones suggesting it
    up_sell: dict[str, list[str]]
    scored: dict[str, _Scored] = field(default_factory=dict)  # by item id, filled on demand
    # The items chosen for its contacts, by (item id, shared interests, fallback, language,
    # alert): a second contact choosing the same item for the same reasons gets the same one.
    chosen: dict[tuple[str, tuple[str, ...], bool, str, bool], ChosenItem] = field(default_factory=dict)


@dataclass
class _History:
    """A contact's approved deliveries, folded for the cadence and repeat checks."""

    received: set[str] = field(default_factory=set)  # topics (ContentItem.topic): an item or a translation of it
    newsletter_dates: list[date] = field(default_factory=list)
    alert_months: set[str] = field(default_factory=set)


_NO_HISTORY = _History()  # of a contact with no approved deliveries; only read


class _Selector:
    def __init__(
        self,
        data: Dataset,
        config: SegmentsConfig,
        segmentation: Segmentation,
        quiet: dict[str, QuietStatus],
        deliveries: Sequence[Delivery],
        as_of: date,
        suppressed: Collection[str],
    ) -> None:
        self.data = data
        self.config = config
        self.weights = config.selection
        self.segmentation = segmentation
        self.quiet = quiet
        self.as_of = as_of
        self.month = as_of.strftime("%Y-%m")
        self.suppressed = {suppression_key(s.email) for s in data.suppressions}
        self.suppressed.update(suppression_key(address) for address in suppressed)
        self.history: dict[str, _History] = defaultdict(_History)
        for delivery in deliveries:
            history = self.history[delivery.contact_id]
            history.received.update(data.topic(i) for i in delivery.item_ids)
            if delivery.kind is MessageKind.NEWSLETTER:
                history.newsletter_dates.append(delivery.as_of)
            else:
                history.alert_months.add(delivery.month)
        self.owned = bought_products(data.orders)
        # Contacts of one customer (and customers alike) get the very same items for the same
        # reasons: one shared object per distinct choice, not one per contact (a third of the
        # selection stage's memory at 30,000 customers).
        self._distinct: dict[Any, Any] = {}
        self._choices: dict[tuple[int, ...], tuple[ChosenItem, ...]] = {}  # by the identities of the items
        self.newsletter_items, self.alert_items = self._prepare_items(data.content.values())
        self.pools: dict[tuple[bool, str, Segment, str], list[_Item]] = {}
        self.current: _CustomerFacts | None = None  # of the customer whose contacts are being selected
        self.unsegmented: set[str] = set()

    # ----------------------------------------------------------------- items, once

    def _prepare_items(self, items: Iterable[ContentItem]) -> tuple[dict[str, list[_Item]], dict[str, list[_Item]]]:
        """Split the items that may be sent on as-of into newsletter and alert items per language."""
        newsletter: dict[str, list[_Item]] = defaultdict(list)
        alert: dict[str, list[_Item]] = defaultdict(list)
        for item in sorted(items, key=lambda i: i.id):
            if not self._in_date(item):
                continue
            prepared = self._prepare(item)
            if item.type in NEWSLETTER_TYPES:
                newsletter[item.language].append(prepared)
            if item.type in ALERT_TYPES and self._timely(item) is not None:
                alert[item.language].append(prepared)
        return newsletter, alert

    def _in_date(self, item: ContentItem) -> bool:
        """Tell whether the item may be sent on as-of: published, not expired, event not over."""
        if item.published > self.as_of:
            return False
        if item.expires is not None and not self.as_of < item.expires:
            return False
        return not (item.type is ItemType.EVENT and _event_day(item) < self.as_of)

    def _timely(self, item: ContentItem) -> int | None:
        """Return the days since an alert or until an event when it is timely, else None."""
        window = self.weights.event_window_days
        if item.type is ItemType.ALERT:
            days = (self.as_of - item.published).days
        elif item.type is ItemType.EVENT:
            days = (_event_day(item) - self.as_of).days
        else:
            return None
        return days if 0 <= days <= window else None

    def _prepare(self, item: ContentItem) -> _Item:
        w = self.weights
        age = (self.as_of - item.published).days
        freshness = w.freshness if age < w.fresh_days else w.freshness // 2 if age < 2 * w.fresh_days else 0
        general: list[ItemReason] = []
        phrases = _phrases(item.language)
        if item.priority and w.priority:
            points = w.priority * item.priority
            general.append(ItemReason(ReasonKind.PRIORITY, phrases["priority"].format(n=item.priority), points))
        if freshness:
            general.append(ItemReason(ReasonKind.FRESHNESS, phrases["freshness"].format(n=age), freshness))
        return _Item(
            item=item,
            tags=frozenset(item.tags),
            products=frozenset(item.products),
            first_tag=item.tags[0] if item.tags else None,
            general=tuple(general),
            general_points=sum(r.points for r in general),
        )

    def _pool(self, facts: _CustomerFacts, language: str, alert: bool) -> list[_Item]:
        """Return the items that pass the segment, sector and language filters (shared per kind)."""
        key = (alert, language, facts.segment, facts.customer.sector)
        pool = self.pools.get(key)
        if pool is None:
            every = (self.alert_items if alert else self.newsletter_items).get(language, [])
            pool = [i for i in every if _allowed(i.item, facts.segment, facts.customer.sector)]
            self.pools[key] = pool
        return pool

    # ----------------------------------------------------------------- customers, once each

    def _customer(self, customer_id: str) -> _CustomerFacts:
        facts = self.current
        if facts is not None and facts.customer.customer_id == customer_id:
            return facts
        customer = self.data.customers[customer_id]
        value = self.segmentation.customers.get(customer_id)
        if value is None:
            self.unsegmented.add(customer_id)
        segment = value.segment if value is not None else UNSEGMENTED
        owned = self.owned.get(customer_id, frozenset())
        products = self.data.products
        tag_products: dict[str, list[str]] = defaultdict(list)
        cross_sell: dict[str, list[str]] = defaultdict(list)
        up_sell: dict[str, list[str]] = defaultdict(list)
        for product_id in sorted(owned):
            product = products.get(product_id)
            if product is None:
                continue
            for tag in product.tags:
                tag_products[tag].append(product_id)
            for target in product.cross_sell:
                if target not in owned:
                    cross_sell[target].append(product_id)
            for target in product.up_sell:
                if target not in owned:
                    up_sell[target].append(product_id)
        for target in up_sell:
            # A product suggested both ways counts once, as the up-sell: one product, one reason.
            cross_sell.pop(target, None)
        facts = _CustomerFacts(
            customer=customer,
            segment=segment,
            treatment=self.config.treatment.get(segment),
            status=self.quiet[customer_id],
            owned=owned,
            owned_tags=frozenset(tag_products),
            tag_products=dict(tag_products),
            cross_sell=dict(cross_sell),
            up_sell=dict(up_sell),
        )
        self.current = facts
        return facts

    def forget_customer(self) -> None:
        """Let go of the current customer's facts and scores: its contacts are done."""
        self.current = None

    def _score(self, facts: _CustomerFacts, prepared: _Item) -> _Scored:
        """Return the item's points for this customer (cached), without the contact's interests."""
        scored = facts.scored.get(prepared.item.id)
        if scored is not None:
            return scored
        w = self.weights
        # Sorted only when not empty: most of an item's products and tags are not the customer's.
        own = _sorted(prepared.products & facts.owned) if w.own_product else ()
        product_tags = _sorted(prepared.tags & facts.owned_tags) if w.product_tag else ()
        up_sell = _sorted(prepared.products & facts.up_sell.keys()) if w.up_sell and facts.up_sell else ()
        cross_sell = _sorted(prepared.products & facts.cross_sell.keys()) if w.cross_sell and facts.cross_sell else ()
        sectors = prepared.item.sectors
        sector = bool(sectors and w.sector and facts.customer.sector in sectors)
        points = (
            (w.own_product if own else 0)
            + w.product_tag * len(product_tags)
            + (w.cross_sell if cross_sell else 0)
            + (w.up_sell if up_sell else 0)
            + (w.sector if sector else 0)
            + prepared.general_points
        )
        scored = _Scored(prepared, points, own, product_tags, cross_sell, up_sell, sector)
        facts.scored[prepared.item.id] = scored
        return scored

    def _reasons(self, facts: _CustomerFacts, scored: _Scored, shared: Sequence[str]) -> tuple[ItemReason, ...]:
        """Word the reasons of a chosen item, in the order they convince: personal first."""
        w = self.weights
        language = scored.item.item.language  # the reasons are quoted in the item's own language
        phrases = _phrases(language)
        reasons: list[ItemReason] = []
        if shared:
            labels = [self.data.tag_label(tag, language) for tag in shared]
            reasons.append(ItemReason(ReasonKind.INTEREST, _join(labels, phrases), w.interest_tag * len(shared)))
        if scored.own:
            names = [self._product_name(p, language) for p in scored.own]
            reasons.append(ItemReason(ReasonKind.OWN_PRODUCT, _join(names, phrases), w.own_product))
        if scored.product_tags:
            # The detail names the products the tags came from: it reads as "ties in with what you use".
            ids = dict.fromkeys(p for tag in scored.product_tags for p in facts.tag_products[tag])
            names = [self._product_name(p, language) for p in ids]
            points = w.product_tag * len(scored.product_tags)
            reasons.append(ItemReason(ReasonKind.PRODUCT_TAG, _join(names, phrases), points))
        for kind, targets, suggested, weight in (
            (ReasonKind.CROSS_SELL, scored.cross_sell, facts.cross_sell, w.cross_sell),
            (ReasonKind.UP_SELL, scored.up_sell, facts.up_sell, w.up_sell),
        ):
            if targets:
                detail = "; ".join(
                    phrases[kind].format(
                        target=self._product_name(t, language),
                        bought=_join([self._product_name(b, language) for b in suggested[t]], phrases),
                    )
                    for t in targets
                )
                reasons.append(ItemReason(kind, detail, weight))
        if scored.sector:
            reasons.append(ItemReason(ReasonKind.SECTOR, facts.customer.sector, w.sector))
        return (*reasons, *scored.item.general)

    def _product_name(self, product_id: str, language: str) -> str:
        product = self.data.products.get(product_id)
        return product.name_in(language) if product is not None else product_id

    # ----------------------------------------------------------------- per contact

    def select(self, contact: Contact) -> Selection:
        """Return what `contact` gets this run, and why."""
        facts = self._customer(contact.customer_id)
        customer = facts.customer
        language = contact.language or customer.language or DEFAULT_LANGUAGE
        history = self.history.get(contact.contact_id) or _NO_HISTORY
        interests = frozenset(contact.interests)
        received = history.received

        common: list[SkipReason] = []
        if facts.status.activity is Activity.NO_ORDERS:
            common.append(SkipReason.NO_ORDERS)
        elif not facts.status.quiet:
            common.append(SkipReason.NOT_QUIET)
        if not contact.newsletter_opt_in:
            common.append(SkipReason.NO_OPT_IN)
        if not contact.email_valid:
            common.append(SkipReason.NO_VALID_EMAIL)
        # A valid address is normalised already (lower-cased, trimmed): it is its own key.
        key = contact.email if contact.email_valid else suppression_key(contact.email)
        if contact.email and key in self.suppressed:
            common.append(SkipReason.SUPPRESSED)
        treatment = facts.treatment

        # The alert first: its item is not repeated in the newsletter.
        alert_reasons = list(common)
        if self.month in history.alert_months:
            alert_reasons.append(SkipReason.CADENCE)
        if treatment is None or not treatment.alerts:
            alert_reasons.append(SkipReason.SEGMENT_TREATMENT)
        alert_pool = [
            i
            for i in self._pool(facts, language, alert=True)
            if i.item.topic not in received
            and (i.products & facts.owned or i.tags & facts.owned_tags or i.tags & interests)
        ]
        if not alert_pool:
            alert_reasons.append(SkipReason.NO_MATCHING_ITEM)
        alert_item = None
        if not alert_reasons:
            alert_item = self._best_alert(facts, alert_pool, interests, language)

        newsletter_reasons = list(common)
        every_days = treatment.newsletter_every_days if treatment is not None else None
        if any(self._too_soon(sent, every_days) for sent in history.newsletter_dates):
            newsletter_reasons.append(SkipReason.CADENCE)
        if every_days is None:
            newsletter_reasons.append(SkipReason.SEGMENT_TREATMENT)
        alert_id = alert_item.item_id if alert_item is not None else None
        pool = [
            i
            for i in self._pool(facts, language, alert=False)
            if i.item.topic not in received and i.item.id != alert_id
        ]
        if not pool:
            newsletter_reasons.append(SkipReason.NO_MATCHING_ITEM)
        items: tuple[ChosenItem, ...] = ()
        fallback = False
        if not newsletter_reasons and treatment is not None:
            items, fallback = self._choose(facts, pool, interests, language, treatment.max_items)

        return Selection(
            contact_id=contact.contact_id,
            customer_id=customer.customer_id,
            account_manager_id=customer.account_manager_id,
            segment=facts.segment,
            language=language,
            quiet=facts.status.quiet,
            newsletter_reasons=self._shared(tuple(newsletter_reasons)),
            alert_reasons=self._shared(tuple(alert_reasons)),
            items=items,
            fallback=fallback,
            alert_item=alert_item,
        )

    def _too_soon(self, sent: date, every_days: int | None) -> bool:
        """Tell whether a newsletter approved for `sent` blocks one on as-of."""
        if sent.strftime("%Y-%m") == self.month:
            return True  # a contact gets at most one newsletter per as-of month
        return every_days is not None and (self.as_of - sent).days < every_days

    def _choose(
        self, facts: _CustomerFacts, pool: list[_Item], interests: frozenset[str], language: str, max_items: int
    ) -> tuple[tuple[ChosenItem, ...], bool]:
        """Return the top items for one contact and whether general items filled in."""
        # By (-points, item id): sorted as they are, no key function (item ids are unique, so the
        # rest of an entry is never compared).
        ranked: list[tuple[int, str, _Scored, tuple[str, ...]]] = []
        fallback = True
        for prepared in pool:
            scored = self._score(facts, prepared)
            shared = _sorted(prepared.tags & interests) if self.weights.interest_tag else ()
            if shared or scored.personal:
                fallback = False
            points = scored.points + self.weights.interest_tag * len(shared)
            ranked.append((-points, prepared.item.id, scored, shared))
        if not fallback:
            ranked = [entry for entry in ranked if entry[0] < 0]
        ranked.sort()
        note = (ItemReason(ReasonKind.FALLBACK, _phrases(language)["fallback"], 0),) if fallback else ()
        chosen: list[ChosenItem] = []
        per_tag: dict[str, int] = defaultdict(int)
        for negative, item_id, scored, shared in ranked:
            points = -negative
            if len(chosen) == max_items:
                break
            tag = scored.item.first_tag
            if tag is not None:
                if per_tag[tag] >= MAX_PER_FIRST_TAG:
                    continue
                per_tag[tag] += 1
            key = (item_id, shared, fallback, language, False)
            item = facts.chosen.get(key)
            if item is None:
                item = self._shared(ChosenItem(item_id, points, (*self._reasons(facts, scored, shared), *note)))
                facts.chosen[key] = item
            chosen.append(item)
        # Each item is the one shared object of its value, so equal choices are the same objects:
        # told apart by identity, not by hashing every item and its reasons again.
        choice = self._choices.setdefault(tuple(map(id, chosen)), tuple(chosen))
        return choice, fallback

    def _best_alert(
        self, facts: _CustomerFacts, pool: list[_Item], interests: frozenset[str], language: str
    ) -> ChosenItem:
        """Return the best-scoring timely item for one contact (ties on item id)."""
        best: tuple[tuple[int, str], _Scored, tuple[str, ...]] | None = None
        for prepared in pool:
            scored = self._score(facts, prepared)
            shared = _sorted(prepared.tags & interests) if self.weights.interest_tag else ()
            key = (-(scored.points + self.weights.interest_tag * len(shared)), prepared.item.id)
            if best is None or key < best[0]:
                best = (key, scored, shared)
        if best is None:
            raise ValueError("no alert candidate")  # the caller checks the pool is not empty
        (points, item_id), scored, shared = best
        chosen = facts.chosen.get((item_id, shared, False, language, True))
        if chosen is not None:
            return chosen
        item = scored.item.item
        phrase = _phrases(language)["alert" if item.type is ItemType.ALERT else "event"]
        timely = ItemReason(ReasonKind.TIMELY, phrase.format(n=self._timely(item)), 0)
        chosen = self._shared(ChosenItem(item_id, -points, (timely, *self._reasons(facts, scored, shared))))
        facts.chosen[(item_id, shared, False, language, True)] = chosen
        return chosen

    def _shared(self, value: T) -> T:
        """Return the equal value made before, if there was one; else keep and return `value`."""
        return self._distinct.setdefault(value, value)  # type: ignore[no-any-return]


def _allowed(item: ContentItem, segment: Segment, sector: str) -> bool:
    """Tell whether the item's segments and sectors admit this customer."""
    if item.segments and segment not in item.segments:
        return False
    return not (item.sectors and sector not in item.sectors)


def _shared_addresses(data: Dataset, selections: Sequence[Selection]) -> list[str]:
    """Return the addresses that receive more than one newsletter in this run, sorted."""
    counts: dict[str, int] = defaultdict(int)
    for selection in selections:
        if selection.newsletter:
            counts[data.contacts[selection.contact_id].email] += 1  # newsletters go to valid, normalised addresses
    return sorted(address for address, n in counts.items() if n > 1)


def _sorted(values: frozenset[str]) -> tuple[str, ...]:
    """Return the values sorted, as a tuple; an empty set is not handed to sorted()."""
    return tuple(sorted(values)) if values else ()


def _event_day(item: ContentItem) -> date:
    return item.event_date or item.published


def _phrases(language: str) -> dict[str, str]:
    return _PHRASES.get(language, _PHRASES["en"])


def _join(names: Sequence[str], phrases: dict[str, str]) -> str:
    """Join names as a sentence does: "A", "A en B", "A, B en C"."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {phrases['and']} {names[-1]}"


def reason_detail(kind: str, detail: str, source: str, target: str) -> str:
    """Return a reason's detail, written in the contact's language `source`, in the language `target`.

    The review site speaks the project's language while the details are the contact's (the
    e-mail quotes them): the site reads them back by the phrases above and says them again.
    Names and tags stay as they are; a detail of another form is returned unchanged.
    """
    if source == target or source not in _PHRASES or target not in _PHRASES:
        return detail
    said, wanted = _PHRASES[source], _PHRASES[target]
    if kind in ("interest", "own_product", "product_tag"):
        return _rejoin(detail, said, wanted)
    if kind in ("cross_sell", "up_sell"):
        parts = []
        for part in detail.split("; "):
            found = _phrase_pattern(said[kind]).fullmatch(part)
            bought = _rejoin(found["bought"], said, wanted) if found else ""
            parts.append(wanted[kind].format(target=found["target"], bought=bought) if found else part)
        return "; ".join(parts)
    for phrase in {"timely": ("alert", "event")}.get(kind, (kind,)):
        if phrase in said:
            found = _phrase_pattern(said[phrase]).fullmatch(detail)
            if found:
                return wanted[phrase].format(**found.groupdict())
    return detail


def _rejoin(names: str, said: dict[str, str], wanted: dict[str, str]) -> str:
    head, joined, last = names.rpartition(f" {said['and']} ")
    return f"{head} {wanted['and']} {last}" if joined else names


@functools.cache
def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", phrase)
    return re.compile("".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts)))
