"""Load benchmark: Windstil's load of a demo project against reading the same files raw with Polars.

    python benchmarks/load.py [--work DIR] [--customers 100000] [--repeat 2]

In one run, on the same files: `polars.read_csv` of every CSV in data/ with every column as
text and no checks at all (the floor), then Windstil's load of the project (every check,
the rejects, the typed values) with an empty address cache (cold: every distinct e-mail
address is validated) and with the cache the first load left in the state (warm, as in a
monthly run). Best of --repeat for the floor and the warm load; the peak RSS of this process
and the load average follow. Each time comes with the CPU time of the process (all its
threads) it took: on a shared machine that is steadier than the wall time, and
`load_vs_raw_read_cpu` compares those. The last line is `load_vs_raw_read`: the warm load ÷
the raw read, in wall time.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import demo_project

from pipeline.addresses import VALIDATOR, AddressBook
from pipeline.config import load_settings
from pipeline.load import load_dataset, normalise_email
from pipeline.models import Settings
from pipeline.state import State


def cpu_seconds() -> float:
    """Return the CPU time this process has used so far, all threads, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def raw_read(data: Path) -> tuple[float, float]:
    """Return the seconds (wall, CPU) polars.read_csv takes for every CSV of `data`, all columns as text."""
    start, cpu = time.perf_counter(), cpu_seconds()
    for path in sorted(data.glob("*.csv")):
        pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    return time.perf_counter() - start, cpu_seconds() - cpu


def timed_load(settings: Settings) -> tuple[tuple[float, float], int, AddressBook]:
    """Return the seconds (wall, CPU) a load takes, the orders it read, and the address book it used."""
    gc.collect()
    addresses = AddressBook(normalise_email)
    start, cpu = time.perf_counter(), cpu_seconds()
    data = load_dataset(settings, addresses)
    seconds = time.perf_counter() - start, cpu_seconds() - cpu
    rows = len(data.orders)
    del data
    return seconds, rows, addresses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    project = demo_project(args.work or Path(tempfile.mkdtemp(prefix="windstil-bench-")), args.customers)
    settings = load_settings(project)
    with tempfile.TemporaryDirectory(prefix="windstil-load-") as scratch:
        # A state of its own, so that the project's own cache is neither used nor changed.
        settings = replace(settings, paths=replace(settings.paths, state=Path(scratch) / "state.sqlite"))
        raws = [raw_read(settings.paths.data) for _ in range(args.repeat)]
        cold, orders, addresses = timed_load(settings)
        # What a successful run does: the addresses checked are remembered for the next load.
        with State.open(settings.paths.state) as state:
            state.remember_address_checks(VALIDATOR, addresses.new)
        warms = [timed_load(settings)[0] for _ in range(args.repeat)]
    raw_s, warm_s = min(wall for wall, _ in raws), min(wall for wall, _ in warms)
    raw_cpu, warm_cpu = min(cpu for _, cpu in raws), min(cpu for _, cpu in warms)
    print(f"customers: {args.customers}")
    print(f"orders: {orders}")
    print(f"raw_read_s: {raw_s:.3f}")
    print(f"load_cold_cache_s: {cold[0]:.3f}")
    print(f"load_warm_cache_s: {warm_s:.3f}")
    print(f"raw_read_cpu_s: {raw_cpu:.3f}")
    print(f"load_cold_cache_cpu_s: {cold[1]:.3f}")
    print(f"load_warm_cache_cpu_s: {warm_cpu:.3f}")
    print(f"load_vs_raw_read_cpu: {warm_cpu / raw_cpu:.2f}")
    print(f"peak_rss_mb: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")  # of the loads, all told
    print(f"load_average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"load_vs_raw_read: {warm_s / raw_s:.2f}")


if __name__ == "__main__":
    main()
