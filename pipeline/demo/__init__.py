"""Generate a synthetic but realistic project: the sample company "Polderlicht IT B.V.".

The same generator writes the bundled sample (150 customers, seed 2026) and benchmark sets of
any size. Everything is derived from one `random.Random(seed)` and the fixed reference date
REFERENCE_AS_OF, never from the wall clock, so a seed always gives byte-identical files.

Speed matters (100,000 customers, about 1.7 million orders, well under a minute). Sets over
10,000 customers are cut into blocks that worker processes write in parallel; each block has
its own seed and its own range of contact and order numbers, so the bytes do not depend on the
number of processes.

The package: `catalogue` (sectors, tags, products), `words` (the word lists), `names`
(company names, domains, seeded randomness), `customers` (one block of customers, one writer
per table), `dataset` (the blocks and the files they make up). The word lists, the catalogue
and the settings.yaml and segments.yaml texts are package data in `data/`.

The bundled sample in the repository (data/, segments.yaml, settings.yaml) is exactly
`generate_project(dir, 150, seed=2026)`; tests/test_demo.py checks that. To change it, change
this package and regenerate:

    windstil demo-data --customers 150 --seed 2026 --out /tmp/sample
    rm -r data && cp -r /tmp/sample/data /tmp/sample/segments.yaml /tmp/sample/settings.yaml .
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from string import Template

from pipeline.demo.catalogue import PRODUCTS, SECTORS, TAGS, products_yaml
from pipeline.demo.customers import HISTORY_START, REFERENCE_AS_OF
from pipeline.demo.dataset import write_data
from pipeline.demo.words import read_data
from pipeline.errors import OutputError, UsageError

__all__ = [
    "HISTORY_START",
    "PRODUCTS",
    "REFERENCE_AS_OF",
    "SECTORS",
    "TAGS",
    "DemoSummary",
    "generate_project",
    "products_yaml",
    "segments_yaml",
    "settings_yaml",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoSummary:
    """What `generate_project` wrote."""

    out: Path
    customers: int
    contacts: int
    orders: int
    evaluations: int
    interactions: int
    suppressions: int
    account_managers: int
    products: int
    content_items: int
    templates_copied: bool


def generate_project(
    out: Path, customers: int, seed: int, *, content_from: Path | None = None, jobs: int | None = None
) -> DemoSummary:
    """Write a complete demo project (data, configs, content, templates) into `out`.

    `jobs` processes share the work for big data sets (default: all cores); the files are the
    same whatever the number.
    """
    if customers < 1:
        raise UsageError("--customers must be at least 1")
    _check_out(out)
    source = content_from if content_from is not None else Path(__file__).resolve().parents[2]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        (tmp / "data").mkdir(parents=True)
        counts, override = write_data(tmp / "data", customers, seed, jobs)
        (tmp / "data" / "products.yaml").write_text(products_yaml(), encoding="utf-8")
        (tmp / "settings.yaml").write_text(settings_yaml(), encoding="utf-8")
        (tmp / "segments.yaml").write_text(segments_yaml(override), encoding="utf-8")
        content_items = _copy_tree(source / "content", tmp / "content")
        templates = _copy_tree(source / "templates", tmp / "templates") >= 0
        if out.exists():
            out.rmdir()  # empty, checked above
        os.rename(tmp, out)
    except OSError as error:
        raise OutputError(f"cannot write the demo project to {out}: {error}") from error
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("wrote a demo project with %d customers to %s", customers, out)
    return DemoSummary(
        out=out,
        customers=counts["customers"],
        contacts=counts["contacts"],
        orders=counts["orders"],
        evaluations=counts["evaluations"],
        interactions=counts["interactions"],
        suppressions=counts["suppressions"],
        account_managers=counts["account_managers"],
        products=len(PRODUCTS),
        content_items=max(content_items, 0),
        templates_copied=templates,
    )


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out}: already exists and is not empty; choose a new folder for the demo project")


def _copy_tree(source: Path, target: Path) -> int:
    """Copy a folder if it exists; return the number of Markdown files in it, -1 if absent."""
    if not source.is_dir():
        log.warning("%s not found: the demo project has no %s/ folder", source, source.name)
        return -1
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    return sum(1 for _ in target.rglob("*.md"))


def settings_yaml() -> str:
    """Return the commented settings.yaml of the sample company."""
    return read_data("settings.yaml")


def segments_yaml(override: tuple[str, str]) -> str:
    """Return the commented segments.yaml, with one override for the given (id, name)."""
    customer_id, name = override
    label = f"  # {name}" if name else ""
    return Template(read_data("segments.yaml")).substitute(customer_id=customer_id, label=label)
