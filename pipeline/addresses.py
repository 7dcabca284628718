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
        series = pl.Series("text", list(texts), dtype=pl.String).unique()
        return dict(zip(series, self.outcome_frame(series).get_column("normalised"), strict=True))

    def outcome_frame(self, texts: pl.Series) -> pl.DataFrame:
        """Return normalised() of each of `texts`, in their order, as a frame of `text` and `normalised`.

        The texts known from earlier runs are found by one join; the others are checked one by
        one, each distinct one once. A text that is empty once stripped is no address: null.
        """
        frame = pl.DataFrame({"text": texts}, schema={"text": pl.String}).with_columns(
            pl.col("text").str.strip_chars(WHITESPACE).alias("_key")
        )
        known = self._frame.lazy()
        if 4 * frame.height < self._frame.height:  # a few texts (suppressions): no hash table of every known address
            known = known.filter(pl.col("address").is_in(frame.get_column("_key").implode()))
        known = known.select(pl.col("address").alias("_key"), "normalised", pl.lit(True).alias("_known"))
        frame = frame.lazy().join(known, on="_key", how="left", maintain_order="left").collect()
        others = frame.filter(pl.col("_known").is_null() & (pl.col("_key") != "")).get_column("_key").unique()
        if others.is_empty():
            return frame.select("text", "normalised")
        checked = pl.DataFrame(
            {"_key": others, "_checked": list(map(self._checked, others))},
            schema={"_key": pl.String, "_checked": pl.String},
        )
        frame = frame.join(checked, on="_key", how="left", maintain_order="left")
        return frame.select("text", pl.coalesce("normalised", "_checked").alias("normalised"))


def known_address_frame(state_path: Path) -> pl.DataFrame:
    """Return the address checks the state at `state_path` remembers, as a frame (empty when there is no state)."""
    if not state_path.is_file():
        return pl.DataFrame(schema=ADDRESS_SCHEMA)
    from pipeline.state import State  # the state module builds on the loader's types

    try:
        with State.open(state_path) as state:
            addresses, outcomes = state.address_check_columns(VALIDATOR)
    except StateError as error:  # a cache only: the load goes on, checking every address
        log.warning("address checks not read from the state: %s", error)
        addresses, outcomes = [], []
    return pl.DataFrame({"address": addresses, "normalised": outcomes}, schema=ADDRESS_SCHEMA)


def known_addresses(state_path: Path) -> dict[str, str | None]:
    """Return the address checks the state at `state_path` remembers (none when it does not exist yet)."""
    return dict(known_address_frame(state_path).iter_rows())
