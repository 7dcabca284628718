"""The run's `checks` stage: every check on every rendered message, and checks.csv.

A variant is a group of messages with the same kind, language and items: their bodies
differ only in the personal parts (name, account manager, unsubscribe token). The
content-only checks run on one representative of each variant and apply to all its
copies; the personal checks run on every message; SpamAssassin scores one representative
per variant, largest variants first, up to `checks.spam_max_variants`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.checks import CHECKS, Finding, Level
from pipeline.checks.content import LinkPolicy, content_findings
from pipeline.checks.personal import personal_findings
from pipeline.checks.spam import SpamResult, spam_findings
from pipeline.models import MessageKind, RenderedMessage, Selection
from pipeline.writer import csv_bytes, spreadsheet_text

log = logging.getLogger(__name__)

VariantKey = tuple[str, str, tuple[str, ...]]  # kind, language, item ids
MessageKey = tuple[str, MessageKind]  # contact_id, kind
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
    """Return the message that stands for each of the `limit` largest variants (ties: first made)."""
    sizes = Counter(variants.values())
    first: dict[VariantKey, MessageKey] = {}
    for message, variant in variants.items():
        first.setdefault(variant, message)
    order = {variant: n for n, variant in enumerate(first)}
    largest = sorted(sizes, key=lambda v: (-sizes[v], order[v]))[: max(0, limit)]
    return {first[v]: v for v in largest}


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

    def erroring_checks(self) -> Counter[str]:
        """Return the number of error findings per check."""
        return Counter(f.check for found in self.findings.values() for f in found if f.level is Level.ERROR)


def run_checks(
    folder: Path,
    rendered: Mapping[MessageKey, RenderedMessage],
    variants: Mapping[MessageKey, VariantKey],
    policy: LinkPolicy,
    spam: Mapping[VariantKey, SpamResult | None] | None,
    *,
    spam_available: bool,
) -> CheckResults:
    """Check every rendered message in `folder` (the run folder); return the findings per message.

    `spam` holds the scores of the variants scored (None: spam scoring is switched off).
    """
    results = CheckResults(spam=dict(spam or {}))
    by_variant: dict[VariantKey, tuple[Finding, ...]] = {}
    for key, message in rendered.items():
        contact_id, kind = key
        html, text = _read(folder, contact_id, kind)
        variant = variants.get(key) or (kind.value, "", message.item_ids)
        shared = by_variant.get(variant)
        if shared is None:
            found = content_findings(html.decode("utf-8", "replace"), text.decode("utf-8", "replace"), policy)
            if spam is not None:
                found += spam_findings(spam.get(variant), available=spam_available, scored=variant in spam)
            shared = by_variant[variant] = tuple(found)
        personal = personal_findings(html, text, message.subject, message.preheader)
        results.findings[key] = (*personal, *shared) if personal else shared
    log.info("checks: %d messages, %d variants, %d findings", len(rendered), len(by_variant),
             sum(len(f) for f in results.findings.values()))
    return results


def _read(folder: Path, contact_id: str, kind: MessageKind) -> tuple[bytes, bytes]:
    base = folder / "emails" / contact_id / kind.value
    return base.with_suffix(".html").read_bytes(), base.with_suffix(".txt").read_bytes()


def checks_csv_bytes(results: CheckResults) -> bytes:
    """Return checks.csv: one row per finding, `contact_id, kind, check, level, detail`."""
    order = {check: n for n, check in enumerate(CHECKS)}
    rows: list[Sequence[object]] = []
    for (contact_id, kind), found in results.findings.items():
        for finding in sorted(found, key=lambda f: order.get(f.check, len(order))):
            rows.append((contact_id, kind.value, finding.check, finding.level.value, spreadsheet_text(finding.detail)))
    return csv_bytes(COLUMNS, rows)
