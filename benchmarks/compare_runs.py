"""Compare two run folders file by file, ignoring the wall-clock fields of manifest.json.

For a change that must not change the output (a rewrite of the data layer, say): make a run
on the code before it and keep the folder outside the repo, then run the new code on the same
inputs with the same as-of date and the same WINDSTIL_SECRET, and compare:

    WINDSTIL_SECRET=some-long-fixed-secret windstil --project P run --as-of 2026-11-30
    python benchmarks/compare_runs.py /tmp/before/output/2026-11-30 P/output/2026-11-30

Every file must be byte-identical, except manifest.json, whose `created` and `timings` are
left out of the comparison (they say when and how fast, not what), and the review site's
pages, whose footer shows `created` ("1 december 2026, 21:27 UTC"): that moment is masked. Prints each difference
and exits 1 when there is one, 0 when the runs are the same.

With --run PROJECT, the script copies PROJECT's inputs (data/, content/, templates/,
settings.yaml, segments.yaml) to a fresh folder, runs the batch there with --as-of, and
compares that run with the reference folder given first.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import copy_inputs

WALL_CLOCK = ("created", "timings")  # manifest.json keys that change from run to run
CREATED = re.compile(rb"\d{1,2} [^\s,<]+ \d{4}, \d{2}:\d{2} UTC")  # the site footer's rendering of `created`


def _files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def _manifest(path: Path) -> str:
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for key in WALL_CLOCK:
        manifest.pop(key, None)
    return json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False)


def _content(path: Path) -> bytes:
    data = path.read_bytes()
    return CREATED.sub(b"<created>", data) if path.suffix == ".html" else data


def compare(before: Path, after: Path, *, show: int = 20) -> list[str]:
    """Return one line per difference between two run folders (empty: the same)."""
    problems: list[str] = []
    old, new = _files(before), _files(after)
    problems += [f"only in {before}: {name}" for name in sorted(old - new)]
    problems += [f"only in {after}: {name}" for name in sorted(new - old)]
    for name in sorted(old & new):
        a, b = before / name, after / name
        if Path(name).name == "manifest.json":
            left, right = _manifest(a), _manifest(b)
            if left != right:
                diff = difflib.unified_diff(left.splitlines(), right.splitlines(), lineterm="", n=0)
                problems.append(f"differs: {name}\n  " + "\n  ".join(list(diff)[2:12]))
        elif _content(a) != _content(b):
            detail = ""
            if a.suffix in {".csv", ".txt", ".html", ".eml", ".json"}:
                lines = difflib.unified_diff(
                    a.read_text(errors="replace").splitlines(),
                    b.read_text(errors="replace").splitlines(),
                    lineterm="",
                    n=0,
                )
                detail = "\n  " + "\n  ".join(list(lines)[2:8])
            problems.append(f"differs: {name}{detail}")
    if len(problems) > show:
        problems = [*problems[:show], f"... and {len(problems) - show} more differences"]
    return problems


def run_copy(project: Path, as_of: str, work: Path) -> Path:
    """Run the batch on a fresh copy of `project`'s inputs under `work`; return the run folder."""
    copy = work / "project"
    copy.mkdir()
    copy_inputs(project, copy)
    subprocess.run(
        [sys.executable, "-m", "pipeline", "-q", "--project", str(copy), "run", "--as-of", as_of], check=True
    )
    return copy / "output" / as_of


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="the reference run folder (output/<as-of>)")
    parser.add_argument("after", type=Path, nargs="?", help="the run folder to compare with it")
    parser.add_argument("--run", type=Path, metavar="PROJECT", help="run PROJECT's inputs afresh and compare that")
    parser.add_argument("--as-of", default="2026-11-30")
    args = parser.parse_args()
    if (args.after is None) == (args.run is None):
        parser.error("give either a second run folder or --run PROJECT")
    with tempfile.TemporaryDirectory(prefix="windstil-compare-") as work:
        after = args.after if args.run is None else run_copy(args.run, args.as_of, Path(work))
        problems = compare(args.before, after)
        for problem in problems:
            print(problem)
        print(f"{'same' if not problems else 'DIFFERENT'}: {args.before} vs {after} ({len(_files(after))} files)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
