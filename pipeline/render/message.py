"""Render one contact's newsletter and alert: Jinja on precompiled templates, then MIME bytes.

This is the per-recipient path, so it does as little as possible: no MJML, no CSS inlining,
no template compilation. Values that are the same for a whole run, a language or a customer
are computed once and kept in `Compiled.cache`. The MIME message is assembled by hand from
prebuilt header lines (tests parse it back with the standard library and compare it header
for header with one built by `email.message.EmailMessage`). Bodies are UTF-8 with CRLF line
ends: the text part quoted-printable (readable, as spam filters like it), the HTML part base64
(a third of the cost of quoted-printable on 25 KB); every line stays under 78 bytes.
"""

from __future__ import annotations

import binascii
import functools
import gettext
import hashlib
import logging
import operator
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from babel.dates import format_date as babel_format_date
from babel.lists import format_list

from pipeline.language import N_, Notice, notice_template
from pipeline.models import (
    LANGUAGES,
    ChosenItem,
    Contact,
    Dataset,
    ItemType,
    Lint,
    LintCode,
    MessageKind,
    OrderStatus,
    RenderedMessage,
    Segmentation,
    Selection,
    Settings,
)
from pipeline.render.compile import Compiled, CompiledTemplate
from pipeline.render.formatting import (
    clean_text,
    encode_header_text,
    format_address,
    format_date,
    locale_for,
    sender_domain,
    with_utm,
)
from pipeline.render.i18n import WhyLines, WhySentences, _, why_sentences
from pipeline.tables import orders_newest_first
from pipeline.tracking import click_url, make_click_token
from pipeline.unsubscribe import make_token

log = logging.getLogger(__name__)

# The lints' texts: English, and said in the project's language on the review site.
LINT_NO_MANAGER = notice_template(N_("no account manager: the card shows the company"))
LINT_NO_PHONE = notice_template(N_("account manager %(name)s has no phone: the company number is shown"))
LINT_EXPIRED = notice_template(N_("%(item)s expired on %(day)s"))
LINT_FUTURE = notice_template(N_("%(item)s is published only on %(day)s"))
LINT_NO_FIRST_NAME = notice_template(N_("no first name: the salutation is %(salutation)s"))
LINT_SIZE = notice_template(N_("HTML is %(size)s KB, over the %(budget)s KB budget"))

SIZE_BUDGET = 90 * 1024  # bytes of HTML; Gmail clips a message at about 100 KB
SEND_TIME = time(9, 0)  # the Date header: the as-of date at 09:00 in Amsterdam
TIMEZONE = ZoneInfo("Europe/Amsterdam")
LIST_NAMES = {MessageKind.NEWSLETTER: "newsletter", MessageKind.ALERT: "alerts"}
LIST_LABELS = {MessageKind.NEWSLETTER: "nieuwsbrief", MessageKind.ALERT: "alerts"}
MAX_TITLE_IN_SUBJECT = 60
MAX_SUBJECT = 60  # characters: phones cut a longer subject
MAX_PREHEADER = 110  # characters: inboxes show at most about this many
MIN_TITLE_IN_SUBJECT = 24  # a title is not cut shorter (it would say too little): the subject stays long instead

_KIND_AND_DETAIL = operator.attrgetter("kind", "detail")
_ITEM_ID = operator.attrgetter("item_id")
_CHOSEN_HELD = 4096  # chosen items remembered by identity
_WHY_HELD = 8192  # why lines and item values made with them
_KIND_NAMES = {kind: kind.value for kind in MessageKind}  # Enum.value is a Python-level property
_NOT_PHONE = re.compile(r"[^\d+]")
_ADDRESS_UNSAFE = re.compile(r"[<>,;\s]")


def render_messages(
    compiled: Compiled,
    selection: Selection,
    data: Dataset,
    settings: Settings,
    segmentation: Segmentation | None,
    as_of: date,
    secret: bytes,
) -> list[tuple[RenderedMessage, dict[str, bytes]]]:
    """Render the messages made for one contact: (what was made, relpath → bytes) per message."""
    results = []
    for parts in message_parts(compiled, selection, data, settings, as_of, secret):
        template = parts.template
        html = _render_utf8(template.html, parts.context, piecewise=True)
        results.append(_assemble(parts, html, _render_utf8(template.text, parts.context, piecewise=False)))
    return results


def _render_utf8(template: jinja2.Template, context: dict[str, Any], *, piecewise: bool) -> bytes:
    """Return `template.render(context).encode("utf-8")`.

    `piecewise` encodes each piece the template yields and joins the bytes. One character
    beyond Latin-1 (the `…` of a shortened title in the HTML's title and preheader) makes a
    joined str two or four bytes a character throughout, and its encoding slow: for the
    HTML part this takes half the time. For the short text part, mostly Latin-1, joining the
    str first is quicker. The context holds every name the e-mail templates use
    (StrictUndefined would say if one were missing), so it is handed over as it is, without
    merging Jinja's globals into every context.
    """
    pieces = template.root_render_func(template.new_context(context, shared=True))
    if piecewise:
        return b"".join(map(_ENCODE, pieces))
    return "".join(pieces).encode("utf-8")


_ENCODE = str.encode  # UTF-8, strict


# --------------------------------------------------------------------------- cached values


def _run_values(compiled: Compiled, settings: Settings, as_of: date) -> dict[str, Any]:
    """Return the values shared by every message of one run (one as-of date)."""

    def make() -> dict[str, Any]:
        run_id = as_of.isoformat()
        domain = sender_domain(settings.sender_email)
        sent = datetime.combine(as_of, SEND_TIME, tzinfo=TIMEZONE)
        website = settings.website_url
        utm = (
            ("utm_source", settings.utm_source),
            ("utm_medium", settings.utm_medium),
            ("utm_campaign", run_id),
        )
        company = {
            "name": clean_text(settings.company_name),
            "address": [clean_text(line) for line in settings.postal_address.split("\n") if line.strip()],
            "phone": clean_text(settings.company_phone),
            # Tagged like every other link to the site, so web statistics count the visit too.
            "website": with_utm(website, utm),
            "website_label": re.sub(r"^https?://", "", website).rstrip("/"),
        }
        head = (
            f"From: {format_address(settings.sender_name, settings.sender_email)}\r\n"
            f"Reply-To: {format_address('', settings.reply_to)}\r\n"
        )
        return {
            "run_id": run_id,
            "domain": domain,
            "utm": utm,
            "company": company,
            "head": head,
            "date": f"Date: {format_datetime(sent)}\r\n",
            "unsubscribe_url": settings.unsubscribe_url,
            "unsubscribe_sep": "&" if "?" in settings.unsubscribe_url else "?",
            "unsubscribe_mailto": settings.unsubscribe_mailto,
            "as_of": as_of,
            "sender_name": clean_text(settings.sender_name),
            # Click tracking (off by default): item links go through the endpoint's click path.
            "click_url": settings.tracking.url if settings.tracking is not None else "",
        }

    held = compiled.cache.get("run")
    if held is None or held[0] != as_of or held[1] is not settings:
        held = compiled.cache["run"] = (as_of, settings, make())
    return held[2]


def _language_values(compiled: Compiled, run: dict[str, Any], kind: MessageKind, language: str) -> dict[str, Any]:
    """Return header lines and headings that depend only on the run, the list and the language."""

    def make() -> dict[str, Any]:
        t = compiled.translations[language]
        sender = re.sub(r"[^\x20-\x7e]", "", run["sender_name"]).replace('"', "").strip()
        list_id = f"{LIST_NAMES[kind]}.{run['domain']}"
        month = babel_format_date(run["as_of"], "LLLL y", locale=locale_for(language))
        if kind is MessageKind.NEWSLETTER:
            heading = t.gettext(_("Newsletter %(month)s")) % {"month": month}
        else:
            heading = t.gettext(_("Update, %(date)s")) % {"date": format_date(run["as_of"], language)}
        return {
            # One List-Id per list, whatever the language: mail clients and filters group by it.
            "list_id": f"List-Id: {sender} {LIST_LABELS[kind]} <{list_id}>\r\n",
            "tail": (
                "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
                f"Content-Language: {language}\r\n"
                "MIME-Version: 1.0\r\n"
            ),
            "heading": heading,
        }

    key = ("language", run["as_of"], kind, language)
    values = compiled.cache.get(key)
    if values is None:
        values = compiled.cache[key] = make()
    return values


def _customer_values(
    compiled: Compiled, data: Dataset, settings: Settings, customer_id: str, language: str, as_of: date
) -> dict[str, Any]:
    """Return the customer's context and account manager card.

    Only the latest customer's values are kept (a customer's recipients come one after the
    other), so the cache does not grow with the number of customers in a run.
    """
    key = (customer_id, language, as_of)
    held = compiled.cache.get("customer")
    if held is not None and held[0] is data and held[1] == key:
        return held[2]  # type: ignore[no-any-return]
    t = compiled.translations[language]
    customer = data.customers.get(customer_id)
    name = clean_text(customer.name) if customer else ""
    manager = _manager_values(compiled, data, settings, customer.account_manager_id if customer else None, language)
    context = _context_sentence(
        compiled, data, customer_id, name, customer.customer_since if customer else None, language, as_of, t
    )
    values = {
        # A sentence that ends on the name ends once: "contact of Smits Transport B.V." (see compile).
        "customer": {"name": name, "context": context, "stop": "" if name.endswith(".") else "."},
        "am": manager["am"],
        "invitation": manager["invitation"],
        "lints": manager["lints"],
    }
    compiled.cache["customer"] = (data, key, values)
    return values


def _manager_values(
    compiled: Compiled, data: Dataset, settings: Settings, manager_id: str | None, language: str
) -> dict[str, Any]:
    """Return an account manager's card and invitation lines, once per manager and language."""
    held = compiled.cache.get("managers")
    if held is None or held[0] is not data.account_managers or held[1] is not settings:
        held = compiled.cache["managers"] = (data.account_managers, settings, {})
    by_manager: dict[tuple[str | None, str], dict[str, Any]] = held[2]
    values = by_manager.get((manager_id, language))
    if values is not None:
        return values
    t = compiled.translations[language]
    lints: list[Lint] = []
    manager = data.account_managers.get(manager_id) if manager_id is not None else None
    if manager is None:
        lints.append(Lint(LintCode.FALLBACK_FIELD, Notice(LINT_NO_MANAGER)))
        am_name, am_email, am_phone = clean_text(settings.company_name), settings.reply_to, ""
    else:
        am_name, am_phone = clean_text(manager.name), clean_text(manager.phone)
        am_email = clean_text(manager.email)
    if not am_phone:
        lints.append(Lint(LintCode.FALLBACK_FIELD, Notice(LINT_NO_PHONE, name=am_name)))
        am_phone = clean_text(settings.company_phone)
    am_first = am_name.split(" ")[0] if manager is not None else am_name
    if am_phone:
        invite = {
            MessageKind.NEWSLETTER: _(
                "Would you like to talk about one of these subjects? "
                "Reply to this e-mail or call %(name)s on %(phone)s."
            ),
            MessageKind.ALERT: _("Questions about this? Reply to this e-mail or call %(name)s on %(phone)s."),
        }
    else:
        invite = {
            MessageKind.NEWSLETTER: _(
                "Would you like to talk about one of these subjects? "
                "Reply to this e-mail and %(name)s will get back to you."
            ),
            MessageKind.ALERT: _("Questions about this? Reply to this e-mail and %(name)s will get back to you."),
        }
    names = {"name": am_first, "phone": am_phone}
    values = by_manager[(manager_id, language)] = {
        "am": {
            "name": am_name,
            "email": am_email,
            "phone": am_phone,
            "phone_href": _NOT_PHONE.sub("", am_phone),
        },
        "invitation": {kind: t.gettext(message) % names for kind, message in invite.items()},
        "lints": tuple(lints),
    }
    return values


def _context_sentence(
    compiled: Compiled,
    data: Dataset,
    customer_id: str,
    customer_name: str,
    since: date | None,
    language: str,
    as_of: date,
    t: gettext.NullTranslations,
) -> str:
    """Say what the customer bought from us and when we last finished work for them."""
    products: list[str] = []
    last_end: date | None = None
    for order_date, _order_id, status, product_id, description, end_date in _orders_of(compiled, data, customer_id):
        if status is OrderStatus.CANCELLED or order_date > as_of:
            continue
        if len(products) < 3:
            product = data.products.get(product_id)
            label = clean_text(product.name_in(language) if product else description)
            if label and label not in products:
                products.append(label)
        if end_date is not None and end_date <= as_of and (last_end is None or end_date > last_end):
            last_end = end_date
    sentences = []
    if products:
        listed = _format_list(tuple(products), language)
        if since is not None:
            sentences.append(
                t.gettext(
                    _(
                        "Since %(year)s, %(customer)s has worked with us on %(products)s, among other things; "
                        "we chose these subjects with that in mind."
                    )
                )
                % {"year": since.year, "customer": customer_name, "products": listed}
            )
        else:
            sentences.append(
                t.gettext(
                    _(
                        "%(customer)s works with us on %(products)s, among other things; "
                        "we chose these subjects with that in mind."
                    )
                )
                % {"customer": customer_name, "products": listed}
            )
    if last_end is not None:
        sentences.append(
            t.gettext(_("Our last project together was completed on %(date)s."))
            % {"date": format_date(last_end, language)}
        )
    return " ".join(sentences)


def prepare_run(compiled: Compiled, data: Dataset) -> None:
    """Forget what was kept of an earlier `data` (a render process's chunk, or the whole dataset)."""
    compiled.cache.pop("orders", None)


def _orders_of(compiled: Compiled, data: Dataset, customer_id: str) -> list[tuple[Any, ...]]:
    """Return one customer's orders, newest first, as rows of NEWEST_FIRST_FIELDS (no Order made).

    The render stage gets a chunk's orders (a few thousand): they are indexed by customer in
    one pass on first use.
    """
    held = compiled.cache.get("orders")
    if held is None or held[0] is not data:
        held = compiled.cache["orders"] = (data, orders_newest_first(data.orders))
    index: dict[str, list[tuple[Any, ...]]] = held[1]
    return index.get(customer_id, [])


def _item_values(
    compiled: Compiled, run: dict[str, Any], choice: ChosenItem, language: str, lines: WhyLines
) -> tuple[dict[str, Any], tuple[Lint, ...]]:
    """Return a chosen item's template values and lints for this run, as the next item of a message.

    Its values differ between recipients only by the line on why it was chosen (which leaves
    out what the items above it in the message said: `lines` knows), so they are made once per
    item and why line (links carry the run's UTM parameters); the templates only read them.
    """
    cache = compiled.cache
    # Why lines and the values made with them are as many as distinct reasons, which grow with
    # the customers: held in their own table, emptied when full, so a render process stays the
    # same size however large the batch.
    made = cache.get("why")
    if made is None or len(made) >= _WHY_HELD:
        made = cache["why"] = {}
    why = lines.line(_why_sentences(compiled, made, choice, language))
    key = (run["as_of"], choice.item_id, why)
    held = made.get(key)
    if held is None:
        values, lints = _item_base(compiled, run, choice.item_id)
        held = made[key] = ({**values, "why": why}, lints)
    return held


def _why_sentences(compiled: Compiled, made: dict[Any, Any], choice: ChosenItem, language: str) -> WhySentences:
    """Return the sentences on why `choice` was chosen, made once per distinct reasons and language."""
    # Selection shares one ChosenItem object between the contacts that get the same item for
    # the same reasons: looked up by identity first (the entry holds the object, so its id
    # cannot be reused; the table is bounded and emptied when full).
    by_id = compiled.cache.get("chosen")
    if by_id is None or len(by_id) >= _CHOSEN_HELD:
        by_id = compiled.cache["chosen"] = {}
    known = by_id.get(id(choice))
    if known is not None and known[0] is choice and known[1] == language:
        return known[2]  # type: ignore[no-any-return]
    # The sentences read only each reason's kind and detail: reasons that differ in points alone
    # share them, and a key of plain strings hashes in C (a dataclass hashes in Python).
    why_key = (language, tuple(map(_KIND_AND_DETAIL, choice.reasons)))
    sentences = made.get(why_key)
    if sentences is None:
        translations = compiled.translations[language]
        texts, shown = why_sentences(choice.reasons, translations)
        sentences = made[why_key] = (tuple(clean_text(s) for s in texts), shown)
    by_id[id(choice)] = (choice, language, sentences)
    return sentences


def _item_base(compiled: Compiled, run: dict[str, Any], item_id: str) -> tuple[dict[str, Any], tuple[Lint, ...]]:
    """Return an item's template values but the why line, and its lints, once per item and run."""
    as_of: date = run["as_of"]
    key = ("item base", as_of, item_id)
    held = compiled.cache.get(key)
    if held is None:
        item = compiled.items[item_id]
        values = {
            "title": item.title,
            "summary": item.summary,
            "body": item.body,
            "text": item.text,
            "url": with_utm(item.url, run["utm"]),
            "cta": item.cta,
            "meta": item.meta,
            "event": item.type is ItemType.EVENT,
        }
        lints = list(item.lints)
        if item.expires is not None and item.expires <= as_of:
            lints.append(Lint(LintCode.ITEM_EXPIRED, Notice(LINT_EXPIRED, item=item.id, day=item.expires)))
        if item.published > as_of:
            lints.append(Lint(LintCode.ITEM_FUTURE, Notice(LINT_FUTURE, item=item.id, day=item.published)))
        held = compiled.cache[key] = (values, tuple(lints))
    return held


def _person_values(compiled: Compiled, contact: Contact, language: str) -> dict[str, Any]:
    t = compiled.translations[language]
    first = clean_text(contact.first_name)
    lints: tuple[Lint, ...] = ()
    if first:
        salutation = t.gettext(_("Dear %(name)s,")) % {"name": first}
    else:
        salutation = t.gettext(_("Dear customer,"))
        lints = (Lint(LintCode.FALLBACK_FIELD, Notice(LINT_NO_FIRST_NAME, salutation=repr(salutation))),)
    email = _ADDRESS_UNSAFE.sub("", clean_text(contact.email))
    return {
        "first_name": first,
        "salutation": salutation,
        "to": f"To: {format_address(contact.full_name, email)}\r\n",
        "email": email,
        "level": str(contact.level),
        "lints": lints,
    }


# --------------------------------------------------------------------------- one message


@dataclass(frozen=True)
class MessageParts:
    """One message before templating: its template and context, and its prebuilt MIME framing."""

    kind: MessageKind
    contact_id: str
    template: CompiledTemplate
    context: dict[str, Any]
    subject: str
    preheader: str
    message_id: str
    item_ids: tuple[str, ...]
    lints: tuple[Lint, ...]
    head: bytes  # the message headers and the text part's headers, ready to send
    middle: bytes  # between the text body and the HTML body
    end: bytes  # the closing boundary


def message_parts(
    compiled: Compiled,
    selection: Selection,
    data: Dataset,
    settings: Settings,
    as_of: date,
    secret: bytes,
) -> list[MessageParts]:
    """Return the messages made for one contact, with context and headers but not yet templated."""
    kinds: list[tuple[MessageKind, tuple[ChosenItem, ...]]] = []
    if selection.newsletter and selection.items:
        kinds.append((MessageKind.NEWSLETTER, selection.items))
    if selection.alert and selection.alert_item is not None:
        kinds.append((MessageKind.ALERT, (selection.alert_item,)))
    if not kinds:
        return []
    contact = data.contacts[selection.contact_id]
    language = selection.language if selection.language in LANGUAGES else "nl"
    run = _run_values(compiled, settings, as_of)
    customer = _customer_values(compiled, data, settings, selection.customer_id, language, as_of)
    person = _person_values(compiled, contact, language)
    return [
        _message_parts(compiled, kind, chosen, contact, person, customer, run, language, secret)
        for kind, chosen in kinds
    ]


def _message_parts(
    compiled: Compiled,
    kind: MessageKind,
    chosen: tuple[ChosenItem, ...],
    contact: Contact,
    person: dict[str, Any],
    customer: dict[str, Any],
    run: dict[str, Any],
    language: str,
    secret: bytes,
) -> MessageParts:
    t = compiled.translations[language]
    lang = _language_values(compiled, run, kind, language)
    template: CompiledTemplate = compiled.templates[(kind, language)]
    lints = person["lints"] + customer["lints"]
    items = []
    click_base = run["click_url"]
    lines = WhyLines(t)  # what the items above said is not said again below
    for choice in chosen:
        values, item_lints = _item_values(compiled, run, choice, language, lines)
        if click_base and values["url"]:
            # The token names contact, run and item; the endpoint redirects to the item's own URL
            # with this run's UTM parameters, the same URL the untracked link carries.
            token = make_click_token(secret, contact.contact_id, run["run_id"], choice.item_id)
            values = {**values, "url": click_url(click_base, token)}
        items.append(values)
        lints += item_lints
    subject, preheader = _subject_and_preheader(kind, items, person, customer, t, language)
    token = make_token(secret, contact.contact_id, person["email"], LIST_NAMES[kind])
    unsubscribe = f"{run['unsubscribe_url']}{run['unsubscribe_sep']}t={token}"
    context = {
        "subject": subject,
        "preheader": preheader,
        "heading": lang["heading"],
        "salutation": person["salutation"],
        "level": person["level"],
        "customer": customer["customer"],
        "am": customer["am"],
        "company": run["company"],
        "invitation": customer["invitation"][kind],
        "unsubscribe_url": unsubscribe,
        "items": items,
        "item": items[0],
    }
    digest = hashlib.sha256(f"{run['run_id']}\n{contact.contact_id}\n{_KIND_NAMES[kind]}".encode()).hexdigest()
    message_id = f"<{digest}@{run['domain']}>"
    boundary = f"=_windstil_{digest[:24]}"  # "=_" never occurs in a quoted-printable body
    head = (
        f"{run['head']}{person['to']}Subject: {encode_header_text('Subject', subject)}\r\n"
        f"{run['date']}Message-ID: {message_id}\r\n{lang['list_id']}"
        f"List-Unsubscribe: <{unsubscribe}>,\r\n"
        f" <mailto:{run['unsubscribe_mailto']}?subject=unsubscribe-{token}>\r\n"
        f'{lang["tail"]}Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode()
    middle = (
        f"\r\n--{boundary}\r\n"
        'Content-Type: text/html; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode("ascii")
    return MessageParts(
        kind=kind,
        contact_id=contact.contact_id,
        template=template,
        context=context,
        subject=subject,
        preheader=preheader,
        message_id=message_id,
        item_ids=tuple(map(_ITEM_ID, chosen)),
        lints=lints,
        head=head,
        middle=middle,
        end=f"\r\n--{boundary}--\r\n".encode("ascii"),
    )


def assemble(parts: MessageParts, html: str, text: str) -> tuple[RenderedMessage, dict[str, bytes]]:
    """Return the message's record and its files from the templated HTML and text bodies."""
    return _assemble(parts, html.encode("utf-8"), text.encode("utf-8"))


def _assemble(parts: MessageParts, html_bytes: bytes, text_bytes: bytes) -> tuple[RenderedMessage, dict[str, bytes]]:
    """Return the message's record and its files from the templated bodies, UTF-8 encoded."""
    # No conversion here: the templates emit CRLF and every value was cleaned to one line
    # (or to CRLF, for item bodies) when it was prepared. Tests check every line end.
    eml = b"".join(
        (parts.head, binascii.b2a_qp(text_bytes, istext=True), parts.middle, _base64_lines(html_bytes), parts.end)
    )
    lints = parts.lints
    if len(html_bytes) > SIZE_BUDGET:
        lints += (
            Lint(
                LintCode.SIZE_BUDGET,
                Notice(LINT_SIZE, size=Decimal(f"{len(html_bytes) / 1024:.1f}"), budget=SIZE_BUDGET // 1024),
            ),
        )
    folder = f"emails/{parts.contact_id}/{_KIND_NAMES[parts.kind]}"
    rendered = RenderedMessage(
        contact_id=parts.contact_id,
        kind=parts.kind,
        subject=parts.subject,
        preheader=parts.preheader,
        message_id=parts.message_id,
        item_ids=parts.item_ids,
        html_bytes=len(html_bytes),
        lints=tuple(dict.fromkeys(lints)) if len(lints) > 1 else lints,
    )
    return rendered, {f"{folder}.html": html_bytes, f"{folder}.txt": text_bytes, f"{folder}.eml": eml}


def _base64_lines(data: bytes) -> bytes:
    """Return `data` base64-encoded in 76-character CRLF lines (RFC 2045)."""
    encoded = binascii.b2a_base64(data, newline=False)
    full, rest = divmod(len(encoded), 76)
    # One C call cuts every full line (a slice per line in Python was 4x slower on 25 KB).
    unpack = _LINE_SPLITTERS.get(full)
    if unpack is None:
        unpack = _LINE_SPLITTERS[full] = struct.Struct("76s" * full).unpack_from
    lines = unpack(encoded)
    if rest:
        return b"\r\n".join((*lines, encoded[full * 76 :]))
    return b"\r\n".join(lines)


_LINE_SPLITTERS: dict[int, Any] = {}  # number of full lines → its struct unpacker


# Words a cut text does not end on: "NIS2 in de praktijk voor…" says less than "NIS2 in de
# praktijk…", and the reader's eye stops on the dangling word.
_DANGLING = {
    "nl": frozenset({
        "aan", "al", "als", "bij", "dan", "dat", "de", "deze", "die", "dit", "door", "een", "en", "er", "geen",
        "het", "hoe", "in", "is", "maar", "meer", "met", "na", "naar", "niet", "nog", "nu", "of", "om", "ook",
        "op", "over", "te", "tot", "u", "uit", "uw", "van", "voor", "wat", "we", "wie", "wij", "zijn", "zo",
    }),
    "en": frozenset({
        "a", "about", "after", "an", "and", "are", "as", "at", "but", "by", "can", "for", "from", "how", "in",
        "into", "is", "its", "more", "no", "not", "of", "on", "or", "our", "so", "the", "their", "this", "to",
        "we", "what", "when", "why", "will", "with", "you", "your",
    }),
}


def _shorten(text: str, limit: int, language: str) -> str:
    """Return `text` cut at a word to at most `limit` characters with "…", not ending on a small word."""
    if len(text) <= limit:
        return text
    words = text[: limit - 1].rsplit(" ", 1)[0].split(" ")
    dangling = _DANGLING.get(language, frozenset())
    while len(words) > 1 and words[-1].rstrip(" ,;:–-").casefold() in dangling:
        words.pop()
    return f"{' '.join(words).rstrip(' ,;:–-')}…"


@functools.lru_cache(maxsize=4096)  # a run combines a few dozen items and products: Babel once per combination
def _format_list(names: tuple[str, ...], language: str) -> str:
    return str(format_list(list(names), locale=locale_for(language)))


def _subject_and_preheader(
    kind: MessageKind,
    items: list[dict[str, Any]],
    person: dict[str, Any],
    customer: dict[str, Any],
    t: gettext.NullTranslations,
    language: str,
) -> tuple[str, str]:
    """Return a subject and preheader specific to this contact and these items."""
    # Item titles and summaries were cleaned once, when the item was prepared.
    customer_name = customer["customer"]["name"]
    if kind is MessageKind.NEWSLETTER:
        subject = _newsletter_subject(items, person["first_name"], customer_name, t, language)
        titles = _format_list(tuple(i["title"] for i in items), language)
        preheader = t.gettext(_("Picked for %(customer)s by %(am)s: %(titles)s")) % {
            "customer": customer_name,
            "am": customer["am"]["name"],
            "titles": titles,
        }
    else:
        item = items[0]
        subject = _alert_subject(item, customer_name, t, language)
        preheader = item["summary"] or t.gettext(_("A short note from %(am)s")) % {
            "am": customer["am"]["name"]
        }
    return subject, _shorten(clean_text(preheader), MAX_PREHEADER, language)


def _newsletter_subject(
    items: list[dict[str, Any]], first: str, customer_name: str, t: gettext.NullTranslations, language: str
) -> str:
    """Return "Anne, 3 tips for you: <title>" with the best-ranked item whose title fits whole; else the first, cut.

    "Marieke, 5 tips voor u – Uitnodiging: Polderlicht…" says nothing: a later item's whole
    title says more than the first one's cut.
    """
    count = len(items)
    if first:
        form = t.ngettext("%(name)s, a tip for you: %(title)s", "%(name)s, %(count)d tips for you: %(title)s", count)
    else:
        form = t.ngettext("A tip for %(customer)s: %(title)s", "%(count)d tips for %(customer)s: %(title)s", count)

    def made(title: str) -> str:
        return form % {"name": first, "count": count, "title": title, "customer": customer_name}

    cut = ""
    for item in items:  # per recipient: most first titles fit, and the others are not fitted at all
        subject, whole = _fitted(made, item["title"], language)
        if whole:
            return subject
        cut = cut or subject
    return cut


def _alert_subject(item: dict[str, Any], customer_name: str, t: gettext.NullTranslations, language: str) -> str:
    """Return an alert's subject: its title, for the customer when that fits; an event's as an invitation."""
    def alone(title: str) -> str:
        return title

    if item["event"]:
        invitation = t.gettext(_("Invitation: %(title)s"))
        # "Invitation: Invitation: Customer Day" when the title says so already.
        invited = alone if _opens_with(item["title"], invitation) else lambda title: invitation % {"title": title}
        return _fitted(invited, item["title"], language)[0]
    for_customer = t.gettext(_("%(title)s – for %(customer)s"))
    subject, whole = _fitted(lambda title: for_customer % {"title": title, "customer": customer_name},
                             item["title"], language)
    # An alert is about its title: it is not cut to make room for the customer's name
    # ("Critical vulnerability in… – for Harbour Logistics B.V." says too little).
    return subject if whole else _fitted(alone, item["title"], language)[0]


def _fitted(form: Callable[[str], str], full_title: str, language: str) -> tuple[str, bool]:
    """Return the subject `form` makes of a title, within MAX_SUBJECT where it can be, and whether the title is whole.

    Before a title with a colon of its own, the form's colon becomes a dash ("Anne, 3 tips for
    you: Webinar: NIS2 in practice" reads as a list of labels; the forms' text stays as it was,
    so a project's own translations of them keep working). Over the limit, the title is cut
    at a word by what the whole is over, but not below MIN_TITLE_IN_SUBJECT.
    """
    title = _shorten(full_title, MAX_TITLE_IN_SUBJECT, language)
    subject = clean_text(form(title))
    if ":" in title and subject.endswith(f": {title}"):
        subject = f"{subject[: -len(title) - 2]} – {title}"
    if len(subject) > MAX_SUBJECT and len(title) > MIN_TITLE_IN_SUBJECT:
        room = max(MIN_TITLE_IN_SUBJECT, len(title) - (len(subject) - MAX_SUBJECT))
        shorter = _shorten(full_title, room, language)
        subject, title = subject.replace(title, shorter, 1), shorter
    return subject, title == full_title and len(subject) <= MAX_SUBJECT


def _opens_with(title: str, form: str) -> bool:
    """Tell whether `title` starts with the words `form` (a subject form, "Invitation: %(title)s") puts before it."""
    before = form.partition("%(title)s")[0].rstrip(" :–-").casefold()
    return bool(before) and title.casefold().startswith(before)
