"""The retention factor: which customers keep buying, and why (docs/reference/outputs.md#reports).

This window is `(as_of − window_months, as_of]`, the previous one the same length before it;
a customer "bought" in a window when it has a non-cancelled order dated in it. Per segment,
customers are counted by the segment they had at the end of the previous window (computed
with the same method), because by the current segmentation every lost customer is D.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import polars as pl

from pipeline.models import (
    Customer,
    Dataset,
    Evaluation,
    Interaction,
    LostCustomer,
    RetainedChange,
    Retention,
    RetentionSegment,
    Segment,
    Segmentation,
    SegmentsConfig,
)
from pipeline.reports import render_retention_report
from pipeline.segment import months_before, segment
from pipeline.tables import counted_orders, records, revenue_in_window

__all__ = ["compute_retention", "months_between", "render_retention_report"]

log = logging.getLogger(__name__)


def months_between(earlier: date, later: date) -> int:
    """Return the whole calendar months from `earlier` to `later` (0 when less than a month)."""
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    if later.day < earlier.day:
        months -= 1
    return max(0, months)


def compute_retention(
    data: Dataset,
    seg: Segmentation,
    config: SegmentsConfig,
    as_of: date,
    interactions: Sequence[Interaction] = (),
    earlier: Segmentation | None = None,
) -> Retention:
    """Compare this window's buying customers with the previous window's.

    `interactions` are extra ones from the state (imported call outcomes), on top of the data's.
    `earlier`: the segmentation at the end of the previous window, made here when not given.
    """
    start = months_before(as_of, config.window_months)
    previous_start = months_before(as_of, 2 * config.window_months)
    known = data.customers
    # A customer bought in a window when it has a revenue sum there (of non-cancelled orders).
    revenue_now = revenue_in_window(data.orders, start, as_of)
    revenue_before = revenue_in_window(data.orders, previous_start, start)
    current = {cid for cid in revenue_now if cid in known}
    previous = {cid for cid in revenue_before if cid in known}
    # The segment each customer had at the end of the previous window, by the same method.
    if earlier is None:
        earlier = segment(data, config, start)

    retained = sorted(previous & current)
    new = sorted(current - previous)
    lost_ids = previous - current
    # New in this window, but not new to us: they bought before the previous window too.
    earlier_buyers = revenue_in_window(data.orders, date.min, previous_start)
    returned = [cid for cid in new if cid in earlier_buyers]

    lost = _lost_customers(data, seg, earlier, lost_ids, revenue_before, as_of, interactions)
    by_segment = _by_segment(seg, earlier, previous, current, new, revenue_now)
    declines = _declines(known, earlier, retained, revenue_now, revenue_before)

    return Retention(
        as_of=as_of,
        window_start=start,
        previous_start=previous_start,
        previous_customers=len(previous),
        current_customers=len(current),
        retained=tuple(retained),
        new=tuple(new),
        returned=tuple(returned),
        lost=tuple(lost),
        revenue_retained=sum((revenue_now.get(cid, Decimal(0)) for cid in retained), Decimal(0)),
        revenue_new=sum((revenue_now.get(cid, Decimal(0)) for cid in new), Decimal(0)),
        revenue_lost=sum((c.previous_revenue for c in lost), Decimal(0)),
        by_segment=tuple(by_segment),
        declines=tuple(declines),
        satisfaction_norm=config.satisfaction_norm,
    )


def _lost_customers(
    data: Dataset,
    seg: Segmentation,
    earlier: Segmentation,
    lost_ids: set[str],
    revenue_before: dict[str, Decimal],
    as_of: date,
    interactions: Sequence[Interaction],
) -> list[LostCustomer]:
    """Return the lost customers with their signals, biggest previous revenue first."""
    known = data.customers
    # Records of the lost customers' rows only, in frame order: not one of every evaluation and interaction.
    lost_rows = pl.col("customer_id").is_in(sorted(lost_ids))
    last_evaluation: dict[str, Evaluation] = {}
    for evaluation in records(Evaluation, data.evaluations.filter(lost_rows)):
        if evaluation.date <= as_of:
            best = last_evaluation.get(evaluation.customer_id)
            if best is None or evaluation.date >= best.date:
                last_evaluation[evaluation.customer_id] = evaluation
    last_interaction: dict[str, date] = {}
    for interaction in (*records(Interaction, data.interactions.filter(lost_rows)), *interactions):
        if interaction.date <= as_of:
            seen = last_interaction.get(interaction.customer_id)
            if seen is None or interaction.date > seen:
                last_interaction[interaction.customer_id] = interaction.date
    last_order: dict[str, date] = dict(
        data.orders.lazy()
        .filter(counted_orders() & (pl.col("order_date") <= as_of))
        .group_by("customer_id")
        .agg(pl.col("order_date").max())
        .collect()
        .iter_rows()
    )

    lost = []
    for cid in lost_ids:
        customer = known[cid]
        latest = last_evaluation.get(cid)
        touched = last_interaction.get(cid)
        current_row = seg.customers.get(cid)
        lost.append(
            LostCustomer(
                customer_id=cid,
                name=customer.name,
                account_manager_id=customer.account_manager_id,
                account_manager_name=am.name if (am := data.account_managers.get(customer.account_manager_id)) else "",
                segment=earlier.segment_of(cid),
                current_segment=current_row.segment if current_row else None,
                previous_revenue=revenue_before.get(cid, Decimal(0)),
                last_order=last_order.get(cid),
                last_evaluation_score=latest.score if latest else None,
                last_evaluation_date=latest.date if latest else None,
                last_interaction=touched,
                months_since_interaction=months_between(touched, as_of) if touched else None,
            )
        )
    lost.sort(key=lambda c: (-c.previous_revenue, c.customer_id))
    return lost


def _by_segment(
    seg: Segmentation,
    earlier: Segmentation,
    previous: set[str],
    current: set[str],
    new: list[str],
    revenue_now: dict[str, Decimal],
) -> list[RetentionSegment]:
    """Return retention per segment (the segment at the end of the previous window)."""
    by_segment = []
    for seg_name in Segment:
        before = [cid for cid in previous if earlier.segment_of(cid) is seg_name]
        kept = [cid for cid in before if cid in current]
        by_segment.append(
            RetentionSegment(
                segment=seg_name,
                previous=len(before),
                retained=len(kept),
                lost=len(before) - len(kept),
                new=sum(1 for cid in new if cid in seg.customers and seg.segment_of(cid) is seg_name),
                revenue_retained=sum((revenue_now.get(cid, Decimal(0)) for cid in kept), Decimal(0)),
            )
        )
    return by_segment


def _declines(
    known: dict[str, Customer],
    earlier: Segmentation,
    retained: list[str],
    revenue_now: dict[str, Decimal],
    revenue_before: dict[str, Decimal],
) -> list[RetainedChange]:
    """Return the retained customers that bought less than in the previous window, biggest drop first."""
    declines = [
        RetainedChange(
            customer_id=cid,
            name=known[cid].name,
            segment=earlier.segment_of(cid),
            previous_revenue=revenue_before.get(cid, Decimal(0)),
            revenue=revenue_now.get(cid, Decimal(0)),
        )
        for cid in retained
        if revenue_now.get(cid, Decimal(0)) < revenue_before.get(cid, Decimal(0))
    ]
    declines.sort(key=lambda c: (c.revenue - c.previous_revenue, c.customer_id))
    return declines
