"""The fast paths of the render and the run give exactly what the plain ways give."""

from __future__ import annotations

import binascii
import hashlib
import json
import multiprocessing
import pickle
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from decimal import Decimal
from email.header import Header
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from babel.numbers import format_percent
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import processes, run, workers
from pipeline.load import load_project
from pipeline.models import RenderedMessage
from pipeline.quiet import quiet_periods
from pipeline.render.compile import html_environment, text_environment
from pipeline.render.formatting import clean_text, encode_header_text, fold_ascii
from pipeline.render.message import _base64_lines
from pipeline.segment import percent, resolve_segmentation
from pipeline.select import select
from pipeline.tables import order_records

AS_OF = date(2026, 11, 30)

ascii_words = st.lists(
    st.text(alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789,;:!?'()-–"), min_size=1,
            max_size=30).map(lambda w: w.encode("ascii", "ignore").decode() or "x"),
    min_size=1, max_size=25,
)


@settings(max_examples=400, deadline=None)
@given(words=ascii_words, name=st.sampled_from(["Subject", "X", "List-Unsubscribe-Post"]))
def test_ascii_folding_matches_email_header(words: list[str], name: str) -> None:
    """Any one-line ASCII subject folds exactly as email.header.Header folds it."""
    value = " ".join(words)
    expected = Header(value, "us-ascii", header_name=name).encode(linesep="\r\n")
    assert fold_ascii(value, len(name) + 2) == expected


def test_folding_examples() -> None:
    """A long subject breaks after the comma first; a first word too long gets a line of its own."""
    subject = "Jan, 3 tips voor u: Wat als uw serverruimte morgen onder water staat en er niemand belt"
    assert encode_header_text("Subject", subject) == Header(subject, "us-ascii", header_name="Subject").encode(
        linesep="\r\n")
    assert encode_header_text("Subject", subject).startswith("Jan,\r\n 3 tips")
    long_word = "x" * 90 + " y"
    assert fold_ascii(long_word, 9) == "\r\n " + "x" * 90 + "\r\n y"
    assert fold_ascii(long_word, 9) == Header(long_word, "us-ascii", header_name="Subject").encode(linesep="\r\n")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_header_text_matches_email_header_for_ascii(text: str) -> None:
    """Whatever the text, an ASCII subject comes out as Header would write it."""
    value = clean_text(text)
    if value.isascii() and len(value) + 9 > 78:
        assert encode_header_text("Subject", value) == Header(value, "us-ascii", header_name="Subject").encode(
            linesep="\r\n")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_base64_lines_are_76_characters_with_crlf(data: bytes) -> None:
    """The HTML part's base64 is the standard encoding cut into 76-character CRLF lines."""
    encoded = binascii.b2a_base64(data, newline=False)
    assert _base64_lines(data) == b"\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


@pytest.mark.parametrize("make", [html_environment, text_environment])
def test_templates_read_dict_keys_and_still_see_missing_ones(make) -> None:  # type: ignore[no-untyped-def]
    """`x.name` reads a dict key; a missing key is still an error, a dict method still a method."""
    env = make()
    assert env.from_string("{{ item.title }}|{{ item.title|length }}").render(item={"title": "Back-up"}) == "Back-up|7"
    assert env.from_string("{{ item.keys()|list|length }}").render(item={"a": 1, "b": 2}) == "2"
    with pytest.raises(Exception, match="title"):
        env.from_string("{{ item.title }}").render(item={})


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_spawned_render_processes_given_chunks_write_what_one_process_writes(
    tiny_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With chunks of two recipients over two spawned processes, the e-mails, call lists and deliveries are the same."""
    monkeypatch.setenv("WINDSTIL_SECRET", "test-secret-not-for-production")
    monkeypatch.setattr(workers, "CHUNK", 2)
    pools: list[bool] = []
    made: list[dict[Any, RenderedMessage]] = []
    render_all = run._render_all

    def spy(*args: Any) -> None:
        pools.append(args[7].pool is not None)
        render_all(*args)
        made.append(run._read_records(args[6], args[2].data.contacts))  # kept on disk, read back

    list_writers: list[bool] = []
    call_list_processes = run._call_list_processes

    @contextmanager
    def writers_spy(*args: Any) -> Iterator[processes.Processes]:
        with call_list_processes(*args) as writers:
            list_writers.append(writers.pool is not None)
            yield writers

    monkeypatch.setattr(run, "_render_all", spy)
    monkeypatch.setattr(run, "_call_list_processes", writers_spy)
    first = run.run_batch(tiny_project, as_of=AS_OF, jobs=1, force=True)
    one, calls = _digest(first.folder / "emails"), _digest(first.folder / "calls")
    deliveries = (first.folder / "deliveries.csv").read_bytes()
    run.run_batch(tiny_project, as_of=AS_OF, force=True)  # by default, too few contacts to start processes
    second = run.run_batch(tiny_project, as_of=AS_OF, jobs=2, force=True)  # asked for: two processes
    assert pools == [False, False, True]
    assert list_writers == [False, False, True]  # and two more for the call lists, one account manager a task
    assert _digest(second.folder / "emails") == one
    assert _digest(second.folder / "calls") == calls and len(calls) >= 9  # all.csv and 4 files per manager
    assert (second.folder / "deliveries.csv").read_bytes() == deliveries
    manifests = [json.loads((r.folder / "manifest.json").read_text()) for r in (first, second)]
    assert manifests[0]["bytes_written"] == manifests[1]["bytes_written"]  # what the processes wrote counts
    assert len(one) >= 6 and second.counts["newsletters"] + second.counts["alerts"] == len(one) // 3
    # What comes back from the processes is kept with one copy of each equal subject and item list.
    first_of: dict[Any, Any] = {}
    repeated = 0
    for message in made[-1].values():
        for value in (message.subject, message.item_ids):
            repeated += value in first_of
            assert first_of.setdefault(value, value) is value
    assert repeated >= 2


def _percent_by_babel(share: Fraction) -> str:
    value = Decimal(share.numerator) / Decimal(share.denominator)
    pattern = "#,##0.00%" if 0 < abs(value) < Decimal("0.00995") else "#,##0.0%"
    return str(format_percent(value, pattern, locale="nl_NL"))


@settings(max_examples=500, deadline=None)
@given(st.fractions(min_value=-2, max_value=2) | st.integers(-10**6, 10**6).map(lambda n: Fraction(n, 10**6))
       | st.integers(-2000, 2000).map(lambda n: Fraction(2 * n + 1, 2000)))
def test_percent_is_what_babel_writes(share: Fraction) -> None:
    """Shares format exactly as Babel formats them, halves and tiny negatives included."""
    assert percent(share) == _percent_by_babel(share)


def test_percent_examples() -> None:
    """One decimal, two below 1%, half-even rounding and a negative zero as Babel writes them."""
    for share in (Fraction(41, 1000), Fraction(37, 10000), Fraction(1, 2000), Fraction(-1, 10**7), Fraction(0),
                  Fraction(1), Fraction(12345, 1000)):
        assert percent(share) == _percent_by_babel(share)
    assert percent(Fraction(41, 1000)) == "4,1%"


def test_a_render_chunk_carries_only_its_own_recipients_customers_contacts_and_orders(tiny_project: Path) -> None:
    """What a render process gets per chunk is the data of that chunk's recipients, nothing more."""
    project = load_project(tiny_project)
    data, config = project.data, project.segments
    segmentation = resolve_segmentation(data, config, AS_OF, None)
    selections = select(data, config, segmentation, quiet_periods(data, config, AS_OF), [], AS_OF, set())
    todo = [s for s in selections if s.newsletter or s.alert]
    chunks = list(workers.chunks(todo, data, 2, tiny_project))
    assert [s for chunk in chunks for s in chunk.selections] == todo
    assert len(chunks) == -(-len(todo) // 2) and len(chunks) >= 2
    for chunk in chunks:
        customers = {s.customer_id for s in chunk.selections}
        assert set(chunk.customers) == customers
        assert set(chunk.contacts) == {s.contact_id for s in chunk.selections}
        own = [o for o in order_records(data.orders) if o.customer_id in customers]
        assert sorted(chunk.orders["order_id"]) == sorted(o.order_id for o in own)
        received = pickle.loads(pickle.dumps(chunk))  # as a render process receives it
        assert received.orders.equals(chunk.orders)
        assert replace(received, orders=None) == replace(chunk, orders=None)


def test_a_run_whose_render_processes_cannot_start_renders_in_its_own_process(
    tiny_project: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Out of processes: the run warns and makes the very same e-mails in one process."""
    monkeypatch.setenv("WINDSTIL_SECRET", "test-secret-not-for-production")
    first = run.run_batch(tiny_project, as_of=AS_OF, jobs=1, force=True)
    one = _digest(first.folder / "emails")

    spawning = multiprocessing.get_context("spawn")

    class NoProcesses(type(spawning)):  # type: ignore[misc]
        def Process(self, *args: object, **kwargs: object) -> object:  # multiprocessing's name
            raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(processes.multiprocessing, "get_context", lambda method: NoProcesses())
    monkeypatch.setattr(workers, "CHUNK", 2)
    second = run.run_batch(tiny_project, as_of=AS_OF, jobs=2, force=True)
    assert _digest(second.folder / "emails") == one
    assert "could not start the render processes ([Errno 11] Resource temporarily unavailable)" in caplog.text
    assert "call-list processes" not in caplog.text  # not tried again for the call lists


def test_a_spool_gives_back_what_was_kept_in_order_and_leaves_no_file(tmp_path: Path) -> None:
    """Values kept on disk come back equal and in order; adding after a read appends; no file is seen."""
    with run._Spool(tmp_path) as spool:
        spool.add({"a": Fraction(1, 3)})
        spool.add_pickled(pickle.dumps([Decimal("8.0"), "é"]))
        first = next(iter(spool))  # a read stopped halfway ...
        spool.add(("last",))  # ... does not make the next value overwrite the second
        assert first == {"a": Fraction(1, 3)}
        assert list(spool) == [{"a": Fraction(1, 3)}, [Decimal("8.0"), "é"], ("last",)]
        assert str(list(spool)[1][0]) == "8.0"
        assert list(tmp_path.iterdir()) == []  # unnamed: nothing to leave behind in the run folder
    assert list(tmp_path.iterdir()) == []


def test_a_parked_segmentation_comes_back_equal_customers_in_order(
    tiny_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The segmentation kept on disk through the render stage is the same segmentation, in a few parts."""
    monkeypatch.setattr(run, "_PARKED_AT_ONCE", 2)
    project = load_project(tiny_project)
    segmentation = resolve_segmentation(project.data, project.segments, AS_OF, None)
    assert len(segmentation.customers) > 2 * run._PARKED_AT_ONCE
    with run._Spool(tmp_path) as spool:
        run._park(segmentation, spool)
        assert len(list(spool)) == 1 + -(-len(segmentation.customers) // 2)
        back = run._unpark(spool)
    assert back == segmentation
    assert list(back.customers) == list(segmentation.customers)
    assert back.warnings == segmentation.warnings and back.as_of == segmentation.as_of


def test_a_call_list_process_loads_neither_polars_nor_the_renderer() -> None:
    """What a spawned call-list writer imports (the `windstil` command's module, then its task's) stays small."""
    code = ("import sys, pipeline.cli, pipeline.call_lists; "
            "print(sorted(m for m in ('polars', 'pipeline.workers', 'pipeline.render', 'premailer', 'lxml') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
