"""Retention: this window against the previous one, per segment, with the lost customers' signals."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

from conftest import make_config
from test_segment import REVENUE_ONLY, customer, dataset, order

from pipeline.models import Dataset, Evaluation, Interaction, OrderStatus, Segment, SegmentsConfig
from pipeline.retention import compute_retention, months_between, render_retention_report
from pipeline.segment import segment

AS_OF = date(2026, 11, 30)


def sample() -> tuple[Dataset, SegmentsConfig]:
    """R1, R2 keep buying; L1, L2 stop; N1 is new; X1 only has orders outside both windows."""
    data = dataset(
        [customer(c) for c in ("R1", "R2", "L1", "L2", "N1", "X1")],
        [
            order("r1a", "R1", "1000", day=date(2025, 3, 1)),
            order("r1b", "R1", "800", day=date(2026, 3, 1)),
            order("r2a", "R2", "400", day=date(2025, 11, 30)),  # last day of the previous window
            order("r2b", "R2", "100", day=date(2025, 12, 1)),  # first day of this one
            order("l1", "L1", "500", day=date(2025, 6, 1)),
            order("l2", "L2", "200", day=date(2024, 12, 1)),
            order("n1", "N1", "300", day=date(2026, 5, 1)),
            order("x1", "X1", "900", day=date(2024, 11, 30)),  # on the previous window's start: out
            order("x2", "X1", "900", day=date(2025, 5, 1), status=OrderStatus.CANCELLED),
        ],
    )
    data = replace(
        data,
        evaluations=(
            Evaluation("L1", date(2025, 3, 1), Decimal("9")),
            Evaluation("L1", date(2025, 7, 1), Decimal("6.5")),
        ),
        interactions=(Interaction("L1", date(2026, 2, 15)), Interaction("L1", date(2025, 1, 2))),
    )
    config = make_config(overrides=(), weights=REVENUE_ONLY)
    return data, config


def test_retained_lost_new_and_factor() -> None:
    """Two of the four previous customers kept buying: factor 1/2; revenue split retained/new."""
    data, config = sample()
    ret = compute_retention(data, segment(data, config, AS_OF), config, AS_OF)
    assert ret.window_start == date(2025, 11, 30) and ret.previous_start == date(2024, 11, 30)
    assert ret.retained == ("R1", "R2")
    assert ret.new == ("N1",)
    assert [c.customer_id for c in ret.lost] == ["L1", "L2"]
    assert ret.previous_customers == 4 and ret.current_customers == 3
    assert ret.factor == Fraction(1, 2)
    assert ret.revenue_retained == Decimal("900")
    assert ret.revenue_new == Decimal("300")
    assert ret.revenue_lost == Decimal("700")
    assert [(c.customer_id, c.previous_revenue, c.revenue) for c in ret.declines] == [
        ("R2", Decimal("400"), Decimal("100")),
        ("R1", Decimal("1000"), Decimal("800")),
    ]


def test_a_new_customer_that_bought_long_before_came_back() -> None:
    """New in this window but with an order before the previous one: counted new, and named as come back."""
    data, config = sample()
    back = order("x3", "X1", "250", day=date(2026, 2, 1))  # X1 bought in 2024 (and a cancelled order in 2025)
    data = replace(data, orders=data.orders.vstack(dataset([], [back]).orders))
    ret = compute_retention(data, segment(data, config, AS_OF), config, AS_OF)
    assert ret.new == ("N1", "X1")
    assert ret.returned == ("X1",)
    assert ret.revenue_new == Decimal("550")
    english = render_retention_report(ret, language="en")
    assert "of which 1 came back (they bought before the previous window)" in english
    assert "waarvan 1 teruggekomen (ze kochten al vóór de vorige periode)" in render_retention_report(ret)
    data, config = sample()  # N1 is new to us: nothing came back
    ret = compute_retention(data, segment(data, config, AS_OF), config, AS_OF)
    assert ret.returned == () and "came back" not in render_retention_report(ret, language="en")


def test_per_segment_uses_the_segment_at_the_end_of_the_previous_window() -> None:
    """Previous window 1000/500/400/200 → R1, L1, R2 are A, L2 is B; N1 counts as new A now."""
    data, config = sample()
    ret = compute_retention(data, segment(data, config, AS_OF), config, AS_OF)
    rows = {s.segment: s for s in ret.by_segment}
    assert (rows[Segment.A].previous, rows[Segment.A].retained, rows[Segment.A].lost) == (3, 2, 1)
    assert rows[Segment.A].factor == Fraction(2, 3)
    assert rows[Segment.A].revenue_retained == Decimal("900")
    assert rows[Segment.A].new == 1
    assert (rows[Segment.B].previous, rows[Segment.B].retained, rows[Segment.B].lost) == (1, 0, 1)
    assert rows[Segment.B].factor == 0
    assert rows[Segment.C].factor is None


def test_lost_customer_signals() -> None:
    """A lost customer shows its latest evaluation, months since the last contact, and segment."""
    data, config = sample()
    extra = [Interaction("L2", date(2026, 10, 31), source="calls import")]
    ret = compute_retention(data, segment(data, config, AS_OF), config, AS_OF, interactions=extra)
    l1, l2 = ret.lost
    assert (l1.segment, l1.current_segment) == (Segment.A, Segment.D)
    assert l1.last_evaluation_score == Decimal("6.5") and l1.last_evaluation_date == date(2025, 7, 1)
    assert l1.last_interaction == date(2026, 2, 15) and l1.months_since_interaction == 9
    assert l1.last_order == date(2025, 6, 1)
    assert l2.last_evaluation_score is None
    assert l2.months_since_interaction == 0  # 31 October to 30 November is not yet a month
    without = compute_retention(data, segment(data, config, AS_OF), config, AS_OF).lost[1]
    assert without.months_since_interaction is None


def test_months_between_counts_whole_months() -> None:
    """Whole calendar months: 15 Feb → 30 Nov is 9, 31 Oct → 30 Nov is 0, 30 Oct → 30 Nov is 1."""
    assert months_between(date(2026, 2, 15), AS_OF) == 9
    assert months_between(date(2026, 10, 31), AS_OF) == 0
    assert months_between(date(2026, 10, 30), AS_OF) == 1
    assert months_between(AS_OF, AS_OF) == 0


def test_retention_report_shows_factor_signals_and_bars() -> None:
    """The report states the factor, marks a below-norm score and a never-contacted customer."""
    data, config = sample()
    ret = compute_retention(data, segment(data, config, AS_OF), config, AS_OF)
    html = render_retention_report(ret, language="en")
    assert "50.0%" in html  # overall factor
    assert "66.7%" in html  # segment A
    assert '<span class="bad">6.5</span>' in html
    assert '<span class="bad">never</span>' in html  # L2 had no contact on record
    assert "€700.00" in html and "€900.00" in html
    dutch = render_retention_report(ret)
    assert '<span class="bad">nooit</span>' in dutch and "never" not in dutch
    assert "€\xa0700,00" in dutch and "€\xa0900,00" in dutch  # Babel keeps € and amount together
    assert html.count("<svg") == 1 + len(ret.by_segment)
    assert "<script" not in html and "<link" not in html and "src=" not in html
