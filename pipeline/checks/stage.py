"""The run's `checks` stage: every check on every rendered message, and checks.csv.

A variant is a group of messages with the same kind, language and items: their bodies
differ only in the personal parts (name, account manager, unsubscribe token). The
content-only checks run on one representative of each variant and apply to all its
copies; the personal checks run on every message; SpamAssassin scores one representative
per variant, largest variants first, up to `checks.spam_max_variants`.
"""

from __future__ import annotations

import heapq
import logging
import os
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.checks import CHECKS, Finding, Level
from pipeline.checks.content import LinkPolicy, content_findings
from pipeline.checks.personal import personal_findings
from pipeline.checks.spam import SpamResult, spam_findings
from pipeline.language import N_, Notice, notice_template
from pipeline.models import MessageKind, RenderedMessage, Selection
from pipeline.processes import Workers
from pipeline.writer import csv_bytes, spreadsheet_text

log = logging.getLogger(__name__)

VariantKey = tuple[str, str, tuple[str, ...]]  # kind, language, item ids
MessageKey = tuple[str, MessageKind]  # contact_id, kind
UNSCORED_ITEMS = notice_template(N_(
    "SpamAssassin scored no message with %(count)s of the run's items (%(example)s; in %(messages)s messages): "
    "raise checks.spam_max_variants to score them"
))
COLUMNS = ("contact_id", "kind", "check", "level", "detail")


def message_variants(selections: Iterable[Selection]) -> dict[MessageKey, VariantKey]:
    """Return the variant of every message the selections ask for, in selection order."""
    variants: dict[MessageKey, VariantKey] = {}
    for s in selections:
        if s.newsletter and s.items:
            variants[(s.contact_id, MessageKind.NEWSLETTER)] = (
                "newsletter", s.language, tuple(item.item_id for item in s.items))
        if s.alert and s.alert_item is not None:
            variants[(s.contact_id, MessageKind.ALERT)] = ("alert", s.language, (s.alert_item.item_id,))
    return variants


def spam_representatives(variants: Mapping[MessageKey, VariantKey], limit: int) -> dict[MessageKey, VariantKey]:
    """Return the message that stands for each of the `limit` largest variants.

    Among equally large variants, those that show SpamAssassin the most of what it has not
    yet seen go first (see _parts), then the one made first: the limit mostly cuts through
    variants of a few messages each, and there it decides which items get scored at all.
    """
    first: dict[VariantKey, MessageKey] = {}
    for message, variant in variants.items():
        first.setdefault(variant, message)
    by_size: dict[int, list[VariantKey]] = defaultdict(list)
    for variant, size in Counter(variants.values()).items():
        by_size[size].append(variant)
    chosen: list[VariantKey] = []
    shown: set[tuple[str, ...]] = set()
    for size in sorted(by_size, reverse=True):
        left = max(0, limit) - len(chosen)
        if left <= 0:
            break
        group = by_size[size]  # in the order made
        taken = group if len(group) <= left else _most_new(group, shown, left)
        chosen += taken
        shown.update(part for variant in taken for part in _parts(variant))
    return {first[v]: v for v in chosen}


def _parts(variant: VariantKey) -> set[tuple[str, ...]]:
    """Return what of a variant SpamAssassin's verdict may turn on: its items, its first item, its length.

    The first item opens most subjects (a later one does when the first's title does not fit
    beside the contact's name; that depends on the name, not on the variant).
    """
    kind, language, items = variant
    return ({(kind, language, "item", item) for item in items}
            | {(kind, language, "subject", items[0]), (kind, language, "count", str(len(items)))})


def _most_new(group: Sequence[VariantKey], shown: set[tuple[str, ...]], count: int) -> list[VariantKey]:
    """Return `count` of `group`, each time the one with the most parts not yet shown (ties: the earlier).

    Lazy greedy: a variant's count of new parts only falls as others are taken, so a count
    taken from the heap is worked out again only when it comes to the top.
    """
    shown = set(shown)
    parts = [_parts(v) for v in group]
    heap = [(-len(p - shown), n) for n, p in enumerate(parts)]
    heapq.heapify(heap)
    taken: list[VariantKey] = []
    while len(taken) < count:
        _, n = heapq.heappop(heap)
        new = len(parts[n] - shown)
        if heap and (-new, n) > heap[0]:
            heapq.heappush(heap, (-new, n))  # another now shows more
            continue
        taken.append(group[n])
        shown |= parts[n]
    return taken


def unscored_items(variants: Mapping[MessageKey, VariantKey], scored: Iterable[VariantKey]) -> Notice | None:
    """Return a warning naming the items no scored variant has, with the messages that have them; None: none."""
    seen = {item for _, _, items in scored for item in items}
    missing: set[str] = set()
    messages = 0
    for _, _, items in variants.values():
        unseen = [item for item in items if item not in seen]
        missing.update(unseen)
        messages += bool(unseen)
    if not missing:
        return None
    return Notice(UNSCORED_ITEMS, count=len(missing), example=", ".join(sorted(missing)[:3]), messages=messages)


@dataclass
class CheckResults:
    """The findings of a run, per message, and what the spam check scored."""

    findings: dict[MessageKey, tuple[Finding, ...]] = field(default_factory=dict)
    spam: dict[VariantKey, SpamResult | None] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Return the counts for the manifest: findings per level and messages per check and level."""
        levels: Counter[str] = Counter()
        per_check: Counter[str] = Counter()
        for found in self.findings.values():
            for finding in found:
                levels[finding.level.value] += 1
            for check, level in {(f.check, f.level.value) for f in found}:
                per_check[f"check_{check}_{level}"] += 1
        return {
            "check_errors": levels.get("error", 0),
            "check_warnings": levels.get("warning", 0),
            "check_infos": levels.get("info", 0),
            "messages_with_errors": sum(1 for f in self.findings.values() if any(x.level is Level.ERROR for x in f)),
            **dict(sorted(per_check.items())),
        }

    def spam_summary(self) -> dict[str, Any]:
        """Return how many variants SpamAssassin scored and their worst and median score, by kind."""
        summary: dict[str, Any] = {}
        for kind in ("newsletter", "alert"):
            # SpamAssassin prints one decimal, so a total of -0.001 reads "-0.0"; + 0.0 makes that 0.0.
            scores = sorted(round(r.score, 1) + 0.0 for v, r in self.spam.items() if r is not None and v[0] == kind)
            if scores:
                summary[kind] = {"scored": len(scores), "worst": scores[-1], "median": statistics.median(scores)}
        return summary

    def erroring_checks(self) -> Counter[str]:
        """Return the number of error findings per check."""
        return Counter(f.check for found in self.findings.values() for f in found if f.level is Level.ERROR)


def run_checks(
    folder: Path,
    rendered: Mapping[MessageKey, RenderedMessage],
    variants: Mapping[MessageKey, VariantKey],
    policy: LinkPolicy,
    *,
    pool: Workers | None = None,
) -> CheckResults:
    """Check every rendered message in `folder` (the run folder); return the findings per message.

    The content-only checks of each variant's representative go to `pool` (the run's render
    processes, idle by now) when there is one, while this process runs the personal checks of
    every message. The spam scores come later, with add_spam_findings(): SpamAssassin goes on
    scoring while the run makes its call lists and reports.
    """
    representatives: dict[VariantKey, MessageKey] = {}
    for key, message in rendered.items():
        representatives.setdefault(_variant(key, message, variants), key)
    emails = str(folder / "emails")  # joined as strings: a Path per message costs more than the check
    jobs = [(os.path.join(emails, contact_id, kind.value), policy) for contact_id, kind in representatives.values()]
    keys = list(rendered)
    messages = [(os.path.join(emails, contact_id, kind.value), rendered[(contact_id, kind)].subject,
                 rendered[(contact_id, kind)].preheader) for contact_id, kind in keys]
    batches = [messages[start : start + PERSONAL_BATCH] for start in range(0, len(messages), PERSONAL_BATCH)]
    content: Iterator[tuple[Finding, ...]]
    personal_batches: Iterator[list[tuple[Finding, ...]]]
    if pool is not None and len(jobs) + len(messages) > PERSONAL_BATCH:
        content = pool.imap(variant_findings, jobs, CONTENT_CHUNK)
        personal_batches = pool.imap(message_findings, batches)
    else:
        content, personal_batches = map(variant_findings, jobs), map(message_findings, batches)
    personal = dict(zip(keys, (found for batch in personal_batches for found in batch), strict=True))
    by_variant = dict(zip(representatives, content, strict=True))
    results = CheckResults()
    for key, message in rendered.items():
        shared = by_variant[_variant(key, message, variants)]
        results.findings[key] = (*personal[key], *shared) if personal[key] else shared
    log.info("checks: %d messages, %d variants, %d findings", len(rendered), len(by_variant),
             sum(len(f) for f in results.findings.values()))
    return results


def add_spam_findings(
    results: CheckResults,
    rendered: Mapping[MessageKey, RenderedMessage],
    variants: Mapping[MessageKey, VariantKey],
    scores: Mapping[VariantKey, SpamResult | None] | None,
    *,
    spam_available: bool,
) -> None:
    """Add each message's spam_score finding (its variant's) to `results`; `scores` None: spam scoring is off."""
    if scores is None:
        return
    results.spam = dict(scores)
    by_variant: dict[VariantKey, tuple[Finding, ...]] = {}
    for key, message in rendered.items():
        variant = _variant(key, message, variants)
        if variant not in by_variant:
            by_variant[variant] = tuple(spam_findings(scores.get(variant), available=spam_available,
                                                      scored=variant in scores))
        if by_variant[variant]:
            results.findings[key] = (*results.findings.get(key, ()), *by_variant[variant])


def _variant(key: MessageKey, message: RenderedMessage, variants: Mapping[MessageKey, VariantKey]) -> VariantKey:
    """Return a message's variant (one of its own when the selections did not name it)."""
    return variants.get(key) or (key[1].value, "", message.item_ids)


CONTENT_CHUNK = 16  # variants handed to a render process at once


def variant_findings(job: tuple[str, LinkPolicy]) -> tuple[Finding, ...]:
    """Return the content-only findings of one variant's representative (its files' path without suffix)."""
    base, policy = job
    html = Path(base + ".html").read_text(encoding="utf-8", errors="replace")
    text = Path(base + ".txt").read_text(encoding="utf-8", errors="replace")
    return tuple(content_findings(html, text, policy))


PERSONAL_BATCH = 500  # messages handed to a render process at once


def message_findings(batch: list[tuple[str, str, str]]) -> list[tuple[Finding, ...]]:
    """Return the personal findings of each message: (its files' path without suffix, subject, preheader)."""
    found = []
    for base, subject, preheader in batch:
        with open(base + ".html", "rb") as html, open(base + ".txt", "rb") as text:
            found.append(tuple(personal_findings(html.read(), text.read(), subject, preheader)))
    return found


def checks_csv_bytes(results: CheckResults) -> bytes:
    """Return checks.csv: one row per finding, `contact_id, kind, check, level, detail`."""
    order = {check: n for n, check in enumerate(CHECKS)}
    rows: list[Sequence[object]] = []
    for (contact_id, kind), found in results.findings.items():
        for finding in sorted(found, key=lambda f: order.get(f.check, len(order))):
            rows.append((contact_id, kind.value, finding.check, finding.level.value, spreadsheet_text(finding.detail)))
    return csv_bytes(COLUMNS, rows)
