"""The call-list and report stages' work on a demo project, part by part, in CPU and wall time.

    python benchmarks/outputs.py [--work DIR] [--customers 10000] [--repeat 2]

Loads the project, segments it, finds the quiet periods and selects (as `windstil run` does,
without rendering), then times what the `calls` and `reports` stages of the run do: the call
lists' method (build_calls) and their files (write_call_lists: CSV, XLSX, HTML, e-mail), the
segmentation report, the retention figures and report, segments.csv and recipients.csv. Each
part is the best of --repeat, in CPU seconds of this process (on a shared machine the wall time
is mostly waiting for a core) and in wall seconds. As the baseline of the same run, the select
stage's CPU time (untouched by these stages); last, `outputs_cpu_per_select_cpu`: the parts'
CPU time summed, divided by it.
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
from _common import AS_OF, demo_project

from pipeline.call_lists import write_call_lists
from pipeline.calls import build_calls
from pipeline.load import load_project
from pipeline.quiet import quiet_periods
from pipeline.reports import segmentation_report_pieces
from pipeline.retention import compute_retention, render_retention_report
from pipeline.segment import resolve_segmentation, segments_csv_bytes
from pipeline.select import recipients_csv_bytes, select
from pipeline.writer import RunWriter

TIMES: dict[str, list[tuple[float, float]]] = {}


@contextmanager
def part(name: str) -> Iterator[None]:
    """Add the (CPU, wall) seconds of the block to TIMES[name]."""
    cpu, wall = time.process_time(), time.perf_counter()
    yield
    TIMES.setdefault(name, []).append((time.process_time() - cpu, time.perf_counter() - wall))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="windstil-bench-"))
    project = load_project(demo_project(work, args.customers))
    settings, config, data = project.settings, project.segments, project.data
    as_of = date.fromisoformat(AS_OF)
    templates, language = settings.paths.templates, settings.language
    seg = resolve_segmentation(data, config, as_of, None)
    quiet = quiet_periods(data, config, as_of)
    for _ in range(args.repeat):
        with part("select"):
            selections = select(data, config, seg, quiet, [], as_of, set())
        with tempfile.TemporaryDirectory(dir=work) as folder:
            writer = RunWriter(Path(folder) / "run")
            with part("build_calls"):
                calls = build_calls(data, config, seg, quiet, selections, [], as_of, [], None, language=language)
            with part("write_call_lists"):
                write_call_lists(writer, calls, data, settings, as_of)
            with part("segments_html"):
                writer.write_pieces("reports/segments.html", segmentation_report_pieces(
                    seg, data, config, templates=templates, language=language))
            with part("compute_retention"):
                retention = compute_retention(data, seg, config, as_of, [])
            with part("retention_html"):
                writer.write_text("reports/retention.html", render_retention_report(
                    retention, templates=templates, language=language))
            with part("segments_csv"):
                writer.write_bytes("segments.csv", segments_csv_bytes(seg))
            with part("recipients_csv"):
                writer.write_bytes("recipients.csv", recipients_csv_bytes(selections))
    print(f"customers: {len(data.customers)}")
    print(f"calls: {len(calls)}")
    for name, runs in TIMES.items():
        print(f"{name}_cpu_s: {min(c for c, _ in runs):.3f}")
        print(f"{name}_wall_s: {min(w for _, w in runs):.3f}")
    outputs = sum(min(c for c, _ in runs) for name, runs in TIMES.items() if name != "select")
    print(f"outputs_cpu_s: {outputs:.3f}")
    print(f"outputs_cpu_per_select_cpu: {outputs / min(c for c, _ in TIMES['select']):.2f}")


if __name__ == "__main__":
    main()
