"""Tools around the workflow: a demo project of any size, and a check of the state."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipeline.cli.base import Context, cli, echo_err, pass_context, user_errors


@cli.command("demo-data")
@click.option("--customers", type=click.IntRange(min=1), default=150, show_default=True,
              help="How many customers to generate (about 2.7 contacts and 17 orders each).")
@click.option("--seed", type=int, default=2026, show_default=True,
              help="Random seed: the same seed always gives the same files.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the new project; must not exist yet, or be empty.")
@pass_context
@user_errors
def demo_data(obj: Context, customers: int, seed: int, out: Path) -> None:
    """Write a synthetic project (the sample company, any size) for trials and benchmarks.

    The folder gets data/, content/, templates/, segments.yaml and settings.yaml, so
    `windstil --project DIR` runs on it straight away. Dates are relative to 2026-11-30.

    \b
    Example:
      windstil demo-data --customers 100000 --seed 1 --out big-demo
      windstil --project big-demo validate
    """
    import time

    from pipeline.demo import generate_project

    started = time.perf_counter()
    summary = generate_project(out, customers, seed)
    seconds = time.perf_counter() - started
    if obj.verbosity >= 0:
        click.echo(
            f"wrote {out}: {summary.customers:,} customers, {summary.contacts:,} contacts, "
            f"{summary.orders:,} orders, {summary.evaluations:,} evaluations, "
            f"{summary.interactions:,} interactions, {summary.content_items} content items "
            f"in {seconds:.1f} s"
        )


@cli.group()
def state() -> None:
    """The state database: runs, deliveries, frozen segmentations, suppressions.

    \b
    Example:
      windstil state check
    """


@state.command("check")
@pass_context
@user_errors
def state_check(obj: Context) -> None:
    """Check the state database's integrity; exit 1 when something is wrong.

    Runs SQLite's integrity and foreign-key checks and Windstil's own (schema version,
    approvals, deliveries, frozen segmentations). A damaged database is never repaired or
    overwritten: restore it from a backup.

    \b
    Example:
      windstil state check
      windstil --project ~/crm-export state check
    """
    from pipeline.config import load_settings
    from pipeline.errors import StateError
    from pipeline.state import State

    path = load_settings(obj.project).paths.state
    if not path.exists():
        click.echo(f"{path}: no state database yet (it is made by the first run); nothing to check")
        return
    try:
        with State.open(path) as db:
            problems = db.check()
            counts = (len(db.runs()), len(db.deliveries()), len(db.suppressions()))
    except StateError as error:
        if "locked" in str(error):
            raise  # busy, not broken: no reason to restore anything
        problems, counts = [str(error)], None
    for problem in problems:
        echo_err(f"{path}: {problem}")
    if problems:
        echo_err(f"{path}: {len(problems)} integrity problem{'s' if len(problems) != 1 else ''}; "
                 "restore the database from a backup")
        sys.exit(1)
    runs, deliveries, suppressions = counts or (0, 0, 0)
    click.echo(f"{path}: ok ({runs} runs, {deliveries} deliveries, {suppressions} suppressions)")
