"""Selection: for every contact, whether it gets a newsletter and an alert, with what, and why.

DESIGN.md "Selection". Eligibility is decided per contact and every reason that applies is
kept, in DESIGN.md's order, so recipients.csv can say exactly why a message was skipped.

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
this contact received in an approved run. Newsletters carry articles, cases and events;
alerts carry one timely alert (published in the last `event_window_days`) or event (taking
place within `event_window_days`). The item made into an alert is not repeated in the same
run's newsletter.

The top `max_items` are taken by (score descending, item id), with at most two items sharing
their first tag. Items that scored nothing are left out, unless nothing personal (interest,
own product, product tags, cross-sell, up-sell, sector) scored for any item: then the
general items of the contact's language fill in, ranked the same way, and the selection is
marked `fallback`.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

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
    Segment,
    Segmentation,
    SegmentsConfig,
    Selection,
    SkipReason,
    Treatment,
)

log = logging.getLogger(__name__)

NEWSLETTER_TYPES = frozenset({ItemType.ARTICLE, ItemType.CASE, ItemType.EVENT})
ALERT_TYPES = frozenset({ItemType.ALERT, ItemType.EVENT})
PERSONAL_KINDS = frozenset({"interest", "own_product", "product_tag", "cross_sell", "up_sell", "sector"})
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
        "cross_sell": "{target} (aanvulling op {bought})",
        "up_sell": "{target} (een stap verder dan {bought})",
        "priority": "prioriteit {n}",
        "freshness": "{n} dagen geleden verschenen",
        "fallback": "algemeen onderwerp: niets persoonlijks gevonden",
        "alert": "actueel: {n} dagen geleden verschenen",
        "event": "evenement over {n} dagen",
        "and": "en",
    },
    "en": {
        "cross_sell": "{target} (complements {bought})",
        "up_sell": "{target} (a step up from {bought})",
        "priority": "priority {n}",
        "freshness": "published {n} days ago",
        "fallback": "general topic: nothing personal matched",
        "alert": "timely: published {n} days ago",
        "event": "event in {n} days",
        "and": "and",
    },
}


def normalise_email(address: str) -> str:
    """Return `address` as suppressions are compared: trimmed and lower-cased."""
    return address.strip().lower()


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
    selections = [
        selector.select(contact) for contact in data.contacts.values() if contact.customer_id in data.customers
    ]
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
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(RECIPIENTS_COLUMNS)
    for s in selections:
        out.writerow(
            [
                s.contact_id,
                s.customer_id,
                s.segment.value,
                "yes" if s.quiet else "no",
                "rendered" if s.newsletter else "skipped",
                "rendered" if s.alert else "skipped",
                ";".join(item.item_id for item in s.items),
                ";".join(reason.value for reason in s.newsletter_reasons),
                ";".join(reason.value for reason in s.alert_reasons),
                s.language,
                s.account_manager_id,
                "yes" if s.fallback else "no",
            ]
        )
    return buffer.getvalue().encode("utf-8")


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
    """An item scored for a customer, before the contact's own interests are added."""

    item: _Item
    points: int
    reasons: tuple[ItemReason, ...]
    personal: bool
    matches_customer: bool  # about a product they have, or shares a tag with one (alerts)


@dataclass
class _CustomerFacts:
    """What selection needs of one customer, independent of the contact."""

    customer: Customer
    segment: Segment
    treatment: Treatment | None
    status: QuietStatus
    owned: frozenset[str]
    tag_products: dict[str, list[str]]  # tag of an owned product -> names of those products
    cross_sell: dict[str, list[str]]  # suggested product id -> names of the owned ones suggesting it
    up_sell: dict[str, list[str]]
    newsletter: dict[str, list[_Scored]] = field(default_factory=dict)  # by language
    alert: dict[str, list[_Scored]] = field(default_factory=dict)


@dataclass
class _History:
    """A contact's approved deliveries, folded for the cadence and repeat checks."""

    received: set[str] = field(default_factory=set)
    newsletter_dates: list[date] = field(default_factory=list)
    alert_months: set[str] = field(default_factory=set)


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
        self.suppressed = {normalise_email(s.email) for s in data.suppressions}
        self.suppressed.update(normalise_email(address) for address in suppressed)
        self.history: dict[str, _History] = defaultdict(_History)
        for delivery in deliveries:
            history = self.history[delivery.contact_id]
            history.received.update(delivery.item_ids)
            if delivery.kind is MessageKind.NEWSLETTER:
                history.newsletter_dates.append(delivery.as_of)
            else:
                history.alert_months.add(delivery.month)
        self.owned = _owned_products(data)
        self.newsletter_items, self.alert_items = self._prepare_items(data.content.values())
        self.customers: dict[str, _CustomerFacts] = {}
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
            general.append(
                ItemReason("priority", phrases["priority"].format(n=item.priority), w.priority * item.priority)
            )
        if freshness:
            general.append(ItemReason("freshness", phrases["freshness"].format(n=age), freshness))
        return _Item(
            item=item,
            tags=frozenset(item.tags),
            products=frozenset(item.products),
            first_tag=item.tags[0] if item.tags else None,
            general=tuple(general),
            general_points=sum(r.points for r in general),
        )

    # ----------------------------------------------------------------- customers, once each

    def _customer(self, customer_id: str) -> _CustomerFacts:
        facts = self.customers.get(customer_id)
        if facts is not None:
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
                tag_products[tag].append(product.name)
            for target in product.cross_sell:
                if target not in owned:
                    cross_sell[target].append(product.name)
            for target in product.up_sell:
                if target not in owned:
                    up_sell[target].append(product.name)
        for target in up_sell:
            # A product suggested both ways counts once, as the up-sell: one product, one reason.
            cross_sell.pop(target, None)
        facts = _CustomerFacts(
            customer=customer,
            segment=segment,
            treatment=self.config.treatment.get(segment),
            status=self.quiet[customer_id],
            owned=owned,
            tag_products=dict(tag_products),
            cross_sell=dict(cross_sell),
            up_sell=dict(up_sell),
        )
        self.customers[customer_id] = facts
        return facts

    def _candidates(self, facts: _CustomerFacts, language: str, alert: bool) -> list[_Scored]:
        """Return the items this customer may get in `language`, scored without interests."""
        cache = facts.alert if alert else facts.newsletter
        scored = cache.get(language)
        if scored is None:
            pool = (self.alert_items if alert else self.newsletter_items).get(language, [])
            scored = [self._score(facts, item) for item in pool if self._allowed(facts, item.item)]
            if alert:
                scored = [s for s in scored if s.matches_customer or s.item.tags]
            cache[language] = scored
        return scored

    def _allowed(self, facts: _CustomerFacts, item: ContentItem) -> bool:
        if item.segments and facts.segment not in item.segments:
            return False
        return not (item.sectors and facts.customer.sector not in item.sectors)

    def _score(self, facts: _CustomerFacts, prepared: _Item) -> _Scored:
        w = self.weights
        item = prepared.item
        phrases = _phrases(item.language)
        reasons: list[ItemReason] = []
        own = sorted(prepared.products & facts.owned)
        if own and w.own_product:
            names = [self._product_name(p) for p in own]
            reasons.append(ItemReason("own_product", _join(names, phrases), w.own_product))
        product_tags = sorted(t for t in prepared.tags if t in facts.tag_products)
        if product_tags and w.product_tag:
            # The detail names the products the tags came from: it reads as "ties in with what you use".
            names = list(dict.fromkeys(name for tag in product_tags for name in facts.tag_products[tag]))
            reasons.append(ItemReason("product_tag", _join(names, phrases), w.product_tag * len(product_tags)))
        for kind, suggested, weight in (
            ("cross_sell", facts.cross_sell, w.cross_sell),
            ("up_sell", facts.up_sell, w.up_sell),
        ):
            targets = sorted(p for p in prepared.products if p in suggested)
            if targets and weight:
                detail = "; ".join(
                    phrases[kind].format(target=self._product_name(t), bought=_join(suggested[t], phrases))
                    for t in targets
                )
                reasons.append(ItemReason(kind, detail, weight))
        if item.sectors and facts.customer.sector in item.sectors and w.sector:
            reasons.append(ItemReason("sector", facts.customer.sector, w.sector))
        personal = bool(reasons)
        reasons.extend(prepared.general)
        return _Scored(
            item=prepared,
            points=sum(r.points for r in reasons),
            reasons=tuple(reasons),
            personal=personal,
            matches_customer=bool(own or product_tags),
        )

    def _product_name(self, product_id: str) -> str:
        product = self.data.products.get(product_id)
        return product.name if product is not None else product_id

    # ----------------------------------------------------------------- per contact

    def select(self, contact: Contact) -> Selection:
        """Return what `contact` gets this run, and why."""
        facts = self._customer(contact.customer_id)
        customer = facts.customer
        language = contact.language or customer.language or DEFAULT_LANGUAGE
        history = self.history.get(contact.contact_id) or _History()
        interests = frozenset(contact.interests)

        common: list[SkipReason] = []
        if facts.status.activity is Activity.NO_ORDERS:
            common.append(SkipReason.NO_ORDERS)
        elif not facts.status.quiet:
            common.append(SkipReason.NOT_QUIET)
        if not contact.newsletter_opt_in:
            common.append(SkipReason.NO_OPT_IN)
        if not contact.email_valid:
            common.append(SkipReason.NO_VALID_EMAIL)
        if contact.email and normalise_email(contact.email) in self.suppressed:
            common.append(SkipReason.SUPPRESSED)
        treatment = facts.treatment

        # The alert first: its item is not repeated in the newsletter.
        alert_reasons = list(common)
        if self.month in history.alert_months:
            alert_reasons.append(SkipReason.CADENCE)
        if treatment is None or not treatment.alerts:
            alert_reasons.append(SkipReason.SEGMENT_TREATMENT)
        alert_pool = [
            s
            for s in self._candidates(facts, language, alert=True)
            if s.item.item.id not in history.received and (s.matches_customer or s.item.tags & interests)
        ]
        if not alert_pool:
            alert_reasons.append(SkipReason.NO_MATCHING_ITEM)
        alert_item = None
        if not alert_reasons:
            alert_item = self._best_alert(alert_pool, interests, language)

        newsletter_reasons = list(common)
        every_days = treatment.newsletter_every_days if treatment is not None else None
        if any(self._too_soon(sent, every_days) for sent in history.newsletter_dates):
            newsletter_reasons.append(SkipReason.CADENCE)
        if every_days is None:
            newsletter_reasons.append(SkipReason.SEGMENT_TREATMENT)
        skip = set(history.received)
        if alert_item is not None:
            skip.add(alert_item.item_id)
        pool = [s for s in self._candidates(facts, language, alert=False) if s.item.item.id not in skip]
        if not pool:
            newsletter_reasons.append(SkipReason.NO_MATCHING_ITEM)
        items: tuple[ChosenItem, ...] = ()
        fallback = False
        if not newsletter_reasons:
            assert treatment is not None  # every_days is set, so the segment has a treatment
            items, fallback = self._choose(pool, interests, language, treatment.max_items)

        return Selection(
            contact_id=contact.contact_id,
            customer_id=customer.customer_id,
            account_manager_id=customer.account_manager_id,
            segment=facts.segment,
            language=language,
            quiet=facts.status.quiet,
            newsletter_reasons=tuple(newsletter_reasons),
            alert_reasons=tuple(alert_reasons),
            items=items,
            fallback=fallback,
            alert_item=alert_item,
        )

    def _too_soon(self, sent: date, every_days: int | None) -> bool:
        """Tell whether a newsletter approved for `sent` blocks one on as-of."""
        if sent.strftime("%Y-%m") == self.month:
            return True  # a contact gets at most one newsletter per as-of month
        return every_days is not None and (self.as_of - sent).days < every_days

    def _with_interests(self, scored: _Scored, interests: frozenset[str]) -> tuple[int, tuple[ItemReason, ...], bool]:
        shared = sorted(scored.item.tags & interests)
        if not shared or not self.weights.interest_tag:
            return scored.points, scored.reasons, scored.personal
        detail = _join(shared, _phrases(scored.item.item.language))
        reason = ItemReason("interest", detail, self.weights.interest_tag * len(shared))
        return scored.points + reason.points, (reason, *scored.reasons), True

    def _choose(
        self, pool: list[_Scored], interests: frozenset[str], language: str, max_items: int
    ) -> tuple[tuple[ChosenItem, ...], bool]:
        """Return the top items for one contact and whether general items filled in."""
        ranked: list[tuple[int, str, _Item, tuple[ItemReason, ...], bool]] = []
        for scored in pool:
            points, reasons, personal = self._with_interests(scored, interests)
            ranked.append((points, scored.item.item.id, scored.item, reasons, personal))
        fallback = not any(entry[4] for entry in ranked)
        if fallback:
            note = ItemReason("fallback", _phrases(language)["fallback"], 0)
            ranked = [(p, i, it, (*r, note), pe) for p, i, it, r, pe in ranked]
        else:
            ranked = [entry for entry in ranked if entry[0] > 0]
        ranked.sort(key=lambda entry: (-entry[0], entry[1]))
        chosen: list[ChosenItem] = []
        per_tag: dict[str, int] = defaultdict(int)
        for points, item_id, prepared, reasons, _ in ranked:
            if len(chosen) == max_items:
                break
            tag = prepared.first_tag
            if tag is not None:
                if per_tag[tag] >= MAX_PER_FIRST_TAG:
                    continue
                per_tag[tag] += 1
            chosen.append(ChosenItem(item_id, points, reasons))
        return tuple(chosen), fallback

    def _best_alert(self, pool: list[_Scored], interests: frozenset[str], language: str) -> ChosenItem:
        """Return the best-scoring timely item for one contact (ties on item id)."""
        best: tuple[int, str] | None = None
        chosen: ChosenItem | None = None
        for scored in pool:
            points, reasons, _ = self._with_interests(scored, interests)
            key = (-points, scored.item.item.id)
            if best is None or key < best:
                item = scored.item.item
                days = self._timely(item)
                phrase = _phrases(language)["alert" if item.type is ItemType.ALERT else "event"]
                timely = ItemReason("timely", phrase.format(n=days), 0)
                best, chosen = key, ChosenItem(item.id, points, (timely, *reasons))
        assert chosen is not None  # the pool is not empty
        return chosen


def _owned_products(data: Dataset) -> dict[str, frozenset[str]]:
    """Return the product ids each customer has ordered (cancelled orders do not count)."""
    owned: dict[str, set[str]] = defaultdict(set)
    for order in data.orders:
        if order.product_id and not order.cancelled:
            owned[order.customer_id].add(order.product_id)
    return {customer_id: frozenset(ids) for customer_id, ids in owned.items()}


def _event_day(item: ContentItem) -> date:
    return item.event_date or item.published


def _phrases(language: str) -> dict[str, str]:
    return _PHRASES.get(language, _PHRASES["en"])


def _join(names: Sequence[str], phrases: dict[str, str]) -> str:
    """Join names as a sentence does: "A", "A en B", "A, B en C"."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {phrases['and']} {names[-1]}"
