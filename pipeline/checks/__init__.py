"""Pre-send checks: a Litmus-style checklist on every message of a run, offline.

`content` holds the checks that read only what every copy of a message shares (run once per
variant), `personal` those that read what differs per recipient (run on every message),
`spam` the SpamAssassin scores, and `stage` the run's `checks` stage that puts them together
and writes checks.csv.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Level(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


# Every check code, in the order the review site lists them.
CHECKS: tuple[str, ...] = (
    "link_scheme",
    "link_unresolved",
    "link_utm",
    "link_text",
    "image_alt",
    "image_src",
    "size_clip",
    "subject_length",
    "preheader",
    "contrast",
    "font_size",
    "heading_order",
    "lang_dir",
    "layout_table",
    "text_part",
    "client_support",
    "spam_score",
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a check found in one message (or in every copy of a variant)."""

    check: str
    level: Level
    detail: str


__all__ = ["CHECKS", "Finding", "Level"]
