"""The word lists of the demo data (package data: data/words.json, described in data/README.md), as tuples.

The generator draws from them by position, so the order in the file is part of the output.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def read_data(name: str) -> str:
    """Return the text of a file in pipeline/demo/data/."""
    return resources.files(__package__).joinpath("data", name).read_text(encoding="utf-8")


def load_data(name: str) -> dict[str, Any]:
    """Return a JSON file of pipeline/demo/data/ as a mapping."""
    # JSON, not YAML: the lists load on every demo-data, and json reads them in 0.2 ms where
    # importing PyYAML and loading them took 30 ms.
    data = json.loads(read_data(name))
    if not isinstance(data, dict):
        raise TypeError(f"pipeline/demo/data/{name}: expected an object at the top")
    return data


def _strings(value: list[str]) -> tuple[str, ...]:
    return tuple(str(v) for v in value)


def _strings_by(value: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    return {key: _strings(words) for key, words in value.items()}


_WORDS = load_data("words.json")

PLACES = _strings(_WORDS["places"])
REGIONS = _strings(_WORDS["regions"])
SURNAMES: tuple[tuple[str, str], ...] = tuple((str(prefix), str(name)) for prefix, name in _WORDS["surnames"])
FIRST_NAMES = _strings(_WORDS["first_names"])
INTL_FIRST = _strings(_WORDS["international_first_names"])
INTL_LAST = _strings(_WORDS["international_last_names"])
INTL_WORDS = _strings(_WORDS["international_words"])
NAME_PATTERNS = _strings_by(_WORDS["name_patterns"])
INTL_PATTERNS = _strings_by(_WORDS["international_patterns"])
HOUSE_WORDS = _strings(_WORDS["house_words"])
JOB_TITLES = {language: _strings_by(titles) for language, titles in _WORDS["job_titles"].items()}
LEVEL_INTERESTS = _strings_by(_WORDS["level_interests"])
ACCOUNT_MANAGERS: tuple[tuple[str, str, str, str], ...] = tuple(
    (str(am_id), str(name), str(email), str(phone)) for am_id, name, email, phone in _WORDS["account_managers"]
)
AREA_CODES = _strings(_WORDS["area_codes"])
COMMENTS_LOW = _strings_by(_WORDS["comments_low"])
COMMENTS_HIGH = _strings_by(_WORDS["comments_high"])
SUPPRESSION_REASONS = _strings(_WORDS["suppression_reasons"])
