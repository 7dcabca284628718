"""What the review site is made from (SiteData, handed over by the run), and helpers every page uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pipeline.checks import Finding
from pipeline.feedback import FeedbackEvent
from pipeline.language import PageLanguage, page_language
from pipeline.models import (
    CallItem,
    Dataset,
    MessageKind,
    QuietStatus,
    RenderedMessage,
    Segmentation,
    Selection,
)


@dataclass(frozen=True)
class SiteData:
    """Everything the review site shows, handed over by the run at its end."""

    as_of: date
    created: str  # ISO timestamp of the run
    counts: dict[str, int]  # the manifest's counts
    warnings: tuple[str, ...]
    selections: Sequence[Selection]
    rendered: Mapping[tuple[str, MessageKind], RenderedMessage]
    data: Dataset
    segmentation: Segmentation
    calls: Sequence[CallItem]
    previous: Mapping[str, Any] | None  # the previous run's manifest (or just its counts)
    reports: Sequence[tuple[str, str]]  # (title, relpath), e.g. ("Segmentatie", "reports/segments.html")
    call_lists: Sequence[tuple[str, str]]  # (account manager name, relpath "calls/am1.html")
    quiet: Mapping[str, QuietStatus] | None = None  # shows quiet_since on a recipient
    templates: Path | None = None  # a folder overriding the bundled site templates
    language: str = "nl"  # settings.yaml: language
    locale_templates: Path | None = None  # the project's templates folder, for its own catalogue
    checks: Mapping[tuple[str, MessageKind], Sequence[Finding]] | None = None  # pre-send check findings
    accepted: Mapping[str, int] | None = None  # checks accepted with the approval → their errors
    sender: str = ""  # the From name, for the inbox line
    spam: Mapping[str, Any] | None = None  # SpamAssassin per kind: variants scored, worst and median score
    feedback: Sequence[FeedbackEvent] = ()  # what came back since the previous run (state's feedback)
    feedback_since: date | None = None  # the previous run's as-of date; None: since the start
    tracking: bool = False  # click tracking on: the overview shows clicks


def _language(site: SiteData) -> PageLanguage:
    """Return the language the site is written in (settings.yaml: language)."""
    return page_language(site.language, site.locale_templates)


def _name(data: Dataset, contact_id: str) -> str:
    """Return a contact's full name, or its id when it has none."""
    contact = data.contacts.get(contact_id)
    return (contact.full_name if contact else "") or contact_id

