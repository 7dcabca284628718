"""Shared helpers of the benchmarks: demo projects and a process-tree RSS sampler."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WINDSTIL = [sys.executable, "-m", "pipeline"]
AS_OF = "2026-11-30"


def demo_project(folder: Path, customers: int, seed: int = 1) -> Path:
    """Write (once) a `windstil demo-data` project of `customers` customers under `folder`."""
    out = folder / f"demo-{customers}-{seed}"
    if not (out / "settings.yaml").exists():
        subprocess.run([*WINDSTIL, "demo-data", "--customers", str(customers), "--seed", str(seed),
                        "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    return out


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


def tree_rss_kb(pid: int) -> int:
    """Return the RSS of `pid` and all its descendants, summed, in KiB."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += _rss_kb(current)
        todo += _children(current)
    return total


def run_measured(args: list[str], interval: float = 0.05) -> tuple[float, int, subprocess.CompletedProcess[str]]:
    """Run a command; return wall seconds, peak summed RSS of its process tree (KiB), and the result."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, tree_rss_kb(proc.pid))
            stop.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    stop.set()
    sampler.join()
    return wall, peak, subprocess.CompletedProcess(args, proc.returncode, out, err)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
