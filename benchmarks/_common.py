"""Shared helpers of the benchmarks: demo projects and a process-tree RSS sampler."""

from __future__ import annotations

import ctypes
import filecmp
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WINDSTIL = [sys.executable, "-m", "pipeline"]
AS_OF = "2026-11-30"


def demo_project(folder: Path, customers: int, seed: int = 1) -> Path:
    """Write (once) a `windstil demo-data` project of `customers` customers under `folder`.

    A project made by an older Windstil (templates, content or settings unlike today's) is
    moved aside and made afresh: a benchmark measures what `demo-data` makes now.
    """
    out = folder / f"demo-{customers}-{seed}"
    if (out / "settings.yaml").exists() and is_stale(out):
        put_aside(out)
    if not (out / "settings.yaml").exists():
        subprocess.run([*WINDSTIL, "demo-data", "--customers", str(customers), "--seed", str(seed),
                        "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    return out


def is_stale(project: Path) -> bool:
    """Return whether a demo project (or a copy with settings added) differs from what `demo-data` writes today."""
    from pipeline.demo import settings_yaml

    settings = project / "settings.yaml"
    return (not _same_files(REPO / "templates", project / "templates")
            or not _same_files(REPO / "content", project / "content")
            or not settings.is_file() or not settings.read_text(encoding="utf-8").startswith(settings_yaml()))


def put_aside(project: Path) -> None:
    """Move a stale project out of the way (not deleted: see batch.py on deleting just before a run)."""
    aside = project.with_name(f".stale-{project.name}-{time.time_ns()}")
    project.rename(aside)
    print(f"# {project.name}: made by an older Windstil, moved to {aside.name}; made afresh", file=sys.stderr)


def _same_files(left: Path, right: Path) -> bool:
    """Return whether two folders hold the same files with the same bytes."""
    ours = {p.relative_to(left): p for p in left.rglob("*") if p.is_file()}
    theirs = {p.relative_to(right): p for p in right.rglob("*") if p.is_file()}
    return ours.keys() == theirs.keys() and all(filecmp.cmp(ours[k], theirs[k], shallow=False) for k in ours)


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                kids += [int(k) for k in handle.read().split()]
    except OSError:
        pass
    return kids


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(pid: int) -> int:
    """Return the RSS of `pid` and all its descendants, summed, in KiB."""
    return tree_memory_kb(pid)[0]


# kcmp(2) tells whether two processes share one address space; its number differs per architecture.
_KCMP = {"x86_64": 312, "aarch64": 272}.get(platform.machine())
_KCMP_VM = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _same_memory(pid: int, other: int) -> bool:
    """Return whether `pid` runs in `other`'s address space (False when the kernel will not say)."""
    if _KCMP is None:
        return False
    return int(_libc.syscall(_KCMP, pid, other, _KCMP_VM, 0, 0)) == 0


def tree_memory_kb(pid: int) -> tuple[int, int]:
    """Return the RSS and the PSS of `pid` and all its descendants, each summed, in KiB.

    Summed RSS counts a page shared by several processes (libraries, say) once per process;
    summed PSS (each shared page divided among its sharers) is the memory used. A child
    that runs in its parent's address space is not counted: between the vfork and the exec of
    a command the run starts (a spamc per scored message), the child's RSS and PSS are its
    parent's, and counting them again made a 500 MB run look 1 GB at that moment.
    """
    rss, pss, todo = 0, 0, [(pid, None)]
    while todo:
        current, parent = todo.pop()
        if parent is None or not _same_memory(current, parent):
            rss += _rss_kb(current)
            pss += _pss_kb(current)
        todo += [(child, current) for child in _children(current)]
    return rss, pss


def run_measured(args: list[str], interval: float = 0.05) -> tuple[float, int, subprocess.CompletedProcess[str]]:
    """Run a command; return wall seconds, peak summed RSS of its process tree (KiB), and the result."""
    wall, peak_rss, _, done = run_measured_memory(args, interval)
    return wall, peak_rss, done


def run_measured_memory(
    args: list[str], interval: float = 0.05
) -> tuple[float, int, int, subprocess.CompletedProcess[str]]:
    """Run a command; return wall seconds, peak summed RSS and peak summed PSS of its process tree (KiB)."""
    wall, peak, peak_pss, _, done = run_measured_tree(args, interval)
    return wall, peak, peak_pss, done


def _cpu_s(pid: int) -> float | None:
    """Return the CPU seconds (user + system) a process has used so far, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_pids(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def run_measured_tree(
    args: list[str], interval: float = 0.05
) -> tuple[float, int, int, float, subprocess.CompletedProcess[str]]:
    """Run a command; return wall seconds, peak summed RSS and PSS (KiB) and CPU seconds of its process tree.

    The CPU time is each process's last sampled user + system time, summed: it includes
    processes the command does not wait for (a daemon's children, which getrusage misses) and
    misses only a process's last `interval` and processes shorter than that.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = peak_pss = 0
    cpu: dict[int, float] = {}
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_pss
        while not stop.is_set():
            rss, pss = tree_memory_kb(proc.pid)
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
            for pid in _tree_pids(proc.pid):
                used = _cpu_s(pid)
                if used is not None:
                    cpu[pid] = used
            stop.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    stop.set()
    sampler.join()
    return wall, peak, peak_pss, sum(cpu.values()), subprocess.CompletedProcess(args, proc.returncode, out, err)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# A project's inputs: what a copy needs to make the same run.
INPUTS = ("data", "content", "templates", "settings.yaml", "segments.yaml")


def copy_inputs(project: Path, folder: Path) -> Path:
    """Copy `project`'s inputs (not its output) into `folder`, which exists; return `folder`."""
    for name in INPUTS:
        source = project / name
        if source.is_dir():
            shutil.copytree(source, folder / name)
        elif source.is_file():
            shutil.copy2(source, folder / name)
    return folder
