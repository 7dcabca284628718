"""Seeded randomness and names: unique company names, e-mail domains and slugs."""

from __future__ import annotations

import functools
import math
import random
import unicodedata
from typing import TYPE_CHECKING, TypeVar

from pipeline.demo.words import HOUSE_WORDS, INTL_PATTERNS, INTL_WORDS, NAME_PATTERNS, PLACES, REGIONS, SURNAMES

if TYPE_CHECKING:
    from _typeshed import SupportsLenAndGetItem

_T = TypeVar("_T")
_NV_MAGICCONST = 4 * math.exp(-0.5) / math.sqrt(2.0)  # as random.NV_MAGICCONST


def spread(n: int) -> float:
    """Return a number in [0, 1) that covers the interval evenly as n counts up.

    Shares that a small sample must hit closely (English customers, suppressed addresses) use
    this instead of a random draw, so 150 customers give about 15% and not 10% or 20%.
    """
    return (n * 0.6180339887498949) % 1.0


class FastRandom(random.Random):
    """random.Random with cheaper choice(), randint() and lognormvariate(): they run millions of times."""

    def choice(self, seq: SupportsLenAndGetItem[_T]) -> _T:
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def lognormvariate(self, mu: float, sigma: float) -> float:
        # random.Random's normalvariate (Kinderman and Monahan) in the same call, not a second one:
        # the same draws and the same floats.
        uniform = self.random
        while True:
            u1 = uniform()
            u2 = 1.0 - uniform()
            z = _NV_MAGICCONST * (u1 - 0.5) / u2
            if z * z / 4.0 <= -math.log(u2):
                return math.exp(mu + z * sigma)


@functools.lru_cache(maxsize=4096)
def name_slug(text: str) -> str:
    """Return slug(text), remembered: contacts' names repeat a lot."""
    return slug(text)


def slug(text: str) -> str:
    """Return lowercase ASCII letters and digits only (for e-mail local parts and domains)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


def surname(rng: random.Random, *, company: bool) -> str:
    """Return a Dutch surname, written as in a company name or after a first name."""
    prefix, name = rng.choice(SURNAMES)
    if not prefix:
        return name
    # Dutch writes the tussenvoegsel with a capital when no first name precedes it.
    return f"{prefix[0].upper()}{prefix[1:]} {name}" if company else f"{prefix} {name}"


_STRIP_FOR_DOMAIN = (" B.V.", " N.V.", " V.O.F.", " & Zonen", " Benelux", " Netherlands", " Europe")


class Names:
    """Unique company names and e-mail domains."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.names: set[str] = set()
        self.domains: set[str] = set()

    def company(self, sector: str, international: bool) -> str:
        """Return a company name not given before, in the sector's style."""
        rng = self.rng
        patterns = INTL_PATTERNS.get(sector) if international else None
        if not patterns:
            patterns = NAME_PATTERNS[sector]
        name = ""
        for _ in range(8):
            name = rng.choice(patterns).format(
                s=surname(rng, company=True),
                s2=surname(rng, company=True),
                p=rng.choice(PLACES),
                r=rng.choice(REGIONS),
                w=rng.choice(HOUSE_WORDS),
                i=rng.choice(INTL_WORDS),
            )
            if name not in self.names:
                break
        if name in self.names:
            # Large data sets run out of combinations: add a place, then a branch number.
            base = f"{name} {rng.choice(PLACES)}"
            name, k = base, 2
            while name in self.names:
                name, k = f"{base} {k}", k + 1
        self.names.add(name)
        return name

    def domain(self, company: str, international: bool) -> str:
        """Return an e-mail domain for the company, not given before."""
        stem = company
        for part in _STRIP_FOR_DOMAIN:
            stem = stem.replace(part, "")
        domain_slug = slug(stem)[:40] or "bedrijf"
        if company.startswith("Gemeente "):
            domain_slug = slug(company[len("Gemeente ") :])
        tld = ".com" if international else ".nl"
        domain, k = f"{domain_slug}{tld}", 2
        while domain in self.domains:
            domain, k = f"{domain_slug}{k}{tld}", k + 1
        self.domains.add(domain)
        return domain
