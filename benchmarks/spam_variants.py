"""Do the personal parts move a SpamAssassin score? Messages of one variant, different people.

    python benchmarks/spam_variants.py [RUN_FOLDER] [--variants 20] [--per-variant 4]

A variant is the messages of one kind, language and item selection. They differ only in the
personal parts: the greeting and subject with the first name, the company name in the
opening line, the reasons under each item, the To and Message-ID headers, the unsubscribe
token. The run's checks score one message per variant and give its score to all. This
script scores up to --per-variant messages of each of the --variants largest variants of a
run folder (default: the sample company's run in the repository, `output/2026-11-30`; make
it first with `windstil run --as-of 2026-11-30`) with SpamAssassin, and prints how many
variants got one score (and one set of rules) for all their messages, and the largest
spread of score within a variant.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import AS_OF, REPO

from pipeline.checks.spam import SpamResult, SpamScorer

Variant = tuple[str, str, str]  # kind, language, item ids


def variants(run: Path) -> dict[Variant, list[Path]]:
    """Return each variant's messages (.eml files) in the run folder, largest variant first."""
    with (run / "recipients.csv").open(encoding="utf-8", newline="") as handle:
        language = {row["contact_id"]: row["language"] for row in csv.DictReader(handle)}
    groups: dict[Variant, list[Path]] = defaultdict(list)
    with (run / "deliveries.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            eml = run / "emails" / row["contact_id"] / f"{row['kind']}.eml"
            groups[(row["kind"], language[row["contact_id"]], row["item_ids"])].append(eml)
    return dict(sorted(groups.items(), key=lambda entry: -len(entry[1])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, nargs="?", default=REPO / "output" / AS_OF)
    parser.add_argument("--variants", type=int, default=20)
    parser.add_argument("--per-variant", type=int, default=4)
    args = parser.parse_args()
    if not (args.run / "deliveries.csv").is_file():
        sys.exit(f"{args.run}: no run here; make it first with `windstil run --as-of {AS_OF}`")
    chosen = {v: paths[: args.per_variant] for v, paths in variants(args.run).items() if len(paths) > 1}
    chosen = dict(list(chosen.items())[: args.variants])
    scorer: SpamScorer[tuple[Variant, int]] = SpamScorer({})
    start = time.perf_counter()
    for variant, paths in chosen.items():
        for number, path in enumerate(paths):
            scorer.submit((variant, number), path.read_bytes())
    results = scorer.results()
    wall = time.perf_counter() - start
    same, spread, failed = 0, 0.0, 0
    for variant, paths in chosen.items():
        scored = [results[(variant, n)] for n in range(len(paths))]
        found = [r for r in scored if isinstance(r, SpamResult)]
        failed += len(scored) - len(found)
        if found and len({(r.score, frozenset(r.rules)) for r in found}) == 1 and len(found) == len(scored):
            same += 1
        if found:
            spread = max(spread, max(r.score for r in found) - min(r.score for r in found))
        else:
            print(f"not scored: {variant}")
    messages = sum(len(p) for p in chosen.values())
    print(f"run: {args.run}")
    print(f"variants_compared: {len(chosen)}")
    print(f"messages_scored: {messages}")
    print(f"messages_not_scored: {failed}")
    print(f"variants_with_one_score_and_rules: {same}")
    print(f"largest_score_spread_within_a_variant: {spread:.1f}")
    print(f"scoring_wall_s: {wall:.1f}")
    print(f"load_average_1min: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
