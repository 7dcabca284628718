"""Records stored by column: a RecordTable gives back exactly the records it was made of."""

from __future__ import annotations

import csv
import dataclasses
import pickle
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, write_tiny_project
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import load_settings
from pipeline.load import load_dataset, load_project
from pipeline.models import (
    Channel,
    Dataset,
    Evaluation,
    Interaction,
    Level,
    OurLevel,
    RecordTable,
    RecordTableBuilder,
)


@dataclass(frozen=True, slots=True)
class Row:
    """A record whose fields take anything; it refuses to be pickled, so a table must pickle its columns."""

    first: Any
    second: Any
    note: str = "—"

    def __reduce__(self) -> Any:
        raise AssertionError("a table pickles its columns, not its records")


def exactly(value: Any) -> tuple[Any, ...]:
    """Return what tells a value apart from one that is equal but prints differently or is of another type."""
    if isinstance(value, tuple):
        return (tuple, tuple(map(exactly, value)))
    return (type(value), repr(value))


def same(a: Any, b: Any) -> bool:
    """Tell whether two records are the same, field by field, to the exponent, the type and NaN."""
    if type(a) is not type(b):
        return False
    names = [f.name for f in dataclasses.fields(a)]
    return all(exactly(getattr(a, n)) == exactly(getattr(b, n)) for n in names)


def all_same(got: Any, expected: Any) -> bool:
    got, expected = list(got), list(expected)
    return len(got) == len(expected) and all(same(a, b) for a, b in zip(got, expected, strict=True))


# Values that are equal to one another but not interchangeable: a table must keep them apart.
AWKWARD = (
    Decimal("8"),
    Decimal("8.0"),
    Decimal("8.00"),
    Decimal("80E-1"),
    Decimal("0"),
    Decimal("-0"),
    Decimal("0E+3"),
    Decimal("NaN"),
    Decimal("-Infinity"),
    1,
    True,
    1.0,
    0,
    False,
    0.0,
    -0.0,
    float("nan"),
    "call",
    Channel.CALL,
    "finance",
    Level.FINANCE,
    "management",
    Level.MANAGEMENT,
    OurLevel.MANAGEMENT,
    "",
    None,
    date(2026, 11, 30),
    datetime(2026, 11, 30),
    (1, 2),
    (True, 2),
    (Decimal("1.0"),),
    (Decimal("1"),),
)

values = st.one_of(
    st.sampled_from(AWKWARD),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(places=2, min_value=-100, max_value=100),
    st.text(max_size=8),
    st.dates(),
    st.sampled_from([*Channel, *Level, *OurLevel]),
    st.none(),
)
rows = st.lists(st.builds(Row, values, values, st.text(max_size=4)), max_size=40)
# Without NaN, which is not even equal to itself (and a signalling one raises when compared).
comparable = values.filter(lambda v: v == v if not isinstance(v, Decimal) else not v.is_nan())
comparable_rows = st.lists(st.builds(Row, comparable, comparable, st.sampled_from(["", "a"])), max_size=8)


# --------------------------------------------------------------------------- round trip


@given(rows)
def test_a_table_gives_back_its_records(records: list[Row]) -> None:
    """Iterating, indexing and list() give back every record as put in, to the exponent and the type."""
    table = RecordTable(Row, records)
    assert len(table) == len(records)
    assert all_same(table, records)
    assert all_same([table[n] for n in range(len(records))], records)


def test_equal_values_that_print_differently_stay_apart() -> None:
    """8 and 8.0, 0 and -0, 1 and True, "call" and Channel.CALL: each row keeps its own."""
    records = [Row(value, value) for value in AWKWARD]
    table = RecordTable(Row, records)
    assert all_same(table, records)
    assert [str(r.first) for r in table[:4]] == ["8", "8.0", "8.00", "8.0"]
    assert [type(r.first) for r in table[9:12]] == [int, bool, float]
    assert type(table[18].first) is Channel and type(table[17].first) is str


@given(st.lists(st.text(max_size=12), max_size=60), st.integers(0, 3))
def test_strings_met_once_come_back_exactly(texts: list[str], repeats: int) -> None:
    """A field of mostly distinct strings (an order_id) is kept joined; each comes back as it was."""
    records = [Row(text, n % 3) for n, text in enumerate(texts)] * (1 + repeats % 2)
    table = RecordTable(Row, records)
    assert all_same(table, records)
    assert all_same([table[n] for n in range(-len(records), 0)], records)
    assert all_same(pickle.loads(pickle.dumps(table)), records)


def test_many_distinct_values_widen_the_codes() -> None:
    """Past 256 and 65,536 distinct values of a field its codes take more bytes, and every value stays."""
    records = [Row(n, Decimal(n % 300), note=str(n % 2)) for n in range(70_000)]
    table = RecordTable(Row, records)
    assert table == records
    assert [r.first for r in table[250:260]] == list(range(250, 260))
    assert table[-1] == records[-1] and table[65_536] == records[65_536]


# --------------------------------------------------------------------------- a sequence


@given(rows, st.data())
def test_indexing_and_slicing_are_a_tuples(records: list[Row], data: st.DataObject) -> None:
    """Negative indexes, slices with any step and out-of-range indexes behave as on a tuple."""
    table = RecordTable(Row, records)
    expected = tuple(records)
    for index in range(-len(records), len(records)):
        assert same(table[index], expected[index])
    chosen = data.draw(st.slices(len(records) + 2))
    assert isinstance(table[chosen], tuple)
    assert all_same(table[chosen], expected[chosen])
    for index in (len(records), -len(records) - 1):
        with pytest.raises(IndexError):
            table[index]


def test_a_table_is_a_sequence() -> None:
    """len, in, index, count, reversed and bool work as on a sequence; a table is not hashable."""
    records = [Row(n % 3, Decimal(n)) for n in range(7)]
    table = RecordTable(Row, records)
    assert Row(1, Decimal(4)) in table and Row(1, Decimal(5)) not in table
    assert table.index(Row(2, Decimal(5))) == 5
    assert table.count(Row(0, Decimal(0))) == 1
    assert list(reversed(table)) == records[::-1]
    assert table and not RecordTable(Row)
    assert table.record_type is Row
    with pytest.raises(TypeError):
        hash(table)


@given(comparable_rows, comparable_rows)
def test_equality_against_tables_tuples_and_lists(records: list[Row], others: list[Row]) -> None:
    """A table equals a table, tuple or list of equal records in the same order, and nothing else."""
    table = RecordTable(Row, records)
    assert table == records and table == tuple(records) and table == RecordTable(Row, records)
    assert records == table and tuple(records) == table  # reflected
    assert (table == others) == (records == others)
    assert (table == RecordTable(Row, others)) == (records == others)
    assert table != [*records, Row(1, 2)]
    assert table != {1: 2} and table != "text"


def test_a_table_and_an_empty_one() -> None:
    """The empty table: no rows, equal to () and [], and its repr names the record type."""
    empty = RecordTable(Evaluation)
    assert len(empty) == 0 and list(empty) == [] and empty == () and empty == []
    assert repr(empty) == "RecordTable(Evaluation, ())"
    with pytest.raises(IndexError):
        empty[0]
    assert empty[:] == ()
    assert pickle.loads(pickle.dumps(empty)) == ()
    one = RecordTable(Evaluation, [Evaluation("K1", date(2026, 1, 2), Decimal("8.0"))])
    assert repr(one) == f"RecordTable(Evaluation, ({one[0]!r},))"
    assert "Decimal('8.0')" in repr(one)


# --------------------------------------------------------------------------- pickling


@given(rows)
def test_a_table_pickles_its_columns(records: list[Row]) -> None:
    """Pickled and back (as to a render process), the table has every record exactly; no Row is pickled."""
    table = RecordTable(Row, records)
    copy = pickle.loads(pickle.dumps(table, protocol=pickle.HIGHEST_PROTOCOL))
    assert isinstance(copy, RecordTable) and copy.record_type is Row
    assert all_same(copy, records)


def test_a_dataset_pickles_with_its_tables(tiny_project: Path) -> None:
    """The loaded dataset pickles; its evaluations and interactions come back equal."""
    data = load_project(tiny_project).data
    copy = pickle.loads(pickle.dumps(data))
    assert copy.evaluations == data.evaluations and copy.interactions == data.interactions
    assert all_same(copy.evaluations, data.evaluations)


# --------------------------------------------------------------------------- the builder


def test_the_builder_fills_defaults_and_refuses_wrong_rows() -> None:
    """Trailing fields may be left to their defaults; a missing required field or one too many is refused."""
    full = ("K1", date(2026, 1, 3), "P1", Channel.CALL, OurLevel.MANAGEMENT, Level.FINANCE, "n", "calls import")
    builder = RecordTableBuilder(Interaction)
    builder.add("K1", date(2026, 1, 2))
    builder.add(*full)
    with pytest.raises(TypeError):
        builder.add("K1")
    with pytest.raises(TypeError):
        builder.add("K1", date(2026, 1, 2), "", None, None, None, "", "", "one too many")
    table = builder.build()
    assert table == [
        Interaction("K1", date(2026, 1, 2)),
        Interaction(*full),
    ]
    assert table[0].source == "interactions.csv"


def test_the_builder_takes_dataclasses_only() -> None:
    """Only a dataclass with fields, each set by its constructor, can be stored by column."""

    @dataclass(frozen=True)
    class Derived:
        a: int
        b: int = dataclasses.field(init=False, default=0)

    @dataclass(frozen=True)
    class Nothing:
        pass

    for record_type in (tuple, int, Derived, Nothing):
        with pytest.raises(TypeError):
            RecordTableBuilder(record_type)


def test_a_dataset_keeps_any_records_as_tables() -> None:
    """Lists or tuples given for evaluations and interactions become tables; equal to what was given."""
    evaluations = [Evaluation("K1", date(2026, 1, 2), Decimal("8.0"), "O1", "ok")]
    interactions = (Interaction("K1", date(2026, 1, 2), channel=Channel.VISIT),)
    data = Dataset({}, {}, {}, [], evaluations, interactions, (), {}, {})  # type: ignore[arg-type]
    assert isinstance(data.evaluations, RecordTable) and data.evaluations.record_type is Evaluation
    assert isinstance(data.interactions, RecordTable) and data.interactions.record_type is Interaction
    assert data.evaluations == evaluations and data.interactions == interactions
    assert str(data.evaluations[0].score) == "8.0"
    table = data.evaluations
    assert dataclasses.replace(data, warnings=("w",)).evaluations is table  # a table is kept as it is
    with pytest.raises(TypeError):  # a table of other records is converted, and refused record by record
        Dataset({}, {}, {}, [], data.interactions, (), (), {}, {})  # type: ignore[arg-type]


# --------------------------------------------------------------------------- loading


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def test_loading_the_sample_gives_the_same_records_as_objects() -> None:
    """The bundled sample's evaluations and interactions, loaded into tables, are the records its CSV files say."""
    data = load_project(REPO).data
    expected_evaluations = [
        Evaluation(row["customer_id"], date.fromisoformat(row["date"]), Decimal(row["score"]), row["order_id"],
                   row["comment"])
        for row in _csv(REPO / "data" / "evaluations.csv")
    ]
    expected_interactions = [
        Interaction(
            row["customer_id"],
            date.fromisoformat(row["date"]),
            row["contact_id"],
            Channel(row["channel"]) if row["channel"] else None,
            OurLevel(row["our_level"]) if row["our_level"] else None,
            Level(row["their_level"]) if row["their_level"] else None,
        )
        for row in _csv(REPO / "data" / "interactions.csv")
    ]
    assert len(data.evaluations) == len(expected_evaluations) > 100
    assert len(data.interactions) == len(expected_interactions) > 100
    assert all_same(data.evaluations, expected_evaluations)
    assert all_same(data.interactions, expected_interactions)
    assert {str(e.score) for e in data.evaluations} >= {"8", "8.5"}  # whole scores print as written
    # The customer and contact strings are the dataset's own, not a copy per row.
    assert all(i.customer_id is data.customers[i.customer_id].customer_id for i in data.interactions)
    assert all(i.contact_id is data.contacts[i.contact_id].contact_id for i in data.interactions if i.contact_id)


def test_loading_keeps_each_score_as_written(tmp_path: Path) -> None:
    """Scores loaded into the table keep their exponent: 8 stays 8, 8.0 stays 8.0; a bad one is still a reject."""
    root = write_tiny_project(tmp_path / "project")
    settings_path = root / "settings.yaml"
    settings_path.write_text(settings_path.read_text().replace("max_reject_share: 0.05", "max_reject_share: 1"))
    path = root / "data" / "evaluations.csv"
    original = path.read_text(encoding="utf-8")
    before = len(load_dataset(load_settings(root)).evaluations)

    @settings(max_examples=20, deadline=None)
    @given(st.lists(st.sampled_from(["8", "8.0", "7.50", "10", "1.0", "9,5"]), min_size=1, max_size=6))
    def check(scores: list[str]) -> None:
        lines = [f'C001,,2026-10-0{n % 9 + 1},"{score}",' for n, score in enumerate(scores)]
        path.write_text(original + "\n".join(lines) + "\n", encoding="utf-8")
        data = load_dataset(load_settings(root))
        assert [str(e.score) for e in data.evaluations[before:]] == [s for s in scores if s != "9,5"]
        assert sum(r.file == "evaluations.csv" for r in data.rejects) == scores.count("9,5")

    check()
