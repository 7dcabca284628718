"""The segmentation report: figures per segment, the Pareto curve, overrides and moves."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

from conftest import make_config
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st
from test_segment import REVENUE_ONLY, customer, dataset, order

from pipeline.models import AccountManager, Override, Segment
from pipeline.reports import pareto_chart, render_segmentation_report
from pipeline.segment import segment

AS_OF = date(2026, 11, 30)


def test_pareto_marks_where_80_percent_is_reached() -> None:
    """80% of revenue is reached at the first of four customers; 80% of margin at the second of two."""
    chart = pareto_chart([Decimal(v) for v in (5, 80, 10, 5)], [Decimal(50), Decimal(50)])
    revenue, margin = chart.curves
    assert revenue.mark_share == Fraction(1, 4)
    assert margin.mark_share == 1
    assert revenue.path.startswith("M56.0,296.0 L196.0,72.0")  # (0,0) then (25%, 80%)


@settings_(max_examples=200, deadline=None)
@given(st.lists(st.decimals(min_value=-1000, max_value=10**9, places=2, allow_nan=False), max_size=1500))
def test_pareto_mark_is_the_first_customer_whose_cumulative_share_reaches_80_percent(values: list[Decimal]) -> None:
    """The 80% mark is where the exact cumulative share first reaches 4/5, exactly at the boundary too."""
    ordered = sorted((max(Decimal(0), v) for v in values), reverse=True)
    total = sum(ordered, Decimal(0))
    cumulative, expected = Decimal(0), None
    for k, value in enumerate(ordered, start=1):
        cumulative += value
        if total and Fraction(cumulative) / Fraction(total) >= Fraction(4, 5):
            expected = Fraction(k, len(ordered))
            break
    assert pareto_chart(values, values).curves[0].mark_share == expected


def test_pareto_without_revenue_has_no_mark() -> None:
    """With no revenue at all there is no 80% point, and the chart still renders."""
    chart = pareto_chart([], [])
    assert chart.curves[0].mark_share is None


def report(language: str = "en") -> str:
    customers = [
        customer("P1", name="Zorggroep <Lindehof>", account_manager_id="am-jan"),
        customer("P2", name="Gemeente Vechtdal"),
        customer("P3", name="Kliniek De Brug"),
        customer("P4", name="Nieuw Begin"),
    ]
    orders = [order("a", "P1", "500"), order("b", "P2", "300"), order("c", "P3", "200")]
    config = make_config(overrides=(), weights=REVENUE_ONLY)
    before = segment(dataset(customers, orders), config, AS_OF)
    orders[1] = order("b", "P2", "50")
    config = make_config(
        weights=REVENUE_ONLY, overrides=(Override("P4", Segment.B, "Nieuwe directie & plannen", date(2027, 6, 30)),)
    )
    data = dataset(customers, orders)
    data = replace(data, account_managers={"am-jan": AccountManager("am-jan", "Jan de Vries", "j@x.nl")})
    seg = segment(data, config, AS_OF, previous=before)
    return render_segmentation_report(seg, data, config, previous_as_of=date(2026, 10, 31), language=language)


def test_segmentation_report_lists_segments_overrides_and_moves() -> None:
    """The report has per-segment figures, the override with reason and until, and explained moves."""
    html = report("en")
    assert "<title>Customer segmentation 30 November 2026</title>" in html
    assert "Draft – not frozen" in html
    # P1 2/3, P3 4/15 are A, P2 B, P4 D → overridden to B.
    assert "<strong>2</strong> A customers (50.0% of 4) bring <strong>93.3%</strong> of the revenue" in html
    assert "Nieuwe directie &amp; plannen" in html and "30 June 2027" in html
    assert "A → B: revenue share 30.0% → 6.7% (€300.00 → €50.00)" in html
    assert "B → A: revenue share 20.0% → 26.7%" in html
    assert "frozen segmentation of 31 October 2026" in html
    assert "Jan de Vries" in html


def test_segmentation_report_in_dutch() -> None:
    """In Dutch the same report says the same with Dutch words, figures and dates."""
    html = report("nl")
    assert "<title>Klantsegmentatie 30 november 2026</title>" in html
    assert "<strong>2</strong> A-klanten (50,0% van 4) brengen <strong>93,3%</strong> van de omzet" in html
    assert "A → B: omzetaandeel 30,0% → 6,7% (€\xa0300,00 → €\xa050,00)" in html
    assert "30 juni 2027" in html and "vastgestelde segmentatie van 31 oktober 2026" in html
    assert "revenue share" not in html and "Customer" not in html


def test_segmentation_report_escapes_data_and_needs_no_external_assets() -> None:
    """Customer names are escaped; the page has no scripts, stylesheets or images to fetch."""
    html = report()
    assert "Zorggroep &lt;Lindehof&gt;" in html and "<Lindehof>" not in html
    assert "<script" not in html and "<link" not in html and "src=" not in html and "url(" not in html
    assert html.count("<svg") == 1
    assert "@media print" in html


def test_segmentation_report_without_previous_says_so() -> None:
    """Without an earlier frozen segmentation the moves section says there is none yet."""
    data = dataset([customer("P1")], [order("a", "P1", "10")])
    config = make_config(overrides=())
    html = render_segmentation_report(segment(data, config, AS_OF), data, config, language="en")
    assert "no earlier frozen segmentation" in html


def test_code_spans_in_a_warning_are_code_and_everything_is_escaped() -> None:
    """A warning's `command` shows as code on a page, not with its backticks; the rest stays escaped text."""
    from pipeline.templating import code_spans

    assert str(code_spans("freeze it with `windstil segment --freeze`")) == (
        "freeze it with <code>windstil segment --freeze</code>"
    )
    assert str(code_spans("<b>x</b> `<script>` and ` unclosed")) == (
        "&lt;b&gt;x&lt;/b&gt; <code>&lt;script&gt;</code> and ` unclosed"
    )
