"""E-mail addresses checked once each, and remembered between runs in the state.

A successful `windstil run` records the addresses its load checked (run.py); every load
reads them. Nothing else writes them: validate and a failed run leave the state as it was.

Checking an address (syntax, IDN, normalisation) was a third of loading a large export: the
same address comes back in every monthly export, and many repeat within one (a manager's,
a shared inbox). So each distinct address is checked once per load, and the outcome is kept
in the state database, keyed by the address as given. The key includes nothing else: the
outcome depends only on the address and on the validator, whose version is stored with it;
a new version (of email-validator or of our own rules) forgets every earlier outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from pathlib import Path

import polars as pl

from pipeline.csvinput import WHITESPACE
from pipeline.errors import StateError

log = logging.getLogger(__name__)

# Our own part of the rules (normalised, then lower-cased): raise it when they change.
RULES_VERSION = 1
VALIDATOR = f"email-validator {metadata.version('email-validator')}; windstil rules {RULES_VERSION}"


ADDRESS_SCHEMA = {"address": pl.String, "normalised": pl.String}  # an outcome per address as given (null: invalid)


class AddressBook:
    """Check addresses through `check`, each distinct one once; outcomes known from earlier runs are used as they are.

    `check` returns the normalised address or raises ValueError for an invalid one. The
    outcomes remembered in the state are kept as a frame (see learn_frame), so that a file's
    hundreds of thousands of addresses are looked up by one join instead of one at a time.
    """

    def __init__(self, check: Callable[[str], str], known: Mapping[str, str | None] | None = None) -> None:
        self._check = check
        self._known: dict[str, str | None] = dict(known or {})
        self._frame = pl.DataFrame(schema=ADDRESS_SCHEMA)  # known too, as learn_frame took them
        self.new: dict[str, str | None] = {}  # checked in this load, for the state

    def learn(self, known: Mapping[str, str | None]) -> None:
        """Take outcomes checked before (by this validator version) as known; what is known already stays."""
        taken = set()
        if self._frame.height:
            taken = set(self._frame.filter(pl.col("address").is_in(list(known))).get_column("address"))
        for address, outcome in known.items():
            if address not in taken:
                self._known.setdefault(address, outcome)

    def learn_frame(self, known: pl.DataFrame) -> None:
        """Take outcomes checked before (a frame of ADDRESS_SCHEMA) as known; what is known already stays."""
        known = known.select(pl.col(name).cast(dtype) for name, dtype in ADDRESS_SCHEMA.items())
        if self._known:
            known = known.filter(~pl.col("address").is_in(list(self._known)))
        self._frame = pl.concat([self._frame, known]).unique("address", keep="first", maintain_order=True)

    def normalised(self, text: str) -> str | None:
        """Return the normalised address of `text`, or None when it is not a valid address."""
        key = text.strip()
        if key in self._known:
            return self._known[key]
        if self._frame.height:
            hit = self._frame.filter(pl.col("address") == key)
            if hit.height:
                known: str | None = hit.item(0, "normalised")
                return known
        return self._checked(key)

    def _checked(self, key: str) -> str | None:
        """Return the outcome of `key` (stripped), checking it when it is not known in this load yet."""
        if key in self._known:
            return self._known[key]
        try:
            outcome: str | None = self._check(key)
        except ValueError:
            outcome = None
        self._known[key] = self.new[key] = outcome
        return outcome

    def outcomes(self, texts: Iterable[str]) -> dict[str, str | None]:
        """Return normalised() of each text, looking the known ones up without a call per address."""
        found = self.outcome_frame(pl.Series("text", list(texts), dtype=pl.String))
        return dict(found.iter_rows())

    def outcome_frame(self, texts: pl.Series) -> pl.DataFrame:
        """Return each distinct text of `texts` (`text`) with normalised() of it (`normalised`), as a frame.

        The texts known from earlier runs are found by a join; only the others are looked up one by one.
        """
        frame = pl.DataFrame({"text": texts.unique()}, schema={"text": pl.String}).with_columns(
            pl.col("text").str.strip_chars(WHITESPACE).alias("_key")
        )
        known = self._frame.with_columns(pl.lit(True).alias("_known")).rename({"address": "_key"})
        frame = frame.join(known, on="_key", how="left")
        hits = frame.filter(pl.col("_known").is_not_null()).select("text", "normalised")
        others = frame.filter(pl.col("_known").is_null()).select("text", "_key")
        looked_up = pl.DataFrame(
            {"text": others.get_column("text"), "normalised": list(map(self._checked, others.get_column("_key")))},
            schema={"text": pl.String, "normalised": pl.String},
        )
        return pl.concat([hits, looked_up])


def known_address_frame(state_path: Path) -> pl.DataFrame:
    """Return the address checks the state at `state_path` remembers, as a frame (empty when there is no state)."""
    if not state_path.is_file():
        return pl.DataFrame(schema=ADDRESS_SCHEMA)
    from pipeline.state import State  # the state module builds on the loader's types

    try:
        with State.open(state_path) as state:
            rows = state.address_check_rows(VALIDATOR)
    except StateError as error:  # a cache only: the load goes on, checking every address
        log.warning("address checks not read from the state: %s", error)
        rows = []
    return pl.DataFrame(rows, schema=ADDRESS_SCHEMA, orient="row")


def known_addresses(state_path: Path) -> dict[str, str | None]:
    """Return the address checks the state at `state_path` remembers (none when it does not exist yet)."""
    return dict(known_address_frame(state_path).iter_rows())
