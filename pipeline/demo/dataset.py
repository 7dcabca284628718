"""Write data/*.csv of a demo project, in one block or in blocks that processes write in parallel."""

from __future__ import annotations

import csv
import os
import random
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pipeline.demo.customers import (
    HEADERS,
    MAX_CONTACTS,
    MAX_ORDERS,
    BlockResult,
    CsvOut,
    Given,
    Layout,
    draw_sector,
    write_block,
)
from pipeline.demo.names import FastRandom, Names, slug, surname
from pipeline.demo.words import ACCOUNT_MANAGERS, FIRST_NAMES

BLOCK = 10_000  # customers per block; a big data set is generated block by block, in parallel


def write_data(folder: Path, n_customers: int, seed: int, jobs: int | None) -> tuple[dict[str, int], tuple[str, str]]:
    """Write data/*.csv; return the row counts and the (id, name) of the override customer.

    Up to BLOCK customers are written in one go from `random.Random(seed)`. Bigger sets are
    cut into blocks of BLOCK customers, each with its own seed and its own range of contact
    and order numbers, so the files do not depend on how many processes wrote them.
    """
    # Seeded pseudo-randomness is the point here: reproducible synthetic data, not secrets.
    rng = FastRandom(seed)
    width = max(4, len(str(n_customers)))
    layout = Layout(
        n_customers=n_customers,
        width=width,
        contact_width=max(width + 1, len(str(n_customers * MAX_CONTACTS))),
        order_width=max(width + 2, len(str(n_customers * MAX_ORDERS))),
        am_ids=_write_account_managers(folder, n_customers, rng),
    )
    if n_customers <= BLOCK:
        results = [write_block(folder, None, layout, 1, n_customers, rng, None)]
    else:
        results = _write_blocks(folder, layout, rng, seed, jobs)
    suppressions = [row for result in results for row in result.suppressions]
    with (folder / "suppressions.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("email", "reason", "date"))
        writer.writerows(suppressions)

    # The override in segments.yaml lifts a small customer to A: "our own judgement".
    window_revenue = sorted((w for result in results for w in result.window_revenue), key=lambda s: (-s[0], s[1]))
    pick = window_revenue[len(window_revenue) * 4 // 5] if window_revenue else (0.0, f"C{1:0{width}d}", "")
    counts = {table: sum(result.counts[table] for result in results) for table in HEADERS}
    counts["suppressions"] = len(suppressions)
    counts["account_managers"] = len(layout.am_ids)
    return counts, (pick[1], pick[2])


def _write_blocks(folder: Path, layout: Layout, rng: random.Random, seed: int, jobs: int | None) -> list[BlockResult]:
    """Write a big data set block by block in worker processes, then join the part files."""
    n_customers = layout.n_customers
    # Names are unique over the whole set, so they are drawn here, before the blocks.
    names = Names(rng)
    given: list[Given] = []
    for ci in range(1, n_customers + 1):
        sector, international = draw_sector(rng, ci)
        name = names.company(sector, international)
        given.append((sector, international, name, names.domain(name, international)))
    parts = folder / ".parts"
    parts.mkdir()
    blocks = [
        (
            parts,
            b,
            layout,
            first,
            min(first + BLOCK - 1, n_customers),
            f"{seed}/{b}",
            given[first - 1 : first - 1 + BLOCK],
        )
        for b, first in enumerate(range(1, n_customers + 1, BLOCK))
    ]
    workers = min(len(blocks), jobs or os.cpu_count() or 1)
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_block_job, blocks))
    else:
        results = [_block_job(block) for block in blocks]
    for table, header in HEADERS.items():
        with (folder / f"{table}.csv").open("wb") as target:
            target.write((",".join(header) + "\n").encode("utf-8"))
            for b in range(len(blocks)):
                with (parts / f"{table}.{b:05d}.csv").open("rb") as source:
                    shutil.copyfileobj(source, target, 1 << 20)
    shutil.rmtree(parts)
    return results


def _write_account_managers(folder: Path, n_customers: int, rng: random.Random) -> tuple[str, ...]:
    """Write account_managers.csv: the five named ones, more for big data sets; return the ids."""
    n_am = max(5, min(100, n_customers // 200))
    ams = CsvOut(folder / "account_managers.csv", ("account_manager_id", "name", "email", "phone"))
    am_ids = []
    am_emails: set[str] = set()
    for i in range(n_am):
        if i < len(ACCOUNT_MANAGERS):
            am_id, name, email, phone = ACCOUNT_MANAGERS[i]
        else:
            am_id = f"AM{i + 1:02d}"
            first, last = rng.choice(FIRST_NAMES), surname(rng, company=False)
            name = f"{first} {last}"
            email = f"{slug(first)}.{slug(last)}@polderlicht-it.nl"
            if email in am_emails:
                email = f"{slug(first)}.{slug(last)}{i + 1}@polderlicht-it.nl"
            phone = f"+31 30 124 {(i + 1) // 100:02d} {(i + 1) % 100:02d}"
        am_emails.add(email)
        am_ids.append(am_id)
        ams.add([am_id, name, email, phone])
    ams.close()
    return tuple(am_ids)


def _block_job(args: tuple[Path, int, Layout, int, int, str, list[Given]]) -> BlockResult:
    """Write one block of a big data set into part files (run in a worker process)."""
    parts, b, layout, first_ci, last_ci, seed, given = args
    return write_block(parts, b, layout, first_ci, last_ci, FastRandom(seed), given)
