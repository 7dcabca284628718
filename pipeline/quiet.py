"""Quiet periods: which customers have no running order and have not had one for a while.

The rule of docs/reference/segments.md "Quiet periods", exactly. On the as-of date a customer
is *active* when it has a non-cancelled order that has started and not ended (`order_date ≤ as_of` and no `end_date`
or `end_date ≥ as_of`, so an order ending on the as-of date still runs), or one signed for
the future (`order_date > as_of`). A customer that is not active, has at least one
non-cancelled order, and whose last activity lies at least `quiet_period.after_days` before
the as-of date is *quiet* from that last activity on. Cancelled orders never count.

The last activity of an ended order is its `end_date`; an order marked `closed` without an
end date ended on its `order_date` (the last activity is the latest `end_date`, or the
`order_date` where an ended order has no end date). An order with neither an end date nor the
status `closed` is still running.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date

import polars as pl

from pipeline.models import Activity, Dataset, OrderStatus, QuietStatus, SegmentsConfig
from pipeline.tables import counted_orders

log = logging.getLogger(__name__)


def quiet_periods(data: Dataset, config: SegmentsConfig, as_of: date) -> dict[str, QuietStatus]:
    """Return the activity of every customer on `as_of`, keyed by customer_id in file order."""
    # Per customer, over its non-cancelled orders: the last activity, and whether one runs.
    per_customer = (
        data.orders.lazy()
        .filter(counted_orders())
        .group_by("customer_id")
        .agg(
            # The day an order last kept the customer busy: its end date when later, else its order date.
            pl.max_horizontal("order_date", "end_date").max().alias("last"),
            _running(as_of).any().alias("running"),
        )
        .collect()
    )
    last: dict[str, date] = {}
    running: set[str] = set()
    for customer_id, last_day, runs in per_customer.iter_rows():
        last[customer_id] = last_day
        if runs:
            running.add(customer_id)
    statuses = {
        customer_id: _status(customer_id, last.get(customer_id), customer_id in running, config.quiet_after_days, as_of)
        for customer_id in data.customers
    }
    counts: dict[Activity, int] = defaultdict(int)
    for status in statuses.values():
        counts[status.activity] += 1
    log.info(
        "quiet periods on %s: %d quiet, %d active, %d recently ended, %d without orders",
        as_of,
        counts[Activity.QUIET],
        counts[Activity.ACTIVE],
        counts[Activity.RECENT],
        counts[Activity.NO_ORDERS],
    )
    return statuses


def _status(customer_id: str, last: date | None, running: bool, after_days: int, as_of: date) -> QuietStatus:
    """Return one customer's activity from its non-cancelled orders' last activity (None: none) and whether one runs."""
    if last is None:
        return QuietStatus(customer_id, Activity.NO_ORDERS)
    if running:
        return QuietStatus(customer_id, Activity.ACTIVE, last_activity=last)
    if (as_of - last).days >= after_days:
        return QuietStatus(customer_id, Activity.QUIET, last_activity=last, quiet_since=last)
    return QuietStatus(customer_id, Activity.RECENT, last_activity=last)


def _running(as_of: date) -> pl.Expr:
    """Tell per order whether it keeps its customer active on `as_of` (signed for later counts)."""
    ended = pl.col("end_date")
    still_open = pl.col("status").is_null() | (pl.col("status") != OrderStatus.CLOSED.value)
    return (pl.col("order_date") > as_of) | pl.when(ended.is_null()).then(still_open).otherwise(ended >= as_of)
