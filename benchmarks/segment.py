"""Segmentation benchmark: 100,000 demo customers and their orders.

    python benchmarks/segment.py [--work DIR] [--customers 100000] [--repeat 3]

Prints the load time (CSV parsing and validation of the whole project) and the
segmentation time after load (best of --repeat), separately, and their sum.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import AS_OF, demo_project

from pipeline.load import load_project
from pipeline.segment import segment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    project_dir = demo_project(args.work or Path(tempfile.mkdtemp(prefix="windstil-bench-")), args.customers)
    start = time.perf_counter()
    project = load_project(project_dir)
    load_s = time.perf_counter() - start
    as_of = date.fromisoformat(AS_OF)
    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = segment(project.data, project.segments, as_of)
        best = min(best, time.perf_counter() - start)
    print(f"customers: {len(project.data.customers)}")
    print(f"orders: {len(project.data.orders)}")
    counts = Counter(v.segment.value for v in result.customers.values())
    print(f"segments: {dict(sorted(counts.items()))}")
    print(f"load_s: {load_s:.3f}")
    print(f"segment_s: {best:.3f}")
    print(f"load_and_segment_s: {load_s + best:.3f}")


if __name__ == "__main__":
    main()
