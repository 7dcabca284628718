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

This module writes the files; what goes into them is made in `recipients` (the table's rows
and each recipient's details), `overview` (the overview and the variants) and `terms` (the
site's words and number formats), from the `model.SiteData` the run hands over.
"""

from __future__ import annotations

import gc
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2

from pipeline import finding_text  # noqa: F401 - registers the findings' forms for PageLanguage.text
from pipeline.language import PageLanguage, labels
from pipeline.models import MessageKind
from pipeline.site.model import SiteData, _language
from pipeline.site.overview import _ordered_variants, _overview, _variant_index, _variants
from pipeline.site.recipients import (
    ROW_FIELDS,
    ItemsSaid,
    _calls_by_customer,
    _detail,
    _item_catalogue,
    _row,
)
from pipeline.site.terms import (
    CHECK_FIXES,
    CHECK_LABELS,
    INBOX_CLIENTS,
    LANGUAGE_LABELS,
    LEVEL_LABELS,
    LINT_LABELS,
    OUTCOME_LABELS,
    REASON_LABELS,
    REPORT_TITLES,
    signed,
    trend,
)
from pipeline.templating import BUNDLED, page_environment
from pipeline.writer import RunWriter

__all__ = ["REPORT_TITLES", "SiteData", "js_assign", "js_json", "recipients_js", "text_js", "write_site"]

log = logging.getLogger(__name__)

BUNDLED_TEMPLATES = BUNDLED / "site"
DETAIL_SHARD = 500  # recipients per details file: a detail page loads one small file
STATIC_FILES = ("site.js", "site.css")


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
    _write_details(writer, site, variant_of)
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


def _write_details(writer: RunWriter, site: SiteData, variant_of: Mapping[tuple[str, MessageKind], int]) -> None:
    """Write site/data/details-<n>.js, shard by shard: the details of all recipients are never in memory at once.

    A shard sets `window.WINDSTIL_DETAILS[<n>]` to what `js_json` gives for its {contact id:
    details} as a whole, put together from each recipient's JSON and its customer's calls,
    encoded once per customer (every contact of a customer shows the same calls: they were
    most of the encoding time).
    """
    calls = _calls_by_customer(site)
    calls_json: dict[str, str] = {}
    said: ItemsSaid = {}  # the chosen items as worded for one recipient, for the next (see _items)
    language = _language(site)
    for number, start in enumerate(range(0, len(site.selections), DETAIL_SHARD)):
        parts = []
        for selection in site.selections[start : start + DETAIL_SHARD]:
            detail = _detail(site, selection, variant_of, calls, said, language)
            shown = detail.pop("calls")  # the last key: its JSON goes on the end of the rest's
            customer = selection.customer_id
            if customer not in calls_json:
                calls_json[customer] = _JSON.encode(shown)
            key = _JSON.encode(selection.contact_id)
            parts.append(f'{key}:{_JSON.encode(detail)[:-1]},"calls":{calls_json[customer]}}}')
        text = _js_escaped("{" + ",".join(parts) + "}")  # escaping goes character by character: the same in parts
        writer.write_text(
            f"site/data/details-{number}.js",
            f"(window.WINDSTIL_DETAILS = window.WINDSTIL_DETAILS || {{}})[{number}] = {text};\n",
        )


# --------------------------------------------------------------------------- helpers


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


# Compact JSON as json.dumps(ensure_ascii=False, separators=(",", ":")) writes it. The site's
# values are fresh lists and dicts with no cycles, so the encoder need not look for them
# (a fifth of its time).
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def js_json(value: Any) -> str:
    """Return `value` as JSON with `<`, `>`, `&` and line separators escaped for a script."""
    return _js_escaped(_JSON.encode(value))


def _js_escaped(text: str) -> str:
    """Return JSON text with `<`, `>`, `&` and line separators escaped, safe inside any HTML context."""
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


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


