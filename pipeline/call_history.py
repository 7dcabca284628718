"""What the call lists know of each customer: its contacts, this run's selections, its orders'
products and revenue in two windows, its latest evaluation and interactions, its segment a
window ago, and the clicks and replies that came back.

Kept as the tables come (Polars frames) until pipeline.calls asks for a batch of customers;
then grouped per customer into CustomerFacts (see build_calls).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl

from pipeline.feedback import FeedbackEvent, FeedbackKind
from pipeline.models import (
    Contact,
    Dataset,
    Evaluation,
    Interaction,
    Level,
    OurLevel,
    Segment,
    Segmentation,
    SegmentsConfig,
    Selection,
)
from pipeline.segment import months_before
from pipeline.tables import (
    bought_products,
    counted_orders,
    records,
    records_frame,
    revenue_in_window,
    rows_of_customers,
)

Engagement = tuple[tuple[FeedbackEvent, ...], tuple[FeedbackEvent, ...]]  # (clicks, replies)


@dataclass(frozen=True)
class CustomerFacts:
    """Everything build_calls knows about one customer, grouped once."""

    contacts: tuple[Contact, ...]
    selections: tuple[Selection, ...]
    last: Interaction | None  # the latest up to the as-of date (on one day the later row)
    pair_last: Mapping[tuple[OurLevel, Level], date]  # per (our level, their level): the latest interaction's date
    evaluation: Evaluation | None  # the latest up to the as-of date (on one day the later row)
    bought: frozenset[str] = frozenset()  # product ids of its orders, cancelled ones not counted
    revenue: Decimal = Decimal(0)  # in (as_of − window, as_of], cancelled orders excluded
    previous_revenue: Decimal = Decimal(0)  # in the window before that
    ordered: bool = True  # whether it has any order up to the as-of date (cancelled ones not counted)
    segment_before: Segment | None = None  # its segment a window ago (None: not segmented then)
    clicks: tuple[FeedbackEvent, ...] = ()  # by people, on this or the previous run's messages, oldest first
    replies: tuple[FeedbackEvent, ...] = ()  # since the previous run, oldest first


@dataclass(frozen=True)
class CallHistory:
    """What build_calls reads of every customer, kept as it comes (mostly frames) until a batch is grouped."""

    data: Dataset
    contacts: Mapping[str, list[Contact]]
    chosen: Mapping[str, list[Selection]]
    interactions: pl.DataFrame  # the data's and the imported ones up to the as-of date, each once
    evaluations: pl.DataFrame  # up to the as-of date
    levels: pl.DataFrame  # contact_id → level, for an interaction without their level
    windows: tuple[date, date, date]  # the previous revenue window's start, the current one's, the as-of date
    engagement: Mapping[str, Engagement]
    earlier: Segmentation  # a window before the as-of date

    @classmethod
    def of(cls, data: Dataset, config: SegmentsConfig, selections: Sequence[Selection],
           imported: Sequence[Interaction], as_of: date, engagement: Mapping[str, Engagement],
           earlier: Segmentation) -> CallHistory:
        contacts: dict[str, list[Contact]] = defaultdict(list)
        for contact in data.contacts.values():
            contacts[contact.customer_id].append(contact)
        chosen: dict[str, list[Selection]] = defaultdict(list)
        for selection in selections:
            chosen[selection.customer_id].append(selection)
        interactions = data.interactions
        if imported:
            interactions = pl.concat([interactions, records_frame(Interaction, imported)])
        levels = pl.DataFrame(
            {"contact_id": list(data.contacts), "_level": [c.level.value for c in data.contacts.values()]},
            schema={"contact_id": pl.String, "_level": pl.String},
        )
        start = months_before(as_of, config.window_months)
        return cls(
            data=data,
            contacts=contacts,
            chosen=chosen,
            interactions=interactions.filter(pl.col("date") <= as_of).unique(keep="first", maintain_order=True),
            evaluations=data.evaluations.filter(pl.col("date") <= as_of),
            levels=levels,
            windows=(months_before(as_of, 2 * config.window_months), start, as_of),
            engagement=engagement,
            earlier=earlier,
        )

    def group(self, customer_ids: Sequence[str]) -> dict[str, CustomerFacts]:
        """Return the facts of these customers, grouped per customer."""
        orders = rows_of_customers(self.data.orders, customer_ids)  # in file order: the totals add up as before
        bought = bought_products(orders)
        before, start, as_of = self.windows
        revenue = revenue_in_window(orders, start, as_of)
        previous_revenue = revenue_in_window(orders, before, start)
        placed = orders.filter((pl.col("order_date") <= as_of) & counted_orders())
        ordered = set(placed.get_column("customer_id").unique().to_list())
        evaluations = rows_of_customers(self.evaluations, customer_ids)
        latest_evaluation = {e.customer_id: e for e in records(Evaluation, _latest_per_customer(evaluations))}
        last, pair_last = _interaction_history(rows_of_customers(self.interactions, customer_ids), self.levels)
        return {
            customer_id: CustomerFacts(
                contacts=tuple(self.contacts.get(customer_id, ())),
                selections=tuple(self.chosen.get(customer_id, ())),
                last=last.get(customer_id),
                pair_last=pair_last.get(customer_id, {}),
                evaluation=latest_evaluation.get(customer_id),
                bought=bought.get(customer_id, frozenset()),
                revenue=revenue.get(customer_id, Decimal(0)),
                previous_revenue=previous_revenue.get(customer_id, Decimal(0)),
                ordered=customer_id in ordered,
                segment_before=value.segment if (value := self.earlier.customers.get(customer_id)) else None,
                clicks=self.engagement.get(customer_id, ((), ()))[0],
                replies=self.engagement.get(customer_id, ((), ()))[1],
            )
            for customer_id in customer_ids
        }


def _latest_per_customer(frame: pl.DataFrame) -> pl.DataFrame:
    """Return each customer's latest row of `frame` (by date; on one day the later row), columns as they were."""
    return (
        frame.with_row_index("_row")
        .sort(["date", "_row"])
        .group_by("customer_id", maintain_order=True)
        .last()
        .select(frame.columns)
    )


def _interaction_history(
    frame: pl.DataFrame, levels: pl.DataFrame
) -> tuple[dict[str, Interaction], dict[str, dict[tuple[OurLevel, Level], date]]]:
    """Return per customer the latest interaction, and per pair of levels the date of the latest one.

    From the frame of interactions (the data's, then the imported ones, up to the as-of date,
    the same interaction counted once, where it came first), not a record of every one. An
    interaction without our level is the account manager's; without theirs, its contact's level
    (`levels`: contact_id, _level).
    """
    last = {i.customer_id: i for i in records(Interaction, _latest_per_customer(frame))}
    pairs = (
        frame.lazy()
        .join(levels.lazy(), on="contact_id", how="left")
        .select(
            "customer_id",
            "date",
            ours=pl.col("our_level").fill_null(OurLevel.ACCOUNT_MANAGER.value),
            theirs=pl.coalesce("their_level", "_level"),
        )
        .drop_nulls("theirs")
        .group_by("customer_id", "ours", "theirs")
        .agg(pl.col("date").max())
        .collect()
    )
    pair_last: dict[str, dict[tuple[OurLevel, Level], date]] = defaultdict(dict)
    level_pairs = {(o.value, t.value): (o, t) for o in OurLevel for t in Level}
    for customer_id, ours, theirs, day in pairs.iter_rows():
        pair_last[customer_id][level_pairs[(ours, theirs)]] = day
    return last, pair_last


def engagement_by_customer(
    data: Dataset, feedback: Sequence[FeedbackEvent], as_of: date, previous_run: date | None
) -> dict[str, Engagement]:
    """Return each customer's (clicks, replies) that make a reason to call, oldest first.

    Clicks: by a person (not marked automated) on a message of this run or the previous one.
    Replies: since the previous run's as-of date. Neither after this run's as-of date.
    """
    runs = {as_of.isoformat(), previous_run.isoformat() if previous_run else ""}
    clicks: dict[str, list[FeedbackEvent]] = defaultdict(list)
    replies: dict[str, list[FeedbackEvent]] = defaultdict(list)
    for event in sorted(feedback, key=lambda e: e.at):
        contact = data.contacts.get(event.contact_id)
        day = event.at.date()
        if contact is None or day > as_of:
            continue
        if event.kind is FeedbackKind.CLICK and not event.automated and event.run_id in runs:
            clicks[contact.customer_id].append(event)
        elif event.kind is FeedbackKind.REPLY and (previous_run is None or day > previous_run):
            replies[contact.customer_id].append(event)
    return {
        customer_id: (tuple(clicks.get(customer_id, ())), tuple(replies.get(customer_id, ())))
        for customer_id in {*clicks, *replies}
    }
