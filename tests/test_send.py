"""`windstil send` and `windstil outbox` against a real SMTP server (aiosmtpd on 127.0.0.1).

The tiny project is run and approved once per module and copied for every test. Tests that
wait (back-off, pacing) share a fake clock between the sender and the server's handler: the
sender's `sleep` advances it, so minutes pass in no time and the server stamps what it
receives on the same time line.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import AS_OF, write_tiny_project
from smtp_server import Recorder, smtp_server

from pipeline.approve import approve_run
from pipeline.cli import cli
from pipeline.mail.outbox import Status
from pipeline.mail.send import send_run
from pipeline.run import run_batch
from pipeline.state import State

RUN = AS_OF.isoformat()


class FakeClock:
    """Time that moves only when the sender sleeps (and a little per reading, so times are distinct)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 0.001
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


@pytest.fixture(scope="module")
def approved_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_tiny_project(tmp_path_factory.mktemp("send") / "project")
    run_batch(root, as_of=AS_OF, jobs=1)
    (root / "exclude.txt").write_text("P002\n", encoding="utf-8")
    approve_run(root, RUN, root / "exclude.txt")
    return root


@pytest.fixture
def project(approved_template: Path, tmp_path: Path) -> Path:
    """A copy of the approved tiny project (P002 excluded by the reviewer)."""
    root = tmp_path / "project"
    shutil.copytree(approved_template, root)
    return root


def configure(root: Path, **delivery: object) -> None:
    """Append a `delivery:` block to the project's settings.yaml."""
    values = {"security": "none", "auth": "none", "per_minute": None, "per_day": None} | delivery
    lines = ["delivery:"] + [f"  {k}: {'null' if v is None else v}" for k, v in values.items()]
    with (root / "settings.yaml").open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def approved_messages(root: Path) -> dict[str, tuple[str, str]]:
    """Return Message-ID -> (contact_id, kind) of everything the approved run must deliver."""
    with State.open(root / "output" / "state.sqlite") as state:
        expected = {d.message_id: (d.contact_id, d.kind.value) for d in state.deliveries() if d.run_id == RUN}
    for eml in sorted((root / "output" / RUN / "calls").glob("*.eml")):
        for line in eml.read_text(encoding="utf-8").splitlines():
            if line.startswith("Message-ID:"):
                expected[line.split(":", 1)[1].strip()] = (eml.stem, "calls")
                break
    return expected


def outbox_rows(root: Path) -> dict[tuple[str, str], dict[str, str]]:
    with State.open(root / "output" / "state.sqlite") as state:
        rows = state.query("SELECT * FROM outbox WHERE run_id = ?", (RUN,))
    return {(r["contact_id"], r["kind"]): dict(r) for r in rows}


def recipient_of(root: Path, contact_id: str, kind: str = "newsletter") -> str:
    for line in (root / "output" / RUN / "emails" / contact_id / f"{kind}.eml").read_text().splitlines():
        if line.startswith("To:"):
            return line.rsplit("<", 1)[1].rstrip(">").lower()
    raise AssertionError("no To")


def test_everything_approved_arrives_once_and_excluded_gets_nothing(project: Path) -> None:
    """Each approved message reaches the server once; the excluded contact gets nothing; a second send sends nothing."""
    with smtp_server() as (server, recorder):
        configure(project, host="127.0.0.1", port=server.port)
        first = send_run(project, RUN)
        second = send_run(project, RUN)
    expected = approved_messages(project)
    received = Counter(recorder.message_ids())
    assert len(expected) >= 8
    assert set(received) == set(expected)
    assert max(received.values()) == 1
    assert first.done[Status.SENT] == len(expected) and first.exit_code == 0
    assert second.done == Counter() and second.exit_code == 0
    excluded = recipient_of(project, "P002") if (project / "output" / RUN / "emails" / "P002").exists() else ""
    assert excluded and excluded not in {r.recipient for r in recorder.received}
    assert not any(contact == "P002" for contact, _ in expected.values())
    kinds = Counter(kind for _, kind in expected.values())
    assert kinds["newsletter"] and kinds["alert"] and kinds["calls"] == 2
    # Call lists go last, to the account managers.
    order = [expected[r.message_id][1] for r in recorder.received]
    assert order[-2:] == ["calls", "calls"] and "calls" not in order[:-2]
    assert {r["status"] for r in outbox_rows(project).values()} == {"sent"}


def test_sent_message_is_the_approved_file_with_the_moment_of_sending(project: Path) -> None:
    """What the server gets is the .eml byte for byte, apart from Date, which is the time of sending."""
    clock = FakeClock(start=1_900_000_000.0)  # 2030-03-17
    with smtp_server() as (server, recorder):
        configure(project, host="127.0.0.1", port=server.port)
        send_run(project, RUN, limit=1, clock=clock, sleep=clock.sleep)
    item = recorder.received[0]
    contact, kind = approved_messages(project)[item.message_id]
    original = (project / "output" / RUN / "emails" / contact / f"{kind}.eml").read_bytes()
    sent = item.data
    assert b"Date: Mon, 30 Nov 2026" in original
    assert b"\r\nDate: Sun, 17 Mar 2030" in b"\r\n" + sent
    strip = [line for line in original.split(b"\r\n") if not line.startswith(b"Date:")]
    assert [line for line in sent.split(b"\r\n") if not line.startswith(b"Date:")][: len(strip) - 1] == strip[:-1]
    assert item.mail_from == "nieuws@polderlicht-it.nl"


def test_451_is_deferred_and_delivered_on_the_next_attempt(project: Path) -> None:
    """A recipient answered 451 is deferred with a back-off and delivered on the next attempt, once."""
    clock = FakeClock()
    address = recipient_of(project, "P001")
    recorder = Recorder(clock=clock, rcpt_replies={address: ["451 4.3.0 Mailbox busy, try again later"]})
    with smtp_server(recorder) as (server, _):
        configure(project, host="127.0.0.1", port=server.port)
        started = clock.now
        result = send_run(project, RUN, clock=clock, sleep=clock.sleep)
    row = outbox_rows(project)[("P001", "newsletter")]
    assert row["status"] == "sent" and row["attempts"] == 2
    assert result.done[Status.DEFERRED] == 1 and result.exit_code == 0
    assert [r.recipient for r in recorder.received].count(address) == 2  # newsletter and alert, once each
    assert Counter(recorder.message_ids()).most_common(1)[0][1] == 1
    assert clock.now - started >= 60  # it waited for the back-off


def test_451_left_deferred_when_the_send_is_limited_exits_1(project: Path) -> None:
    """A message still deferred when the send ends makes the exit code 1, and the next send delivers it."""
    address = recipient_of(project, "P001")
    clock = FakeClock()
    recorder = Recorder(clock=clock, rcpt_replies={address: ["451 4.3.0 try later"]})
    with smtp_server(recorder) as (server, _):
        configure(project, host="127.0.0.1", port=server.port)
        first = send_run(project, RUN, limit=1, clock=clock, sleep=clock.sleep)
        assert first.counts[Status.DEFERRED] == 1 and first.exit_code == 1
        clock.sleep(61)
        second = send_run(project, RUN, clock=clock, sleep=clock.sleep)
    assert second.exit_code == 0 and outbox_rows(project)[("P001", "newsletter")]["status"] == "sent"


def test_550_fails_suppresses_and_the_next_run_skips_the_contact(project: Path) -> None:
    """A 550 for a recipient: `failed`, the address suppressed (hard_bounce), the next run skips it as suppressed."""
    address = recipient_of(project, "P001")
    recorder = Recorder(rcpt_replies={address: ["550 5.1.1 User unknown"] * 2})
    with smtp_server(recorder) as (server, _):
        configure(project, host="127.0.0.1", port=server.port)
        result = send_run(project, RUN)
    rows = outbox_rows(project)
    assert rows[("P001", "newsletter")]["status"] == "failed"
    assert rows[("P001", "newsletter")]["last_reply"] == "550 5.1.1 User unknown"
    # The alert to the same address came after the bounce: suppressed by then, so skipped.
    assert rows[("P001", "alert")]["status"] in ("failed", "skipped")
    assert address not in {r.recipient for r in recorder.received}
    assert result.exit_code == 0  # nothing left to do
    with State.open(project / "output" / "state.sqlite") as state:
        suppression = {s.email: s for s in state.suppressions()}[address]
    assert suppression.reason == "hard_bounce" and suppression.source == f"windstil send {RUN}"
    run_batch(project, as_of=date(2026, 12, 31), jobs=1)
    with (project / "output" / "2026-12-31" / "recipients.csv").open(encoding="utf-8") as handle:
        row = next(r for r in csv.DictReader(handle) if r["contact_id"] == "P001")
    assert row["newsletter"] == "skipped" and "suppressed" in row["reason"].split(";")


def test_unsubscribed_after_approval_is_skipped(project: Path) -> None:
    """An address suppressed after the approval is checked right before its message and skipped."""
    from pipeline.models import Suppression

    address = recipient_of(project, "P005")
    with State.open(project / "output" / "state.sqlite") as state:
        state.add_suppressions([Suppression(address, "unsubscribe", AS_OF, "unsubscribe import")])
    with smtp_server() as (server, recorder):
        configure(project, host="127.0.0.1", port=server.port)
        result = send_run(project, RUN)
    assert outbox_rows(project)[("P005", "newsletter")]["status"] == "skipped"
    assert "unsubscribe" in outbox_rows(project)[("P005", "newsletter")]["last_reply"]
    assert address not in {r.recipient for r in recorder.received}
    assert result.done[Status.SKIPPED] >= 1 and result.exit_code == 0


def test_connection_dropped_after_data_leaves_the_message_uncertain(project: Path) -> None:
    """The server closes after the data, before its reply: `uncertain`, exit 1, not resent unless asked."""
    address = recipient_of(project, "P001")
    recorder = Recorder(drop_after_data={address})
    with smtp_server(recorder) as (server, _):
        configure(project, host="127.0.0.1", port=server.port)
        first = send_run(project, RUN)
        row = outbox_rows(project)[("P001", "newsletter")]
        assert row["status"] == "uncertain" and "after the message data" in row["last_reply"]
        assert first.exit_code == 1 and [r.contact_id for r in first.uncertain] == ["P001"]
        # Everything else went through the new connection.
        assert first.counts[Status.SENT] == len(approved_messages(project)) - 1
        second = send_run(project, RUN)
        assert second.done == Counter() and second.exit_code == 1
        assert len(recorder.dropped) == 1 and address not in {r.recipient for r in recorder.received
                                                               if r.message_id == recorder.dropped[0].message_id}
        third = send_run(project, RUN, resend_uncertain=True)
    assert third.exit_code == 0 and outbox_rows(project)[("P001", "newsletter")]["status"] == "sent"
    assert recorder.message_ids().count(recorder.dropped[0].message_id) == 1


def test_resend_one_uncertain_message_by_its_message_id(project: Path) -> None:
    """Two uncertain messages, one of which arrived: --resend sends only the other; an id not uncertain is refused."""
    newsletters = sorted(c for c, kind in approved_messages(project).values() if kind == "newsletter")
    first, second = recipient_of(project, newsletters[0]), recipient_of(project, newsletters[-1])
    recorder = Recorder(drop_after_data={first, second})
    with smtp_server(recorder) as (server, _):
        configure(project, host="127.0.0.1", port=server.port)
        send_run(project, RUN)
        uncertain = {r.recipient: r.message_id for r in recorder.dropped}
        assert set(uncertain) == {first, second}
        runner = CliRunner()
        refused = runner.invoke(cli, ["--project", str(project), "send", RUN, "--resend", "<nope@x>"])
        assert refused.exit_code == 2
        assert "--resend: not an uncertain message of run" in refused.output and uncertain[first] in refused.output
        again = runner.invoke(cli, ["--project", str(project), "send", RUN, "--resend", uncertain[second].strip("<>")])
    assert again.exit_code == 1  # the first stays uncertain: it arrived, the operator found it in the trace
    rows = outbox_rows(project)
    assert (rows[newsletters[0], "newsletter"]["status"], rows[newsletters[-1], "newsletter"]["status"]) == (
        "uncertain",
        "sent",
    )
    assert recorder.message_ids().count(uncertain[second]) == 1
    assert uncertain[first] not in recorder.message_ids()


def test_a_message_done_with_is_not_read_again(project: Path) -> None:
    """A message sent, failed or skipped may be gone from the folder (a run made again): the rest still goes."""
    address = recipient_of(project, "P001")
    recorder = Recorder(rcpt_replies={address: ["550 5.1.1 User unknown"]})
    with smtp_server(recorder) as (server, _):
        configure(project, host="127.0.0.1", port=server.port)
        send_run(project, RUN, limit=3)
        (project / "output" / RUN / "emails" / "P001" / "newsletter.eml").unlink()
        result = send_run(project, RUN)
    assert result.exit_code == 0
    rows = outbox_rows(project)
    assert (rows["P001", "newsletter"]["status"], rows["P001", "alert"]["status"]) == ("failed", "skipped")
    expected = {m for m, (contact_id, _) in approved_messages(project).items() if contact_id != "P001"}
    assert Counter(recorder.message_ids()) == Counter(dict.fromkeys(expected, 1))


def test_excluding_after_approval_withdraws_what_has_not_gone(project: Path, tmp_path: Path) -> None:
    """approve --exclude on an approved run: queued messages are skipped and uncounted; a sent one refuses it all."""
    with smtp_server() as (server, recorder):
        configure(project, host="127.0.0.1", port=server.port)
        send_run(project, RUN, limit=1)  # the first message in sending order: P001's newsletter
        waiting = sorted({c for c, kind in approved_messages(project).values() if kind != "calls"} - {"P001"})[-1]
        exclude = tmp_path / "late.txt"
        runner = CliRunner()
        exclude.write_text(f"P001\n{waiting}\n")
        refused = runner.invoke(cli, ["--project", str(project), "approve", RUN, "--exclude", str(exclude)])
        assert refused.exit_code == 2 and "P001 (newsletter: sent)" in refused.output
        assert "nothing was changed" in refused.output
        exclude.write_text(f"{waiting}\n")
        # The run's checks were passed or accepted at its approval: a withdrawal does not ask again.
        checks = project / "output" / RUN / "checks.csv"
        checks.write_text(checks.read_text(encoding="utf-8") + "P001,newsletter,contrast,error,grey on white\n",
                          encoding="utf-8")
        done = runner.invoke(cli, ["--project", str(project), "approve", RUN, "--exclude", str(exclude)])
        assert done.exit_code == 0, done.output
        assert "was approved already: withdrew" in done.output and "of 1 contact;" in done.output
        assert send_run(project, RUN).exit_code == 0
    with State.open(project / "output" / "state.sqlite") as state:
        assert waiting not in {d.contact_id for d in state.deliveries()}  # not counted as sent: next month may mail
    rows = outbox_rows(project)
    assert {r["status"] for k, r in rows.items() if k[0] == waiting} == {"skipped"}
    assert recipient_of(project, waiting) not in {r.recipient for r in recorder.received}


def test_a_stop_signal_ends_a_wait_for_the_pacing_at_once(project: Path) -> None:
    """per_minute 1: after the first message the send waits a minute; SIGTERM then ends it at once, exit 143."""

    def sleep(seconds: float) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # arrives during the wait, as from a scheduler
        time.sleep(seconds)

    with smtp_server() as (server, recorder):
        configure(project, host="127.0.0.1", port=server.port, per_minute=1)
        started = time.monotonic()
        result = send_run(project, RUN, sleep=sleep)
    assert time.monotonic() - started < 30  # not the minute's wait
    assert (result.exit_code, len(recorder.received), result.counts[Status.SENT]) == (143, 1, 1)
    assert "SIGTERM" in result.stopped and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


def test_resend_and_resend_uncertain_together_are_refused(project: Path) -> None:
    """--resend names some uncertain messages, --resend-uncertain all of them: both at once is a usage error."""
    with smtp_server() as (server, recorder):
        configure(project, host="127.0.0.1", port=server.port)
        result = CliRunner().invoke(cli, ["--project", str(project), "send", RUN, "--resend-uncertain",
                                          "--resend", "<x@y>"])
    assert result.exit_code == 2 and "give one of the two" in result.output and recorder.transactions == 0


def test_a_queued_message_to_an_address_unsubscribed_since_may_be_gone_from_the_folder(project: Path) -> None:
    """A run made again after an unsubscribe no longer writes that message: the send skips it, and goes on."""
    with smtp_server() as (server, recorder):
        configure(project, host="127.0.0.1", port=server.port)
        send_run(project, RUN, limit=1)  # every message queued, the first sent
        waiting = sorted({c for c, kind in approved_messages(project).values() if kind == "newsletter"})[-1]
        address = recipient_of(project, waiting)
        suppressions = project / "data" / "suppressions.csv"
        suppressions.write_text(suppressions.read_text(encoding="utf-8") + f"{address},afgemeld,\n", encoding="utf-8")
        for eml in (project / "output" / RUN / "emails" / waiting).glob("*.eml"):
            eml.unlink()
        result = send_run(project, RUN)
    assert result.exit_code == 0
    assert {r["status"] for k, r in outbox_rows(project).items() if k[0] == waiting} == {"skipped"}
    assert address not in {r.recipient for r in recorder.received}


def test_connection_lost_before_the_data_is_deferred_not_uncertain(project: Path) -> None:
    """A 421 at RCPT closes the connection before any data: the message is deferred and sent later, once."""
    clock = FakeClock()
    address = recipient_of(project, "P001")
    recorder = Recorder(clock=clock, rcpt_replies={address: ["421 4.7.0 Too many messages, slow down"]})
    with smtp_server(recorder) as (server, _):
        configure(project, host="127.0.0.1", port=server.port)
        started = clock.now
        result = send_run(project, RUN, clock=clock, sleep=clock.sleep)
    row = outbox_rows(project)[("P001", "newsletter")]
    assert row["status"] == "sent" and row["attempts"] == 1  # a throttle reply does not use up an attempt
    assert result.exit_code == 0 and result.counts[Status.UNCERTAIN] == 0
    assert Counter(recorder.message_ids()).most_common(1)[0][1] == 1
    # P001's newsletter goes first: after the 421 the whole batch waited a minute.
    assert min(r.at for r in recorder.received) - started >= 60


def test_quota_reply_stops_the_send(project: Path) -> None:
    """554 5.2.0 (the mailbox's daily quota): nothing more is tried, the message stays queued, exit 1."""
    address = recipient_of(project, "P001")
    recorder = Recorder(data_replies={address: ["554 5.2.0 STOREDRV.Submission.Exception: quota exceeded"]})
    with smtp_server(recorder) as (server, _):
        configure(project, host="127.0.0.1", port=server.port)
        result = send_run(project, RUN)
    assert "quota" in result.stopped and result.exit_code == 1
    assert outbox_rows(project)[("P001", "newsletter")]["status"] == "queued"
    assert recorder.received == []  # P001's newsletter goes first; nothing after it was tried


def test_limit_says_what_is_left_and_a_run_that_does_not_exist_says_to_make_it(project: Path) -> None:
    """--limit N: the summary says how many are still queued, exit 1 (something is left to do); then the rest, exit 0.

    `send` of a date never run says to run it first."""
    with smtp_server() as (server, _):
        configure(project, host="127.0.0.1", port=server.port)
        runner = CliRunner()
        limited = runner.invoke(cli, ["--project", str(project), "send", RUN, "--limit", "2"])
        left = len(approved_messages(project)) - 2
        expected = f"{left} message(s) still queued after --limit 2; `windstil send {RUN}` goes on with them"
        assert expected in limited.output and limited.exit_code == 1
        rest = runner.invoke(cli, ["--project", str(project), "send", RUN])
        assert rest.exit_code == 0 and "still queued" not in rest.output
        missing = runner.invoke(cli, ["--project", str(project), "send", "2027-02-28"])
    assert missing.exit_code == 2
    assert "no run 2027-02-28 in" in missing.output and "windstil run --as-of 2027-02-28" in missing.output


def test_unapproved_run_exits_2(tiny_project: Path) -> None:
    """Sending a run that was not approved is refused with exit 2, before any connection."""
    run_batch(tiny_project, as_of=AS_OF, jobs=1)
    configure(tiny_project, host="127.0.0.1", port=9)  # nothing listens: the refusal comes first
    result = CliRunner().invoke(cli, ["--project", str(tiny_project), "send", RUN], catch_exceptions=False)
    assert result.exit_code == 2
    assert f"run {RUN} is rendered, not approved" in result.output


def test_no_delivery_settings_exits_2(project: Path) -> None:
    result = CliRunner().invoke(cli, ["--project", str(project), "send", RUN], catch_exceptions=False)
    assert result.exit_code == 2 and "no delivery: block" in result.output


@pytest.fixture
def password_server() -> object:
    from smtp_server import password_authenticator

    with smtp_server(authenticator=password_authenticator({"nieuws@polderlicht-it.nl": "juist"})) as running:
        yield running


def test_wrong_password_exits_1_with_one_line_and_nothing_sent(
    project: Path, password_server: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused login is one line and exit 1; nothing is marked sent or even queued."""
    server, recorder = password_server
    configure(project, host="127.0.0.1", port=server.port, auth="password", username="nieuws@polderlicht-it.nl")
    monkeypatch.setenv("WINDSTIL_SMTP_PASSWORD", "fout")
    result = CliRunner().invoke(cli, ["--project", str(project), "send", RUN], catch_exceptions=False)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: 127.0.0.1:{server.port}: login refused")
    assert "WINDSTIL_SMTP_PASSWORD" in lines[0]
    assert recorder.transactions == 0 and outbox_rows(project) == {}


def test_right_password_sends(project: Path, password_server: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    server, recorder = password_server
    configure(project, host="127.0.0.1", port=server.port, auth="password", username="nieuws@polderlicht-it.nl")
    monkeypatch.setenv("WINDSTIL_SMTP_PASSWORD", "juist")
    result = CliRunner().invoke(cli, ["--project", str(project), "send", RUN], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert len(recorder.received) == len(approved_messages(project))


def test_missing_password_variable_exits_2(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(project, host="127.0.0.1", port=9, auth="password", username="nieuws@polderlicht-it.nl")
    monkeypatch.delenv("WINDSTIL_SMTP_PASSWORD", raising=False)
    result = CliRunner().invoke(cli, ["--project", str(project), "send", RUN], catch_exceptions=False)
    assert result.exit_code == 2 and "WINDSTIL_SMTP_PASSWORD is not set" in result.output


def test_dry_run_logs_in_and_sends_nothing(project: Path, password_server: tuple,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """--dry-run connects and logs in (a wrong password fails it), sends nothing and writes nothing."""
    server, recorder = password_server
    configure(project, host="127.0.0.1", port=server.port, auth="password", username="nieuws@polderlicht-it.nl")
    monkeypatch.setenv("WINDSTIL_SMTP_PASSWORD", "juist")
    ok = CliRunner().invoke(cli, ["--project", str(project), "send", RUN, "--dry-run"], catch_exceptions=False)
    assert ok.exit_code == 0, ok.output
    assert f"logged in to 127.0.0.1:{server.port}; {len(approved_messages(project))} message(s)" in ok.output
    assert recorder.transactions == 0 and recorder.received == [] and outbox_rows(project) == {}
    monkeypatch.setenv("WINDSTIL_SMTP_PASSWORD", "fout")
    bad = CliRunner().invoke(cli, ["--project", str(project), "send", RUN, "--dry-run"], catch_exceptions=False)
    assert bad.exit_code == 1 and "login refused" in bad.output


def test_starttls_refused_by_a_plain_server_is_one_line_exit_1(project: Path) -> None:
    """security: starttls against a server without STARTTLS: one clear line, exit 1, nothing sent."""
    with smtp_server() as (server, recorder):
        configure(project, host="127.0.0.1", port=server.port, security="starttls")
        result = CliRunner().invoke(cli, ["--project", str(project), "send", RUN], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output.strip() == (f"error: 127.0.0.1:{server.port} does not offer STARTTLS; refusing to send in "
                                     "plain text (check delivery.host and delivery.port, or use security: tls)")
    assert recorder.transactions == 0


def test_outbox_command_and_csv(project: Path, tmp_path: Path) -> None:
    """`windstil outbox RUN --csv FILE` lists every message with its status, in the documented columns."""
    address = recipient_of(project, "P001")
    recorder = Recorder(rcpt_replies={address: ["550 5.1.1 User unknown"] * 2})
    with smtp_server(recorder) as (server, _):
        configure(project, host="127.0.0.1", port=server.port)
        send_run(project, RUN)
    out = tmp_path / "outbox.csv"
    result = CliRunner().invoke(cli, ["--project", str(project), "outbox", RUN, "--csv", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0
    assert "failed: newsletter P001" in result.output
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["contact_id", "kind", "message_id", "status", "attempts", "last_reply", "updated"]
    assert len(rows) == len(approved_messages(project))
    first = rows[0]
    assert (first["contact_id"], first["kind"], first["status"], first["attempts"]) == ("P001", "newsletter",
                                                                                      "failed", "1")
    assert {r["kind"] for r in rows} == {"newsletter", "alert", "calls"}


def test_changed_run_folder_is_refused(project: Path) -> None:
    """A message whose Message-ID differs from the approved one (the folder changed) stops the send, exit 2."""
    path = project / "output" / RUN / "emails" / "P001" / "newsletter.eml"
    text = path.read_bytes().replace(b"Message-ID: <", b"Message-ID: <x", 1)
    path.write_bytes(text)
    with smtp_server() as (server, recorder):
        configure(project, host="127.0.0.1", port=server.port)
        result = CliRunner().invoke(cli, ["--project", str(project), "send", RUN], catch_exceptions=False)
    assert result.exit_code == 2
    assert "emails/P001/newsletter.eml: Message-ID: differs from the approved message" in result.output
    assert recorder.transactions == 0


# --------------------------------------------------------------------------- killed mid-batch


@pytest.mark.slow
def test_sigkill_mid_batch_then_resend_delivers_each_message_once(project: Path) -> None:
    """kill -9 during a batch, send again: every message accepted once, at most `connections` uncertain and listed."""
    recorder = Recorder(delay=0.15)
    with smtp_server(recorder) as (server, _):
        configure(project, host="127.0.0.1", port=server.port, connections=2)
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        command = [sys.executable, "-m", "pipeline", "--project", str(project), "send", RUN]
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while recorder.transactions < 3 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.01)
        time.sleep(0.07)  # most likely while the server holds a message before answering
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]
        killed_at = len(recorder.received)
        expected = approved_messages(project)
        assert 0 < killed_at < len(expected), "the kill must land mid-batch"
        recorder.delay = 0.0
        again = CliRunner().invoke(cli, ["--project", str(project), "send", RUN], catch_exceptions=False)
        time.sleep(0.3)  # let a handler still sleeping from before the kill finish recording
    rows = outbox_rows(project)
    uncertain = {r["message_id"] for r in rows.values() if r["status"] == "uncertain"}
    received = Counter(recorder.message_ids())
    assert len(uncertain) <= 2
    assert max(received.values()) == 1, "a message was accepted twice"
    assert set(received) | uncertain == set(expected)
    assert {r["status"] for r in rows.values()} <= {"sent", "uncertain"}
    for message_id in set(expected) - uncertain:
        assert received[message_id] == 1
    # The uncertain ones are listed, each with its address, and make the exit code 1.
    assert again.exit_code == (1 if uncertain else 0)
    for message_id in uncertain:
        assert message_id in again.output


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "connections"), [(signal.SIGINT, 1), (signal.SIGTERM, 2)])
def test_stop_signal_finishes_the_message_in_flight_and_exits_128_plus_n(
    project: Path, signum: signal.Signals, connections: int
) -> None:
    """Ctrl+C or SIGTERM mid-batch: the messages in a transaction finish and are `sent`, none uncertain; exit 128+N."""
    recorder = Recorder(delay=0.15)
    with smtp_server(recorder) as (server, _):
        configure(project, host="127.0.0.1", port=server.port, connections=connections)
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        command = [sys.executable, "-m", "pipeline", "--project", str(project), "send", RUN]
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while recorder.transactions < 3 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.01)
        time.sleep(0.07)  # most likely while the server holds a message before answering
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=20)
        stopped_at = len(recorder.received)
        rows = outbox_rows(project)
        assert process.returncode == 128 + signum, stderr
        assert "no new message was started" in stderr
        assert 0 < stopped_at < len(approved_messages(project)), "the signal must land mid-batch"
        assert {r["status"] for r in rows.values()} == {"sent", "queued"}
        sent = {r["message_id"] for r in rows.values() if r["status"] == "sent"}
        assert sent == set(recorder.message_ids())
        again = CliRunner().invoke(cli, ["--project", str(project), "send", RUN], catch_exceptions=False)
    assert again.exit_code == 0
    assert Counter(recorder.message_ids()) == Counter({m: 1 for m in approved_messages(project)})


# --------------------------------------------------------------------------- pacing


@pytest.fixture(scope="module")
def demo_approved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo project of 40 customers (about 60 messages), run and approved."""
    from pipeline.demo import generate_project

    root = tmp_path_factory.mktemp("demo") / "project"
    generate_project(root, 40, 7)
    run_batch(root, as_of=AS_OF, jobs=1)
    approve_run(root, RUN)
    return root


def test_per_minute_holds_across_a_restart(demo_approved: Path, tmp_path: Path) -> None:
    """per_minute: 30: no 60-second window of the server's receive times holds more than 30, across a restart.

    The sender and the server's handler read the same fake clock; the sender's sleeps advance
    it. The first send stops after 45 messages (--limit), the second starts at once and must
    count the first one's recent messages from the outbox.
    """
    project = tmp_path / "project"
    shutil.copytree(demo_approved, project)
    clock = FakeClock()
    recorder = Recorder(clock=clock)
    with smtp_server(recorder) as (server, _):
        configure(project, host="127.0.0.1", port=server.port, per_minute=30)
        first = send_run(project, RUN, limit=45, clock=clock, sleep=clock.sleep)
        restart = clock.now
        second = send_run(project, RUN, clock=clock, sleep=clock.sleep)
    total = len(approved_messages(project))
    assert total > 50
    assert first.done[Status.SENT] == 45 and second.done[Status.SENT] == total - 45
    times = sorted(r.at for r in recorder.received)
    assert len(times) == total
    busiest = max(sum(1 for t in times if start <= t < start + 60) for start in times)
    assert busiest == 30  # full windows, never more
    # Without the outbox's count, the restart would have sent its first 30 at once.
    assert sum(1 for t in times if restart - 60 < t < restart + 60) > 30
    assert all(later - earlier >= 60 for earlier, later in zip(times, times[30:], strict=False))


def test_per_day_full_stops_with_when_to_try_again(project: Path) -> None:
    """A per_day window that stays full for longer than the wait limit stops the send (exit 1), saying when."""
    clock = FakeClock()
    with smtp_server(Recorder(clock=clock)) as (server, recorder):
        configure(project, host="127.0.0.1", port=server.port, per_day=3)
        result = send_run(project, RUN, clock=clock, sleep=clock.sleep)
    assert len(recorder.received) == 3 and result.counts[Status.QUEUED] == len(approved_messages(project)) - 3
    assert result.exit_code == 1 and "the next message can go at" in result.stopped


def test_rows_left_sending_after_a_crash_or_a_reboot(project: Path) -> None:
    """At start-up: stage 2 or another boot means uncertain; reserved in this boot (data never ended) means queued.

    Reservations are flushed to disk, the stage-2 mark only reaches the operating system: it
    survives a killed process, not a power cut. After a reboot every `sending` row is uncertain.
    """
    from pipeline.mail.outbox import boot_id

    with smtp_server() as (server, recorder):
        configure(project, host="127.0.0.1", port=server.port)
        send_run(project, RUN, limit=1)  # the outbox is filled; one message sent
        with State.open(project / "output" / "state.sqlite") as state, state.transaction() as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM outbox WHERE status = 'queued' ORDER BY id LIMIT 3")]
            conn.execute("UPDATE outbox SET status = 'sending', stage = 2, boot = ? WHERE id = ?", (boot_id(), ids[0]))
            conn.execute("UPDATE outbox SET status = 'sending', stage = 1, boot = ? WHERE id = ?", (boot_id(), ids[1]))
            conn.execute("UPDATE outbox SET status = 'sending', stage = 1, boot = 'before-a-reboot' WHERE id = ?",
                         (ids[2],))
        result = send_run(project, RUN)
    with State.open(project / "output" / "state.sqlite") as state:
        status = {r["id"]: r["status"] for r in state.query("SELECT id, status FROM outbox")}
    assert [status[i] for i in ids] == ["uncertain", "sent", "uncertain"]
    assert sorted(r.id for r in result.interrupted) == [ids[0], ids[2]]
    assert len(recorder.received) == len(approved_messages(project)) - 2


def test_a_message_queued_by_another_run_of_the_month_is_not_queued_again(tmp_path: Path) -> None:
    """The outbox holds one message per contact, kind and month: a re-run's copy is reported, not queued."""
    from pipeline.mail.outbox import Outbox, PlannedMessage

    def planned(contact: str, month: str = "2026-11") -> PlannedMessage:
        return PlannedMessage(contact, "newsletter", month, f"<{contact}.{month}@x>", f"{contact}@example.org",
                              f"emails/{contact}/newsletter.eml")

    with State.open(tmp_path / "state.sqlite") as state:
        for run_id in ("2026-11-29", "2026-11-30"):
            state.record_run(run_id, date.fromisoformat(run_id), {})
        assert Outbox(state, "2026-11-29").enqueue([planned("P001")], 1_800_000_000.0) == (1, [])
        added, elsewhere = Outbox(state, "2026-11-30").enqueue(
            [planned("P001"), planned("P002"), planned("P001", "2026-12")], 1_800_000_100.0)
        again = Outbox(state, "2026-11-30").enqueue([planned("P002")], 1_800_000_200.0)
    assert added == 2
    assert [(r.run_id, r.contact_id, r.month) for r in elsewhere] == [("2026-11-29", "P001", "2026-11")]
    assert again == (0, [])
