"""Selection: who gets a newsletter or alert, with which items, and why."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import make_config

from pipeline.models import (
    Activity,
    Contact,
    ContentItem,
    Customer,
    CustomerValue,
    Dataset,
    Delivery,
    ItemType,
    MessageKind,
    Order,
    Product,
    QuietStatus,
    Segment,
    Segmentation,
    SegmentsConfig,
    Selection,
    SelectionWeights,
    Suppression,
    Treatment,
)
from pipeline.quiet import quiet_periods
from pipeline.select import RECIPIENTS_COLUMNS, recipients_csv_bytes, select

AS_OF = date(2026, 11, 30)
ENDED = date(2026, 9, 30)  # an order that ended here leaves the customer quiet on AS_OF

PRODUCTS = {
    "backup-pro": Product("backup-pro", "Back-up Pro", ("backup", "security"), cross_sell=("cloud-opslag",)),
    "cloud-opslag": Product("cloud-opslag", "Cloudopslag", ("cloud", "opslag"), up_sell=("backup-pro",)),
    "werkplek": Product("werkplek", "Werkplekbeheer", ("werkplek",), cross_sell=("security-scan",)),
    "security-scan": Product("security-scan", "Securityscan", ("security",)),
    "scan-light": Product("scan-light", "Scan Light", (), up_sell=("security-scan",)),
}


# --------------------------------------------------------------------------- builders


def item(item_id: str, **fields: object) -> ContentItem:
    """Return a content item published a year before AS_OF (so not fresh), in Dutch."""
    values: dict[str, object] = {
        "id": item_id,
        "path": f"content/{item_id}.md",
        "title": item_id,
        "type": ItemType.ARTICLE,
        "language": "nl",
        "published": date(2025, 11, 1),
        "body_markdown": "",
        "body_html": "",
    }
    values.update(fields)
    return ContentItem(**values)  # type: ignore[arg-type]


def contact(contact_id: str = "P1", customer_id: str = "C1", **fields: object) -> Contact:
    values: dict[str, object] = {
        "contact_id": contact_id,
        "customer_id": customer_id,
        "first_name": "Anne",
        "email": f"{contact_id.lower()}@klant.nl",
        "email_valid": True,
        "newsletter_opt_in": True,
    }
    values.update(fields)
    return Contact(**values)  # type: ignore[arg-type]


def ended_order(customer_id: str = "C1", product_id: str = "werkplek", n: int = 1) -> Order:
    return Order(f"O{customer_id}{n}", customer_id, date(2026, 1, 1), Decimal(1000), product_id, end_date=ENDED)


def dataset(
    contacts: list[Contact] | None = None,
    items: list[ContentItem] | None = None,
    orders: list[Order] | None = None,
    customers: list[Customer] | None = None,
    suppressions: list[str] = (),  # type: ignore[assignment]
) -> Dataset:
    customers = customers or [Customer("C1", "Klant Een", "am-jan", sector="zorg")]
    contacts = contacts if contacts is not None else [contact()]
    items = items if items is not None else [item("nl/algemeen")]
    orders = orders if orders is not None else [ended_order(c.customer_id) for c in customers]
    return Dataset(
        account_managers={},
        customers={c.customer_id: c for c in customers},
        contacts={c.contact_id: c for c in contacts},
        orders=tuple(orders),
        evaluations=(),
        interactions=(),
        suppressions=tuple(Suppression(email=e.lower()) for e in suppressions),
        products=PRODUCTS,
        content={i.id: i for i in sorted(items, key=lambda i: i.id)},
    )


def segmentation(data: Dataset, segment: Segment = Segment.A, **per_customer: Segment) -> Segmentation:
    zero = Fraction(0)
    return Segmentation(
        as_of=AS_OF,
        customers={
            cid: CustomerValue(
                cid,
                c.name,
                "",
                per_customer.get(cid, segment),
                segment,
                zero,
                Decimal(0),
                Decimal(0),
                0,
                zero,
                zero,
                zero,
            )
            for cid, c in data.customers.items()
        },
    )


def run(
    data: Dataset,
    config: SegmentsConfig | None = None,
    segment: Segment = Segment.A,
    deliveries: list[Delivery] = (),  # type: ignore[assignment]
    as_of: date = AS_OF,
    suppressed: tuple[str, ...] = (),
) -> list[Selection]:
    config = config or make_config()
    return select(
        data,
        config,
        segmentation(data, segment),
        quiet_periods(data, config, as_of),
        deliveries,
        as_of,
        suppressed,
    )


def one(data: Dataset, **kwargs: object) -> Selection:
    (selection,) = run(data, **kwargs)  # type: ignore[arg-type]
    return selection


def reasons(selection: Selection) -> str:
    return ";".join(r.value for r in selection.newsletter_reasons)


def ids(selection: Selection) -> list[str]:
    return [i.item_id for i in selection.items]


def newsletter_sent(contact_id: str, on: date, item_ids: tuple[str, ...] = ()) -> Delivery:
    return Delivery(on.isoformat(), contact_id, MessageKind.NEWSLETTER, on, item_ids)


# --------------------------------------------------------------------------- eligibility


def test_eligible_contact_gets_a_newsletter() -> None:
    """A valid, opted-in, unsuppressed contact of a quiet customer gets a newsletter."""
    selection = one(dataset())
    assert selection.newsletter
    assert selection.newsletter_reasons == ()
    assert selection.quiet
    assert ids(selection) == ["nl/algemeen"]
    assert selection.segment is Segment.A
    assert selection.account_manager_id == "am-jan"


# Each builder returns (data, run options) for which exactly the named reasons apply.
def _not_quiet() -> Dataset:
    running = Order("O9", "C1", date(2026, 1, 1), Decimal(1), "werkplek")
    return dataset(orders=[running])


SINGLE_REASONS = {
    "not_quiet": (lambda: _not_quiet(), {}),
    "no_orders": (lambda: dataset(orders=[]), {}),
    "no_opt_in": (lambda: dataset(contacts=[contact(newsletter_opt_in=False)]), {}),
    "no_valid_email": (lambda: dataset(contacts=[contact(email="anne@@klant", email_valid=False)]), {}),
    "suppressed": (lambda: dataset(suppressions=["P1@Klant.NL"]), {}),
    "cadence": (lambda: dataset(), {"deliveries": [newsletter_sent("P1", date(2026, 11, 2))]}),
    "segment_treatment": (
        lambda: dataset(),
        {"config": make_config(treatment={Segment.A: Treatment(newsletter_every_days=None)})},
    ),
    "no_matching_item": (lambda: dataset(items=[item("en/only-english", language="en")]), {}),
}


@pytest.mark.parametrize("code", list(SINGLE_REASONS))
def test_each_reason_alone(code: str) -> None:
    """Each skip reason on its own skips the newsletter and is the only reason given."""
    build, options = SINGLE_REASONS[code]
    selection = one(build(), **options)
    assert not selection.newsletter
    assert reasons(selection) == code
    assert selection.items == ()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (dataset(contacts=[contact(newsletter_opt_in=False)], suppressions=["p1@klant.nl"]), "no_opt_in;suppressed"),
        (dataset(orders=[], contacts=[contact(email="", email_valid=False)]), "no_orders;no_valid_email"),
        (
            dataset(orders=[Order("O9", "C1", AS_OF + timedelta(days=3), Decimal(1))], items=[]),
            "not_quiet;no_matching_item",
        ),
        (
            dataset(contacts=[contact(email="P1@klant.nl ", email_valid=False)], suppressions=["p1@klant.nl"]),
            "no_valid_email;suppressed",
        ),
    ],
    ids=["opt_in+suppressed", "no_orders+email", "not_quiet+no_item", "invalid+suppressed"],
)
def test_two_reasons_combined_in_design_order(data: Dataset, expected: str) -> None:
    """Every reason that applies is given, joined with ';' in the documented order."""
    assert reasons(one(data)) == expected


def test_cadence_and_segment_treatment_combined() -> None:
    """A contact sent a newsletter this month in a segment without newsletters gets both reasons."""
    config = make_config(treatment={Segment.A: Treatment(newsletter_every_days=None)})
    selection = one(dataset(), config=config, deliveries=[newsletter_sent("P1", date(2026, 11, 10))])
    assert reasons(selection) == "cadence;segment_treatment"


def test_suppressed_by_state_argument() -> None:
    """An address suppressed in the state (the `suppressed` argument) is compared after normalising."""
    assert reasons(one(dataset(), suppressed=(" P1@KLANT.nl",))) == "suppressed"


def test_reasons_do_not_leak_between_contacts() -> None:
    """One contact's skip does not affect a colleague at the same customer."""
    data = dataset(contacts=[contact("P1", newsletter_opt_in=False), contact("P2")])
    first, second = run(data)
    assert reasons(first) == "no_opt_in"
    assert second.newsletter


# --------------------------------------------------------------------------- cadence


@pytest.mark.parametrize(("days_back", "blocked"), [(29, True), (30, False), (31, False)])
def test_cadence_against_approved_delivery(days_back: int, blocked: bool) -> None:
    """With newsletter_every_days 30, a newsletter 29 days back blocks; 30 or 31 days back does not."""
    as_of = date(2026, 12, 15)  # 29 and 31 days back both lie in November, so the month rule is out
    sent = as_of - timedelta(days=days_back)
    selection = one(dataset(), as_of=as_of, deliveries=[newsletter_sent("P1", sent)])
    assert (reasons(selection) == "cadence") is blocked
    assert selection.newsletter is not blocked


def test_cadence_follows_segment_treatment() -> None:
    """A C customer (every 90 days) is still blocked 60 days after its last newsletter."""
    as_of = date(2026, 12, 15)
    deliveries = [newsletter_sent("P1", as_of - timedelta(days=60))]
    assert reasons(one(dataset(), segment=Segment.C, as_of=as_of, deliveries=deliveries)) == "cadence"
    assert one(dataset(), segment=Segment.A, as_of=as_of, deliveries=deliveries).newsletter


def test_same_month_always_blocks() -> None:
    """A newsletter approved earlier in the same month blocks, even when every_days has passed."""
    config = make_config(treatment={Segment.A: Treatment(newsletter_every_days=7, max_items=3)})
    selection = one(dataset(), config=config, deliveries=[newsletter_sent("P1", date(2026, 11, 1))])
    assert reasons(selection) == "cadence"


def test_other_contacts_delivery_does_not_block() -> None:
    """Cadence is per contact: a colleague's newsletter does not count."""
    assert one(dataset(), deliveries=[newsletter_sent("P2", date(2026, 11, 20))]).newsletter


def test_alert_delivery_does_not_count_for_newsletter_cadence() -> None:
    """An alert sent last week does not block this month's newsletter."""
    alert = Delivery("2026-11-20", "P1", MessageKind.ALERT, date(2026, 10, 31), ("nl/x",))
    assert one(dataset(), deliveries=[alert]).newsletter


# --------------------------------------------------------------------------- items


def test_item_never_sent_twice() -> None:
    """An item this contact received in an approved run is never chosen again."""
    data = dataset(items=[item("nl/a", priority=1), item("nl/b")])
    sent = newsletter_sent("P1", date(2026, 6, 1), ("nl/a",))
    selection = one(data, deliveries=[sent])
    assert "nl/a" not in ids(selection)
    assert ids(selection) == ["nl/b"]


def test_translation_of_a_received_item_never_sent() -> None:
    """A contact who got an item is not sent its translation (nor the original of one they got)."""
    items = [
        item("nl/a", priority=1),
        item("en/a", language="en", translation_of="nl/a", priority=1),
        item("en/b", language="en"),
    ]
    english = dataset(contacts=[contact(language="en")], items=items)
    assert ids(one(english)) == ["en/a", "en/b"]
    assert ids(one(english, deliveries=[newsletter_sent("P1", date(2026, 6, 1), ("nl/a",))])) == ["en/b"]
    dutch = dataset(items=[*items, item("nl/c")])
    assert ids(one(dutch, deliveries=[newsletter_sent("P1", date(2026, 6, 1), ("en/a",))])) == ["nl/c"]


def test_all_items_received_means_no_matching_item() -> None:
    """When every candidate item was received before, the newsletter is skipped with no_matching_item."""
    sent = newsletter_sent("P1", date(2026, 6, 1), ("nl/algemeen",))
    assert reasons(one(dataset(), deliveries=[sent])) == "no_matching_item"


def test_expired_and_future_items_never_chosen() -> None:
    """An item expiring on as-of or published after it is never chosen; published on as-of is."""
    data = dataset(
        contacts=[contact(interests=("backup",))],
        items=[
            item("nl/expired", tags=("backup",), expires=AS_OF),
            item("nl/future", tags=("backup",), published=AS_OF + timedelta(days=1)),
            item("nl/today", tags=("backup",), published=AS_OF),
            item("nl/expires-tomorrow", tags=("backup",), expires=AS_OF + timedelta(days=1)),
        ],
    )
    assert ids(one(data)) == ["nl/today", "nl/expires-tomorrow"]


def test_past_event_never_chosen() -> None:
    """An event that took place before as-of is over, even if it has not expired."""
    data = dataset(
        items=[
            item("nl/event-past", type=ItemType.EVENT, event_date=AS_OF - timedelta(days=1)),
            item("nl/event-later", type=ItemType.EVENT, event_date=AS_OF + timedelta(days=60)),
        ]
    )
    assert ids(one(data)) == ["nl/event-later"]


def test_at_most_two_items_share_a_first_tag() -> None:
    """No more than two chosen items share their first tag, even when they score highest."""
    data = dataset(
        contacts=[contact(interests=("backup", "cloud"))],
        items=[
            item("nl/b1", tags=("backup",), priority=3),
            item("nl/b2", tags=("backup",), priority=2),
            item("nl/b3", tags=("backup",), priority=1),
            item("nl/b4", tags=("backup", "cloud")),
            item("nl/c1", tags=("cloud", "backup")),
            item("nl/c2", tags=("cloud",)),
        ],
    )
    chosen = ids(one(data))  # max_items 5 for A
    # Scores: b1, b4, c1 6; b2 5; b3 4; c2 3. b2 and b3 outscore c2 but would be a third and
    # fourth item with first tag "backup".
    assert chosen == ["nl/b1", "nl/b4", "nl/c1", "nl/c2"]


def test_max_items_from_treatment() -> None:
    """The segment's max_items caps the number of items."""
    items = [item(f"nl/i{n}", priority=1) for n in range(8)]
    assert len(one(dataset(items=items), segment=Segment.A).items) == 5
    assert len(one(dataset(items=items), segment=Segment.B).items) == 4
    assert len(one(dataset(items=items), segment=Segment.C).items) == 3


def test_ties_break_on_item_id_regardless_of_input_order() -> None:
    """Items with equal scores are taken in item id order, whatever order they were loaded in."""
    names = ["nl/zeta", "nl/alpha", "nl/mu", "nl/beta"]
    items = [item(n, tags=(n[3:],), priority=1) for n in names]
    data = dataset(items=items)
    reordered = replace(data, content={i.id: i for i in reversed(items)})
    config = make_config(treatment={Segment.A: Treatment(newsletter_every_days=30, max_items=3)})
    assert ids(one(data, config=config)) == ["nl/alpha", "nl/beta", "nl/mu"]
    assert ids(one(reordered, config=config)) == ["nl/alpha", "nl/beta", "nl/mu"]


def test_higher_score_first() -> None:
    """Items are ordered by score, best first; the interest match outranks priority alone."""
    data = dataset(
        contacts=[contact(interests=("cloud",))],
        items=[item("nl/a-prio", priority=2), item("nl/z-cloud", tags=("cloud",))],
    )
    selection = one(data)
    assert ids(selection) == ["nl/z-cloud", "nl/a-prio"]
    assert [i.score for i in selection.items] == [3, 2]
    assert not selection.fallback


def test_interest_reason_names_tags_by_their_labels_in_the_items_language() -> None:
    """The why line names a tag as content/tags.yaml labels it for the item's language; else as the tag."""
    data = dataset(
        contacts=[
            contact("P1", interests=("werkplek", "microsoft365", "backup")),
            contact("P2", language="en", interests=("werkplek",)),
        ],
        items=[
            item("nl/x", tags=("werkplek", "microsoft365", "backup")),
            item("en/y", language="en", tags=("werkplek",)),
        ],
    )
    labels = {
        "werkplek": {"nl": "werkplekbeheer", "en": "workplace management"},
        "microsoft365": {"nl": "Microsoft 365"},
    }
    dutch, english = run(replace(data, tag_labels=labels))
    (chosen,) = dutch.items
    assert {r.kind: r.detail for r in chosen.reasons}["interest"] == "backup, Microsoft 365 en werkplekbeheer"
    assert {r.kind: r.points for r in chosen.reasons}["interest"] == 9  # points count tags, not words
    (chosen,) = english.items
    assert {r.kind: r.detail for r in chosen.reasons}["interest"] == "workplace management"
    (unlabelled,) = one(replace(data, contacts={"P1": data.contacts["P1"]})).items
    assert {r.kind: r.detail for r in unlabelled.reasons}["interest"] == "backup, microsoft365 en werkplek"


def test_an_english_item_names_the_products_by_their_english_names() -> None:
    """A product with a name per language is named in the item's language; one with a single name as it is."""
    products = PRODUCTS | {
        "cloud-opslag": replace(PRODUCTS["cloud-opslag"], names={"nl": "Cloudopslag", "en": "Cloud Storage"}),
    }
    data = replace(
        dataset(
            contacts=[contact("P1", language="en")],
            orders=[ended_order(product_id="cloud-opslag")],
            items=[item("en/x", language="en", products=("backup-pro", "cloud-opslag"))],
        ),
        products=products,
    )
    (chosen,) = one(data).items
    by_kind = {r.kind: r.detail for r in chosen.reasons}
    assert by_kind["own_product"] == "Cloud Storage"
    assert by_kind["up_sell"] == "Back-up Pro, a step up from Cloud Storage"


def test_reasons_explain_each_point() -> None:
    """Every scored point comes with a reason: interests, own product, product tags, cross-sell, sector."""
    data = dataset(
        contacts=[contact(interests=("backup", "security"))],
        orders=[ended_order(product_id="werkplek"), ended_order(product_id="cloud-opslag", n=2)],
        items=[
            item(
                "nl/x",
                tags=("backup", "security", "cloud"),
                products=("backup-pro", "cloud-opslag"),
                sectors=("zorg",),
                priority=2,
                published=AS_OF - timedelta(days=3),
            )
        ],
    )
    (chosen,) = one(data).items
    by_kind = {r.kind: r for r in chosen.reasons}
    assert by_kind["interest"].detail == "backup en security"
    assert by_kind["interest"].points == 6
    assert by_kind["own_product"].detail == "Cloudopslag"
    assert by_kind["product_tag"].detail == "Cloudopslag"
    assert by_kind["product_tag"].points == 2
    assert by_kind["up_sell"].detail == "Back-up Pro, een stap verder dan Cloudopslag"
    assert by_kind["sector"].detail == "zorg"
    assert by_kind["priority"].points == 2
    assert by_kind["freshness"].points == 2
    assert "cross_sell" not in by_kind  # werkplek suggests security-scan, which this item is not about
    assert chosen.score == sum(r.points for r in chosen.reasons) == 6 + 3 + 2 + 4 + 2 + 2 + 2


def test_cross_sell_names_the_products() -> None:
    """A cross-sell reason names the suggested product and the one they have."""
    data = dataset(
        orders=[ended_order(product_id="werkplek")],
        items=[item("nl/scan", products=("security-scan",))],
    )
    (chosen,) = one(data).items
    assert [(r.kind, r.detail, r.points) for r in chosen.reasons] == [
        ("cross_sell", "Securityscan, aanvulling op Werkplekbeheer", 4)
    ]


def test_product_suggested_both_ways_counts_once_as_up_sell() -> None:
    """A product that is a cross-sell of one thing they have and an up-sell of another scores once."""
    data = dataset(
        orders=[ended_order(product_id="werkplek"), ended_order(product_id="scan-light", n=2)],
        items=[item("nl/scan", products=("security-scan",))],
    )
    (chosen,) = one(data).items
    assert [(r.kind, r.detail, r.points) for r in chosen.reasons] == [
        ("up_sell", "Securityscan, een stap verder dan Scan Light", 4)
    ]


def test_no_cross_sell_for_a_product_they_have() -> None:
    """A product they already have is not suggested again as cross-sell."""
    data = dataset(
        orders=[ended_order(product_id="werkplek"), ended_order(product_id="security-scan", n=2)],
        items=[item("nl/scan", products=("security-scan",))],
    )
    kinds = [r.kind for r in one(data).items[0].reasons]
    assert "cross_sell" not in kinds
    assert "own_product" in kinds


def test_weights_come_from_config() -> None:
    """Marketing's weights under `selection:` change the ranking."""
    data = dataset(
        contacts=[contact(interests=("cloud",))],
        items=[item("nl/a-prio", priority=2), item("nl/z-cloud", tags=("cloud",))],
    )
    config = make_config(selection=SelectionWeights(interest_tag=1))
    assert ids(one(data, config=config)) == ["nl/a-prio", "nl/z-cloud"]


def test_freshness_decays() -> None:
    """Full freshness within fresh_days, half within twice that, nothing after."""
    data = dataset(
        items=[
            item("nl/new", published=AS_OF - timedelta(days=29)),
            item("nl/recent", published=AS_OF - timedelta(days=30)),
            item("nl/older", published=AS_OF - timedelta(days=60)),
        ],
        contacts=[contact(interests=("x",))],
        orders=[ended_order(product_id="")],
    )
    selection = one(data)
    assert selection.fallback
    assert [(i.item_id, i.score) for i in selection.items] == [("nl/new", 2), ("nl/recent", 1), ("nl/older", 0)]


def test_fallback_fills_in_general_items() -> None:
    """When nothing personal scores, general items of the language fill in and the selection says fallback."""
    data = dataset(
        contacts=[contact(interests=())],
        orders=[ended_order(product_id="")],
        items=[item("nl/b", priority=1), item("nl/a"), item("nl/c", priority=1), item("en/x", language="en")],
    )
    selection = one(data)
    assert selection.newsletter
    assert selection.fallback
    assert ids(selection) == ["nl/b", "nl/c", "nl/a"]
    for chosen in selection.items:
        assert chosen.reasons[-1].kind == "fallback"


def test_personal_match_leaves_out_items_that_score_nothing() -> None:
    """With a personal match, items that score nothing at all are not added as padding."""
    data = dataset(
        contacts=[contact(interests=("cloud",))],
        orders=[ended_order(product_id="")],
        items=[item("nl/cloud", tags=("cloud",)), item("nl/nothing")],
    )
    selection = one(data)
    assert ids(selection) == ["nl/cloud"]
    assert not selection.fallback


def test_segment_and_sector_filters_are_hard() -> None:
    """An item for other segments or other sectors is never chosen, however well it scores."""
    data = dataset(
        contacts=[contact(interests=("backup",))],
        items=[
            item("nl/for-b", tags=("backup",), segments=(Segment.B,)),
            item("nl/for-logistiek", tags=("backup",), sectors=("logistiek",)),
            item("nl/for-zorg", sectors=("zorg",)),
            item("nl/for-a", segments=(Segment.A,), priority=1),
        ],
    )
    assert ids(one(data)) == ["nl/for-zorg", "nl/for-a"]


# --------------------------------------------------------------------------- language


@pytest.mark.parametrize(
    ("contact_language", "customer_language", "expected"),
    [("en", "nl", "en"), (None, "en", "en"), (None, "", "nl"), ("nl", "en", "nl")],
)
def test_language_contact_then_customer_then_nl(
    contact_language: str | None, customer_language: str, expected: str
) -> None:
    """The contact's language wins, else the customer's, else nl; items are in that language only."""
    data = dataset(
        customers=[Customer("C1", "Klant", "am-jan", language=customer_language)],
        contacts=[contact(language=contact_language)],
        items=[item("nl/a"), item("en/a", language="en")],
    )
    selection = one(data)
    assert selection.language == expected
    assert ids(selection) == [f"{expected}/a"]


# --------------------------------------------------------------------------- alerts


def alert_item(item_id: str = "nl/alert", days_ago: int = 5, **fields: object) -> ContentItem:
    values: dict[str, object] = {
        "type": ItemType.ALERT,
        "published": AS_OF - timedelta(days=days_ago),
        "tags": ("security",),
        "products": ("werkplek",),
    }
    values.update(fields)
    return item(item_id, **values)


def test_alert_for_a_bought_product() -> None:
    """A timely alert about a product the customer has becomes the contact's alert."""
    data = dataset(items=[item("nl/algemeen"), alert_item()])
    selection = one(data)
    assert selection.alert
    assert selection.alert_item is not None
    assert selection.alert_item.item_id == "nl/alert"
    assert selection.alert_item.reasons[0].kind == "timely"
    assert selection.alert_item.reasons[0].detail == "actueel: 5 dagen geleden verschenen"
    assert "nl/alert" not in ids(selection)  # not repeated in the newsletter


def test_alert_matches_contact_interests() -> None:
    """An alert on a topic the contact is interested in matches even without the product."""
    data = dataset(
        contacts=[contact("P1", interests=("phishing",)), contact("P2")],
        items=[item("nl/algemeen"), alert_item(tags=("phishing",), products=())],
    )
    first, second = run(data)
    assert first.alert
    assert [r.value for r in second.alert_reasons] == ["no_matching_item"]


def test_alert_only_for_segments_with_alerts() -> None:
    """A C customer gets no alert, and the reason is segment_treatment."""
    selection = one(dataset(items=[item("nl/algemeen"), alert_item()]), segment=Segment.C)
    assert not selection.alert
    assert [r.value for r in selection.alert_reasons] == ["segment_treatment"]
    assert selection.newsletter


def test_alert_needs_a_match() -> None:
    """No matching timely item, no alert: no_matching_item."""
    data = dataset(items=[item("nl/algemeen"), alert_item(tags=("unrelated",), products=("backup-pro",))])
    selection = one(data)
    assert [r.value for r in selection.alert_reasons] == ["no_matching_item"]


@pytest.mark.parametrize(("days_ago", "timely"), [(0, True), (30, True), (31, False)])
def test_alert_must_be_recent(days_ago: int, timely: bool) -> None:
    """An alert published within event_window_days (30) is timely, an older one is not."""
    selection = one(dataset(items=[alert_item(days_ago=days_ago)]))
    assert selection.alert is timely


@pytest.mark.parametrize(("days_ahead", "timely"), [(0, True), (30, True), (31, False)])
def test_event_within_30_days_is_an_alert(days_ahead: int, timely: bool) -> None:
    """An event taking place within 30 days of as-of can be an alert; later ones only in the newsletter."""
    event = item("nl/event", type=ItemType.EVENT, tags=("security",), event_date=AS_OF + timedelta(days=days_ahead))
    selection = one(dataset(items=[event, item("nl/algemeen")], contacts=[contact(interests=("security",))]))
    assert selection.alert is timely
    assert ("nl/event" in ids(selection)) is not timely


def test_article_is_never_an_alert() -> None:
    """Only alerts and events can be alerts; a matching article cannot."""
    selection = one(dataset(items=[item("nl/art", products=("werkplek",), published=AS_OF)]))
    assert [r.value for r in selection.alert_reasons] == ["no_matching_item"]


def test_alert_is_never_sent_twice_and_once_a_month() -> None:
    """An alert item received before is not sent again; a second alert in the same month is cadence."""
    data = dataset(items=[item("nl/algemeen"), alert_item("nl/a1"), alert_item("nl/a2")])
    before = Delivery("2026-10-31", "P1", MessageKind.ALERT, date(2026, 10, 31), ("nl/a1",))
    selection = one(data, deliveries=[before])
    assert selection.alert_item is not None and selection.alert_item.item_id == "nl/a2"
    this_month = Delivery("2026-11-15", "P1", MessageKind.ALERT, date(2026, 11, 15), ("nl/a1",))
    assert [r.value for r in one(data, deliveries=[this_month]).alert_reasons] == ["cadence"]


def test_alert_eligibility_like_newsletter() -> None:
    """A contact without opt-in, or with a suppressed address, gets no alert either."""
    data = dataset(
        contacts=[contact("P1", newsletter_opt_in=False), contact("P2")],
        items=[alert_item()],
        suppressions=["p2@klant.nl"],
    )
    first, second = run(data)
    assert [r.value for r in first.alert_reasons] == ["no_opt_in"]
    assert [r.value for r in second.alert_reasons] == ["suppressed"]


def test_alert_chooses_best_score_then_id() -> None:
    """Of several matching alerts, the best-scoring is chosen, ties on item id."""
    data = dataset(items=[alert_item("nl/b"), alert_item("nl/a"), alert_item("nl/c", priority=1), item("nl/algemeen")])
    selection = one(data)
    assert selection.alert_item is not None and selection.alert_item.item_id == "nl/c"
    data = dataset(items=[alert_item("nl/b"), alert_item("nl/a")])
    selection = one(data)
    assert selection.alert_item is not None and selection.alert_item.item_id == "nl/a"


# --------------------------------------------------------------------------- the whole list


def test_every_contact_of_every_valid_customer_in_file_order() -> None:
    """Every contact gets a selection, skipped ones too, in contact file order."""
    customers = [Customer("C1", "Een", "am-jan"), Customer("C2", "Twee", "am-sara")]
    contacts = [contact("P3", "C2"), contact("P1", "C1", newsletter_opt_in=False), contact("P2", "C1")]
    selections = run(dataset(customers=customers, contacts=contacts, orders=[ended_order("C1")]))
    assert [(s.contact_id, s.customer_id, s.account_manager_id) for s in selections] == [
        ("P3", "C2", "am-sara"),
        ("P1", "C1", "am-jan"),
        ("P2", "C1", "am-jan"),
    ]
    assert [reasons(s) for s in selections] == ["no_orders", "no_opt_in", ""]


def test_customer_missing_from_segmentation_is_treated_as_c(caplog: pytest.LogCaptureFixture) -> None:
    """A customer new since the frozen segmentation is treated as C, with a warning."""
    data = dataset()
    config = make_config()
    empty = Segmentation(as_of=AS_OF, customers={})
    (selection,) = select(data, config, empty, quiet_periods(data, config, AS_OF), (), AS_OF)
    assert selection.segment is Segment.C
    assert "not in the segmentation" in caplog.text


def test_shared_address_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """Two contacts sharing one address both stay selected, and the run warns about the address."""
    data = dataset(contacts=[contact("P1", email="info@klant.nl"), contact("P2", email="info@klant.nl")])
    assert [s.newsletter for s in run(data)] == [True, True]
    assert "info@klant.nl" in caplog.text


def test_status_comes_from_quiet_argument() -> None:
    """The quiet statuses passed in decide, not a recomputation."""
    data = dataset()
    config = make_config()
    quiet = {"C1": QuietStatus("C1", Activity.RECENT, ENDED)}
    (selection,) = select(data, config, segmentation(data), quiet, (), AS_OF)
    assert reasons(selection) == "not_quiet"


def test_recipients_csv() -> None:
    """recipients.csv has the agreed columns, one row per contact, codes joined with ';'."""
    data = dataset(
        contacts=[contact("P1", interests=("security",)), contact("P2", newsletter_opt_in=False, email_valid=False)],
        items=[item("nl/a", tags=("security",)), item("nl/b", tags=("security",), priority=1), alert_item()],
    )
    raw = recipients_csv_bytes(run(data))
    assert b"\r" not in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
    assert tuple(rows[0]) == RECIPIENTS_COLUMNS
    assert rows[0] == {
        "contact_id": "P1",
        "customer_id": "C1",
        "segment": "A",
        "quiet": "yes",
        "newsletter": "rendered",
        "alert": "rendered",
        "items": "nl/b;nl/a",
        "reason": "",
        "alert_reason": "",
        "language": "nl",
        "account_manager_id": "am-jan",
        "fallback": "no",
    }
    assert rows[1]["newsletter"] == "skipped"
    assert rows[1]["reason"] == "no_opt_in;no_valid_email"
    assert rows[1]["alert_reason"] == "no_opt_in;no_valid_email"
    assert rows[1]["items"] == ""


def test_deterministic() -> None:
    """The same inputs give the same selections."""
    data = dataset(
        contacts=[contact(f"P{n}", interests=("security",) if n % 2 else ()) for n in range(5)],
        items=[item(f"nl/i{n}", tags=("security", "x") if n % 3 else ("cloud",), priority=n % 4) for n in range(12)],
    )
    assert run(data) == run(data)


# --------------------------------------------------------------------------- the tiny project


def test_tiny_project(tiny_project: Path) -> None:
    """On the tiny project, each contact gets what conftest.py's description says."""
    load = pytest.importorskip("pipeline.load")
    segment_module = pytest.importorskip("pipeline.segment")
    project = load.load_project(tiny_project)
    as_of = date(2026, 11, 30)
    seg = segment_module.segment(project.data, project.segments, as_of)
    quiet = quiet_periods(project.data, project.segments, as_of)
    assert {cid for cid, s in quiet.items() if s.quiet} == {"C001", "C003", "C004"}
    assert quiet["C006"].activity is Activity.NO_ORDERS
    selections = {s.contact_id: s for s in select(project.data, project.segments, seg, quiet, (), as_of)}
    assert list(selections) == [f"P{n:03d}" for n in range(1, 12)]
    assert selections["P001"].newsletter
    assert selections["P002"].newsletter
    assert reasons(selections["P003"]) == "no_valid_email"
    assert reasons(selections["P004"]) == "not_quiet"
    assert selections["P005"].newsletter
    assert reasons(selections["P006"]) == "no_opt_in"
    assert reasons(selections["P011"]) == "suppressed"
    assert selections["P007"].language == "en"
    assert "no_valid_email" in reasons(selections["P008"])
    assert reasons(selections["P009"]) == "not_quiet"
    assert reasons(selections["P010"]) == "no_orders"
    for s in selections.values():
        for chosen in s.items:
            assert chosen.item_id.startswith(f"{s.language}/")
