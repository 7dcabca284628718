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
from collections.abc import Sequence
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


def why_sentences(reasons: tuple[ItemReason, ...], translations: gettext.NullTranslations) -> tuple[str, ...]:
    """Return the sentences on why an item was chosen, the most convincing first.

    The personal ones (an interest, a product of the customer's, ...), or where none scored
    the one general sentence ("Our editors recommend it.").
    """
    by_kind = {reason.kind: reason for reason in reversed(reasons)}  # the first of a kind wins
    if ReasonKind.OWN_PRODUCT in by_kind:
        by_kind.pop(ReasonKind.PRODUCT_TAG, None)  # it would name the same products again
    phrases = _translated_phrases(translations)
    sentences = [phrases[kind] % {"detail": by_kind[kind].detail} for kind in REASON_PHRASES if kind in by_kind]
    if not sentences:
        kind = next((k for k in GENERAL_PHRASES if k in by_kind), ReasonKind.FALLBACK)
        sentences.append(phrases[kind])
    return tuple(sentences)


def why_line(sentences: Sequence[str], said: set[str], translations: gettext.NullTranslations) -> str:
    """Return an item's "why this is relevant for you": its two strongest sentences not in `said`.

    `said` holds what the items above it in the message said, and gets this item's sentences.
    Three items picked for one up-sell used to repeat "A logical next step: …" word for word;
    the second now gives its next reason, and an item with none left says so in a few words.
    """
    fresh = [sentence for sentence in sentences if sentence not in said][:2]
    said.update(fresh)
    return " ".join(fresh) if fresh else translations.gettext(SAME_REASON)


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
