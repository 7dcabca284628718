"""The recipients pages' data: one row per contact for the table, and each recipient's details."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipeline.call_lists import REASON_LABELS as CALL_LABELS
from pipeline.language import PageLanguage, labels
from pipeline.models import ChosenItem, Dataset, MessageKind, RenderedMessage, Selection, SkipReason
from pipeline.select import reason_detail
from pipeline.site.model import SiteData, _language, _name
from pipeline.site.terms import NOT_RENDERED, SIZE_BUDGET, TYPE_LABELS


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


# A chosen item as the recipient page shows it, by the item's identity and the contact's language.
ItemsSaid = dict[tuple[int, str], tuple[ChosenItem, list[Any]]]


def _detail(
    site: SiteData,
    selection: Selection,
    variant_of: Mapping[tuple[str, MessageKind], int],
    calls: Mapping[str, list[dict[str, Any]]],
    said: ItemsSaid,
    language: PageLanguage,
) -> dict[str, Any]:
    """Return what the recipient page shows beyond the table row: messages, items, calls.

    `said` keeps each chosen item as the page shows it, for the next recipient with the same
    one (see _items); `language` is the site's.
    """
    contact = site.data.contacts.get(selection.contact_id)
    customer = site.data.customers.get(selection.customer_id)
    quiet = site.quiet.get(selection.customer_id) if site.quiet else None
    newsletter = site.rendered.get((selection.contact_id, MessageKind.NEWSLETTER))
    alert = site.rendered.get((selection.contact_id, MessageKind.ALERT))
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
            _findings(site, selection.contact_id, MessageKind.NEWSLETTER, language),
            said,
        ),
        "alert": _message(
            alert,
            (selection.alert_item,) if selection.alert_item else (),
            False,
            selection.alert_reasons,
            language,
            selection.language,
            _findings(site, selection.contact_id, MessageKind.ALERT, language),
            said,
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
    return ";".join(reasons) or NOT_RENDERED  # str enums: joined as they are, their values


def _findings(site: SiteData, contact_id: str, kind: MessageKind, language: PageLanguage) -> list[list[str]]:
    """Return a message's check findings as [check, level, detail], worst first."""
    found = site.checks.get((contact_id, kind), ()) if site.checks else ()
    if not found:
        return []
    ordered = sorted(found, key=lambda f: _LEVEL_ORDER.index(f.level.value))
    return [[f.check, f.level.value, language.text(f.detail)] for f in ordered]


def _message(
    message: RenderedMessage | None,
    items: Sequence[ChosenItem],
    fallback: bool,
    reasons: Sequence[SkipReason],
    language: PageLanguage,
    contact_language: str,
    findings: list[list[str]],
    said: ItemsSaid,
) -> dict[str, Any]:
    if message is None:
        # A selection may say "made" while rendering made nothing: show that, do not hide it.
        return {"made": False, "reasons": list(reasons) or [NOT_RENDERED]}  # str enums: JSON writes their values
    return {
        "made": True,
        "subject": message.subject,
        "preheader": message.preheader,
        "bytes": message.html_bytes,
        "over_budget": message.html_bytes > SIZE_BUDGET,
        "lints": [[lint.code, language.text(lint.message)] for lint in message.lints],
        "fallback": fallback,
        "items": _items(items, language, contact_language, said),
        "item_ids": list(message.item_ids),
        "checks": findings,
    }


def _items(
    items: Sequence[ChosenItem], language: PageLanguage, contact_language: str, said: ItemsSaid
) -> list[list[Any]]:
    """Return the chosen items as [item id, score, [[kind, detail, points], ...]], each worded once.

    Selection hands out one object per distinct chosen item (contacts and customers alike get
    the very same one), so an item is worded for the first recipient that has it and the same
    list is written for the others: 109,000 items, most of them alike, at 30,000 customers.
    The item is kept with its words, so its identity cannot be taken by another meanwhile.
    """
    shown: list[list[Any]] = []
    for item in items:
        key = (id(item), contact_language)
        found = said.get(key)
        if found is None or found[0] is not item:
            words = [
                item.item_id,
                item.score,
                [[r.kind, reason_detail(r.kind, r.detail, contact_language, language.code), r.points]
                 for r in item.reasons],
            ]
            found = said[key] = (item, words)
        shown.append(found[1])
    return shown
