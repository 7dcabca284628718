"""A stage's worker processes: started and ended whatever happens to them while they start."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A stage whose processes die while they read their set-up values, as one does when Ctrl-C
# reaches it while it imports Windstil: unpickling the first value ends the process, and
# what follows it is more than a pipe holds (64 KiB), as the render processes' content is.
DYING_START = textwrap.dedent("""
    import os
    from pipeline.processes import Processes

    class EndsTheProcess:
        def __reduce__(self):
            return os._exit, (1,)

    if __name__ == "__main__":
        with Processes.spawn(2, "test", print, (EndsTheProcess(), b"x" * 200_000)) as processes:
            processes.pool
        print("ended")
""")

# The values reach every process whole, and nothing is left behind in shared memory.
HANDED_OVER = textwrap.dedent("""
    import os
    from pathlib import Path
    from pipeline.processes import Processes

    def shared():
        return {p.name for p in Path("/dev/shm").iterdir() if not p.name.startswith("sem.")}

    def keep(values, size):
        global KEPT
        KEPT = (values, size)

    def kept(_):
        return KEPT[0][:3], len(KEPT[0]), KEPT[1], os.getpid()

    if __name__ == "__main__":
        before = shared()
        values = bytes(range(256)) * 1000
        with Processes.spawn(2, "test", keep, (values, len(values))) as processes:
            seen = processes.pool.map(kept, range(40), chunksize=1)
            during = shared() - before
        print(sorted({answer[:3] for answer in seen}), len({answer[3] for answer in seen}) >= 1)
        print(len(during), sorted(shared() - before))
""")


def run_script(tmp_path: Path, script: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "stage.py"
    path.write_text(script, encoding="utf-8")
    return subprocess.run([sys.executable, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=False)


def test_a_process_dying_while_it_starts_does_not_hang_the_stage(tmp_path: Path) -> None:
    # Before, the parent waited forever to write the rest of the values into the dead
    # process's pipe, and the run with it (subprocess.run's timeout fails the test).
    done = run_script(tmp_path, DYING_START)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ended"


def test_the_set_up_values_reach_the_processes_and_leave_no_shared_memory(tmp_path: Path) -> None:
    done = run_script(tmp_path, HANDED_OVER)
    assert done.returncode == 0, done.stderr
    values_seen, shared = done.stdout.splitlines()
    assert values_seen == "[(b'\\x00\\x01\\x02', 256000, 256000)] True"
    assert shared == "1 []"  # one block while the processes ran, none after
    assert "leaked" not in done.stderr
