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

from pipeline.errors import StateError

log = logging.getLogger(__name__)

# Our own part of the rules (normalised, then lower-cased): raise it when they change.
RULES_VERSION = 1
VALIDATOR = f"email-validator {metadata.version('email-validator')}; windstil rules {RULES_VERSION}"


class AddressBook:
    """Check addresses through `check`, each distinct one once; outcomes known from earlier runs are used as they are.

    `check` returns the normalised address or raises ValueError for an invalid one.
    """

    def __init__(self, check: Callable[[str], str], known: Mapping[str, str | None] | None = None) -> None:
        self._check = check
        self._known: dict[str, str | None] = dict(known or {})
        self.new: dict[str, str | None] = {}  # checked in this load, for the state

    def learn(self, known: Mapping[str, str | None]) -> None:
        """Take outcomes checked before (by this validator version) as known."""
        for address, outcome in known.items():
            self._known.setdefault(address, outcome)

    def normalised(self, text: str) -> str | None:
        """Return the normalised address of `text`, or None when it is not a valid address."""
        key = text.strip()
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
        known = self._known
        found: dict[str, str | None] = {}
        for text in texts:
            key = text.strip()
            found[text] = known[key] if key in known else self.normalised(text)
        return found


def known_addresses(state_path: Path) -> dict[str, str | None]:
    """Return the address checks the state at `state_path` remembers (none when it does not exist yet)."""
    if not state_path.is_file():
        return {}
    from pipeline.state import State  # the state module builds on the loader's types

    try:
        with State.open(state_path) as state:
            return state.address_checks(VALIDATOR)
    except StateError as error:  # a cache only: the load goes on, checking every address
        log.warning("address checks not read from the state: %s", error)
        return {}


