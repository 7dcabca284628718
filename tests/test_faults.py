"""Faults during a run: full disk, no permission, cut-off input, a locked or corrupt state.

Every test first makes a good run (the "previous output"), then provokes the fault in a run
for another as-of date and checks that the run fails clearly (exit code, one-line message,
no traceback, no temporary folder) and that the previous run folder and the state database
are byte-identical afterwards. SIGTERM/SIGINT and two runs at once are in test_run.py.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pathlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import pipeline.run as run_module
import pipeline.writer as writer_module
from pipeline.cli import cli
from pipeline.state import State

PREVIOUS = "2026-10-31"
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


def state_files(project: Path) -> dict[str, bytes]:
    """The state database's files, byte for byte (the WAL is merged and removed on close)."""
    output = project / "output"
    return {p.name: p.read_bytes() for p in sorted(output.glob("state.sqlite*"))}


@pytest.fixture
def project(tiny_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny project after one good run (PREVIOUS), with its approval recorded."""
    monkeypatch.setenv("WINDSTIL_SECRET", "fault-test-secret-0123456789")
    code, output = invoke(tiny_project, "run", "--as-of", PREVIOUS, "--jobs", "1")
    assert code == 0, output
    assert invoke(tiny_project, "approve", PREVIOUS)[0] == 0
    return tiny_project


@pytest.fixture
def unchanged(project: Path) -> Iterator[None]:
    """Assert, after the test, that the previous run folder and the state are byte-identical."""
    before = tree_digest(project / "output" / PREVIOUS)
    state_before = state_files(project)
    assert state_before
    yield
    assert tree_digest(project / "output" / PREVIOUS) == before
    assert state_files(project) == state_before
    assert not list((project / "output").glob(".*.tmp-*")), "a temporary folder was left behind"
    assert not (project / "output" / RUN_ID).exists()


class _OS:
    """The os module as pipeline.writer sees it, with some calls replaced."""

    def __init__(self, **replaced: Any) -> None:
        self._replaced = replaced

    def __getattr__(self, name: str) -> Any:
        return self._replaced.get(name) or getattr(os, name)


def count_writes(project: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Return how many os.write calls a run of RUN_ID makes through the writer (dry run)."""
    calls = 0

    def counting(fd: int, data: Any) -> int:
        nonlocal calls
        calls += 1
        return os.write(fd, data)

    with monkeypatch.context() as m:
        m.setattr(writer_module, "os", _OS(write=counting))
        assert invoke(project, "run", "--as-of", RUN_ID, "--jobs", "1", "--dry-run")[0] == 0
    return calls


# --------------------------------------------------------------------------- disk full


@pytest.mark.parametrize("when", ["first", "middle", "last"])
def test_disk_full_aborts_cleanly(project: Path, unchanged: None, monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    """ENOSPC on the first, a middle or the very last write: exit 1, a clear message, nothing kept."""
    total = count_writes(project, monkeypatch)
    assert total > 20
    fail_at = {"first": 1, "middle": total // 2, "last": total}[when]
    calls = 0

    def full(fd: int, data: Any) -> int:
        nonlocal calls
        calls += 1
        if calls >= fail_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(fd, data)

    monkeypatch.setattr(writer_module, "os", _OS(write=full))
    code, output = invoke(project, "run", "--as-of", RUN_ID, "--jobs", "1")
    assert code == 1
    assert "error: cannot write" in output
    assert "No space left on device" in output
    assert "Traceback" not in output


def test_disk_full_for_the_working_data_aborts_cleanly(
    project: Path, unchanged: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC while the run keeps its working data on disk (records, segmentation): same clean exit."""
    real = run_module.tempfile.TemporaryFile

    class Full:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._file = real(*args, **kwargs)
            self.written = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self._file, name)

        def write(self, data: bytes) -> int:
            self.written += 1
            if self.written >= 2:  # the segmentation's first part went in
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return int(self._file.write(data))

    monkeypatch.setattr(run_module.tempfile, "TemporaryFile", Full)
    code, output = invoke(project, "run", "--as-of", RUN_ID, "--jobs", "1")
    assert code == 1
    assert "error: cannot keep the run's working data in" in output
    assert "No space left on device" in output
    assert "Traceback" not in output
    assert not (project / "output" / RUN_ID).exists()


# --------------------------------------------------------------------------- permission denied


def test_permission_denied_on_output(project: Path, unchanged: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """output/ that may not be written to: exit 1 with the folder named; nothing changes.

    Simulated, because CI runs as root and chmod denies root nothing: creating a folder or a
    file directly in output/ raises PermissionError, as the kernel does for a read-only folder.
    """
    output = project / "output"
    real_mkdir = pathlib.Path.mkdir
    real_open = os.open

    def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if self.parent == output and not self.exists():
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        real_mkdir(self, *args, **kwargs)

    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT and Path(path).parent == output and not Path(path).exists():
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)
    monkeypatch.setattr(writer_module, "os", _OS(open=open_))
    code, output_text = invoke(project, "run", "--as-of", RUN_ID, "--jobs", "1")
    assert code == 1
    assert f"error: cannot create {output}/.{RUN_ID}.tmp-{os.getpid()}: Permission denied" in output_text
    assert "Traceback" not in output_text


@pytest.mark.skipif(os.geteuid() == 0, reason="chmod does not deny root; the simulated test above covers it")
def test_read_only_output_as_a_normal_user(project: Path, unchanged: None) -> None:
    """A real read-only output/ (chmod 500) fails the run with exit 1 and no traceback."""
    output = project / "output"
    output.chmod(0o500)
    try:
        code, output_text = invoke(project, "run", "--as-of", RUN_ID, "--jobs", "1")
    finally:
        output.chmod(0o755)
    assert code == 1
    assert "Traceback" not in output_text


# --------------------------------------------------------------------------- cut-off input


def test_a_csv_cut_off_mid_file_stops_the_run_naming_file_and_line(project: Path, unchanged: None) -> None:
    """contacts.csv cut off inside a quoted cell on line 3: exit 2, the file and the line are named."""
    path = project / "data" / "contacts.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[2].startswith("P002;")
    path.write_text("".join(lines[:2]) + 'P002;C001;Pieter;Smit;p.smit@lindehof.nl;+31 30;"Teamleider IC', "utf-8")
    code, output = invoke(project, "run", "--as-of", RUN_ID, "--jobs", "1")
    assert code == 2
    assert output.startswith("error: contacts.csv: 1 of 2 rows rejected")
    assert "contacts.csv:3: job_title: row cut off: a quote opened here is never closed" in output
    assert "Traceback" not in output


def test_a_csv_whose_last_line_is_cut_off_rejects_that_row(project: Path) -> None:
    """orders.csv whose last line ends inside a quote: that row is rejected with its line; the rest runs."""
    path = project / "data" / "orders.csv"
    text = path.read_text(encoding="utf-8")
    last = text.rstrip("\n").rsplit("\n", 1)[1]
    line = text.rstrip("\n").count("\n") + 1
    path.write_text(text.rstrip("\n")[: -len(last)] + last.replace(",Back-up Pro (", ',"Back-up Pro ('), "utf-8")
    before = tree_digest(project / "output" / PREVIOUS)
    code, output = invoke(project, "run", "--as-of", RUN_ID, "--jobs", "1")
    assert code == 0, output
    rejects = (project / "output" / RUN_ID / "rejects.csv").read_text(encoding="utf-8")
    assert f"orders.csv,{line},description," in rejects
    assert "row cut off" in rejects
    assert tree_digest(project / "output" / PREVIOUS) == before


# --------------------------------------------------------------------------- the state database


@pytest.fixture
def quick_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wait 0.2 s instead of 5 s for a locked state, to keep the tests fast."""
    original = State.open.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(State, "open", classmethod(lambda cls, path, timeout=0.2: original(cls, path, timeout=timeout)))
    assert run_module.State is State


@pytest.mark.parametrize("command", ["run", "approve", "unsubscribe"])
def test_a_locked_state_fails_clearly_and_changes_nothing(
    project: Path, quick_timeout: None, tmp_path: Path, command: str
) -> None:
    """Another process holding the state (BEGIN EXCLUSIVE): exit 1, 'locked' named, nothing written."""
    path = project / "output" / "state.sqlite"
    before, state_before = tree_digest(project / "output" / PREVIOUS), state_files(project)
    if command == "approve":
        assert invoke(project, "run", "--as-of", RUN_ID, "--jobs", "1")[0] == 0
        before, state_before = tree_digest(project / "output" / PREVIOUS), state_files(project)
        args: tuple[str, ...] = ("approve", RUN_ID)
    elif command == "unsubscribe":
        file = tmp_path / "addresses.txt"
        file.write_text("someone@example.nl\n")
        args = ("unsubscribe", "import", str(file))
    else:
        args = ("run", "--as-of", RUN_ID, "--jobs", "1")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        code, output = invoke(project, *args)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 1, output
    assert "locked by another Windstil process" in output
    assert "Traceback" not in output
    assert tree_digest(project / "output" / PREVIOUS) == before
    assert state_files(project) == state_before
    if command == "run":
        assert not (project / "output" / RUN_ID).exists()
    assert not list((project / "output").glob(".*.tmp-*"))


def test_a_corrupt_state_is_refused_and_left_as_it_is(project: Path) -> None:
    """Garbage bytes as the state: the run exits 1 naming the file; the file is unchanged; state check exits 1."""
    path = project / "output" / "state.sqlite"
    garbage = bytes(range(256)) * 64
    path.write_bytes(garbage)
    before = tree_digest(project / "output" / PREVIOUS)
    code, output = invoke(project, "run", "--as-of", RUN_ID, "--jobs", "1")
    assert code == 1
    assert f"{path} is not a Windstil state database" in output
    assert "Traceback" not in output
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in path.parent.glob("state.sqlite*")) == ["state.sqlite"]
    assert tree_digest(project / "output" / PREVIOUS) == before
    assert not (project / "output" / RUN_ID).exists()
    code, output = invoke(project, "state", "check")
    assert code == 1
    assert "integrity" in output
    assert path.read_bytes() == garbage


def test_a_damaged_page_is_found_by_state_check(project: Path) -> None:
    """A SQLite file with a damaged page: state check reports the problem (exit 1); a run refuses it."""
    path = project / "output" / "state.sqlite"
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    assert len(data) >= 3 * page
    data[page : page + 200] = b"\xa5" * 200  # the second page: a table's b-tree page
    path.write_bytes(bytes(data))
    damaged = path.read_bytes()
    code, output = invoke(project, "state", "check")
    assert code == 1, output
    assert "integrity problem" in output
    code, output = invoke(project, "run", "--as-of", RUN_ID, "--jobs", "1")
    assert code == 1
    assert "Traceback" not in output
    assert path.read_bytes() == damaged
    assert not (project / "output" / RUN_ID).exists()


def test_state_check_on_a_sound_state(project: Path) -> None:
    """state check on a good database says ok with the counts, exits 0 and changes nothing."""
    before = state_files(project)
    code, output = invoke(project, "state", "check")
    assert code == 0, output
    assert "ok (1 runs," in output
    assert state_files(project) == before


def test_state_check_on_a_locked_state_says_busy_not_broken(project: Path, quick_timeout: None) -> None:
    """state check while another process holds the database: exit 1, 'locked', and no advice to restore."""
    holder = sqlite3.connect(project / "output" / "state.sqlite", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        code, output = invoke(project, "state", "check")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 1
    assert "locked by another Windstil process" in output
    assert "restore" not in output


def test_state_check_without_a_state(tiny_project: Path) -> None:
    """Before the first run there is nothing to check: exit 0, and no database is created."""
    code, output = invoke(tiny_project, "state", "check")
    assert code == 0
    assert "no state database yet" in output
    assert not (tiny_project / "output" / "state.sqlite").exists()
