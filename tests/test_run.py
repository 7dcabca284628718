"""The monthly run end to end on the tiny project: output, atomicity, re-runs, approval."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli

REPO = Path(__file__).resolve().parents[1]
CHECK_RUN = REPO.parent / "shared" / "tools" / "check-run"
RUN_ID = "2026-11-30"


def invoke(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--project", str(project), *args], catch_exceptions=False)
    return result.exit_code, result.output


def tree_digest(folder: Path) -> dict[str, str]:
    """Map every file below `folder` to the sha256 of its bytes."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def state_dump(project: Path) -> list[tuple[object, ...]]:
    """Every row of every table of the project's state, for before/after comparisons."""
    path = project / "output" / "state.sqlite"
    if not path.exists():
        return []
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return [(t, *row) for t in tables for row in conn.execute(f"SELECT * FROM {t} ORDER BY 1")]


def newsletter_deliveries(project: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(project / "output" / "state.sqlite") as conn:
        return sorted(conn.execute("SELECT contact_id, kind FROM deliveries WHERE kind = 'newsletter'"))


@pytest.fixture
def project(tiny_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WINDSTIL_SECRET", "test-secret-not-for-production")
    return tiny_project


def test_run_writes_the_whole_run_folder(project: Path) -> None:
    """A run writes every file of the documented run folder and a manifest with its as-of date."""
    code, output = invoke(project, "run", "--as-of", RUN_ID, "--jobs", "1")
    assert code == 0, output
    run = project / "output" / RUN_ID
    for name in ("index.html", "manifest.json", "recipients.csv", "rejects.csv", "segments.csv",
                 "reports/segments.html", "reports/retention.html", "calls/all.csv"):
        assert (run / name).is_file(), name
    for report in ("segments", "retention"):  # each report leads back to the run's overview
        page = (run / "reports" / f"{report}.html").read_text("utf-8")
        assert '<a href="../index.html">← Terug naar het overzicht van deze run</a>' in page
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["as_of"] == RUN_ID
    assert manifest["counts"]["newsletters"] == len(list(run.glob("emails/*/newsletter.eml")))
    assert manifest["counts"]["newsletters"] > 0
    assert "test-secret" not in (run / "manifest.json").read_text()
    assert "newsletters" in output and f"run {RUN_ID}" in output
    assert not list((project / "output").glob(".*.tmp-*"))


@pytest.mark.skipif(not CHECK_RUN.exists(), reason="shared/tools/check-run is not beside the checkout")
def test_run_passes_the_contract_check(project: Path) -> None:
    """check-run, the structural check of a run folder, passes on the tiny project's run."""
    assert invoke(project, "run", "--as-of", RUN_ID, "--jobs", "1")[0] == 0
    done = subprocess.run([sys.executable, str(CHECK_RUN), str(project / "output" / RUN_ID)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_same_inputs_give_byte_identical_emails(project: Path) -> None:
    """Two runs of the same inputs, one with two processes, write the same e-mail bytes."""
    assert invoke(project, "run", "--as-of", RUN_ID, "--jobs", "1")[0] == 0
    first = tree_digest(project / "output" / RUN_ID / "emails")
    assert invoke(project, "run", "--as-of", RUN_ID, "--jobs", "2")[0] == 0
    assert tree_digest(project / "output" / RUN_ID / "emails") == first
    assert first


def test_dry_run_writes_nothing(project: Path) -> None:
    """--dry-run does all the work but leaves no run folder and no state behind."""
    code, output = invoke(project, "run", "--as-of", RUN_ID, "--dry-run")
    assert code == 0, output
    assert "dry run" in output
    assert not (project / "output" / RUN_ID).exists()
    assert state_dump(project) == [] or ("runs",) not in {row[:1] for row in state_dump(project)}


def test_approved_run_is_refused_without_force(project: Path) -> None:
    """Re-running an approved as-of date exits 2 unless --force is given."""
    assert invoke(project, "run", "--as-of", RUN_ID)[0] == 0
    assert invoke(project, "approve", RUN_ID)[0] == 0
    code, output = invoke(project, "run", "--as-of", RUN_ID)
    assert code == 2
    assert "--force" in output
    assert invoke(project, "run", "--as-of", RUN_ID, "--force")[0] == 0


def test_one_newsletter_per_contact_per_month_whatever_is_rerun(project: Path) -> None:
    """Approve twice, re-run with --force, approve again: one newsletter delivery per contact."""
    assert invoke(project, "run", "--as-of", RUN_ID)[0] == 0
    made = sorted(p.parent.name for p in (project / "output" / RUN_ID).glob("emails/*/newsletter.eml"))
    messages = len(list((project / "output" / RUN_ID).glob("emails/*/*.eml")))
    code, first = invoke(project, "approve", RUN_ID)
    assert code == 0
    assert f"{messages} deliveries recorded" in first
    assert "no exclusion list given: every recipient of the run is approved" in first
    assert f"next: windstil send {RUN_ID}" in first and "call lists were made with the run" not in first
    code, second = invoke(project, "approve", RUN_ID)
    assert code == 0 and "already" in second
    assert invoke(project, "run", "--as-of", RUN_ID, "--force")[0] == 0
    assert invoke(project, "approve", RUN_ID)[0] == 0
    # A later run in the same month cannot add a second one either.
    assert invoke(project, "run", "--as-of", "2026-11-30", "--force")[0] == 0
    assert invoke(project, "approve", RUN_ID)[0] == 0
    assert newsletter_deliveries(project) == [(cid, "newsletter") for cid in made]


def test_approve_leaves_out_excluded_contacts(project: Path, tmp_path: Path) -> None:
    """Contacts in the exclusion file get no delivery; an unknown id names its line and exits 2."""
    assert invoke(project, "run", "--as-of", RUN_ID)[0] == 0
    made = sorted(p.parent.name for p in (project / "output" / RUN_ID).glob("emails/*/newsletter.eml"))
    assert len(made) >= 2
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{made[0]}\nNOPE-999\n")
    code, output = invoke(project, "approve", RUN_ID, "--exclude", str(bad))
    assert code == 2
    assert "bad.txt:2: contact_id" in output
    # The contact left out: one whose customer is on a call list, which was written with the run.
    run = project / "output" / RUN_ID
    calls = {row["customer_id"]: row for row in csv.DictReader(io.StringIO((run / "calls" / "all.csv").read_text()))}
    customer_of = {row["contact_id"]: row["customer_id"]
                   for row in csv.DictReader(io.StringIO((run / "recipients.csv").read_text()))}
    left_out = next(c for c in made if customer_of[c] in calls)
    exclude = tmp_path / "exclude.txt"
    exclude.write_text(f"# reviewer: not this month\n{left_out}\n")
    code, output = invoke(project, "approve", RUN_ID, "--exclude", str(exclude))
    assert code == 0, output
    assert newsletter_deliveries(project) == [(cid, "newsletter") for cid in made if cid != left_out]
    call = calls[customer_of[left_out]]
    assert "no exclusion list given" not in output
    assert ("warning: the call lists were made with the run: what they say about 1 customer(s) may mention messages "
            f"that will not be sent now; tell the account managers: {call['account_manager_id']}: "
            f"{call['customer']} ({call['customer_id']})") in output


def test_stale_call_rows_never_stop_an_approval(project: Path, tmp_path: Path) -> None:
    """The call-list check reads the run's files as written; one re-saved by a spreadsheet warns, never fails."""
    from pipeline.approve import stale_calls

    assert invoke(project, "run", "--as-of", RUN_ID)[0] == 0
    run = project / "output" / RUN_ID
    called = {row["customer_id"] for row in csv.DictReader(io.StringIO((run / "calls" / "all.csv").read_text()))}
    mailed = {row["contact_id"]: row["customer_id"]
              for row in csv.DictReader(io.StringIO((run / "recipients.csv").read_text()))
              if row["newsletter"] == "rendered"}
    contact = next(c for c, customer in mailed.items() if customer in called)
    assert [s.customer_id for s in stale_calls(run, {contact})] == [mailed[contact]]
    assert stale_calls(run, {"P-NOT-HERE"}) == ()
    # Saved again by Excel: another code page, or ';' between the cells.
    (run / "calls" / "all.csv").write_bytes("customer_id;customer\nC1;Café\n".encode("cp1252"))
    assert stale_calls(run, {contact}) == ()
    (run / "calls" / "all.csv").write_text("customer_id;customer\nC1;X\n")
    assert stale_calls(run, {contact}) == ()
    (run / "calls" / "all.csv").unlink()
    assert stale_calls(run, {contact}) == ()
    exclude = tmp_path / "exclude.txt"
    exclude.write_text(f"{contact}\n")
    (run / "calls" / "all.csv").write_bytes("customer_id;customer\nC1;Café\n".encode("cp1252"))
    code, output = invoke(project, "approve", RUN_ID, "--exclude", str(exclude))
    assert code == 0, output
    assert "could not check the call lists for rows about the contacts left out" in output
    assert f"next: windstil send {RUN_ID}" in output


def test_next_run_honours_cadence_of_approved_deliveries(project: Path) -> None:
    """After approval, a run 20 days later skips those contacts with reason cadence."""
    assert invoke(project, "run", "--as-of", RUN_ID)[0] == 0
    assert invoke(project, "approve", RUN_ID)[0] == 0
    assert invoke(project, "run", "--as-of", "2026-12-20")[0] == 0
    rows = (project / "output" / "2026-12-20" / "recipients.csv").read_text().splitlines()
    made = {p.parent.name for p in (project / "output" / RUN_ID).glob("emails/*/newsletter.eml")}
    header = rows[0].split(",")
    for line in rows[1:]:
        cells = dict(zip(header, line.split(","), strict=False))
        if cells["contact_id"] in made:
            assert cells["newsletter"] == "skipped"
            assert "cadence" in cells["reason"]


# --------------------------------------------------------------------------- killed runs

HOOK = """
import os, sys, time
from pathlib import Path
import pipeline.workers as workers
marker = Path(sys.argv[1])
original = workers.render_messages
calls = 0
def slow(*args, **kwargs):
    global calls
    calls += 1
    if calls == 2:
        marker.write_text(str(os.getpid()))
        time.sleep(60)
    return original(*args, **kwargs)
workers.render_messages = slow
from pipeline.cli import cli
cli(sys.argv[2:], prog_name="windstil")
"""


# The same with two spawned render processes, one recipient a chunk: the run stops after
# handing out two chunks (the processes render them meanwhile) and waits there, until the
# test writes `<marker>.released` (at most 60 s). The wait is in the pool's task thread,
# which pool.terminate() joins: without the release a stopped run could not exit before
# the 60 s were up, and the test's own 60 s timeout raced it.
HOOK_PROCESSES = """
import multiprocessing, os, sys, time
from pathlib import Path
import pipeline.workers as workers
marker = Path(sys.argv[1])
released = marker.with_suffix(".released")
workers.CHUNK = 1
chunks = workers.chunks
def slow(*args, **kwargs):
    for n, chunk in enumerate(chunks(*args, **kwargs)):
        if n == 2:
            marker.write_text(" ".join(str(p.pid) for p in multiprocessing.active_children()))
            deadline = time.monotonic() + 60
            while not released.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        yield chunk
workers.chunks = slow
from pipeline.cli import cli
cli(sys.argv[2:], prog_name="windstil")
"""


def start_slow_run(project: Path, marker: Path, jobs: int = 1) -> subprocess.Popen[str]:
    """Start `windstil run` in a subprocess that stops in the middle of rendering."""
    env = {**os.environ, "WINDSTIL_SECRET": "test-secret-not-for-production"}
    hook = HOOK if jobs == 1 else HOOK_PROCESSES
    proc = subprocess.Popen(
        [sys.executable, "-c", hook, str(marker), "--project", str(project), "run", "--as-of", RUN_ID,
         "--jobs", str(jobs)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never reached rendering"
        time.sleep(0.05)
    return proc


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_killed_run_leaves_previous_output_and_state_untouched(project: Path, tmp_path: Path, signum: int) -> None:
    """A run killed mid-render leaves the previous run folder byte-identical and the state unchanged."""
    assert invoke(project, "run", "--as-of", RUN_ID)[0] == 0
    before, state_before = tree_digest(project / "output" / RUN_ID), state_dump(project)
    proc = start_slow_run(project, tmp_path / "rendering")
    os.kill(proc.pid, signum)
    _, err = proc.communicate(timeout=60)
    if signum == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 128 + signum, err
        assert "interrupted" in err
        assert not list((project / "output").glob(".*.tmp-*")), "the temp folder was not removed"
    assert tree_digest(project / "output" / RUN_ID) == before
    assert state_dump(project) == state_before
    code, output = invoke(project, "run", "--as-of", RUN_ID)
    assert code == 0, output
    assert not list((project / "output").glob(".*.tmp-*"))
    assert tree_digest(project / "output" / RUN_ID / "emails") == {
        k[len("emails/"):]: v for k, v in before.items() if k.startswith("emails/")
    }


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has ended; only its parent may reap it


@pytest.mark.slow
def test_run_stopped_while_render_processes_work_leaves_no_files_and_no_processes(
    project: Path, tmp_path: Path
) -> None:
    """SIGTERM while spawned render processes write: exit 143, no temp folder, no process left behind."""
    marker = tmp_path / "rendering"
    proc = start_slow_run(project, marker, jobs=2)
    time.sleep(0.5)  # the two chunks handed out are being written
    workers = [int(pid) for pid in marker.read_text().split()]
    assert len(workers) == 2
    os.kill(proc.pid, signal.SIGTERM)
    time.sleep(0.5)  # the run is stopping: now let the pool's task thread go, so it can be joined
    marker.with_suffix(".released").touch()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "interrupted" in err
    assert not list((project / "output").glob(".*.tmp-*")), "the temp folder was not removed"
    assert not (project / "output" / RUN_ID).exists()
    assert not [pid for pid in workers if _alive(pid)], "a render process outlived the run"
    code, output = invoke(project, "run", "--as-of", RUN_ID)
    assert code == 0, output


@pytest.mark.slow
def test_second_run_at_once_is_refused_with_the_holders_pid(project: Path, tmp_path: Path) -> None:
    """While one run works on a project, a second is refused and names the first one's pid."""
    proc = start_slow_run(project, tmp_path / "rendering")
    try:
        code, output = invoke(project, "run", "--as-of", RUN_ID)
        assert code == 2
        assert f"pid {proc.pid}" in output
    finally:
        proc.kill()
        proc.communicate()


def test_the_run_that_makes_the_unsubscribe_secret_says_so_on_the_review_site(
    tiny_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without WINDSTIL_SECRET the first run makes one: a run warning (manifest, overview) says so, once.

    A dry run before it writes no secret (it writes nothing), and does not take the warning away."""
    monkeypatch.delenv("WINDSTIL_SECRET", raising=False)
    code, output = invoke(tiny_project, "run", "--as-of", RUN_ID, "--dry-run")
    assert code == 0, output
    assert not (tiny_project / "output" / "secret").exists()
    assert invoke(tiny_project, "run", "--as-of", RUN_ID)[0] == 0
    folder = tiny_project / "output" / RUN_ID
    said = [w for w in json.loads((folder / "manifest.json").read_text())["warnings"] if "secret" in w]
    assert said == ["WINDSTIL_SECRET is not set: the unsubscribe links in these e-mails are signed with the file "
                    "`secret` next to the state database, made for this project's first run; keep it with the "
                    "state, and give `windstil serve` (or whatever answers the unsubscribe links) the same secret"]
    assert "afmeldlinks in deze e-mails zijn ondertekend" in (folder / "index.html").read_text(encoding="utf-8")
    assert (tiny_project / "output" / "secret").is_file()
    assert invoke(tiny_project, "run", "--as-of", RUN_ID)[0] == 0  # the secret is there now: no warning
    again = json.loads((folder / "manifest.json").read_text())["warnings"]
    assert not [w for w in again if "secret" in w]
