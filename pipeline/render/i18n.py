"""Translations for the e-mails: catalogues per language, and the phrases built in Python.

The templates are Jinja in two stages. Stage one runs once per template and language, at
compile time, with the delimiters `[% … %]` / `[[ … ]]` / `[# … #]`: it expands the static,
translated text (`[% trans %]…[% endtrans %]`). Stage two, with the usual `{% … %}` /
`{{ … }}`, is what each recipient's values fill in. A translation may hold stage-two
placeholders (`Dear {{ first_name }},`): they are ours, not data.

Catalogues live in templates/locale/<lang>/LC_MESSAGES/messages.po (msgids in English).
Extract, update and compile them from the project root with:

    .venv/bin/pybabel extract -F templates/locale/babel.cfg -o templates/locale/messages.pot \
        --no-location --sort-output --project Windstil .
    .venv/bin/pybabel update -i templates/locale/messages.pot -d templates/locale --no-fuzzy-matching \
        --ignore-obsolete
    .venv/bin/pybabel compile -d templates/locale --statistics
"""

from __future__ import annotations

import gettext
from pathlib import Path

import jinja2

from pipeline.language import catalogue
from pipeline.models import ItemReason, ReasonKind

# Stage-one delimiters; babel.cfg repeats them so `pybabel extract` reads the templates.
STATIC_SYNTAX = {
    "block_start_string": "[%",
    "block_end_string": "%]",
    "variable_start_string": "[[",
    "variable_end_string": "]]",
    "comment_start_string": "[#",
    "comment_end_string": "#]",
}


def _(message: str) -> str:
    """Mark a message for extraction; it is translated where it is used."""
    return message


def load_translations(locale_dir: Path, language: str) -> gettext.NullTranslations:
    """Return the e-mails' catalogue for `language`: the project's (`locale_dir`) over Windstil's, as the pages'."""
    return catalogue(language, locale_dir)


def static_environment(templates_dir: Path, translations: gettext.NullTranslations) -> jinja2.Environment:
    """Return the stage-one environment: translated static text, compile time only."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=False,  # noqa: S701 - stage one has no data; its output is stage-two template source
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=True,
        **STATIC_SYNTAX,  # type: ignore[arg-type]
    )
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    return env


# Why an item was chosen, one sentence per ItemReason.kind ("%(detail)s" is the reason's
# detail), in the order a reader finds most convincing; at most two are used per item.
REASON_PHRASES: dict[ReasonKind, str] = {
    ReasonKind.INTEREST: _("You told us you are interested in %(detail)s."),
    ReasonKind.CROSS_SELL: _("Worth a look next to what you have: %(detail)s."),
    ReasonKind.UP_SELL: _("A logical next step: %(detail)s."),
    ReasonKind.OWN_PRODUCT: _("It is about something you bought from us: %(detail)s."),
    ReasonKind.SECTOR: _("It matters in your sector (%(detail)s)."),
    ReasonKind.PRODUCT_TAG: _("It ties in with what you use: %(detail)s."),
}
# Kinds that say nothing personal: used only when nothing personal scored.
GENERAL_PHRASES: dict[ReasonKind, str] = {
    ReasonKind.TIMELY: _("It is current."),
    ReasonKind.FALLBACK: _("A selection by our editors."),
    ReasonKind.FRESHNESS: _("It is new this month."),
    ReasonKind.PRIORITY: _("Our editors recommend it."),
}


# An item whose every reason was given for an item above it in the same message.
SAME_REASON = _("For the same reason as above.")


WhySentences = tuple[tuple[str, ...], int]  # the sentences, most convincing first; how many an item shows


def why_sentences(reasons: tuple[ItemReason, ...], translations: gettext.NullTranslations) -> WhySentences:
    """Return the sentences on why an item was chosen, the most convincing first, and how many to show.

    The personal ones (an interest, a product of the customer's, ...; two shown), or where none
    scored the general ones ("It is current.", "Our editors recommend it."; one shown).
    """
    by_kind = {reason.kind: reason for reason in reversed(reasons)}  # the first of a kind wins
    if ReasonKind.OWN_PRODUCT in by_kind:
        by_kind.pop(ReasonKind.PRODUCT_TAG, None)  # it would name the same products again
    phrases = _translated_phrases(translations)
    sentences = [phrases[kind] % {"detail": by_kind[kind].detail} for kind in REASON_PHRASES if kind in by_kind]
    if sentences:
        return tuple(sentences), 2
    general = [phrases[kind] for kind in GENERAL_PHRASES if kind in by_kind]
    return tuple(general or [phrases[ReasonKind.FALLBACK]]), 1


class WhyLines:
    """The "why this is relevant for you" lines of one message's items, top to bottom.

    Three items picked for one up-sell used to repeat "A logical next step: …" word for word.
    An item now shows its strongest sentences that no item above it showed; with none left, it
    says "For the same reason as above." when the item right above stands for the same
    reasons, and otherwise gives its own again (the one above is about something else).
    """

    def __init__(self, translations: gettext.NullTranslations) -> None:
        self._translations = translations
        self._said: set[str] = set()
        self._above: set[str] = set()  # what the item right above stands for

    def line(self, why: WhySentences) -> str:
        sentences, shown = why
        own = sentences[:shown]
        fresh = [sentence for sentence in sentences if sentence not in self._said][:shown]
        if fresh:
            self._said.update(fresh)
            self._above = {*own, *fresh}
            return " ".join(fresh)
        if set(own) <= self._above:
            return self._translations.gettext(SAME_REASON)
        self._above = set(own)
        return " ".join(own)


def _translated_phrases(translations: gettext.NullTranslations) -> dict[ReasonKind, str]:
    """Return every why phrase translated, looked up once per catalogue."""
    held = _PHRASES.get(id(translations))
    if held is None or held[0] is not translations:
        phrases = {kind: translations.gettext(phrase) for kind, phrase in (REASON_PHRASES | GENERAL_PHRASES).items()}
        if len(_PHRASES) >= 64:
            _PHRASES.clear()  # catalogues are made once per run and language; tests make many
        held = _PHRASES[id(translations)] = (translations, phrases)
    return held[1]


# id(catalogue) → (the catalogue, kept so that its id is not reused; its translated phrases)
_PHRASES: dict[int, tuple[gettext.NullTranslations, dict[ReasonKind, str]]] = {}
