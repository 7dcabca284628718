"""`windstil calls import`: call outcomes checked row by row, recorded once, and seen by the next call list."""

from __future__ import annotations

import shutil
import time
import zipfile
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import AS_OF, make_config

from pipeline.calls import build_calls
from pipeline.calls_import import import_call_outcomes, read_call_outcomes
from pipeline.cli import cli
from pipeline.config import load_settings
from pipeline.errors import InputError
from pipeline.load import load_dataset
from pipeline.models import (
    CallReason,
    Channel,
    CustomerValue,
    Dataset,
    Interaction,
    Level,
    OurLevel,
    ScheduleRule,
    Segment,
    Segmentation,
    Treatment,
)
from pipeline.state import State
from pipeline.tables import records


def tiny_data(project: Path) -> Dataset:
    return load_dataset(load_settings(project))


def write(path: Path, text: str, *, bom: bool = False) -> Path:
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def invoke(project: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--project", str(project), "calls", "import", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


GOOD = """\
customer_id,contact_id,date,outcome,note
C001,P001,2026-11-20,afspraak gemaakt,Wil in januari praten over de back-up
C004,P007,2026-11-21,gesproken,
"""


def test_import_twice_adds_nothing_the_second_time(tiny_project: Path, tmp_path: Path) -> None:
    """The same file imported twice: the second run adds 0 and counts both rows as duplicates."""
    file = write(tmp_path / "uitkomsten.csv", GOOD)
    code, out, err = invoke(tiny_project, str(file))
    assert (code, err) == (0, "")
    assert out.strip().endswith("2 added, 0 skipped as duplicates, 0 rejected")
    code, out, _ = invoke(tiny_project, str(file))
    assert code == 0
    assert out.strip().endswith("0 added, 2 skipped as duplicates, 0 rejected")
    with State.open(load_settings(tiny_project).paths.state) as state:
        recorded = state.interactions()
    assert [(i.customer_id, i.contact_id, i.channel, i.our_level, i.their_level) for i in recorded] == [
        ("C001", "P001", Channel.CALL, OurLevel.ACCOUNT_MANAGER, Level.MANAGEMENT),
        ("C004", "P007", Channel.CALL, OurLevel.ACCOUNT_MANAGER, Level.MANAGEMENT),
    ]
    assert recorded[0].note == "afspraak gemaakt: Wil in januari praten over de back-up"
    assert recorded[0].source == "calls import"


def test_unknown_customer_is_reported_with_its_line(tiny_project: Path, tmp_path: Path) -> None:
    """A Dutch Excel file (BOM, `;`), unknown customer on line 3: that row is rejected, the rest recorded, exit 2."""
    file = write(
        tmp_path / "calls.csv",
        "\n".join(
            [
                "customer_id;contact_id;date;outcome;note",
                "C001;P001;2026-11-20;gesproken;",
                "C999;P001;2026-11-20;gesproken;",
                "C001;P999;2026-11-20;gesproken;",
                "C998;P998;2026-11-20;gesproken;",
            ]
        ),
        bom=True,
    )
    code, out, err = invoke(tiny_project, str(file))
    assert code == 2
    assert f"{file}:3: customer_id: unknown customer 'C999'" in err.splitlines()
    assert f"{file}:4: contact_id: unknown contact 'P999'" in err.splitlines()
    assert len(err.splitlines()) == 4
    assert out.strip().endswith("1 added, 0 skipped as duplicates, 3 rejected")  # rows, not problems


def test_every_bad_row_is_rejected_with_field_and_reason(tiny_project: Path, tmp_path: Path) -> None:
    """Unknown contact, another customer's contact, bad date, future date, missing outcome, unknown channel."""
    file = write(
        tmp_path / "calls.csv",
        "customer_id,contact_id,date,outcome,note,channel\n"
        "C001,P999,2026-11-20,gesproken,,\n"
        "C001,P004,2026-11-20,gesproken,,\n"
        "C001,P001,2026-13-01,gesproken,,\n"
        "C001,P001,2026-12-01,gesproken,,\n"
        "C001,P001,2026-11-20,,,\n"
        "C001,P001,2026-11-20,gesproken,,fax\n"
        "C001,P001,20-11-2026,gesproken,Nederlandse datum,visit\n",
    )
    outcomes = read_call_outcomes(file, tiny_data(tiny_project), today=AS_OF)
    assert [str(p) for p in outcomes.rejected] == [
        "calls.csv:2: contact_id: unknown contact 'P999'",
        "calls.csv:3: contact_id: contact 'P004' belongs to customer 'C002', not 'C001'",
        "calls.csv:4: date: invalid date '2026-13-01' (use YYYY-MM-DD)",
        "calls.csv:5: date: 2026-12-01 is after today (2026-11-30)",
        "calls.csv:6: outcome: required (what came of the call)",
        "calls.csv:7: channel: 'fax' is not one of call/visit/meeting/email",
    ]
    [accepted] = outcomes.interactions
    assert (accepted.date, accepted.channel) == (date(2026, 11, 20), Channel.VISIT)


def test_missing_column_stops_the_import(tiny_project: Path, tmp_path: Path) -> None:
    """A file without an outcome column is not an outcomes file: exit 2, nothing recorded."""
    file = write(tmp_path / "calls.csv", "customer_id,contact_id,date\nC001,P001,2026-11-20\n")
    with pytest.raises(InputError) as raised:
        read_call_outcomes(file, tiny_data(tiny_project), today=AS_OF)
    assert [str(p) for p in raised.value.problems] == ["calls.csv:1: outcome: required column is missing"]
    code, _, err = invoke(tiny_project, str(file))
    assert code == 2 and "not a call outcomes file" in err and "Traceback" not in err


def test_not_reached_is_counted_but_not_recorded(tiny_project: Path, tmp_path: Path) -> None:
    """'Niet bereikt' is no contact: it is counted, not stored, so the schedule stays due."""
    file = write(tmp_path / "calls.csv", "customer_id,contact_id,date,outcome\nC001,P001,2026-11-20,Niet bereikt\n")
    code, out, _ = invoke(tiny_project, str(file))
    assert code == 0
    assert out.strip().endswith("0 added, 0 skipped as duplicates, 0 rejected, 1 not reached (not recorded)")


def segmentation(data: Dataset) -> Segmentation:
    zero = Fraction(0)
    return Segmentation(
        as_of=AS_OF,
        customers={
            cid: CustomerValue(cid, c.name, "", Segment.A, Segment.A, zero, Decimal(0), Decimal(0), 0, zero, zero, zero)
            for cid, c in data.customers.items()
        },
    )


def test_imported_call_satisfies_the_contact_schedule_in_the_next_list(tiny_project: Path, tmp_path: Path) -> None:
    """Before the import C001's account manager ↔ management pair is overdue; after it, it is not."""
    data = tiny_data(tiny_project)
    treatment = Treatment(
        newsletter_every_days=30,
        contact_schedule=(ScheduleRule(OurLevel.ACCOUNT_MANAGER, Level.MANAGEMENT, 30),),
    )
    config = make_config(treatment={s: treatment for s in Segment})
    state_path = load_settings(tiny_project).paths.state

    def overdue() -> set[str]:
        with State.open(state_path) as state:
            interactions = [*records(Interaction, data.interactions), *state.interactions()]
        calls = build_calls(data, config, segmentation(data), {}, [], interactions, AS_OF)
        return {c.customer_id for c in calls if CallReason.CONTACT_OVERDUE in c.reasons}

    before = overdue()
    assert "C001" in before
    file = write(tmp_path / "calls.csv", "customer_id,contact_id,date,outcome\nC001,P001,2026-11-20,gesproken\n")
    with State.open(state_path) as state:
        result = import_call_outcomes(file, data, state, today=AS_OF)
    assert (result.added, result.duplicates, result.rejected) == (1, 0, ())
    assert overdue() == before - {"C001"}


def test_management_conversation_counts_for_the_management_pair(tiny_project: Path, tmp_path: Path) -> None:
    """With our_level=management the import keeps the management ↔ management pair."""
    data = tiny_data(tiny_project)
    file = write(
        tmp_path / "calls.csv",
        "customer_id,contact_id,date,outcome,our_level,channel\nC001,P001,2026-11-02,lunch,management,meeting\n",
    )
    [interaction] = read_call_outcomes(file, data, today=AS_OF).interactions
    assert (interaction.our_level, interaction.their_level, interaction.channel) == (
        OurLevel.MANAGEMENT,
        Level.MANAGEMENT,
        Channel.MEETING,
    )
    config = make_config()
    calls = build_calls(data, config, segmentation(data), {}, [], [interaction], AS_OF)
    c001 = next(c for c in calls if c.customer_id == "C001")
    assert not any("onze directie ↔ management" in p for p in c001.talking_points)
    calls = build_calls(data, config, segmentation(data), {}, [], [], AS_OF)
    c001 = next(c for c in calls if c.customer_id == "C001")
    assert any("onze directie ↔ management" in p for p in c001.talking_points)


def test_help_has_an_example() -> None:
    """`windstil calls import --help` explains the columns and shows an example."""
    result = CliRunner().invoke(cli, ["calls", "import", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "customer_id, contact_id" in result.output


# --------------------------------------------------------------------------- the call list, returned


@pytest.fixture(scope="module", params=["nl", "en"])
def returned_list(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny project run once (lists in Dutch, then English), and a .xlsx with two calls filled in."""
    from conftest import write_tiny_project

    from pipeline.run import run_batch

    project = tmp_path_factory.mktemp("returned") / "project"
    write_tiny_project(project)
    settings = project / "settings.yaml"
    settings.write_text(settings.read_text(encoding="utf-8") + f"language: {request.param}\n", encoding="utf-8")
    run_batch(project, as_of=AS_OF, jobs=1)
    workbook = next(iter(sorted((project / "output" / AS_OF.isoformat() / "calls").glob("*.xlsx"))))
    book = openpyxl.load_workbook(workbook)
    sheet = book.active
    column = {cell.value: cell.column for cell in sheet[1]}
    called, outcome = ("Gebeld op", "Uitkomst") if request.param == "nl" else ("Called on", "Outcome")
    assert sheet.max_row >= 4, "the test needs three calls on the list"
    sheet.cell(2, column[called], datetime(2026, 11, 24))
    sheet.cell(2, column[outcome], "Gesproken: wil een offerte voor de back-up")
    sheet.cell(3, column[called], datetime(2026, 11, 25))
    sheet.cell(3, column[outcome], "Geen gehoor")
    returned = tmp_path_factory.mktemp("mail") / "bellijst-terug.xlsx"
    book.save(returned)
    return project, returned


def test_the_returned_call_list_is_imported_as_it_is(returned_list: tuple[Path, Path], tmp_path: Path) -> None:
    """The .xlsx an account manager got, with Called on and Outcome filled in: rows left empty were not called."""
    source, returned = returned_list
    project = tmp_path / "project"
    shutil.copytree(source, project)
    sheet = openpyxl.load_workbook(returned, read_only=True).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    code, out, err = invoke(project, str(returned))
    assert (code, err) == (0, "")
    assert out.strip().endswith(f"1 added, 0 skipped as duplicates, 0 rejected, 1 not reached (not recorded), "
                                f"{len(rows) - 2} left empty (not called)")
    with State.open(load_settings(project).paths.state) as state:
        [recorded] = state.interactions()
    assert (recorded.customer_id, recorded.contact_id, recorded.date) == (rows[0][2], rows[0][5], date(2026, 11, 24))
    assert recorded.note == "Gesproken: wil een offerte voor de back-up"  # the list's own note and channel not read
    assert recorded.channel is Channel.CALL


def test_the_returned_call_list_saved_as_csv_reads_the_same(returned_list: tuple[Path, Path], tmp_path: Path) -> None:
    """Saved from Excel as CSV (`;`, Dutch dates, the list's own headings), the returned list reads the same."""
    source, returned = returned_list
    sheet = openpyxl.load_workbook(returned, read_only=True).active
    lines = []
    for row in sheet.iter_rows(values_only=True):
        day = "%d-%m-%Y" if "Gebeld op" in [c.value for c in sheet[1]] else "%d/%m/%Y"  # as each locale saves it
        cells = [v.strftime(day) if isinstance(v, datetime) else "" if v is None else str(v) for v in row]
        lines.append(";".join(f'"{c}"' for c in cells))
    file = write(tmp_path / "bellijst.csv", "\n".join(lines) + "\n", bom=True)
    outcomes = read_call_outcomes(file, tiny_data(source), today=AS_OF)
    assert [(i.contact_id, i.date) for i in outcomes.interactions] == [(sheet.cell(2, 6).value, date(2026, 11, 24))]
    assert (outcomes.not_reached, outcomes.not_called, outcomes.rejected) == (1, sheet.max_row - 3, ())


@pytest.mark.parametrize(
    ("sheet_xml", "message"),
    [
        # A few bytes that claim a sheet of 16,384 columns and a million rows.
        ('<dimension ref="A1:XFD1048576"/><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row>'
         '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>y</t></is></c></row></sheetData>',
         "more than 100,000 rows: not a call list"),
        ("<sheetData><row r=", "cannot be read as an Excel workbook"),
    ],
)
def test_a_workbook_that_is_no_call_list_is_refused_quickly(tiny_project: Path, tmp_path: Path, sheet_xml: str,
                                                             message: str) -> None:
    """A hostile or broken .xlsx: one line, exit 2, in well under a second, not a traceback or an hour."""
    path = tmp_path / "list.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["Klantnr.", "Contactnr.", "Gebeld op", "Uitkomst"])
    book.save(path)
    with zipfile.ZipFile(path) as original:
        entries = {name: original.read(name) for name in original.namelist()}
    head = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    entries["xl/worksheets/sheet1.xml"] = head + sheet_xml.encode() + b"</worksheet>"
    with zipfile.ZipFile(path, "w") as rebuilt:
        for name, data in entries.items():
            rebuilt.writestr(name, data)
    started = time.perf_counter()
    code, _, err = invoke(tiny_project, str(path))
    assert code == 2 and message in err and "Traceback" not in err
    assert time.perf_counter() - started < 5
