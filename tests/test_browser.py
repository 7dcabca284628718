"""The review site in a real browser (Playwright with Debian's chromium), from file://.

The run folder is the tiny project's real run (`pipeline.run.run_batch`); a reviewer's path
through it is walked: overview → recipients → segment A → search a name → one recipient →
375 px → a variant. Every console error fails the test.
"""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from browsing import CHROMIUM, SKIP_REASON, chromium, watched_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
]

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(playwright_api) as instance:
        yield instance


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with watched_page(browser.new_context(viewport={"width": 1280, "height": 1000})) as tab:
        yield tab


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the tiny project for its as-of date and return the run folder."""
    from conftest import AS_OF, write_tiny_project

    from pipeline.run import run_batch

    root = write_tiny_project(tmp_path_factory.mktemp("tiny"))
    result = run_batch(root, as_of=AS_OF, jobs=1)
    return result.folder


def _subject(folder: Path, contact_id: str, kind: str = "newsletter") -> str:
    message = email.message_from_bytes(
        (folder / "emails" / contact_id / f"{kind}.eml").read_bytes(), policy=email.policy.default
    )
    assert isinstance(message, EmailMessage)
    return str(message["Subject"])


def test_a_reviewer_walks_through_the_tiny_run(page: Any, tiny_run: Path) -> None:
    from pipeline.approve import approve_run

    """Overview → segment A → search → recipient at 375 px → exclude → a variant, no console errors."""
    page.goto((tiny_run / "index.html").as_uri())
    assert "Controle van de batch van 30 november 2026" in page.inner_text("h1")
    newsletters = page.inner_text('[data-count="newsletters"] .value')
    assert int(newsletters.replace(".", "")) > 0

    page.click("nav >> text=Ontvangers")
    page.wait_for_selector("#rows tr")
    total = page.locator("#rows tr").count()
    page.select_option("#f-segment", "A")
    segments = page.locator("#rows tr .seg").all_inner_texts()
    assert segments and set(segments) == {"A"} and len(segments) < total
    assert "#segment=A" in page.url

    # Search by (part of) the name of a segment-A contact who got a newsletter, accent-insensitively.
    page.select_option("#f-outcome", "newsletter")
    first = page.locator("#rows tr").first
    contact_id = first.get_attribute("data-id")
    name = first.locator("td a").first.inner_text()
    last_name = name.split()[-1]
    page.fill("#f-search", last_name.upper())
    page.wait_for_function(
        "name => [...document.querySelectorAll('#rows tr td:first-child a')].every(a => a.textContent.includes(name))",
        arg=last_name,
    )
    assert "#" in page.url and f"q={last_name.upper()}" in page.url
    names = page.locator("#rows tr td:first-child a").all_inner_texts()
    assert name in names
    assert all(last_name in n for n in names), names

    page.click(f'#rows tr[data-id="{contact_id}"] td a')
    page.wait_for_selector("#newsletter .body iframe.mail")
    assert page.inner_text("h1") == name
    facts = page.inner_text("#newsletter dl.facts")
    assert _subject(tiny_run, contact_id) in facts
    assert "Waarom deze items" in page.inner_text("#newsletter")
    assert page.locator("#newsletter table.why tbody tr").count() >= 1
    frame = page.locator("#newsletter iframe.mail")
    assert frame.get_attribute("sandbox") is not None
    assert "allow-scripts" not in (frame.get_attribute("sandbox") or "")
    assert frame.evaluate("f => f.clientWidth") == 600  # the e-mail's viewport, inside the border
    page.click("#newsletter button[data-width='375']")
    assert frame.evaluate("f => f.clientWidth") == 375
    assert round(frame.bounding_box()["width"]) == 375 + 2
    assert page.locator("#newsletter button[data-width='375']").get_attribute("aria-pressed") == "true"
    mail = page.frame_locator("#newsletter iframe.mail")
    assert name.split()[0] in mail.locator("body").inner_text()
    # From disk, a view that changes the message cannot be made: it says so, the command as code,
    # and the message stays as sent, with "light" pressed, not the view that did not happen.
    page.click("#newsletter button[data-view='dark']")
    page.wait_for_selector("#newsletter .view-note code")
    assert page.inner_text("#newsletter .view-note code") == "windstil preview"
    assert page.get_attribute("#newsletter button[data-view='light']", "aria-pressed") == "true"
    assert page.get_attribute("#newsletter button[data-view='dark']", "aria-pressed") == "false"

    # The reviewer's "do not send": marked here, downloaded from the recipients page for approve --exclude.
    assert "belt" in page.inner_text("#facts") or "geen deze maand" in page.inner_text("#facts")
    page.click("#exclude")
    assert page.get_attribute("#exclude", "aria-pressed") == "true"
    page.click("nav >> text=Ontvangers")
    page.wait_for_selector("#rows tr")  # the page's script has filled the table (and listens to the filters)
    page.select_option("#f-outcome", "excluded")
    page.wait_for_function("document.querySelectorAll('#rows tr').length === 1")
    assert page.locator("#rows tr").first.get_attribute("data-id") == contact_id
    with page.expect_download() as download:
        page.click("#download-exclusions")
    assert download.value.suggested_filename == "uitsluiten-2026-11-30.txt"
    exclusion_file = Path(download.value.path())
    assert exclusion_file.read_text("utf-8") == f"{contact_id}\n"
    result = approve_run(tiny_run.parent.parent, "2026-11-30", exclusion_file)  # what the reviewer runs next
    assert result.excluded == 1 and result.added > 0

    page.click("nav >> text=Varianten")
    page.wait_for_selector("#rows tr")
    variant = page.locator("#rows tr").first
    representative = variant.locator("a.open").inner_text()
    href = variant.locator("a.open").get_attribute("href") or ""
    item_titles = variant.locator("ol.items li").evaluate_all("lis => lis.map(li => li.firstChild.textContent)")
    assert item_titles
    variant.locator("a.open").click()
    page.wait_for_selector("#newsletter table.why tbody tr, #alert table.why tbody tr")
    assert page.url.endswith(href) and page.inner_text("h1") == representative
    shown = page.inner_text("main")
    for title in item_titles:
        assert title in shown
    page.go_back()
    page.wait_for_selector("#rows tr input[type=checkbox]")
    box = page.locator("#rows tr input[type=checkbox]").first
    assert not box.is_checked()  # opening a variant is not reading it: the reviewer ticks it
    box.check()
    page.reload()
    page.wait_for_selector("#rows tr input[type=checkbox]")
    assert page.locator("#rows tr input[type=checkbox]").first.is_checked()  # the tick is remembered

    assert page.errors == []


def test_a_filter_in_the_address_applies_on_an_open_page(page: Any, tiny_run: Path) -> None:
    """A new address with a filter (a link followed, one edited by hand) filters the table already open."""
    page.goto((tiny_run / "site" / "recipients.html").as_uri())
    page.wait_for_selector("#rows tr")
    everyone = page.locator("#rows tr").count()
    segments = page.locator("#rows tr td:nth-child(3)").all_inner_texts()
    wanted = sorted(set(segments))[0]
    page.evaluate(f"location.hash = 'segment={wanted}'")
    page.wait_for_function(f"document.querySelectorAll('#rows tr').length === {segments.count(wanted)}")
    assert page.locator("#f-segment").input_value() == wanted
    assert segments.count(wanted) < everyone
    # A contact who gets no message had nothing checked: not "in order".
    page.evaluate("location.hash = ''")
    page.wait_for_function(f"document.querySelectorAll('#rows tr').length === {everyone}")
    cells = page.locator("#rows tr").evaluate_all(
        "rows => rows.map(r => [r.children[5].className === 'yes' || r.children[6].className === 'yes', "
        "r.children[8].textContent])")
    assert any(made for made, _ in cells) and any(not made for made, _ in cells)
    assert all((checks == "–") == (not made) for made, checks in cells)


@pytest.mark.parametrize("path", ["index.html", "site/recipients.html", "site/variants.html"])
def test_on_a_phone_the_page_does_not_scroll_sideways(browser: Any, tiny_run: Path, path: str) -> None:
    """390 px wide: wide tables scroll within themselves, the page itself fits the screen."""
    with watched_page(browser.new_context(viewport={"width": 390, "height": 844})) as phone:
        phone.goto((tiny_run / path).as_uri())
        phone.wait_for_load_state("load")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        assert phone.errors == []


def test_thirty_thousand_recipients_stay_responsive(page: Any, tmp_path: Path) -> None:
    """30,000 rows: the table shows 100 at a time, and filtering plus searching take well under a second."""
    from dataclasses import replace

    from test_site import make_site_data, write_fake_run

    from pipeline.models import Contact, Segment, Selection

    site = make_site_data()
    base_selection: Selection = site.selections[1]
    base_contact: Contact = site.data.contacts["P002"]
    contacts = dict(site.data.contacts)
    selections = list(site.selections)
    rendered = dict(site.rendered)
    for n in range(30_000 - len(selections)):
        contact_id = f"X{n:05d}"
        contacts[contact_id] = replace(base_contact, contact_id=contact_id, first_name=f"Naam{n}")
        selections.append(replace(base_selection, contact_id=contact_id, segment=Segment("ABCD"[n % 4])))
    site = replace(site, selections=selections, data=replace(site.data, contacts=contacts), rendered=rendered)
    started = time.perf_counter()
    write_fake_run(tmp_path, site)
    written = time.perf_counter() - started
    assert written < 10

    page.goto((tmp_path / "site" / "recipients.html").as_uri())
    page.wait_for_selector("#rows tr")
    assert page.locator("#rows tr").count() == 100
    assert "30.000 ontvangers" in page.inner_text("#status")
    started = time.perf_counter()
    page.fill("#f-search", "naam2999")  # Naam2999 and Naam29990 to Naam29993
    page.wait_for_function("() => document.querySelector('#status').textContent.startsWith('5 van')")
    page.select_option("#f-segment", "B")  # of those, only Naam29993
    page.wait_for_function("() => document.querySelector('#status').textContent.startsWith('1 van')")
    assert time.perf_counter() - started < 1.5
    assert page.locator("#rows tr td a").all_inner_texts() == ["Naam29993 Smit"]
    assert page.errors == []


def test_the_site_keeps_to_the_preview_servers_policy(page: Any, tiny_run: Path) -> None:
    """Served by `windstil preview` (CSP headers), every page works and the e-mails show in their frames."""
    import threading

    from pipeline.preview import make_server

    server = make_server(tiny_run, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        for path in ("", "site/recipients.html", "site/variants.html", "reports/segments.html"):
            page.goto(base + path)
            assert page.title()
        page.goto(base + "site/recipients.html#outcome=newsletter")
        page.wait_for_selector("#rows tr td a")
        contact_id = page.locator("#rows tr").first.get_attribute("data-id")
        page.goto(base + f"site/recipient.html#{contact_id}")
        page.wait_for_selector("#newsletter iframe.mail")
        mail = page.frame_locator("#newsletter iframe.mail").locator("body")
        assert "Polderlicht IT" in mail.inner_text()
        text = page.frame_locator("#newsletter iframe.text").locator("body")
        assert "afmelden" in text.inner_text().lower() or "unsubscribe" in text.inner_text().lower()
    finally:
        server.shutdown()
        server.server_close()
    assert page.errors == []
