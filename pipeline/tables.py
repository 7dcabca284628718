"""The big tables of the CRM export as Polars frames, and what the stages derive from them.

The evaluations and interactions are frames too (EVALUATION_SCHEMA, INTERACTION_SCHEMA),
in file order; `records()` gives a stage the typed Evaluation or Interaction values of the
rows it needs.

The orders are a `pl.DataFrame` (see ORDER_SCHEMA): one row per good row of orders.csv, in
file order. Money is exact: an amount is kept as its integer coefficient (Int128) and its
decimal exponent, so 1234.50 is (123450, -2); sums are integer sums at a common scale, turned
into the very Decimals that adding the amounts to Decimal(0) one by one makes, exponent
included (120.00 + 5 is 125.00). No float is ever involved.

The stages call the functions here with the frame they were given; a stage's signature says
it takes a Dataset, whose `orders` is this frame.
"""

from __future__ import annotations

import dataclasses
import decimal
import enum
from collections.abc import Callable, Collection, Iterable
from datetime import date
from decimal import Decimal
from typing import Any, Generic, TypeVar

import polars as pl

from pipeline.models import Channel, Evaluation, Interaction, Level, Order, OrderStatus, OurLevel

__all__ = [
    "EVALUATION_SCHEMA",
    "INTERACTION_SCHEMA",
    "ORDER_SCHEMA",
    "OrderColumns",
    "RecordColumns",
    "amount_parts",
    "bought_products",
    "counted_orders",
    "order_records",
    "orders_frame",
    "orders_newest_first",
    "orders_of_customers",
    "revenue_in_window",
    "rows_of_customers",
    "window_totals",
]

ORDER_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "order_id": pl.String,
    "customer_id": pl.String,
    "order_date": pl.Date,
    "revenue_units": pl.Int128,  # the amount's coefficient: 1234.50 is 123450 ...
    "revenue_exp": pl.Int8,  # ... and its exponent, -2
    # Categorical: a few hundred products and their descriptions repeat over millions of
    # orders; as strings these two columns were half the frame (benchmarks/README.md).
    "product_id": pl.Categorical,
    "description": pl.Categorical,
    "end_date": pl.Date,  # null: still running
    "cost_units": pl.Int128,
    "cost_exp": pl.Int8,
    "status": pl.Categorical,  # an OrderStatus value, or null
}
_INT128 = 1 << 127
# Rows collected as Python values before they become a frame of their own: the values of a
# whole export at once (a str, a date and ints per cell) would be the load's peak, and
# Python keeps their freed pool space afterwards (RSS that never goes back).
BATCH_ROWS = 50_000
_CANCELLED = OrderStatus.CANCELLED.value
_STATUSES: dict[str | None, OrderStatus | None] = {None: None, **{s.value: s for s in OrderStatus}}
# Wide enough for any sum of int128 coefficients at a common scale: the sums never round.
_EXACT = decimal.Context(prec=80, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def amount_parts(amount: Decimal) -> tuple[int, int] | None:
    """Return `amount` as (coefficient, exponent), or None when the table cannot hold it exactly.

    None for NaN, infinity, an exponent outside an Int8, or a coefficient outside an Int128
    (beyond 1.7E+38: no amount of money).
    """
    if not amount.is_finite():
        return None
    sign, digits, exponent = amount.as_tuple()
    if not isinstance(exponent, int) or not -128 <= exponent < 128:
        return None
    coefficient = int("".join(map(str, digits)) or "0")
    if sign:
        coefficient = -coefficient
    if not -_INT128 <= coefficient < _INT128:
        return None
    return coefficient, exponent


def _joined(coefficient: int, exponent: int) -> Decimal:
    """Return the Decimal of (coefficient, exponent), exponent included (1E+3 stays 1E+3)."""
    return Decimal(coefficient).scaleb(exponent, _EXACT)


class OrderColumns:
    """Collect orders one by one into columns, then make the frame (no Order object needed)."""

    def __init__(self) -> None:
        self._columns: dict[str, list[Any]] = {name: [] for name in ORDER_SCHEMA}
        self._frames: list[pl.DataFrame] = []

    def add(
        self,
        order_id: str,
        customer_id: str,
        order_date: date,
        revenue: tuple[int, int],
        product_id: str = "",
        description: str = "",
        end_date: date | None = None,
        cost: tuple[int, int] = (0, 0),
        status: OrderStatus | None = None,
    ) -> None:
        """Add one order; the amounts come as (coefficient, exponent), see amount_parts."""
        c = self._columns
        c["order_id"].append(order_id)
        c["customer_id"].append(customer_id)
        c["order_date"].append(order_date)
        c["revenue_units"].append(revenue[0])
        c["revenue_exp"].append(revenue[1])
        c["product_id"].append(product_id)
        c["description"].append(description)
        c["end_date"].append(end_date)
        c["cost_units"].append(cost[0])
        c["cost_exp"].append(cost[1])
        c["status"].append(None if status is None else status.value)
        if len(c["order_id"]) >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        self._frames.append(pl.DataFrame(self._columns, schema=ORDER_SCHEMA))
        self._columns = {name: [] for name in ORDER_SCHEMA}

    def add_order(self, order: Order) -> None:
        """Add an Order; raise ValueError for an amount the table cannot hold exactly."""
        revenue, cost = amount_parts(order.revenue), amount_parts(order.cost)
        if revenue is None or cost is None:
            raise ValueError(f"order {order.order_id}: an amount the orders table cannot hold exactly")
        self.add(
            order.order_id,
            order.customer_id,
            order.order_date,
            revenue,
            order.product_id,
            order.description,
            order.end_date,
            cost,
            order.status,
        )

    def frame(self) -> pl.DataFrame:
        """Return the frame of the orders added (the columns are handed over: add no more)."""
        self._flush()
        frames, self._frames = self._frames, []
        return pl.concat(frames, rechunk=True) if len(frames) > 1 else frames[0]


def orders_frame(orders: Iterable[Order]) -> pl.DataFrame:
    """Return the orders as a frame, in the order given."""
    if isinstance(orders, pl.DataFrame):
        return orders
    columns = OrderColumns()
    for order in orders:
        columns.add_order(order)
    return columns.frame()


def order_records(orders: pl.DataFrame) -> list[Order]:
    """Return the frame's rows as Order values, in frame order (for tests and small frames)."""
    return [
        Order(
            order_id=row["order_id"],
            customer_id=row["customer_id"],
            order_date=row["order_date"],
            revenue=_joined(row["revenue_units"], row["revenue_exp"]),
            product_id=row["product_id"],
            description=row["description"],
            end_date=row["end_date"],
            cost=_joined(row["cost_units"], row["cost_exp"]),
            status=_STATUSES[row["status"]],
        )
        for row in orders.iter_rows(named=True)
    ]


def counted_orders() -> pl.Expr:
    """Select the orders that count for value and products: every one not cancelled."""
    return pl.col("status").is_null() | (pl.col("status") != _CANCELLED)


def bought_products(orders: pl.DataFrame) -> dict[str, frozenset[str]]:
    """Return the product ids each customer has ordered; cancelled orders do not count."""
    pairs = orders.lazy().filter(counted_orders() & (pl.col("product_id") != "")).select("customer_id", "product_id")
    grouped = pairs.group_by("customer_id", maintain_order=True).agg(pl.col("product_id").unique()).collect()
    return {customer_id: frozenset(ids) for customer_id, ids in grouped.iter_rows()}


def revenue_in_window(orders: pl.DataFrame, start: date, end: date) -> dict[str, Decimal]:
    """Return Σ revenue per customer over the window `(start, end]`, cancelled orders excluded.

    The very Decimals that adding the orders' revenue to Decimal(0) in file order makes,
    exponent included; keyed by customer_id in the order of their first counted order.
    """
    return _window(orders, start, end, margin=False)[0]


def window_totals(orders: pl.DataFrame, start: date, end: date) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Return Σ revenue and Σ (revenue − cost) per customer over `(start, end]`, as revenue_in_window."""
    return _window(orders, start, end, margin=True)


def _window(
    orders: pl.DataFrame, start: date, end: date, margin: bool
) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    in_window = orders.lazy().filter(counted_orders() & (pl.col("order_date") > start) & (pl.col("order_date") <= end))
    if not _sums_exact_in_ints(orders):
        return _window_in_decimals(in_window.collect(), margin)
    scale = _scale(orders)
    top = orders.select(pl.max_horizontal(pl.col("revenue_exp").max(), pl.col("cost_exp").max(), 0)).item() or 0
    exponents = range(scale, int(top) + 1)  # the bound checked above keeps every power in an Int128
    powers = pl.Series([10 ** (exponent - scale) for exponent in exponents], dtype=pl.Int128)  # past an Int64

    def scaled(name: str) -> pl.Expr:
        power = pl.col(f"{name}_exp").replace_strict(old=list(exponents), new=powers, return_dtype=pl.Int128)
        return pl.col(f"{name}_units") * power

    # The sum starts at Decimal(0): its exponent is at most 0.
    sums = [scaled("revenue").sum().alias("revenue"), pl.min_horizontal(pl.col("revenue_exp").min(), 0).alias("r_exp")]
    if margin:
        net_exp = pl.min_horizontal(pl.col("revenue_exp"), pl.col("cost_exp")).min()
        sums += [(scaled("revenue") - scaled("cost")).sum().alias("net"), pl.min_horizontal(net_exp, 0).alias("n_exp")]
    totals = in_window.group_by("customer_id", maintain_order=True).agg(sums).collect()

    def decimals(column: str, exponent_column: str) -> dict[str, Decimal]:
        rows = totals.select("customer_id", column, exponent_column).iter_rows()
        return {customer_id: _joined(total // 10 ** (e - scale), e) for customer_id, total, e in rows}

    revenue = decimals("revenue", "r_exp")
    return revenue, decimals("net", "n_exp") if margin else {}


def _scale(orders: pl.DataFrame) -> int:
    """Return the smallest exponent of any amount, 0 at most: every sum is a whole multiple of 10**this."""
    if orders.is_empty():
        return 0
    low = orders.select(pl.min_horizontal(pl.col("revenue_exp").min(), pl.col("cost_exp").min())).item()
    return min(0, int(low))


def _sums_exact_in_ints(orders: pl.DataFrame) -> bool:
    """Tell whether integer sums at a common scale are the Decimal sums in the current context.

    They are when no sum of (revenue − cost)'s could need more digits than the context keeps
    (nor overflow an Int128), and the context does not turn x − x into −0 (ROUND_FLOOR).
    """
    context = decimal.getcontext()
    if context.rounding == decimal.ROUND_FLOOR:
        return False
    if orders.is_empty():
        return True
    top, largest = orders.select(
        pl.max_horizontal(pl.col("revenue_exp").max(), pl.col("cost_exp").max(), 0),
        pl.col("revenue_units").abs().max() + pl.col("cost_units").abs().max(),
    ).row(0)
    bound = orders.height * int(largest) * 10 ** (int(top) - _scale(orders))
    return bool(bound < 10 ** min(context.prec, 38))


def _window_in_decimals(in_window: pl.DataFrame, margin: bool) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Return what _window does, adding Decimals in the current context in file order."""
    revenue: dict[str, Decimal] = {}
    net: dict[str, Decimal] = {}
    zero = Decimal(0)
    columns = ("customer_id", "revenue_units", "revenue_exp", "cost_units", "cost_exp")
    for customer_id, units, exponent, cost_units, cost_exp in in_window.select(columns).iter_rows():
        amount = _joined(units, exponent)
        revenue[customer_id] = revenue.get(customer_id, zero) + amount
        if margin:
            net[customer_id] = net.get(customer_id, zero) + (amount - _joined(cost_units, cost_exp))
    return revenue, net


def rows_of_customers(frame: pl.DataFrame, customer_ids: Collection[str]) -> pl.DataFrame:
    """Return the rows of `frame` (orders, evaluations, interactions) of some customers, in file order."""
    # By an eager mask, not an expression: filtering by expression runs on Polars' threads, and
    # picking a render chunk's 250 or so customers out of 475,000 orders that way held some
    # 40 MB more at its height, once per chunk, in the main process during the render stage.
    return frame.filter(frame.get_column("customer_id").is_in(list(customer_ids)))


def orders_of_customers(orders: pl.DataFrame, customer_ids: Iterable[str]) -> pl.DataFrame:
    """Return the orders of some customers: customer by customer in the order given, each one's in file order."""
    ids = list(customer_ids)
    rank = pl.DataFrame({"customer_id": ids, "_rank": range(len(ids))},
                        schema={"customer_id": pl.String, "_rank": pl.UInt32})
    # Picked out first, then put in order: a join of all the orders with the few customers held more still.
    return (rows_of_customers(orders, ids).join(rank, on="customer_id", how="left", maintain_order="left")
            .sort("_rank", maintain_order=True).drop("_rank"))


# What the render stage's context sentence reads of an order.
NEWEST_FIRST_FIELDS = ("order_date", "order_id", "status", "product_id", "description", "end_date")


def orders_newest_first(orders: pl.DataFrame) -> dict[str, list[tuple[Any, ...]]]:
    """Return every customer's orders, newest first (by date, then order_id), as rows of NEWEST_FIRST_FIELDS.

    Orders with the same date and order_id keep their file order (a stable sort, in reverse).
    """
    numbered = orders.select("customer_id", *NEWEST_FIRST_FIELDS).with_row_index("row")
    ordered = numbered.sort(["order_date", "order_id", "row"], descending=[True, True, False])
    index: dict[str, list[tuple[Any, ...]]] = {}
    for customer_id, order_date, order_id, status, product_id, description, end_date in ordered.drop("row").iter_rows():
        index.setdefault(customer_id, []).append(
            (order_date, order_id, _STATUSES[status], product_id, description, end_date)
        )
    return index


# --------------------------------------------------------------------------- evaluations and interactions

R = TypeVar("R", Evaluation, Interaction)

# Per record type: each field's column type. A Decimal (a score) is kept as its text, which
# gives it back to the exponent (8 and 8.0 print differently); an enum as its value.
EVALUATION_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "customer_id": pl.String,
    "date": pl.Date,
    "score": pl.String,
    "order_id": pl.String,
    "comment": pl.String,
}
INTERACTION_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "customer_id": pl.String,
    "date": pl.Date,
    "contact_id": pl.String,
    "channel": pl.String,
    "our_level": pl.String,
    "their_level": pl.String,
    "note": pl.String,
    "source": pl.String,
}
_SCHEMAS: dict[type[Any], dict[str, pl.DataType | type[pl.DataType]]] = {
    Evaluation: EVALUATION_SCHEMA,
    Interaction: INTERACTION_SCHEMA,
}


def _optional(kind: Callable[[str], Any]) -> Callable[[str | None], Any]:
    return lambda value: None if value is None else kind(value)


# How a cell becomes a field value again (fields not named are the cell itself).
_DECODE: dict[type[Any], dict[str, Callable[[Any], Any]]] = {
    Evaluation: {"score": Decimal},
    Interaction: {"channel": _optional(Channel), "our_level": _optional(OurLevel), "their_level": _optional(Level)},
}


def _cell(value: Any) -> Any:
    """Return a field value as its frame cell: an enum's value, a Decimal's text, anything else itself."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    return value


class RecordColumns(Generic[R]):
    """Collect records of one type (Evaluation or Interaction) into columns, then make the frame."""

    def __init__(self, record_type: type[R]) -> None:
        self._schema = _SCHEMAS[record_type]
        self._defaults = [f.default for f in dataclasses.fields(record_type)]
        self._columns: list[list[Any]] = [[] for _ in self._schema]
        self._frames: list[pl.DataFrame] = []

    def add(self, *values: Any) -> None:
        """Add one record: its field values in the constructor's order; trailing ones may be left to their defaults."""
        for column, value in zip(self._columns, (*values, *self._defaults[len(values) :]), strict=True):
            column.append(_cell(value))
        if len(self._columns[0]) >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        self._frames.append(pl.DataFrame(dict(zip(self._schema, self._columns, strict=True)), schema=self._schema))
        self._columns = [[] for _ in self._schema]

    def frame(self) -> pl.DataFrame:
        """Return the frame of the records added (the columns are handed over: add no more)."""
        self._flush()
        frames, self._frames = self._frames, []
        return pl.concat(frames, rechunk=True) if len(frames) > 1 else frames[0]


def records_frame(record_type: type[R], records: Iterable[R]) -> pl.DataFrame:
    """Return evaluations or interactions as a frame, in the order given."""
    if isinstance(records, pl.DataFrame):
        return records
    columns = RecordColumns(record_type)
    names = list(_SCHEMAS[record_type])
    for record in records:
        if type(record) is not record_type:
            raise TypeError(f"a frame of {record_type.__name__} cannot hold {record!r}")
        columns.add(*(getattr(record, name) for name in names))
    return columns.frame()


def records(record_type: type[R], frame: pl.DataFrame) -> list[R]:
    """Return a frame's rows as records of `record_type`, in frame order."""
    decode = _DECODE[record_type]
    columns = [
        map(decode[name], frame.get_column(name).to_list()) if name in decode else frame.get_column(name).to_list()
        for name in _SCHEMAS[record_type]
    ]
    return list(map(record_type, *columns))
