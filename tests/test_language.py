"""One language per project: the tiny project's run in Dutch and in English, every page read.

`settings.yaml: language` decides the language of everything a person at the company reads:
the review site (its pages after their script has run, in Chromium), both reports (the run's
and `windstil segment`'s), the call lists (HTML, XLSX, the account manager's e-mail). The
visible text of each is checked for words of the other language, and for its own. The
contacts' e-mails are not in this: they stay in each contact's language (tests/golden).
"""

from __future__ import annotations

import email
import email.policy
import io
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from fractions import Fraction
from pathlib import Path
from typing import Any

import lxml.html
import openpyxl
import pytest
from babel import Locale
from babel.numbers import format_currency, format_decimal, format_percent
from conftest import AS_OF, write_tiny_project
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from pipeline.language import Notice, PageLanguage, page_language
from pipeline.reports import write_segmentation
from pipeline.run import run_batch

# Words of the user interface that occur on these pages and never in the tiny project's data
# (its names, titles and subjects are in the contacts' own languages, whatever the project's).
WORDS = {
    "nl": ("Ontvangers", "Segmentatie", "klanten", "Overzicht", "Bellijst", "Gesprekspunten", "Prioriteit",
           "Waarschuwingen", "vastgestelde", "omzet", "Uitkomst", "uiterlijk", "gemaakt", "Laatste",
           "Controles", "Wat kwam er terug", "afmeldingen", "Weergave"),
    "en": ("Recipients", "customers", "Segmentation", "Overview", "Call list", "Talking points", "Priority",
           "Warnings", "frozen", "revenue", "Outcome", "Last contact", "made", "Due",
           "Checks", "What came back", "unsubscribes", "View"),
}
OTHER = {"nl": "en", "en": "nl"}
# The columns `windstil calls import` reads, named where the outcomes are asked for: machine names.
IMPORT_COLUMNS = "customer_id, contact_id, date, outcome, note"
FROZEN_ON = date(2026, 6, 30)  # a frozen segmentation over 90 days old: the run warns, moves are explained

CHROMIUM = Path("/usr/bin/chromium")


def visible_text(html: str) -> str:
    """Return what a reader sees of a page: its text without scripts, styles and hidden parts, and its titles.

    `<code>` is left out too: commands and column names are the same in every language.
    """
    root = lxml.html.document_fromstring(html)
    for node in root.xpath("//script | //style | //template | //*[@hidden] | //code"):
        node.drop_tree()
    said = list(root.itertext())  # piece by piece: a cell's text must not run into the next cell's
    said += root.xpath("//@title | //@placeholder | //@aria-label | //@alt")
    return " ".join(" ".join(said).split())


def found(words: tuple[str, ...], text: str) -> list[str]:
    """Return the words that occur in `text` as whole words, in any case."""
    return [w for w in words if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text, re.IGNORECASE)]


def _project(base: Path, language: str) -> Path:
    root = write_tiny_project(base / language)
    settings = root / "settings.yaml"
    settings.write_text(settings.read_text(encoding="utf-8") + f"language: {language}\n", encoding="utf-8")
    write_segmentation(root, FROZEN_ON, freeze=True, today=FROZEN_ON)
    return root


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny project's run folder in each language (with a frozen segmentation from June)."""
    base = tmp_path_factory.mktemp("language")
    folders = {}
    for language in ("nl", "en"):
        root = _project(base, language)
        write_segmentation(root, AS_OF)
        folders[language] = run_batch(root, as_of=AS_OF, jobs=1).folder
    return folders


def static_pages(folder: Path) -> Iterator[tuple[str, str]]:
    """Yield (name, visible text) of every page of a run that needs no script, and of its call lists' files."""
    for path in sorted([*folder.glob("reports/*.html"), *folder.glob("calls/*.html")]):
        yield str(path.relative_to(folder)), visible_text(path.read_text(encoding="utf-8"))
    segment_report = folder.parent / "segmentation" / AS_OF.isoformat() / "segments.html"
    yield "windstil segment: segments.html", visible_text(segment_report.read_text(encoding="utf-8"))
    for path in sorted(folder.glob("calls/*.xlsx")):
        book = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))
        cells = [str(c) for sheet in book for row in sheet.iter_rows(values_only=True) for c in row if c]
        yield str(path.relative_to(folder)), " ".join([*book.sheetnames, *cells])
    for path in sorted(folder.glob("calls/*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert text is not None and html is not None
        said = f"{message['Subject']} {text.get_content()} {visible_text(html.get_content())}"
        yield str(path.relative_to(folder)), said.replace(IMPORT_COLUMNS, "")


@pytest.mark.parametrize("language", ["nl", "en"])
def test_reports_and_call_lists_speak_one_language(runs: dict[str, Path], language: str) -> None:
    """Reports, call-list pages, workbooks and e-mails hold words of the project's language only."""
    pages = dict(static_pages(runs[language]))
    assert {"reports/segments.html", "reports/retention.html", "windstil segment: segments.html"} <= set(pages)
    assert any(name.endswith(".xlsx") for name in pages) and any(name.endswith(".eml") for name in pages)
    for name, text in pages.items():
        wrong = found(WORDS[OTHER[language]], text)
        assert not wrong, f"{name} ({language}) says {wrong}"
        assert found(WORDS[language], text), f"{name} ({language}) has none of {WORDS[language]}"
    everything = " ".join(pages.values())
    own = {"nl": ("Segmentatie", "klanten", "Bellijst", "Gesprekspunten", "Prioriteit", "omzet", "Laatste"),
           "en": ("Segmentation", "customers", "Call list", "Talking points", "Priority", "revenue", "Last contact")}
    assert found(own[language], everything) == list(own[language])


def test_dates_and_amounts_are_written_in_the_locale(runs: dict[str, Path]) -> None:
    """A report gives `30 juni 2026` and `€ 1.234,56` in Dutch, `30 June 2026` and `€1,234.56` in English."""
    dutch = visible_text((runs["nl"] / "reports" / "segments.html").read_text(encoding="utf-8"))
    english = visible_text((runs["en"] / "reports" / "segments.html").read_text(encoding="utf-8"))
    # The run reports the frozen segmentation it uses, of 30 June.
    assert "Klantsegmentatie 30 juni 2026" in dutch and "Customer segmentation 30 June 2026" in english
    assert re.search(r"€\s\d{1,3}(\.\d{3})*,\d\d", dutch)
    assert re.search(r"€\d{1,3}(,\d{3})*\.\d\d", english)
    # The warning made in the core (the frozen segmentation is too old) reads in each language.
    assert "de vastgestelde segmentatie van 30 juni 2026 is 153 dagen oud" in dutch
    assert "the frozen segmentation of 30 June 2026 is 153 days old" in english


def test_call_list_csv_keeps_its_machine_header(runs: dict[str, Path]) -> None:
    """The CSV header is the documented column names in both languages; its talking points follow the language."""
    headers = {}
    for language, folder in runs.items():
        text = next(folder.glob("calls/*.csv")).read_text(encoding="utf-8")
        headers[language] = text.splitlines()[0]
    assert headers["nl"] == headers["en"]
    assert headers["nl"].startswith("priority,due,customer_id,customer,segment,contact_id")
    assert "Laatste contact:" in (runs["nl"] / "calls" / "all.csv").read_text(encoding="utf-8")
    assert "Last contact:" in (runs["en"] / "calls" / "all.csv").read_text(encoding="utf-8")


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_review_site_speaks_one_language(runs: dict[str, Path]) -> None:
    """Every page of the review site, once its script has filled it in, reads in the project's language."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            for language, folder in runs.items():
                texts = _site_texts(browser, folder)
                for name, text in texts.items():
                    wrong = found(WORDS[OTHER[language]], text)
                    assert not wrong, f"{name} ({language}) says {wrong}"
                    assert found(WORDS[language], text), f"{name} ({language}) has none of {WORDS[language]}"
                everything = " ".join(texts.values())
                own = {"nl": ("Ontvangers", "Segmentatie", "klanten", "Overzicht", "Waarschuwingen", "gemaakt",
                              "Controles", "Wat kwam er terug", "afmeldingen"),
                       "en": ("Recipients", "Segmentation", "customers", "Overview", "Warnings", "made",
                              "Checks", "What came back", "unsubscribes")}
                assert found(own[language], everything) == list(own[language])
        finally:
            browser.close()


def _site_texts(browser: Any, folder: Path) -> dict[str, str]:
    """Return the visible text of each site page after its script ran: overview, recipients, one recipient, variants."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    texts = {}
    try:
        site = folder / "site"
        for name, url in (
            ("index.html", (folder / "index.html").as_uri()),
            ("recipients.html", (site / "recipients.html").as_uri()),
            ("recipient.html#P001", (site / "recipient.html").as_uri() + "#P001"),
            ("variants.html", (site / "variants.html").as_uri()),
        ):
            page.goto(url)
            if name != "index.html":  # the script has said how many there are, or shown the recipient
                page.wait_for_function("document.getElementById('status').textContent.indexOf('…') < 0")
            texts[name] = visible_text(page.content())
    finally:
        context.close()
    assert not errors, errors
    return texts


def test_a_notice_is_its_english_text_and_says_itself_in_dutch() -> None:
    """A warning made by the core reads as before in English, in Dutch on a page, also after pickling or as JSON."""
    import json
    import pickle

    from pipeline.language import Notice, page_language
    from pipeline.segment import FROZEN_OLD

    notice = Notice(FROZEN_OLD, frozen=date(2026, 6, 30), age=153, limit=90)
    english = "the frozen segmentation of 2026-06-30 is 153 days old (more than 90); "
    assert notice.startswith(english)
    dutch = page_language("nl").text(notice)
    assert dutch.startswith("de vastgestelde segmentatie van 30 juni 2026 is 153 dagen oud (meer dan 90)")
    assert page_language("nl").text(pickle.loads(pickle.dumps(notice))) == dutch
    # Kept as JSON (the state keeps a frozen segmentation's warnings so), it is recognised by its form.
    assert page_language("nl").text(json.loads(json.dumps(notice))) == dutch
    assert page_language("en").text(notice).startswith("the frozen segmentation of 30 June 2026 is 153 days old")
    assert page_language("nl").text("Zorggroep Lindehof") == "Zorggroep Lindehof"  # data is not looked up


def test_item_reasons_are_said_in_the_project_language() -> None:
    """The details of why an item was chosen (in the contact's language) read in the project's language on the site."""
    from pipeline.select import reason_detail

    assert reason_detail("priority", "door de redactie op 2 van 3 gezet", "nl", "en") == "set to 2 of 3 by the editors"
    assert reason_detail("freshness", "published 28 days ago", "en", "nl") == "28 dagen geleden verschenen"
    assert reason_detail("interest", "backup en security", "nl", "en") == "backup and security"
    assert reason_detail("cross_sell", "Cloud Backup, aanvulling op Back-up Pro en NAS", "nl", "en") == (
        "Cloud Backup, which complements Back-up Pro and NAS"
    )
    assert reason_detail("timely", "event in 12 days", "en", "nl") == "evenement over 12 dagen"
    assert reason_detail("sector", "zorg", "nl", "en") == "zorg"  # data stays as it is
    dutch = "door de redactie op 2 van 3 gezet"
    assert reason_detail("priority", dutch, "nl", "nl") == dutch


def test_check_findings_are_recognised_and_said_in_dutch() -> None:
    """A pre-send check's English detail (also checks.csv's) reads in Dutch on the site; its quoted parts stay."""
    import pipeline.finding_text  # noqa: F401 - registers the forms
    from pipeline.language import page_language

    dutch = page_language("nl")
    assert dutch.text("the text part lacks the link 'https://example.nl/a'") == (
        "de tekstversie mist de link 'https://example.nl/a'"
    )
    assert dutch.text("<html> has no lang or dir") == "<html> heeft geen lang of dir"
    said = dutch.text("text of 12px, under 14px ('Hallo', 3 places)")
    assert said == "tekst van 12px, onder 14px ('Hallo', 3 plekken)"
    assert dutch.text("a detail of a form nobody listed") == "a detail of a form nobody listed"


# --------------------------------------------------------------------------- numbers, amounts, shares


def _babel_percent(share: Fraction, locale: Locale) -> str:
    """The percentage as Babel writes it without our rounding first: what PageLanguage.percent must equal."""
    value = Decimal(share.numerator) / Decimal(share.denominator)
    pattern = "#,##0.00%" if 0 < abs(value) < Decimal("0.00995") else "#,##0.0%"
    return str(format_percent(value, pattern, locale=locale))


@settings_(max_examples=300, deadline=None)
@given(numerator=st.integers(-10**9, 10**9), denominator=st.integers(1, 10**9), code=st.sampled_from(["nl", "en"]))
def test_a_share_is_written_as_babel_writes_it(numerator: int, denominator: int, code: str) -> None:
    """A share rounded once and formatted from the cache reads exactly as Babel writes the exact share."""
    words = page_language(code)
    share = Fraction(numerator, denominator)
    assert words.percent(share) == _babel_percent(share, words.locale)
    assert words.percent(share) == words.percent(share)  # the second time from the cache


@pytest.mark.parametrize("share", [Fraction(1, 2000), Fraction(-1, 2000), Fraction(-1, 10**6), Fraction(199, 20000),
                                   Fraction(1, 40), Fraction(3, 40), Fraction(0), Fraction(-1, 3)])
@pytest.mark.parametrize("code", ["nl", "en"])
def test_halves_and_signed_zeros_of_shares_round_as_babel_rounds(share: Fraction, code: str) -> None:
    """Half-way shares round half-even, and a tiny negative share keeps its minus sign, as Babel writes them."""
    words = page_language(code)
    assert words.percent(share) == _babel_percent(share, words.locale)


@settings_(max_examples=300, deadline=None)
@given(
    amount=st.one_of(
        st.decimals(min_value=-10**9, max_value=10**9, places=4, allow_nan=False),
        st.integers(-10**9, 10**9),
        st.floats(-1e9, 1e9, allow_nan=False),
    ),
    whole=st.booleans(),
    code=st.sampled_from(["nl", "en"]),
)
def test_an_amount_is_written_as_babel_writes_it(amount: Decimal | int | float, whole: bool, code: str) -> None:
    """An amount (cents or whole euros; Decimal, int or float) reads exactly as Babel writes it."""
    words = page_language(code)
    if whole:
        expected = format_currency(amount, "EUR", format="¤ #,##0" if code == "nl" else "¤#,##0",
                                   locale=words.locale, currency_digits=False)
    else:
        expected = format_currency(Decimal(amount), "EUR", locale=words.locale)
    assert words.money(amount, whole=whole) == expected
    assert words.money(Decimal("-0.004")) == format_currency(Decimal("-0.004"), "EUR", locale=words.locale)


@settings_(max_examples=200, deadline=None)
@given(value=st.one_of(st.integers(-10**12, 10**12), st.decimals(-10**6, 10**6, places=3, allow_nan=False),
                       st.floats(-1e6, 1e6, allow_nan=False)),
       digits=st.integers(0, 2), code=st.sampled_from(["nl", "en"]))
def test_a_number_is_written_as_babel_writes_it(value: int | Decimal | float, digits: int, code: str) -> None:
    """Integers, decimals and floats read as Babel writes them, whichever of 1, 1.0 and Decimal(1) came first."""
    words = page_language(code)
    if isinstance(value, float) or digits:
        expected = format_decimal(value, "#,##0" + ("." + "0" * digits if digits else ""), locale=words.locale)
    else:
        expected = format_decimal(value, locale=words.locale)
    assert words.number(value, digits) == expected
    one_and_a_half = "1,5" if code == "nl" else "1.5"
    assert (words.number(1), words.number(1.0), words.number(Decimal("1.5"))) == ("1", "1", one_and_a_half)


def test_a_negative_zero_keeps_its_sign_after_a_zero() -> None:
    """-0.0 and 0.0 are equal, but Babel writes the sign of the negative one, whichever came first."""
    words = page_language("nl")
    written = (words.number(0.0), words.number(-0.0), words.number(Decimal("-0")), words.number(0))
    assert written == ("0", "-0", "-0", "0")


def test_a_language_remembers_the_wording_of_a_bounded_number_of_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A text is worded once and answered the same again; a notice equal to it is still worded as a notice."""
    import pipeline.language as language

    bundled = page_language("nl")
    dutch = PageLanguage(code="nl", translations=bundled.translations, locale=bundled.locale)
    monkeypatch.setattr(language, "_TEXTS_KEPT", 3)
    assert dutch.text("<html> has no lang or dir") == "<html> heeft geen lang of dir"
    assert dutch.text("<html> has no lang or dir") == "<html> heeft geen lang of dir"
    for n in range(5):
        assert dutch.text(f"a detail nobody listed {n}") == f"a detail nobody listed {n}"
    assert len(dutch._texts) == 3
    notice = Notice("the text part lacks the link '%(url)s'", url="https://example.nl/a")
    dutch._texts[str(notice)] = "remembered for the plain text"
    assert dutch.text(notice) != "remembered for the plain text"


def test_a_projects_own_email_catalogue_wins_and_falls_back_to_windstils(tmp_path: Path) -> None:
    """A project's catalogue (an older copy of templates/) keeps its wording; what it lacks comes from Windstil's."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    from pipeline.render.i18n import load_translations

    catalog = Catalog(locale="nl")
    catalog.add("A short note from %(am)s", "Even een berichtje van %(am)s")
    folder = tmp_path / "locale" / "nl" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.mo").open("wb") as handle:
        write_mo(handle, catalog)
    translations = load_translations(tmp_path / "locale", "nl")
    assert translations.gettext("A short note from %(am)s") == "Even een berichtje van %(am)s"
    assert translations.gettext("Invitation: %(title)s") == "Uitnodiging: %(title)s"  # from Windstil's catalogue
    one, many = "%(name)s, a tip for you: %(title)s", "%(name)s, %(count)d tips for you: %(title)s"
    plural = translations.ngettext(one, many, 3)
    assert plural == "%(name)s, %(count)d tips voor u: %(title)s"
