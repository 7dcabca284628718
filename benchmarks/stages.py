"""Each stage of one batch: its wall time and the CPU time of the main process in it.

    python benchmarks/stages.py PROJECT [--as-of 2026-11-30] [--jobs 2]

Runs the batch in this process on a copy of PROJECT's inputs (data/, content/, templates/,
settings.yaml, segments.yaml; the copy's output is deleted afterwards) and prints one line per
stage: wall seconds (as manifest.json has them) and this process's CPU seconds in the stage
(`time.process_time()`; the render processes' own CPU is not in it). On a machine shared with
other work, the CPU seconds of a stage move much less than its wall time: compare two versions
of the code by them, run one after the other. To measure other code on the same inputs, put its
package first: `PYTHONPATH=/path/to/other/checkout python benchmarks/stages.py PROJECT`.
The last line is `render_share_of_wall` (the render stage over the whole run, the pre-send
checks' own stage left out of both), as `batch.py` prints it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import AS_OF, copy_inputs

import pipeline.run as run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path)
    parser.add_argument("--as-of", default=AS_OF)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    cpu: dict[str, float] = {}
    timed = run._Timer.stage

    @contextmanager
    def stage(self: run._Timer, name: str) -> Iterator[None]:
        start = time.process_time()
        try:
            with timed(self, name):
                yield
        finally:
            cpu[name] = cpu.get(name, 0.0) + time.process_time() - start

    run._Timer.stage = stage  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory(prefix="windstil-stages-") as work:
        project = copy_inputs(args.project, Path(work))
        start = time.perf_counter()
        result = run.run_batch(project, as_of=date.fromisoformat(args.as_of), jobs=args.jobs)
        wall = time.perf_counter() - start
    print(f"code: {Path(run.__file__).resolve().parent}")
    print(f"{'stage':10s} {'wall_s':>8s} {'cpu_s':>8s}")
    for name, seconds in result.timings.items():
        print(f"{name:10s} {seconds:8.2f} {cpu.get(name, 0.0):8.2f}")
    print(f"{'run':10s} {wall:8.2f} {time.process_time():8.2f}")
    print(f"render_share_of_wall: {result.timings['render'] / (wall - result.timings.get('checks', 0.0)):.3f}")


if __name__ == "__main__":
    main()
