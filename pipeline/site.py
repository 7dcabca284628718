"""The review site in a run folder: overview, recipients, one recipient, variants.

The site is static and works from `file://` as well as from `windstil preview`. Chromium
refuses `fetch()` of local JSON, so the data comes as `.js` files that set one global each
and are loaded with `<script src>`. Pages are Jinja templates (autoescape on); the one
script, `site/site.js`, writes data into the page with `textContent` only.

Layout written into the run folder:

    index.html                     overview (counts, lints, warnings, changes, links)
    site/recipients.html           the table of every contact, paginated and filtered in JS
    site/recipient.html#<id>       one recipient: messages in sandboxed frames, why each item
    site/variants.html             recipients grouped by identical item selection + language
    site/site.js, site/site.css    the one script and the one stylesheet
    site/data/recipients.js        one compact row per contact (the table and the filters)
    site/data/details-<n>.js       details per recipient, in shards of DETAIL_SHARD contacts
    site/data/variants.js          the variants, largest first
"""

from __future__ import annotations

import gc
import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from pipeline import finding_text  # noqa: F401 - registers the findings' forms for PageLanguage.text
from pipeline.checks import Finding
from pipeline.feedback import FeedbackEvent, FeedbackKind
from pipeline.language import N_, PageLanguage, labels, page_language
from pipeline.models import (
    CallItem,
    CallReason,
    ChosenItem,
    Dataset,
    MessageKind,
    QuietStatus,
    RenderedMessage,
    Segment,
    Segmentation,
    Selection,
    SkipReason,
)
from pipeline.select import reason_detail
from pipeline.templating import BUNDLED, page_environment
from pipeline.writer import RunWriter

log = logging.getLogger(__name__)

BUNDLED_TEMPLATES = BUNDLED / "site"
DETAIL_SHARD = 500  # recipients per details file: a detail page loads one small file
SIZE_BUDGET = 90 * 1024  # bytes; Gmail clips a message at about 100 KB (docs/reference/codes.md: size_budget)
STATIC_FILES = ("site.js", "site.css")

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
    "own_product": N_("about a product they have"),
    "cross_sell": N_("cross-sell"),
    "up_sell": N_("up-sell"),
    "sector": N_("sector"),
    "priority": N_("priority"),
    "freshness": N_("new"),
    "fallback": N_("general item (fallback)"),
    "timely": N_("current"),
}
CALL_LABELS: dict[str, str] = {
    CallReason.EVALUATION_BELOW_NORM: N_("evaluation below the norm"),
    CallReason.QUIET_FOLLOWUP: N_("follow-up call after the newsletter"),
    CallReason.CONTACT_OVERDUE: N_("contact overdue"),
    CallReason.CROSS_SELL: N_("cross-sell"),
    CallReason.UP_SELL: N_("up-sell"),
    CallReason.REVENUE_DECLINE: N_("revenue decline"),
    CallReason.REVIEW_SEGMENT_D: N_("review D customer"),
    CallReason.CLICKED: N_("clicked in the e-mail"),
    CallReason.REPLIED: N_("replied to the e-mail"),
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


@dataclass(frozen=True)
class SiteData:
    """Everything the review site shows, handed over by the run at its end."""

    as_of: date
    created: str  # ISO timestamp of the run
    counts: dict[str, int]  # the manifest's counts
    warnings: tuple[str, ...]
    selections: Sequence[Selection]
    rendered: Mapping[tuple[str, MessageKind], RenderedMessage]
    data: Dataset
    segmentation: Segmentation
    calls: Sequence[CallItem]
    previous: Mapping[str, Any] | None  # the previous run's manifest (or just its counts)
    reports: Sequence[tuple[str, str]]  # (title, relpath), e.g. ("Segmentatie", "reports/segments.html")
    call_lists: Sequence[tuple[str, str]]  # (account manager name, relpath "calls/am1.html")
    quiet: Mapping[str, QuietStatus] | None = None  # shows quiet_since on a recipient
    templates: Path | None = None  # a folder overriding the bundled site templates
    language: str = "nl"  # settings.yaml: language
    locale_templates: Path | None = None  # the project's templates folder, for its own catalogue
    checks: Mapping[tuple[str, MessageKind], Sequence[Finding]] | None = None  # pre-send check findings
    accepted: Mapping[str, int] | None = None  # checks accepted with the approval → their errors
    sender: str = ""  # the From name, for the inbox line
    spam: Mapping[str, Any] | None = None  # SpamAssassin per kind: variants scored, worst and median score
    feedback: Sequence[FeedbackEvent] = ()  # what came back since the previous run (state's feedback)
    feedback_since: date | None = None  # the previous run's as-of date; None: since the start
    tracking: bool = False  # click tracking on: the overview shows clicks


def write_site(writer: RunWriter, site: SiteData) -> None:
    """Write the review site for one run into the writer's folder."""
    with _gc_paused():
        _write_site(writer, site)


@contextmanager
def _gc_paused() -> Iterator[None]:
    # The site data is hundreds of thousands of small acyclic lists; with a big heap, the
    # cyclic collector would re-scan everything over and over (4x slower at 30,000 recipients).
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _write_site(writer: RunWriter, site: SiteData) -> None:
    language = _language(site)
    env = _environment(site.templates, language)
    ordered = _ordered_variants(site)
    variant_of = _variant_index(ordered)
    variants = _variants(site, ordered)
    run_id = site.as_of.isoformat()
    common = {
        "run_id": run_id,
        "as_of_text": language.date(site.as_of),
        "created": _created_text(site.created, language),
        "reports": [(language.text(title), path) for title, path in site.reports],
        "call_lists": [(name, path) for name, path in site.call_lists],
    }
    writer.write_text(
        "index.html",
        env.get_template("index.html").render(root="", page="overview", **common, **_overview(site, variants)),
    )
    for name in ("recipients", "recipient", "variants"):
        writer.write_text(f"site/{name}.html", env.get_template(f"{name}.html").render(root="../", page=name, **common))
    for name in STATIC_FILES:
        writer.write_bytes(f"site/{name}", _static(site.templates, name))
    writer.write_text("site/data/text.js", text_js(_static(site.templates, "site.js").decode("utf-8"), language))
    writer.write_pieces("site/data/recipients.js", recipients_js(site, variant_of))
    # Written shard by shard, so the details of all recipients are never in memory at once.
    calls = _calls_by_customer(site)
    for number, start in enumerate(range(0, len(site.selections), DETAIL_SHARD)):
        shard = site.selections[start : start + DETAIL_SHARD]
        writer.write_text(
            f"site/data/details-{number}.js",
            _js_register(
                "WINDSTIL_DETAILS", number, {s.contact_id: _detail(site, s, variant_of, calls) for s in shard}
            ),
        )
    writer.write_text(
        "site/data/variants.js",
        js_assign(
            "WINDSTIL_VARIANTS",
            {
                "run": run_id,
                "variants": variants,
                "items": _item_catalogue(site.data, language),
                "labels": {"language": labels(language, LANGUAGE_LABELS)},
            },
        ),
    )
    log.info("review site written: %d recipients, %d variants", len(site.selections), len(variants))


# --------------------------------------------------------------------------- helpers


def dutch_date(day: date) -> str:
    """Return a date as Dutch marketers write it: `30 november 2026`."""
    return page_language("nl").date(day)


def _language(site: SiteData) -> PageLanguage:
    return page_language(site.language, site.locale_templates)


def _created_text(created: str, language: PageLanguage) -> str:
    """Return the run's ISO timestamp as `27 november 2026, 12:43 UTC` (as given if unparsable)."""
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return created
    zone = "UTC" if moment.utcoffset() == timedelta(0) else (moment.strftime("%z") if moment.tzinfo else "")
    return f"{language.date(moment.date())}, {moment:%H:%M} {zone}".rstrip()


# The messages of site.js: the first argument of every _("…") call in it.
_JS_MESSAGE = re.compile(r'(?<![\w.$])_\("((?:[^"\\]|\\.)*)"')


def text_js(script: str, language: PageLanguage) -> str:
    """Return site/data/text.js: every message site.js shows, in the language, and its number symbols."""
    messages = {}
    for found in _JS_MESSAGE.findall(script):
        message = json.loads(f'"{found}"')
        messages[message] = language.gettext(message)
    return js_assign(
        "WINDSTIL_TEXT",
        {
            "language": language.code,
            "group": language.locale.number_symbols["latn"]["group"],
            "decimal": language.locale.number_symbols["latn"]["decimal"],
            "messages": messages,
        },
    )


ROWS_AT_ONCE = 2000  # recipients-table rows made and encoded together


def recipients_js(site: SiteData, variant_of: Mapping[tuple[str, MessageKind], int]) -> Iterator[str]:
    """Return site/data/recipients.js in pieces: the table's rows are made and encoded a batch at a time.

    The text is what `js_assign` gives for the whole object; at 30,000 customers the rows
    alone were 80,000 lists held at once, and their JSON a str of tens of megabytes.
    """
    language = _language(site)
    head = js_json({"run": site.as_of.isoformat(), "shard": DETAIL_SHARD, "fields": list(ROW_FIELDS)})
    tail = js_json({
        "managers": {am.account_manager_id: am.name for am in site.data.account_managers.values()},
        "labels": {
            "skip": labels(language, OUTCOME_LABELS),
            "lint": labels(language, LINT_LABELS),
            "reason": labels(language, REASON_LABELS),
            "language": labels(language, LANGUAGE_LABELS),
            "check": labels(language, CHECK_LABELS),
            "fix": labels(language, CHECK_FIXES),
            "level": labels(language, LEVEL_LABELS),
        },
        "inbox": {"sender": site.sender, "clients": INBOX_CLIENTS},
        "items": _item_catalogue(site.data, language),
    })
    yield f'window.WINDSTIL_RECIPIENTS = {head[:-1]},"rows":['
    for start in range(0, len(site.selections), ROWS_AT_ONCE):
        rows = [_row(site, s, variant_of) for s in site.selections[start : start + ROWS_AT_ONCE]]
        yield ("," if start else "") + js_json(rows)[1:-1]
    yield f"],{tail[1:]};\n"


def js_assign(name: str, value: Any) -> str:
    """Return JavaScript that sets `window.<name>` to `value`, safe inside any HTML context."""
    return f"window.{name} = {js_json(value)};\n"


def js_json(value: Any) -> str:
    """Return `value` as JSON with `<`, `>`, `&` and line separators escaped for a script."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _js_register(name: str, key: int, value: Any) -> str:
    return f"(window.{name} = window.{name} || {{}})[{key}] = {js_json(value)};\n"


def _environment(override: Path | None, language: PageLanguage) -> jinja2.Environment:
    number = language.number
    filters: dict[str, Callable[..., Any]] = {
        "nl_number": number,  # the name the templates have always used; the language's own format
        "number": number,
        "signed": lambda v: signed(v, number),
        "trend": trend,
    }
    return page_environment((override, BUNDLED_TEMPLATES), filters, language=language)


def _static(override: Path | None, name: str) -> bytes:
    for folder in (override, BUNDLED_TEMPLATES):
        if folder is not None and (folder / name).is_file():
            return (folder / name).read_bytes()
    raise FileNotFoundError(f"site asset {name} is missing from {BUNDLED_TEMPLATES}")


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


def _safe_url(url: str) -> str:
    """Return `url` when it is http(s), else "": the site links only to the web."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return ""
    return url if scheme in ("http", "https") else ""


def _item_catalogue(data: Dataset, language: PageLanguage) -> dict[str, list[str]]:
    types = labels(language, TYPE_LABELS)
    return {
        item.id: [
            item.title,
            types.get(item.type.value, item.type.value),
            item.language,
            _safe_url(item.url),
            item.published.isoformat(),
            item.expires.isoformat() if item.expires else "",
        ]
        for item in data.content.values()
    }


# --------------------------------------------------------------------------- recipients

ROW_FIELDS = (
    "id",  # 0 contact_id
    "name",  # 1 contact's full name
    "customer",  # 2 customer name
    "customer_id",  # 3
    "segment",  # 4
    "am",  # 5 account_manager_id
    "language",  # 6
    "quiet",  # 7 1/0
    "newsletter",  # 8 "" when made, else the reason codes joined with ";"
    "alert",  # 9 likewise
    "lints",  # 10 lint codes of both messages joined with ";"
    "fallback",  # 11 1/0
    "variant",  # 12 index into variants.js of the newsletter, -1 when none
    "check_level",  # 13 the worst level of both messages' check findings: error, warning, info or ""
    "checks",  # 14 check codes of both messages' findings joined with ";"
)


def _row(site: SiteData, selection: Selection, variant_of: Mapping[tuple[str, MessageKind], int]) -> list[Any]:
    """Return one compact row of the recipients table (fields as in ROW_FIELDS)."""
    customer = site.data.customers.get(selection.customer_id)
    newsletter = site.rendered.get((selection.contact_id, MessageKind.NEWSLETTER))
    alert = site.rendered.get((selection.contact_id, MessageKind.ALERT))
    lint_codes = sorted({lint.code for m in (newsletter, alert) if m for lint in m.lints})
    return [
        selection.contact_id,
        _name(site.data, selection.contact_id),
        customer.name if customer else selection.customer_id,
        selection.customer_id,
        selection.segment.value,
        selection.account_manager_id,
        selection.language,
        int(selection.quiet),
        _outcome(newsletter, selection.newsletter_reasons),
        _outcome(alert, selection.alert_reasons),
        ";".join(lint_codes),
        int(selection.fallback),
        variant_of.get((selection.contact_id, MessageKind.NEWSLETTER), -1),
        *_check_status(site, selection.contact_id),
    ]


_LEVEL_ORDER = ("error", "warning", "info")


def _check_status(site: SiteData, contact_id: str) -> tuple[str, str]:
    """Return the worst check level of a contact's messages and their check codes joined with ";"."""
    if not site.checks:
        return "", ""
    findings = [f for kind in MessageKind for f in site.checks.get((contact_id, kind), ())]
    if not findings:
        return "", ""
    levels = {f.level.value for f in findings}
    worst = next(level for level in _LEVEL_ORDER if level in levels)
    return worst, ";".join(sorted({f.check for f in findings}))


def _detail(
    site: SiteData,
    selection: Selection,
    variant_of: Mapping[tuple[str, MessageKind], int],
    calls: Mapping[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """Return what the recipient page shows beyond the table row: messages, items, calls."""
    contact = site.data.contacts.get(selection.contact_id)
    customer = site.data.customers.get(selection.customer_id)
    quiet = site.quiet.get(selection.customer_id) if site.quiet else None
    newsletter = site.rendered.get((selection.contact_id, MessageKind.NEWSLETTER))
    alert = site.rendered.get((selection.contact_id, MessageKind.ALERT))
    language = _language(site)
    return {
        "id": selection.contact_id,
        "email": contact.email if contact else "",
        "email_valid": bool(contact and contact.email_valid),
        "job_title": contact.job_title if contact else "",
        "level": contact.level.value if contact else "",
        "opt_in": bool(contact and contact.newsletter_opt_in),
        "sector": customer.sector if customer else "",
        "quiet_since": language.date(quiet.quiet_since) if quiet and quiet.quiet_since else "",
        "newsletter": _message(
            newsletter,
            selection.items,
            selection.fallback,
            selection.newsletter_reasons,
            language,
            selection.language,
            _findings(site, selection.contact_id, MessageKind.NEWSLETTER),
        ),
        "alert": _message(
            alert,
            (selection.alert_item,) if selection.alert_item else (),
            False,
            selection.alert_reasons,
            language,
            selection.language,
            _findings(site, selection.contact_id, MessageKind.ALERT),
        ),
        "alert_variant": variant_of.get((selection.contact_id, MessageKind.ALERT), -1),
        "calls": calls.get(selection.customer_id, []),
    }


def _calls_by_customer(site: SiteData) -> dict[str, list[dict[str, Any]]]:
    """Return each customer's follow-up calls, so a recipient shows whether someone will ring."""
    lists = {Path(path).stem: path for _, path in site.call_lists}
    managers = site.data.account_managers
    language = _language(site)
    call_labels = labels(language, CALL_LABELS)
    result: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in site.calls:
        manager = managers.get(call.account_manager_id)
        result[call.customer_id].append(
            {
                "manager": manager.name if manager else call.account_manager_id,
                "list": lists.get(call.account_manager_id, ""),
                "priority": call.priority,
                "due": language.date(call.due),
                "reasons": [call_labels.get(r, r.value) for r in call.reasons],
                "contact_id": call.contact_id,
                "contact": call.contact_name,
                "note": call.note,
            }
        )
    return result


def _outcome(message: RenderedMessage | None, reasons: Sequence[SkipReason]) -> str:
    """Return "" for a message that was made, else why not (reason codes joined with ";")."""
    if message is not None:
        return ""
    return ";".join(r.value for r in reasons) or NOT_RENDERED


def _findings(site: SiteData, contact_id: str, kind: MessageKind) -> list[list[str]]:
    """Return a message's check findings as [check, level, detail], worst first."""
    found = site.checks.get((contact_id, kind), ()) if site.checks else ()
    ordered = sorted(found, key=lambda f: _LEVEL_ORDER.index(f.level.value))
    language = _language(site)
    return [[f.check, f.level.value, language.text(f.detail)] for f in ordered]


def _message(
    message: RenderedMessage | None,
    items: Sequence[ChosenItem],
    fallback: bool,
    reasons: Sequence[SkipReason],
    language: PageLanguage,
    contact_language: str,
    findings: list[list[str]] | None = None,
) -> dict[str, Any]:
    if message is None:
        # A selection may say "made" while rendering made nothing: show that, do not hide it.
        return {"made": False, "reasons": [r.value for r in reasons] or [NOT_RENDERED]}
    return {
        "made": True,
        "subject": message.subject,
        "preheader": message.preheader,
        "bytes": message.html_bytes,
        "over_budget": message.html_bytes > SIZE_BUDGET,
        "lints": [[lint.code, language.text(lint.message)] for lint in message.lints],
        "fallback": fallback,
        "items": [
            [
                item.item_id,
                item.score,
                [
                    [r.kind, reason_detail(r.kind, r.detail, contact_language, language.code), r.points]
                    for r in item.reasons
                ],
            ]
            for item in items
        ],
        "item_ids": list(message.item_ids),
        "checks": findings or [],
    }


# --------------------------------------------------------------------------- variants


Variants = list[tuple[tuple[str, str, tuple[str, ...]], list[str]]]


def _variant_keys(site: SiteData) -> dict[tuple[str, str, tuple[str, ...]], list[str]]:
    """Group contacts by (kind, language, item ids) of a rendered message, in contact order."""
    language = {s.contact_id: s.language for s in site.selections}
    groups: dict[tuple[str, str, tuple[str, ...]], list[str]] = defaultdict(list)
    for selection in site.selections:
        for kind in (MessageKind.NEWSLETTER, MessageKind.ALERT):
            message = site.rendered.get((selection.contact_id, kind))
            if message is not None:
                key = (kind.value, language[selection.contact_id], tuple(message.item_ids))
                groups[key].append(selection.contact_id)
    return groups


def _ordered_variants(site: SiteData) -> Variants:
    groups = _variant_keys(site)
    return sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0][0] != "newsletter", kv[0]))


def _variant_index(ordered: Variants) -> dict[tuple[str, MessageKind], int]:
    index: dict[tuple[str, MessageKind], int] = {}
    for number, ((kind, _, _), members) in enumerate(ordered):
        for contact_id in members:
            index[(contact_id, MessageKind(kind))] = number
    return index


def _variants(site: SiteData, ordered: Variants) -> list[dict[str, Any]]:
    """Return the variants, largest first: a reviewer checks each distinct message once."""
    by_contact = {s.contact_id: s for s in site.selections}
    result = []
    for (kind, language, item_ids), members in ordered:
        segments = Counter(by_contact[c].segment.value for c in members)
        lints = sum(1 for c in members if site.rendered[(c, MessageKind(kind))].lints)
        result.append(
            {
                "kind": kind,
                "language": language,
                "items": list(item_ids),
                "count": len(members),
                "representative": members[0],
                "representative_name": _name(site.data, members[0]),
                "segments": dict(sorted(segments.items())),
                "fallback": kind == "newsletter" and by_contact[members[0]].fallback,
                "with_lints": lints,
            }
        )
    return result


# --------------------------------------------------------------------------- overview


def _name(data: Dataset, contact_id: str) -> str:
    contact = data.contacts.get(contact_id)
    return (contact.full_name if contact else "") or contact_id


FEEDBACK_LABELS = {
    FeedbackKind.UNSUBSCRIBE: N_("unsubscribes"),
    FeedbackKind.HARD_BOUNCE: N_("hard bounces (address unusable)"),
    FeedbackKind.SOFT_BOUNCE: N_("soft bounces (temporary)"),
    FeedbackKind.REPLY: N_("replies from contacts"),
    FeedbackKind.AUTO_REPLY: N_("automatic replies (out of office)"),
    FeedbackKind.CLICK: N_("clicks by people"),
}


def _feedback(site: SiteData) -> dict[str, Any]:
    """Return what came back since the previous run: counts per kind, the replies, the items clicked."""
    language = _language(site)
    events = list(site.feedback)
    counts = Counter(e.kind for e in events if not (e.kind is FeedbackKind.CLICK and e.automated))
    kinds = [k for k in FEEDBACK_LABELS if k is not FeedbackKind.CLICK or site.tracking]
    clicked = Counter(e.item_id for e in events if e.kind is FeedbackKind.CLICK and not e.automated)
    return {
        "since": language.date(site.feedback_since) if site.feedback_since else "",
        "rows": [(k.value, language.gettext(FEEDBACK_LABELS[k]), counts.get(k, 0)) for k in kinds],
        "automated": sum(1 for e in events if e.kind is FeedbackKind.CLICK and e.automated),
        "tracking": site.tracking,
        "replies": [
            (_name(site.data, e.contact_id) if e.contact_id else e.email, language.date(e.at.date()), e.detail)
            for e in events if e.kind is FeedbackKind.REPLY
        ][-10:],
        "clicked": [
            (site.data.content[i].title if i in site.data.content else i, n) for i, n in clicked.most_common(5)
        ],
    }


def _overview(site: SiteData, variants: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Return the overview page's context."""
    language = _language(site)
    counts = dict(site.counts)
    previous_counts, previous_run = _previous(site.previous)
    segment_rows = _segment_rows(site)
    lint_counts = Counter(lint.code for m in site.rendered.values() for lint in m.lints)
    lint_messages = sum(1 for m in site.rendered.values() if m.lints)
    over_budget = sum(1 for m in site.rendered.values() if m.html_bytes > SIZE_BUDGET)
    largest = max((m.html_bytes for m in site.rendered.values()), default=0)
    skips = {
        "newsletter": Counter(r.value for s in site.selections for r in s.newsletter_reasons),
        "alert": Counter(r.value for s in site.selections for r in s.alert_reasons),
    }
    call_reasons = Counter(r.value for c in site.calls for r in c.reasons)
    calls_per_am = Counter(c.account_manager_id for c in site.calls)
    figures = [(key, language.gettext(label)) for key, label in FIGURES]
    all_counts = count_labels(language)
    changes = []
    if previous_counts is not None:
        for key in sorted(set(counts) | set(previous_counts), key=_count_order):
            before, now = _comparable(previous_counts, key), _comparable(counts, key)
            if before is not None and now is not None and now != before:
                changes.append((key, all_counts.get(key, key), before, now, now - before))
    return {
        "feedback": _feedback(site),
        "counts": counts,
        "figures": [(key, label, counts.get(key, 0), _delta(counts, previous_counts, key)) for key, label in figures],
        "previous_run": previous_run,
        "has_previous": previous_counts is not None,
        "changes": changes,
        "segments": segment_rows,
        "moves": [replace(m, explanation=language.text(m.explanation)) for m in site.segmentation.moves],
        "frozen_at": language.date(site.segmentation.frozen_at),
        "skip_rows": [
            (code, label, skips["newsletter"].get(code, 0), skips["alert"].get(code, 0))
            for code, label in labels(language, SKIP_LABELS).items()
            if skips["newsletter"].get(code) or skips["alert"].get(code)
        ],
        "lint_rows": [
            (code, language.gettext(LINT_LABELS.get(code, code)), n) for code, n in lint_counts.most_common()
        ],
        "lint_messages": lint_messages,
        "over_budget": over_budget,
        "largest_kb": round(largest / 1024, 1),
        "variant_count": len(variants),
        "newsletter_variants": sum(1 for v in variants if v["kind"] == "newsletter"),
        "call_rows": [(language.gettext(CALL_LABELS.get(code, code)), n) for code, n in call_reasons.most_common()],
        "call_lists_counts": [(name, path, calls_per_am.get(Path(path).stem, 0)) for name, path in site.call_lists],
        "warnings": [language.text(w) for w in site.warnings],
        "contacts": len(site.selections),
        **_check_overview(site),
    }


def _check_overview(site: SiteData) -> dict[str, Any]:
    """Return the overview's pre-send check table: findings per check and level, messages affected."""
    language = _language(site)
    findings: Counter[tuple[str, str]] = Counter()
    messages: Counter[str] = Counter()
    for found in (site.checks or {}).values():
        for finding in found:
            findings[(finding.check, finding.level.value)] += 1
        for check in {f.check for f in found}:
            messages[check] += 1
    order = {code: n for n, code in enumerate(CHECK_LABELS)}
    rows = [
        {
            "code": code,
            "label": language.gettext(CHECK_LABELS.get(code, code)),
            "fix": language.gettext(CHECK_FIXES[code]) if code in CHECK_FIXES else "",
            "error": findings.get((code, "error"), 0),
            "warning": findings.get((code, "warning"), 0),
            "info": findings.get((code, "info"), 0),
            "messages": messages[code],
        }
        for code in sorted(messages, key=lambda c: (order.get(c, len(order)), c))
    ]
    return {
        "checks_run": site.checks is not None,
        "check_rows": rows,
        "check_errors": sum(r["error"] for r in rows),
        "check_warnings": sum(r["warning"] for r in rows),
        "check_messages": sum(1 for found in (site.checks or {}).values() if found),
        "accepted": [
            (code, language.gettext(CHECK_LABELS.get(code, code)), n)
            for code, n in sorted((site.accepted or {}).items())
        ],
        "spam": [
            (
                language.gettext(KIND_LABELS[MessageKind(kind)]),
                values["scored"],
                language.number(values["worst"], 1),
                language.number(values["median"], 1),
            )
            for kind, values in (site.spam or {}).items()
        ],
    }


def _segment_rows(site: SiteData) -> list[dict[str, Any]]:
    seg = site.segmentation
    customers = Counter(v.segment.value for v in seg.customers.values())
    revenue: dict[str, float] = defaultdict(float)
    total_revenue = sum(float(v.revenue) for v in seg.customers.values())
    for value in seg.customers.values():
        revenue[value.segment.value] += float(value.revenue)
    quiet_customers: Counter[str] = Counter()
    if site.quiet is not None:
        for customer_id, status in site.quiet.items():
            if status.quiet and customer_id in seg.customers:
                quiet_customers[seg.customers[customer_id].segment.value] += 1
    else:
        seen = {(s.customer_id, s.segment.value) for s in site.selections if s.quiet}
        quiet_customers.update(segment for _, segment in seen)
    made: dict[str, Counter[str]] = defaultdict(Counter)
    for selection in site.selections:
        for kind in MessageKind:
            if (selection.contact_id, kind) in site.rendered:
                made[selection.segment.value][kind.value] += 1
    calls = Counter(c.segment.value for c in site.calls)
    return [
        {
            "segment": s.value,
            "customers": customers.get(s.value, 0),
            "revenue_share": (revenue[s.value] / total_revenue * 100) if total_revenue else 0.0,
            "quiet": quiet_customers.get(s.value, 0),
            "newsletters": made[s.value].get("newsletter", 0),
            "alerts": made[s.value].get("alert", 0),
            "calls": calls.get(s.value, 0),
        }
        for s in Segment
    ]


def _previous(previous: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, str]:
    """Return the previous run's counts and its id from a manifest or a bare counts mapping."""
    if previous is None:
        return None, ""
    counts = previous.get("counts")
    if isinstance(counts, Mapping):
        return dict(counts), str(previous.get("as_of", ""))
    return dict(previous), ""


def _comparable(counts: Mapping[str, Any], key: str) -> int | None:
    """Return a count for comparison: absent skip_/lint_ counts were 0, other absent ones unknown."""
    value = counts.get(key)
    if isinstance(value, int):
        return value
    return 0 if value is None and key.startswith(("skip_", "lint_", "check_")) else None


def _delta(counts: Mapping[str, Any], previous: Mapping[str, Any] | None, key: str) -> int | None:
    if previous is None:
        return None
    before, now = _comparable(previous, key), _comparable(counts, key)
    return None if before is None or now is None else now - before


_CHECK_COUNTS = ("check_errors", "check_warnings", "check_infos", "messages_with_errors")
_ORDER = [
    *(key for key in COUNT_LABELS if key not in _CHECK_COUNTS),
    *(f"skip_{code}" for code in SKIP_LABELS),
    *(f"lint_{code}" for code in LINT_LABELS),
    *_CHECK_COUNTS,
    *(f"check_{code}_{level}" for code in CHECK_LABELS for level in LEVEL_LABELS),
]


def _count_order(key: str) -> tuple[int, str]:
    return (_ORDER.index(key) if key in _ORDER else len(_ORDER), key)
