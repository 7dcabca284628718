"""Split the customers into A/B/C/D by value: docs/guide/segmentation.md, exactly.

Shares and cut-off decisions use exact fractions, never floats, so a customer whose
preceding cumulative share is exactly a cut-off lands on the same side on every machine.
"""

from __future__ import annotations

import calendar
import functools
import logging
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

from babel import Locale
from babel.numbers import format_percent

from pipeline.language import N_, Money, Notice, Share, notice_label, notice_template
from pipeline.models import (
    Customer,
    CustomerValue,
    Dataset,
    Segment,
    Segmentation,
    SegmentMove,
    SegmentsConfig,
)
from pipeline.tables import window_totals
from pipeline.writer import RunWriter, csv_bytes, spreadsheet_text

log = logging.getLogger(__name__)

DUTCH = Locale.parse("nl_NL")  # parsed once: Babel parses a locale name again on every call

ELEMENTS = ("revenue", "margin", "strategic")
ELEMENT_LABELS = {
    "revenue": notice_label(N_("revenue share")),
    "margin": notice_label(N_("margin share")),
    "strategic": notice_label(N_("strategic share")),
}

# Warnings and explanations: English, and translated where a page shows them (pipeline.language).
OVERRIDE_UNKNOWN = notice_template(N_(
    "override %(customer_id)s → %(segment)s ignored: no customer %(customer_id)s in customers.csv"
))
OVERRIDE_EXPIRED = notice_template(N_(
    "override %(customer_id)s → %(segment)s expired on %(until)s and was not applied (reason was: %(reason)s); "
    "remove it or extend `until` in segments.yaml"
))
NOT_FROZEN = notice_template(N_(
    "no frozen segmentation: computed one for %(as_of)s (review it, then freeze it with "
    "`windstil segment --as-of %(date)s --freeze`; approving does not wait for it)"
))
FROZEN_OLD = notice_template(N_(
    "the frozen segmentation of %(frozen)s is %(age)s days old (more than %(limit)s); "
    "review and freeze a new one with `windstil segment --freeze`"
))
NEWCOMERS = notice_template(N_(
    "%(count)s customer(s) are not in the frozen segmentation of %(frozen)s and got their computed segment: %(ids)s"
))
MOVE_OVERRIDE = notice_template(N_("%(before)s → %(after)s: override: %(reason)s"))
MOVE_OVERRIDE_UNTIL = notice_template(N_("%(before)s → %(after)s: override: %(reason)s (until %(until)s)"))
MOVE_OVERRIDE_ENDED = notice_template(N_("%(before)s → %(after)s: override ended (was: %(reason)s)"))
MOVE_NO_REVENUE = notice_template(N_(
    "%(before)s → %(after)s: no revenue in the window (revenue share %(share)s → %(zero)s)"
))
MOVE_OTHERS = notice_template(N_(
    "%(before)s → %(after)s: its own shares hardly changed; other customers' did, and the cumulative share "
    "before it moved %(share_before)s → %(share_after)s"
))
MOVE_ELEMENT = notice_template(N_(
    "%(before)s → %(after)s: %(element)s %(share_before)s → %(share_after)s (%(amount_before)s → %(amount_after)s)"
))
POINTS = notice_template(N_("%(points)s points"))
SEGMENTS_CSV_COLUMNS = (
    "customer_id",
    "name",
    "group",
    "segment",
    "value_share",
    "revenue",
    "margin",
    "strategic",
    "revenue_share",
    "margin_share",
    "strategic_share",
    "override_reason",
)
FROZEN_MAX_AGE_DAYS = 90


def months_before(day: date, months: int) -> date:
    """Return `day` moved back `months` calendar months, clamped to the end of a shorter month."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def strategic_points(customer: Customer, config: SegmentsConfig) -> int:
    """Return the customer's strategic points with the point values of the config."""
    p = config.points
    return (
        p.reference_customer * int(customer.reference_customer)
        + p.knowledge_partner * int(customer.knowledge_partner)
        + p.referral * min(customer.referrals, p.max_referrals)
        + p.strategic_fit * customer.strategic_fit
    )


def group_of(customer: Customer, config: SegmentsConfig) -> str:
    """Return the customer's group: the value of the `groups.by` attribute, "" when ungrouped."""
    if not config.groups_by:
        return ""
    return str(getattr(customer, config.groups_by, "") or "")


def segment(
    data: Dataset,
    config: SegmentsConfig,
    as_of: date,
    previous: Segmentation | None = None,
) -> Segmentation:
    """Compute the value segmentation on `as_of`; explain moves against `previous` if given."""
    start = months_before(as_of, config.window_months)
    # Over the columns: the sums are the Decimals adding up each order's revenue and
    # revenue − cost make, without making an Order per row.
    in_window_revenue, in_window_margin = window_totals(data.orders, start, as_of)
    revenue: dict[str, Decimal] = defaultdict(Decimal, in_window_revenue)
    net_margin: dict[str, Decimal] = defaultdict(Decimal, in_window_margin)

    groups: dict[str, list[Customer]] = defaultdict(list)
    for customer in data.customers.values():
        groups[group_of(customer, config)].append(customer)

    weights = {e: Fraction(config.weights.get(e, 0)) for e in ELEMENTS}
    rows: list[CustomerValue] = []
    for group in sorted(groups):
        rows += _group_rows(group, groups[group], config, weights, revenue, net_margin)
    customers, warnings = _with_overrides({row.customer_id: row for row in rows}, config, as_of)
    for warning in warnings:
        log.warning(warning)

    moves = explain_moves(previous, customers, weights) if previous is not None else ()
    return Segmentation(as_of=as_of, customers=customers, moves=moves, warnings=tuple(warnings))


def _group_rows(
    group: str,
    members: list[Customer],
    config: SegmentsConfig,
    weights: dict[str, Fraction],
    revenue: dict[str, Decimal],
    net_margin: dict[str, Decimal],
) -> list[CustomerValue]:
    """Return one group's rows of the segmentation, in segment order (value share descending)."""
    cutoff_a = Fraction(config.cutoffs[Segment.A])
    cutoff_b = Fraction(config.cutoffs[Segment.B])
    ids = [c.customer_id for c in members]
    strategic = [strategic_points(c, config) for c in members]
    # Shares are of what a customer brings: a net credit (negative revenue) counts as 0.
    amounts = {
        "revenue": [max(Decimal(0), revenue[cid]) for cid in ids],
        "margin": [max(Decimal(0), net_margin[cid]) for cid in ids],
        "strategic": [Decimal(points) for points in strategic],
    }
    # Exact, in integers: each element's amounts over one common denominator, and every
    # customer's value share over the common denominator `scale` of the weighted shares.
    # Fraction arithmetic gave the same numbers at a gcd per operation, most of the time
    # of segmenting 100,000 customers.
    counts = {e: _integers(amounts[e]) for e in ELEMENTS}
    totals = {e: sum(counts[e]) for e in ELEMENTS}
    used = [e for e in ELEMENTS if totals[e] and weights[e]]
    scale = math.lcm(*(weights[e].denominator * totals[e] for e in used)) if used else 1
    factors = {e: weights[e].numerator * (scale // (weights[e].denominator * totals[e])) for e in used}
    values = [sum(factors[e] * counts[e][i] for e in used) for i in range(len(ids))]
    order = sorted(range(len(ids)), key=lambda i: (-values[i], ids[i]))
    limit_a = cutoff_a.numerator * scale
    limit_b = cutoff_b.numerator * scale
    rows: list[CustomerValue] = []
    cumulative = 0
    for i in order:
        cid = ids[i]
        before = cumulative
        cumulative += values[i]
        if revenue[cid] <= 0:
            seg = Segment.D  # no revenue in the window, whatever its strategic points
        elif before * cutoff_a.denominator < limit_a:
            seg = Segment.A
        elif before * cutoff_b.denominator < limit_b:
            seg = Segment.B
        else:
            seg = Segment.C
        share = {e: Fraction(counts[e][i], totals[e]) if totals[e] else Fraction(0) for e in ELEMENTS}
        rows.append(
            CustomerValue(
                customer_id=cid,
                name=members[i].name,
                group=group,
                segment=seg,
                computed_segment=seg,
                value_share=Fraction(values[i], scale),
                revenue=revenue[cid],
                margin=amounts["margin"][i],
                strategic=strategic[i],
                revenue_share=share["revenue"],
                margin_share=share["margin"],
                strategic_share=share["strategic"],
                cumulative_before=Fraction(before, scale),
            )
        )
    return rows


def _integers(amounts: list[Decimal]) -> list[int]:
    """Return the amounts as integers over one common denominator (a power of ten), exactly."""
    ratios = [amount.as_integer_ratio() for amount in amounts]
    common = math.lcm(*(d for _, d in ratios)) if ratios else 1
    return [n * (common // d) for n, d in ratios]


def _with_overrides(
    customers: dict[str, CustomerValue], config: SegmentsConfig, as_of: date
) -> tuple[dict[str, CustomerValue], list[str]]:
    """Return the rows with segments.yaml's overrides applied, and a warning per override not applied."""
    warnings: list[str] = []
    for override in config.overrides:
        about = {"customer_id": override.customer_id, "segment": override.segment.value}
        if override.customer_id not in customers:
            warnings.append(Notice(OVERRIDE_UNKNOWN, **about))
        elif override.until is not None and override.until < as_of:
            warnings.append(Notice(OVERRIDE_EXPIRED, **about, until=override.until, reason=override.reason))
        else:
            customers[override.customer_id] = replace(
                customers[override.customer_id],
                segment=override.segment,
                override_reason=override.reason,
                override_until=override.until,
            )
    return customers, warnings


def percent(share: Fraction) -> str:
    """Format a share as a Dutch percentage: one decimal (4,1%), two below 1% (0,37%)."""
    value = Decimal(share.numerator) / Decimal(share.denominator)
    pattern = "#,##0.00%" if 0 < abs(value) < Decimal("0.00995") else "#,##0.0%"
    # Round as Babel does (|value| × 100, normalised, half-even to the pattern's places), then
    # let Babel write each rounded value once: the reports format 50,000 shares at 10,000
    # customers, and Babel was most of the report's time.
    places = _TWO_PLACES if pattern == "#,##0.00%" else _ONE_PLACE
    return _percent_text(value.is_signed(), abs(value.scaleb(2)).normalize().quantize(places), pattern)


_ONE_PLACE, _TWO_PLACES = Decimal("0.1"), Decimal("0.01")


@functools.lru_cache(maxsize=8192)
def _percent_text(negative: bool, rounded: Decimal, pattern: str) -> str:
    value = rounded.copy_negate() if negative else rounded
    return str(format_percent(value.scaleb(-2), pattern, locale=DUTCH))


def _amount(element: str, row: CustomerValue) -> str | Money:
    if element == "strategic":
        return Notice(POINTS, points=row.strategic)
    return Money(getattr(row, element))


def explain_move(before: CustomerValue, after: CustomerValue, weights: Mapping[str, Fraction]) -> str:
    """Say in words why a customer moved: the element whose weighted share moved most."""
    head = {"before": before.segment.value, "after": after.segment.value}
    if after.override_reason:
        if after.override_until:
            return Notice(MOVE_OVERRIDE_UNTIL, **head, reason=after.override_reason, until=after.override_until)
        return Notice(MOVE_OVERRIDE, **head, reason=after.override_reason)
    if before.override_reason and not after.override_reason:
        return Notice(MOVE_OVERRIDE_ENDED, **head, reason=before.override_reason)
    if after.revenue <= 0 < before.revenue:
        return Notice(MOVE_NO_REVENUE, **head, share=Share(before.revenue_share), zero=Share(Fraction(0)))
    shares_before = (before.revenue_share, before.margin_share, before.strategic_share)
    shares_after = (after.revenue_share, after.margin_share, after.strategic_share)
    change = [
        (weights.get(e, Fraction(0)) * abs(a - b), -i, e, b, a)
        for i, (e, b, a) in enumerate(zip(ELEMENTS, shares_before, shares_after, strict=True))
    ]
    weighted, _, element, share_before, share_after = max(change)
    if weighted == 0 or percent(share_before) == percent(share_after):
        # Its shares barely moved; other customers' values did. Say so, not "0,37% → 0,37%".
        return Notice(
            MOVE_OTHERS,
            **head,
            share_before=Share(before.cumulative_before),
            share_after=Share(after.cumulative_before),
        )
    return Notice(
        MOVE_ELEMENT,
        **head,
        element=Notice(ELEMENT_LABELS[element]),
        share_before=Share(share_before),
        share_after=Share(share_after),
        amount_before=_amount(element, before),
        amount_after=_amount(element, after),
    )


def explain_moves(
    previous: Segmentation,
    customers: Mapping[str, CustomerValue],
    weights: Mapping[str, Fraction],
) -> tuple[SegmentMove, ...]:
    """Return the customers whose segment differs from `previous`, each with its explanation."""
    moves = []
    for cid, after in customers.items():
        before = previous.customers.get(cid)
        if before is None or before.segment == after.segment:
            continue
        moves.append(
            SegmentMove(
                customer_id=cid,
                name=after.name,
                before=before.segment,
                after=after.segment,
                explanation=explain_move(before, after, weights),
            )
        )
    return tuple(moves)


def resolve_segmentation(
    data: Dataset,
    config: SegmentsConfig,
    as_of: date,
    frozen: Segmentation | None,
) -> Segmentation:
    """Return the segmentation a run uses: the frozen one if any, else one computed for `as_of`.

    Customers that joined after the freeze get their computed segment, with a warning; a
    frozen segmentation older than 90 days is used, with a warning to freeze a new one.
    """
    computed = segment(data, config, as_of, previous=frozen)
    if frozen is None:
        note = Notice(NOT_FROZEN, as_of=as_of, date=as_of.isoformat())  # the command's date as typed
        log.warning(note)
        return replace(computed, warnings=(*computed.warnings, note))
    warnings: list[str] = []
    age = (as_of - frozen.as_of).days
    if age > FROZEN_MAX_AGE_DAYS:
        warnings.append(Notice(FROZEN_OLD, frozen=frozen.as_of, age=age, limit=FROZEN_MAX_AGE_DAYS))
    customers = {cid: row for cid, row in frozen.customers.items() if cid in data.customers}
    joined = [cid for cid in computed.customers if cid not in customers]
    for cid in joined:
        customers[cid] = computed.customers[cid]
    if joined:
        ids = ", ".join(joined[:10]) + (" …" if len(joined) > 10 else "")
        warnings.append(Notice(NEWCOMERS, count=len(joined), frozen=frozen.as_of, ids=ids))
    for warning in warnings:
        log.warning(warning)
    return replace(frozen, customers=customers, moves=computed.moves, warnings=(*frozen.warnings, *warnings))


def summarize(seg: Segmentation) -> dict[Segment, tuple[int, Fraction]]:
    """Return per segment the number of customers and its share of the revenue in the window."""
    rows = list(seg.customers.values())
    total = sum((max(Decimal(0), r.revenue) for r in rows), Decimal(0))
    summary = {}
    for name in Segment:
        members = [r for r in rows if r.segment is name]
        revenue = sum((max(Decimal(0), r.revenue) for r in members), Decimal(0))
        summary[name] = (len(members), Fraction(revenue) / Fraction(total) if total else Fraction(0))
    return summary


def _decimal6(share: Fraction) -> str:
    # Rounded exactly and half to even, as round() rounds a Fraction (no float drift in the
    # CSV), in integers: making the Fraction share * 1,000,000 cost more than the rest.
    millionths, remainder = divmod(share.numerator * 1_000_000, share.denominator)
    if remainder * 2 > share.denominator or (remainder * 2 == share.denominator and millionths % 2):
        millionths += 1
    sign = "-" if millionths < 0 else ""
    whole, frac = divmod(abs(millionths), 1_000_000)
    return f"{sign}{whole}.{frac:06d}"


def segments_csv_bytes(seg: Segmentation) -> bytes:
    """Return segments.csv: the documented columns in order, shares as decimals with 6 places."""
    return csv_bytes(
        SEGMENTS_CSV_COLUMNS,
        (
            (
                row.customer_id,
                spreadsheet_text(row.name),
                spreadsheet_text(row.group),
                row.segment.value,
                _decimal6(row.value_share),
                f"{row.revenue:.2f}",
                f"{row.margin:.2f}",
                row.strategic,
                _decimal6(row.revenue_share),
                _decimal6(row.margin_share),
                _decimal6(row.strategic_share),
                spreadsheet_text(row.override_reason),
            )
            for row in seg.customers.values()
        ),
    )


def write_segments_csv(writer: RunWriter, seg: Segmentation, relpath: str = "segments.csv") -> None:
    """Write segments.csv through the run writer."""
    writer.write_bytes(relpath, segments_csv_bytes(seg))
