"""The segmentation and retention reports: self-contained, printable HTML pages.

Templates live in templates/reports/ (a project's own templates folder first, then the bundled
one); autoescaped; charts are inline SVG computed here, so the pages need no external assets
and open from file:// or in the preview site alike. They speak the project's language
(settings.yaml: language), numbers, percentages, amounts and dates included (€ 1.234,56 and
4,1% in Dutch, €1,234.56 and 4.1% in English).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import jinja2
from babel.numbers import format_currency, format_decimal

from pipeline.language import DEFAULT_LANGUAGE, N_, page_language
from pipeline.load import load_project
from pipeline.models import (
    CustomerValue,
    Dataset,
    Retention,
    Segment,
    Segmentation,
    SegmentsConfig,
)
from pipeline.segment import DUTCH, months_before, percent, segment, write_segments_csv
from pipeline.state import State
from pipeline.templating import BUNDLED, page_environment
from pipeline.writer import atomic_folder

log = logging.getLogger(__name__)

BUNDLED_TEMPLATES = BUNDLED
PARETO_MARK = Fraction(4, 5)
SEGMENTATION_TITLE = N_("Customer segmentation %(day)s")
RETENTION_TITLE = N_("Customer retention %(day)s")
GROUP_LABELS = {"sector": N_("sector"), "language": N_("language"), "account_manager_id": N_("account manager")}
MAX_CURVE_POINTS = 600  # enough for a smooth curve; keeps the page small for big customer bases


def eur(amount: Decimal | int | float) -> str:
    """Format an amount in euro the Dutch way: € 1.234,56."""
    return str(format_currency(Decimal(amount), "EUR", locale=DUTCH))


def number(value: int | Decimal) -> str:
    """Format a number the Dutch way: 1.234."""
    return str(format_decimal(value, locale=DUTCH))


def pct(share: Fraction | Decimal | int | None) -> str:
    """Format a share as a Dutch percentage (4,1%); an absent share as a dash."""
    if share is None:
        return "–"
    return percent(Fraction(share))


def _environment(templates: Path | None, language: str = DEFAULT_LANGUAGE) -> jinja2.Environment:
    words = page_language(language, templates)

    def share(value: Fraction | Decimal | int | None) -> str:
        return "–" if value is None else words.percent(value)

    filters: dict[str, Callable[..., Any]] = {
        "eur": words.money,
        "pct": share,
        "number": words.number,
        "date": words.date,
        "text": words.text,
    }
    return page_environment((templates, BUNDLED_TEMPLATES), filters, keep_trailing_newline=False, language=words)


def _share(part: Decimal, total: Decimal) -> Fraction:
    return Fraction(part) / Fraction(total) if total else Fraction(0)


# --------------------------------------------------------------------------- Pareto curve


@dataclass(frozen=True)
class Curve:
    """A cumulative-share curve and where it reaches 80%."""

    label: str
    path: str  # SVG path data in chart coordinates
    mark_share: Fraction | None  # share of customers that brings 80%
    mark_x: float
    mark_y: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    top: int
    plot_w: int
    plot_h: int
    curves: tuple[Curve, ...]
    ticks: tuple[tuple[float, float, str], ...]  # (x, y, label) for both axes


def _curve(label: str, values: Sequence[Decimal], chart: dict[str, int]) -> Curve:
    ordered = sorted((max(Decimal(0), v) for v in values), reverse=True)
    n = len(ordered)
    total = sum(ordered, Decimal(0))
    left, top, w, h = chart["left"], chart["top"], chart["plot_w"], chart["plot_h"]

    def xy(x: Fraction, y: Fraction) -> tuple[float, float]:
        return left + float(x) * w, top + h - float(y) * h

    points = [(Fraction(0), Fraction(0))]
    cumulative = Decimal(0)
    mark: Fraction | None = None
    step = max(1, -(-n // MAX_CURVE_POINTS))
    # The share as a Fraction only for the points drawn: a Decimal compares exactly with a
    # Fraction, and making one per customer was most of the chart's time.
    reach = PARETO_MARK * Fraction(total)
    for k, value in enumerate(ordered, start=1):
        cumulative += value
        if mark is None and total and cumulative >= reach:
            mark = Fraction(k, n)
            points.append((mark, _share(cumulative, total)))
        elif k % step == 0 or k == n:
            points.append((Fraction(k, n), _share(cumulative, total)))
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(xy(a, b) for a, b in points))
    mx, my = xy(mark, PARETO_MARK) if mark is not None else (0.0, 0.0)
    return Curve(label=label, path=path, mark_share=mark, mark_x=mx, mark_y=my)


def pareto_chart(revenues: Sequence[Decimal], margins: Sequence[Decimal]) -> Chart:
    """Return the Pareto chart: cumulative revenue and margin share against share of customers."""
    geometry = {"left": 56, "top": 16, "plot_w": 560, "plot_h": 280}
    ticks = []
    for i in range(0, 11, 2):
        frac = Fraction(i, 10)
        label = f"{i * 10}%"
        ticks.append((geometry["left"] + float(frac) * geometry["plot_w"], geometry["top"] + geometry["plot_h"], label))
    curves = (_curve("revenue", revenues, geometry), _curve("margin", margins, geometry))
    return Chart(
        width=geometry["left"] + geometry["plot_w"] + 24,
        height=geometry["top"] + geometry["plot_h"] + 48,
        curves=curves,
        ticks=tuple(ticks),
        **geometry,
    )


# --------------------------------------------------------------------------- segmentation report


@dataclass(frozen=True, slots=True)
class CustomerLine:
    """One customer's line in the segmentation report: `c.row`, `c.manager`, `c.sector` (or `c["row"]`).

    An object, not a dict: a template reads `c.row` as an attribute first, and a dict fails
    that first try (an exception caught in Jinja, three a line, 30,000 lines).
    """

    row: CustomerValue
    manager: str
    sector: str


def render_segmentation_report(
    seg: Segmentation,
    data: Dataset,
    config: SegmentsConfig,
    *,
    previous_as_of: date | None = None,
    templates: Path | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> str:
    """Return segments.html: per-segment figures, Pareto curve, overrides, moves, every customer.

    `previous_as_of` names the frozen segmentation the moves were computed against.
    """
    return "".join(
        segmentation_report_pieces(
            seg, data, config, previous_as_of=previous_as_of, templates=templates, language=language
        )
    )


def segmentation_report_pieces(
    seg: Segmentation,
    data: Dataset,
    config: SegmentsConfig,
    *,
    previous_as_of: date | None = None,
    templates: Path | None = None,
    language: str = DEFAULT_LANGUAGE,
    in_run: bool = False,
) -> Iterator[str]:
    """Return segments.html as the template makes it, piece by piece, for RunWriter.write_pieces.

    `in_run`: the page is a run's reports/segments.html, and links back to the run's overview.
    """
    rows = list(seg.customers.values())
    total_revenue = sum((max(Decimal(0), r.revenue) for r in rows), Decimal(0))
    total_margin = sum((r.margin for r in rows), Decimal(0))
    summary = []
    for name in Segment:
        members = [r for r in rows if r.segment is name]
        revenue = sum((max(Decimal(0), r.revenue) for r in members), Decimal(0))
        margin = sum((r.margin for r in members), Decimal(0))
        summary.append(
            {
                "segment": name.value,
                "count": len(members),
                "customer_share": Fraction(len(members), len(rows)) if rows else Fraction(0),
                "revenue": revenue,
                "revenue_share": _share(revenue, total_revenue),
                "margin": margin,
                "margin_share": _share(margin, total_margin),
                "overridden": sum(1 for r in members if r.override_reason),
            }
        )
    groups: dict[str, dict[str, int]] = {}
    for r in rows:
        if r.group:
            groups.setdefault(r.group, {s.value: 0 for s in Segment})[r.segment.value] += 1

    chart = pareto_chart([r.revenue for r in rows], [r.margin for r in rows])
    managers = {
        cid: data.account_managers[c.account_manager_id].name
        for cid, c in data.customers.items()
        if c.account_manager_id in data.account_managers
    }
    customers = [
        CustomerLine(
            row=r,
            manager=managers.get(r.customer_id, ""),
            sector=data.customers[r.customer_id].sector if r.customer_id in data.customers else "",
        )
        for r in rows
    ]
    overrides = [r for r in rows if r.override_reason]
    window_start = months_before(seg.as_of, config.window_months)
    words = page_language(language, templates)
    context: dict[str, Any] = {
        "in_run": in_run,
        "seg": seg,
        "title": words(SEGMENTATION_TITLE, day=seg.as_of),
        "window_start": window_start,
        "window_months": config.window_months,
        "weights": {k: config.weights.get(k, Fraction(0)) for k in ("revenue", "margin", "strategic")},
        "cutoffs": {s.value: c for s, c in config.cutoffs.items()},
        "groups_by": config.groups_by,
        "group_label": words.gettext(GROUP_LABELS.get(config.groups_by or "", config.groups_by or "")),
        "total_customers": len(rows),
        "total_revenue": total_revenue,
        "total_margin": total_margin,
        "summary": summary,
        "groups": groups,
        "chart": chart,
        "overrides": overrides,
        "moves": seg.moves,
        "previous_as_of": previous_as_of,
        "customers": customers,
    }
    return _environment(templates, language).get_template("reports/segments.html").generate(context)


# --------------------------------------------------------------------------- retention report


@dataclass(frozen=True)
class Bar:
    """One segment's bar: retained and lost out of the previous window, new beside it."""

    retained_w: float
    lost_w: float
    new_w: float


def render_retention_report(
    ret: Retention, *, templates: Path | None = None, language: str = DEFAULT_LANGUAGE
) -> str:
    """Return retention.html: retention factor overall and per segment, revenue, lost customers."""
    scale = max([s.previous for s in ret.by_segment] + [s.new for s in ret.by_segment] + [1])
    width = 220.0
    bars = {
        s.segment.value: Bar(
            retained_w=width * s.retained / scale,
            lost_w=width * s.lost / scale,
            new_w=width * s.new / scale,
        )
        for s in ret.by_segment
    }
    revenue_total = ret.revenue_retained + ret.revenue_new
    context: dict[str, Any] = {
        "in_run": True,  # written into a run's reports/ only
        "ret": ret,
        "title": page_language(language, templates)(RETENTION_TITLE, day=ret.as_of),
        "bars": bars,
        "bar_width": width,
        "revenue_total": revenue_total,
        "retained_revenue_share": _share(ret.revenue_retained, revenue_total),
        "new_revenue_share": _share(ret.revenue_new, revenue_total),
        "below_norm": sum(
            1
            for c in ret.lost
            if c.last_evaluation_score is not None and c.last_evaluation_score < ret.satisfaction_norm
        ),
        "no_recent_contact": sum(
            1 for c in ret.lost if c.months_since_interaction is None or c.months_since_interaction >= 6
        ),
    }
    return _environment(templates, language).get_template("reports/retention.html").render(context)


# --------------------------------------------------------------------------- `windstil segment`


@dataclass(frozen=True)
class SegmentationOutput:
    """What `windstil segment` made."""

    segmentation: Segmentation
    folder: Path  # output/segmentation/<as-of>/
    frozen: bool
    previous_as_of: date | None  # the frozen segmentation the moves are against


def write_segmentation(
    root: Path, as_of: date, *, freeze: bool = False, today: date | None = None
) -> SegmentationOutput:
    """Segment the project on `as_of`, write segments.csv and segments.html, and freeze if asked.

    Moves are explained against the latest segmentation frozen on or before `as_of`. With
    `freeze`, the segmentation is stored before the folder is put in place, so a failed
    freeze leaves the previous output as it was.
    """
    project = load_project(root)
    settings = project.settings
    folder = settings.paths.output / "segmentation" / as_of.isoformat()
    with State.open(settings.paths.state) as state:
        previous = state.latest_frozen_segmentation(on_or_before=as_of)
        seg = segment(project.data, project.segments, as_of, previous=previous)
        if freeze:
            seg = replace(seg, frozen_at=today or date.today())
        previous_as_of = previous.as_of if previous else None
        with atomic_folder(folder) as writer:
            write_segments_csv(writer, seg)
            writer.write_pieces("segments.html", segmentation_report_pieces(
                seg, project.data, project.segments, previous_as_of=previous_as_of, templates=settings.paths.templates,
                language=settings.language,
            ))
            if freeze:
                state.freeze_segmentation(seg)
    log.info("segmentation of %s written to %s", as_of.isoformat(), folder)
    return SegmentationOutput(segmentation=seg, folder=folder, frozen=freeze, previous_as_of=previous_as_of)
