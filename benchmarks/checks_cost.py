"""The CPU of the pre-send checks other than SpamAssassin, on a run's own messages.

    python benchmarks/checks_cost.py RUN_FOLDER [--baseline CHECKOUT] [--repeat 3]

Runs the content checks on one message of every variant of a run folder (as the run's checks
stage does) and the personal checks on every message, in this one process, and prints the
CPU time of each: `content_ms_per_variant`, `personal_us_per_message` and `checks_cpu_s`, the
two together for the whole run (what the stage spends, shared among its processes). With
--baseline, the same figures for another checkout's `pipeline` (e.g. `git worktree add
/tmp/before main`), measured in turns with this one's, and `checks_cpu_ratio` (this ÷ the
baseline) and `same_findings` (both found the same). Best of --repeat turns each: the machine
is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spam_variants import variants


def measure(run: Path) -> dict[str, Any]:
    """Return the CPU figures and a digest of the findings of the checks on the run folder's messages."""
    import hashlib

    from pipeline.checks.content import LinkPolicy
    from pipeline.checks.stage import message_findings, variant_findings

    groups = variants(run)
    bases = [str(paths[0].with_suffix("")) for paths in groups.values()]
    messages = [(str(path.with_suffix("")), "Onderwerp van het bericht", "x" * 60)
                for paths in groups.values() for path in paths]
    policy = LinkPolicy("https://www.polderlicht-it.nl", (("utm_source", "newsletter"), ("utm_medium", "email")))
    start = time.process_time()
    content = [variant_findings((base, policy)) for base in bases]
    middle = time.process_time()
    personal = message_findings(messages)
    end = time.process_time()
    digest = hashlib.sha256(repr((content, personal)).encode()).hexdigest()
    import pipeline

    return {"code": str(Path(pipeline.__file__).parent.parent), "variants": len(bases), "messages": len(messages),
            "content_s": middle - start, "personal_s": end - middle, "findings": digest}


def turn(run: Path, checkout: Path | None) -> dict[str, Any]:
    """Measure in a fresh process (cold caches, as a run): this checkout's `pipeline` or `checkout`'s."""
    env = dict(os.environ)
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)
    done = subprocess.run([sys.executable, __file__, str(run), "--one"], env=env, capture_output=True, text=True,
                          check=True, cwd=checkout or Path(__file__).resolve().parent.parent)
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--baseline", type=Path, default=None, help="a checkout whose checks to compare with")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # one turn, as JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.run)))
        return
    if not (args.run / "deliveries.csv").is_file():
        sys.exit(f"{args.run}: no run here")
    sides = {"": None} | ({"baseline_": args.baseline} if args.baseline else {})
    best: dict[str, dict[str, Any]] = {}
    for _ in range(args.repeat):
        for prefix, checkout in sides.items():
            figures = turn(args.run, checkout)
            total = float(figures["content_s"]) + float(figures["personal_s"])
            if prefix not in best or total < float(best[prefix]["total"]):
                best[prefix] = figures | {"total": total}
    print(f"run: {args.run}")
    print(f"variants: {best['']['variants']}")
    print(f"messages: {best['']['messages']}")
    for prefix, figures in best.items():
        print(f"{prefix}code: {figures['code']}")
        print(f"{prefix}content_ms_per_variant: {float(figures['content_s']) * 1000 / int(figures['variants']):.2f}")
        print(f"{prefix}personal_us_per_message: {float(figures['personal_s']) * 1e6 / int(figures['messages']):.0f}")
        print(f"{prefix}checks_cpu_s: {float(figures['total']):.2f}")
    if args.baseline:
        print(f"checks_cpu_ratio: {float(best['']['total']) / float(best['baseline_']['total']):.3f}")
        print(f"same_findings: {best['']['findings'] == best['baseline_']['findings']}")
    print(f"load_average_1min: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
