"""End-to-end batch benchmark: `windstil run --jobs 2` on 10,000 and 30,000 demo customers.

    python benchmarks/batch.py [--work DIR] [--small 10000] [--large 30000 | --large 0] [--jobs 2]

Prints, per size, the wall time per stage (from manifest.json), messages per second, the
peak RSS of the whole process tree (parent and render processes summed), the peak PSS
summed the same way (shared pages divided among the processes that share them: the memory
really used, where summed RSS counts a shared page once per process) and the megabytes
written, and `render_share_of_wall` (the render stage ÷ the whole run, a pre-send checks
stage left out of both); last, `rss_growth_per_output_growth`: how much peak memory grows per byte of
output added between the two sizes (and the same for PSS just before it). Near 0 means
nothing grows with the batch; the render processes hold one chunk each, but the main
process holds the dataset and the stages' results, which grow with the customers.
Per size also `checks_share_of_wall`: the pre-send checks stage over the run's wall time
(SpamAssassin included, scoring a cold cache: the stage holds the checks and the wait for
what SpamAssassin has left after the reports). Right after the small size the run is
repeated with the checks off and with SpamAssassin off, for `wall_added_by_checks`: the
wall time the checks add, SpamAssassin included, over the run without them (at most 0.25
wanted), and the same for the CPU time of the process tree (`cpu_added_by_checks`), which a
machine shared with other work stretches less than the wall time. Each figure comes with the
load average of the machine.

Each figure is of a monthly run: the project's run of the month before (as-of 2026-10-31,
on an empty state) is made first, and the run measured is the next one, as marketing runs it
every month, with the state the month before left (the e-mail addresses checked then, its run
and manifest). The month before's own figures, a first run's, come under `first_run_`. The
next month's messages differ from the last's (dates, links), so SpamAssassin scores them
afresh. The run of the month before is not approved: no deliveries are recorded.
`--large 0` measures the small size only. Both months' runs stay in each project until the
next measurement moves them aside: at 10,000 and 30,000 customers, some 20 GB of disk.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import AS_OF, WINDSTIL, demo_project, folder_bytes, is_stale, put_aside, run_measured_tree

PREVIOUS_AS_OF = "2026-10-31"  # the month before AS_OF
FIRST_RUN = ("wall_s", "cpu_s", "peak_rss_mb", "peak_pss_mb", "render_share_of_wall")


def measure(project: Path, jobs: int, trash: Path) -> dict[str, float]:
    """Return the figures of the project's monthly run: after a run of the month before, on an empty state."""
    # An earlier output (and the state in it) is moved aside, not deleted: ext4 skips recently
    # freed inodes one by one when it creates a file, so deleting ~100,000 files just before
    # the run slows its writes.
    if (project / "output").exists():
        (project / "output").rename(trash / f"{project.name}-{len(list(trash.iterdir()))}")
    first = run_once(project, PREVIOUS_AS_OF, jobs)
    figures = run_once(project, AS_OF, jobs)
    return figures | {f"first_run_{key}": value for key, value in first.items()
                      if key in FIRST_RUN or key.startswith("stage_")}


def run_once(project: Path, as_of: str, jobs: int) -> dict[str, float]:
    wall, peak_kb, peak_pss_kb, cpu, done = run_measured_tree([*WINDSTIL, "-q", "--project", str(project), "run",
                                                            "--as-of", as_of, "--jobs", str(jobs)])
    if done.returncode != 0:
        sys.exit(f"windstil run failed ({done.returncode}):\n{done.stderr}")
    run = project / "output" / as_of
    manifest = json.loads((run / "manifest.json").read_text())
    messages = manifest["counts"]["newsletters"] + manifest["counts"]["alerts"]
    timings = manifest["timings"]
    # The whole batch against its render stage; the pre-send checks' own stage (when a run has
    # one) is left out of both: it is measured apart.
    batch_s = wall - timings.get("checks", 0.0)
    return {
        "customers": manifest["counts"]["customers"],
        "contacts": manifest["counts"]["contacts"],
        "messages": messages,
        "wall_s": wall,
        # CPU seconds of the whole process tree (render processes, spamd and its children
        # included): a machine shared with other work stretches them less than the wall time.
        "cpu_s": cpu,
        "messages_per_s": messages / wall,
        "peak_rss_mb": peak_kb / 1024,
        "peak_pss_mb": peak_pss_kb / 1024,
        "output_mb": folder_bytes(run) / 1e6,
        **{f"stage_{k}_s": v for k, v in timings.items()},
        "render_share_of_wall": timings["render"] / batch_s,
        # The pre-send checks stage against the whole run (at most 0.25 wanted): SpamAssassin's
        # wait included, with the variants it scored.
        "checks_share_of_wall": timings.get("checks", 0.0) / wall,
        "spam_variants_scored": sum(v["scored"] for v in manifest.get("spam", {}).values()),
        "load_average_1min": os.getloadavg()[0],
    }


def checks_share(work: Path, size: int, jobs: int, trash: Path, on: dict[str, float]) -> None:
    """Print what the checks add to the run at `size` customers (`on`): the run again with the checks off.

    Also once with SpamAssassin off (checks.spam_max_variants: 0), since it scores a cold cache
    here (a re-run reuses the scores): what the other checks add on their own.
    """
    base = demo_project(work, size)
    walls = {}
    for name, setting in (("off", "checks: {enabled: false}"), ("without_spam", "checks: {spam_max_variants: 0}")):
        project = work / f"{base.name}-checks-{name}"
        if project.exists() and is_stale(project):
            put_aside(project)
        if not project.exists():
            shutil.copytree(base, project, ignore=shutil.ignore_patterns("output"))
            with (project / "settings.yaml").open("a", encoding="utf-8") as handle:
                handle.write(f"\n{setting}\n")
        walls[name] = measure(project, jobs, trash)
    off, without_spam = walls["off"]["wall_s"], walls["without_spam"]["wall_s"]
    print(f"# {size} customers: the checks against the same run with the checks off (run just before)")
    print(f"checks_share_of_wall: {on['checks_share_of_wall']:.3f}")
    print(f"checks_share_of_wall_without_spam: {walls['without_spam']['checks_share_of_wall']:.3f}")
    print(f"wall_checks_on_s: {on['wall_s']:.3f}")
    print(f"wall_checks_off_s: {off:.3f}")
    print(f"wall_checks_without_spam_s: {without_spam:.3f}")
    print(f"wall_added_by_checks: {(on['wall_s'] - off) / off:.3f}")
    print(f"wall_added_by_checks_without_spam: {(without_spam - off) / off:.3f}")
    print(f"cpu_added_by_checks: {(on['cpu_s'] - walls['off']['cpu_s']) / walls['off']['cpu_s']:.3f}")
    print(f"cpu_added_by_spamassassin_s: {on['cpu_s'] - walls['without_spam']['cpu_s']:.1f}")
    print(f"load_average_1min: {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=None, help="folder for the demo projects (default: a temp dir)")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=30_000, help="0: measure the small size only")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="windstil-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    trash = Path(tempfile.mkdtemp(prefix=".trash-", dir=work))
    for size in (args.small, args.large) if args.large else (args.small,):
        project = demo_project(work, size)
        figures = measure(project, args.jobs, trash)
        results[size] = figures
        print(f"# {size} customers, --jobs {args.jobs}")
        for key, value in figures.items():
            print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
        if size == args.small:  # the same size again at once, with the checks off and without SpamAssassin
            checks_share(work, args.small, args.jobs, trash, figures)
    if not args.large:
        shutil.rmtree(trash, ignore_errors=True)
        return
    small, large = results[args.small], results[args.large]
    output_growth = large["output_mb"] - small["output_mb"]
    first_growth = (large["first_run_peak_rss_mb"] - small["first_run_peak_rss_mb"]) / output_growth
    print(f"first_run_rss_growth_per_output_growth: {first_growth:.4f}")
    print(f"pss_growth_per_output_growth: {(large['peak_pss_mb'] - small['peak_pss_mb']) / output_growth:.4f}")
    print(f"rss_growth_per_output_growth: {(large['peak_rss_mb'] - small['peak_rss_mb']) / output_growth:.4f}")
    shutil.rmtree(trash, ignore_errors=True)


if __name__ == "__main__":
    main()
