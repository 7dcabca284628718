"""Every parser against arbitrary input, 500 examples each: the right value, or a located refusal, never a crash.

Cells and rows hold what CRM exports hold: any unicode, quotes, both delimiters, CR/LF inside
cells, NUL bytes, byte-order marks in the middle, very long values. A parser either returns
the value the text means, or refuses it with its own error type that carries the file, the
line and the column; no other exception ever escapes.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from conftest import DATA_FILES, SEGMENTS_YAML, SETTINGS_YAML
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.approve import read_exclusions
from pipeline.calls_import import read_call_outcomes
from pipeline.config import SAFE_ID, load_segments_config, load_settings
from pipeline.content import _load_item
from pipeline.errors import ConfigError, InputError, Problem
from pipeline.load import (
    CellError,
    load_dataset,
    normalise_email,
    parse_amount,
    parse_bool,
    parse_date,
    parse_int,
    parse_tags,
    read_csv,
    sniff_delimiter,
)
from pipeline.models import Dataset
from pipeline.unsubscribe import make_token
from pipeline.unsubscribe_import import read_unsubscribes

FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TODAY = date(2026, 11, 30)
SECRET = b"fuzz-secret-0123456789abcdef"

# Text as a CRM cell can hold it: anything, with the troublemakers over-represented.
NASTY = ["\x00", "\ufeff", "\r\n", "\r", "\n", '"', '""', ";", ",", "|", "\t", "\u2028", "€", "=", "\\", " "]
cell_text = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=5)), max_size=12).map("".join),
    st.text(alphabet="0123456789.,- €+", max_size=16),
)
long_text = st.integers(1001, 5000).map(lambda n: "x" * n)


def located(problem: Problem, file: str, lines: int) -> None:
    """Assert that a problem names the file and a line inside it."""
    assert problem.file == file
    assert problem.line is None or 1 <= problem.line <= lines + 1, problem


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# --------------------------------------------------------------------------- cell parsers


@FUZZ
@given(cell_text, st.sampled_from([".", ","]))
def test_amount_parser_returns_a_decimal_or_refuses(text: str, mark: str) -> None:
    """Any text is a Decimal or a CellError('invalid amount')."""
    try:
        value = parse_amount(text, mark)
    except CellError as error:
        assert str(error) == "invalid amount"
    else:
        assert isinstance(value, Decimal) and value.is_finite()


@FUZZ
@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2), st.sampled_from([".", ","]), st.booleans())
def test_amounts_round_trip(value: Decimal, mark: str, grouped: bool) -> None:
    """An amount written with either decimal mark, grouped in thousands or not, reads back exactly."""
    group = "," if mark == "." else "."
    whole, _, cents = f"{abs(value):.2f}".partition(".")
    if grouped:
        whole = f"{int(whole):,}".replace(",", group)
    text = f"{'-' if value < 0 else ''}{whole}{mark}{cents}"
    assert parse_amount(text, mark) == value


@FUZZ
@given(cell_text)
@example("2026-02-30")
@example("２０２６-11-30")
def test_date_parser_returns_a_date_or_refuses(text: str) -> None:
    """Any text is a date written YYYY-MM-DD (ASCII digits) or a CellError('invalid date')."""
    try:
        value = parse_date(text)
    except CellError as error:
        assert str(error) == "invalid date"
    else:
        assert value.isoformat() == text.strip()


@FUZZ
@given(cell_text, st.booleans())
def test_bool_parser_reads_only_the_documented_words(text: str, default: bool) -> None:
    """yes/no, true/false, 1/0, ja/nee (any case) are booleans, empty is the default, anything else refused."""
    words = {"yes", "true", "1", "ja", "waar", "no", "false", "0", "nee", "onwaar"}
    try:
        value = parse_bool(text, default)
    except CellError:
        assert text.strip().lower() not in words and text.strip()
    else:
        key = text.strip().lower()
        assert value == (default if not key else key in {"yes", "true", "1", "ja", "waar"})


@FUZZ
@given(st.one_of(cell_text, st.integers(-(10**12), 10**12).map(str)))
def test_int_parser(text: str) -> None:
    """A whole number in ASCII digits reads as itself; anything else is refused."""
    try:
        value = parse_int(text)
    except CellError as error:
        assert str(error) == "invalid number"
    else:
        assert str(value) == text.strip().lstrip("+").lstrip("0") or value == 0 or text.strip().startswith("-")


@FUZZ
@given(cell_text)
def test_tags_are_clean_and_idempotent(text: str) -> None:
    """Tags are non-empty, lower-case, unique, free of separators; parsing their join gives them back."""
    tags = parse_tags(text)
    assert len(set(tags)) == len(tags)
    for tag in tags:
        assert tag and tag == tag.lower() and ";" not in tag and "|" not in tag and tag == " ".join(tag.split())
    assert parse_tags(";".join(tags)) == tags


@FUZZ
@given(st.one_of(cell_text, st.emails(), st.emails().map(str.upper)))
@example('"a,b"@example.nl')
@example("a@[127.0.0.1]")
@example("a@example.nl, b@example.nl")
@example("Anne <a@example.nl>")
@example("a@example.nl\r\nBcc: x@y.z")
def test_email_normaliser(text: str) -> None:
    """An address is accepted lower-cased and stable under a second pass, or refused as invalid."""
    try:
        address = normalise_email(text)
    except CellError as error:
        assert str(error) == "invalid e-mail address"
    else:
        assert address == address.lower() and "@" in address
        assert not re.search(r"[\s\x00-\x1f<>,;\"()\[\]\\]", address)  # nothing that could split a header
        assert normalise_email(address) == address


@FUZZ
@given(st.lists(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), min_size=2, max_size=6), st.sampled_from([",", ";"]))
def test_the_delimiter_is_sniffed_from_the_header(names: list[str], delimiter: str) -> None:
    """A header row of two or more columns reveals its delimiter."""
    assert sniff_delimiter(delimiter.join(names)) == delimiter


# --------------------------------------------------------------------------- whole CSV files


def physical_lines(text: str) -> int:
    """Count line breaks as an editor does (CR/LF, CR or LF)."""
    return len(re.findall(r"\r\n|\r|\n", text))


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, list[tuple[int, int, int, list[str]]]]:
    """A CSV text with a plain header and random rows; each row's start line, start and end offset, cells."""
    delimiter = draw(st.sampled_from([",", ";"]))
    width = draw(st.integers(2, 5))
    rows = draw(st.lists(st.lists(st.one_of(cell_text, long_text), min_size=width, max_size=width), max_size=8))
    out = io.StringIO()
    out.write(draw(st.sampled_from(["", "\ufeff"])))
    # Python's writer leaves a lone CR unquoted when its line end is LF, so LF files quote every cell.
    terminator, quoting = draw(st.sampled_from([("\r\n", csv.QUOTE_MINIMAL), ("\n", csv.QUOTE_ALL)]))
    writer = csv.writer(out, delimiter=delimiter, lineterminator=terminator, quoting=quoting)
    writer.writerow([f"col{i}" for i in range(width)])
    expected: list[tuple[int, int, int, list[str]]] = []
    for row in rows:
        offset = len(out.getvalue())
        start = physical_lines(out.getvalue()) + 1
        writer.writerow(row)
        expected.append((start, offset, len(out.getvalue()), row))
    return out.getvalue(), expected


def stripped(cells: list[str]) -> list[str]:
    return [c.strip() for c in cells]


@FUZZ
@given(csv_files())
def test_csv_rows_come_back_with_their_physical_lines(
    work: Path, case: tuple[str, list[tuple[int, int, int, list[str]]]]
) -> None:
    """Every row written by a CSV writer reads back cell for cell, starting on its physical line."""
    text, expected = case
    path = work / "table.csv"
    path.write_bytes(text.encode("utf-8"))
    table = read_csv(path, "table.csv")
    assert list(table.header) == [f"col{i}" for i in range(len(table.header))]
    want = [(line, stripped(cells)) for line, _, _, cells in expected if any(c.strip() for c in cells)]
    assert [(line, stripped(cells)) for line, cells in table.rows] == want
    assert table.cut_line is None


@FUZZ
@given(csv_files(), st.data())
def test_a_file_cut_anywhere_keeps_whole_rows_and_marks_a_row_cut_inside_quotes(
    work: Path, case: tuple[str, list[tuple[int, int, int, list[str]]]], data: st.DataObject
) -> None:
    """A file cut at any character after its header: whole rows read exactly; a row cut inside quotes is marked."""
    text, expected = case
    header_end = expected[0][1] if expected else len(text)
    cut = data.draw(st.integers(header_end, len(text)))
    path = work / "cut.csv"
    path.write_bytes(text[:cut].encode("utf-8"))
    table = read_csv(path, "cut.csv")
    whole = [(line, stripped(cells)) for line, _, end, cells in expected if end <= cut and "".join(cells).strip()]
    got = [(line, stripped(cells)) for line, cells in table.rows]
    assert got[: len(whole)] == whole
    partial = [(line, text[offset:cut]) for line, offset, end, _ in expected if offset < cut < end]
    # csv.writer quotes whole fields and doubles inner quotes: an odd count means the cut is inside quotes.
    open_quote = bool(partial) and partial[0][1].count('"') % 2 == 1
    if open_quote and len(got) > len(whole):
        assert table.cut_line == partial[0][0] == got[-1][0]
    elif open_quote:  # the cut row held nothing but blanks and the open quote
        assert table.cut_line in (None, got[-1][0] if got else None)
    else:
        assert table.cut_line is None
        assert len(got) <= len(whole) + 1


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_are_a_table_or_a_located_refusal(work: Path, raw: bytes) -> None:
    """Arbitrary bytes: a table, or an InputError whose problems name the file (not UTF-8, empty, unreadable)."""
    path = work / "raw.csv"
    path.write_bytes(raw)
    try:
        table = read_csv(path, "raw.csv")
    except InputError as error:
        assert error.problems
        for problem in error.problems:
            located(problem, "raw.csv", raw.count(b"\n") + raw.count(b"\r"))
    else:
        assert table.header
        assert all(1 <= line <= physical_lines(raw.decode("utf-8-sig")) + 1 for line, _ in table.rows)


# --------------------------------------------------------------------------- a contact row through the loader

CONTACT_COLUMNS = [
    "contact_id",
    "customer_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "job_title",
    "level",
    "language",
    "newsletter_opt_in",
    "do_not_call",
    "interests",
]


@pytest.fixture(scope="module")
def project(work: Path) -> Path:
    return make_project(work / "project")


@pytest.fixture(scope="module")
def tiny_data(work: Path) -> Dataset:
    return load_dataset(load_settings(make_project(work / "data-project")))


def make_project(root: Path) -> Path:
    """Write the tiny project's settings and data (no content, no templates): enough to load."""
    (root / "data").mkdir(parents=True)
    (root / "content").mkdir()
    (root / "settings.yaml").write_text(SETTINGS_YAML.replace("max_reject_share: 0.05", "max_reject_share: 1"))
    (root / "segments.yaml").write_text(SEGMENTS_YAML)
    for name, text in DATA_FILES.items():
        if name not in ("interactions.csv",):
            (root / "data" / name).write_text(text, encoding="utf-8", newline="")
    return root


contact_cells = st.fixed_dictionaries(
    {
        "contact_id": st.one_of(st.from_regex(SAFE_ID, fullmatch=True), cell_text),
        "customer_id": st.sampled_from(["C001", "C002", "C999", "", "../C001"]),
        "first_name": st.one_of(cell_text, long_text),
        "last_name": cell_text,
        "email": st.one_of(st.emails(), cell_text),
        "phone": cell_text,
        "job_title": cell_text,
        "level": st.one_of(st.sampled_from(["management", "Technical", "finance", ""]), cell_text),
        "language": st.sampled_from(["", "nl", "EN", "de", "\x00"]),
        "newsletter_opt_in": st.one_of(st.sampled_from(["ja", "nee", "YES", ""]), cell_text),
        "do_not_call": st.sampled_from(["", "no", "1", "misschien"]),
        "interests": cell_text,
    }
)


@FUZZ
@given(contact_cells, st.sampled_from([";", ","]))
@example(
    {
        **dict.fromkeys(CONTACT_COLUMNS, ""),
        "contact_id": "P9",
        "customer_id": "C001",
        "first_name": "A\tB",
        "email": "\x08",
        "newsletter_opt_in": "ja",
    },
    ";",
)
def test_a_contact_row_is_accepted_with_its_values_or_rejected_with_its_location(
    project: Path, cells: dict[str, str], delimiter: str
) -> None:
    """One random contact row after a good one: accepted with the cleaned values, or rejected by line and column."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(CONTACT_COLUMNS)
    writer.writerow(["P001", "C001", "Anne", "Jansen", "a.jansen@lindehof.nl", "", "", "", "", "ja", "", ""])
    writer.writerow([cells[c] for c in CONTACT_COLUMNS])
    text = out.getvalue()
    (project / "data" / "contacts.csv").write_bytes(text.encode("utf-8"))
    start = 3  # the header and P001 hold no line breaks
    try:
        data = load_dataset(load_settings(project))
    except InputError as error:  # only a structural problem may stop the load, and it is located
        assert all(p.file in DATA_FILES or p.file == "contacts.csv" for p in error.problems)
        return
    rejects = [r for r in data.rejects if r.file == "contacts.csv" and r.line == start]
    assert [r for r in data.rejects if r.file == "contacts.csv" and r.line not in (start,)] == []
    for reject in rejects:
        assert reject.column in CONTACT_COLUMNS
        assert len(reject.value) <= 200 and reject.reason
    contact_id = cells["contact_id"].strip()
    hard = [r for r in rejects if r.reason != "invalid e-mail address"]
    if contact_id in data.contacts and contact_id != "P001":
        assert not hard
        contact = data.contacts[contact_id]

        def cleaned(value: str) -> str:
            return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", value).split())

        assert cleaned(contact.first_name) == cleaned(cells["first_name"])
        assert contact.customer_id == cells["customer_id"] and contact.customer_id in data.customers
        # Line breaks and other controls never survive into a value that may reach a header.
        assert not re.search(r"[\x00-\x08\x0a-\x1f\x7f]", contact.first_name + contact.last_name + contact.job_title)
        if cells["email"].strip():  # a non-empty cell is validated, even one of control characters
            assert contact.email_valid == (not any(r.reason == "invalid e-mail address" for r in rejects))
        else:
            assert not contact.email_valid and not rejects
    else:
        assert hard or contact_id == "P001", rejects


# --------------------------------------------------------------------------- the other files people hand us


@FUZZ
@given(st.lists(st.one_of(cell_text, st.sampled_from(["token,date", "# x", ""])), max_size=8), st.booleans())
def test_unsubscribe_files(work: Path, lines: list[str], with_good: bool) -> None:
    """Any unsubscribe file: suppressions with an address, and rejects located by line; nothing else escapes."""
    good = make_token(SECRET, "P1", "a@b.nl", "newsletter")
    text = "\n".join([*lines, good] if with_good else lines)
    path = work / "unsub.txt"
    path.write_bytes(text.encode("utf-8"))
    parsed = read_unsubscribes(path, SECRET, TODAY)
    for suppression in parsed.suppressions:
        assert "@" in suppression.email and suppression.date is not None and suppression.date <= TODAY
    for problem in parsed.rejected:
        located(problem, "unsub.txt", physical_lines(text))
        assert problem.field in ("token", "email", "date", "")


@FUZZ
@given(st.lists(st.lists(cell_text, min_size=4, max_size=6), max_size=6), st.sampled_from([",", ";"]))
def test_call_outcome_files(work: Path, tiny_data: Dataset, rows: list[list[str]], delimiter: str) -> None:
    """Any outcomes file: interactions for known customers, or rejects by line; an unreadable file is an InputError."""
    data = tiny_data
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(["customer_id", "contact_id", "date", "outcome", "note", "channel"])
    for row in rows:
        writer.writerow(row)
    path = work / "outcomes.csv"
    path.write_bytes(out.getvalue().encode("utf-8"))
    try:
        parsed = read_call_outcomes(path, data, TODAY)
    except InputError as error:
        assert error.problems
        return
    for interaction in parsed.interactions:
        assert interaction.customer_id in data.customers and interaction.date <= TODAY
    for problem in parsed.rejected:
        located(problem, "outcomes.csv", physical_lines(out.getvalue()))


@FUZZ
@given(st.lists(st.one_of(cell_text, st.sampled_from(["P001", "P002 # te vroeg", "# reviewer"])), max_size=6))
def test_exclusion_files(work: Path, lines: list[str]) -> None:
    """An exclusion file gives known contact ids, or an InputError listing every unknown one by line."""
    path = work / "exclude.txt"
    path.write_bytes("\n".join(lines).encode("utf-8"))
    try:
        excluded = read_exclusions(path, {"P001", "P002"})
    except InputError as error:
        assert error.problems and all(p.field == "contact_id" for p in error.problems)
    else:
        assert excluded <= {"P001", "P002"}


yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), cell_text, st.dates().map(str)
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)
FRONT_KEYS = [
    "title",
    "type",
    "language",
    "tags",
    "products",
    "sectors",
    "segments",
    "published",
    "expires",
    "priority",
    "url",
    "summary",
    "event_date",
    "extra",
]


@FUZZ
@given(st.dictionaries(st.sampled_from(FRONT_KEYS), yaml_values, max_size=10), cell_text, st.booleans())
def test_content_items(work: Path, meta: dict[str, object], body: str, raw: bool) -> None:
    """A content file with any front matter (or none): an item with clean fields, or problems naming the file."""
    text = body if raw else "---\n" + yaml.safe_dump(meta, allow_unicode=True) + "---\n" + body
    path = work / "item.md"
    path.write_bytes(text.encode("utf-8"))
    item, problems = _load_item(path, Path("nl/item.md"), "content/nl/item.md")
    for problem in problems:
        assert problem.file == "content/nl/item.md"
    if item is not None:
        assert item.id == "nl/item" and item.title.strip()
        assert not re.search(r"<script|javascript:|\son\w+=", item.body_html, re.IGNORECASE)
        assert item.url == "" or re.match(r"https?://", item.url)


SETTINGS_KEYS = ["sender", "company", "utm", "unsubscribe", "paths", "decimal_mark", "max_reject_share", "extra"]


@FUZZ
@given(st.dictionaries(st.sampled_from(SETTINGS_KEYS), yaml_values, max_size=6), st.booleans())
def test_settings_files(work: Path, changes: dict[str, object], raw: bool) -> None:
    """A settings.yaml with any values in any key: Settings, or a ConfigError listing located problems."""
    root = work / "settings-project"
    root.mkdir(exist_ok=True)
    base = yaml.safe_load(SETTINGS_YAML)
    text = str(changes.get("extra", "")) if raw else yaml.safe_dump({**base, **changes}, allow_unicode=True)
    (root / "settings.yaml").write_bytes(text.encode("utf-8"))
    try:
        loaded = load_settings(root)
    except ConfigError as error:
        assert error.problems
        assert all(p.file == "settings.yaml" for p in error.problems)
    else:
        assert loaded.paths.output.is_relative_to(root) or loaded.paths.output.is_absolute()
        assert "\n" not in loaded.sender_name and "\r" not in loaded.sender_name


SEGMENT_KEYS = [
    "window_months",
    "value_elements",
    "groups",
    "cutoffs",
    "overrides",
    "quiet_period",
    "treatment",
    "satisfaction_norm",
    "selection",
    "revenue_decline",
]


@FUZZ
@given(st.dictionaries(st.sampled_from(SEGMENT_KEYS), yaml_values, max_size=4))
def test_segments_files(work: Path, changes: dict[str, object]) -> None:
    """A segments.yaml with any values: a config, or a ConfigError with key paths."""
    base = yaml.safe_load(SEGMENTS_YAML)
    path = work / "segments.yaml"
    path.write_bytes(yaml.safe_dump({**base, **changes}, allow_unicode=True).encode("utf-8"))
    try:
        config = load_segments_config(path)
    except ConfigError as error:
        assert error.problems and all(p.file == "segments.yaml" for p in error.problems)
    else:
        assert 0 < config.cutoffs[min(config.cutoffs)] <= 1
