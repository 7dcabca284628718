"""Write a block of customers with their contacts, orders, evaluations and interactions.

Every value is drawn from the block's one random generator in a fixed order (customer,
contacts, orders with their evaluations, interactions, customer by customer), so a seed always
gives the same bytes: reordering the draws below changes the generated data.

Rows are plain lists of strings, dates come from a precomputed table of ISO strings, and each
CSV file is streamed to disk in large batches, so memory stays flat at any size.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

from pipeline.demo.catalogue import PRODUCTS, SECTOR_PRODUCTS, SECTOR_WEIGHTS, SECTORS
from pipeline.demo.names import Names, name_slug, slug, spread, surname
from pipeline.demo.words import (
    AREA_CODES,
    COMMENTS_HIGH,
    COMMENTS_LOW,
    FIRST_NAMES,
    INTL_FIRST,
    INTL_LAST,
    JOB_TITLES,
    LEVEL_INTERESTS,
    SUPPRESSION_REASONS,
)

REFERENCE_AS_OF = date(2026, 11, 30)
HISTORY_START = date(2023, 12, 1)  # the export holds three years of orders
_EPOCH = date(2008, 1, 1)  # day 0 of the ISO-string table
_DAYS = [(_EPOCH + timedelta(days=i)).isoformat() for i in range((date(2031, 1, 1) - _EPOCH).days)]
_AS_OF = (REFERENCE_AS_OF - _EPOCH).days
_HISTORY = (HISTORY_START - _EPOCH).days
_FLUSH_ROWS = 50_000
_CONTRACT_DAYS = (365, 365, 365, 180, 90, 730)
_CHANNELS = ("call", "visit", "meeting", "email")
_CHANNEL_CUM_WEIGHTS = (45, 60, 85, 100)
# Cumulative weights, so that choices() need not add them up on every draw (the same draws).
_SECTOR_CUM_WEIGHTS = tuple(accumulate(SECTOR_WEIGHTS))
_AM_CUM_WEIGHTS = tuple(accumulate((24, 22, 20, 18, 16)))  # the five named account managers' books
_LEVEL_ORDER = ("management", "operational", "technical", "finance")
_PRODUCTS_BY_ID = {p.id: p for p in PRODUCTS}
_MEAN_SIZE = math.exp(1.05**2 / 2)  # the mean of the customers' lognormal size

HEADERS = {
    "customers": (
        "customer_id",
        "name",
        "account_manager_id",
        "sector",
        "language",
        "customer_since",
        "reference_customer",
        "referrals",
        "knowledge_partner",
        "strategic_fit",
    ),
    "contacts": (
        "contact_id",
        "customer_id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "job_title",
        "level",
        "language",
        "newsletter_opt_in",
        "do_not_call",
        "interests",
    ),
    "orders": (
        "order_id",
        "customer_id",
        "product_id",
        "description",
        "order_date",
        "end_date",
        "revenue",
        "cost",
        "status",
    ),
    "evaluations": ("customer_id", "order_id", "date", "score", "comment"),
    "interactions": ("customer_id", "contact_id", "date", "channel", "our_level", "their_level"),
}
MAX_CONTACTS = 12  # per customer: numbering room per block
MAX_ORDERS = 401  # per customer, a signed future order included

# (sector, international, name, domain) of a customer drawn before the blocks are written.
Given = tuple[str, bool, str, str]
# An order while it is drawn: [product, start day, end day, revenue, margin, open-ended].
_Order = list[Any]
# Keys of the orders in C, not lambdas: they run for every order several times.
_START, _END, _BY_START_END = itemgetter(1), itemgetter(2), itemgetter(1, 2)


@dataclass(frozen=True)
class Layout:
    """What every block needs to know about the whole data set."""

    n_customers: int
    width: int  # digits of a customer id
    contact_width: int
    order_width: int
    am_ids: tuple[str, ...]


@dataclass(frozen=True)
class BlockResult:
    """The row counts of a block, its suppressed addresses and its customers' recent revenue."""

    counts: dict[str, int]
    suppressions: list[list[str]]
    window_revenue: list[tuple[float, str, str]]  # (revenue in the last 12 months, id, name)


class CsvOut:
    """One CSV file written in large batches."""

    def __init__(self, path: Path, header: Sequence[str] | None) -> None:
        self.handle: IO[str] = path.open("w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.handle, lineterminator="\n")
        if header is not None:
            self.writer.writerow(header)
        self.rows: list[list[str]] = []
        self.count = 0

    def add(self, row: list[str]) -> None:
        """Queue a row; flush() writes it."""
        self.rows.append(row)

    def flush_if_full(self) -> None:
        """Write the queued rows once there are many."""
        if len(self.rows) >= _FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write the queued rows."""
        self.writer.writerows(self.rows)
        self.count += len(self.rows)
        self.rows.clear()

    def close(self) -> None:
        """Write what is queued and close the file."""
        self.flush()
        self.handle.close()


def draw_sector(rng: random.Random, ci: int) -> tuple[str, bool]:
    """Return the sector of customer number `ci`, and whether it is an international one."""
    sector = rng.choices(SECTORS, cum_weights=_SECTOR_CUM_WEIGHTS)[0]
    return sector, sector != "overheid" and spread(ci) < 0.17


@dataclass(slots=True)
class _Customer:
    """A customer as drawn, before its rows are written."""

    id: str
    name: str
    sector: str
    international: bool
    domain: str
    rel: float  # size relative to the mean customer
    status: str  # its state on the reference date: none, active, recent, quiet or lost
    since: int  # days since _EPOCH, like the other days below
    horizon_start: int  # its orders run within [horizon_start, horizon_end]
    horizon_end: int

    @property
    def language(self) -> str:
        return "en" if self.international else "nl"

    @property
    def big(self) -> bool:
        return self.rel > 2.0


def _draw_history(rng: random.Random) -> tuple[str, int, int, int]:
    """Return a customer's state on the reference date, its start day and its orders' horizon."""
    # The customer's state on the reference as-of date decides where its orders end.
    r = rng.random()
    if r < 0.02:
        status = "none"
    elif r < 0.43:
        status = "active"
    elif r < 0.53:
        status = "recent"
    elif r < 0.90:
        status = "quiet"
    else:
        status = "lost"
    if status == "active":
        horizon_end = _AS_OF
    elif status == "recent":
        horizon_end = _AS_OF - rng.randint(1, 29)
    elif status == "quiet":
        horizon_end = _AS_OF - rng.randint(30, 300)
    else:
        horizon_end = _AS_OF - rng.randint(370, 900)

    if status == "none" or rng.random() < 0.08:
        since = _AS_OF - rng.randint(20, 700)  # a newer customer
    else:
        since = _AS_OF - rng.randint(700, 6000)
    if status != "none":
        since = min(since, horizon_end - rng.randint(60, 400))
    horizon_start = max(since, _HISTORY)
    if horizon_start > horizon_end - 30:
        horizon_start = horizon_end - 30
    return status, since, horizon_start, horizon_end


def write_block(
    folder: Path,
    block: int | None,
    layout: Layout,
    first_ci: int,
    last_ci: int,
    rng: random.Random,
    given: list[Given] | None,
) -> BlockResult:
    """Write customers first_ci..last_ci with their contacts, orders, evaluations and interactions.

    `block` None writes the final files with headers; a number writes headerless part files.
    `given` holds (sector, international, name, domain) per customer when drawn beforehand.
    """
    writer = _BlockWriter(folder, block, layout, first_ci, rng)
    for ci in range(first_ci, last_ci + 1):
        writer.flush_if_full()
        customer = writer.draw_customer(ci, None if given is None else given[ci - first_ci])
        writer.write_customer(customer)
        contacts = writer.write_contacts(customer)
        if customer.status == "none":
            continue
        orders, satisfaction = writer.draw_orders(customer)
        writer.write_orders(customer, orders, satisfaction)
        writer.write_interactions(customer, contacts)
    return writer.close()


class _BlockWriter:
    """The five CSV files of a block, its numbering and its random generator: one method per table."""

    def __init__(self, folder: Path, block: int | None, layout: Layout, first_ci: int, rng: random.Random) -> None:
        def open_table(name: str) -> CsvOut:
            if block is None:
                return CsvOut(folder / f"{name}.csv", HEADERS[name])
            return CsvOut(folder / f"{name}.{block:05d}.csv", None)

        self.customers, self.contacts, self.orders = (
            open_table("customers"),
            open_table("contacts"),
            open_table("orders"),
        )
        self.evaluations, self.interactions = open_table("evaluations"), open_table("interactions")
        self.tables = (self.customers, self.contacts, self.orders, self.evaluations, self.interactions)
        self.rng = rng
        self.layout = layout
        self.names = Names(rng)
        self.contact_seq = (first_ci - 1) * MAX_CONTACTS
        self.order_seq = (first_ci - 1) * MAX_ORDERS
        self.suppressions: list[list[str]] = []
        self.window_revenue: list[tuple[float, str, str]] = []

    def flush_if_full(self) -> None:
        """Write the rows of each table that has many queued."""
        for table in self.tables:
            table.flush_if_full()

    def close(self) -> BlockResult:
        """Close the files; return what the block wrote."""
        for table in self.tables:
            table.close()
        counts = {name: table.count for name, table in zip(HEADERS, self.tables, strict=True)}
        return BlockResult(counts, self.suppressions, self.window_revenue)

    def draw_customer(self, ci: int, given: Given | None) -> _Customer:
        """Draw customer number `ci`: its name, size and history (sector and name unless given)."""
        rng = self.rng
        if given is None:
            sector, international = draw_sector(rng, ci)
            name = self.names.company(sector, international)
            domain = self.names.domain(name, international)
        else:
            sector, international, name, domain = given
        rel = rng.lognormvariate(0.0, 1.05) / _MEAN_SIZE
        status, since, horizon_start, horizon_end = _draw_history(rng)
        customer_id = f"C{ci:0{self.layout.width}d}"
        return _Customer(
            customer_id, name, sector, international, domain, rel, status, since, horizon_start, horizon_end
        )

    def write_customer(self, customer: _Customer) -> None:
        """Write the customer's row of customers.csv."""
        rng = self.rng
        big = customer.big
        reference = rng.random() < (0.30 if big else 0.08)
        knowledge = rng.random() < (0.20 if big else 0.06)
        referrals = 0 if rng.random() < 0.8 else rng.randint(1, 4)
        fit = min(5, max(0, int(rng.gauss(2.3 + (0.8 if big else 0), 1.2) + 0.5)))
        # The five named account managers carry unequal books, as in real life.
        am_ids = self.layout.am_ids
        am = rng.choices(range(5), cum_weights=_AM_CUM_WEIGHTS)[0] if len(am_ids) == 5 else rng.randrange(len(am_ids))
        self.customers.add(
            [
                customer.id,
                customer.name,
                am_ids[am],
                customer.sector,
                customer.language,
                _DAYS[customer.since],
                "ja" if reference else "nee",
                str(referrals),
                "ja" if knowledge else "nee",
                str(fit),
            ]
        )

    def write_contacts(self, customer: _Customer) -> list[tuple[str, str, str]]:
        """Write the customer's rows of contacts.csv (and suppressed addresses); return (id, level, email) each.

        Management comes first, then the other levels; bigger customers have more contacts.
        """
        rng = self.rng
        n_contacts = max(1, min(MAX_CONTACTS, round(rng.lognormvariate(1.01, 0.42) * customer.rel**0.25)))
        customer_id, domain, international = customer.id, customer.domain, customer.international
        language = customer.language
        contact_width = self.layout.contact_width
        written: list[tuple[str, str, str]] = []  # (id, level, email)
        used_emails: set[str] = set()
        seq = self.contact_seq
        for k in range(n_contacts):
            seq += 1
            contact_id = f"P{seq:0{contact_width}d}"
            level = _LEVEL_ORDER[k] if k < 4 else rng.choice(_LEVEL_ORDER)
            if international and rng.random() < 0.7:
                first, last = rng.choice(INTL_FIRST), rng.choice(INTL_LAST)
            else:
                first, last = rng.choice(FIRST_NAMES), surname(rng, company=False)
            local = f"{name_slug(first)}.{name_slug(last)}"
            if local in used_emails:
                local = f"{name_slug(first)[0]}.{name_slug(last)}{k + 1}"
            used_emails.add(local)
            email = _email(rng, first, last, local, domain)
            phone = _phone(rng)
            contact_lang = _contact_language(rng, international)
            interests = sorted(set(rng.sample(LEVEL_INTERESTS[level], rng.randint(0, 3))))
            self.contacts.add(
                [
                    contact_id,
                    customer_id,
                    first,
                    last,
                    email,
                    phone,
                    rng.choice(JOB_TITLES[contact_lang or language][level]),
                    level,
                    contact_lang,
                    "ja" if rng.random() < 0.8 else "nee",
                    "ja" if rng.random() < 0.04 else "nee",
                    ";".join(interests),
                ]
            )
            written.append((contact_id, level, email))
            if spread(seq) < 0.016:
                self._maybe_suppress(email)
        self.contact_seq = seq
        return written

    def _maybe_suppress(self, email: str) -> None:
        """Put the address on the suppression list if it is well-formed (about 1.6% of the contacts are picked)."""
        if "@" in email and email.count("@") == 1 and not email.endswith("@") and " " not in email:
            when = _AS_OF - self.rng.randint(10, 500)
            self.suppressions.append([email, self.rng.choice(SUPPRESSION_REASONS), _DAYS[when]])

    def draw_orders(self, customer: _Customer) -> tuple[list[_Order], float]:
        """Draw the customer's orders, sorted by start; return them and its mean satisfaction.

        A portfolio of products bought again and again, amounts scaled by size, ending so that
        the customer's state on the reference date is the one drawn.
        """
        rng = self.rng
        horizon_start, horizon_end = customer.horizon_start, customer.horizon_end
        rel = customer.rel
        sector_products = SECTOR_PRODUCTS[customer.sector]
        n_products = max(1, min(len(sector_products), round(1.5 + rel**0.4 * rng.uniform(1, 2.5))))
        portfolio = [_PRODUCTS_BY_ID[p] for p in rng.sample(sector_products, n_products)]
        if rng.random() < 0.3:
            portfolio.append(_PRODUCTS_BY_ID[rng.choice(PRODUCTS).id])
        mean_orders = 19.5 * (horizon_end - horizon_start) / (_AS_OF - _HISTORY)
        n_orders = max(1, min(400, round(mean_orders * rel * rng.uniform(0.7, 1.3))))
        scale = rel**0.55
        satisfaction = rng.gauss(8.35, 0.55)
        active = customer.status == "active"
        orders: list[_Order] = []
        for _ in range(n_orders):
            product = rng.choice(portfolio)
            duration = rng.randint(10, 80) if product.project else rng.choice(_CONTRACT_DAYS)
            # Only an active customer's orders may still run on the as-of date.
            latest = horizon_end - 1 if active else horizon_end - duration
            if latest < horizon_start:
                duration = max(5, horizon_end - horizon_start)
                latest = horizon_end - duration
            start = rng.randint(horizon_start, latest)
            revenue = product.base_revenue * scale * rng.lognormvariate(0.0, 0.4)
            if product.project and revenue < 750:
                revenue = 750 + revenue
            margin = rng.uniform(0.20, 0.45)
            orders.append([product, start, start + duration, revenue, margin, False])
        _settle_state(rng, customer, orders)
        if active and rng.random() < 0.04:
            future = _PRODUCTS_BY_ID[rng.choice(portfolio).id]  # signed, starts after the as-of date
            orders.append(
                [future, _AS_OF + rng.randint(1, 45), 0, future.base_revenue * scale, rng.uniform(0.2, 0.45), True]
            )
        orders.sort(key=_BY_START_END)
        return orders, satisfaction

    def write_orders(self, customer: _Customer, orders: list[_Order], satisfaction: float) -> None:
        """Write the customer's rows of orders.csv, and of evaluations.csv after many ended orders."""
        rng, days = self.rng, _DAYS
        customer_id, horizon_end = customer.id, customer.horizon_end
        scale = customer.rel**0.55
        order_width = self.layout.order_width
        add_order = self.orders.rows.append  # the row list is emptied in place on flush
        recent_revenue = 0.0
        seq = self.order_seq
        for product, start, end, revenue, margin, open_ended in orders:
            seq += 1
            order_id = f"O{seq:0{order_width}d}"
            # A cancelled order never decides the customer's state: not the one that ends last.
            cancelled = not open_ended and end < horizon_end and rng.random() < 0.02
            if cancelled:
                end_text, state = "", "cancelled"
            elif open_ended:
                end_text, state = "", "open"
            else:
                end_text, state = days[end], ("open" if end >= _AS_OF else "closed")
            description = rng.choice(product.descriptions).format(n=max(2, round(rng.uniform(5, 40) * scale)))
            cost = revenue * (1 - margin)
            if not cancelled and _AS_OF - 365 < start <= _AS_OF:
                recent_revenue += revenue
            add_order(
                [
                    order_id,
                    customer_id,
                    product.id,
                    description,
                    days[start],
                    end_text,
                    f"{revenue:.2f}",
                    f"{cost:.2f}",
                    state,
                ]
            )
            if state == "closed" and end <= _AS_OF - 3 and rng.random() < 0.3:
                self.write_evaluation(customer, order_id, end, satisfaction)
        self.order_seq = seq
        if recent_revenue > 0:
            self.window_revenue.append((recent_revenue, customer_id, customer.name))

    def write_evaluation(self, customer: _Customer, order_id: str, end: int, satisfaction: float) -> None:
        """Write a row of evaluations.csv for an order that ended on day `end`."""
        rng, language = self.rng, "en" if customer.international else "nl"
        when = min(_AS_OF, end + rng.randint(3, 25))
        score = min(10.0, max(3.0, rng.gauss(satisfaction, 0.55)))
        score = round(score * 2) / 2 if rng.random() < 0.6 else round(score, 1)
        comment = ""
        if score < 8:
            comment = rng.choice(COMMENTS_LOW[language])
        elif score >= 8.5 and rng.random() < 0.35:
            comment = rng.choice(COMMENTS_HIGH[language])
        self.evaluations.add([customer.id, order_id, _DAYS[when], f"{score:g}", comment])

    def write_interactions(self, customer: _Customer, contacts: list[tuple[str, str, str]]) -> None:
        """Write the customer's rows of interactions.csv: calls, visits and meetings over the last 18 months."""
        rng = self.rng
        n_interactions = min(40, int(rng.expovariate(1 / (2.2 + 2.5 * min(customer.rel, 4)))))
        if customer.status == "lost":
            n_interactions //= 3
        big = customer.big
        picks = []
        for _ in range(n_interactions):
            contact_id, level, _email = rng.choice(contacts)
            by_management = level == "management" and rng.random() < (0.5 if big else 0.15)
            ours = "management" if by_management else "account_manager"
            channel = rng.choices(_CHANNELS, cum_weights=_CHANNEL_CUM_WEIGHTS)[0]
            picks.append((_AS_OF - rng.randint(0, 540), contact_id, channel, ours, level))
        for when, contact_id, channel, ours, level in sorted(picks):
            self.interactions.add([customer.id, contact_id, _DAYS[when], channel, ours, level])


def _settle_state(rng: random.Random, customer: _Customer, orders: list[_Order]) -> None:
    """Move the order dates so that the customer's state on the reference date is the one drawn.

    The last order is usually a recent one, so a customer in a quiet period still has revenue in
    the segmentation window (only lost customers fall to D).
    """
    latest_order = max(orders, key=_END)
    if customer.status == "active":
        newest = max(orders, key=_START)
        if newest[1] <= _AS_OF - 365 and rng.random() < 0.9:
            shift = max(customer.horizon_start, _AS_OF - rng.randint(14, 330)) - newest[1]
            newest[1] += shift
            newest[2] += shift
        latest_order = max(orders, key=_END)
        if latest_order[2] < _AS_OF:
            latest_order[5] = True
        for o in orders:
            if not o[0].project and o[2] >= _AS_OF and rng.random() < 0.25:
                o[5] = True  # a running contract without an end date
    else:
        latest_order[2] = customer.horizon_end
        if customer.status != "lost":
            latest_order[1] = max(customer.horizon_start, customer.horizon_end - rng.randint(14, 90))


def _email(rng: random.Random, first: str, last: str, local: str, domain: str) -> str:
    """Return a contact's address: usually local@domain, sometimes none, sometimes a malformed one."""
    roll = rng.random()
    if roll < 0.025:
        return ""  # no address known
    if roll < 0.037:
        return rng.choice(
            (f"{local}@", f"{local}@@{domain}", f"{local}.{domain}", f"{first.lower()} {slug(last)}@{domain}")
        )
    return f"{local}@{domain}"


def _phone(rng: random.Random) -> str:
    """Return a mobile number, a landline number or (one in ten) none."""
    phone_roll = rng.random()
    if phone_roll < 0.65:
        return f"+31 6 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
    if phone_roll < 0.9:
        area = rng.choice(AREA_CODES)
        digits = f"{rng.randint(0, 10 ** (10 - len(area)) - 1):0{10 - len(area)}d}"
        return f"{area} {digits[:3]} {digits[3:]}"
    return ""


def _contact_language(rng: random.Random, international: bool) -> str:
    """Return a contact's own language when it differs from the customer's, else ""."""
    if not international and rng.random() < 0.03:
        return "en"
    if international and rng.random() < 0.1:
        return "nl"
    return ""
