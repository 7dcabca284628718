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
            seen = list(processes.pool.imap(kept, range(40)))
            during = shared() - before
        print(sorted({answer[:3] for answer in seen}), len({answer[3] for answer in seen}) >= 1)
        print(len(during), sorted(shared() - before))
""")


# A process killed at work, as the out-of-memory killer ends one: multiprocessing.Pool put a
# new process in its place and waited forever for the task it had been doing.
WORKER_KILLED = textwrap.dedent("""
    import os, signal
    from pipeline.errors import WorkerError
    from pipeline.processes import Processes

    def task(number):
        if number == 5:
            os.kill(os.getpid(), signal.SIGKILL)
        return number

    if __name__ == "__main__":
        with Processes.spawn(2, "render", print) as processes:
            try:
                print(list(processes.pool.imap(task, range(20))))
            except WorkerError as error:
                print("stopped:", error)
            try:
                print(sorted(processes.pool.imap_unordered(task, [1, 2, 3])))
            except WorkerError as error:
                print("stopped:", error)
        print("ended")
""")

# In order or as they come, in batches or one by one: every result, once.
RESULTS = textwrap.dedent("""
    from pipeline.processes import Processes

    def square(number):
        return number * number

    if __name__ == "__main__":
        with Processes.spawn(2, "test", print) as processes:
            print(list(processes.pool.imap(square, range(50), 7)) == [n * n for n in range(50)])
            print(list(processes.pool.imap(square, iter(range(3)))) == [0, 1, 4])
            print(sorted(processes.pool.imap_unordered(square, range(30))) == [n * n for n in range(30)])
            print(list(processes.pool.imap(square, [])) == [])
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


def test_a_process_killed_at_work_stops_the_stage_with_an_error(tmp_path: Path) -> None:
    done = run_script(tmp_path, WORKER_KILLED)
    assert done.returncode == 0, done.stderr
    stopped, again, ended = done.stdout.splitlines()
    assert stopped == ("stopped: a render process ended abruptly (out of memory, or killed); the run is abandoned "
                       "and nothing of it is kept: run it again (--jobs 1 keeps it to one process)")
    assert again.startswith("stopped: a render process ended abruptly")  # the processes are not used again
    assert ended == "ended"


def test_the_processes_give_every_result_in_order_or_as_done(tmp_path: Path) -> None:
    done = run_script(tmp_path, RESULTS)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True"] * 4
