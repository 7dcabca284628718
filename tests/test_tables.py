"""The orders as a Polars frame: exact amounts, and the sums the stages take from them."""

from __future__ import annotations

import decimal
import pickle
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.load import load_project
from pipeline.models import Dataset, Order, OrderStatus
from pipeline.tables import (
    amount_parts,
    bought_products,
    order_records,
    orders_frame,
    orders_newest_first,
    orders_of_customers,
    revenue_in_window,
    window_totals,
)

ODD_AMOUNTS = ("1E+3", "-0.005", "12345678901234567890.12", "0.00", "0E+5", "1E-127", "007.50", "-12.3400", "5")


def order(n: int, **fields: object) -> Order:
    values: dict[str, object] = {
        "order_id": f"O{n}",
        "customer_id": f"C{n % 3}",
        "order_date": date(2026, 1, 1) + timedelta(days=n),
        "revenue": Decimal(n),
    }
    values.update(fields)
    return Order(**values)  # type: ignore[arg-type]


def as_text(sums: dict[str, Decimal]) -> list[tuple[str, str]]:
    return [(k, str(v)) for k, v in sums.items()]


def reference_window(orders: list[Order], start: date, end: date) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Σ revenue and Σ (revenue − cost) per customer the way the orders themselves add up."""
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    margin: dict[str, Decimal] = defaultdict(Decimal)
    for o in orders:
        if not o.cancelled and start < o.order_date <= end:
            revenue[o.customer_id] += o.revenue
            margin[o.customer_id] += o.revenue - o.cost
    return dict(revenue), dict(margin)


amounts = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**6), max_value=10**6),
    st.decimals(allow_nan=False, allow_infinity=False).filter(lambda d: amount_parts(d) is not None),
    st.sampled_from([Decimal(t) for t in ODD_AMOUNTS]),
)
orders_strategy = st.lists(
    st.builds(
        Order,
        order_id=st.text(max_size=6),
        customer_id=st.sampled_from(["C1", "C2", "C3", "é"]),
        order_date=st.dates(date(2024, 1, 1), date(2026, 12, 31)),
        revenue=amounts,
        product_id=st.sampled_from(["", "p1", "p2"]),
        description=st.text(max_size=5),
        end_date=st.none() | st.dates(date(2024, 1, 1), date(2027, 12, 31)),
        cost=amounts,
        status=st.none() | st.sampled_from(OrderStatus),
    ),
    max_size=30,
)


def same_amount(a: Decimal, b: Decimal) -> bool:
    """Equal to the exponent; a negative zero comes back as zero (it adds up the same)."""
    return str(a) == str(b) or (a == b == 0 and a.as_tuple().exponent == b.as_tuple().exponent)


@settings(max_examples=150, deadline=None)
@given(orders_strategy)
def test_a_frame_gives_back_its_orders(orders: list[Order]) -> None:
    """Whatever the orders: the frame's rows are them, in order, amounts to the exponent."""
    frame = orders_frame(orders)
    back = order_records(frame)
    assert len(back) == len(orders)
    for a, b in zip(back, orders, strict=True):
        assert (a.order_id, a.customer_id, a.order_date, a.end_date, a.status) == (
            b.order_id,
            b.customer_id,
            b.order_date,
            b.end_date,
            b.status,
        )
        assert (a.product_id, a.description) == (b.product_id, b.description)
        assert same_amount(a.revenue, b.revenue) and same_amount(a.cost, b.cost)
    subset = order_records(orders_of_customers(frame, ["é", "nobody", "C2"]))
    assert [o.order_id for o in subset] == [o.order_id for c in ("é", "C2") for o in orders if o.customer_id == c]
    bought: dict[str, set[str]] = defaultdict(set)
    for o in orders:
        if o.product_id and not o.cancelled:
            bought[o.customer_id].add(o.product_id)
    assert bought_products(frame) == {c: frozenset(ids) for c, ids in bought.items()}


@settings(max_examples=150, deadline=None)
@given(orders_strategy, st.dates(date(2024, 1, 1), date(2026, 12, 31)), st.sampled_from([28, 6, 60]))
def test_window_sums_are_the_decimal_sums(orders: list[Order], start: date, precision: int) -> None:
    """Window sums are the very Decimals adding up the orders makes: exponent, rounding and key order included."""
    frame = orders_frame(orders)
    end = start + timedelta(days=400)
    with decimal.localcontext(prec=precision):
        revenue, margin = reference_window(orders, start, end)
        assert as_text(revenue_in_window(frame, start, end)) == as_text(revenue)
        got_revenue, got_margin = window_totals(frame, start, end)
        assert as_text(got_revenue) == as_text(revenue) and as_text(got_margin) == as_text(margin)


def test_window_sums_keep_the_exponent() -> None:
    """1E+3 + 0 is 1000, 0.50 − 0.50 is 0.00; a cancelled order never counts."""
    frame = orders_frame(
        [
            order(1, customer_id="A", revenue=Decimal("1E+3")),
            order(2, customer_id="B", revenue=Decimal("0.50"), cost=Decimal("0.5")),
            order(3, customer_id="B", revenue=Decimal("-0.50")),
            order(4, customer_id="C", revenue=Decimal("7"), status=OrderStatus.CANCELLED),
        ]
    )
    revenue, margin = window_totals(frame, date(2025, 1, 1), date(2027, 1, 1))
    assert as_text(revenue) == [("A", "1000"), ("B", "0.00")]
    assert as_text(revenue_in_window(frame, date(2025, 1, 1), date(2027, 1, 1))) == as_text(revenue)
    assert as_text(margin) == [("A", "1000"), ("B", "-0.50")]


def test_window_sums_beyond_forty_digits_stay_exact() -> None:
    """In a context keeping 60 digits, 1E+45 + 0.5 is all 47 digits, as Decimal makes it."""
    orders = [order(1, customer_id="A", revenue=Decimal("1E+45")), order(2, customer_id="A", revenue=Decimal("0.5"))]
    frame = orders_frame(orders)
    with decimal.localcontext(prec=60):
        assert as_text(revenue_in_window(frame, date(2025, 1, 1), date(2027, 1, 1))) == [("A", "1" + "0" * 45 + ".5")]
        assert as_text(window_totals(frame, date(2025, 1, 1), date(2027, 1, 1))[1]) == as_text(
            reference_window(orders, date(2025, 1, 1), date(2027, 1, 1))[1]
        )


def test_an_amount_the_table_cannot_hold_is_refused() -> None:
    """NaN, or over 170 undecillion: no amount of money, and never rounded into one."""
    assert amount_parts(Decimal("NaN")) is None
    assert amount_parts(Decimal("9" * 39)) is None
    assert amount_parts(Decimal("-" + "9" * 38)) == (-int("9" * 38), 0)


def test_a_dataset_keeps_any_orders_as_a_frame() -> None:
    """Dataset(orders=tuple) holds a frame; it pickles (as a render process gets it) unchanged."""
    data = Dataset({}, {}, {}, (order(1), order(2)), (), (), (), {}, {})
    assert isinstance(data.orders, pl.DataFrame) and data.orders["order_id"].to_list() == ["O1", "O2"]
    assert pickle.loads(pickle.dumps(data.orders)).equals(data.orders)


def test_newest_first_keeps_file_order_among_equals() -> None:
    """Per customer, newest date first, then the higher order_id; equal ones keep their file order."""
    day = date(2026, 3, 1)
    frame = orders_frame(
        [
            order(1, customer_id="A", order_date=day, description="first"),
            order(2, customer_id="A", order_date=day + timedelta(days=1)),
            order(1, customer_id="A", order_date=day, description="second"),
            order(3, customer_id="B", order_date=day),
        ]
    )
    rows = orders_newest_first(frame)
    assert [(r[1], r[4]) for r in rows["A"]] == [("O2", ""), ("O1", "first"), ("O1", "second")]
    assert [r[1] for r in rows["B"]] == ["O3"]


def test_load_keeps_amounts_exactly(tiny_project: Path) -> None:
    """Amounts read from orders.csv keep their exponent; one beyond an Int128 is a reject, not a rounding."""
    orders_csv = tiny_project / "data" / "orders.csv"
    odd = ("-0.005", "12345678901234567890.12", "0.00", "007.50", "1,234.56")
    with orders_csv.open("a", encoding="utf-8", newline="") as handle:
        for n, text in enumerate(odd):
            handle.write(f'O9{n},C001,,Extra,2026-01-0{n + 1},,"{text}",{odd[-n - 1] if n else ""},\n')
        handle.write(f"O99,C001,,Extra,2026-01-09,,{'9' * 39},,\n")
    data = load_project(tiny_project).data
    extra = [o for o in order_records(data.orders) if o.order_id.startswith("O9")]
    assert [str(o.revenue) for o in extra] == ["-0.005", "12345678901234567890.12", "0.00", "7.50", "1234.56"]
    assert [str(o.cost) for o in extra] == ["0", "7.50", "0.00", "12345678901234567890.12", "-0.005"]
    assert [(r.file, r.column, r.reason) for r in data.rejects if r.file == "orders.csv"] == [
        ("orders.csv", "revenue", "invalid amount")
    ]
