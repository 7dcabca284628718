"""Quiet periods: the documented boundaries, exactly."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from conftest import make_config

from pipeline.models import Activity, Customer, Dataset, Order, OrderStatus
from pipeline.quiet import quiet_periods

AS_OF = date(2026, 11, 30)


def order(order_date: date, end_date: date | None = None, status: OrderStatus | None = None, n: int = 1) -> Order:
    return Order(f"O{n}", "C1", order_date, Decimal(100), end_date=end_date, status=status)


def status_of(*orders: Order, after_days: int = 30):
    data = Dataset(
        account_managers={},
        customers={"C1": Customer("C1", "Klant", "am")},
        contacts={},
        orders=tuple(orders),
        evaluations=(),
        interactions=(),
        suppressions=(),
        products={},
        content={},
    )
    return quiet_periods(data, make_config(quiet_after_days=after_days), AS_OF)["C1"]


def test_order_ending_on_as_of_is_running() -> None:
    """An order whose end date is the as-of date still runs: the customer is active."""
    status = status_of(order(date(2026, 1, 1), AS_OF))
    assert status.activity is Activity.ACTIVE
    assert status.quiet_since is None


def test_order_ended_the_day_before_is_not_running() -> None:
    """An order that ended the day before as-of no longer runs (recently ended, not active)."""
    assert status_of(order(date(2026, 1, 1), AS_OF - timedelta(days=1))).activity is Activity.RECENT


def test_last_activity_exactly_after_days_ago_is_quiet() -> None:
    """Last activity exactly `after_days` before as-of makes the customer quiet since that day."""
    end = AS_OF - timedelta(days=30)
    status = status_of(order(date(2026, 1, 1), end))
    assert status.activity is Activity.QUIET
    assert status.quiet
    assert status.quiet_since == end
    assert status.last_activity == end


def test_last_activity_one_day_short_is_recent() -> None:
    """Last activity `after_days - 1` before as-of is too recent to be quiet."""
    status = status_of(order(date(2026, 1, 1), AS_OF - timedelta(days=29)))
    assert status.activity is Activity.RECENT
    assert not status.quiet
    assert status.quiet_since is None


def test_after_days_comes_from_the_config() -> None:
    """`quiet_period.after_days` sets the boundary."""
    end = AS_OF - timedelta(days=60)
    assert status_of(order(date(2026, 1, 1), end), after_days=60).activity is Activity.QUIET
    assert status_of(order(date(2026, 1, 1), end), after_days=61).activity is Activity.RECENT


def test_order_signed_for_the_future_makes_active() -> None:
    """An order signed for a later start keeps an otherwise quiet customer active."""
    old = order(date(2025, 1, 1), date(2025, 6, 30), n=1)
    future = order(AS_OF + timedelta(days=1), n=2)
    assert status_of(old).activity is Activity.QUIET
    assert status_of(old, future).activity is Activity.ACTIVE


def test_order_starting_on_as_of_is_running() -> None:
    """An order starting on the as-of date without an end date runs."""
    assert status_of(order(AS_OF)).activity is Activity.ACTIVE


def test_running_order_without_end_date_makes_active() -> None:
    """An open order without an end date keeps the customer active, however old it is."""
    assert status_of(order(date(2020, 1, 1))).activity is Activity.ACTIVE
    assert status_of(order(date(2020, 1, 1), status=OrderStatus.OPEN)).activity is Activity.ACTIVE


def test_closed_order_without_end_date_ended_on_its_order_date() -> None:
    """A closed order with no end date counts its order date as the last activity."""
    status = status_of(order(date(2026, 9, 1), status=OrderStatus.CLOSED))
    assert status.activity is Activity.QUIET
    assert status.quiet_since == date(2026, 9, 1)


@pytest.mark.parametrize(
    "cancelled",
    [
        order(date(2026, 1, 1), n=9, status=OrderStatus.CANCELLED),  # would be running
        order(AS_OF + timedelta(days=5), n=9, status=OrderStatus.CANCELLED),  # would be future
        order(date(2026, 1, 1), AS_OF - timedelta(days=3), n=9, status=OrderStatus.CANCELLED),  # recent
    ],
)
def test_cancelled_orders_never_count(cancelled: Order) -> None:
    """A cancelled order neither makes a customer active nor moves its last activity."""
    ended = order(date(2025, 1, 1), date(2026, 8, 31), n=1)
    status = status_of(ended, cancelled)
    assert status.activity is Activity.QUIET
    assert status.quiet_since == date(2026, 8, 31)


def test_only_cancelled_orders_is_no_orders() -> None:
    """A customer whose only order was cancelled has no orders."""
    status = status_of(order(date(2026, 1, 1), status=OrderStatus.CANCELLED))
    assert status.activity is Activity.NO_ORDERS
    assert status.last_activity is None


def test_no_orders_is_not_quiet() -> None:
    """A customer without orders is not quiet."""
    status = status_of()
    assert status.activity is Activity.NO_ORDERS
    assert not status.quiet


def test_latest_end_date_is_the_last_activity() -> None:
    """Of several ended orders, the latest end date counts, not the latest order date."""
    a = order(date(2026, 1, 1), date(2026, 10, 1), n=1)
    b = order(date(2026, 6, 1), date(2026, 7, 1), n=2)
    status = status_of(a, b)
    assert status.activity is Activity.QUIET
    assert status.quiet_since == date(2026, 10, 1)


def test_every_customer_gets_a_status() -> None:
    """Every customer of the data set is in the result, in file order."""
    data = Dataset(
        account_managers={},
        customers={cid: Customer(cid, cid, "am") for cid in ("C2", "C1", "C3")},
        contacts={},
        orders=(Order("O1", "C1", date(2026, 1, 1), Decimal(1), end_date=date(2026, 2, 1)),),
        evaluations=(),
        interactions=(),
        suppressions=(),
        products={},
        content={},
    )
    statuses = quiet_periods(data, make_config(), AS_OF)
    assert list(statuses) == ["C2", "C1", "C3"]
    assert [s.activity for s in statuses.values()] == [Activity.NO_ORDERS, Activity.QUIET, Activity.NO_ORDERS]
