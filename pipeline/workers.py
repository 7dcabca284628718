"""The render processes: they render the recipients a chunk at a time.

The render stage hands each process a `Chunk` (a few hundred recipients and only the data
their messages are made of), never the dataset, so a process stays the size of one chunk
however large the project is. (The call-list stage spawns fresh processes of its own: see
pipeline.call_lists.start_list_writer.)
"""

from __future__ import annotations

import gc
import logging
import os
import pickle  # nosec B403
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.models import (
    AccountManager,
    Contact,
    ContentItem,
    Customer,
    Dataset,
    Evaluation,
    Interaction,
    Product,
    Project,
    RenderedMessage,
    Selection,
    Settings,
)
from pipeline.processes import Processes, ignore_interrupts
from pipeline.render.compile import Compiled, compile_templates
from pipeline.render.message import prepare_run, render_messages
from pipeline.tables import orders_of_customers, records_frame
from pipeline.writer import RunWriter

log = logging.getLogger(__name__)

CHUNK = 250  # recipients per work unit handed to a render process
PARALLEL_FROM = 4 * CHUNK  # contacts: by default, fewer render faster here than processes start (~0.5 s)


@dataclass(frozen=True)
class Chunk:
    """One work unit: a few hundred recipients and just the data their messages are made of.

    A render process gets these, not the dataset: it starts fresh (spawned, not forked), so
    its memory stays the size of one chunk however many customers the project has.
    """

    root: Path  # the run's temporary folder
    selections: tuple[Selection, ...]
    customers: dict[str, Customer]
    contacts: dict[str, Contact]
    orders: pl.DataFrame  # of its customers only


def render_processes(
    project: Project, as_of: date, secret: bytes, jobs: int | None
) -> AbstractContextManager[Processes]:
    """Return the run's render processes: spawned once the templates compile, or none for a small run."""
    data = project.data
    # `--jobs N` is honoured as soon as there can be two chunks; the default (all cores)
    # keeps a small run in this process, where it renders before processes would start.
    small = len(data.contacts) <= (CHUNK if jobs else PARALLEL_FROM)
    jobs = max(1, jobs or os.cpu_count() or 1)
    return Processes.spawn(0 if small else jobs, "render", start_worker,
                           (project.settings, data.content, data.account_managers, data.products, as_of, secret))


# What a render process holds for the whole run (set by start_worker, or by _render_all
# itself when it renders in its own process).
WORKER: dict[str, Any] = {}


def start_worker(settings: Settings, content: dict[str, ContentItem], account_managers: dict[str, AccountManager],
                  products: dict[str, Product], as_of: date, secret: bytes) -> None:
    """Set up a spawned render process: compile the templates once, keep the run-wide values."""
    ignore_interrupts()
    try:
        compiled = compile_templates(settings, content)
    except Exception as error:  # said with the first chunk: a failing initializer is restarted forever
        WORKER["failed"] = f"the render process could not compile the templates: {error}"
        return
    hold_for_rendering(compiled, settings, content, account_managers, products, as_of, secret)


def hold_for_rendering(compiled: Compiled, settings: Settings, content: dict[str, ContentItem],
                        account_managers: dict[str, AccountManager], products: dict[str, Product],
                        as_of: date, secret: bytes) -> None:
    """Keep what render_chunk needs besides the chunk itself, in this process."""
    WORKER.update(compiled=compiled, settings=settings, content=content,
                   account_managers=account_managers, products=products, as_of=as_of, secret=secret)


def render_chunk(chunk: Chunk) -> tuple[bytes, int, int]:
    """Render and write the messages of one chunk's recipients.

    Returns the records of what was made, pickled (the parent keeps them on disk as they
    are), the bytes written and the number of recipients.
    """
    w = WORKER
    if "failed" in w:
        raise RuntimeError(w["failed"])
    data = Dataset(account_managers=w["account_managers"], customers=chunk.customers, contacts=chunk.contacts,
                   orders=chunk.orders, evaluations=records_frame(Evaluation, ()),
                   interactions=records_frame(Interaction, ()), suppressions=(),
                   products=w["products"], content=w["content"])
    prepare_run(w["compiled"], data)
    writer = RunWriter(chunk.root)
    made: list[RenderedMessage] = []
    # Rendering makes no reference cycles, so the cyclic GC only costs time here: a quarter of
    # the render in benchmarks/render.py.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for selection in chunk.selections:
            for message, files in render_messages(w["compiled"], selection, data, w["settings"], None,
                                                  w["as_of"], w["secret"]):
                for relpath, payload in files.items():
                    writer.write_bytes(relpath, payload)
                made.append(message)
    finally:
        if collecting:
            gc.enable()
    return pickle.dumps(made, pickle.HIGHEST_PROTOCOL), writer.bytes_written, len(chunk.selections)


def chunks(todo: Sequence[Selection], data: Dataset, size: int, root: Path) -> Iterator[Chunk]:
    """Yield the recipients in order, `size` at a time, each with its customers, contacts and orders."""
    for start in range(0, len(todo), size):
        selections = tuple(todo[start : start + size])
        customer_ids = dict.fromkeys(s.customer_id for s in selections)
        yield Chunk(
            root=root,
            selections=selections,
            customers={c: data.customers[c] for c in customer_ids if c in data.customers},
            contacts={s.contact_id: data.contacts[s.contact_id] for s in selections},
            orders=orders_of_customers(data.orders, customer_ids),
        )
