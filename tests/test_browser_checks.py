"""The recipient page's dark, images-off and inbox views, and axe-core on the site and the e-mails.

Real Chromium (Debian's) through Playwright; the site served by `windstil preview`'s server,
as a reviewer opens it: only then may the page restyle the message in its frame.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browsing import CHROMIUM, SKIP_REASON, chromium, watched_page

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
ALT = "Voorbeeld van een valse factuur"
PNG = bytes.fromhex(  # a 1x1 transparent PNG
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63000100000500010d0a2db4"
    "0000000049454e44ae426082")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=SKIP_REASON),
]

playwright_api = pytest.importorskip("playwright.sync_api")
axe_api = pytest.importorskip("axe_playwright_python.sync_playwright")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(playwright_api) as instance:
        yield instance


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    # The content images come from the company's site: answered here, the tests stay offline.
    context.route("https://www.polderlicht-it.nl/**",
                  lambda route: route.fulfill(status=200, content_type="image/png", body=PNG))
    with watched_page(context) as tab:
        yield tab


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny project's run, its alert item showing an image with alt text and one without."""
    from conftest import AS_OF, write_tiny_project

    from pipeline.run import run_batch

    root = write_tiny_project(tmp_path_factory.mktemp("tiny"))
    item = root / "content" / "nl" / "phishing-golf.md"
    item.write_text(item.read_text(encoding="utf-8")
                    + f"\n![{ALT}](https://www.polderlicht-it.nl/img/factuur.png)\n"
                    + "\n![](https://www.polderlicht-it.nl/img/logo.png)\n", encoding="utf-8")
    return run_batch(root, as_of=AS_OF, jobs=1).folder


@pytest.fixture(scope="module")
def served(run_folder: Path) -> Iterator[str]:
    from pipeline.preview import make_server

    server = make_server(run_folder, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _open_alert(page: Any, served: str) -> Any:
    page.goto(served + "site/recipient.html#P001")
    page.wait_for_selector("#alert iframe.mail")
    frame = page.frame_locator("#alert iframe.mail")
    frame.locator("body").wait_for()
    return frame


def _choose(page: Any, view: str) -> None:
    page.click(f'#alert .views button[data-view="{view}"]')
    page.wait_for_function(
        "view => { const f = document.querySelector('#alert iframe.mail');"
        " return f.getAttribute('data-view') === view && document.querySelector('#alert .view-note') !== null"
        " && (view === 'light' || view === 'invert' || document.querySelector('#alert .view-note').textContent); }",
        arg=view,
    )


def test_dark_view_applies_the_messages_own_dark_styles(page: Any, served: str) -> None:
    """"Donker (eigen stijlen)": the message's prefers-color-scheme rules apply, as in Apple Mail."""
    frame = _open_alert(page, served)
    light = frame.locator(".ws-sec").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert light == "rgb(255, 255, 255)"
    _choose(page, "dark")
    # The frame restyles after the view is chosen: wait for it (Playwright retries to_have_css).
    playwright_api.expect(frame.locator(".ws-sec").first).to_have_css("background-color", "rgb(24, 34, 45)")
    assert frame.locator(".ws-text div").nth(1).evaluate("e => getComputedStyle(e).color") == "rgb(228, 233, 239)"
    assert frame.locator("body").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(15, 23, 32)"
    assert "donkere stijlen van het bericht" in page.locator("#alert .view-note").inner_text()
    _choose(page, "light")  # back to the message as sent
    playwright_api.expect(frame.locator(".ws-sec").first).to_have_css("background-color", light)
    assert page.errors == []


def test_inverted_view_inverts_the_whole_message(page: Any, served: str) -> None:
    """"Donker (omgekeerd)": the frame is inverted, as the Gmail app and Outlook do."""
    _open_alert(page, served)
    iframe = page.locator("#alert iframe.mail")
    assert iframe.evaluate("e => getComputedStyle(e).filter") == "none"
    _choose(page, "invert")
    assert iframe.evaluate("e => getComputedStyle(e).filter") == "invert(1) hue-rotate(180deg)"
    assert page.errors == []


def test_images_off_view_shows_alt_text_in_place_of_each_image(page: Any, served: str) -> None:
    """"Afbeeldingen uit": each image is replaced by its alt text; one without alt shows that it has none."""
    frame = _open_alert(page, served)
    assert frame.locator("img").count() == 2
    _choose(page, "noimages")
    assert frame.locator("img").count() == 0
    boxes = frame.locator("[data-windstil-alt]")
    assert boxes.count() == 2
    assert boxes.nth(0).inner_text() == ALT
    assert boxes.nth(0).evaluate("e => getComputedStyle(e).display") == "inline-block"
    assert boxes.nth(1).evaluate("e => getComputedStyle(e).display") == "none"  # alt="": nothing shown
    assert "2 afbeeldingen vervangen" in page.locator("#alert .view-note").inner_text()
    # The image without meaningful alt text is also a finding, with what to fix.
    finding = page.locator('#alert li.finding[data-check="image_alt"]')
    assert finding.count() == 1
    assert "Wat te doen: Geef de afbeelding een alt-tekst" in finding.inner_text()
    assert page.errors == []


def test_inbox_line_is_cut_per_client(page: Any, served: str, run_folder: Path) -> None:
    """The inbox line shows sender, subject and preheader, cut where Gmail, Outlook and an iPhone cut them."""
    _open_alert(page, served)
    lines = page.locator("#newsletter .inbox-line")
    assert lines.count() == 3
    subject = page.locator("#newsletter dl.facts dd").first.inner_text()
    limits = {"Gmail (desktop)": 70, "Outlook (Windows)": 55, "iPhone (Mail)": 35}
    for n in range(3):
        line = lines.nth(n)
        client = line.get_attribute("data-client")
        assert line.locator(".from").inner_text() == "Polderlicht IT"
        shown = line.locator(".subject").inner_text()
        assert len(shown) <= limits[client]
        assert shown == subject or (shown.endswith("…") and subject.startswith(shown[:-1].rstrip()))
    iphone = page.locator('#newsletter .inbox-line[data-client="iPhone (Mail)"] .subject').inner_text()
    assert iphone.endswith("…")  # the tiny project's subjects are longer than 35 characters
    assert page.errors == []


def _violations(page: Any) -> list[str]:
    results = axe_api.Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. {v['nodes'][0]['target']})"
            for v in results.response["violations"]]


@pytest.mark.parametrize("path", ["", "site/recipients.html", "site/recipient.html#P001", "site/variants.html",
                                  "emails/P001/newsletter.html", "emails/P001/alert.html"])
def test_no_wcag_21_aa_violation(page: Any, run_folder: Path, path: str) -> None:
    """axe-core finds no WCAG 2.1 A/AA violation on the review site's pages, a newsletter and an alert."""
    page.goto((run_folder / path.split("#")[0]).as_uri() + ("#" + path.split("#")[1] if "#" in path else ""))
    if "recipient" in path:
        page.wait_for_selector("#rows tr, #newsletter .checkbox")
    assert _violations(page) == []


def test_axe_finds_what_it_should(page: Any, tmp_path: Path) -> None:
    """The check above can fail: axe (bundled, offline) reports a page without lang and with grey-on-white text."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!doctype html><html><head><title>x</title></head><body><main>'
                   '<p style="color:#cccccc;background:#ffffff">Lichtgrijze tekst</p></main></body></html>',
                   encoding="utf-8")
    page.goto(bad.as_uri())
    found = {v.split(":")[0] for v in _violations(page)}
    assert {"html-has-lang", "color-contrast"} <= found
