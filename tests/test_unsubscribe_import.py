"""The unsubscribe loop: tokens from sent e-mails come back, are verified, and stop later mail."""

from __future__ import annotations

import csv
import email
import email.policy
import hashlib
import io
import os
import sqlite3
import stat
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

import pipeline.unsubscribe as unsubscribe
from pipeline.cli import cli
from pipeline.errors import InputError
from pipeline.feedback import FeedbackKind
from pipeline.models import Suppression
from pipeline.state import State
from pipeline.unsubscribe import make_token, verify_token
from pipeline.unsubscribe_import import import_unsubscribes, read_unsubscribes

SECRET = "unsubscribe-loop-test-secret-0123456789"
RUN_ID = "2026-11-30"
TODAY = date(2026, 12, 5)


def invoke(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--project", str(project), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def project(tiny_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WINDSTIL_SECRET", SECRET)
    return tiny_project


@pytest.fixture
def ran(project: Path) -> Path:
    """The tiny project after one run on RUN_ID."""
    code, out, err = invoke(project, "run", "--as-of", RUN_ID, "--jobs", "1")
    assert code == 0, out + err
    return project


def unsubscribe_link(run: Path, contact_id: str) -> str:
    """Return the https unsubscribe link of a rendered newsletter, as a mail client sees it."""
    raw = (run / "emails" / contact_id / "newsletter.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    header = str(message["List-Unsubscribe"])
    return header.split("<", 1)[1].split(">", 1)[0]


def token_of(link: str) -> str:
    return link.split("t=", 1)[1]


def recipients(project: Path, run_id: str = RUN_ID) -> dict[str, dict[str, str]]:
    text = (project / "output" / run_id / "recipients.csv").read_text(encoding="utf-8")
    return {row["contact_id"]: row for row in csv.DictReader(io.StringIO(text))}


def suppressions(project: Path) -> dict[str, tuple[str, str | None, str]]:
    with sqlite3.connect(project / "output" / "state.sqlite") as conn:
        return {e: (r, d, s) for e, r, d, s in conn.execute("SELECT email, reason, date, source FROM suppressions")}


def test_three_valid_one_forged_one_malformed(ran: Path, tmp_path: Path) -> None:
    """3 valid tokens are added, the forged and the malformed one rejected by line; the next run skips the 3."""
    run = ran / "output" / RUN_ID
    valid = [token_of(unsubscribe_link(run, c)) for c in ("P001", "P002", "P005")]
    body, _ = valid[0].split(".")
    forged = f"{body}.{make_token(b'not-the-project-secret-at-all', 'P001', 'x@y.nl', 'newsletter').split('.')[1]}"
    file = tmp_path / "afmeldingen.txt"
    file.write_text("\n".join([*valid, forged, "dit-is-geen-token"]) + "\n", encoding="utf-8")

    code, out, err = invoke(ran, "unsubscribe", "import", str(file))

    assert code == 2
    assert f"{file}: 3 added, 0 already suppressed, 2 rejected" in out
    assert f"{file}:4: token: forged token" in err
    assert f"{file}:5: token: malformed token: 'dit-is-geen-token'" in err
    assert set(suppressions(ran)) == {"a.jansen@lindehof.nl", "p.smit@lindehof.nl", "f.elamrani@debrug.nl"}

    code, out, err = invoke(ran, "run", "--as-of", RUN_ID, "--jobs", "1")
    assert code == 0, out + err
    rows = recipients(ran)
    for contact_id in ("P001", "P002", "P005"):
        assert rows[contact_id]["newsletter"] == "skipped"
        assert rows[contact_id]["reason"] == "suppressed"
        assert rows[contact_id]["alert"] == "skipped"
        assert not (run / "emails" / contact_id).exists()
    assert rows["P007"]["newsletter"] == "rendered"


def test_importing_twice_adds_nothing(ran: Path, tmp_path: Path) -> None:
    """A second import of the same file adds 0 and reports the addresses as already suppressed (exit 0)."""
    run = ran / "output" / RUN_ID
    file = tmp_path / "tokens.txt"
    file.write_text("".join(token_of(unsubscribe_link(run, c)) + "\n" for c in ("P001", "P007")))
    assert invoke(ran, "unsubscribe", "import", str(file))[:2] == (
        0,
        f"{file}: 2 added, 0 already suppressed, 0 rejected\n",
    )
    before = suppressions(ran)
    code, out, _ = invoke(ran, "unsubscribe", "import", str(file))
    assert (code, out) == (0, f"{file}: 0 added, 2 already suppressed, 0 rejected\n")
    assert suppressions(ran) == before


def test_the_web_endpoints_csv_log_with_dates(ran: Path, tmp_path: Path) -> None:
    """The endpoint's CSV log (token, date, other columns) is read; the date and source are stored."""
    run = ran / "output" / RUN_ID
    file = tmp_path / "endpoint-log.csv"
    file.write_text(
        "received;token;ip\n"
        f"2026-12-01T08:00:00Z;{token_of(unsubscribe_link(run, 'P001'))};192.0.2.1\n"
        f"2026-12-02T09:30:00+01:00;{unsubscribe_link(run, 'P007')};192.0.2.2\n",
        encoding="utf-8",
    )
    file_with_date = tmp_path / "with-date.csv"
    clicked = (date.today() - timedelta(days=2)).isoformat()
    file_with_date.write_text(f"token,date\n{token_of(unsubscribe_link(run, 'P002'))},{clicked}\n")
    assert invoke(ran, "unsubscribe", "import", str(file))[0] == 0
    assert invoke(ran, "unsubscribe", "import", str(file_with_date))[0] == 0
    stored = suppressions(ran)
    assert stored["p.smit@lindehof.nl"] == (
        "unsubscribed (newsletter) by P002",
        clicked,
        f"unsubscribe import {file_with_date}",
    )
    # Without a date column the import date is recorded.
    assert stored["a.jansen@lindehof.nl"][1] == date.today().isoformat()
    assert stored["emma.clarke@harbourlogistics.com"][2] == f"unsubscribe import {file}"


def test_links_mailto_subjects_and_addresses_are_accepted(ran: Path, tmp_path: Path) -> None:
    """A whole link, a mailto subject `unsubscribe-<token>` and a plain address each suppress their address."""
    run = ran / "output" / RUN_ID
    file = tmp_path / "mixed.txt"
    file.write_text(
        "# afmeldingen november\n"
        f"{unsubscribe_link(run, 'P001')}\n"
        "\n"
        f"unsubscribe-{token_of(unsubscribe_link(run, 'P002'))}\n"
        "  Lars@NieuwBegin.nl  \n",
        encoding="utf-8",
    )
    code, out, err = invoke(ran, "unsubscribe", "import", str(file))
    assert code == 0, err
    assert "3 added" in out
    stored = suppressions(ran)
    assert stored["lars@nieuwbegin.nl"][0] == "manual unsubscribe"
    assert {"a.jansen@lindehof.nl", "p.smit@lindehof.nl"} <= set(stored)


def test_bad_lines_name_their_line_and_reason(tmp_path: Path) -> None:
    """Every kind of bad line is rejected with its line number and a reason; good lines survive."""
    secret = SECRET.encode()
    good = make_token(secret, "P001", "a@b.nl", "alerts")
    file = tmp_path / "bad.csv"
    file.write_text(
        "token,date,email\n"
        f"{good},2026-12-01,\n"  # 2: fine
        f"{good},01-12-2026,\n"  # 3: not an ISO date
        f"{good},2027-01-01,\n"  # 4: after today
        ",,niet-een-adres\n"  # 5: invalid address
        ",,\n"  # 6: empty row, skipped
        ",2026-12-01,\n"  # 7: nothing to unsubscribe
        f"{good[:-3]},,\n"  # 8: truncated signature: malformed
        f"{'A' * 3000},,\n"  # 9: oversized
        "aGVsbG8.AAAAAAAAAAAAAAAAAAAAAA,,\n",  # 10: well-formed base64, not our payload
        encoding="utf-8",
    )
    parsed = read_unsubscribes(file, secret, TODAY)
    assert [s.email for s in parsed.suppressions] == ["a@b.nl"]
    assert parsed.suppressions[0].date == date(2026, 12, 1)
    reasons = {p.line: (p.field, p.message) for p in parsed.rejected}
    assert reasons[3] == ("date", "not a date (YYYY-MM-DD): '01-12-2026'")
    assert reasons[4] == ("date", "date 2027-01-01 is after today")
    assert reasons[5][0] == "email" and reasons[5][1].startswith("invalid e-mail address")
    assert reasons[7] == ("token", "missing: neither a token nor an e-mail address")
    assert reasons[8][1].startswith("malformed token")
    assert reasons[9] == ("token", "malformed token: value too long")
    assert reasons[10][1].startswith("malformed token")
    assert sorted(reasons) == [3, 4, 5, 7, 8, 9, 10]


def test_a_token_signed_with_another_secret_is_forged(tmp_path: Path) -> None:
    """A token that is well formed but signed with another secret is rejected as forged, not as malformed."""
    file = tmp_path / "t.txt"
    file.write_text(make_token(b"someone-elses-secret-value", "P001", "a@b.nl", "newsletter") + "\n")
    parsed = read_unsubscribes(file, SECRET.encode(), TODAY)
    assert parsed.suppressions == ()
    assert [(p.line, p.message) for p in parsed.rejected] == [
        (1, "forged token: its signature does not match this project's secret")
    ]


def test_verify_token_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """verify_token compares signatures with hmac.compare_digest, not with ==."""
    calls: list[tuple[bytes, bytes]] = []
    real = unsubscribe.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(unsubscribe.hmac, "compare_digest", spy)
    token = make_token(b"k" * 32, "P1", "a@b.nl", "newsletter")
    assert verify_token(b"k" * 32, token) is not None
    assert verify_token(b"x" * 32, token) is None
    assert len(calls) == 2


def test_tokens_without_any_secret_are_refused_and_no_secret_is_made(
    tiny_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no WINDSTIL_SECRET and no secret file, a token file is refused (exit 2) and nothing is created."""
    monkeypatch.delenv("WINDSTIL_SECRET", raising=False)
    file = tmp_path / "t.txt"
    file.write_text(make_token(b"whatever-secret-was-used", "P001", "a@b.nl", "newsletter") + "\n")
    code, _, err = invoke(tiny_project, "unsubscribe", "import", str(file))
    assert code == 2
    assert "no unsubscribe secret" in err
    assert not (tiny_project / "output" / "secret").exists()
    # Addresses alone need no secret.
    file.write_text("a@b.nl\n")
    assert invoke(tiny_project, "unsubscribe", "import", str(file))[0] == 0
    assert not (tiny_project / "output" / "secret").exists()


def test_a_file_made_secret_verifies_the_tokens_of_its_own_runs(
    tiny_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without WINDSTIL_SECRET the run's generated secret file (0600) signs and later verifies the tokens."""
    monkeypatch.delenv("WINDSTIL_SECRET", raising=False)
    assert invoke(tiny_project, "run", "--as-of", RUN_ID, "--jobs", "1")[0] == 0
    secret_file = tiny_project / "output" / "secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    value = secret_file.read_bytes().strip()
    assert not any(value in p.read_bytes() for p in (tiny_project / "output" / RUN_ID).rglob("*") if p.is_file())
    file = tmp_path / "t.txt"
    file.write_text(unsubscribe_link(tiny_project / "output" / RUN_ID, "P005") + "\n")
    code, out, err = invoke(tiny_project, "unsubscribe", "import", str(file))
    assert code == 0, err
    assert "1 added" in out


def test_import_writes_in_one_transaction(project: Path, tmp_path: Path) -> None:
    """import_unsubscribes stores every valid line at once, even when other lines are rejected."""
    secret = SECRET.encode()
    file = tmp_path / "t.txt"
    file.write_text(
        f"{make_token(secret, 'P1', 'a@b.nl', 'newsletter')}\nrommel\n{make_token(secret, 'P2', 'c@d.nl', 'alerts')}\n"
    )
    with State.open(tmp_path / "state.sqlite") as state:
        result = import_unsubscribes(file, state, secret, TODAY, display="t.txt")
        assert (result.added, result.already_suppressed) == (2, 0)
        assert [str(p) for p in result.rejected] == ["t.txt:2: token: malformed token: 'rommel'"]
        assert [s.email for s in state.suppressions()] == ["a@b.nl", "c@d.nl"]


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    """A file in another encoding stops with an InputError naming it; nothing is half-read."""
    file = tmp_path / "latin1.txt"
    file.write_bytes("ren\xe9@caf\xe9.nl\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1\.txt: not UTF-8"):
        read_unsubscribes(file, None, TODAY)


# --------------------------------------------------------------------------- the secret


def test_the_secret_never_reaches_an_output_file_or_the_terminal(ran: Path, tmp_path: Path) -> None:
    """With a known secret, no file of the run, no CLI output and no state row contains it (raw or hex)."""
    run = ran / "output" / RUN_ID
    needles = [SECRET.encode(), SECRET.encode().hex().encode(), hashlib.sha256(SECRET.encode()).hexdigest().encode()]
    for path in run.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(n in data for n in needles), path
    assert not any(n in (ran / "output" / "state.sqlite").read_bytes() for n in needles)
    file = tmp_path / "t.txt"
    file.write_text(f"{token_of(unsubscribe_link(run, 'P001'))}\nkapot\n")
    for args in (
        ("unsubscribe", "import", str(file)),
        ("state", "check"),
        ("-vv", "run", "--as-of", RUN_ID),
        ("validate",),
    ):
        code, out, err = invoke(ran, *args)
        assert code in (0, 2), (args, err)
        assert SECRET not in out + err, args


def test_a_group_readable_secret_file_stops_the_run(tiny_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret file readable by others stops the run (exit 1) with the chmod fix; no run folder is made."""
    monkeypatch.delenv("WINDSTIL_SECRET", raising=False)
    secret_file = tiny_project / "output" / "secret"
    secret_file.parent.mkdir(parents=True)
    secret_file.write_text("a" * 64)
    os.chmod(secret_file, 0o640)
    code, _, err = invoke(tiny_project, "run", "--as-of", RUN_ID, "--jobs", "1")
    assert code == 1
    assert "readable by others" in err and "chmod 600" in err
    assert "a" * 64 not in err
    assert not (tiny_project / "output" / RUN_ID).exists()


def test_a_symlinked_secret_file_is_refused(
    tiny_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret that is a symbolic link (maybe to a file others control) is refused."""
    monkeypatch.delenv("WINDSTIL_SECRET", raising=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("b" * 64)
    os.chmod(elsewhere, 0o600)
    (tiny_project / "output").mkdir()
    (tiny_project / "output" / "secret").symlink_to(elsewhere)
    code, _, err = invoke(tiny_project, "run", "--as-of", RUN_ID, "--jobs", "1")
    assert code == 1
    assert "must be a regular file" in err


def test_a_later_run_honours_both_state_and_file_suppressions(ran: Path, tmp_path: Path) -> None:
    """A month later, both suppressions.csv (P011) and an imported unsubscribe (P007) are skipped as suppressed."""
    file = tmp_path / "t.txt"
    file.write_text(token_of(unsubscribe_link(ran / "output" / RUN_ID, "P007")) + "\n")
    assert invoke(ran, "unsubscribe", "import", str(file))[0] == 0
    later = (date.fromisoformat(RUN_ID) + timedelta(days=31)).isoformat()
    assert invoke(ran, "run", "--as-of", later, "--jobs", "1")[0] == 0
    rows = recipients(ran, later)
    assert "suppressed" in rows["P007"]["reason"].split(";")
    assert "suppressed" in rows["P011"]["reason"].split(";")


def test_an_unsubscribe_imported_after_the_render_is_left_out_by_the_approval(ran: Path, tmp_path: Path) -> None:
    """Approving a run rendered before an unsubscribe leaves that contact out, says so, and records the rest."""
    file = tmp_path / "t.txt"
    file.write_text(token_of(unsubscribe_link(ran / "output" / RUN_ID, "P005")) + "\n")
    assert invoke(ran, "unsubscribe", "import", str(file))[0] == 0
    code, out, err = invoke(ran, "approve", RUN_ID)
    assert code == 0, err
    assert "left out 1 contact who unsubscribed after the run was made: P005" in out
    with sqlite3.connect(ran / "output" / "state.sqlite") as conn:
        contacts = {c for (c,) in conn.execute("SELECT contact_id FROM deliveries")}
    assert "P005" not in contacts and {"P001", "P002", "P007"} <= contacts


def test_an_imported_unsubscribe_counts_as_one_for_the_review_site(ran: Path, tmp_path: Path) -> None:
    """Each new unsubscribe of an import is one event, on its date; one already suppressed adds none."""
    with State.open(ran / "output" / "state.sqlite") as state:  # suppressed before: a bounce
        state.add_suppressions([Suppression("al.gebounced@example.nl", "hard_bounce", date(2026, 11, 1), "bounces")])
    file = tmp_path / "t.txt"
    file.write_text(
        token_of(unsubscribe_link(ran / "output" / RUN_ID, "P005")) + "\niemand@example.nl\nAl.Gebounced@example.nl\n"
    )
    assert invoke(ran, "unsubscribe", "import", str(file))[0] == 0
    assert invoke(ran, "unsubscribe", "import", str(file))[0] == 0  # again: nothing new
    with State.open(ran / "output" / "state.sqlite") as state:
        events = state.feedback([FeedbackKind.UNSUBSCRIBE])
    address = verify_token(SECRET.encode(), token_of(unsubscribe_link(ran / "output" / RUN_ID, "P005"))).email
    assert sorted(e.email for e in events) == sorted(["iemand@example.nl", address.lower()])
    assert {e.at.date() for e in events} == {date.today()}


def test_an_unrelated_unsubscribe_does_not_block_approval(ran: Path, tmp_path: Path) -> None:
    """An address imported after the render that gets no message in the run does not hold up approval."""
    file = tmp_path / "t.txt"
    file.write_text("iemand.anders@example.nl\n")
    assert invoke(ran, "unsubscribe", "import", str(file))[0] == 0
    code, _, err = invoke(ran, "approve", RUN_ID)
    assert code == 0, err


def test_import_waits_for_no_run_and_is_refused_while_one_holds_the_project(project: Path, tmp_path: Path) -> None:
    """While another command holds the project lock, the import is refused (exit 2) and records nothing."""
    from pipeline.lock import project_lock

    file = tmp_path / "t.txt"
    file.write_text("iemand@example.nl\n")
    with project_lock(project / "output"):
        code, _, err = invoke(project, "unsubscribe", "import", str(file))
    assert code == 2
    assert f"pid {os.getpid()}" in err
    assert invoke(project, "unsubscribe", "import", str(file))[0] == 0
