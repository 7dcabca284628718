"""The tables as Polars frames: exact amounts and scores, and the sums the stages take from them."""

from __future__ import annotations

import csv
import decimal
import pickle
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from conftest import REPO, write_tiny_project
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import tables
from pipeline.config import load_settings
from pipeline.load import load_dataset, load_project
from pipeline.models import Channel, Dataset, Evaluation, Interaction, Level, Order, OrderStatus, OurLevel
from pipeline.tables import (
    amount_parts,
    bought_products,
    order_records,
    orders_frame,
    orders_newest_first,
    orders_of_customers,
    records,
    records_frame,
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


# --------------------------------------------------------------------------- evaluations and interactions


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def test_records_come_back_exactly() -> None:
    """Evaluations and interactions given as values come back equal, 8 and 8.0 and enum types included."""
    evaluations = [
        Evaluation("C1", date(2026, 1, 2), Decimal("8"), "O1", "goed"),
        Evaluation("C2", date(2026, 1, 3), Decimal("8.0")),
    ]
    interactions = [
        Interaction(
            "C1", date(2026, 2, 1), "P1", Channel.CALL, OurLevel.MANAGEMENT, Level.FINANCE, "n", "calls import"
        ),
        Interaction("C2", date(2026, 2, 2)),
    ]
    data = Dataset({}, {}, {}, (), evaluations, interactions, (), {}, {})
    back = records(Evaluation, data.evaluations)
    assert back == evaluations and [str(e.score) for e in back] == ["8", "8.0"]
    again = records(Interaction, data.interactions)
    assert again == interactions and type(again[0].channel) is Channel and again[1].channel is None
    assert records(Evaluation, pickle.loads(pickle.dumps(data.evaluations))) == evaluations


def test_loading_the_sample_gives_the_records_its_files_say() -> None:
    """The bundled sample's evaluations and interactions, loaded, are the records its CSV files say."""
    data = load_project(REPO).data
    expected_evaluations = [
        Evaluation(
            row["customer_id"], date.fromisoformat(row["date"]), Decimal(row["score"]), row["order_id"], row["comment"]
        )
        for row in _csv(REPO / "data" / "evaluations.csv")
    ]
    expected_interactions = [
        Interaction(
            row["customer_id"],
            date.fromisoformat(row["date"]),
            row["contact_id"],
            Channel(row["channel"]) if row["channel"] else None,
            OurLevel(row["our_level"]) if row["our_level"] else None,
            Level(row["their_level"]) if row["their_level"] else None,
        )
        for row in _csv(REPO / "data" / "interactions.csv")
    ]
    evaluations = records(Evaluation, data.evaluations)
    assert len(evaluations) == len(expected_evaluations) > 100
    assert [(e, str(e.score)) for e in evaluations] == [(e, str(e.score)) for e in expected_evaluations]
    assert records(Interaction, data.interactions) == expected_interactions
    assert len(expected_interactions) > 100
    assert {str(e.score) for e in evaluations} >= {"8", "8.5"}  # whole scores print as written


def test_loading_keeps_each_score_as_written(tmp_path: Path) -> None:
    """Scores loaded keep their exponent: 8 stays 8, 8.0 stays 8.0; a bad one is still a reject."""
    root = write_tiny_project(tmp_path / "project")
    settings_path = root / "settings.yaml"
    settings_path.write_text(settings_path.read_text().replace("max_reject_share: 0.05", "max_reject_share: 1"))
    path = root / "data" / "evaluations.csv"
    original = path.read_text(encoding="utf-8")
    before = len(load_dataset(load_settings(root)).evaluations)

    @settings(max_examples=20, deadline=None)
    @given(st.lists(st.sampled_from(["8", "8.0", "7.50", "10", "1.0", "9,5"]), min_size=1, max_size=6))
    def check(scores: list[str]) -> None:
        lines = [f'C001,,2026-10-0{n % 9 + 1},"{score}",' for n, score in enumerate(scores)]
        path.write_text(original + "\n".join(lines) + "\n", encoding="utf-8")
        data = load_dataset(load_settings(root))
        assert [str(e.score) for e in records(Evaluation, data.evaluations)[before:]] == [
            s for s in scores if s != "9,5"
        ]
        assert sum(r.file == "evaluations.csv" for r in data.rejects) == scores.count("9,5")

    check()


def test_columns_collected_in_batches_make_the_same_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders and records flushed to frames every few rows come out as one frame, in order, as if made at once."""
    orders = [order(n, revenue=Decimal(f"{n}.5")) for n in range(10)]
    evaluations = [Evaluation(f"C{n}", date(2026, 1, n + 1), Decimal(n % 10 + 1)) for n in range(10)]
    whole_orders = orders_frame(orders)
    whole_evaluations = records_frame(Evaluation, evaluations)
    monkeypatch.setattr(tables, "BATCH_ROWS", 3)
    assert orders_frame(orders).equals(whole_orders)
    assert records_frame(Evaluation, evaluations).equals(whole_evaluations)
    assert order_records(orders_frame(orders)) == orders


def test_window_sums_with_exponents_far_apart() -> None:
    """1E+20 and 0.01 are summed exactly in ints, though 10**22 is past an Int64."""
    orders = [order(1, customer_id="A", revenue=Decimal("1E+20")), order(2, customer_id="A", revenue=Decimal("0.01"))]
    revenue, margin = window_totals(orders_frame(orders), date(2025, 1, 1), date(2027, 1, 1))
    assert as_text(revenue) == as_text(margin) == [("A", "100000000000000000000.01")]
