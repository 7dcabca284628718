"""The checks of a CSV file's rows as Polars expressions, and the rejects they find.

A reader states its checks in the order it reads a row's cells; each becomes a boolean
column of the file's frame (see csvinput.TextTable), evaluated for every row at once. Only
the rows a check rejects come back to Python, as Reject values with the physical line,
column, value and reason, in the order of the file and, within a row, of the checks.

Cells are parsed by the very functions of pipeline.csvinput, once per distinct value (an
export repeats the same dates, scores, words and addresses), and the outcome is mapped back
onto the rows; amounts, nearly all distinct, are read by pattern in Polars, and only those
of another shape go through parse_amount. No float is involved anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

import polars as pl

from pipeline.config import SAFE_ID
from pipeline.csvinput import (
    CUT_OFF,
    LINE,
    MAX_CELL,
    TOO_MANY_CELLS,
    WHITESPACE,
    CellError,
    TextTable,
    _amount_parts,
)
from pipeline.models import Reject

E = TypeVar("E", bound=Enum)

MISSING = "missing required value"
ROW = "_row"  # each row's place in the file's frame
_SAFE_ID = f"^(?:{SAFE_ID.pattern})$"
_CONTROL = "[\\x00-\\x08\\x0a-\\x1f\\x7f]"  # a tab is harmless whitespace and stays


@dataclass(frozen=True)
class _Check:
    name: str  # its column in the frame: True where the row is rejected
    column: str
    reason: str
    value: str  # the frame column whose text the reject shows
    counts: bool  # whether it makes the row bad (not: an invalid address, a cell read after the row was taken)


class RowChecks:
    """The checks of one file's rows, in the order each row's cells are read; then its rejects."""

    def __init__(self, table: TextTable, *, long_rows_count: bool = True) -> None:
        """`long_rows_count`: False keeps a row with more cells than the header (listed all the same)."""
        self.file = table.file
        self._controls = table.controls
        self.frame = table.frame.with_row_index(ROW)
        self._checks: list[_Check] = []
        if table.cut is not None:
            line, column, value = table.cut
            self.reject(column, pl.col(LINE) == line, CUT_OFF, pl.lit(value))
        if table.long_rows:
            last = max(table.header.items(), key=lambda item: (item[0] != "", item[1]))[0]  # the last named column
            lines, extra = zip(*table.long_rows, strict=True)
            shown = pl.col(LINE).replace_strict(list(lines), list(extra), default="", return_dtype=pl.String)
            self.reject(last, pl.col(LINE).is_in(list(lines)), TOO_MANY_CELLS, shown, counts=long_rows_count)

    # ----------------------------------------------------------------- the checks

    def reject(
        self, column: str, condition: pl.Expr, reason: str, value: pl.Expr | None = None, *, counts: bool = True
    ) -> pl.Expr:
        """Reject `column` of the rows where `condition` holds, showing `value` (else the cell); return the check."""
        name = f"_check{len(self._checks)}"
        added = [condition.fill_null(False).alias(name)]
        shown = column
        if value is not None or column not in self.frame.columns:
            shown = f"{name}_value"
            added.append((pl.lit("") if value is None else value).alias(shown))
        self.frame = self.frame.with_columns(added)
        self._checks.append(_Check(name, column, reason, shown, counts))
        return pl.col(name)

    def ok(self) -> pl.Expr:
        """Return whether a row has no reject that makes it bad, so far."""
        names = [c.name for c in self._checks if c.counts]
        return ~pl.any_horizontal(names) if names else pl.lit(True)

    def add(self, **columns: pl.Expr) -> None:
        """Add columns to the frame (values the later checks or the reader use)."""
        self.frame = self.frame.with_columns(**columns)

    def attach(self, key: str, table: pl.DataFrame) -> None:
        """Add `table`'s other columns to each row, by the row's `key` (null where `table` has none).

        `table` has one row per key at most. Only the key column is joined, not the whole
        frame: a join copies every column it carries.
        """
        found = self.frame.select(key).join(table, on=key, how="left", maintain_order="left")
        if found.height != self.frame.height:
            raise ValueError(f"{self.file}: more than one row of the table attached per {key}")
        self.frame = self.frame.with_columns(found.drop(key).get_columns())

    def id(self, column: str, required: bool = True) -> pl.Expr:
        """Check an id cell (SAFE_ID); return it, or "" when missing or unsafe."""
        cell = pl.col(column)
        if required:
            self.reject(column, cell == "", MISSING)
        unsafe = self.reject(column, (cell != "") & ~cell.str.contains(_SAFE_ID), "unsafe id")
        return pl.when(unsafe).then(pl.lit("")).otherwise(cell)

    def text(self, column: str, required: bool = False, counts: bool = True, only: pl.Expr | None = None) -> pl.Expr:
        """Check a text cell's length; return it without control characters ("" when too long).

        `only`: the rows read (a cell read once its row is taken is checked in those rows only).
        """
        cell = pl.col(column)
        long = cell.str.len_chars() > MAX_CELL
        if only is not None:
            long = long & only
        # Most files have neither: then neither costs a pass over the rows building values. A cell
        # of at most MAX_CELL bytes has no more characters than that: then they are not counted.
        # A file whose bytes hold no control character has none in a cell: not looked for (see csvinput._scan).
        controls = cell.str.contains(_CONTROL).any() if self._controls else pl.lit(False)
        longest, any_control = self.frame.select(
            cell.str.len_bytes().max().alias("longest"), controls.alias("control")
        ).row(0)
        any_long = (longest or 0) > MAX_CELL and bool(self.frame.select(long.any()).item())
        if any_long:
            long = self.reject(column, long, "value too long", counts=counts)
        if required:
            self.reject(column, (~long if any_long else pl.lit(True)) & (cell == ""), MISSING)
        value = cell
        if any_control:
            # Control characters are never meaningful in a CRM cell and would reach e-mail headers.
            cleaned = cell.str.replace_all(_CONTROL, " ").str.strip_chars(WHITESPACE)
            value = pl.when(cell.str.contains(_CONTROL)).then(cleaned).otherwise(cell)
        return pl.when(long).then(pl.lit("")).otherwise(value) if any_long else value

    def parsed(
        self, column: str, parse: Callable[[str], Any], required: bool = False, counts: bool = True
    ) -> dict[str, Any]:
        """Check a cell with `parse` (a CellError rejects it); return each distinct good text's value.

        An empty cell is no value (rejected when required); `parse` sees every other distinct text once.
        """
        cell = pl.col(column)
        if required:
            self.reject(column, cell == "", MISSING)
        values, failures = self.distinct(column, parse)
        for reason, texts in failures.items():
            self.reject(column, (cell != "") & cell.is_in(texts), reason, counts=counts)
        return values

    def looked_up(
        self,
        column: str,
        outcomes: Callable[[list[str]], dict[str, Any]],
        reason: str,
        required: bool = False,
        counts: bool = True,
    ) -> dict[str, Any]:
        """Check a cell by `outcomes` of all distinct non-empty texts at once (None: refused for `reason`).

        As parsed(), for a check that answers many texts faster than one by one (see AddressBook).
        """
        cell = pl.col(column)
        if required:
            self.reject(column, cell == "", MISSING)
        texts = [text for text in self.frame.get_column(column).unique().to_list() if text]
        found = outcomes(texts)
        refused = [text for text, value in found.items() if value is None]
        self.reject(column, (cell != "") & cell.is_in(refused), reason, counts=counts)
        return {text: value for text, value in found.items() if value is not None}

    def joined(
        self,
        column: str,
        outcomes: Callable[[pl.Series], pl.DataFrame],
        reason: str,
        required: bool = False,
        counts: bool = True,
    ) -> pl.Expr:
        """Check a cell by `outcomes` of the column: a frame of each cell and its value, in row order (null: refused).

        As looked_up(), for outcomes that come as a frame, added to the rows as they come, not
        mapped from Python. An empty cell has no value. Return each row's value.
        """
        cell = pl.col(column)
        if required:
            self.reject(column, cell == "", MISSING)
        value = f"_{column}_value"
        found = outcomes(self.frame.get_column(column))
        if found.height != self.frame.height:
            raise ValueError(f"{self.file}: {column}: {found.height} outcomes for {self.frame.height} rows")
        self.frame = self.frame.with_columns(found.to_series(1).alias(value))
        self.reject(column, (cell != "") & pl.col(value).is_null(), reason, counts=counts)
        return pl.col(value)

    def distinct(self, column: str, parse: Callable[[str], Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """Return `parse` of each distinct non-empty text of `column`: the values, and the texts refused by reason."""
        values: dict[str, Any] = {}
        failures: dict[str, list[str]] = {}
        for text in self.frame.get_column(column).unique().to_list():
            if not text:
                continue
            try:
                values[text] = parse(text)
            except CellError as error:
                failures.setdefault(str(error), []).append(text)
        return values, failures

    def choice(self, column: str, kind: type[E]) -> dict[str, E]:
        """Check a cell naming one of `kind`'s values, in any case; return each distinct good text's member."""

        def member(text: str) -> E:
            try:
                return kind(text.lower())
            except ValueError:
                raise CellError("invalid value") from None

        return self.parsed(column, member)

    def ranged(self, column: str, parse: Callable[[str], int], low: int, high: int | None) -> dict[str, int]:
        """Check a whole number from `low` to `high` (None: no upper bound); return each distinct good text's number."""
        numbers = self.parsed(column, parse)
        outside = [text for text, n in numbers.items() if n < low or (high is not None and n > high)]
        reason = f"number outside {low}-{high}" if high is not None else f"number below {low}"
        self.reject(column, pl.col(column).is_in(outside), reason)
        return {text: n for text, n in numbers.items() if text not in set(outside)}

    def amount(self, column: str, decimal_mark: str, required: bool = False) -> tuple[pl.Expr, pl.Expr]:
        """Check an amount cell; return its coefficient (Int128) and exponent (Int8) as the orders table keeps them.

        A plain number (`-1234.56`, with the decimal mark set) is split by pattern; any other
        text goes through parse_amount once. An empty cell is (0, 0), or rejected when required.
        """
        cell = pl.col(column)
        mark = "\\." if decimal_mark == "." else ","
        plain = cell.str.contains(f"^-?[0-9]+(?:{mark}[0-9]+)?$") & (cell.str.len_bytes() < 38)
        self.add(**{f"{column}_plain": plain})
        other = self.frame.filter(~pl.col(f"{column}_plain") & (cell != ""))
        parts: dict[str, tuple[int, int]] = {}
        failures: list[str] = []
        for text in other.get_column(column).unique().to_list():
            try:
                parts[text] = _amount_parts(text, decimal_mark)
            except CellError:
                failures.append(text)
        if required:
            self.reject(column, cell == "", MISSING)
        self.reject(column, cell.is_in(failures), "invalid amount")
        point = "." if decimal_mark == "." else ","
        # A plain number has at most one mark: its digits are the coefficient, the digits after the mark the exponent.
        plain_units = cell.str.replace(point, "", literal=True).cast(pl.Int128, strict=False)
        position = cell.str.find(point, literal=True).cast(pl.Int64)
        length = cell.str.len_bytes().cast(pl.Int64)
        plain_exponent = pl.when(position.is_null()).then(0).otherwise(position + 1 - length)
        texts = list(parts)
        other_units = cell.replace_strict(texts, [parts[t][0] for t in texts], default=None, return_dtype=pl.Int128)
        other_exponent = cell.replace_strict(texts, [parts[t][1] for t in texts], default=None, return_dtype=pl.Int8)
        is_plain = pl.col(f"{column}_plain")
        units = pl.when(is_plain).then(plain_units).otherwise(other_units)
        exponent = pl.when(is_plain).then(plain_exponent.cast(pl.Int8, strict=False)).otherwise(other_exponent)
        return units.fill_null(0), exponent.fill_null(0)

    # ----------------------------------------------------------------- references

    def duplicate(self, column: str, taken: pl.Expr) -> pl.Expr:
        """Return whether a good row repeats the id of an earlier row that is `taken` (kept, if not itself repeated)."""
        cell = pl.col(column)
        # An export lists its rows by id as a rule: ids that only go up repeat none, seen without hashing them all.
        if self.frame.select((cell > cell.shift(1)).all()).item():
            return pl.lit(False)
        repeated = self.frame.lazy().filter(cell.is_duplicated())
        first = f"_first_{column}"
        firsts = repeated.filter(taken).group_by(column).agg(pl.col(ROW).min().alias(first)).collect()
        if firsts.is_empty():  # the usual case: no id is given twice, and nothing is joined
            return pl.lit(False)
        self.attach(column, firsts)
        return self.ok() & (pl.col(first) < pl.col(ROW)).fill_null(False)

    # ----------------------------------------------------------------- the outcome

    def rejects(self) -> list[Reject]:
        """Return every reject, by line and then in the order of the checks."""
        parts = [
            self.frame.lazy()
            .filter(pl.col(check.name))
            .select(pl.col(LINE), pl.lit(index, dtype=pl.Int32).alias("check"), pl.col(check.value).alias("value"))
            for index, check in enumerate(self._checks)
        ]
        if not parts:
            return []
        found = pl.concat(parts).sort(LINE, "check", maintain_order=True).collect()
        checks = self._checks
        return [
            Reject(self.file, line, checks[index].column, value[:200], checks[index].reason)
            for line, index, value in found.iter_rows()
        ]

    def bad_rows(self, taken: pl.Expr) -> int:
        """Return the number of rows not taken because of a reject that counts (or another reason of the reader's)."""
        return self.frame.height - int(self.frame.select(taken.sum()).item())

    def rows(self, taken: pl.Expr, *values: pl.Expr, **named: pl.Expr) -> pl.DataFrame:
        """Return the `values` (then the `named` ones) of the rows taken, in file order."""
        columns = [value.alias(f"_value{i}") for i, value in enumerate(values)]
        columns += [value.alias(name) for name, value in named.items()]
        return self.frame.lazy().filter(taken).select(columns).collect()


def mapped(column: str, values: dict[str, Any], dtype: pl.DataType | type[pl.DataType], default: Any = None) -> pl.Expr:
    """Return the value each distinct text of `column` was parsed to (`default` for any other text)."""
    texts = list(values)
    return pl.col(column).replace_strict(texts, [values[t] for t in texts], default=default, return_dtype=dtype)

