"""`windstil serve` as a real server process: one-click unsubscribe, click redirects, /healthz.

One project is run and approved once for the module, with click tracking on; `windstil serve`
is started as its own process on a free port and spoken to over HTTP, the way a mail client,
a person's browser and a link scanner reach it. The tests share that server and its state
and run in file order: the send test counts on the unsubscribes recorded before it.
"""

from __future__ import annotations

import csv
import email
import email.policy
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest
from click.testing import CliRunner
from conftest import write_tiny_project
from smtp_server import smtp_server

from pipeline.cli import cli
from pipeline.tracking import make_click_token
from pipeline.unsubscribe import make_token

SECRET = "serve-test-secret-0123456789abcdef"
RUN_ID = "2026-11-30"
NEXT_RUN = "2026-12-31"
TRACKING = "tracking: {clicks: true, url: https://www.polderlicht-it.nl/klik}\n"
WINDSTIL = [sys.executable, "-m", "pipeline"]


def invoke(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--project", str(project), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    project: Path
    base: str
    process: subprocess.Popen[bytes]

    def local(self, link: str) -> str:
        """Return the link with the company's host replaced by the test server (the proxy's job)."""
        parts = urlsplit(link)
        return f"{self.base}{parts.path}?{parts.query}"

    def state_rows(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.project / "output" / "state.sqlite") as conn:
            return conn.execute(sql, params).fetchall()


def start_server(project: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [*WINDSTIL, "--project", str(project), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited {process.returncode}: {process.stderr.read().decode()}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("serve did not answer /healthz within 20 s")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    project = write_tiny_project(tmp_path_factory.mktemp("serve") / "project")
    with (project / "settings.yaml").open("a", encoding="utf-8") as handle:
        handle.write(TRACKING)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WINDSTIL_SECRET", SECRET)
        code, out, err = invoke(project, "run", "--as-of", RUN_ID, "--jobs", "1")
        assert code == 0, out + err
        code, out, err = invoke(project, "approve", RUN_ID)
        assert code == 0, out + err
    env = {**os.environ, "WINDSTIL_SECRET": SECRET}
    process, base = start_server(project, env)
    try:
        yield Served(project, base, process)
    finally:
        process.terminate()
        process.wait(timeout=10)


def eml(project: Path, contact_id: str, kind: str = "newsletter") -> email.message.EmailMessage:
    raw = (project / "output" / RUN_ID / "emails" / contact_id / f"{kind}.eml").read_bytes()
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def unsubscribe_link(project: Path, contact_id: str, kind: str = "newsletter") -> str:
    header = str(eml(project, contact_id, kind)["List-Unsubscribe"])
    return header.split("<", 1)[1].split(">", 1)[0]


def click_links(project: Path, contact_id: str) -> list[str]:
    html = (project / "output" / RUN_ID / "emails" / contact_id / "newsletter.html").read_text(encoding="utf-8")
    return list(dict.fromkeys(re.findall(r'href="(https://www\.polderlicht-it\.nl/klik\?t=[^"]+)"', html)))


def unsubscribes(served: Served, contact_id: str) -> int:
    return len(served.state_rows("SELECT 1 FROM feedback WHERE kind = 'unsubscribe' AND contact_id = ?", contact_id))


def test_healthz_and_security_headers(served: Served) -> None:
    """/healthz answers ok, and every answer (errors too) carries the security headers."""
    ok = httpx.get(f"{served.base}/healthz")
    missing = httpx.get(f"{served.base}/nothing-here")
    assert (ok.status_code, ok.text) == (200, "ok\n")
    assert missing.status_code == 404
    for response in (ok, missing):
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "server" not in response.headers


def test_get_shows_a_page_and_records_nothing_then_post_records_once(served: Served) -> None:
    """GET confirms in the contact's language and records nothing; POST unsubscribes; again is a no-op."""
    link = served.local(unsubscribe_link(served.project, "P001"))
    page = httpx.get(link)
    assert page.status_code == 200
    assert '<html lang="nl">' in page.text and "Ja, meld mij af" in page.text
    assert "a.jansen@lindehof.nl" in page.text and "de nieuwsbrief" in page.text
    assert unsubscribes(served, "P001") == 0
    assert served.state_rows("SELECT 1 FROM suppressions WHERE email = 'a.jansen@lindehof.nl'") == []

    # The page's own button: a form POST to the same link.
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action is not None
    first = httpx.post(link, data={"List-Unsubscribe": "One-Click"})
    assert first.status_code == 200 and "U bent afgemeld" in first.text
    assert "U was al afgemeld" not in first.text
    again = httpx.post(link, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200 and "U was al afgemeld" in again.text
    assert unsubscribes(served, "P001") == 1
    rows = served.state_rows("SELECT reason, source FROM suppressions WHERE email = 'a.jansen@lindehof.nl'")
    assert rows == [("unsubscribed (newsletter) by P001", "serve")]


def test_rfc8058_one_click_body_in_english(served: Served) -> None:
    """The mail client's one-click POST (RFC 8058 body) unsubscribes; the page is in English for an English contact."""
    link = served.local(unsubscribe_link(served.project, "P007"))
    assert '<html lang="en">' in httpx.get(link).text
    response = httpx.post(
        link,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert "You have been unsubscribed" in response.text and '<html lang="en">' in response.text
    assert unsubscribes(served, "P007") == 1
    assert served.state_rows("SELECT 1 FROM suppressions WHERE email = 'emma.clarke@harbourlogistics.com'")


def test_forged_damaged_and_other_list_tokens(served: Served) -> None:
    """A forged or damaged token is a 400 that records nothing; each list's token stands for its own list only."""
    link = served.local(unsubscribe_link(served.project, "P002"))
    token = parse_qs(urlsplit(link).query)["t"][0]
    path = urlsplit(link).path
    before = served.state_rows("SELECT count(*) FROM feedback")
    forged = make_token(b"another-secret-0123456789abcdef", "P002", "someone@else.nl", "newsletter")
    damaged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    foreign_list = make_token(SECRET.encode(), "P002", "p.smit@lindehof.nl", "vip-list")
    for bad in (forged, damaged, token.replace(".", ""), "", "<script>alert(1)</script>", foreign_list):
        for method in ("GET", "POST"):
            response = httpx.request(method, f"{served.base}{path}", params={"t": bad})
            assert response.status_code == 400, (method, bad)
            assert "<script>" not in response.text
            assert "Deze link werkt niet" in response.text and "This link does not work" in response.text
    assert served.state_rows("SELECT count(*) FROM feedback") == before
    # The alerts token of a contact unsubscribes from alerts, recorded apart from the newsletter.
    alerts = make_token(SECRET.encode(), "P002", "p.smit@lindehof.nl", "alerts")
    response = httpx.post(f"{served.base}{path}", params={"t": alerts}, content=b"List-Unsubscribe=One-Click")
    assert response.status_code == 200 and "de e-mailalerts" in response.text
    assert served.state_rows("SELECT detail FROM feedback WHERE kind = 'unsubscribe' AND contact_id = 'P002'") == [
        ("alerts",)
    ]


def test_click_redirects_to_the_item_url_with_utm(served: Served) -> None:
    """A tracked link redirects (302) to the item's own URL with the run's UTM; a tampered one is a 400."""
    links = click_links(served.project, "P005")
    assert links, "click tracking is on: the newsletter's item links go through the click path"
    html = (served.project / "output" / RUN_ID / "emails" / "P005" / "newsletter.html").read_text(encoding="utf-8")
    assert "utm_campaign" not in " ".join(links)  # the UTM is on the final URL, not on the tracked link
    response = httpx.get(served.local(links[0]), headers={"User-Agent": "Mozilla/5.0 (Windows NT 10.0) Firefox/133"})
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("https://www.polderlicht-it.nl/")
    assert f"utm_campaign={RUN_ID}" in location and "utm_source=newsletter" in location
    rows = served.state_rows(
        "SELECT contact_id, run_id, item_id, automated FROM feedback WHERE kind = 'click' AND contact_id = 'P005'"
    )
    assert len(rows) == 1 and rows[0][:2] == ("P005", RUN_ID) and rows[0][3] == 0
    assert html.count("/klik?t=") >= 2  # title and button of each item

    token = parse_qs(urlsplit(links[0]).query)["t"][0]
    tampered = httpx.get(f"{served.base}/klik", params={"t": token[:-2] + "xx"})
    assert tampered.status_code == 400 and "location" not in tampered.headers
    # A valid signature over an item that does not exist redirects nowhere.
    unknown = make_click_token(SECRET.encode(), "P005", RUN_ID, "../../evil.example")
    assert httpx.get(f"{served.base}/klik", params={"t": unknown}).status_code == 404
    assert len(served.state_rows("SELECT 1 FROM feedback WHERE kind = 'click' AND contact_id = 'P005'")) == 1


def test_scanner_clicks_are_kept_and_marked_automated(served: Served) -> None:
    """A scanner's user agent, or every link of a message opened at once, marks the clicks automated."""
    links = click_links(served.project, "P001")
    assert len(links) >= 2
    for link in links:
        assert httpx.get(served.local(link), headers={"User-Agent": "Mozilla/5.0"}).status_code == 302
    marks = served.state_rows("SELECT automated FROM feedback WHERE kind = 'click' AND contact_id = 'P001'")
    assert marks == [(1,)] * len(links)
    assert httpx.get(served.local(links[0]), headers={"User-Agent": "Barracuda Sentinel (EE)"}).status_code == 302
    assert served.state_rows(
        "SELECT automated FROM feedback WHERE kind = 'click' AND contact_id = 'P001' ORDER BY id DESC LIMIT 1"
    ) == [(1,)]


def test_send_skips_the_unsubscribed_contact(served: Served) -> None:
    """`windstil send` checks right before each message: the contact who unsubscribed here gets nothing."""
    link = served.local(unsubscribe_link(served.project, "P001"))
    assert httpx.post(link, content=b"List-Unsubscribe=One-Click").status_code == 200
    with smtp_server() as (server, recorder):
        with (served.project / "settings.yaml").open("a", encoding="utf-8") as handle:
            handle.write(f"delivery: {{host: 127.0.0.1, port: {server.port}, security: none, auth: none, "
                         "per_minute: null, per_day: null}\n")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("WINDSTIL_SECRET", SECRET)
            code, out, err = invoke(served.project, "send", RUN_ID)
    assert code == 0, out + err
    received = {r.recipient.lower() for r in recorder.received}
    assert "f.elamrani@debrug.nl" in received
    # Unsubscribed here by the button (P001), the one-click POST (P007) and the alerts link (P002).
    assert not received & {"a.jansen@lindehof.nl", "emma.clarke@harbourlogistics.com", "p.smit@lindehof.nl"}
    statuses = dict(served.state_rows("SELECT contact_id || '/' || kind, status FROM outbox"))
    assert statuses["P001/newsletter"] == "skipped"
    assert statuses["P005/newsletter"] == "sent"

    # A click within 30 seconds of delivery is a mail gateway's scan: kept, marked automated.
    link = click_links(served.project, "P005")[-1]
    assert httpx.get(served.local(link), headers={"User-Agent": "Mozilla/5.0"}).status_code == 302
    assert served.state_rows(
        "SELECT automated FROM feedback WHERE kind = 'click' AND contact_id = 'P005' ORDER BY id DESC LIMIT 1"
    ) == [(1,)]


def test_next_run_lists_the_unsubscribed_contact_as_suppressed(served: Served) -> None:
    """What the endpoint recorded holds in the next run: the unsubscribed contact gets no newsletter."""
    link = served.local(unsubscribe_link(served.project, "P001"))
    assert httpx.post(link, content=b"List-Unsubscribe=One-Click").status_code == 200
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WINDSTIL_SECRET", SECRET)
        code, out, err = invoke(served.project, "run", "--as-of", NEXT_RUN, "--jobs", "1")
    assert code == 0, out + err
    with (served.project / "output" / NEXT_RUN / "recipients.csv").open(encoding="utf-8") as handle:
        rows = {row["contact_id"]: row for row in csv.DictReader(handle)}
    assert rows["P001"]["newsletter"] == "skipped"
    assert "suppressed" in rows["P001"]["reason"].split(";")
    # An unsubscribe from the alerts stops all mail to the address: one message too few rather than one unwanted.
    assert "suppressed" in rows["P002"]["reason"].split(";")
