"""The words of the review site, and how it writes numbers, changes and dates.

The labels of codes and counts are English message ids, translated when the site is written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from pipeline.language import N_, PageLanguage, labels, page_language
from pipeline.models import MessageKind, SkipReason

SIZE_BUDGET = 90 * 1024  # bytes; Gmail clips a message at about 100 KB (docs/reference/codes.md: size_budget)

# The site speaks the project's language (settings.yaml: language); the codes stay as in the
# CSVs. The labels are English message ids, translated when the site is written.
SKIP_LABELS: dict[str, str] = {
    SkipReason.NOT_QUIET: N_("customer not in a quiet period"),
    SkipReason.NO_ORDERS: N_("customer has no orders"),
    SkipReason.NO_OPT_IN: N_("no consent (opt-in)"),
    SkipReason.NO_VALID_EMAIL: N_("no valid e-mail address"),
    SkipReason.SUPPRESSED: N_("address is on the suppression list"),
    SkipReason.CADENCE: N_("got a message recently"),
    SkipReason.SEGMENT_TREATMENT: N_("the segment does not get this message"),
    SkipReason.NO_MATCHING_ITEM: N_("no matching item"),
}
NOT_RENDERED = "not_rendered"  # selected, but rendering made no message: worth a look
OUTCOME_LABELS = {**SKIP_LABELS, NOT_RENDERED: N_("selected but not made")}
LINT_LABELS: dict[str, str] = {
    "size_budget": N_("larger than 90 KB"),
    "fallback_field": N_("personal field falls back to a default"),
    "item_expired": N_("expired item"),
    "item_future": N_("item not published yet"),
    "missing_alt": N_("image without alt text"),
    "broken_link": N_("broken relative link"),
}
CHECK_LABELS: dict[str, str] = {
    "link_scheme": N_("unsafe link"),
    "link_unresolved": N_("template text in the output"),
    "link_utm": N_("link without UTM"),
    "link_text": N_("link text that says nothing"),
    "image_alt": N_("image without alt text"),
    "image_src": N_("image source not https"),
    "size_clip": N_("too big (Gmail clips it)"),
    "subject_length": N_("subject too long or empty"),
    "preheader": N_("preheader missing or off"),
    "contrast": N_("too little contrast"),
    "font_size": N_("text too small"),
    "heading_order": N_("heading level skipped"),
    "lang_dir": N_("lang/dir missing"),
    "layout_table": N_("layout table without role"),
    "text_part": N_("text version differs"),
    "client_support": N_("not supported in a mail program"),
    "spam_score": N_("spam score"),
}
# What the reviewer (or the author of a template or content item) does about each finding.
CHECK_FIXES: dict[str, str] = {
    "link_scheme": N_("Use only https, mailto and tel links; change the link in the content item or template."),
    "link_unresolved": N_(
        "There is template text ({{ … }}, [[ … ]] or %% … %%) in the message: check the data or the template "
        "that fills this field."
    ),
    "link_utm": N_("Links to our own site should carry this run's utm_source, utm_medium and utm_campaign."),
    "link_text": N_("Give the link a text that says where it goes, also read on its own (not 'click here')."),
    "image_alt": N_(
        'Give the image an alt text that says what it shows; decorative: alt="" with role="presentation".'
    ),
    "image_src": N_("Load images over https from our own site; local paths work in no mail program."),
    "size_clip": N_(
        "Make the message smaller (fewer or shorter items): Gmail clips it above 102 KB, unsubscribe link included."
    ),
    "subject_length": N_("Keep the subject under 60 characters: phones cut it off after that."),
    "preheader": N_("Write a preheader of 40 to 110 characters that adds something to the subject."),
    "contrast": N_("Choose a darker text colour or a lighter background: at least 4.5:1 (3:1 for large text)."),
    "font_size": N_("Make body text at least 14 px."),
    "heading_order": N_("Do not skip a heading level (h1, then h2, then h3): screen readers navigate by them."),
    "lang_dir": N_("Put lang and dir on <html> and on the body's outer wrapper."),
    "layout_table": N_('Put role="presentation" on tables that are there only for the layout.'),
    "text_part": N_("Make the text version carry the same content and links as the HTML version."),
    "client_support": N_("This HTML/CSS does not work everywhere: check that the message stays readable without it."),
    "spam_score": N_("Look at the rules SpamAssassin names and change the text or layout."),
}
LEVEL_LABELS = {"error": N_("error"), "warning": N_("warning"), "info": N_("info")}
# Roughly how many characters of the subject and of the preheader each inbox shows.
INBOX_CLIENTS: tuple[tuple[str, int, int], ...] = (
    ("Gmail (desktop)", 70, 100),
    ("Outlook (Windows)", 55, 50),
    ("iPhone (Mail)", 35, 90),
)
REASON_LABELS: dict[str, str] = {
    "interest": N_("interest"),
    "product_tag": N_("fits what they bought"),
    "own_product": N_("about a product they bought"),
    "cross_sell": N_("cross-sell"),
    "up_sell": N_("up-sell"),
    "sector": N_("sector"),
    "priority": N_("priority"),
    "freshness": N_("new"),
    "fallback": N_("general item (fallback)"),
    "timely": N_("current"),
}
SKIPPED = N_("skipped: %(reason)s")
LINTED = N_("lint: %(lint)s")
CHECKED = N_("check %(check)s: %(level)s")
COUNT_LABELS: dict[str, str] = {
    "customers": N_("customers"),
    "contacts": N_("contacts"),
    "segment_A": N_("customers in segment A"),
    "segment_B": N_("customers in segment B"),
    "segment_C": N_("customers in segment C"),
    "segment_D": N_("customers in segment D"),
    "quiet_customers": N_("quiet customers"),
    "newsletters": N_("newsletters"),
    "alerts": N_("alerts"),
    "fallback_newsletters": N_("newsletters with general items"),
    "calls": N_("calls"),
    "rejects": N_("rejected input rows"),
    "lints": N_("lints"),
    "check_errors": N_("checks: errors"),
    "check_warnings": N_("checks: warnings"),
    "check_infos": N_("checks: info"),
    "messages_with_errors": N_("messages with an error"),
}
KIND_LABELS = {MessageKind.NEWSLETTER: N_("newsletter"), MessageKind.ALERT: N_("alert")}
TYPE_LABELS = {"article": N_("article"), "alert": N_("alert"), "case": N_("case"), "event": N_("event")}
LANGUAGE_LABELS = {"nl": N_("Dutch"), "en": N_("English")}
FIGURES = (
    ("quiet_customers", N_("quiet customers")),
    ("newsletters", N_("newsletters")),
    ("alerts", N_("alerts")),
    ("calls", N_("calls")),
    ("rejects", N_("rejected rows")),
    ("lints", N_("lints")),
)
REPORT_TITLES = {"segments": N_("Segmentation"), "retention": N_("Retention")}


def count_labels(language: PageLanguage) -> dict[str, str]:
    """Return the label of every count of the manifest in the language, skips and lints included."""
    return {
        **labels(language, COUNT_LABELS),
        **{f"skip_{code}": language(SKIPPED, reason=label) for code, label in labels(language, SKIP_LABELS).items()},
        **{f"lint_{code}": language(LINTED, lint=label) for code, label in labels(language, LINT_LABELS).items()},
        **{
            f"check_{code}_{level}": language(CHECKED, check=label, level=level_label)
            for code, label in labels(language, CHECK_LABELS).items()
            for level, level_label in labels(language, LEVEL_LABELS).items()
        },
    }


def dutch_date(day: date) -> str:
    """Return a date as Dutch marketers write it: `30 november 2026`."""
    return page_language("nl").date(day)


def nl_number(value: float | int, digits: int = 0) -> str:
    """Format a number the Dutch way: `30.000`, `12,5`."""
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def signed(value: int, number: Callable[[int], str] = nl_number) -> str:
    """Format a change with its sign: `+12`, `−3`, `0`."""
    if value > 0:
        return f"+{number(value)}"
    if value < 0:
        return f"−{number(-value)}"
    return "0"


def trend(key: str, delta: int | None) -> str:
    """Return "worse" or "better" for a change in rejects or lints; other counts just change."""
    if not delta or not (key in ("rejects", "lints", "check_errors", "check_warnings", "messages_with_errors")
                         or key.startswith(("lint_", "check_"))):
        return ""
    return "worse" if delta > 0 else "better"

