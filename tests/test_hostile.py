"""Hostile input through the whole pipeline: markup, template syntax, header injection, bad links, paths.

One hostile copy of the tiny project is run once (module fixture) and every test inspects a
different part of what came out. Whatever a CRM cell or a content item holds, it is shown as
text, never run as code or template, never splits an e-mail header, and never leads a write
out of the run folder.
"""

from __future__ import annotations

import csv
import email
import email.policy
import http.client
import io
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import write_tiny_project
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipeline.cli import cli
from pipeline.config import SAFE_ID
from pipeline.preview import make_server

RUN_ID = "2026-11-30"
SECRET = "hostile-test-secret-0123456789"

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
MUSTACHE = "{{ 7*7 }}"
LOOP = "{% for x in range(3) %}lus{% endfor %}"
STAGE_ONE = "[[ 7*7 ]] [% for x in range(3) %]lus[% endfor %]"  # the templates' compile-time syntax
INJECT = "\r\nBcc: evil@attacker.example"
FORMULA = '=HYPERLINK("http://evil.example","klik")'
BIG = "A" * (1 << 20)


def csv_cell(value: str) -> str:
    """Quote a value as a CSV cell (doubling quotes), the way Excel writes one."""
    return '"' + value.replace('"', '""') + '"'


def hostile_project(root: Path) -> Path:
    """Write the tiny project with hostile values planted in every kind of field."""
    write_tiny_project(root)
    settings = root / "settings.yaml"
    settings.write_text(settings.read_text().replace("max_reject_share: 0.05", "max_reject_share: 0.9"))
    data = root / "data"

    customers = (data / "customers.csv").read_text(encoding="utf-8-sig")
    customers = customers.replace(
        "C001,Zorggroep Lindehof,", f"C001,{csv_cell(FORMULA + ' ' + MUSTACHE + ' ' + SCRIPT + INJECT)},"
    )
    (data / "customers.csv").write_text("\ufeff" + customers, encoding="utf-8", newline="")

    managers = (data / "account_managers.csv").read_text()
    managers = managers.replace("am-jan,Jan de Vries,", f"am-jan,{csv_cell('Jan' + INJECT + ' <b>de Vries</b>')},")
    (data / "account_managers.csv").write_text(managers, newline="")

    contacts = (data / "contacts.csv").read_text()
    contacts = (
        contacts.replace("P001;C001;Anne;Jansen;", f"P001;C001;{csv_cell(SCRIPT + INJECT)};{csv_cell(IMG)};")
        .replace(
            'Directeur bedrijfsvoering;management;;ja;nee;"backup;security"',
            f"{MUSTACHE} {LOOP};management;;ja;nee;{csv_cell('backup;security;<script>tag</script>;' + MUSTACHE)}",
        )
        .replace(
            "P002;C001;Pieter;Smit;",
            f"P002;C001;{csv_cell('Pieter' + chr(10) + 'Bcc: x@y.z')};{csv_cell('Smit' + chr(13) + 'Cc: z@y.z')};",
        )
        .replace("P005;C003;Fatima;", f"P005;C003;{MUSTACHE};")
    )
    extra = [
        "../x;C001;Evil;One;e1@example.nl;;;;;ja;nee;",  # line 13
        "a/b;C001;Evil;Two;e2@example.nl;;;;;ja;nee;",  # 14
        "/etc/passwd;C001;Evil;Three;e3@example.nl;;;;;ja;nee;",  # 15
        f"P020;C001;{BIG};Big;e4@example.nl;;;;;ja;nee;",  # 16
        "P021;C001;Nu\x00l;Byte;e5@example.nl;;;;;ja;nee;",  # 17
        "\ufeffP022;C001;Bom;Midden;e6@example.nl;;;;;ja;nee;",  # 18
        'P023;C001;"Twee\r\nregels\nnaam";X;e7@example.nl;;;;;ja;nee;',  # 19-21
        "P024;C001;;Zonder voornaam;e8@example.nl;;;;;ja;nee;",  # 22
        'P025;C001;"Afgekapt;Hier;e9@example.nl;;;;;ja;nee;',  # 23: cut off mid-quote, no newline
    ]
    (data / "contacts.csv").write_text(contacts + "\n".join(extra), encoding="utf-8", newline="")

    backup = root / "content" / "nl" / "backup-testen.md"
    backup.write_text(
        backup.read_text()
        .replace("title: Back-ups die u echt terugzet", f"title: 'Back-ups {MUSTACHE} {STAGE_ONE} {SCRIPT} {LOOP}'")
        .replace("summary: Drie vragen", f"summary: 'Samenvatting {IMG} {MUSTACHE} Drie vragen")
        .replace("als het erop aankomt.\n", "als het erop aankomt.'\n")
    )
    alert = root / "content" / "nl" / "phishing-golf.md"
    front = alert.read_text().split("---\n")[1]
    alert.write_text(
        "---\n"
        + front.replace("summary: Valse facturen", f"summary: 'Valse {MUSTACHE} facturen").replace(
            "zo herkent u ze.\n", "zo herkent u ze.'\n"
        )
        + "---\n"
        f"Tekst {MUSTACHE} en {LOOP} en {{# commentaar #}} en {STAGE_ONE}.\n\n"
        f'{SCRIPT} <img src=x onerror=alert(6)> <a href="javascript:alert(7)">raw</a>\n\n'
        "[js](javascript:alert(8)) [JS](JaVaScRiPt:alert(9)) [ent](jav&#x09;ascript:alert(10))\n"
        "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) [vb](vbscript:msgbox(1))\n"
        "![img](data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=) [f](file:///etc/passwd) [sp]( javascript:alert(11))\n"
        "[goed](https://www.polderlicht-it.nl/goed) [mail](mailto:info@polderlicht-it.nl)\n"
    )
    (root / "content" / "nl" / "kwaadaardige-url.md").write_text(
        "---\ntitle: Klik hier\ntype: alert\nlanguage: nl\ntags: [security]\nproducts: [security-scan]\n"
        "published: 2026-11-20\nurl: javascript:alert(document.cookie)\nsummary: Niets aan de hand.\n---\nTekst.\n"
    )
    return root


class Elements(HTMLParser):
    """Collect every start tag with its attributes, and the text inside script elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.scripts.append(data)


def elements(path: Path) -> Elements:
    parser = Elements()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def invoke(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--project", str(project), *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The hostile project after one run; yields its run folder."""
    project = hostile_project(tmp_path_factory.mktemp("hostile") / "project")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WINDSTIL_SECRET", SECRET)
        code, output = invoke(project, "run", "--as-of", RUN_ID, "--jobs", "1")
    assert code == 0, output
    yield project / "output" / RUN_ID


def line_of(path: Path, needle: str) -> int:
    """Return the physical line (as an editor counts, CR/LF, CR or LF) on which `needle` starts."""
    text = path.read_bytes().decode("utf-8-sig")
    return len(re.findall(r"\r\n|\r|\n", text[: text.index(needle)])) + 1


def contacts_csv(run: Path) -> Path:
    return run.parent.parent / "data" / "contacts.csv"


def rejects(run: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((run / "rejects.csv").read_text(encoding="utf-8"))))


# --------------------------------------------------------------------------- markup and templates


def test_markup_in_data_and_content_never_becomes_markup(hostile: Path) -> None:
    """No HTML file of the run (e-mails, site, reports, call lists) gains a script, handler or planted image."""
    pages = sorted(hostile.rglob("*.html"))
    assert len(pages) >= 10
    for page in pages:
        parsed = elements(page)
        handlers = [(tag, name) for tag, attrs in parsed.tags for name in attrs if name.startswith("on")]
        assert handlers == [], page
        assert not [tag for tag, attrs in parsed.tags if tag == "img" and attrs.get("src") == "x"], page
        assert not any("alert(" in script for script in parsed.scripts), page
        if "emails" in page.parts:
            assert not [tag for tag, _ in parsed.tags if tag in ("script", "iframe", "object", "embed", "form")]
    newsletter = (hostile / "emails" / "P001" / "newsletter.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in newsletter  # shown, as text
    for data_file in (hostile / "site").rglob("*.js"):
        assert "</script" not in data_file.read_text(encoding="utf-8").lower(), data_file


def test_template_syntax_in_data_and_content_is_never_evaluated(hostile: Path) -> None:
    """`{{ 7*7 }}` and `{% for %}` from names, job titles and content appear literally; 49 never replaces them."""
    emails = hostile / "emails"
    for name in ("newsletter.html", "newsletter.txt", "alert.html", "alert.txt"):
        text = (emails / "P001" / name).read_text()
        assert MUSTACHE in text, name
        assert "luslus" not in text, name
    salutation = (emails / "P005" / "newsletter.txt").read_text()
    assert f"{MUSTACHE}," in salutation or f"{MUSTACHE}\n" in salutation
    assert not re.search(r"\b(Beste|Dear|Hallo|Geachte)\s+49\b", salutation)
    alert_html = (emails / "P001" / "alert.html").read_text()
    assert "{% for x in range(3) %}lus{% endfor %}" in alert_html
    assert "{# commentaar #}" in alert_html
    # (Markdown reads the `*` of two neighbouring 7*7 as emphasis, so the HTML is checked in parts.)
    assert "[% for x in range(3) %]lus[% endfor %]" in alert_html and "[[ 7" in alert_html
    # The text part says the body as the HTML shows it: the emphasis Markdown read is dropped, the rest literal.
    alert_text = (emails / "P001" / "alert.txt").read_text()
    assert "[[ 77 ]] [% for x in range(3) %]lus[% endfor %]" in alert_text and "{# commentaar #}" in alert_text
    assert "Tekst {{ 77 }} en {% for x in range(3) %}lus{% endfor %}" in alert_text
    assert "[[ 7*7 ]]" in (emails / "P001" / "newsletter.html").read_text()
    calls = (hostile / "calls" / "am-jan.html").read_text()
    assert "{% for x in range(3) %}lus{% endfor %}" in calls  # the job title, on the call list
    assert "luslus" not in calls


def test_crlf_in_header_bound_fields_never_adds_a_header(hostile: Path) -> None:
    """CR/LF + `Bcc:` in first, last, company and account manager names stays inside one header value."""
    allowed = {
        "from",
        "reply-to",
        "to",
        "subject",
        "date",
        "message-id",
        "list-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "content-language",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "x-windstil-run",
        "precedence",
        "auto-submitted",
        "x-auto-response-suppress",
    }
    messages = sorted(hostile.rglob("*.eml"))
    assert len(messages) >= 5
    for path in messages:
        raw = path.read_bytes()
        head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
        assert not re.search(rb"(?im)^(bcc|cc):", head), path
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert "Bcc" not in message and "Cc" not in message, path
        assert {k.lower() for k in message} <= allowed, (path, message.keys())
        assert message.defects == [], (path, message.defects)
        assert len(message.get_all("To", [])) == 1
    to = email.message_from_bytes(
        (hostile / "emails" / "P001" / "newsletter.eml").read_bytes(), policy=email.policy.default
    )["To"]
    assert to.addresses[0].addr_spec == "a.jansen@lindehof.nl"
    assert "Bcc: evil@attacker.example" in to.addresses[0].display_name  # kept as text, in the name


@pytest.mark.parametrize(
    ("key", "line"),
    [
        (
            "sender.name",
            'sender: {name: "Polderlicht IT\\r\\nBcc: x@y.z", email: nieuws@polderlicht-it.nl, '
            "reply_to: accountteam@polderlicht-it.nl}",
        ),
        (
            "sender.reply_to",
            'sender: {name: "Polderlicht IT", email: nieuws@polderlicht-it.nl, '
            'reply_to: "a@polderlicht-it.nl\\r\\nBcc: x@y.z"}',
        ),
        (
            "sender.email",
            'sender: {name: "Polderlicht IT", email: "nieuws@polderlicht-it.nl\\nBcc: x@y.z", '
            "reply_to: accountteam@polderlicht-it.nl}",
        ),
    ],
)
def test_crlf_in_settings_header_fields_is_refused(
    tiny_project: Path, monkeypatch: pytest.MonkeyPatch, key: str, line: str
) -> None:
    """A sender name or address with CR/LF in settings.yaml is refused (exit 2) before anything is written."""
    monkeypatch.setenv("WINDSTIL_SECRET", SECRET)
    settings = tiny_project / "settings.yaml"
    text = settings.read_text()
    settings.write_text("\n".join(line if row.startswith("sender:") else row for row in text.splitlines()) + "\n")
    code, output = invoke(tiny_project, "run", "--as-of", RUN_ID)
    assert code == 2
    assert f"settings.yaml:2: {key}:" in output
    assert not (tiny_project / "output" / RUN_ID).exists()


def test_company_name_with_crlf_in_settings_is_refused(tiny_project: Path) -> None:
    """The company name (in the footer and the From of call-list mail) must be one line."""
    settings = tiny_project / "settings.yaml"
    settings.write_text(settings.read_text().replace("  name: Polderlicht IT B.V.", '  name: "Polder\\nBcc: x@y.z"'))
    code, output = invoke(tiny_project, "validate")
    assert code == 2
    assert "company.name: must be a single line" in output


# --------------------------------------------------------------------------- links


DANGEROUS = re.compile(r"^(javascript|data|vbscript|file):", re.IGNORECASE)


def test_dangerous_links_in_content_are_removed(hostile: Path) -> None:
    """javascript:, data:, vbscript: and file: links in content Markdown never become an href or src."""
    for page in sorted((hostile / "emails").rglob("*.html")):
        for tag, attrs in elements(page).tags:
            for name in ("href", "src", "action", "background", "formaction", "xlink:href"):
                value = re.sub(r"[\x00-\x20]", "", attrs.get(name, ""))
                assert not DANGEROUS.match(value), (page, tag, name, value)
    links = [a.get("href", "") for tag, a in elements(hostile / "emails" / "P001" / "alert.html").tags if tag == "a"]
    assert any(link.startswith("https://www.polderlicht-it.nl/goed") for link in links)
    assert "mailto:info@polderlicht-it.nl" in links


def test_a_content_item_with_a_javascript_url_is_left_out(hostile: Path) -> None:
    """An item whose front-matter url is javascript: is refused with its path and never mailed."""
    manifest = (hostile / "manifest.json").read_text()
    assert "content/nl/kwaadaardige-url.md" in manifest
    assert "must be an http:// or https:// URL" in manifest
    for path in (hostile / "emails").rglob("*"):
        if path.is_file():
            assert b"Klik hier" not in path.read_bytes()
            assert b"document.cookie" not in path.read_bytes()


# --------------------------------------------------------------------------- rows


def test_unsafe_ids_are_rejected_and_never_become_paths(hostile: Path) -> None:
    """contact_id `../x`, `a/b` and `/etc/passwd` are rejected as unsafe ids; every e-mail folder is a safe id."""
    found = {(int(r["line"]), r["value"]) for r in rejects(hostile) if r["reason"] == "unsafe id"}
    source = contacts_csv(hostile)
    assert {(line_of(source, f"\n{v};") + 1, v) for v in ("../x", "a/b", "/etc/passwd")} <= found
    folders = [p.name for p in (hostile / "emails").iterdir()]
    assert folders and all(SAFE_ID.fullmatch(name) for name in folders)
    assert not (hostile / "x").exists() and not (hostile / "emails" / "a").exists()
    assert not [p for p in hostile.parent.parent.rglob("*") if p.name in ("x", "b", "passwd")]


def test_oversized_nul_bom_multiline_and_cut_off_rows(hostile: Path) -> None:
    """A 1 MB name is rejected (value too long), a mid-file BOM makes an unsafe id, line numbers stay physical."""
    by_line = {int(r["line"]): r for r in rejects(hostile) if r["file"] == "contacts.csv"}
    source = contacts_csv(hostile)
    big, bom = line_of(source, "P020;"), line_of(source, "\ufeffP022;")
    assert by_line[big]["reason"] == "value too long" and by_line[big]["column"] == "first_name"
    assert len(by_line[big]["value"]) <= 200
    assert by_line[bom]["reason"] == "unsafe id" and by_line[bom]["value"] == "\ufeffP022"
    # P023's quoted name holds two line breaks (CR/LF and LF), so the next row starts three lines on.
    multi = line_of(source, "P023;")
    assert by_line[multi + 3]["reason"] == "missing required value" and by_line[multi + 3]["column"] == "first_name"
    assert multi + 3 == line_of(source, "P024;")
    assert by_line[line_of(source, "P025;")]["reason"].startswith("row cut off")
    assert (hostile / "rejects.csv").stat().st_size < 10_000
    recipients = (hostile / "recipients.csv").read_text()
    assert "P021" in recipients and "P023" in recipients  # NUL byte and line breaks: read, cleaned
    assert "P025" not in recipients and "P020" not in recipients


def test_formulas_in_names_are_defused_in_every_spreadsheet(hostile: Path) -> None:
    """A company named `=HYPERLINK(...)` is text in segments.csv, the call-list CSVs and the .xlsx."""
    for name in ("segments.csv", "calls/all.csv", "calls/am-jan.csv", "rejects.csv"):
        for row in csv.reader(io.StringIO((hostile / name).read_text(encoding="utf-8"))):
            for cell in row:
                assert not cell.startswith(("=", "@")), (name, cell)
    assert "'=HYPERLINK" in (hostile / "segments.csv").read_text()
    book = openpyxl.load_workbook(hostile / "calls" / "am-jan.xlsx")
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert any(isinstance(c.value, str) and c.value.startswith("'=HYPERLINK") for c in cells)


# --------------------------------------------------------------------------- paths and symlinks


def test_settings_paths_outside_the_project_are_refused(tiny_project: Path, tmp_path: Path) -> None:
    """A relative path in settings.yaml that climbs out of the project is refused; an absolute one is allowed."""
    settings = tiny_project / "settings.yaml"
    original = settings.read_text()
    settings.write_text(original.replace("output: output", "output: ../elsewhere"))
    code, output = invoke(tiny_project, "validate")
    assert code == 2
    assert "paths.output: a relative path must stay inside the project folder" in output
    assert not (tmp_path / "elsewhere").exists()

    shutil.move(tiny_project / "data", tmp_path / "crm-export")
    settings.write_text(original.replace("data: data", f"data: {tmp_path / 'crm-export'}"))
    code, output = invoke(tiny_project, "validate")
    assert "paths.data" not in output
    assert "loaded" in output


def test_a_symlink_inside_the_project_that_leads_out_is_refused(tiny_project: Path, tmp_path: Path) -> None:
    """A relative path that is a symlink to a folder outside the project is refused like `../`."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (tiny_project / "uit").symlink_to(outside)
    settings = tiny_project / "settings.yaml"
    settings.write_text(settings.read_text().replace("output: output", "output: uit"))
    code, output = invoke(tiny_project, "validate")
    assert code == 2
    assert "paths.output: a relative path must stay inside the project folder" in output


@pytest.mark.parametrize("planted", ["run folder", "temporary folder", "old folder"])
def test_a_symlink_planted_in_output_is_never_followed(
    tiny_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: str
) -> None:
    """A symlink at output/<as-of> is refused; at the temp or .old name it is removed, not followed.

    Either way the folder it points to is untouched.
    """
    monkeypatch.setenv("WINDSTIL_SECRET", SECRET)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    output = tiny_project / "output"
    output.mkdir()
    name = {
        "run folder": RUN_ID,
        "temporary folder": f".{RUN_ID}.tmp-{os.getpid()}",
        "old folder": f".{RUN_ID}.old-{os.getpid()}",
    }[planted]
    if planted == "old folder":
        (output / RUN_ID).mkdir()  # a previous run, to be moved aside
    (output / name).symlink_to(outside)
    code, out = invoke(tiny_project, "run", "--as-of", RUN_ID, "--jobs", "1")
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert (outside / "keep.txt").read_text() == "keep"
    if planted == "run folder":
        assert code == 1
        assert "refusing to write through a symbolic link" in out
        assert (output / RUN_ID).is_symlink()
    else:
        assert code == 0, out
        assert not (output / name).is_symlink() and not (output / name).exists()
        assert (output / RUN_ID / "index.html").is_file()


def test_a_symlink_inside_the_previous_run_is_not_followed_when_it_is_replaced(
    tiny_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-running replaces a run folder holding a planted symlink: the link goes, what it points to stays."""
    monkeypatch.setenv("WINDSTIL_SECRET", SECRET)
    assert invoke(tiny_project, "run", "--as-of", RUN_ID, "--jobs", "1")[0] == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    planted = tiny_project / "output" / RUN_ID / "emails" / "P001"
    shutil.rmtree(planted)
    planted.symlink_to(outside)
    (tiny_project / "output" / RUN_ID / "reports" / "segments.html").unlink()
    (tiny_project / "output" / RUN_ID / "reports" / "segments.html").symlink_to(outside / "keep.txt")
    code, out = invoke(tiny_project, "run", "--as-of", RUN_ID, "--jobs", "1")
    assert code == 0, out
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert (outside / "keep.txt").read_text() == "keep"
    assert not planted.is_symlink() and (planted / "newsletter.eml").is_file()


def test_a_symlinked_lock_file_is_not_followed(tiny_project: Path, tmp_path: Path) -> None:
    """A symlink planted as output/.windstil.lock makes the run fail; its target is never created."""
    (tiny_project / "output").mkdir()
    (tiny_project / "output" / ".windstil.lock").symlink_to(tmp_path / "made-by-windstil")
    code, out = invoke(tiny_project, "run", "--as-of", RUN_ID)
    assert code == 1
    assert "cannot create the lock file" in out
    assert not (tmp_path / "made-by-windstil").exists()


# --------------------------------------------------------------------------- preview


@pytest.fixture
def server(hostile: Path) -> Iterator[tuple[str, int]]:
    srv = make_server(hostile, 0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv.server_address[0], srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


def raw_get(address: tuple[str, int], target: str, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """Send a GET with the request target exactly as given (no client-side normalisation)."""
    conn = http.client.HTTPConnection(*address, timeout=5)
    try:
        conn.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host or f"127.0.0.1:{address[1]}")
        conn.endheaders()
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_preview_binds_to_loopback_only(server: tuple[str, int]) -> None:
    """windstil preview listens on 127.0.0.1, never on all interfaces."""
    assert server[0] == "127.0.0.1"


@pytest.mark.parametrize(
    "target",
    [
        "/../settings.yaml",
        "/%2e%2e/settings.yaml",
        "/%2E%2E/%2E%2E/settings.yaml",
        "/emails/../../settings.yaml",
        "/emails/%2e%2e/%2e%2e/state.sqlite",
        "/..%2fstate.sqlite",
        "/..%5cstate.sqlite",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/emails/P001/newsletter.html%00.txt",
        "/../../../../../../etc/passwd",
        "/.windstil.lock",
    ],
)
def test_preview_refuses_traversal(server: tuple[str, int], target: str) -> None:
    """No request leaves the run folder: `..` in any spelling, absolute paths and NUL bytes get 404."""
    status, headers, body = raw_get(server, target)
    assert status == 404, target
    assert b"root:" not in body and b"sender:" not in body and b"SQLite" not in body
    assert "content-security-policy" in headers


def test_preview_serves_with_a_content_security_policy(server: tuple[str, int]) -> None:
    """Pages carry a CSP that forbids inline script; an e-mail is sandboxed and may run no script at all."""
    status, headers, _ = raw_get(server, "/index.html")
    assert status == 200
    site = headers["content-security-policy"]
    assert "script-src 'self'" in site and "unsafe-inline" not in site.split("script-src")[1].split(";")[0]
    assert "object-src 'none'" in site
    status, headers, body = raw_get(server, "/emails/P001/newsletter.html")
    assert status == 200 and b"&lt;script&gt;alert(1)" in body
    mail = headers["content-security-policy"]
    assert mail.startswith("sandbox") and "allow-scripts" not in mail and "script-src 'none'" in mail
    assert headers["x-content-type-options"] == "nosniff"


def test_preview_never_follows_a_symlink_out_of_the_run(hostile: Path, tmp_path: Path) -> None:
    """A symlink planted in the run folder (file or folder) that leads out is served as 404."""
    run = tmp_path / RUN_ID
    shutil.copytree(hostile, run, symlinks=True)
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("do-not-serve")
    (run / "link.txt").symlink_to(secret_file)
    (run / "emails" / "linked").symlink_to(tmp_path)
    srv = make_server(run, 0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        address = (srv.server_address[0], srv.server_address[1])
        for target in ("/link.txt", "/emails/linked/secret.txt"):
            status, _, body = raw_get(address, target)
            assert status == 404, target
            assert b"do-not-serve" not in body
        assert raw_get(address, "/emails/P001/newsletter.html")[0] == 200
    finally:
        srv.shutdown()
        srv.server_close()


def test_preview_refuses_another_host_name(server: tuple[str, int]) -> None:
    """A request for another host name (DNS rebinding) is refused."""
    status, _, _ = raw_get(server, "/index.html", host=f"evil.example:{server[1]}")
    assert status == 421


# --------------------------------------------------------------------------- no data of another customer


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """The tiny project's settings and compiled templates (compiled once, as a run does)."""
    from pipeline.load import load_project
    from pipeline.render.compile import compile_templates

    project = load_project(write_tiny_project(tmp_path_factory.mktemp("markers") / "project"))
    return project, compile_templates(project.settings, project.data.content)


@st.composite
def marked_worlds(draw: st.DrawFn, base: Any) -> Any:
    """A random small dataset whose every customer, contact and order carries its customer's marker."""
    from datetime import timedelta

    from pipeline.models import Contact, Customer, Order

    as_of = date.fromisoformat(RUN_ID)
    customers, contacts, orders = {}, {}, []
    for c in range(draw(st.integers(2, 5))):
        marker = f"MRK{c:02d}X"
        customer_id = f"K{c}"
        customers[customer_id] = Customer(
            customer_id,
            f"Klant {marker}",
            draw(st.sampled_from(sorted(base.account_managers))),
            sector=draw(st.sampled_from(["zorg", "logistiek", ""])),
            language=draw(st.sampled_from(["nl", "en"])),
        )
        for n in range(draw(st.integers(1, 3))):
            contact_id = f"K{c}P{n}"
            contacts[contact_id] = Contact(
                contact_id,
                customer_id,
                draw(st.sampled_from(["Anne", "Bram", "Chris", ""])),
                last_name=f"Persoon {marker}",
                email=f"{contact_id.lower()}@klant{c}.nl",
                email_valid=True,
                job_title=f"Functie {marker}",
                language=draw(st.sampled_from([None, "nl", "en"])),
                newsletter_opt_in=True,
                interests=tuple(
                    draw(
                        st.lists(st.sampled_from(["backup", "cloud", "security", "werkplek"]), max_size=3, unique=True)
                    )
                ),
            )
        for n in range(draw(st.integers(1, 3))):
            end = as_of - timedelta(days=draw(st.integers(31, 300)))
            orders.append(
                Order(
                    f"K{c}O{n}",
                    customer_id,
                    end - timedelta(days=draw(st.integers(0, 200))),
                    Decimal(draw(st.integers(100, 50_000))),
                    draw(st.sampled_from([*sorted(base.products), ""])),
                    description=f"Opdracht {marker}",
                    end_date=end,
                )
            )
    return replace(
        base,
        customers=customers,
        contacts=contacts,
        orders=tuple(orders),
        evaluations=(),
        interactions=(),
        suppressions=(),
        rejects=(),
        warnings=(),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_no_recipient_ever_gets_another_customers_data(renderer: tuple[Any, Any], data: st.DataObject) -> None:
    """Every rendered e-mail (HTML, text, and the decoded .eml) holds its own customer's marker and no other."""
    from pipeline.quiet import quiet_periods
    from pipeline.render.message import render_messages
    from pipeline.segment import segment
    from pipeline.select import select

    project, compiled = renderer
    world = data.draw(marked_worlds(project.data))
    compiled.cache.clear()  # a new dataset is a new run: nothing cached may carry over
    as_of = date.fromisoformat(RUN_ID)
    seg = segment(world, project.segments, as_of)
    quiet = quiet_periods(world, project.segments, as_of)
    selections = select(world, project.segments, seg, quiet, [], as_of)
    seen_own = 0
    for selection in selections:
        own = f"MRK{int(selection.customer_id[1:]):02d}X"
        for message, files in render_messages(compiled, selection, world, project.settings, seg, as_of, b"k" * 32):
            for relpath, payload in files.items():
                if relpath.endswith(".eml"):
                    parsed = email.message_from_bytes(payload, policy=email.policy.default)
                    text = "\n".join(str(part.get_content()) for part in parsed.walk() if not part.is_multipart())
                    text += "\n" + "\n".join(f"{k}: {v}" for k, v in parsed.items())
                else:
                    text = payload.decode("utf-8")
                markers = set(re.findall(r"MRK\d\dX", text))
                assert markers <= {own}, (relpath, markers)
                seen_own += own in markers
            assert message.contact_id == selection.contact_id
    assume(seen_own > 0)


# --------------------------------------------------------------------------- YAML bombs

BILLION_LAUGHS = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize("target", ["settings.yaml", "segments.yaml", "data/products.yaml", "content"])
def test_a_yaml_alias_bomb_is_refused_quickly(tiny_project: Path, target: str) -> None:
    """9^9 values hidden behind aliases (billion laughs) are refused within seconds, naming the file."""
    if target == "content":
        path = tiny_project / "content" / "nl" / "backup-testen.md"
        path.write_text(path.read_text().replace("---\n", "---\n" + BILLION_LAUGHS + "url_bomb: *i\n", 1))
        expected = "content/nl/backup-testen.md:1: front matter too large once its aliases (*name) are expanded"
    else:
        path = tiny_project / target
        if target.endswith("products.yaml"):  # one more product, its tags the bomb
            anchors = "".join(f"    {line}\n" for line in BILLION_LAUGHS.splitlines())
            path.write_text(path.read_text() + f"- id: bom\n  name: Bom\n  x-anchors:\n{anchors}  tags: *i\n")
        else:
            anchors = "".join(f"  {line}\n" for line in BILLION_LAUGHS.splitlines())
            path.write_text(path.read_text() + f"x-anchors:\n{anchors}extra: *i\n")
        expected = f"{Path(target).name}: too large once its aliases (*name) are expanded"
    started = time.perf_counter()
    code, output = invoke(tiny_project, "validate")
    assert time.perf_counter() - started < 10
    assert code == 2
    assert expected in output


@pytest.mark.parametrize("target", ["settings.yaml", "content"])
def test_yaml_nested_thousands_deep_is_a_problem_not_a_crash(tiny_project: Path, target: str) -> None:
    """`[[[[…]]]]` 50,000 deep (too deep for PyYAML's recursion) is a located problem, exit 2."""
    deep = "[" * 50_000 + "]" * 50_000
    if target == "content":
        path = tiny_project / "content" / "nl" / "backup-testen.md"
        path.write_text(path.read_text().replace("---\n", f"---\ndiep: {deep}\n", 1))
        expected = "content/nl/backup-testen.md:1: front matter nested too deeply to read"
    else:
        path = tiny_project / "settings.yaml"
        path.write_text(path.read_text() + f"diep: {deep}\n")
        expected = "settings.yaml: nested too deeply to read"
    code, output = invoke(tiny_project, "validate")
    assert code == 2
    assert expected in output


# --------------------------------------------------------------------------- the review site in a browser

CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_hostile_names_run_no_script_in_the_review_site(hostile: Path) -> None:
    """Every page of the hostile run, opened in Chromium: no alert fires, no planted <img> exists, no console error."""
    sync_api = pytest.importorskip("playwright.sync_api")
    pages = [
        "index.html",
        "site/recipients.html",
        "site/recipient.html#P001",
        "site/recipient.html#P002",
        "site/variants.html",
        "reports/segments.html",
        "calls/am-jan.html",
        "emails/P001/newsletter.html",
        "emails/P001/alert.html",
    ]
    dialogs: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            tab = browser.new_page()
            tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            tab.on("pageerror", lambda error: errors.append(str(error)))
            for relpath in pages:
                tab.goto(
                    (hostile / relpath.split("#")[0]).as_uri() + ("#" + relpath.split("#")[1] if "#" in relpath else "")
                )
                tab.wait_for_load_state("load")
                if "recipients" in relpath:
                    tab.wait_for_selector("#rows tr")
                if "recipient.html" in relpath:
                    tab.wait_for_selector("h1")
                    tab.wait_for_timeout(200)
                planted = tab.evaluate(
                    "() => [document, ...[...document.querySelectorAll('iframe')].map(f => f.contentDocument)]"
                    ".filter(Boolean).flatMap(d => [...d.querySelectorAll('img[src=\"x\"], script:not([src])')])"
                    ".filter(e => e.tagName === 'IMG' || /alert\\(/.test(e.textContent)).length"
                )
                assert planted == 0, relpath
            shown = tab.evaluate("() => document.body.innerText")
            assert "alert(1)" in shown or "<script>" in shown or "onerror" in shown  # shown as text
        finally:
            browser.close()
    assert dialogs == []
    assert errors == []
