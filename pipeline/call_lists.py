"""The call lists' files: per account manager a CSV, an .xlsx, a printable HTML page and a summary e-mail.

`pipeline.calls.build_calls` decides whom to call, why and by when; this module writes what it
decided: calls/<account_manager_id>.csv, .xlsx, .html and .eml, and calls/all.csv. The CSV's
columns are documented in pipeline/calls.py. Values that Excel would run as a formula (`=`, `@`,
`+`/`-` not followed by a number) get a leading `'` in the CSV and the .xlsx.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import logging
import operator
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import xlsxwriter

from pipeline.language import DEFAULT_LANGUAGE, N_, PageLanguage, page_language
from pipeline.models import AccountManager, CallItem, CallReason, Channel, Dataset, Settings
from pipeline.processes import Workers, ignore_interrupts
from pipeline.templating import BUNDLED, page_environment
from pipeline.writer import RunWriter, utf8_text_buffer

log = logging.getLogger(__name__)

# The summary e-mail is dated like the newsletters (pipeline.render.message): the as-of date, 09:00 Amsterdam.
SEND_TIME = time(9, 0)
TIMEZONE = ZoneInfo("Europe/Amsterdam")

CSV_COLUMNS = (
    "priority",
    "due",
    "customer_id",
    "customer",
    "segment",
    "contact_id",
    "contact",
    "job_title",
    "phone",
    "reasons",
    "talking_points",
    "last_contact",
    "last_channel",
    "note",
)
ALL_CSV_COLUMNS = ("account_manager_id", *CSV_COLUMNS)

# What people read (settings.yaml: language): English message ids, translated where written.
# The CSV keeps the documented column names and the codes.
REASON_LABELS: dict[CallReason, str] = {
    CallReason.EVALUATION_BELOW_NORM: N_("Evaluation below the norm"),
    CallReason.QUIET_FOLLOWUP: N_("Newsletter follow-up"),
    CallReason.CONTACT_OVERDUE: N_("Contact schedule overdue"),
    CallReason.CROSS_SELL: N_("Cross-sell opportunity"),
    CallReason.UP_SELL: N_("Up-sell opportunity"),
    CallReason.REVENUE_DECLINE: N_("Revenue declined"),
    CallReason.REVIEW_SEGMENT_D: N_("D customer: review the relationship"),
    CallReason.CLICKED: N_("Clicked in the e-mail"),
    CallReason.REPLIED: N_("Replied to the e-mail"),
}

# How urgent, not by when: the due date says that (a priority 2 decline is due in 14 days).
PRIORITY_LABELS = {1: N_("Highest"), 2: N_("High"), 3: N_("Normal"), 4: N_("Review")}

_TOP_IN_SUMMARY = 5
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def write_call_lists(
    writer: RunWriter, calls: Sequence[CallItem], data: Dataset, settings: Settings, as_of: date,
    pool: Workers | None = None,
) -> None:
    """Write calls/<am>.csv, .xlsx, .html and .eml for every account manager, and calls/all.csv.

    Headings, labels and the e-mail are in settings.yaml's language; the CSV's header keeps the
    documented column names. With a process `pool` (the stage's Workers) the account managers'
    files are written there, one account manager a task, while this process writes all.csv.
    """
    by_am: dict[str, list[CallItem]] = {am: [] for am in data.account_managers}
    for call in calls:
        by_am.setdefault(call.account_manager_id, []).append(call)
    jobs = (
        CallListJob(writer.root, data.account_managers.get(am_id) or AccountManager(am_id, am_id, ""),
                    tuple(am_calls), settings, as_of)
        for am_id, am_calls in by_am.items()
    )
    # In this process the writer counts its own bytes; a worker's come back with its answer.
    results = (pool.imap_unordered(write_call_list, jobs) if pool is not None
               else ((0, _write_list(writer, job)) for job in jobs))
    writer.write_bytes("calls/all.csv", call_list_csv(calls, with_account_manager=True))  # meanwhile, in a pool
    for written, missing_email in results:
        writer.bytes_written += written
        _log_missing_email(missing_email)


CHANNEL_LABELS = {
    Channel.CALL: N_("phone"),
    Channel.VISIT: N_("visit"),
    Channel.MEETING: N_("meeting"),
    Channel.EMAIL: N_("e-mail"),
}


def start_list_writer() -> None:
    """Set up a spawned process that writes call lists (write_call_list)."""
    # This module and what it imports are all such a process loads: not Polars, not the
    # renderer (some 60 MB a process).
    ignore_interrupts()


@dataclass(frozen=True)
class CallListJob:
    """One account manager's call list, to be written below `root` (a task of write_call_lists' pool)."""

    root: Path
    manager: AccountManager
    calls: tuple[CallItem, ...]
    settings: Settings
    as_of: date


def write_call_list(job: CallListJob) -> tuple[int, str | None]:
    """Write one account manager's files in a worker process; return the bytes written and _write_list's answer."""
    writer = RunWriter(job.root)
    missing_email = _write_list(writer, job)
    return writer.bytes_written, missing_email


def _write_list(writer: RunWriter, job: CallListJob) -> str | None:
    """Write calls/<am>.csv, .xlsx, .html and .eml; return the account manager's id if the .eml had no address."""
    manager, calls, settings, as_of = job.manager, job.calls, job.settings, job.as_of
    am_id = manager.account_manager_id
    words = page_language(settings.language, settings.paths.templates)
    env = _environment(settings.paths.templates, words)
    rows = [_defused_row(call) for call in calls]
    xlsx = _workbook(calls, rows, manager, as_of, settings.language)
    writer.write_bytes(f"calls/{am_id}.csv", _csv(rows, CSV_COLUMNS))
    writer.write_bytes(f"calls/{am_id}.xlsx", xlsx)
    # One view of the calls for the page and the e-mail: it writes every call's labels and dates.
    context = _context(calls, manager, settings, as_of, words)
    writer.write_text(f"calls/{am_id}.html", env.get_template("list.html").render(context))
    if not manager.email:
        return am_id
    writer.write_bytes(f"calls/{am_id}.eml", _summary_email(env, context, manager, settings, as_of, xlsx, words))
    return None


def _log_missing_email(am_id: str | None) -> None:
    if am_id is not None:
        log.warning("calls/%s.eml not written: account manager %s has no e-mail address", am_id, am_id)


def _row(call: CallItem) -> dict[str, str]:
    return {
        "account_manager_id": call.account_manager_id,
        "priority": str(call.priority),
        "due": call.due.isoformat(),
        "customer_id": call.customer_id,
        "customer": call.customer_name,
        "segment": call.segment.value,
        "contact_id": call.contact_id,
        "contact": call.contact_name,
        "job_title": call.job_title,
        "phone": call.phone,
        "reasons": ";".join(r.value for r in call.reasons),
        "talking_points": " | ".join(call.talking_points),
        "last_contact": call.last_contact.isoformat() if call.last_contact else "",
        "last_channel": call.last_contact_channel,
        "note": call.note,
    }


def _defused_row(call: CallItem) -> dict[str, str]:
    """Return the call's CSV cells with every value Excel would run as a formula defused."""
    return {k: _no_formula(v) for k, v in _row(call).items()}


def call_list_csv(calls: Sequence[CallItem], *, with_account_manager: bool = False) -> bytes:
    """Return the calls as CSV (UTF-8) with the documented columns."""
    return _csv((_defused_row(call) for call in calls), ALL_CSV_COLUMNS if with_account_manager else CSV_COLUMNS)


def _csv(rows: Iterable[Mapping[str, str]], columns: Sequence[str]) -> bytes:
    cells = operator.itemgetter(*columns)  # the row's cells in column order, in C (DictWriter does it in Python)
    with utf8_text_buffer() as (out, encoded):
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(columns)
        writer.writerows(map(cells, rows))
    return encoded.getvalue()


def _no_formula(value: str) -> str:
    """Keep a data value from being run as a spreadsheet formula when the CSV is opened in Excel."""
    # A phone number like "+31 ..." is data, not a formula; only defuse what Excel would evaluate.
    if value[:1] in ("=", "@") or (value[:1] in ("+", "-") and not re.fullmatch(r"[+\-][\d\s()./-]*", value)):
        return "'" + value
    return value


# Column title, width (characters), key in _row; dates and numbers get real cell types below.
_XLSX_COLUMNS = (
    (N_("Priority"), 10, "priority"),
    (N_("Due"), 12, "due"),
    (N_("Customer no."), 10, "customer_id"),
    (N_("Customer"), 28, "customer"),
    (N_("Segment"), 9, "segment"),
    (N_("Contact no."), 11, "contact_id"),
    (N_("Contact"), 22, "contact"),
    (N_("Job title"), 22, "job_title"),
    (N_("Phone"), 17, "phone"),
    (N_("Reasons"), 26, "reasons"),
    (N_("Talking points"), 70, "talking_points"),
    (N_("Last contact"), 14, "last_contact"),
    (N_("Channel"), 10, "last_channel"),
    (N_("Note"), 30, "note"),
    # Left empty for the account manager to fill in, and `windstil calls import` reads back.
    (N_("Called on"), 12, "called_on"),
    (N_("Outcome"), 36, "outcome"),
)
FILL_IN = ("called_on", "outcome")
# The .xlsx headings `windstil calls import` reads as the columns of an outcomes file.
OUTCOME_HEADINGS = {
    "customer_id": N_("Customer no."),
    "contact_id": N_("Contact no."),
    "date": N_("Called on"),
    "outcome": N_("Outcome"),
}
XLSX_DATE_FORMAT = "DD-MM-YYYY"
XLSX_DATE_FORMATS = {"nl": XLSX_DATE_FORMAT, "en": "DD/MM/YYYY"}  # as each locale writes a short date
CALL_LIST = N_("Call list")


def call_list_xlsx(
    calls: Sequence[CallItem], manager: AccountManager, as_of: date, *, language: str = DEFAULT_LANGUAGE
) -> bytes:
    """Return the call list as an .xlsx workbook: frozen header, filters, real dates, wrapped talking points."""
    return _workbook(calls, [_defused_row(call) for call in calls], manager, as_of, language)


def _workbook(
    calls: Sequence[CallItem], rows: Sequence[Mapping[str, str]], manager: AccountManager, as_of: date, language: str
) -> bytes:
    """Return the .xlsx of `calls`, whose defused CSV cells are `rows`."""
    words = page_language(language)
    out = io.BytesIO()
    # constant_memory: each row is written out as soon as the next one starts, so a long list
    # never sits in memory as cells. The strings_to_* options off: a value is text, whatever it
    # looks like (every cell below is written with its type anyway).
    book = xlsxwriter.Workbook(out, {
        "constant_memory": True,
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
    })
    # XlsxWriter dates its zip entries 1980-01-31 and the document with `created` (modified too),
    # so the file depends on its inputs only: a re-run gives the same bytes.
    book.set_properties({
        "title": f"{words(CALL_LIST)} {manager.name} {as_of.isoformat()}",
        "author": "Windstil",
        "created": datetime(as_of.year, as_of.month, as_of.day),
    })
    sheet = book.add_worksheet(words(CALL_LIST))
    header = book.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E79", "pattern": 1,
                              "valign": "vcenter", "text_wrap": True})
    fill_in_header = book.add_format({"bold": True, "font_color": "#1F1F1F", "bg_color": "#FFE699", "pattern": 1,
                                      "valign": "vcenter", "text_wrap": True})
    top = book.add_format({"valign": "top"})
    formats = {
        **{key: top for _, _, key in _XLSX_COLUMNS},
        **dict.fromkeys(("reasons", "talking_points", "note"), book.add_format({"valign": "top", "text_wrap": True})),
        **dict.fromkeys(("due", "last_contact", "called_on"), book.add_format(
            {"valign": "top", "num_format": XLSX_DATE_FORMATS.get(language, XLSX_DATE_FORMAT)})),
        "outcome": book.add_format({"valign": "top", "text_wrap": True}),
    }
    for column, (title, width, key) in enumerate(_XLSX_COLUMNS):
        sheet.set_column(column, column, width)
        sheet.write_string(0, column, words(title), fill_in_header if key in FILL_IN else header)
    column_formats = [formats[key] for _, _, key in _XLSX_COLUMNS]
    # A call list has some 14 cells a call: the writers are looked up once, not per cell.
    write_datetime, write_number = sheet.write_datetime, sheet.write_number
    write_string, write_blank = sheet.write_string, sheet.write_blank
    for number, (call, row) in enumerate(zip(calls, rows, strict=True), start=1):
        for column, (value, cell_format) in enumerate(zip(_xlsx_values(call, row, words), column_formats, strict=True)):
            if isinstance(value, date):
                write_datetime(number, column, value, cell_format)
            elif isinstance(value, int):
                write_number(number, column, value, cell_format)
            elif value:
                write_string(number, column, value, cell_format)
            else:
                write_blank(number, column, None, cell_format)
    sheet.autofilter(0, 0, len(calls), len(_XLSX_COLUMNS) - 1)
    sheet.freeze_panes(1, 0)
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)  # one page wide, as many long as it takes
    sheet.repeat_rows(0)  # the header on every printed page
    _explanation_sheet(book, words)
    book.close()
    return out.getvalue()


def _xlsx_values(call: CallItem, row: Mapping[str, str], words: PageLanguage) -> list[str | int | date | None]:
    """Return one call's cells in the order of _XLSX_COLUMNS: text defused (`row`), numbers and dates typed."""
    channel = words(CHANNEL_LABELS[Channel(call.last_contact_channel)]) if call.last_contact_channel else ""
    values: dict[str, str | int | date | None] = {
        **row,
        "priority": call.priority,
        "due": call.due,
        "reasons": "\n".join(words(REASON_LABELS[r]) for r in call.reasons),
        "talking_points": "\n".join(f"• {_no_formula(p)}" for p in call.talking_points),
        "last_contact": call.last_contact,
        "last_channel": channel,
        "called_on": None,
        "outcome": "",
    }
    return [values[key] for _, _, key in _XLSX_COLUMNS]


REASON_EXPLANATIONS: dict[CallReason, str] = {
    CallReason.EVALUATION_BELOW_NORM: N_(
        "The latest evaluation of the last 12 months is below the norm: agree a recovery plan with the customer."
    ),
    CallReason.QUIET_FOLLOWUP: N_("The customer is in a quiet period and got this month's newsletter: follow it up."),
    CallReason.CONTACT_OVERDUE: N_(
        "By the contact schedule there should have been contact already (who with whom, how often)."
    ),
    CallReason.CROSS_SELL: N_("The newsletter brought something next to what the customer has: ask whether it fits."),
    CallReason.UP_SELL: N_("The newsletter brought a step beyond what the customer has: ask whether it fits."),
    CallReason.REVENUE_DECLINE: N_("Revenue fell sharply against the period before: ask why."),
    CallReason.REVIEW_SEGMENT_D: N_(
        "D customer: judge whether the relationship can go on; if we part, part decently."
    ),
    CallReason.REPLIED: N_("A contact replied to a newsletter or alert since the previous run: call back."),
    CallReason.CLICKED: N_("A contact clicked an item of this or the previous run's message: ask about it."),
}
PRIORITY_EXPLANATIONS = {
    1: N_("Evaluation below the norm; revenue decline at a customer that is or was A; a reply or click "
          "from an A or B customer"),
    2: N_("A or B customer (a decline: is or was): newsletter follow-up, contact schedule overdue or revenue "
          "decline"),
    3: N_("Other A, B and C customers"),
    4: N_("D customers: review the relationship"),
}


def _explanation_sheet(book: xlsxwriter.Workbook, words: PageLanguage) -> None:
    """Add a sheet that explains priorities and reasons, for whoever opens the file cold."""
    sheet = book.add_worksheet(words(N_("Explanation")))
    bold = book.add_format({"bold": True})
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, 1, 100)
    rows: list[tuple[str, str, Any]] = [(words(N_("Priority")), words(N_("Meaning")), bold)]
    rows += [(f"{p} · {words(PRIORITY_LABELS[p])}", words(text), None) for p, text in PRIORITY_EXPLANATIONS.items()]
    rows += [("", "", None), (words(N_("Reason")), words(N_("Meaning")), bold)]
    rows += [(words(REASON_LABELS[reason]), words(text), None) for reason, text in REASON_EXPLANATIONS.items()]
    for row, (first, second, style) in enumerate(rows):
        if first:
            sheet.write_string(row, 0, first, style)
            sheet.write_string(row, 1, second, style)


@functools.lru_cache(maxsize=8)  # per process: a worker writes many account managers' lists with the same templates
def _environment(templates: Path, words: PageLanguage) -> jinja2.Environment:
    # Like the reports and the site: the project's own copy first, else the bundled one.
    return page_environment(
        (templates / "calls", BUNDLED / "calls"),
        {"nl_date": words.short_date, "nl_long_date": words.date, "date": words.short_date, "long_date": words.date},
        html_only_escaping=True,  # summary.txt is the e-mail's text part
        language=words,
    )


def _view(call: CallItem, words: PageLanguage) -> SimpleNamespace:
    """Return one call as a template context entry."""
    # Attributes, not dict keys: the templates read some 20 fields of every call, and Jinja
    # tries an attribute first (for a dict that failed with an exception, then took the key).
    return SimpleNamespace(
        priority=call.priority,
        priority_label=words(PRIORITY_LABELS.get(call.priority, str(call.priority))),
        due=call.due,
        customer_id=call.customer_id,
        customer=call.customer_name,
        segment=call.segment.value,
        contact_id=call.contact_id,
        contact=call.contact_name,
        job_title=call.job_title,
        phone=call.phone,
        tel=re.sub(r"[^\d+]", "", call.phone),
        reasons=[(r.value, words(REASON_LABELS[r])) for r in call.reasons],
        talking_points=list(call.talking_points),
        last_contact=call.last_contact,
        last_channel=words(CHANNEL_LABELS[Channel(call.last_contact_channel)]) if call.last_contact_channel else "",
        note=call.note,
    )


def _context(
    calls: Sequence[CallItem], manager: AccountManager, settings: Settings, as_of: date, words: PageLanguage
) -> dict[str, Any]:
    counts: dict[str, int] = defaultdict(int)
    for call in calls:
        for reason in call.reasons:
            counts[words(REASON_LABELS[reason])] += 1
    return {
        "manager": {
            "id": manager.account_manager_id,
            "name": manager.name,
            "first_name": (manager.name.split() or [manager.name])[0],
            "email": manager.email,
        },
        "company": settings.company_name,
        "as_of": as_of,
        "calls": [_view(c, words) for c in calls],
        "reason_counts": sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])),
        "priority_counts": [
            (p, words(label), sum(c.priority == p for c in calls)) for p, label in PRIORITY_LABELS.items()
        ],
    }


def _summary_email(
    env: jinja2.Environment,
    list_context: dict[str, Any],
    manager: AccountManager,
    settings: Settings,
    as_of: date,
    xlsx: bytes,
    words: PageLanguage,
) -> bytes:
    """Return the account manager's summary e-mail: counts, the top five, the list attached as .xlsx.

    `list_context` is the printable list's template context (_context) of the same calls.
    """
    file_name = words(N_("call-list-%(id)s-%(day)s.xlsx"), id=manager.account_manager_id, day=as_of.isoformat())
    context = list_context | {
        "top": list_context["calls"][:_TOP_IN_SUMMARY],
        "files": {
            "xlsx": file_name,
            "html": f"calls/{manager.account_manager_id}.html",
            "csv": f"calls/{manager.account_manager_id}.csv",
        },
    }
    text = env.get_template("summary.txt").render(context)
    html = env.get_template("summary.html").render(context)
    count = len(list_context["calls"])
    subject = words.ngettext("Call list %(day)s: %(n)s call", "Call list %(day)s: %(n)s calls", count) % {
        "day": words.date(as_of),
        "n": words.number(count),
    }

    # Bodies are encoded at 76 characters a line (RFC 2045's limit for quoted-printable; the
    # library writes up to max_line_length); the headers are written with _HEADERS, so
    # Message-ID and the like are never folded or encoded.
    message = EmailMessage(policy=SMTP.clone(max_line_length=76))
    message["From"] = Address(
        display_name=_one_line(f"Windstil ({settings.sender_name})"), addr_spec=settings.sender_email
    )
    message["To"] = Address(display_name=_one_line(manager.name), addr_spec=_one_line(manager.email))
    message["Reply-To"] = Address(addr_spec=settings.reply_to)
    message["Subject"] = _one_line(subject)
    message["Date"] = format_datetime(datetime.combine(as_of, SEND_TIME, tzinfo=TIMEZONE))
    domain = settings.sender_email.rpartition("@")[2]
    key = hashlib.sha256(f"calls\x00{manager.account_manager_id}\x00{as_of.isoformat()}".encode()).hexdigest()[:20]
    message["Message-ID"] = f"<calls.{as_of.strftime('%Y%m%d')}.{key}@{domain}>"
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    message.add_attachment(xlsx, maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1], filename=context["files"]["xlsx"])
    # Fixed boundaries: the same run gives the same bytes. "=_" never occurs in
    # quoted-printable or base64 bodies, so the boundary cannot collide with the content.
    digest = hashlib.sha256(text.encode() + html.encode() + xlsx).hexdigest()[:24]
    message.set_boundary(f"=_windstil_mixed_{digest}")
    for part in message.iter_parts():
        if part.get_content_type() == "multipart/alternative":
            part.set_boundary(f"=_windstil_alt_{digest}")
    return message.as_bytes(policy=_HEADERS)


# Long enough that Message-ID and the like are written as they are; lines stay under 998.
_HEADERS = SMTP.clone(max_line_length=998)


def _one_line(value: str) -> str:
    """Return `value` with line breaks and control characters turned into spaces, for a header."""
    return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", value).split())


def call_counts(calls: Sequence[CallItem]) -> Mapping[str, Mapping[str, int]]:
    """Return per account manager the number of calls and how often each reason occurs."""
    result: dict[str, dict[str, int]] = {}
    for call in calls:
        counts = result.setdefault(call.account_manager_id, {"calls": 0})
        counts["calls"] += 1
        for reason in call.reasons:
            counts[reason.value] = counts.get(reason.value, 0) + 1
    return result
