"""The endpoint faces the internet: arbitrary requests never break it, record nothing and redirect nowhere.

Hypothesis throws paths, methods, tokens (valid, altered, foreign, random), bodies and headers
at the ASGI app (Starlette's TestClient; the behaviour tests talk to the real process). For
every request: no 5xx, no record unless the token is one we signed, nothing from the request
echoed unescaped, and a redirect only ever to an item's own URL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import write_tiny_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from pipeline.config import load_settings
from pipeline.content import load_content
from pipeline.render.formatting import with_utm
from pipeline.tracking import make_click_token
from pipeline.unsubscribe import make_token
from pipeline.web.app import Endpoint, create_app

SECRET = b"property-test-secret-0123456789abcdef"
RUN_ID = "2026-11-30"
TRACKING = "tracking: {clicks: true, url: https://www.polderlicht-it.nl/klik}\n"


class Target:
    def __init__(self, root: Path) -> None:
        self.settings = load_settings(root)
        items, _ = load_content(self.settings.paths.content, self.settings.paths.root)
        utm = (("utm_source", "newsletter"), ("utm_medium", "email"), ("utm_campaign", RUN_ID))
        self.item_urls = {with_utm(item.url, utm) for item in items.values() if item.url}
        self.item_ids = sorted(items)
        self.unsubscribe = [make_token(SECRET, "P001", "a.jansen@lindehof.nl", "newsletter"),
                            make_token(SECRET, "P007", "emma.clarke@harbourlogistics.com", "alerts")]
        self.clicks = [make_click_token(SECRET, "P005", RUN_ID, item) for item in self.item_ids[:3]]
        self.valid = set(self.unsubscribe) | set(self.clicks)
        self.db = self.settings.paths.state

    def records(self) -> int:
        if not self.db.exists():
            return 0
        with sqlite3.connect(self.db) as conn:
            return int(conn.execute("SELECT count(*) FROM feedback").fetchone()[0])


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Target, TestClient]]:
    root = write_tiny_project(tmp_path_factory.mktemp("props") / "project")
    with (root / "settings.yaml").open("a", encoding="utf-8") as handle:
        handle.write(TRACKING)
    found = Target(root)
    with TestClient(create_app(Endpoint(found.settings, SECRET)), raise_server_exceptions=True) as client:
        yield found, client


HOSTILE = st.sampled_from(["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)",
                           "https://evil.example/", "//evil.example", "%0d%0aSet-Cookie:x=1", "../../etc/passwd",
                           "\u202e", "\x00", "'", "A" * 3000])


def tokens(target: Target) -> st.SearchStrategy[str]:
    valid = st.sampled_from(sorted(target.valid))
    altered = st.tuples(valid, st.integers(0, 60), st.characters(codec="ascii")).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + 1 :]
    )
    foreign = st.sampled_from([make_token(b"other-secret-0123456789", "P001", "a.jansen@lindehof.nl", "newsletter"),
                               make_click_token(b"other-secret-0123456789", "P005", RUN_ID, "x"),
                               make_token(SECRET, "P001", "evil@evil.example", "vip")])
    return st.one_of(valid, altered, foreign, HOSTILE, st.text(max_size=200))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_request_breaks_the_endpoint(target: tuple[Target, TestClient], data: st.DataObject) -> None:
    """Whatever arrives: no 5xx, no record from a bad token, no unescaped echo, no foreign redirect."""
    found, client = target
    method = data.draw(st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"]))
    path = data.draw(st.one_of(st.sampled_from(["/afmelden", "/klik", "/healthz", "/", "/afmelden/", "/KLIK"]),
                               HOSTILE.map(lambda p: "/" + quote(p, safe="")),
                               st.text(max_size=40).map(lambda p: "/" + quote(p, safe="/"))))
    token = data.draw(tokens(found))
    extra = data.draw(st.dictionaries(st.sampled_from(["t", "u", "url", "next", "redirect"]), HOSTILE, max_size=2))
    body = data.draw(st.one_of(st.just(b"List-Unsubscribe=One-Click"), st.binary(max_size=2000),
                               HOSTILE.map(str.encode)))
    names = ["User-Agent", "Referer", "Host", "X-Forwarded-For", "Content-Type", "Cookie", "Accept-Language"]
    headers = data.draw(st.dictionaries(
        st.sampled_from(names), st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
        max_size=3))
    params = {**extra, "t": token} if data.draw(st.booleans()) else {"t": token, **extra}
    before = found.records()
    response = client.request(method, path, params=params, content=body, headers=headers, follow_redirects=False)
    assert response.status_code < 500, (method, path, token)
    assert response.headers["x-content-type-options"] == "nosniff"
    if params["t"] not in found.valid:
        assert found.records() == before, (method, path, params)
    text = response.text
    assert "<script>" not in text and "onerror=alert" not in text and "\x00" not in text
    if "location" in response.headers:
        assert response.status_code == 302
        assert response.headers["location"] in found.item_urls
        assert params["t"] in found.clicks


def test_new_items_and_contacts_are_found_without_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The endpoint runs for months: an item or contact added since it started is read on first use."""
    import pipeline.web.app as web

    root = write_tiny_project(tmp_path / "project")
    endpoint = Endpoint(load_settings(root), SECRET)
    assert endpoint.item_url(RUN_ID, "nl/nieuw") is None
    assert endpoint.language("P099") is None
    (root / "content" / "nl" / "nieuw.md").write_text(
        "---\ntitle: Nieuw\ntype: article\nlanguage: nl\npublished: 2026-12-01\n"
        "url: https://www.polderlicht-it.nl/nieuw\n---\nTekst.\n", encoding="utf-8")
    with (root / "data" / "contacts.csv").open("a", encoding="utf-8") as handle:
        handle.write("P099;C004;Amy;Lee;amy@harbourlogistics.com;;;;en;yes;no;\n")
    assert endpoint.item_url(RUN_ID, "nl/nieuw") is None  # read again at most once a minute
    monkeypatch.setattr(web, "RELOAD_SECONDS", 0.0)
    assert endpoint.item_url(RUN_ID, "nl/nieuw") == (
        "https://www.polderlicht-it.nl/nieuw?utm_source=newsletter&utm_medium=email&utm_campaign=2026-11-30"
    )
    assert endpoint.language("P099") == "en"
