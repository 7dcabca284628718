"""The CSV files read by Polars give the very cells and physical lines the csv module gives, or are left to it."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.csvinput import TextTable, _read_with_csv, _read_with_polars, read_table
from pipeline.errors import InputError

COLUMNS = ("a", "b", "c", "missing")
# The characters where the two readers could part: quotes, both separators, every line end,
# the separators Python strips and Polars does not, a BOM, spaces, a tab.
TRICKY = st.sampled_from(
    ['"', ",", ";", "\n", "\r", "\r\n", " ", "\t", "\x1c", "\ufeff", "\u3000", "\xa0", "\x00", "x", "y", "é"]
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("csvframe")


def _polars(path: Path) -> TextTable | None:
    """Return the file as Polars reads it, or None where it declines (or refuses) the file."""
    try:
        return _read_with_polars(path, path.name, COLUMNS)
    except pl.exceptions.PolarsError:
        return None


def _both(path: Path) -> tuple[object, object]:
    """Return read_table's and the csv module's reading of `path` (or the problems each raised)."""
    outcomes: list[object] = []
    for read in (read_table, _read_with_csv):
        try:
            table = read(path, "t.csv", COLUMNS)
        except InputError as error:
            outcomes.append([(p.file, p.line, p.field, str(p.message)) for p in error.problems])
        else:
            outcomes.append((table.header, table.frame.rows(), table.cut))
    return outcomes[0], outcomes[1]


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(st.lists(TRICKY, max_size=60), st.sampled_from(["a,b,c\n", "a;b;c\r\n", "\ufeffA,b,c,a\n", ""]))
@example(list('"x"y",1\n'), "a,b,c\n")
@example(list('x,"1\r\n2",3\n\n ,\x1c,\n'), "a,b,c\n")
def test_any_text_reads_the_same_either_way(folder: Path, chars: list[str], header: str) -> None:
    """Random text after a header: read_table gives exactly what the csv module reads, line numbers included."""
    path = folder / "t.csv"
    path.write_bytes((header + "".join(chars)).encode("utf-8"))
    fast, slow = _both(path)
    assert fast == slow


@st.composite
def written(draw: st.DrawFn) -> str:
    """A file as a CSV writer makes it: any cells, either separator and line end, minimal or full quoting."""
    delimiter = draw(st.sampled_from([",", ";"]))
    cells = st.text(st.sampled_from(['"', ",", ";", "\n", " ", "a", "b", "1", "é"]), max_size=6)
    rows = draw(st.lists(st.lists(cells, min_size=1, max_size=4), max_size=8))
    out = io.StringIO()
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    writer = csv.writer(out, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n"])), quoting=quoting)
    writer.writerow(["a", "b", "c"])
    writer.writerows(rows)
    return out.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(written())
def test_written_files_are_read_by_polars_as_the_csv_module_reads_them(folder: Path, text: str) -> None:
    """A file a CSV writer made is read by Polars (unless a row is longer than the header), cells and lines as csv's."""
    path = folder / "w.csv"
    path.write_bytes(text.encode("utf-8"))
    slow = _read_with_csv(path, path.name, COLUMNS)
    fast = _polars(path)
    delimiter = ";" if text.split("\n")[0].count(";") == 2 else ","
    longest = max((len(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)), default=0)
    if longest <= 3:
        assert fast is not None
    if fast is not None:
        assert (fast.header, fast.frame.rows(), fast.cut) == (slow.header, slow.frame.rows(), slow.cut)


def test_a_quoted_line_break_moves_the_next_rows_down(folder: Path) -> None:
    """Polars reads a file with a quoted line break; the rows after it start on their physical lines."""
    path = folder / "breaks.csv"
    path.write_bytes(b'a,b,c\r\n1,"two\r\nlines",3\r\n\r\n4,5,6\r\n"x\ny\nz",,\r\n7,8,9\r\n')
    table = _polars(path)
    assert table is not None
    assert table.frame.rows() == [
        (2, "1", "two\r\nlines", "3", ""),
        (5, "4", "5", "6", ""),
        (6, "x\ny\nz", "", "", ""),
        (9, "7", "8", "9", ""),
    ]


@pytest.mark.parametrize(
    "text",
    [
        'a,b,c\n"ab"cd,2,3\n',  # text after a closing quote: the csv module keeps it, Polars would not
        'a,b,c\n"a"b"c",2,3\n',
        "a,b,c\r1,2,3\r",  # a lone CR ends a line for the csv module only
        'a,b,c\n1,2,"open\n',  # cut off inside a quote
        "a,b,c\n1,2,3,4\n",  # longer than the header
        "\n\na,b,c\n1,2,3\n",  # blank lines before the header
        'a,b,c\n1,x"y,3\n',  # a quote inside an unquoted cell
        'a,b,c\n1, "x",3\n',  # a quote after a space: the cell is not quoted for the csv module
        'a,b,c\n1,"x" ,3\n',  # a space after a closing quote
        'a;b;c\n1,"x";2;3\n',  # a quote after the other separator
    ],
)
def test_files_polars_would_read_otherwise_are_left_to_the_csv_module(folder: Path, text: str) -> None:
    """Where Polars and the csv module would part, Polars does not read the file."""
    path = folder / "odd.csv"
    path.write_bytes(text.encode("utf-8"))
    assert _polars(path) is None
    assert _both(path)[0] == _both(path)[1]


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
CONTROL_OR_NOT = st.sampled_from(['"', ",", "\n", "\r\n", "\r", "\t", " ", "\x01", "\x0b", "\x1c", "\x7f", "x"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(CONTROL_OR_NOT, max_size=40))
def test_a_file_said_to_hold_no_control_character_has_none_in_a_cell(folder: Path, chars: list[str]) -> None:
    """The checks skip looking for control characters in a file read as holding none: no cell may hold one."""
    path = folder / "controls.csv"
    path.write_bytes(("a,b,c\n" + "".join(chars)).encode("utf-8"))
    table = read_table(path, path.name, COLUMNS)
    if not table.controls:
        assert not [cell for row in table.frame.rows() for cell in row[1:] if _CONTROL.search(cell)]


def test_control_characters_are_looked_for_only_in_a_file_that_has_some(folder: Path) -> None:
    """A tab, a CR of a CRLF and the line ends are no control characters in a cell; \\x01 or a quoted line break is."""
    path = folder / "plain.csv"
    for text, controls in [
        ("a,b,c\r\n1,\t2,3\r\n", False),
        ("a,b,c\n1,2\x01,3\n", True),
        ('a,b,c\n1,"2\n2",3\n', True),
        ("a,b,c\n1,2\x7f,3\n", True),
    ]:
        path.write_bytes(text.encode("utf-8"))
        assert read_table(path, path.name, COLUMNS).controls is controls, text


def test_only_cells_that_may_have_white_space_at_an_end_are_stripped(folder: Path) -> None:
    """Where a file's only white space is the space, a column with no cell starting or ending in one is not stripped."""
    path = folder / "spaces.csv"
    for text, cells in [
        ("a,b,c\n1, 2,x y\n3,4 ,z\n", [("1", "2", "x y"), ("3", "4", "z")]),
        ("a,b,c\n1,\t2,x y\n", [("1", "2", "x y")]),  # a tab: every column is stripped
        ("a,b,c\n1,\u00a02,\u00e9\n", [("1", "2", "\u00e9")]),  # not ASCII: likewise
        ('a,b,c\n1,"2\n",3\n', [("1", "2", "3")]),  # a line break in a cell
    ]:
        path.write_bytes(text.encode("utf-8"))
        table = _polars(path)
        assert table is not None
        assert [row[1:4] for row in table.frame.rows()] == cells, text
