"""The benchmarks' process-tree memory sampler counts each address space once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _common import _KCMP, _same_memory, demo_project, is_stale, tree_memory_kb

linux_only = pytest.mark.skipif(_KCMP is None or not sys.platform.startswith("linux"), reason="kcmp(2) is Linux's")

HOLD = "b = bytearray(64 << 20); b[::4096] = bytes(len(b[::4096]))"  # 64 MB, every page touched


@linux_only
def test_a_process_shares_its_own_memory_and_not_a_childs() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert _same_memory(child.pid, child.pid)
        assert not _same_memory(child.pid, os.getpid())
    finally:
        child.kill()
        child.wait()


@linux_only
def test_a_child_with_memory_of_its_own_is_counted() -> None:
    child_code = f"{HOLD}; import time; time.sleep(30)"
    code = (f"import subprocess, sys, time; {HOLD}; "
            f"subprocess.Popen([sys.executable, '-c', {child_code!r}]); time.sleep(30)")
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 10
        while (rss := tree_memory_kb(parent.pid)[0]) < 128 << 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rss >= 128 << 10  # both processes' 64 MB
    finally:
        subprocess.run(["pkill", "-P", str(parent.pid)], check=False)
        parent.kill()
        parent.wait()


def test_a_demo_project_of_an_older_windstil_is_made_afresh(tmp_path: Path) -> None:
    project = demo_project(tmp_path, 3)
    assert not is_stale(project)
    template = project / "templates" / "newsletter.mjml"
    template.write_text(template.read_text(encoding="utf-8") + "<!-- older -->", encoding="utf-8")
    assert is_stale(project)
    again = demo_project(tmp_path, 3)
    assert again == project and not is_stale(again)
    assert [p.name.startswith(".stale-demo-3-1-") for p in tmp_path.iterdir() if p != project] == [True]
