"""Segmentation: docs/guide/segmentation.md, with hand-computed expectations."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from conftest import make_config
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from pipeline.cli import cli
from pipeline.models import (
    Customer,
    Dataset,
    Order,
    OrderStatus,
    Override,
    Segment,
    Segmentation,
)
from pipeline.segment import (
    SEGMENTS_CSV_COLUMNS,
    months_before,
    percent,
    resolve_segmentation,
    segment,
    segments_csv_bytes,
)
from pipeline.state import State

AS_OF = date(2026, 11, 30)
IN_WINDOW = date(2026, 6, 1)
REVENUE_ONLY = {"revenue": Fraction(1), "margin": Fraction(0), "strategic": Fraction(0)}


def customer(cid: str, **fields: Any) -> Customer:
    fields.setdefault("name", f"Klant {cid}")
    fields.setdefault("account_manager_id", "am")
    return Customer(customer_id=cid, **fields)


def order(oid: str, cid: str, revenue: str, cost: str = "0", day: date = IN_WINDOW, **fields: Any) -> Order:
    return Order(order_id=oid, customer_id=cid, order_date=day, revenue=Decimal(revenue), cost=Decimal(cost), **fields)


def dataset(customers: list[Customer], orders: list[Order]) -> Dataset:
    return Dataset(
        account_managers={},
        customers={c.customer_id: c for c in customers},
        contacts={},
        orders=tuple(orders),
        evaluations=(),
        interactions=(),
        suppressions=(),
        products={},
        content={},
    )


def segments_of(seg: Segmentation) -> dict[str, str]:
    return {cid: row.segment.value for cid, row in seg.customers.items()}


def test_tie_in_value_share_is_ordered_by_id_and_exact_cutoff_is_b() -> None:
    """Equal value shares sort by customer_id; a preceding cumulative share of exactly 0.80 is B.

    Revenue 400/400/200 with cost 0 and strategic_fit 2/2/1 give every element the same
    shares, so V = 2/5, 2/5, 1/5 under the default weights (0.5/0.3/0.2). K1 and K2 tie and
    sort by id; K3's preceding cumulative share is 2/5 + 2/5 = 4/5, exactly cut-off A: B.
    In floats the cumulative share is not exactly 0.8, so the decision would be up to chance.
    """
    data = dataset(
        [customer("K2", strategic_fit=2), customer("K3", strategic_fit=1), customer("K1", strategic_fit=2)],
        [order("o1", "K2", "400"), order("o2", "K1", "400"), order("o3", "K3", "200")],
    )
    seg = segment(data, make_config(overrides=()), AS_OF)
    assert list(seg.customers) == ["K1", "K2", "K3"]
    assert segments_of(seg) == {"K1": "A", "K2": "A", "K3": "B"}
    assert seg.customers["K1"].value_share == Fraction(2, 5)
    assert seg.customers["K2"].value_share == Fraction(2, 5)
    assert seg.customers["K3"].cumulative_before == Fraction(4, 5)


def test_exact_arithmetic_where_floats_would_say_a() -> None:
    """Shares 0.4, 0.3, 0.1, 0.1, 0.1: the fifth customer's preceding share is exactly 0.8, so B.

    Summed in floats, 0.4 + 0.3 + 0.1 is 0.7999999999999999 and the fifth would wrongly be A.
    """
    data = dataset(
        [customer(f"F{i}") for i in range(1, 6)],
        [
            order("a", "F1", "40"),
            order("b", "F2", "30"),
            order("c", "F3", "10"),
            order("d", "F4", "10"),
            order("e", "F5", "10"),
        ],
    )
    seg = segment(data, make_config(overrides=(), weights=REVENUE_ONLY), AS_OF)
    assert segments_of(seg) == {"F1": "A", "F2": "A", "F3": "A", "F4": "B", "F5": "B"}
    assert seg.customers["F4"].cumulative_before == Fraction(4, 5)


def test_preceding_share_exactly_b_cutoff_is_c() -> None:
    """A preceding cumulative share of exactly cut-off B (0.95) makes C; just below makes B."""
    data = dataset(
        [customer("X1"), customer("X2"), customer("X3")],
        [order("o1", "X1", "80"), order("o2", "X2", "15"), order("o3", "X3", "5")],
    )
    seg = segment(data, make_config(overrides=(), weights=REVENUE_ONLY), AS_OF)
    assert segments_of(seg) == {"X1": "A", "X2": "B", "X3": "C"}
    assert seg.customers["X3"].cumulative_before == Fraction(19, 20)


def test_groups_by_sector_segment_each_group_separately() -> None:
    """With groups by sector, the only onderwijs customer is A although it is small overall.

    zorg: Z1 800, Z2 150, Z3 50 → shares 0.80, 0.15, 0.05 → A, B (before 0.80), C (before 0.95).
    onderwijs: O1 100 → A. Without groups O1 (100 of 1100) comes after Z1 and Z2: before
    950/1100 ≈ 0.864 → B.
    """
    customers = [
        customer("Z1", sector="zorg"),
        customer("Z2", sector="zorg"),
        customer("Z3", sector="zorg"),
        customer("O1", sector="onderwijs"),
    ]
    orders = [order("a", "Z1", "800"), order("b", "Z2", "150"), order("c", "Z3", "50"), order("d", "O1", "100")]
    config = make_config(overrides=(), weights=REVENUE_ONLY)
    grouped = segment(dataset(customers, orders), replace(config, groups_by="sector"), AS_OF)
    assert segments_of(grouped) == {"O1": "A", "Z1": "A", "Z2": "B", "Z3": "C"}
    assert grouped.customers["O1"].group == "onderwijs"
    assert grouped.customers["O1"].revenue_share == 1
    assert grouped.customers["Z2"].revenue_share == Fraction(3, 20)
    assert list(grouped.customers) == ["O1", "Z1", "Z2", "Z3"]  # groups by name, then value

    ungrouped = segment(dataset(customers, orders), config, AS_OF)
    assert ungrouped.customers["O1"].segment is Segment.B
    assert ungrouped.customers["O1"].group == ""


def test_strategic_points_without_revenue_is_d() -> None:
    """A customer with strategic points but no revenue in the window is D, ranked first or not.

    S1: reference 3 + knowledge 2 + min(5, 3)·1 referrals + fit 5 = 13 points, the only
    strategic points, so V = 0.2; it is still D. R1 has all revenue and margin: V = 0.8, A.
    N1 only has a cancelled order: D.
    """
    data = dataset(
        [
            customer("S1", reference_customer=True, knowledge_partner=True, referrals=5, strategic_fit=5),
            customer("R1"),
            customer("N1"),
        ],
        [order("o1", "R1", "1000", "400"), order("o2", "N1", "500", status=OrderStatus.CANCELLED)],
    )
    seg = segment(data, make_config(overrides=()), AS_OF)
    s1 = seg.customers["S1"]
    assert s1.strategic == 13
    assert s1.strategic_share == 1
    assert s1.value_share == Fraction(1, 5)
    assert s1.segment is Segment.D
    assert seg.customers["R1"].segment is Segment.A
    assert seg.customers["R1"].value_share == Fraction(4, 5)
    assert seg.customers["N1"].segment is Segment.D  # only a cancelled order


def test_active_override_applies_and_expired_one_warns() -> None:
    """An override applies through its until-date (inclusive); an expired one warns, unapplied."""
    data = dataset(
        [customer("A1"), customer("C1"), customer("C2"), customer("C3")],
        [order("o1", "A1", "96"), order("o2", "C1", "2"), order("o3", "C2", "1"), order("o4", "C3", "1")],
    )
    overrides = (
        Override("C1", Segment.A, "Grote aanbesteding 2027", until=AS_OF),
        Override("C2", Segment.B, "Nieuwe directie", until=date(2026, 11, 29)),
        Override("C3", Segment.B, "Referentieklant in de zorg", until=None),
    )
    seg = segment(data, make_config(overrides=overrides, weights=REVENUE_ONLY), AS_OF)
    assert segments_of(seg) == {"A1": "A", "C1": "A", "C2": "C", "C3": "B"}
    assert seg.customers["C1"].computed_segment is Segment.C
    assert seg.customers["C1"].override_reason == "Grote aanbesteding 2027"
    assert seg.customers["C1"].override_until == AS_OF
    assert seg.customers["C2"].override_reason == ""
    assert len(seg.warnings) == 1
    assert "C2" in seg.warnings[0] and "expired on 2026-11-29" in seg.warnings[0]


def test_override_for_unknown_customer_warns() -> None:
    """An override naming a customer that is not in the data is a warning, not an error."""
    data = dataset([customer("A1")], [order("o1", "A1", "10")])
    seg = segment(data, make_config(overrides=(Override("GONE", Segment.A, "x"),)), AS_OF)
    assert segments_of(seg) == {"A1": "A"}
    assert seg.warnings and "GONE" in seg.warnings[0]


def test_cancelled_orders_are_ignored() -> None:
    """A cancelled order adds neither revenue nor margin."""
    data = dataset(
        [customer("A1")],
        [order("o1", "A1", "100", "40"), order("o2", "A1", "5000", "100", status=OrderStatus.CANCELLED)],
    )
    row = segment(data, make_config(overrides=()), AS_OF).customers["A1"]
    assert row.revenue == Decimal("100")
    assert row.margin == Decimal("60")


def test_window_excludes_its_start_and_includes_as_of() -> None:
    """The window is (as_of − 12 months, as_of]: 2025-11-30 is out, 2026-11-30 is in."""
    data = dataset(
        [customer("A1")],
        [
            order("start", "A1", "1", day=date(2025, 11, 30)),
            order("first", "A1", "10", day=date(2025, 12, 1)),
            order("asof", "A1", "100", day=AS_OF),
            order("future", "A1", "1000", day=date(2026, 12, 1)),
        ],
    )
    assert segment(data, make_config(overrides=()), AS_OF).customers["A1"].revenue == Decimal("110")


def test_months_before_clamps_to_month_end() -> None:
    """Moving back a month from 31 March lands on the last day of February."""
    assert months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert months_before(date(2024, 2, 29), 12) == date(2023, 2, 28)
    assert months_before(AS_OF, 12) == date(2025, 11, 30)
    assert months_before(date(2026, 1, 15), 25) == date(2023, 12, 15)


def test_negative_margin_counts_as_zero() -> None:
    """A customer whose costs exceed revenue has margin 0, and the other holds all margin share.

    L1: orders 100−150 and 50−20 → Σ −20 → margin 0. W1: 100−40 → 60, margin share 1.
    V(L1) = 0.5·150/250 = 0.3; V(W1) = 0.5·100/250 + 0.3·1 = 0.5.
    """
    data = dataset(
        [customer("L1"), customer("W1")],
        [order("o1", "L1", "100", "150"), order("o2", "L1", "50", "20"), order("o3", "W1", "100", "40")],
    )
    seg = segment(data, make_config(overrides=()), AS_OF)
    assert seg.customers["L1"].margin == 0
    assert seg.customers["L1"].margin_share == 0
    assert seg.customers["W1"].margin_share == 1
    assert seg.customers["L1"].value_share == Fraction(3, 10)
    assert seg.customers["W1"].value_share == Fraction(1, 2)
    assert list(seg.customers) == ["W1", "L1"]


def test_net_credit_is_no_revenue() -> None:
    """A customer whose window revenue nets to a credit has no revenue: D, revenue share 0."""
    data = dataset(
        [customer("A1"), customer("K1")],
        [order("o1", "A1", "100"), order("o2", "K1", "50"), order("o3", "K1", "-80")],
    )
    seg = segment(data, make_config(overrides=(), weights=REVENUE_ONLY), AS_OF)
    assert seg.customers["K1"].segment is Segment.D
    assert seg.customers["K1"].revenue == Decimal("-30")
    assert seg.customers["K1"].revenue_share == 0
    assert seg.customers["A1"].revenue_share == 1


def test_moves_are_explained_by_the_element_that_moved_most() -> None:
    """A customer that fell from A to B is listed with its revenue share before and after.

    Before: P1 500, P2 300, P3 200 → A, A, B. After P2 drops to 50 (total 750): P1 2/3,
    P3 4/15 (before 2/3: A), P2 1/15 (before 14/15: B).
    """
    config = make_config(overrides=(), weights=REVENUE_ONLY)
    customers = [customer("P1"), customer("P2"), customer("P3")]
    before = segment(
        dataset(customers, [order("a", "P1", "500"), order("b", "P2", "300"), order("c", "P3", "200")]), config, AS_OF
    )
    assert segments_of(before) == {"P1": "A", "P2": "A", "P3": "B"}
    after = segment(
        dataset(customers, [order("a", "P1", "500"), order("b", "P2", "50"), order("c", "P3", "200")]),
        config,
        AS_OF,
        previous=before,
    )
    moves = {m.customer_id: m for m in after.moves}
    assert set(moves) == {"P2", "P3"}
    assert moves["P2"].before is Segment.A and moves["P2"].after is Segment.B
    assert moves["P2"].explanation == "A → B: revenue share 30,0% → 6,7% (€\xa0300,00 → €\xa050,00)"
    assert moves["P3"].explanation == "B → A: revenue share 20,0% → 26,7% (€\xa0200,00 → €\xa0200,00)"


def test_move_by_override_and_by_lost_revenue_say_so() -> None:
    """A move caused by an override names the reason; one to D says there was no revenue."""
    config = make_config(overrides=(), weights=REVENUE_ONLY)
    customers = [customer("P1"), customer("P2"), customer("P3")]
    orders = [order("a", "P1", "500"), order("b", "P2", "300"), order("c", "P3", "200")]
    before = segment(dataset(customers, orders), config, AS_OF)
    override = Override("P3", Segment.A, "Nieuwe directie", until=date(2027, 6, 30))
    after = segment(dataset(customers, orders[:2]), replace(config, overrides=()), AS_OF, previous=before)
    assert [m.explanation for m in after.moves] == ["B → D: no revenue in the window (revenue share 20,0% → 0,0%)"]
    after = segment(dataset(customers, orders), replace(config, overrides=(override,)), AS_OF, previous=before)
    assert [m.explanation for m in after.moves] == ["B → A: override: Nieuwe directie (until 2027-06-30)"]


def test_segments_csv_has_design_columns_and_six_decimals() -> None:
    """segments.csv holds the documented columns in order, shares with 6 decimals, amounts with 2."""
    data = dataset(
        [customer("A1", name="Lindehof, Zorggroep"), customer("A2")],
        [order("o1", "A1", "200", "50.5"), order("o2", "A2", "100")],
    )
    seg = segment(data, make_config(overrides=(), weights=REVENUE_ONLY), AS_OF)
    lines = segments_csv_bytes(seg).decode("utf-8").splitlines()
    assert lines[0] == (
        "customer_id,name,group,segment,value_share,revenue,margin,strategic,"
        "revenue_share,margin_share,strategic_share,override_reason"
    )
    assert lines[1] == 'A1,"Lindehof, Zorggroep",,A,0.666667,200.00,149.50,0,0.666667,0.599198,0.000000,'
    assert lines[2] == "A2,Klant A2,,A,0.333333,100.00,100.00,0,0.333333,0.400802,0.000000,"


def test_resolve_uses_frozen_and_adds_new_customers_with_warnings() -> None:
    """A run uses the frozen segmentation, gives newcomers their computed segment, warns when old."""
    config = make_config(overrides=(), weights=REVENUE_ONLY)
    old = dataset([customer("P1"), customer("P2")], [order("a", "P1", "10"), order("b", "P2", "90")])
    frozen = replace(segment(old, config, date(2026, 6, 30)), frozen_at=date(2026, 7, 1))
    assert segments_of(frozen) == {"P2": "A", "P1": "B"}
    now = dataset(
        [customer("P1"), customer("P2"), customer("P9")],
        [order("a", "P1", "10"), order("b", "P2", "10"), order("c", "P9", "100")],
    )
    used = resolve_segmentation(now, config, AS_OF, frozen)
    assert segments_of(used) == {"P2": "A", "P1": "B", "P9": "A"}
    assert used.as_of == date(2026, 6, 30)
    assert any("153 days old" in w for w in used.warnings)
    assert any("P9" in w for w in used.warnings)
    own = resolve_segmentation(now, config, AS_OF, None)
    assert own.as_of == AS_OF and any("no frozen segmentation" in w for w in own.warnings)


def test_segment_command_writes_report_and_freezes(tiny_project: Path) -> None:
    """`windstil segment` writes segments.csv and .html; after --freeze a changed order shows as a move."""
    runner = CliRunner()
    args = ["--project", str(tiny_project), "segment", "--as-of", "2026-11-30"]
    result = runner.invoke(cli, [*args, "--freeze"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "segmentation 2026-11-30 (frozen)" in result.output
    folder = tiny_project / "output" / "segmentation" / "2026-11-30"
    header = (folder / "segments.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == list(SEGMENTS_CSV_COLUMNS)
    frozen_html = (folder / "segments.html").read_text(encoding="utf-8")
    assert "Vastgesteld op" in frozen_html  # settings.yaml: language nl
    assert "geannuleerde orders niet meegeteld · <span" in frozen_html  # a space before the dot
    assert "../index.html" not in frozen_html  # not in a run: no run overview to go back to
    with State.open(tiny_project / "output" / "state.sqlite") as state:
        frozen = state.latest_frozen_segmentation()
    assert frozen is not None and frozen.segment_of("C002") is Segment.A

    # Lindehof's cloud order grows from € 12.500,50 to € 42.500,50 after the freeze: the two
    # smallest A customers now start beyond 80% of the (larger) total and become B.
    orders = tiny_project / "data" / "orders.csv"
    text = orders.read_text(encoding="utf-8")
    orders.write_text(text.replace("12500.50,7000.00", "42500.50,7000.00"), encoding="utf-8")
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "not frozen" in result.output
    assert "moved since the frozen segmentation of 2026-11-30: 2" in result.output
    assert "Gemeente Vechtdal (C002) A → B: margin share 11,7% → 7,5%" in result.output
    assert "Transport Hollands Midden (C005) A → B: revenue share 13,5% → 11,0%" in result.output
    html = (folder / "segments.html").read_text(encoding="utf-8")
    assert "A → B: marge-aandeel 11,7% → 7,5%" in html and "Concept – niet vastgesteld" in html


def test_segment_command_help_has_example() -> None:
    """`windstil segment --help` shows an example."""
    result = CliRunner().invoke(cli, ["segment", "--help"])
    assert result.exit_code == 0 and "Example:" in result.output and "--freeze" in result.output


def test_percent_keeps_small_shares_readable() -> None:
    """Shares print the Dutch way with one decimal, and with two below 1% so small moves show."""
    assert percent(Fraction(41, 1000)) == "4,1%"
    assert percent(Fraction(4, 5)) == "80,0%"
    assert percent(Fraction(37, 10000)) == "0,37%"
    assert percent(Fraction(0)) == "0,0%"


def test_a_move_caused_by_other_customers_says_so() -> None:
    """A customer whose own figures are unchanged is explained by the cumulative share, not by 0,37% → 0,37%."""
    from pipeline.models import CustomerValue
    from pipeline.segment import explain_move

    before = CustomerValue(
        customer_id="C1", name="Een", group="", segment=Segment.B, computed_segment=Segment.B,
        value_share=Fraction(1, 100), revenue=Decimal(100), margin=Decimal(10), strategic=1,
        revenue_share=Fraction(3701, 1000000), margin_share=Fraction(1, 100), strategic_share=Fraction(1, 100),
        cumulative_before=Fraction(81, 100),
    )
    after = replace(
        before, segment=Segment.A, revenue_share=Fraction(3704, 1000000), cumulative_before=Fraction(79, 100)
    )
    weights = {"revenue": Fraction(1, 2), "margin": Fraction(3, 10), "strategic": Fraction(1, 5)}
    text = explain_move(before, after, weights)
    assert text == (
        "B → A: its own shares hardly changed; other customers' did, "
        "and the cumulative share before it moved 81,0% → 79,0%"
    )


@settings_(max_examples=300, deadline=None)
@given(numerator=st.integers(-10**12, 10**12), denominator=st.integers(1, 10**12))
def test_a_share_in_segments_csv_rounds_as_round_rounds_the_fraction(numerator: int, denominator: int) -> None:
    """Six places, exactly and half to even, as round() rounds share × 1,000,000 (the halves included)."""
    from pipeline.segment import _decimal6

    for share in (Fraction(numerator, denominator), Fraction(numerator, 2_000_000)):
        millionths = round(share * 1_000_000)
        whole, frac = divmod(abs(millionths), 1_000_000)
        assert _decimal6(share) == f"{'-' if millionths < 0 else ''}{whole}.{frac:06d}"
