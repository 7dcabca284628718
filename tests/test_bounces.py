"""`windstil bounces import`: real-world bounces, auto-replies, unsubscribes and replies land where they should.

The samples under tests/data/mail/samples are written after real mails of each kind (Postfix,
Microsoft 365, Gmail, Outlook, a ticket system), addressed to the tiny project's contacts and
naming the Message-IDs its run of 2026-11-30 gives them. tests/data/mail/flufl holds real
bounces of older and non-standard forms from flufl.bounce's test data (LGPL, see its README).
"""

from __future__ import annotations

import mailbox
import re
import sqlite3
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_tiny_project
from hypothesis import given, settings
from hypothesis import strategies as st
from smtp_server import smtp_server

from pipeline.cli import cli
from pipeline.mail.classify import MailKind, classify

SECRET = "bounce-test-secret-0123456789abcdef"
RUN_ID = "2026-11-30"
DATA = Path(__file__).parent / "data" / "mail"
SAMPLES = sorted((DATA / "samples").glob("*.eml"))
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

# What each sample is, and the address it is about.
EXPECTED = {
    "postfix-5.1.1.eml": (MailKind.HARD_BOUNCE, "p.smit@lindehof.nl"),
    "microsoft365-ndr.eml": (MailKind.HARD_BOUNCE, "lars@nieuwbegin.nl"),
    "gmail-bounce.eml": (MailKind.HARD_BOUNCE, "s.dekker@thm.nl"),
    "mailbox-full-4.2.2.eml": (MailKind.SOFT_BOUNCE, "f.elamrani@debrug.nl"),
    "out-of-office-nl.eml": (MailKind.AUTO_REPLY, "a.jansen@lindehof.nl"),
    "out-of-office-en.eml": (MailKind.AUTO_REPLY, "emma.clarke@harbourlogistics.com"),
    "auto-submitted-auto-replied.eml": (MailKind.AUTO_REPLY, "servicedesk@harbourlogistics.com"),
    "mailto-unsubscribe.eml": (MailKind.UNSUBSCRIBE, "a.jansen@lindehof.nl"),
    "reply-person.eml": (MailKind.REPLY, "emma.clarke@harbourlogistics.com"),
}
# The failed address flufl.bounce's own tests expect from each of its samples.
FLUFL = {
    "dsn_01.eml": "jimmymcegypt@go.com",
    "exim_01.eml": "delangen@its.tudelft.nl",
    "groupwise_01.eml": "thoff@mainex1.asu.edu",
    "microsoft_01.eml": "djbennett@ikon.com",
    "postfix_01.eml": "xxxxx@local.ie",
    "qmail_01.eml": "psadisc@wwwmail.n-h.de",
    "simple_01.eml": "bbbsss@turbosport.com",
    "yahoo_01.eml": "subscribe.motorcycles@listsociety.com",
}


def invoke(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--project", str(project), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def approved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny project, run and approved on RUN_ID (so the samples' Message-IDs are ours)."""
    monkeypatch.setenv("WINDSTIL_SECRET", SECRET)
    project = write_tiny_project(tmp_path / "project")
    for args in (("run", "--as-of", RUN_ID, "--jobs", "1"), ("approve", RUN_ID)):
        code, out, err = invoke(project, *args)
        assert code == 0, out + err
    return project


def make_mbox(path: Path, files: list[Path]) -> Path:
    box = mailbox.mbox(path, create=True)
    for file in files:
        box.add(file.read_bytes())
    box.flush()
    box.close()
    return path


def dump(project: Path) -> list[list[tuple[object, ...]]]:
    with sqlite3.connect(project / "output" / "state.sqlite") as conn:
        return [
            conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in ("feedback", "mail_seen", "suppressions", "interactions")
        ]


def rows(project: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(project / "output" / "state.sqlite") as conn:
        return conn.execute(sql).fetchall()


def test_each_sample_is_classified_as_its_kind() -> None:
    """Every sample mail gets its kind; bounces name the failed address and status."""
    ours = {f"<{m}@polderlicht-it.nl>" for m in re.findall(r"<([0-9a-f]{64})@polderlicht-it\.nl>",
                                                           " ".join(p.read_text() for p in SAMPLES))}
    for path in SAMPLES:
        found = classify(path.read_bytes(), SECRET.encode(), ours.__contains__,
                         lambda a: a == "emma.clarke@harbourlogistics.com", NOW)
        kind, address = EXPECTED[path.name]
        assert found.kind is kind, (path.name, found.reason)
        if kind in (MailKind.HARD_BOUNCE, MailKind.SOFT_BOUNCE):
            assert [f.email for f in found.failures] == [address], path.name
        elif kind is MailKind.UNSUBSCRIBE:
            assert found.unsubscribe is not None and found.unsubscribe.email == address
        else:
            assert found.sender == address, path.name
    statuses = {
        p.name: [f.status for f in classify(p.read_bytes(), None, ours.__contains__, lambda a: False, NOW).failures]
        for p in SAMPLES
    }
    assert statuses["postfix-5.1.1.eml"] == ["5.1.1"]
    assert statuses["microsoft365-ndr.eml"] == ["5.1.10"]
    assert statuses["mailbox-full-4.2.2.eml"] == ["4.2.2"]


@pytest.mark.parametrize("name", sorted(FLUFL))
def test_non_standard_bounces_name_the_failed_address(name: str) -> None:
    """Real bounces of older and non-standard forms are bounces, with the address flufl.bounce's tests expect."""
    found = classify((DATA / "flufl" / name).read_bytes(), None, lambda m: False, lambda a: False, NOW)
    assert found.kind in (MailKind.HARD_BOUNCE, MailKind.SOFT_BOUNCE), found.reason
    assert FLUFL[name] in [f.email for f in found.failures]


def test_import_lands_each_mail_where_it_belongs_and_twice_changes_nothing(approved: Path, tmp_path: Path) -> None:
    """Hard bounces and the mailto unsubscribe suppress; the soft bounce does not yet; the reply is stored."""
    box = make_mbox(tmp_path / "retour.mbox", SAMPLES)
    code, out, err = invoke(approved, "bounces", "import", str(box))
    assert code == 0, out + err
    assert "9 new mails (3 auto_reply, 3 hard_bounce, 1 reply, 1 soft_bounce, 1 unsubscribe); 0 read before" in out
    assert "unclassified" not in out
    suppressed = dict(rows(approved, "SELECT email, reason FROM suppressions WHERE source LIKE 'bounces import%'"))
    assert set(suppressed) == {"p.smit@lindehof.nl", "lars@nieuwbegin.nl", "s.dekker@thm.nl", "a.jansen@lindehof.nl"}
    assert suppressed["p.smit@lindehof.nl"].startswith("hard_bounce: 5.1.1 550 5.1.1")
    assert suppressed["a.jansen@lindehof.nl"] == "unsubscribed (newsletter) by P001 (mailto)"
    events = rows(approved, "SELECT kind, contact_id, run_id, email FROM feedback ORDER BY kind, contact_id")
    assert ("hard_bounce", "P002", RUN_ID, "p.smit@lindehof.nl") in events  # by the original Message-ID
    assert ("hard_bounce", "P010", "", "lars@nieuwbegin.nl") in events  # by the recipient
    assert ("soft_bounce", "P005", RUN_ID, "f.elamrani@debrug.nl") in events
    assert rows(approved, "SELECT contact_id, run_id, at, detail FROM feedback WHERE kind = 'reply'") == [
        ("P007", RUN_ID, "2026-12-02T15:40:51.000+00:00",
         "Re: Emma, 2 tips for you: Cloud storage that grows with your fleet")
    ]
    before = dump(approved)
    code, out, _ = invoke(approved, "bounces", "import", str(box))
    assert code == 0 and "0 new mails (nothing new); 9 read before" in out
    assert dump(approved) == before
    # The same mails from a Maildir or a folder of .eml files are the same mails: read before.
    maildir = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for path in SAMPLES:
        maildir.add(path.read_bytes())
    assert "9 read before" in invoke(approved, "bounces", "import", str(tmp_path / "Maildir"))[1]
    assert "9 read before" in invoke(approved, "bounces", "import", str(DATA / "samples"))[1]
    assert dump(approved) == before


def test_three_soft_bounces_in_a_row_suppress(approved: Path, tmp_path: Path) -> None:
    """Two temporary failures leave the address alone; the third in a row suppresses it as soft_bounce.

    Each is about another message: a server's repeated warnings about one message are one failure.
    """
    template = (DATA / "samples" / "mailbox-full-4.2.2.eml").read_text()
    repeated = template.replace("<20261202080512.4ZK3Tn0hHcz9sX1@", "<again.4ZK3Tn0hHcz9sX1@")
    (tmp_path / "again.eml").write_text(repeated)
    assert "1 soft_bounce" in invoke(approved, "bounces", "import", str(DATA / "samples" / "mailbox-full-4.2.2.eml"))[1]
    assert "1 soft_bounce" in invoke(approved, "bounces", "import", str(tmp_path / "again.eml"))[1]
    assert rows(approved, "SELECT count(*) FROM suppressions WHERE email = 'f.elamrani@debrug.nl'") == [(0,)]
    for n in range(2, 4):
        text = template.replace("<20261202080512.4ZK3Tn0hHcz9sX1@", f"<soft{n}.4ZK3Tn0hHcz9sX1@")
        text = text.replace("<67591c848f1fc0b4", f"<{n}7591c848f1fc0b4")
        text = text.replace("Wed,  2 Dec 2026 09:05:12", f"Wed,  {n + 1} Dec 2026 09:05:12")
        (tmp_path / f"soft{n}.eml").write_text(text)
        code, out, _ = invoke(approved, "bounces", "import", str(tmp_path / f"soft{n}.eml"))
        assert code == 0 and "1 soft_bounce" in out
        suppressed = rows(approved, "SELECT reason FROM suppressions WHERE email = 'f.elamrani@debrug.nl'")
        assert suppressed == ([] if n < 3 else [("soft_bounce: 3 temporary failures in a row",)])


def test_non_standard_bounces_for_strangers_are_listed_not_acted_on(approved: Path) -> None:
    """A bounce for an address and a message that are not ours suppresses nothing and is listed."""
    code, out, _ = invoke(approved, "bounces", "import", str(DATA / "flufl"))
    assert code == 0 and "8 new mails (8 unclassified)" in out
    assert out.count("bounce for an address and a message that are not ours") == 8
    assert rows(approved, "SELECT count(*) FROM suppressions WHERE source LIKE 'bounces%'") == [(0,)]


def malformed_mails() -> dict[str, bytes]:
    big = EmailMessage()
    big["From"] = "someone@example.org"
    big["To"] = "accountteam@polderlicht-it.nl"
    big["Subject"] = "Offerte bijgevoegd"
    big["Message-ID"] = "<big-attachment@example.org>"
    big.set_content("Zie bijlage.")
    big.add_attachment(b"\x00\xff" * (2_600_000), maintype="application", subtype="octet-stream", filename="a.bin")
    return {
        "broken-mime.eml": (
            b"From: x@example.org\r\nMessage-ID: <broken@example.org>\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="never-closed"\r\n\r\n--never-closed\r\n'
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64%%%\r\n"
            b"--never-closed\r\nContent-Type: message/rfc822\r\n\r\n\x00\x01\x02 garbage"
        ),
        "wrong-charset.eml": (
            b"From: =?x-unknown-charset?B?w6k=?= <y@example.org>\r\nMessage-ID: <charset@example.org>\r\n"
            b"Subject: =?utf-8?B?////?= =?iso-8859-99?Q?=E9t=E9?=\r\n"
            b"Content-Type: text/plain; charset=klingon-8\r\n\r\n\xff\xfe\xe9t\xe9 \x80\x81\r\n"
        ),
        "dsn-without-original.eml": (
            b"From: MAILER-DAEMON@mx.example.org\r\nMessage-ID: <dsn-bare@example.org>\r\n"
            b"Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n--b\r\n'
            b"Content-Type: text/plain\r\n\r\nIt failed.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
            b"Reporting-MTA: dns; mx.example.org\r\n\r\n--b--\r\n"
        ),
        "big-attachment.eml": big.as_bytes(),
    }


def test_malformed_mails_never_crash_the_import(approved: Path, tmp_path: Path) -> None:
    """Broken MIME, wrong charsets, a DSN without original headers, a 5 MB attachment: listed as unclassified."""
    folder = tmp_path / "malformed"
    folder.mkdir()
    for name, raw in malformed_mails().items():
        (folder / name).write_bytes(raw)
    assert (folder / "big-attachment.eml").stat().st_size > 5_000_000
    code, out, err = invoke(approved, "bounces", "import", str(folder))
    assert code == 0, out + err
    assert "4 new mails (4 unclassified)" in out
    for name in malformed_mails():
        assert f"unclassified: {name}" in out
    assert "delivery status notification: no per-recipient fields" in out
    assert rows(approved, "SELECT count(*) FROM feedback") == [(0,)]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_classify_never_raises(raw: bytes) -> None:
    """Whatever bytes arrive, classification answers with a kind."""
    found = classify(raw, b"0123456789abcdef0123", lambda m: False, lambda a: False, NOW)
    assert isinstance(found.kind, MailKind)


def test_a_hard_bounce_marks_the_sent_message_failed_in_the_outbox(approved: Path) -> None:
    """Sent (the relay accepted it), then bounced: the outbox row becomes `failed`, by Message-ID or by address."""
    with smtp_server() as (server, _recorder):
        with (approved / "settings.yaml").open("a", encoding="utf-8") as handle:
            handle.write(f"delivery: {{host: 127.0.0.1, port: {server.port}, security: none, auth: none, "
                         "per_minute: null, per_day: null}\n")
        code, out, err = invoke(approved, "send", RUN_ID)
    assert code == 0, out + err
    assert rows(approved, "SELECT status FROM outbox WHERE contact_id = 'P002' AND kind = 'newsletter'") == [("sent",)]
    code, out, _ = invoke(approved, "bounces", "import", str(DATA / "samples" / "postfix-5.1.1.eml"))
    assert code == 0 and "1 hard_bounce" in out
    status, reply = rows(approved, "SELECT status, last_reply FROM outbox WHERE contact_id = 'P002' "
                                   "AND kind = 'newsletter'")[0]
    assert status == "failed" and str(reply).startswith("bounce: 5.1.1")
    assert rows(approved, "SELECT status FROM outbox WHERE contact_id = 'P002' AND kind = 'alert'") in ([], [("sent",)])
