"""The next run's call lists carry `replied` and `clicked`: what came back changes the next call.

The reply arrives the way it does in production (a mail read by `windstil bounces import`),
the clicks through the endpoint's ASGI app (a person's browser on one contact, a link scanner
on another). The next month's run then lists the customers with those reasons, priority 1
for A and B, and the talking points name the item, the reply and the dates, in the CSV, the
XLSX, the HTML page and the account manager's e-mail.
"""

from __future__ import annotations

import csv
import email
import email.policy
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_tiny_project
from starlette.testclient import TestClient

from pipeline.cli import cli
from pipeline.config import load_settings
from pipeline.web.app import Endpoint, create_app

SECRET = "bounce-test-secret-0123456789abcdef"  # the mailto sample's token is signed with it
RUN_ID = "2026-11-30"
NEXT_RUN = "2026-12-31"
SAMPLES = Path(__file__).parent / "data" / "mail" / "samples"
TRACKING = "tracking: {clicks: true, url: https://www.polderlicht-it.nl/klik}\n"


def invoke(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--project", str(project), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def click(project: Path, contact_id: str, agent: str) -> int:
    """Follow every tracked link of the contact's newsletter once, as `agent`; return how many."""
    html = (project / "output" / RUN_ID / "emails" / contact_id / "newsletter.html").read_text(encoding="utf-8")
    links = list(dict.fromkeys(re.findall(r'href="https://www\.polderlicht-it\.nl(/klik\?t=[^"]+)"', html)))
    settings = load_settings(project)
    with TestClient(create_app(Endpoint(settings, SECRET.encode()))) as client:
        for link in links[:1] if "Mozilla" in agent else links:
            response = client.get(link, headers={"User-Agent": agent}, follow_redirects=False)
            assert response.status_code == 302
    return len(links)


@pytest.fixture(scope="module")
def next_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The next month's run, after the reply was read and the clicks were made (once for the module)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("WINDSTIL_SECRET", SECRET)
        yield _next_run(tmp_path_factory.mktemp("calls-feedback") / "project")


def _next_run(project: Path) -> Path:
    write_tiny_project(project)
    with (project / "settings.yaml").open("a", encoding="utf-8") as handle:
        handle.write(TRACKING)
    for args in (("run", "--as-of", RUN_ID, "--jobs", "1"), ("approve", RUN_ID)):
        code, out, err = invoke(project, *args)
        assert code == 0, out + err
    code, out, _ = invoke(project, "bounces", "import", str(SAMPLES))
    assert code == 0 and "9 new mails" in out and "1 reply" in out
    click(project, "P005", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15")
    click(project, "P001", "Mozilla/5.0 (compatible; Barracuda Sentinel)")  # a scanner: kept, marked automated
    code, out, err = invoke(project, "run", "--as-of", NEXT_RUN, "--jobs", "1")
    assert code == 0, out + err
    return project / "output" / NEXT_RUN


def rows_by_customer(run: Path) -> dict[str, dict[str, str]]:
    with (run / "calls" / "all.csv").open(encoding="utf-8", newline="") as handle:
        return {row["customer_id"]: row for row in csv.DictReader(handle)}


def test_replied_and_clicked_rows_with_talking_points(next_run: Path) -> None:
    """The reply and the person's click are reasons with priority 1 and talking points; the scanner's click is not."""
    rows = rows_by_customer(next_run)
    replied, clicked = rows["C004"], rows["C003"]
    assert "replied" in replied["reasons"].split(";")
    assert replied["priority"] == "1" and replied["segment"] in ("A", "B")
    assert replied["contact_id"] == "P007"
    assert ("Emma Clarke antwoordde op 2 dec 2026: ‘Re: Emma, 2 tips for you: Cloud storage that grows with your "
            "fleet’") in replied["talking_points"]
    assert "clicked" in clicked["reasons"].split(";")
    assert clicked["priority"] == "1" and clicked["segment"] in ("A", "B")
    assert clicked["contact_id"] == "P005"
    assert re.search(r"Fatima El Amrani klikte op \d+ dec 2026 op ‘[^’]+’", clicked["talking_points"])
    assert "clicked" not in rows.get("C001", {}).get("reasons", "").split(";")  # only a scanner clicked there


def test_the_reasons_show_in_xlsx_html_and_the_account_managers_email(next_run: Path) -> None:
    """The same reasons and talking points reach the XLSX, the printable page and the summary e-mail."""
    manager = rows_by_customer(next_run)["C004"]["account_manager_id"]
    html = (next_run / "calls" / f"{manager}.html").read_text(encoding="utf-8")
    assert "Antwoordde op de e-mail" in html and "Emma Clarke antwoordde op 2 dec 2026" in html
    with zipfile.ZipFile(next_run / "calls" / f"{manager}.xlsx") as book:
        strings = book.read("xl/sharedStrings.xml").decode("utf-8") if "xl/sharedStrings.xml" in book.namelist() \
            else "".join(book.read(n).decode("utf-8") for n in book.namelist() if n.startswith("xl/worksheets/"))
    assert "Antwoordde op de e-mail" in strings and "Emma Clarke antwoordde op 2 dec 2026" in strings
    message = email.message_from_bytes((next_run / "calls" / f"{manager}.eml").read_bytes(),
                                       policy=email.policy.default)
    bodies = " ".join(part.get_content() for part in message.walk()  # type: ignore[attr-defined]
                      if part.get_content_type() in ("text/plain", "text/html"))
    assert "Antwoordde op de e-mail" in bodies or "antwoordde op" in bodies
    clicked_manager = rows_by_customer(next_run)["C003"]["account_manager_id"]
    page = (next_run / "calls" / f"{clicked_manager}.html").read_text(encoding="utf-8")
    assert "Klikte in de e-mail" in page


def test_the_overview_shows_what_came_back_since_the_previous_run(next_run: Path) -> None:
    """The review site's overview counts unsubscribes, bounces, replies and people's clicks since the last run."""
    html = (next_run / "index.html").read_text(encoding="utf-8")
    assert "Wat kwam er terug sinds 30 november 2026" in html
    counts = dict(re.findall(r'<tr data-feedback="(\w+)"><td>[^<]+</td><td class="num">(\d+)</td></tr>', html))
    assert counts == {"unsubscribe": "1", "hard_bounce": "3", "soft_bounce": "1", "reply": "1", "auto_reply": "3",
                      "click": "1"}
    assert re.search(r"\d+ klikken van linkscanners \(automatisch\) niet meegeteld", html)
    assert "<strong>Emma Clarke</strong>, 2 december 2026: Re: Emma, 2 tips for you" in html
