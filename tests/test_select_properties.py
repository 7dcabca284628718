"""Property tests: whatever the data, selection never mails someone it must not."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from conftest import make_config
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.models import (
    Contact,
    ContentItem,
    Customer,
    CustomerValue,
    Dataset,
    Delivery,
    ItemType,
    MessageKind,
    Order,
    OrderStatus,
    Product,
    Segment,
    Segmentation,
    Suppression,
)
from pipeline.quiet import quiet_periods
from pipeline.select import select
from pipeline.tables import order_records

AS_OF = date(2026, 11, 30)
TAGS = ["backup", "cloud", "security", "werkplek"]
PRODUCTS = {
    "p1": Product("p1", "Een", ("backup",), cross_sell=("p2",)),
    "p2": Product("p2", "Twee", ("cloud",), up_sell=("p3",)),
    "p3": Product("p3", "Drie", ("security",)),
}
CONFIG = make_config()

days = st.integers(min_value=-400, max_value=60).map(lambda n: AS_OF + timedelta(days=n))
# Three in four: most contacts may be mailed, so the property is not tested on skips alone.
likely = st.sampled_from([True, True, True, False])
tags = st.lists(st.sampled_from(TAGS), max_size=3, unique=True).map(tuple)


@st.composite
def orders(draw: st.DrawFn, customer_id: str, n: int) -> Order:
    # Most generated orders ended a while ago, so that many customers are quiet and the
    # property is tested on contacts that do get mail, not only on skipped ones.
    if draw(st.integers(0, 3)):
        end = AS_OF - timedelta(days=draw(st.integers(0, 200)))
        start = end - timedelta(days=draw(st.integers(0, 200)))
        status = draw(st.sampled_from([None, OrderStatus.CLOSED, OrderStatus.CANCELLED]))
    else:
        start = draw(days)
        end = draw(st.one_of(st.none(), st.integers(0, 300).map(lambda d: start + timedelta(days=d))))
        status = draw(st.sampled_from([None, OrderStatus.OPEN, OrderStatus.CLOSED, OrderStatus.CANCELLED]))
    product = draw(st.sampled_from(["", "p1", "p2", "p3", "unknown"]))
    return Order(f"O{customer_id}-{n}", customer_id, start, Decimal(100), product, end_date=end, status=status)


@st.composite
def items(draw: st.DrawFn, n: int) -> ContentItem:
    language = draw(st.sampled_from(["nl", "en"]))
    published = draw(st.one_of(days, st.integers(0, 40).map(lambda d: AS_OF - timedelta(days=d))))
    return ContentItem(
        id=f"{language}/i{n}",
        path="",
        title="t",
        type=draw(st.sampled_from(list(ItemType))),
        language=language,
        published=published,
        body_markdown="",
        body_html="",
        tags=draw(tags),
        products=tuple(draw(st.lists(st.sampled_from(list(PRODUCTS)), max_size=2, unique=True))),
        sectors=draw(st.sampled_from([(), (), (), ("zorg",), ("logistiek",)])),
        segments=draw(st.sampled_from([(), (), (), (Segment.A,), (Segment.B, Segment.C)])),
        expires=draw(st.sampled_from([None, None, None, AS_OF, AS_OF + timedelta(days=1)])),
        priority=draw(st.integers(0, 3)),
        event_date=draw(st.one_of(st.none(), st.integers(-10, 60).map(lambda n: AS_OF + timedelta(days=n)))),
    )


@st.composite
def worlds(draw: st.DrawFn) -> tuple[Dataset, Segmentation, list[Delivery], set[str]]:
    n_customers = draw(st.integers(1, 4))
    customers = [
        Customer(
            f"C{c}",
            f"Klant {c}",
            "am",
            sector=draw(st.sampled_from(["zorg", "logistiek", ""])),
            language=draw(st.sampled_from(["nl", "en", ""])),
        )
        for c in range(n_customers)
    ]
    all_orders = [
        draw(orders(c.customer_id, n)) for c in customers for n in range(draw(st.sampled_from([1, 1, 2, 3, 0])))
    ]
    contacts = []
    for n in range(draw(st.integers(1, 8))):
        valid = draw(likely)
        email = f"p{n}@klant.nl" if valid else draw(st.sampled_from(["", f"p{n}@@klant", f"P{n}@Klant.nl"]))
        contacts.append(
            Contact(
                f"P{n}",
                draw(st.sampled_from(customers)).customer_id,
                "Anne",
                email=email,
                email_valid=valid,
                language=draw(st.sampled_from([None, "nl", "en"])),
                newsletter_opt_in=draw(likely),
                interests=draw(tags),
            )
        )
    suppressed = {c.email.lower() for c in contacts if c.email and not draw(likely)}
    in_file = {s for s in suppressed if draw(st.booleans())}
    content = [draw(items(n)) for n in range(draw(st.integers(3, 16)))]
    data = Dataset(
        account_managers={},
        customers={c.customer_id: c for c in customers},
        contacts={c.contact_id: c for c in contacts},
        orders=tuple(all_orders),
        evaluations=(),
        interactions=(),
        suppressions=tuple(Suppression(email=e) for e in sorted(in_file)),
        products=PRODUCTS,
        content={i.id: i for i in content},
    )
    zero = Fraction(0)
    seg = Segmentation(
        AS_OF,
        {
            c.customer_id: CustomerValue(
                c.customer_id, c.name, "", s, s, zero, Decimal(0), Decimal(0), 0, zero, zero, zero
            )
            for c in customers
            for s in [draw(st.sampled_from(list(Segment)))]
        },
    )
    deliveries = [
        Delivery(
            d.isoformat(),
            draw(st.sampled_from(contacts)).contact_id,
            draw(st.sampled_from(list(MessageKind))),
            d,
            tuple(draw(st.lists(st.sampled_from([i.id for i in content] or ["x"]), max_size=3))),
        )
        for d in draw(st.lists(st.integers(-200, -1).map(lambda n: AS_OF + timedelta(days=n)), max_size=4))
    ]
    return data, seg, deliveries, suppressed - in_file


def running(order: Order) -> bool:
    """Independent oracle: does this order keep its customer busy on AS_OF (or later)?"""
    if order.status is OrderStatus.CANCELLED:
        return False
    if order.order_date > AS_OF:
        return True
    if order.end_date is None:
        return order.status is not OrderStatus.CLOSED
    return order.end_date >= AS_OF


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_never_mail_who_must_not_be_mailed(world: tuple[Dataset, Segmentation, list[Delivery], set[str]]) -> None:
    """No contact without opt-in, with a suppressed or invalid address, or of a non-quiet customer gets mail."""
    data, seg, deliveries, state_suppressed = world
    quiet = quiet_periods(data, CONFIG, AS_OF)
    selections = select(data, CONFIG, seg, quiet, deliveries, AS_OF, state_suppressed)
    assert [s.contact_id for s in selections] == list(data.contacts)
    suppressed = {s.email for s in data.suppressions} | state_suppressed
    received: dict[str, set[str]] = {}
    for d in deliveries:
        received.setdefault(d.contact_id, set()).update(d.item_ids)
    for s in selections:
        contact = data.contacts[s.contact_id]
        if not (s.newsletter or s.alert):
            continue
        customer_orders = [o for o in order_records(data.orders) if o.customer_id == s.customer_id and not o.cancelled]
        assert contact.newsletter_opt_in
        assert contact.email_valid
        assert contact.email.lower() not in suppressed
        assert customer_orders
        assert not any(running(o) for o in customer_orders)
        last = max(o.end_date or o.order_date for o in customer_orders)
        assert (AS_OF - last).days >= CONFIG.quiet_after_days
        treatment = CONFIG.treatment[s.segment]
        chosen = [*s.items, *([s.alert_item] if s.alert_item else [])]
        if s.newsletter:
            assert 1 <= len(s.items) <= treatment.max_items
        if s.alert:
            assert treatment.alerts
        for c in chosen:
            i = data.content[c.item_id]
            assert i.language == s.language
            assert i.published <= AS_OF
            assert i.expires is None or i.expires > AS_OF
            assert not i.segments or s.segment in i.segments
            assert c.item_id not in received.get(s.contact_id, set())
        first_tags = Counter(data.content[c.item_id].tags[0] for c in s.items if data.content[c.item_id].tags)
        assert all(n <= 2 for n in first_tags.values())
        assert len({c.item_id for c in chosen}) == len(chosen)
