"""The review site: pages, data files, escaping, links, and the preview server."""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from pipeline.errors import UsageError
from pipeline.language import labels, page_language
from pipeline.models import (
    AccountManager,
    CallItem,
    CallReason,
    ChosenItem,
    Contact,
    ContentItem,
    Customer,
    CustomerValue,
    Dataset,
    ItemReason,
    ItemType,
    Lint,
    MessageKind,
    RenderedMessage,
    Segment,
    Segmentation,
    SegmentMove,
    Selection,
    SkipReason,
)
from pipeline.preview import find_run, make_server
from pipeline.site import SiteData, js_json, write_site
from pipeline.writer import RunWriter

AS_OF = date(2026, 11, 30)
EVIL = '<script>alert("x")</script>'


def _item(item_id: str, title: str, language: str = "nl", **kw: Any) -> ContentItem:
    return ContentItem(
        id=item_id,
        path=f"content/{item_id}.md",
        title=title,
        type=kw.pop("type", ItemType.ARTICLE),
        language=language,
        published=date(2026, 11, 2),
        body_markdown="",
        body_html="",
        url=kw.pop("url", f"https://www.polderlicht-it.nl/{item_id}"),
        **kw,
    )


def _value(customer_id: str, name: str, segment: Segment, revenue: int) -> CustomerValue:
    share = Fraction(revenue, 100_000)
    return CustomerValue(
        customer_id=customer_id,
        name=name,
        group="",
        segment=segment,
        computed_segment=segment,
        value_share=share,
        revenue=Decimal(revenue),
        margin=Decimal(revenue // 3),
        strategic=3,
        revenue_share=share,
        margin_share=share,
        strategic_share=Fraction(1, 3),
    )


def _rendered(
    contact_id: str,
    kind: MessageKind,
    items: tuple[str, ...],
    subject: str,
    lints: tuple[Lint, ...] = (),
    size: int = 40_000,
) -> RenderedMessage:
    return RenderedMessage(
        contact_id=contact_id,
        kind=kind,
        subject=subject,
        preheader=f"Preheader voor {contact_id}",
        message_id=f"<{contact_id}.{kind}@polderlicht-it.nl>",
        item_ids=items,
        html_bytes=size,
        lints=lints,
    )


def make_site_data(previous: dict[str, Any] | None = None) -> SiteData:
    """Return a small hand-made run: four customers, six contacts, two variants, a nasty name."""
    managers = {
        "am-jan": AccountManager("am-jan", "Jan de Vries", "jan@polderlicht-it.nl", "+31 6 1234 5678"),
        "am-sara": AccountManager("am-sara", "Sara Bakker", "sara@polderlicht-it.nl"),
    }
    customers = {
        "C001": Customer("C001", "Zorggroep Lindehof", "am-jan", sector="zorg"),
        "C002": Customer("C002", EVIL + " B.V.", "am-sara", sector="logistiek"),
        "C003": Customer("C003", "Harbour Logistics", "am-sara", sector="logistiek", language="en"),
        "C004": Customer("C004", "Gemeente Vechtdal", "am-jan", sector="overheid"),
    }
    contacts = {
        "P001": Contact(
            "P001",
            "C001",
            "Anouk",
            "Jansen",
            email="anouk@lindehof.nl",
            email_valid=True,
            job_title="ICT-manager",
            newsletter_opt_in=True,
            interests=("backup",),
        ),
        "P002": Contact(
            "P002", "C001", "Pieter", "Smit", email="pieter@lindehof.nl", email_valid=True, newsletter_opt_in=True
        ),
        "P003": Contact(
            "P003", "C001", "José", "Müller", email="jose@lindehof", email_valid=False, newsletter_opt_in=True
        ),
        "P004": Contact("P004", "C002", EVIL, "", email="x@evil.example", email_valid=True, newsletter_opt_in=True),
        "P005": Contact(
            "P005", "C003", "Emma", "Brown", email="emma@harbour.example", email_valid=True, newsletter_opt_in=True
        ),
        "P006": Contact(
            "P006", "C004", "Kees", "Visser", email="kees@vechtdal.nl", email_valid=True, newsletter_opt_in=False
        ),
    }
    content = {
        "backup-test": _item("backup-test", "Back-ups die u echt terugzet", tags=("backup",)),
        "nis2": _item("nis2", "NIS2 in gewone taal: " + EVIL, tags=("security",)),
        "cloud-en": _item("cloud-en", "Cloud costs under control", language="en", tags=("cloud",)),
        "storing": _item(
            "storing", "Storing bij uw back-upleverancier", type=ItemType.ALERT, url="javascript:alert(1)"
        ),
    }
    data = Dataset(
        account_managers=managers,
        customers=customers,
        contacts=contacts,
        orders=(),
        evaluations=(),
        interactions=(),
        suppressions=(),
        products={},
        content=content,
    )
    reasons = (ItemReason("interest", "backup", 3), ItemReason("cross_sell", "Backup Pro (u gebruikt Cloud Opslag)", 4))
    general = (ItemReason("fallback", "algemeen item in het Nederlands", 0), ItemReason("priority", "prioriteit 1", 1))
    nl_items = (ChosenItem("backup-test", 7, reasons), ChosenItem("nis2", 2, (ItemReason("sector", EVIL, 2),)))

    def sel(
        contact_id: str,
        customer_id: str,
        am: str,
        segment: Segment,
        language: str = "nl",
        newsletter: tuple[SkipReason, ...] = (),
        alert: tuple[SkipReason, ...] = (SkipReason.NO_MATCHING_ITEM,),
        items: tuple[ChosenItem, ...] = (),
        fallback: bool = False,
        alert_item: ChosenItem | None = None,
    ) -> Selection:
        return Selection(
            contact_id,
            customer_id,
            am,
            segment,
            language,
            quiet=True,
            newsletter_reasons=newsletter,
            alert_reasons=alert,
            items=items,
            fallback=fallback,
            alert_item=alert_item,
        )

    storing = ChosenItem("storing", 5, (ItemReason("timely", "backup", 5),))
    selections = [
        sel("P001", "C001", "am-jan", Segment.A, items=nl_items, alert=(), alert_item=storing),
        sel("P002", "C001", "am-jan", Segment.A, items=nl_items),
        sel(
            "P003",
            "C001",
            "am-jan",
            Segment.A,
            newsletter=(SkipReason.NO_VALID_EMAIL,),
            alert=(SkipReason.NO_VALID_EMAIL,),
        ),
        sel("P004", "C002", "am-sara", Segment.B, items=(ChosenItem("nis2", 1, general),), fallback=True),
        sel(
            "P005",
            "C003",
            "am-sara",
            Segment.C,
            language="en",
            items=(ChosenItem("cloud-en", 3, (ItemReason("interest", "cloud", 3),)),),
            alert=(SkipReason.SEGMENT_TREATMENT,),
        ),
        sel(
            "P006",
            "C004",
            "am-jan",
            Segment.D,
            newsletter=(SkipReason.NOT_QUIET, SkipReason.NO_OPT_IN),
            alert=(SkipReason.NOT_QUIET, SkipReason.NO_OPT_IN),
        ),
    ]
    N, A = MessageKind.NEWSLETTER, MessageKind.ALERT
    rendered = {
        ("P001", N): _rendered("P001", N, ("backup-test", "nis2"), "2 tips voor uw back-up, Anouk"),
        ("P001", A): _rendered("P001", A, ("storing",), "Storing: wat u nu moet doen", size=12_000),
        ("P002", N): _rendered("P002", N, ("backup-test", "nis2"), "2 tips voor uw back-up, Pieter"),
        ("P004", N): _rendered(
            "P004",
            N,
            ("nis2",),
            "Nieuws van Polderlicht IT",
            lints=(Lint("fallback_field", "geen voornaam: 'Geachte relatie'"),),
            size=95_000,
        ),
        ("P005", N): _rendered("P005", N, ("cloud-en",), "Cloud costs under control, Emma"),
    }
    segmentation = Segmentation(
        as_of=AS_OF,
        customers={
            "C001": _value("C001", "Zorggroep Lindehof", Segment.A, 80_000),
            "C002": _value("C002", EVIL, Segment.B, 12_000),
            "C003": _value("C003", "Harbour Logistics", Segment.C, 8_000),
            "C004": _value("C004", "Gemeente Vechtdal", Segment.D, 0),
        },
        moves=(SegmentMove("C002", EVIL, Segment.A, Segment.B, "A → B: omzetaandeel 4,1% → 1,9%"),),
    )
    calls = [
        CallItem(
            "am-jan",
            "C001",
            "Zorggroep Lindehof",
            Segment.A,
            2,
            date(2026, 12, 7),
            (CallReason.QUIET_FOLLOWUP,),
            "P001",
            "Anouk Jansen",
            "ICT-manager",
            "+31 6 1",
            (),
        ),
        CallItem(
            "am-sara",
            "C002",
            EVIL,
            Segment.B,
            1,
            date(2026, 12, 3),
            (CallReason.EVALUATION_BELOW_NORM,),
            "P004",
            EVIL,
            "",
            "",
            (),
        ),
    ]
    counts = {
        "customers": 4,
        "contacts": 6,
        "segment_A": 1,
        "segment_B": 1,
        "segment_C": 1,
        "segment_D": 1,
        "quiet_customers": 3,
        "newsletters": 4,
        "alerts": 1,
        "calls": 2,
        "rejects": 1,
        "lints": 1,
        "lint_fallback_field": 1,
    }
    return SiteData(
        as_of=AS_OF,
        created="2026-11-30T08:00:00+00:00",
        counts=counts,
        warnings=("De vastgestelde segmentatie is 120 dagen oud " + EVIL,),
        selections=selections,
        rendered=rendered,
        data=data,
        segmentation=segmentation,
        calls=calls,
        previous=previous,
        reports=(("Segmentatie", "reports/segments.html"), ("Retentie", "reports/retention.html")),
        call_lists=(("Jan de Vries", "calls/am-jan.html"), ("Sara Bakker", "calls/am-sara.html")),
    )


FAKE_MAIL = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{subject}</title></head>
<body><table role="presentation" width="100%"><tr><td>
<h1>{subject}</h1><p>Beste {name},</p><p>Dit is de {kind} voor {contact_id}.</p>
<p>Polderlicht IT B.V. · Stationsplein 12 · 3511 ED Utrecht · <a href="https://www.polderlicht-it.nl/afmelden">afmelden</a></p>
</td></tr></table></body></html>
"""


def write_fake_run(folder: Path, site: SiteData | None = None) -> SiteData:
    """Write a run folder as the run would: fake e-mails, reports and call lists, then the site."""
    site = site or make_site_data()
    writer = RunWriter(folder)
    for (contact_id, kind), message in site.rendered.items():
        contact = site.data.contacts[contact_id]
        html = FAKE_MAIL.format(
            lang="nl", subject=message.subject, name=contact.first_name, kind=kind.value, contact_id=contact_id
        )
        writer.write_text(f"emails/{contact_id}/{kind.value}.html", html)
        writer.write_text(
            f"emails/{contact_id}/{kind.value}.txt",
            f"{message.subject}\n\nBeste {contact.first_name}, € 1.234,56 — café.\n",
        )
        writer.write_text(f"emails/{contact_id}/{kind.value}.eml", "Subject: x\n\nx\n")
    for name in ("reports/segments.html", "reports/retention.html", "calls/am-jan.html", "calls/am-sara.html"):
        writer.write_text(name, f"<!doctype html><title>{name}</title><h1>{name}</h1>\n")
    for name in ("rejects.csv", "recipients.csv", "segments.csv", "manifest.json"):
        writer.write_text(name, "x\n")
    write_site(writer, site)
    return site


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "output" / "2026-11-30"
    folder.mkdir(parents=True)
    write_fake_run(folder)
    return folder


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts: list[str] = []
        self.inline_scripts = 0
        self.style_attrs = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if "style" in values:
            self.style_attrs += 1
        if tag == "script":
            if values.get("src"):
                self.scripts.append(values["src"] or "")
            else:
                self.inline_scripts += 1
        for key in ("href", "src"):
            if values.get(key):
                self.links.append(values[key] or "")


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text("utf-8"))
    return parser


def _data(path: Path) -> Any:
    text = path.read_text("utf-8")
    match = re.fullmatch(r"(?:window\.\w+ = |\(window\.\w+ = window\.\w+ \|\| \{\}\)\[\d+\] = )(.*);\n", text, re.S)
    assert match, text[:80]
    return json.loads(match.group(1))


# --------------------------------------------------------------------------- the pages


def test_site_writes_every_page_and_data_file(run_folder: Path) -> None:
    """The run folder holds the overview, three site pages, the script, the style and the data."""
    for name in (
        "index.html",
        "site/recipients.html",
        "site/recipient.html",
        "site/variants.html",
        "site/site.js",
        "site/site.css",
        "site/data/recipients.js",
        "site/data/details-0.js",
        "site/data/variants.js",
    ):
        assert (run_folder / name).is_file(), name


def test_every_relative_link_resolves(run_folder: Path) -> None:
    """Every href and src on every page points at a file in the run folder; nothing is remote."""
    for page in ("index.html", "site/recipients.html", "site/recipient.html", "site/variants.html"):
        parsed = _parse(run_folder / page)
        assert parsed.links
        for link in parsed.links:
            if link == "data:,":
                continue  # the empty favicon: no request for /favicon.ico
            parts = urlsplit(link)
            assert not parts.scheme and not parts.netloc, f"{page}: {link} is not relative"
            if not parts.path:
                continue  # an in-page anchor
            target = (run_folder / page).parent / unquote(parts.path)
            assert target.resolve().is_relative_to(run_folder.resolve()), link
            assert target.is_file(), f"{page}: {link} does not exist"


def test_pages_have_no_inline_script_or_style(run_folder: Path) -> None:
    """The pages keep to their own CSP: scripts and styles only from files."""
    for page in ("index.html", "site/recipients.html", "site/recipient.html", "site/variants.html"):
        parsed = _parse(run_folder / page)
        assert parsed.inline_scripts == 0, page
        assert parsed.style_attrs == 0, page
        assert "Content-Security-Policy" in (run_folder / page).read_text("utf-8")


def test_script_name_is_escaped_on_the_overview(run_folder: Path) -> None:
    """A customer named <script>… shows as text on the overview, never as markup."""
    html = (run_folder / "index.html").read_text("utf-8")
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html  # the segment move and the warning


def test_json_in_the_data_files_cannot_close_a_script(run_folder: Path) -> None:
    """The data files escape <, > and & so no value can end a script or start markup."""
    for name in ("recipients.js", "details-0.js", "variants.js"):
        text = (run_folder / "site" / "data" / name).read_text("utf-8")
        assert "<" not in text and ">" not in text and "&" not in text, name
    rows = _data(run_folder / "site/data/recipients.js")
    names = {row[0]: row[1] for row in rows["rows"]}
    assert names["P004"] == EVIL  # escaped in the file, the same string once parsed


def test_js_json_escapes_html_and_line_separators() -> None:
    """js_json writes <, >, & and U+2028 as \\u escapes and still round-trips."""
    value = {"a": "</script><!-- & \u2028"}
    text = js_json(value)
    assert text == '{"a":"\\u003c/script\\u003e\\u003c!-- \\u0026 \\u2028"}'
    assert json.loads(text) == value


def test_recipient_rows_carry_outcome_and_reasons(run_folder: Path) -> None:
    """Each contact has one row, in contact order, with its outcome codes and lints."""
    data = _data(run_folder / "site/data/recipients.js")
    fields = data["fields"]
    rows = {row[0]: dict(zip(fields, row, strict=True)) for row in data["rows"]}
    assert list(rows) == ["P001", "P002", "P003", "P004", "P005", "P006"]
    assert rows["P001"]["newsletter"] == "" and rows["P001"]["alert"] == ""
    assert rows["P003"]["newsletter"] == "no_valid_email"
    assert rows["P006"]["newsletter"] == "not_quiet;no_opt_in"
    assert rows["P004"]["lints"] == "fallback_field" and rows["P004"]["fallback"] == 1
    assert rows["P005"]["language"] == "en" and rows["P005"]["segment"] == "C"


def test_details_explain_each_item(run_folder: Path) -> None:
    """A recipient's details hold subject, preheader, size, lints and every item's reasons."""
    details = _data(run_folder / "site/data/details-0.js")
    newsletter = details["P001"]["newsletter"]
    assert newsletter["subject"] == "2 tips voor uw back-up, Anouk"
    assert newsletter["preheader"] == "Preheader voor P001"
    assert newsletter["items"][0] == [
        "backup-test",
        7,
        [["interest", "backup", 3], ["cross_sell", "Backup Pro (u gebruikt Cloud Opslag)", 4]],
    ]
    assert details["P001"]["alert"]["items"][0][0] == "storing"
    assert details["P004"]["newsletter"]["fallback"] is True
    assert details["P004"]["newsletter"]["over_budget"] is True
    assert details["P004"]["newsletter"]["lints"] == [["fallback_field", "geen voornaam: 'Geachte relatie'"]]
    assert details["P006"]["newsletter"] == {"made": False, "reasons": ["not_quiet", "no_opt_in"]}


def test_item_links_are_only_http(run_folder: Path) -> None:
    """An item whose url is javascript: is listed without a link."""
    items = _data(run_folder / "site/data/recipients.js")["items"]
    assert items["storing"][3] == ""
    assert items["backup-test"][3] == "https://www.polderlicht-it.nl/backup-test"


def test_variants_group_identical_selections_largest_first(run_folder: Path) -> None:
    """Recipients with the same items and language form one variant; the largest comes first."""
    variants = _data(run_folder / "site/data/variants.js")["variants"]
    first = variants[0]
    assert (first["kind"], first["language"], first["items"], first["count"]) == (
        "newsletter",
        "nl",
        ["backup-test", "nis2"],
        2,
    )
    assert first["representative"] == "P001"
    assert [v["count"] for v in variants] == sorted((v["count"] for v in variants), reverse=True)
    assert sum(v["count"] for v in variants) == 5  # four newsletters and one alert
    assert {(v["kind"], v["language"]) for v in variants} >= {("alert", "nl"), ("newsletter", "en")}


def test_overview_shows_counts_lints_and_calls(run_folder: Path) -> None:
    """The overview carries the key figures, the lint table, the call lists and the report links."""
    html = (run_folder / "index.html").read_text("utf-8")
    assert "30 november 2026" in html
    assert re.search(r'data-count="newsletters">\s*<div class="value">4</div>', html)
    assert "persoonlijk veld valt terug op standaard" in html
    assert 'href="calls/am-jan.html">Jan de Vries</a>' in html
    assert 'href="rejects.csv"' in html
    assert "Dit is de eerste run" in html
    # Two sentences of one paragraph, each its own trans block: a space between them.
    # The variants page lists the alerts' variants too: the sentence counts both.
    found = re.search(r"klanten\. De nieuwsbrieven vallen in (\d+) varianten en de alerts in (\d+): "
                      r'<a href="site/variants.html">controleer elk van de (\d+) varianten', html)
    assert found and int(found[1]) + int(found[2]) == int(found[3])


def test_overview_compares_with_the_previous_run(tmp_path: Path) -> None:
    """With a previous manifest, the overview lists each count that changed, with its sign."""
    previous = {"as_of": "2026-10-31", "counts": {"newsletters": 10, "alerts": 1, "calls": 2}}
    write_fake_run(tmp_path, make_site_data(previous=previous))
    html = (tmp_path / "index.html").read_text("utf-8")
    assert "Wat is er veranderd" in html
    assert re.search(
        r"<td>nieuwsbrieven</td><td class=\"num\">10</td><td class=\"num\">4</td>"
        r"<td class=\"num delta \">−6</td>",
        html,
    )
    assert "<td>alerts</td>" not in html  # unchanged counts are not listed
    assert "−6 t.o.v. 2026-10-31" in html


def test_only_more_rejects_or_lints_are_marked_worse() -> None:
    """A rise in rejects or lints is marked worse, a fall better; other counts stay neutral."""
    from pipeline.site import trend

    assert (trend("rejects", 3), trend("lint_missing_alt", -1), trend("newsletters", -6), trend("lints", 0)) == (
        "worse",
        "better",
        "",
        "",
    )


def test_details_are_sharded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Details are split into files of DETAIL_SHARD recipients, so one page loads one small file."""
    monkeypatch.setattr("pipeline.site.DETAIL_SHARD", 4)
    write_fake_run(tmp_path)
    assert sorted(p.name for p in (tmp_path / "site/data").glob("details-*.js")) == ["details-0.js", "details-1.js"]
    assert set(_data(tmp_path / "site/data/details-1.js")) == {"P005", "P006"}
    assert _data(tmp_path / "site/data/recipients.js")["shard"] == 4


def test_recipients_file_made_in_batches_is_the_whole_objects_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """recipients.js, made a few rows at a time, has the bytes js_assign gives for the whole object."""
    import pipeline.site as site_module

    monkeypatch.setattr(site_module, "ROWS_AT_ONCE", 2)
    site = make_site_data()
    variant_of = site_module._variant_index(site_module._ordered_variants(site))
    whole = site_module.js_assign("WINDSTIL_RECIPIENTS", {
        "run": "2026-11-30",
        "shard": site_module.DETAIL_SHARD,
        "fields": list(site_module.ROW_FIELDS),
        "rows": [site_module._row(site, s, variant_of) for s in site.selections],
        "managers": {am.account_manager_id: am.name for am in site.data.account_managers.values()},
        "labels": {name: labels(page_language("nl"), table) for name, table in (
            ("skip", site_module.OUTCOME_LABELS), ("lint", site_module.LINT_LABELS),
            ("reason", site_module.REASON_LABELS), ("language", site_module.LANGUAGE_LABELS),
            ("check", site_module.CHECK_LABELS), ("fix", site_module.CHECK_FIXES),
            ("level", site_module.LEVEL_LABELS))},
        "inbox": {"sender": site.sender, "clients": site_module.INBOX_CLIENTS},
        "items": site_module._item_catalogue(site.data, page_language("nl")),
    })
    pieces = list(site_module.recipients_js(site, variant_of))
    assert len(site.selections) > 2 * 2  # several batches, the last one short or full
    assert len(pieces) == 2 + -(-len(site.selections) // 2)
    assert "".join(pieces) == whole
    assert json.loads(whole.removeprefix("window.WINDSTIL_RECIPIENTS = ").removesuffix(";\n"))["rows"][0][0]


def test_details_file_put_together_is_the_whole_shards_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A details file, put together from each recipient's JSON and its customer's calls, is the shard's js_json."""
    import pipeline.site as site_module

    monkeypatch.setattr(site_module, "DETAIL_SHARD", 4)
    site = write_fake_run(tmp_path)
    variant_of = site_module._variant_index(site_module._ordered_variants(site))
    calls = site_module._calls_by_customer(site)
    assert any(len(calls.get(s.customer_id, [])) for s in site.selections)  # calls to put on the end
    assert any(s.items for s in site.selections)  # and items worded once, written more than once
    for number, start in enumerate(range(0, len(site.selections), 4)):
        part = site.selections[start : start + 4]
        # Each recipient worded afresh (nothing said before), as the reference.
        language = site_module._language(site)
        shard = {s.contact_id: site_module._detail(site, s, variant_of, calls, {}, language) for s in part}
        whole = f"(window.WINDSTIL_DETAILS = window.WINDSTIL_DETAILS || {{}})[{number}] = {js_json(shard)};\n"
        assert (tmp_path / f"site/data/details-{number}.js").read_text(encoding="utf-8") == whole


# --------------------------------------------------------------------------- the preview server


@pytest.fixture
def server(run_folder: Path) -> Iterator[tuple[str, int]]:
    httpd = make_server(run_folder, port=0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[0], httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def _get(server: tuple[str, int], path: str, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(*server, timeout=5)
    headers = {"Host": host} if host else {}
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def test_preview_serves_the_site_with_a_strict_policy(server: tuple[str, int]) -> None:
    """The preview serves index.html on 127.0.0.1 with CSP, nosniff and no referrer."""
    assert server[0] == "127.0.0.1"
    status, headers, body = _get(server, "/")
    assert status == 200 and b"Controle van de batch" in body
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "object-src 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    status, headers, _ = _get(server, "/site/data/recipients.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")


def test_preview_sandboxes_the_e_mails(server: tuple[str, int]) -> None:
    """An e-mail is served with a CSP sandbox: no script runs even when opened on its own."""
    status, headers, _ = _get(server, "/emails/P001/newsletter.html")
    assert status == 200
    assert "sandbox" in headers["content-security-policy"]
    assert "script-src 'none'" in headers["content-security-policy"]
    status, headers, _ = _get(server, "/emails/P001/newsletter.txt")
    assert headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    "path",
    ["/../secret.txt", "/%2e%2e/secret.txt", "/site/..%2f..%2fsecret.txt", "/emails/", "/.hidden", "/link/secret.txt"],
)
def test_preview_serves_nothing_outside_the_run(server: tuple[str, int], run_folder: Path, path: str) -> None:
    """No `..`, no symlink out of the folder, no directory listing, no hidden file."""
    (run_folder.parent / "secret.txt").write_text("geheim")
    (run_folder / ".hidden").write_text("verborgen")
    (run_folder / "link").symlink_to(run_folder.parent)
    status, _, body = _get(server, path)
    assert status == 404
    assert b"geheim" not in body and b"verborgen" not in body


def test_preview_refuses_a_foreign_host_header(server: tuple[str, int]) -> None:
    """A request for another host name (DNS rebinding) is refused."""
    status, _, _ = _get(server, "/", host="evil.example")
    assert status == 421


def test_find_run_picks_the_latest_or_the_named_run(tmp_path: Path) -> None:
    """Without RUN the latest run folder is served; an unknown RUN is a usage error naming the runs."""
    for name in ("2026-09-30", "2026-10-31"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.html").write_text("x")
    (tmp_path / ".2026-11-30.tmp-1").mkdir()
    assert find_run(tmp_path, None) == tmp_path / "2026-10-31"
    assert find_run(tmp_path, "2026-09-30") == tmp_path / "2026-09-30"
    with pytest.raises(UsageError, match="2026-09-30, 2026-10-31"):
        find_run(tmp_path, "2026-12-31")
    with pytest.raises(UsageError, match="no run"):
        find_run(tmp_path / "missing", None)


def test_windstil_preview_prints_the_url_and_serves_the_latest_run(tiny_project: Path) -> None:
    """`windstil preview --port 0` serves the latest run on 127.0.0.1 and says where."""
    import subprocess
    import sys
    import urllib.request

    write_fake_run(tiny_project / "output" / "2026-11-30")
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--project", str(tiny_project), "preview", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"review site of run 2026-11-30: (http://127\.0\.0\.1:\d+/)", line)
        assert match, line
        with urllib.request.urlopen(match.group(1) + "site/recipients.html", timeout=5) as response:
            assert response.status == 200
            assert b"Ontvangers" in response.read()
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_windstil_preview_of_an_unknown_run_is_a_usage_error(tiny_project: Path) -> None:
    """An unknown RUN exits 2 and lists the runs there are."""
    from click.testing import CliRunner

    from pipeline.cli import cli

    write_fake_run(tiny_project / "output" / "2026-11-30")
    result = CliRunner().invoke(cli, ["--project", str(tiny_project), "preview", "2026-01-31"])
    assert result.exit_code == 2
    assert "no run '2026-01-31'" in result.output and "2026-11-30" in result.output
