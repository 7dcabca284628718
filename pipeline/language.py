"""The language of everything people at the company read: the review site, the reports, the
call lists and the account managers' e-mails (`settings.yaml: language`, docs/reference/settings.md).

The text comes from the same gettext catalogues as the e-mails (templates/locale/, English
msgids; the README's Development section has the pybabel commands), and dates, numbers and
amounts are written the way the language's locale writes them (Babel).

Warnings and lints are made in the core, long before anyone knows where they will be shown,
and they also go to the log, the manifest and the CLI, which speak English. So the core makes
them as `Notice`s: an English `str` as before, which also keeps its message id and its
parameters, so that a page can say it in its own language (`PageLanguage.text`). A notice
that lost its type on the way (kept as JSON in the state, say) is recognised by its English
form and translated all the same.
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import Translations

from pipeline.templating import BUNDLED

log = logging.getLogger(__name__)

DOMAIN = "messages"
# The locales the languages are written in; the same as the e-mails' (pipeline.render.formatting).
LOCALES = {"nl": "nl_NL", "en": "en_GB"}
DEFAULT_LANGUAGE = "nl"


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


# --------------------------------------------------------------------------- values in notices


@dataclass(frozen=True, slots=True)
class Share:
    """A share in a notice (0.041), written as a percentage in the reader's locale."""

    value: Fraction


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in euro in a notice, written in the reader's locale."""

    value: Decimal


# The English text of a notice keeps the figures as the log and the CLI have always shown
# them (Dutch figures, ISO dates), so scripts reading those lines see no change.
_PLAIN = Locale.parse("nl_NL")


_SMALL_SHARE = Decimal("0.00995")  # shown with two decimals below this: 0,99% is 0.00994999…
# The quanta _shown rounds to, made once: the segmentation report rounds 210,000 values.
_QUANTA = {places: Decimal(10) ** -places for places in range(4)}


def _percent(share: Fraction, locale: Locale) -> str:
    """Write a share with one decimal (4,1%), two below 1% (0,37%), as the reports do."""
    value = Decimal(share.numerator) / Decimal(share.denominator)
    small = 0 < abs(value) < _SMALL_SHARE
    negative, shown = _shown(value.scaleb(2), 2 if small else 1)
    return _percent_text(negative, shown, small, locale)


# Babel takes some 25 µs a number, and the segmentation report writes five shares and two
# amounts for every customer. What Babel writes depends only on the sign and on the value as it
# rounds it to the decimals shown, so the value is rounded here the same way first and each
# rounded value is formatted once: a report shows a few hundred distinct percentages.
def _shown(value: Decimal, places: int) -> tuple[bool, Decimal]:
    """Return the sign of `value` and its absolute value rounded to `places` decimals, as Babel rounds them."""
    # Babel's NumberPattern.apply: the sign first, then abs().normalize().quantize() in the current context.
    quantum = _QUANTA.get(places) or Decimal(10) ** -places
    return value.is_signed(), abs(value).normalize().quantize(quantum)


def _signed(negative: bool, shown: Decimal) -> Decimal:
    # copy_negate, not unary minus: -Decimal("0.0") loses the sign Babel would have written.
    return shown.copy_negate() if negative else shown


@functools.lru_cache(maxsize=8192)
def _percent_text(negative: bool, shown: Decimal, small: bool, locale: Locale) -> str:
    pattern = "#,##0.00%" if small else "#,##0.0%"
    return str(format_percent(_signed(negative, shown).scaleb(-2), pattern, locale=locale))


@functools.lru_cache(maxsize=16384)
def _money_text(negative: bool, shown: Decimal, whole: bool, code: str, locale: Locale) -> str:
    # Amounts hardly repeat (a report writes one per customer), so the cache above seldom
    # helps; Babel's layout of an amount depends only on its sign and its number of digits,
    # so each layout is asked of Babel once and the digits are filled in.
    integer, _, fraction = str(shown).partition(".")
    layout = _money_layout(negative, len(integer), len(fraction), whole, code, locale)
    if layout is None or not (integer + fraction).isdigit():
        return _babel_money(_signed(negative, shown), whole, code, locale)
    return layout.format(*integer, *fraction)


def _babel_money(amount: Decimal, whole: bool, code: str, locale: Locale) -> str:
    if whole:
        return str(format_currency(amount, "EUR", format="¤ #,##0" if code == "nl" else "¤#,##0",
                                   locale=locale, currency_digits=False))
    return str(format_currency(amount, "EUR", locale=locale))


@functools.lru_cache(maxsize=256)
def _money_layout(negative: bool, integers: int, fractions: int, whole: bool, code: str, locale: Locale) -> str | None:
    """Return how Babel writes an amount of this sign and these digit counts, a `{}` for each digit."""
    sample = Decimal(f"{'8' * integers}.{'8' * fractions}" if fractions else "8" * integers)
    written = _babel_money(_signed(negative, sample), whole, code, locale)
    if written.count("8") != integers + fractions:
        return None  # an 8 that is no digit (a symbol), or digits Babel added or dropped: Babel writes it
    return written.replace("{", "{{").replace("}", "}}").replace("8", "{}")


@functools.lru_cache(maxsize=8192)
def _number_text(kind: str, value: float | int | Decimal, digits: int, locale: Locale) -> str:
    # `kind` in the key: 1 and 1.0 are equal keys but take different paths.
    if kind.startswith("float") or digits:
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return str(format_decimal(value, pattern, locale=locale))
    return str(format_decimal(value, locale=locale))


def _plain(value: Any) -> Any:
    if isinstance(value, Share):
        return _percent(value.value, _PLAIN)
    if isinstance(value, Money):
        return str(format_currency(value.value, "EUR", locale=_PLAIN))
    if isinstance(value, date):
        return value.isoformat()
    return value


class Notice(str):
    """A warning or lint: its English text, with its message id and parameters kept for translation."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, /, **params: Any) -> Notice:
        self = super().__new__(cls, msgid % {k: _plain(v) for k, v in params.items()} if params else msgid)
        self.msgid = msgid
        self.params = params
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Render processes send their lints to the run pickled; the id and parameters go along.
        return (_notice, (self.msgid, self.params))


def _notice(msgid: str, params: dict[str, Any]) -> Notice:
    return Notice(msgid, **params)


# Message ids with parameters that a notice may be made of, for recognising a notice that was
# kept as plain text: message id → a pattern of its English form.
_PATTERNS: dict[str, re.Pattern[str]] = {}


def notice_template(msgid: str) -> str:
    """Register a notice's message id, so its English text is recognised anywhere; return it."""
    parts = re.split(r"%\((\w+)\)[sd]", msgid)
    seen: set[str] = set()
    pattern = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            pattern.append(re.escape(part.replace("%%", "%")))
        else:
            pattern.append(f"(?P={part})" if part in seen else f"(?P<{part}>.*?)")
            seen.add(part)
    _PATTERNS[msgid] = re.compile("".join(pattern), re.DOTALL)
    return msgid


# --------------------------------------------------------------------------- the language


_TEXTS_KEPT = 50_000  # distinct texts a language remembers the wording of (a few MB at most)


@dataclass(frozen=True)
class PageLanguage:
    """One language for the pages: its catalogue and its locale's way with dates and numbers."""

    code: str
    translations: gettext.NullTranslations
    locale: Locale
    # text()'s answers: the site words the same finding or lint for every copy of a variant,
    # and each answer not in the catalogue is sought among some thirty notice patterns.
    _texts: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def gettext(self, message: str) -> str:
        """Return `message` in this language."""
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """Return the singular or plural of a message in this language."""
        return self.translations.ngettext(singular, plural, n)

    def __call__(self, message: str, /, **params: Any) -> str:
        """Return `message` translated, with its parameters written in this locale."""
        text = self.gettext(message)
        return text % {k: self.value(v) for k, v in params.items()} if params else text

    def plural(self, singular: str, plural: str, n: int, /, **params: Any) -> str:
        """Return the form of a message for `n`, with `n` and the parameters filled in."""
        values = {k: self.value(v) for k, v in params.items()}
        return self.ngettext(singular, plural, n) % {"n": self.number(n), **values}

    def value(self, value: Any) -> str:
        """Return a notice's parameter as this language writes it."""
        if type(value) is str:  # most parameters (names, titles): a Notice is a str subclass, not this
            return value
        if isinstance(value, Share):
            return self.percent(value.value)
        if isinstance(value, Money):
            return self.money(value.value)
        if isinstance(value, date):
            return self.date(value)
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int | Decimal):
            return self.number(value)
        if isinstance(value, Notice):
            return self.text(value)
        return str(value)  # data (a name, a comment) is never looked up in the catalogue

    def text(self, value: str) -> str:
        """Return a warning, lint or label made by the core in this language; other text as it is."""
        if isinstance(value, Notice):  # before the lookup: a notice equals its English text as a key
            return self(value.msgid, **value.params)
        known = self._texts.get(value)
        if known is None:
            known = self._worded(value)
            if len(self._texts) < _TEXTS_KEPT:
                self._texts[value] = known
        return known

    def _worded(self, value: str) -> str:
        """Return `value` worded in this language (text() without its memory)."""
        translated = self.gettext(value)
        if translated != value or self.code == "en":
            return translated
        for msgid, pattern in _PATTERNS.items():
            found = pattern.fullmatch(value)
            if found:
                # What a parameter was is lost with the notice's type: a date or a label
                # (a message id) is recognised, anything else is kept as written.
                params = {k: _recognised(v) for k, v in found.groupdict().items()}
                return self(msgid, **params)
        return value

    def number(self, value: float | int | Decimal, digits: int = 0) -> str:
        """Write a number: `30.000` / `30,000`, `12,5` / `12.5`."""
        kind = "float" if isinstance(value, float) else "exact"
        if value == 0 and str(value).startswith("-"):
            kind += " negative zero"  # -0.0 equals 0.0 as a cache key, but Babel writes its sign
        return _number_text(kind, value, digits, self.locale)

    def percent(self, share: Fraction | Decimal | int) -> str:
        """Write a share as a percentage: `4,1%` / `4.1%`, two decimals below 1%."""
        return _percent(share if type(share) is Fraction else Fraction(share), self.locale)

    def money(self, amount: Decimal | int | float, whole: bool = False) -> str:
        """Write an amount in euro: `€ 1.234,56` / `€1,234.56`; `whole` leaves out the cents."""
        # Babel reads anything but a Decimal through str(); without `whole` we always made a Decimal of it.
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount) if whole else amount)
        negative, shown = _shown(value, 0 if whole else 2)  # EUR has two decimals
        return _money_text(negative, shown, whole, self.code, self.locale)

    def date(self, day: date | None) -> str:
        """Write a date in prose: `30 november 2026` / `30 November 2026`."""
        return _long_date(day, self.code) if day else ""

    def short_date(self, day: dt.date | None) -> str:
        """Write a date briefly: `30 nov 2026` / `30 Nov 2026`."""
        return _short_date(day, self.code) if day else ""


def _recognised(value: str) -> Any:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return Notice(value) if value in _LABELS else value


# Message ids without parameters that a notice may hold as a parameter (an element's label).
_LABELS: set[str] = set()


def notice_label(msgid: str) -> str:
    """Register a label that notices hold as a parameter, so it is recognised in plain text; return it."""
    _LABELS.add(msgid)
    return msgid


@functools.lru_cache(maxsize=4096)  # a run writes a few hundred distinct dates, thousands of times
def _long_date(day: date, code: str) -> str:
    return str(format_date(day, "long", locale=_locale(code)))


@functools.lru_cache(maxsize=4096)
def _short_date(day: date, code: str) -> str:
    return str(format_date(day, "d MMM y", locale=_locale(code))).replace(".", "")


@functools.cache
def _locale(code: str) -> Locale:
    return Locale.parse(LOCALES.get(code, LOCALES[DEFAULT_LANGUAGE]))


def page_language(code: str = DEFAULT_LANGUAGE, templates: Path | None = None) -> PageLanguage:
    """Return the language `code` with the catalogue bundled with Windstil, the project's own on top."""
    # The site asks for every page it writes; resolving the path each time (a stat per part)
    # cost more than the page. An absolute path is a good enough cache key.
    if templates is not None and not templates.is_absolute():
        templates = templates.resolve()
    return _page_language(code, templates)


@functools.lru_cache(maxsize=16)
def _page_language(code: str, templates: Path | None) -> PageLanguage:
    own = templates / "locale" if templates is not None else None
    return PageLanguage(code=code, translations=catalogue(code, own), locale=_locale(code))


def catalogue(code: str, own: Path | None = None) -> gettext.NullTranslations:
    """Return the translations of `code`: Windstil's catalogue, with a project's own (`own`, a locale folder) over it.

    The project's wording wins where it has a message; a message it lacks (one a newer Windstil
    added) comes from Windstil's, not in English. The pages and the e-mails both read theirs
    so. Without either catalogue, the msgids (English).
    """
    bundled = BUNDLED / "locale"
    translations = Translations.load(str(bundled), [code], DOMAIN)
    if own is not None and own.resolve() != bundled.resolve() and own.is_dir():
        extra = Translations.load(str(own), [code], DOMAIN)
        if isinstance(translations, Translations) and isinstance(extra, Translations):
            translations.merge(extra)
        elif isinstance(extra, Translations):
            translations = extra
    if not isinstance(translations, Translations) and code != "en":
        log.warning("no compiled translations for %r in %s or Windstil's own: English is used", code, own or bundled)
    return translations


def labels(language: PageLanguage, source: Mapping[Any, str]) -> dict[Any, str]:
    """Return a table of English labels (marked with N_) in the language."""
    return {key: language.gettext(text) for key, text in source.items()}
