"""The orders stored by column: an OrderTable gives back exactly the Orders it was made of."""

from __future__ import annotations

import dataclasses
import decimal
import pickle
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.load import load_project
from pipeline.models import Dataset, Order, OrderStatus, OrderTable, OrderTableBuilder

FIELDS = tuple(f.name for f in dataclasses.fields(Order))
ODD_AMOUNTS = (
    "1E+3",
    "-0.005",
    "12345678901234567890.12",  # more digits than an int64
    "-0.00",  # a negative zero
    "0.00",
    "0E+5",
    "1E-127",
    "1E-130",  # an exponent out of the column's range
    "1E+200",
    "9223372036854775807",  # the largest int64
    "-9223372036854775808",
    "9223372036854775808",
    "007.50",
    "-12.3400",
    "Infinity",
    "NaN",
)


def order(n: int, **fields: object) -> Order:
    values: dict[str, object] = {
        "order_id": f"O{n}",
        "customer_id": f"C{n % 3}",
        "order_date": date(2026, 1, 1) + timedelta(days=n),
        "revenue": Decimal(n),
    }
    values.update(fields)
    return Order(**values)  # type: ignore[arg-type]


def same(a: Order, b: Order) -> bool:
    """Tell whether two orders are the same, amounts to the exponent (str) and NaN included."""
    return all(
        str(x) == str(y) if isinstance(x, Decimal) else x == y and type(x) is type(y)
        for x, y in zip((getattr(a, f) for f in FIELDS), (getattr(b, f) for f in FIELDS), strict=True)
    )


def test_every_field_comes_back_exactly() -> None:
    """Every status, no end date, odd ids and amounts: the table's Orders are the ones put in, to the exponent."""
    orders = [
        order(
            n,
            order_id=f"O-{n}-é" if n % 2 else f"{n}",
            revenue=Decimal(text),
            cost=Decimal(ODD_AMOUNTS[-n - 1]),
            product_id=("", "p1", "p2")[n % 3],
            description=("", "Werk", "Werk ☃")[n % 3],
            end_date=None if n % 2 else date(2026, 12, 31),
            status=(None, *OrderStatus)[n % 4],
        )
        for n, text in enumerate(ODD_AMOUNTS)
    ]
    table = OrderTable(orders)
    assert len(table) == len(orders)
    assert all(same(a, b) for a, b in zip(table, orders, strict=True))
    assert all(same(table[n], orders[n]) for n in range(-len(orders), len(orders)))
    assert [str(o.revenue) for o in table] == [str(Decimal(text)) for text in ODD_AMOUNTS]
    assert str(table[3].revenue) == "-0.00" and table[3].revenue.is_signed()
    assert {o.status for o in table} == {None, *OrderStatus}
    assert table[1].end_date is None and table[0].end_date == date(2026, 12, 31)


def test_a_table_is_a_sequence_of_orders() -> None:
    """len, indexing, slicing, == against tuples and lists, repr and index() work as on a tuple."""
    orders = tuple(order(n) for n in range(5))
    table = OrderTable(orders)
    assert table == orders and orders == table and table == list(orders) and table == OrderTable(orders)
    assert table != orders[:4] and table != (*orders[:4], order(9))
    assert table[1:4] == orders[1:4] and table[::-2] == orders[::-2]
    assert table.index(orders[2]) == 2 and orders[3] in table
    assert repr(table) == f"OrderTable({orders!r})"
    assert OrderTable() == () and not OrderTable() and list(OrderTable()) == []
    assert OrderTable.of(table) is table
    try:
        table[5]
    except IndexError:
        pass
    else:
        raise AssertionError("row 5 of 5 exists")


def test_a_customer_string_is_the_one_given() -> None:
    """One str per customer: the one the first order of that customer gave (the Customer's own at load)."""
    first = "".join(["C", "1"])
    table = OrderTable([order(1, customer_id=first), order(2, customer_id="".join(["C", "1"]))])
    assert all(o.customer_id is first for o in table)


def test_a_dataset_keeps_any_orders_as_a_table() -> None:
    """Dataset(orders=tuple) and dataclasses.replace(data, orders=list) both hold an OrderTable."""
    orders = (order(1), order(2))
    data = Dataset({}, {}, {}, orders, (), (), (), {}, {})
    assert isinstance(data.orders, OrderTable) and data.orders == orders
    again = dataclasses.replace(data, orders=[order(3)])
    assert isinstance(again.orders, OrderTable) and again.orders == (order(3),)
    assert dataclasses.replace(data).orders is data.orders  # a table is not copied


def test_a_table_and_a_dataset_pickle() -> None:
    """Pickled (as a render process would get them), the orders come back the same."""
    table = OrderTable(order(n, revenue=Decimal(text)) for n, text in enumerate(ODD_AMOUNTS[:8]))
    back = pickle.loads(pickle.dumps(table))
    assert all(same(a, b) for a, b in zip(back, table, strict=True)) and len(back) == len(table)
    assert back.of_customer("C1") == table.of_customer("C1")
    data = Dataset({}, {}, {}, table, (), (), (), {}, {})
    assert pickle.loads(pickle.dumps(data)).orders == table


def test_the_builder_keeps_an_amount_given_as_parts_exactly() -> None:
    """(coefficient, exponent) parts that do not fit the columns are kept as their exact Decimal."""
    builder = OrderTableBuilder()
    builder.add("O1", "C1", date(2026, 1, 1), (10**30 + 1, -2), cost=(5, -300))
    (only,) = builder.build()
    assert str(only.revenue) == "10000000000000000000000000000.01" and str(only.cost) == "5E-300"


def reference_window(orders: list[Order], start: date, end: date) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Σ revenue and Σ (revenue − cost) per customer the way the orders themselves add up."""
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    margin: dict[str, Decimal] = defaultdict(Decimal)
    for o in orders:
        if not o.cancelled and start < o.order_date <= end:
            revenue[o.customer_id] += o.revenue
            margin[o.customer_id] += o.revenue - o.cost
    return dict(revenue), dict(margin)


def as_text(sums: dict[str, Decimal]) -> list[tuple[str, str]]:
    return [(k, str(v)) for k, v in sums.items()]


MODEST = ("1E+3", "-0.005", "0.00", "0E+5", "007.50", "-12.3400", "5")  # the sums of these go in ints


def orders_of(amounts: st.SearchStrategy[Decimal]) -> st.SearchStrategy[list[Order]]:
    return st.lists(
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


modest_amounts = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**6), max_value=10**6),
    st.sampled_from([Decimal(t) for t in MODEST]),
)
any_amounts = st.one_of(
    modest_amounts,
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal(t) for t in ODD_AMOUNTS if t not in ("NaN", "Infinity")]),
)
orders_strategy = orders_of(any_amounts) | orders_of(modest_amounts)


@settings(max_examples=200, deadline=None)
@given(orders_strategy)
def test_a_table_gives_back_its_orders(orders: list[Order]) -> None:
    """Whatever the orders: iterating gives them back, of_customer is the filter, rows() the fields."""
    table = OrderTable(orders)
    assert len(table) == len(orders)
    assert all(same(a, b) for a, b in zip(table, orders, strict=True))
    for customer_id in ("C1", "C2", "C3", "é", "nobody"):
        mine = table.of_customer(customer_id)
        expected = [o for o in orders if o.customer_id == customer_id]
        assert len(mine) == len(expected) and all(same(a, b) for a, b in zip(mine, expected, strict=True))
    subset = table.of_customers(["é", "nobody", "C2"])
    expected = [o for c in ("é", "C2") for o in orders if o.customer_id == c]
    assert len(subset) == len(expected) and all(same(a, b) for a, b in zip(subset, expected, strict=True))
    assert set(subset._names) <= {"", *(o.product_id for o in expected), *(o.description for o in expected)}
    picked = ("status", "order_id", "end_date", "revenue")
    assert [tuple(map(str, r)) for r in table.rows(*picked)] == [
        tuple(str(getattr(o, f)) for f in picked) for o in orders
    ]
    for customer_id in ("C1", "é", "nobody"):
        assert [tuple(map(str, r)) for r in table.rows(*FIELDS, customer_id=customer_id)] == [
            tuple(str(getattr(o, f)) for f in FIELDS) for o in orders if o.customer_id == customer_id
        ]
    bought: dict[str, set[str]] = defaultdict(set)
    for o in orders:
        if o.product_id and not o.cancelled:
            bought[o.customer_id].add(o.product_id)
    assert table.bought_products() == {c: frozenset(ids) for c, ids in bought.items()}


@settings(max_examples=200, deadline=None)
@given(orders_strategy, st.dates(date(2024, 1, 1), date(2026, 12, 31)), st.sampled_from([28, 6, 60]))
def test_window_sums_are_the_decimal_sums(orders: list[Order], start: date, precision: int) -> None:
    """Window sums over the columns are the very Decimals adding up the orders makes, exponent and rounding included."""
    table = OrderTable(orders)
    end = start + timedelta(days=400)
    with decimal.localcontext(prec=precision):
        revenue, margin = reference_window(orders, start, end)
        assert as_text(table.revenue_in_window(start, end)) == as_text(revenue)
        got_revenue, got_margin = table.window_totals(start, end)
        assert as_text(got_revenue) == as_text(revenue) and as_text(got_margin) == as_text(margin)


def test_window_sums_in_ints_keep_the_exponent() -> None:
    """The quick sum in ints (amounts in range) keeps Decimal's exponent: 1E+3 + 0 is 1000, 0.50 − 0.50 is 0.00."""
    table = OrderTable(
        [
            order(1, customer_id="A", revenue=Decimal("1E+3")),
            order(2, customer_id="B", revenue=Decimal("0.50"), cost=Decimal("0.5")),
            order(3, customer_id="B", revenue=Decimal("-0.50")),
            order(4, customer_id="C", revenue=Decimal("7"), status=OrderStatus.CANCELLED),
        ]
    )
    assert not table._kept  # the quick way
    revenue, margin = table.window_totals(date(2025, 1, 1), date(2027, 1, 1))
    assert as_text(revenue) == [("A", "1000"), ("B", "0.00")]
    assert as_text(table.revenue_in_window(date(2025, 1, 1), date(2027, 1, 1))) == as_text(revenue)
    assert as_text(margin) == [("A", "1000"), ("B", "-0.50")]


def test_load_keeps_amounts_and_scores_exactly(tiny_project: Path) -> None:
    """Amounts read from orders.csv keep their exponent; scores 8 and 8.0 stay apart though equal."""
    orders_csv = tiny_project / "data" / "orders.csv"
    odd = ("-0.005", "12345678901234567890.12", "-0.00", "007.50", "1,234.56")
    with orders_csv.open("a", encoding="utf-8", newline="") as handle:
        for n, text in enumerate(odd):
            handle.write(f'O9{n},C001,,Extra,2026-01-0{n + 1},,"{text}",{odd[-n - 1] if n else ""},\n')
    evaluations_csv = tiny_project / "data" / "evaluations.csv"
    with evaluations_csv.open("a", encoding="utf-8", newline="") as handle:
        handle.write("C001,O1001,2026-10-01,8.0,\nC001,O90,2026-10-02,8,\n")
    data = load_project(tiny_project).data
    extra = [o for o in data.orders if o.order_id.startswith("O9")]
    assert [str(o.revenue) for o in extra] == ["-0.005", "12345678901234567890.12", "-0.00", "7.50", "1234.56"]
    assert [str(o.cost) for o in extra] == ["0", "7.50", "-0.00", "12345678901234567890.12", "-0.005"]
    scores = [(e.order_id, str(e.score)) for e in data.evaluations if e.date >= date(2026, 10, 1)]
    assert ("O1001", "8.0") in scores and ("O90", "8") in scores
    assert not [r for r in data.rejects if r.file in ("orders.csv", "evaluations.csv")]


def test_window_sums_beyond_forty_digits_stay_exact() -> None:
    """In a context keeping 60 digits, 1E+45 + 0.5 is all 47 digits, as Decimal makes it."""
    half = Decimal("0.5")
    table = OrderTable([order(1, customer_id="A", revenue=Decimal("1E+45")), order(2, customer_id="A", revenue=half)])
    orders = list(table)
    with decimal.localcontext(prec=60):
        assert as_text(table.revenue_in_window(date(2025, 1, 1), date(2027, 1, 1))) == [("A", "1" + "0" * 45 + ".5")]
        assert as_text(table.window_totals(date(2025, 1, 1), date(2027, 1, 1))[1]) == as_text(
            reference_window(orders, date(2025, 1, 1), date(2027, 1, 1))[1]
        )
