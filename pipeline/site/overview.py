"""The overview page's data (counts, changes, checks, feedback, segments) and the variants page's."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

# The call reasons in the call lists' own words, so that the site and the lists name them alike.
from pipeline.call_lists import REASON_LABELS as CALL_LABELS
from pipeline.feedback import FeedbackKind
from pipeline.language import N_, labels
from pipeline.models import MessageKind, Segment
from pipeline.site.model import SiteData, _language, _name
from pipeline.site.terms import (
    CHECK_FIXES,
    CHECK_LABELS,
    COUNT_LABELS,
    FIGURES,
    KIND_LABELS,
    LEVEL_LABELS,
    LINT_LABELS,
    SIZE_BUDGET,
    SKIP_LABELS,
    count_labels,
)

# --------------------------------------------------------------------------- variants


Variants = list[tuple[tuple[str, str, tuple[str, ...]], list[str]]]


def _variant_keys(site: SiteData) -> dict[tuple[str, str, tuple[str, ...]], list[str]]:
    """Group contacts by (kind, language, item ids) of a rendered message, in contact order."""
    language = {s.contact_id: s.language for s in site.selections}
    groups: dict[tuple[str, str, tuple[str, ...]], list[str]] = defaultdict(list)
    for selection in site.selections:
        for kind in (MessageKind.NEWSLETTER, MessageKind.ALERT):
            message = site.rendered.get((selection.contact_id, kind))
            if message is not None:
                key = (kind.value, language[selection.contact_id], tuple(message.item_ids))
                groups[key].append(selection.contact_id)
    return groups


def _ordered_variants(site: SiteData) -> Variants:
    groups = _variant_keys(site)
    return sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0][0] != "newsletter", kv[0]))


def _variant_index(ordered: Variants) -> dict[tuple[str, MessageKind], int]:
    index: dict[tuple[str, MessageKind], int] = {}
    for number, ((kind, _, _), members) in enumerate(ordered):
        for contact_id in members:
            index[(contact_id, MessageKind(kind))] = number
    return index


def _variants(site: SiteData, ordered: Variants) -> list[dict[str, Any]]:
    """Return the variants, largest first: a reviewer checks each distinct message once."""
    by_contact = {s.contact_id: s for s in site.selections}
    result = []
    for (kind, language, item_ids), members in ordered:
        segments = Counter(by_contact[c].segment.value for c in members)
        lints = sum(1 for c in members if site.rendered[(c, MessageKind(kind))].lints)
        result.append(
            {
                "kind": kind,
                "language": language,
                "items": list(item_ids),
                "count": len(members),
                "representative": members[0],
                "representative_name": _name(site.data, members[0]),
                "segments": dict(sorted(segments.items())),
                "fallback": kind == "newsletter" and by_contact[members[0]].fallback,
                "with_lints": lints,
            }
        )
    return result


# --------------------------------------------------------------------------- overview


FEEDBACK_LABELS = {
    FeedbackKind.UNSUBSCRIBE: N_("unsubscribes"),
    FeedbackKind.HARD_BOUNCE: N_("hard bounces (address unusable)"),
    FeedbackKind.SOFT_BOUNCE: N_("soft bounces (temporary)"),
    FeedbackKind.REPLY: N_("replies from contacts"),
    FeedbackKind.AUTO_REPLY: N_("automatic replies (out of office)"),
    FeedbackKind.CLICK: N_("clicks by people"),
}


def _feedback(site: SiteData) -> dict[str, Any]:
    """Return what came back since the previous run: counts per kind, the replies, the items clicked."""
    language = _language(site)
    events = list(site.feedback)
    counts = Counter(e.kind for e in events if not (e.kind is FeedbackKind.CLICK and e.automated))
    kinds = [k for k in FEEDBACK_LABELS if k is not FeedbackKind.CLICK or site.tracking]
    clicked = Counter(e.item_id for e in events if e.kind is FeedbackKind.CLICK and not e.automated)
    return {
        "since": language.date(site.feedback_since) if site.feedback_since else "",
        "rows": [(k.value, language.gettext(FEEDBACK_LABELS[k]), counts.get(k, 0)) for k in kinds],
        "automated": sum(1 for e in events if e.kind is FeedbackKind.CLICK and e.automated),
        "tracking": site.tracking,
        "replies": [
            (_name(site.data, e.contact_id) if e.contact_id else e.email, language.date(e.at.date()), e.detail)
            for e in events if e.kind is FeedbackKind.REPLY
        ][-10:],
        "clicked": [
            (site.data.content[i].title if i in site.data.content else i, n) for i, n in clicked.most_common(5)
        ],
    }


def _overview(site: SiteData, variants: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Return the overview page's context."""
    language = _language(site)
    counts = dict(site.counts)
    previous_counts, previous_run = _previous(site.previous)
    segment_rows = _segment_rows(site)
    lint_counts = Counter(lint.code for m in site.rendered.values() for lint in m.lints)
    lint_messages = sum(1 for m in site.rendered.values() if m.lints)
    over_budget = sum(1 for m in site.rendered.values() if m.html_bytes > SIZE_BUDGET)
    largest = max((m.html_bytes for m in site.rendered.values()), default=0)
    skips = {
        "newsletter": Counter(r.value for s in site.selections for r in s.newsletter_reasons),
        "alert": Counter(r.value for s in site.selections for r in s.alert_reasons),
    }
    call_reasons = Counter(r for c in site.calls for r in c.reasons)
    calls_per_am = Counter(c.account_manager_id for c in site.calls)
    figures = [(key, language.gettext(label)) for key, label in FIGURES]
    all_counts = count_labels(language)
    changes = []
    if previous_counts is not None:
        for key in sorted(set(counts) | set(previous_counts), key=_count_order):
            before, now = _comparable(previous_counts, key), _comparable(counts, key)
            if before is not None and now is not None and now != before:
                changes.append((key, all_counts.get(key, key), before, now, now - before))
    return {
        "feedback": _feedback(site),
        "counts": counts,
        "figures": [(key, label, counts.get(key, 0), _delta(counts, previous_counts, key)) for key, label in figures],
        "previous_run": previous_run,
        "has_previous": previous_counts is not None,
        "changes": changes,
        "segments": segment_rows,
        "moves": [replace(m, explanation=language.text(m.explanation)) for m in site.segmentation.moves],
        "frozen_at": language.date(site.segmentation.frozen_at),
        "skip_rows": [
            (code, label, skips["newsletter"].get(code, 0), skips["alert"].get(code, 0))
            for code, label in labels(language, SKIP_LABELS).items()
            if skips["newsletter"].get(code) or skips["alert"].get(code)
        ],
        "lint_rows": [
            (code, language.gettext(LINT_LABELS.get(code, code)), n) for code, n in lint_counts.most_common()
        ],
        "lint_messages": lint_messages,
        "over_budget": over_budget,
        "largest_kb": round(largest / 1024, 1),
        "variant_count": len(variants),
        "newsletter_variants": sum(1 for v in variants if v["kind"] == "newsletter"),
        "alert_variants": sum(1 for v in variants if v["kind"] == "alert"),
        "call_rows": [(language.gettext(CALL_LABELS[reason]), n) for reason, n in call_reasons.most_common()],
        "call_lists_counts": [(name, path, calls_per_am.get(Path(path).stem, 0)) for name, path in site.call_lists],
        "warnings": [language.text(w) for w in site.warnings],
        "contacts": len(site.selections),
        **_check_overview(site),
    }


def _check_overview(site: SiteData) -> dict[str, Any]:
    """Return the overview's pre-send check table: findings per check and level, messages affected."""
    language = _language(site)
    findings: Counter[tuple[str, str]] = Counter()
    messages: Counter[str] = Counter()
    for found in (site.checks or {}).values():
        for finding in found:
            findings[(finding.check, finding.level.value)] += 1
        for check in {f.check for f in found}:
            messages[check] += 1
    order = {code: n for n, code in enumerate(CHECK_LABELS)}
    rows = [
        {
            "code": code,
            "label": language.gettext(CHECK_LABELS.get(code, code)),
            "fix": language.gettext(CHECK_FIXES[code]) if code in CHECK_FIXES else "",
            "error": findings.get((code, "error"), 0),
            "warning": findings.get((code, "warning"), 0),
            "info": findings.get((code, "info"), 0),
            "messages": messages[code],
        }
        for code in sorted(messages, key=lambda c: (order.get(c, len(order)), c))
    ]
    return {
        "checks_run": site.checks is not None,
        "check_rows": rows,
        "check_errors": sum(r["error"] for r in rows),
        "check_warnings": sum(r["warning"] for r in rows),
        "check_messages": sum(1 for found in (site.checks or {}).values() if found),
        "accepted": [
            (code, language.gettext(CHECK_LABELS.get(code, code)), n)
            for code, n in sorted((site.accepted or {}).items())
        ],
        "spam": [
            (
                language.gettext(KIND_LABELS[MessageKind(kind)]),
                values["scored"],
                language.number(values["worst"], 1),
                language.number(values["median"], 1),
            )
            for kind, values in (site.spam or {}).items()
        ],
    }


def _segment_rows(site: SiteData) -> list[dict[str, Any]]:
    # Counted by the segments themselves: str enums, the same keys as their values.
    seg = site.segmentation
    customers = Counter(v.segment for v in seg.customers.values())
    revenue: dict[Segment, float] = defaultdict(float)
    total_revenue = sum(float(v.revenue) for v in seg.customers.values())
    for value in seg.customers.values():
        revenue[value.segment] += float(value.revenue)
    quiet_customers: Counter[Segment] = Counter()
    if site.quiet is not None:
        for customer_id, status in site.quiet.items():
            if status.quiet and customer_id in seg.customers:
                quiet_customers[seg.customers[customer_id].segment] += 1
    else:
        seen = {(s.customer_id, s.segment) for s in site.selections if s.quiet}
        quiet_customers.update(segment for _, segment in seen)
    made: dict[Segment, Counter[MessageKind]] = defaultdict(Counter)
    for selection in site.selections:
        for kind in MessageKind:
            if (selection.contact_id, kind) in site.rendered:
                made[selection.segment][kind] += 1
    calls = Counter(c.segment for c in site.calls)
    return [
        {
            "segment": s.value,
            "customers": customers.get(s, 0),
            "revenue_share": (revenue[s] / total_revenue * 100) if total_revenue else 0.0,
            "quiet": quiet_customers.get(s, 0),
            "newsletters": made[s].get(MessageKind.NEWSLETTER, 0),
            "alerts": made[s].get(MessageKind.ALERT, 0),
            "calls": calls.get(s, 0),
        }
        for s in Segment
    ]


def _previous(previous: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, str]:
    """Return the previous run's counts and its id from a manifest or a bare counts mapping."""
    if previous is None:
        return None, ""
    counts = previous.get("counts")
    if isinstance(counts, Mapping):
        return dict(counts), str(previous.get("as_of", ""))
    return dict(previous), ""


def _comparable(counts: Mapping[str, Any], key: str) -> int | None:
    """Return a count for comparison: absent skip_/lint_ counts were 0, other absent ones unknown."""
    value = counts.get(key)
    if isinstance(value, int):
        return value
    return 0 if value is None and key.startswith(("skip_", "lint_", "check_")) else None


def _delta(counts: Mapping[str, Any], previous: Mapping[str, Any] | None, key: str) -> int | None:
    if previous is None:
        return None
    before, now = _comparable(previous, key), _comparable(counts, key)
    return None if before is None or now is None else now - before


_CHECK_COUNTS = ("check_errors", "check_warnings", "check_infos", "messages_with_errors")
_ORDER = [
    *(key for key in COUNT_LABELS if key not in _CHECK_COUNTS),
    *(f"skip_{code}" for code in SKIP_LABELS),
    *(f"lint_{code}" for code in LINT_LABELS),
    *_CHECK_COUNTS,
    *(f"check_{code}_{level}" for code in CHECK_LABELS for level in LEVEL_LABELS),
]


def _count_order(key: str) -> tuple[int, str]:
    return (_ORDER.index(key) if key in _ORDER else len(_ORDER), key)
