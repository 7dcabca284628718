"""The loader: CSV reading rules, a reject for every kind of bad cell, and the hard stops."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import CONTACTS_CSV, CUSTOMERS_CSV, ORDERS_CSV
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.config import load_settings
from pipeline.csvinput import _read_with_csv, _read_with_polars, suppression_key
from pipeline.errors import InputError
from pipeline.load import (
    CellError,
    load_dataset,
    load_project,
    parse_amount,
    parse_bool,
    parse_date,
    parse_tags,
    sniff_delimiter,
    validate_project,
)
from pipeline.mail.send import read_suppressions_csv
from pipeline.models import Dataset, Evaluation, Level, OrderStatus
from pipeline.tables import order_records, records


def _tolerant(root: Path) -> None:
    """Let every row be rejected without stopping, so single rejects can be inspected."""
    path = root / "settings.yaml"
    path.write_text(path.read_text().replace("max_reject_share: 0.05", "max_reject_share: 1"))


def _load(root: Path) -> Dataset:
    return load_dataset(load_settings(root))


def _append(root: Path, file: str, *lines: str) -> None:
    path = root / "data" / file
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "".join(line + "\n" for line in lines), encoding="utf-8")


def _reasons(data: Dataset, file: str) -> list[tuple[int, str, str]]:
    return [(r.line, r.column, r.reason) for r in data.rejects if r.file == file]


def test_suppression_written_with_its_wrapping_suppresses_the_address(tiny_project: Path) -> None:
    """`Name <address>`, `<address>` and `mailto:address` in suppressions.csv suppress the address inside, no reject."""
    path = tiny_project / "data" / "suppressions.csv"
    path.write_text(
        path.read_text(encoding="utf-8")
        + '"Noor Nguyen <Noor.Nguyen@Klant.nl>",afmelding per mail,2026-11-20\n'
        + "<a.b@klant.nl>,,\n"
        + "mailto:c.d@klant.nl?subject=afmelden,,\n",
        encoding="utf-8",
    )
    data = load_project(tiny_project).data
    assert [s.email for s in data.suppressions] == ["j.bos@debrug.nl", "noor.nguyen@klant.nl", "a.b@klant.nl",
                                                   "c.d@klant.nl"]
    assert [r.file for r in data.rejects] == ["contacts.csv"]
    assert read_suppressions_csv(path) >= {"noor.nguyen@klant.nl", "a.b@klant.nl", "c.d@klant.nl"}  # what send reads


@given(st.emails(), st.text(alphabet=st.characters(blacklist_characters='<>"@', codec="utf-8"), max_size=30))
def test_bare_address_takes_the_address_out_of_its_wrapping(address: str, name: str) -> None:
    """Whatever the display name (`Last, First` included), `Name <address>` and `mailto:` keys are the address's."""
    expected = address.strip().lower()
    assert suppression_key(f"{name} <{address}>") == expected
    assert suppression_key(f"{name} <mailto:{address}>") == expected
    assert suppression_key(f"mailto:{address}") == expected
    assert suppression_key(f"{name} <{address}>, Piet <piet@x.nl>") != expected  # two addresses: no one of them


# --------------------------------------------------------------------------- the tiny project


def test_tiny_project_loads_every_file(tiny_project: Path) -> None:
    """The tiny project loads completely; only the one invalid e-mail address is a reject."""
    data = load_project(tiny_project).data
    assert len(data.account_managers) == 2
    assert len(data.customers) == 6
    assert len(data.contacts) == 11
    assert len(data.orders) == 20
    assert len(data.evaluations) == 4
    assert len(data.interactions) == 5
    assert [s.email for s in data.suppressions] == ["j.bos@debrug.nl"]
    assert sorted(data.products) == ["backup-pro", "cloud-opslag", "security-scan", "werkplek-beheer"]
    assert len(data.content) == 6
    assert [(r.file, r.line, r.column, r.reason) for r in data.rejects] == [
        ("contacts.csv", 4, "email", "invalid e-mail address")
    ]


def test_typed_values(tiny_project: Path) -> None:
    """Cells become typed values: booleans from ja/yes/true, tags, enums, Decimals, dates."""
    data = _load(tiny_project)
    c001 = data.customers["C001"]
    assert (c001.reference_customer, c001.knowledge_partner, c001.referrals, c001.strategic_fit) == (
        True,
        True,
        2,
        4,
    )
    assert c001.customer_since == date(2019, 4, 1)
    assert data.customers["C006"].language == "nl"  # empty: the default
    p001 = data.contacts["P001"]
    assert p001.interests == ("backup", "security")
    assert p001.level is Level.MANAGEMENT
    assert p001.newsletter_opt_in is True and p001.do_not_call is False
    assert data.contacts["P002"].interests == ("cloud", "backup")  # `|` and lower-cased
    assert data.contacts["P006"].do_not_call is True
    assert data.contacts["P008"].language == "en"
    order = next(o for o in order_records(data.orders) if o.order_id == "O1003")
    assert order.revenue == Decimal("12500.50") and isinstance(order.revenue, Decimal)
    assert order.end_date == date(2026, 9, 30)
    running = next(o for o in order_records(data.orders) if o.order_id == "O2001")
    assert running.end_date is None and running.status is OrderStatus.OPEN
    assert next(o for o in order_records(data.orders) if o.order_id == "O6001").cancelled
    assert records(Evaluation, data.evaluations)[2].score == Decimal("6.5")


def test_email_addresses(tiny_project: Path) -> None:
    """Valid addresses are normalised to lower case; invalid and empty ones are kept but not valid."""
    contacts = _load(tiny_project).contacts
    assert (contacts["P002"].email, contacts["P002"].email_valid) == ("p.smit@lindehof.nl", True)
    assert (contacts["P003"].email, contacts["P003"].email_valid) == ("i.mulder@@lindehof.nl", False)
    assert (contacts["P008"].email, contacts["P008"].email_valid) == ("", False)


# --------------------------------------------------------------------------- reading rules


def test_semicolon_bom_and_crlf(tiny_project: Path) -> None:
    """A `;` file with a BOM and CRLF line ends reads the same as a plain comma file."""
    path = tiny_project / "data" / "customers.csv"
    text = CUSTOMERS_CSV.lstrip("\ufeff").replace(",", ";").replace("\n", "\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    data = _load(tiny_project)
    assert data.customers["C004"].name == "Harbour Logistics B.V."
    assert len(data.customers) == 6


def test_unknown_columns_ignored_and_header_case(tiny_project: Path) -> None:
    """Extra columns are ignored and header names match whatever their case."""
    path = tiny_project / "data" / "account_managers.csv"
    path.write_text(
        "Account_Manager_ID,Name,Email,Phone,Favourite colour\n"
        "am-jan,Jan de Vries,jan@polderlicht-it.nl,,blauw\n"
        "am-sara,Sara Bakker,sara@polderlicht-it.nl,,groen\n"
    )
    data = _load(tiny_project)
    assert data.account_managers["am-jan"].email == "jan@polderlicht-it.nl"


def test_line_numbers_follow_quoted_newlines(tiny_project: Path) -> None:
    """A quoted cell holding newlines pushes the next row's line number down, as an editor shows."""
    _tolerant(tiny_project)
    path = tiny_project / "data" / "orders.csv"
    lines = ORDERS_CSV.splitlines()
    header, first = lines[0], lines[1]
    path.write_text(
        "\n".join(
            [
                header,
                'O9001,C001,backup-pro,"Regel een\nregel twee\nregel drie",2026-01-01,,100.00,,closed',
                first,
                "O9002,C001,backup-pro,Fout,2026-13-01,,100.00,,closed",
            ]
        )
        + "\n"
    )
    data = _load(tiny_project)
    assert _reasons(data, "orders.csv") == [(6, "order_date", "invalid date")]
    assert next(o for o in order_records(data.orders) if o.order_id == "O9001").description.count("regel") == 2


def test_a_row_with_more_cells_than_the_header_is_rejected(tiny_project: Path) -> None:
    """An unquoted delimiter shifts the cells after it: the row is rejected, showing the cells past the header.

    Empty cells past the header (Excel's trailing `,,`) are harmless and read as ever.
    """
    _tolerant(tiny_project)
    _append(
        tiny_project, "evaluations.csv", "C001,O1002,2026-03-08,7,2,Reactietijd te traag", "C002,O2002,2026-03-09,8,,,,"
    )
    contacts = tiny_project / "data" / "contacts.csv"
    text = contacts.read_text(encoding="utf-8").replace(';"backup;security"', ";backup;security")
    contacts.write_text(text, encoding="utf-8")
    data = _load(tiny_project)
    evaluations = [r for r in data.rejects if r.file == "evaluations.csv"]
    assert [(r.line, r.column, r.value) for r in evaluations] == [(6, "comment", "Reactietijd te traag")]
    assert evaluations[0].reason.startswith("more cells than the header has columns")
    assert len(data.evaluations) == 5  # the four, and the row with empty cells past the header
    shifted = next(r for r in data.rejects if r.file == "contacts.csv")
    assert (shifted.line, shifted.column, shifted.value) == (2, "interests", "security")
    assert "P001" not in data.contacts


def test_a_long_row_still_suppresses_and_a_repeated_heading_is_no_long_row(tiny_project: Path) -> None:
    """suppressions.csv: a row with a cell too many is listed but still suppresses (the safe side). A heading
    given twice (the first counts) makes no row too long, read by either reader."""
    _tolerant(tiny_project)
    _append(tiny_project, "suppressions.csv", "noor@klant.nl,vertrokken, zei ze aan de telefoon,2026-03-02")
    interactions = tiny_project / "data" / "interactions.csv"
    lines = interactions.read_text(encoding="utf-8").splitlines()
    lines = [lines[0] + ",note,note"] + [line + ",een notitie,tweede" for line in lines[1:]]
    interactions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for read in (_read_with_csv, _read_with_polars):  # the csv module's reader counts the header row itself
        table = read(interactions, "interactions.csv", ["customer_id", "note"])
        assert table is not None and table.long_rows == () and table.frame.get_column("note")[0] == "een notitie"
    data = _load(tiny_project)
    assert "noor@klant.nl" in {s.email for s in data.suppressions}
    line = len((tiny_project / "data" / "suppressions.csv").read_text(encoding="utf-8").splitlines())
    listed = {(r.line, r.reason.split(":")[0]) for r in data.rejects if r.file == "suppressions.csv"}
    assert {(line, "more cells than the header has columns"), (line, "invalid date")} <= listed
    assert [r for r in data.rejects if r.file == "interactions.csv"] == []
    assert len(data.interactions) == len(lines) - 1


@pytest.mark.parametrize(
    ("file", "column", "renamed", "warned"),
    [
        ("contacts.csv", "email", "E-mailadres", "contacts.csv: no column email: every row takes the default "
         "(see the input files in the docs); columns not read: e-mailadres (renamed?)"),
        ("contacts.csv", "newsletter_opt_in", None, "contacts.csv: no column newsletter_opt_in: every row takes the "
         "default (see the input files in the docs)"),
        ("orders.csv", "status", "Status order", "orders.csv: no column status: every row takes the default "
         "(see the input files in the docs); columns not read: status order (renamed?)"),
        ("orders.csv", "cost", None, None),  # not exported, nothing else there: the default is meant
    ],
)
def test_a_missing_optional_column_is_named_when_it_looks_renamed_or_mail_needs_it(
    tiny_project: Path, file: str, column: str, renamed: str | None, warned: str | None
) -> None:
    """A renamed column would silently give every row its default: the load warns, and names the columns not read."""
    path = tiny_project / "data" / file
    text = path.read_text(encoding="utf-8")
    delimiter = ";" if text.split("\n", 1)[0].count(";") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    index = rows[0].index(column)
    for row in rows:
        if renamed is None:
            del row[index]
        elif row is rows[0]:
            row[index] = renamed
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    warnings = [w for w in _load(tiny_project).warnings if "no column" in w]
    assert warnings == ([warned] if warned else [])


def test_rows_rejected_for_a_rejected_row_they_name_are_pointed_to_it(tiny_project: Path) -> None:
    """A contact rejected for a bad cell makes its interactions 'unknown contact_id': a warning names the row to fix."""
    _tolerant(tiny_project)
    contacts = tiny_project / "data" / "contacts.csv"
    text = contacts.read_text(encoding="utf-8")
    contacts.write_text(text.replace(";management;;ja;nee;", ";management;;Y;nee;", 1), encoding="utf-8")
    data = _load(tiny_project)
    assert _reasons(data, "contacts.csv")[0] == (2, "newsletter_opt_in", "invalid boolean")
    knocked = [r for r in data.rejects if r.file == "interactions.csv" and r.value == "P001"]
    assert knocked and all(r.reason == "unknown contact_id" for r in knocked)  # the reject itself as ever
    warning = next(w for w in data.warnings if "rejected itself" in w)
    assert warning == (
        f"interactions.csv: {len(knocked)} row(s) refer to a row that was rejected itself "
        "(e.g. contact_id P001, contacts.csv:2): fix that row, and these are taken too"
    )


@pytest.mark.parametrize(
    ("shape", "hint"),
    [
        (lambda text: text.replace(",", "\t"), "the header reads as one column (tab-separated?): "),
        (lambda text: "sep=,\n" + text, "the first line is Excel's 'sep=' line: remove it"),
        (lambda text: text.replace(",", "|"), "the header reads as one column: "),
    ],
)
def test_a_header_that_is_not_columns_says_why(tiny_project: Path, shape: Callable[[str], str], hint: str) -> None:
    """Tabs, Excel's `sep=` line or another separator: the missing columns come with the likely cause."""
    path = tiny_project / "data" / "account_managers.csv"
    path.write_text(shape(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        _load(tiny_project)
    messages = [str(p) for p in caught.value.problems if p.file == "account_managers.csv"]
    assert "account_managers.csv:1: account_manager_id: required column is missing" in messages
    assert any(m.startswith(f"account_managers.csv:1: {hint}") for m in messages), messages


def test_blank_lines_are_skipped_but_counted(tiny_project: Path) -> None:
    """Blank lines (and Excel's `;;;` rows) are no rows, but still count as lines."""
    _tolerant(tiny_project)
    _append(tiny_project, "evaluations.csv", "", ",,,,", "C001,,2026-10-01,11,")
    data = _load(tiny_project)
    assert _reasons(data, "evaluations.csv") == [(8, "score", "score outside 1-10")]
    assert len(data.evaluations) == 4


def test_not_utf8_names_the_file(tiny_project: Path) -> None:
    """A file that is not UTF-8 stops the load with an error naming the file and line."""
    path = tiny_project / "data" / "customers.csv"
    path.write_bytes(CUSTOMERS_CSV.lstrip("\ufeff").replace("Vechtdal", "Vechtd\u00e4l").encode("cp1252"))
    with pytest.raises(InputError) as caught:
        _load(tiny_project)
    assert "customers.csv" in str(caught.value)
    assert "UTF-8" in str(caught.value)
    assert caught.value.problems[0].line == 3


def test_missing_required_column(tiny_project: Path) -> None:
    """A missing required column stops the load, naming the file and the column."""
    path = tiny_project / "data" / "customers.csv"
    lines = CUSTOMERS_CSV.splitlines()
    path.write_text("\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != 2) for line in lines))
    with pytest.raises(InputError) as caught:
        _load(tiny_project)
    assert caught.value.exit_code == 2
    assert [(p.file, p.field) for p in caught.value.problems] == [("customers.csv", "account_manager_id")]
    assert "customers.csv" in str(caught.value) and "account_manager_id" in str(caught.value)


def test_missing_required_file_and_optional_files(tiny_project: Path) -> None:
    """orders.csv is required; interactions.csv and suppressions.csv are optional."""
    (tiny_project / "data" / "interactions.csv").unlink()
    (tiny_project / "data" / "suppressions.csv").unlink()
    data = _load(tiny_project)
    assert data.interactions.is_empty() and data.suppressions == ()
    (tiny_project / "data" / "orders.csv").unlink()
    with pytest.raises(InputError, match=r"orders\.csv"):
        _load(tiny_project)


def test_every_file_that_stops_the_load_is_named_at_once(tiny_project: Path) -> None:
    """The files are read side by side while the readers run; one error still names every file that stops the load."""
    data = tiny_project / "data"
    (data / "orders.csv").unlink()
    evaluations = (data / "evaluations.csv").read_text(encoding="utf-8").splitlines()
    (data / "evaluations.csv").write_text("\n".join(line.replace("score", "mark", 1) for line in evaluations) + "\n")
    (data / "contacts.csv").write_bytes("contact_id;customer_id;first_name\nP1;C001;Jos\u00e9\n".encode("cp1252"))
    with pytest.raises(InputError) as caught:
        _load(tiny_project)
    assert [(p.file, p.line, p.field) for p in caught.value.problems] == [
        ("contacts.csv", 2, ""),
        ("orders.csv", None, ""),
        ("evaluations.csv", 1, "score"),
    ]


def test_too_many_rejects_stop_the_run(tiny_project: Path) -> None:
    """More than max_reject_share of a file's rows rejected stops the load, naming file and count."""
    _append(tiny_project, "orders.csv", "O9001,C001,,x,2026-01-01,,abc,,")
    assert len(_load(tiny_project).orders) == 20  # 1 of 21 is under 5%: the run goes on
    _append(tiny_project, "orders.csv", "O9002,C001,,x,2026-01-01,,abc,,")
    with pytest.raises(InputError) as caught:
        _load(tiny_project)
    assert caught.value.exit_code == 2
    assert "orders.csv: 2 of 22 rows rejected" in str(caught.value)
    # The most common reason comes along, with what usually causes it.
    problem = str(next(p for p in caught.value.problems if p.file == "orders.csv"))
    assert "most often: invalid amount (2), is settings.yaml's decimal_mark the one of this export?" in problem


def test_invalid_emails_do_not_count_toward_the_share(tiny_project: Path) -> None:
    """Contacts kept despite an invalid address do not count as rejected rows."""
    _append(tiny_project, "contacts.csv", "P012;C004;Kim;Lee;kim@;;;;;yes;no;", "P013;C004;Bo;Ek;bo@x;;;;;yes;no;")
    data = _load(tiny_project)  # 3 of 13 rows have a bad address: 23%, but not rejected rows
    assert {"P012", "P013"} <= set(data.contacts)
    assert sum(r.reason == "invalid e-mail address" for r in data.rejects) == 3


# --------------------------------------------------------------------------- every reject reason


@pytest.mark.parametrize(
    ("file", "line", "column", "reason"),
    [
        ("orders.csv", "O9001,C001,,x,,,100,,", "order_date", "missing required value"),
        ("orders.csv", "O9001,C001,,x,2026-02-30,,100,,", "order_date", "invalid date"),
        ("orders.csv", "O9001,C001,,x,30-11-2026,,100,,", "order_date", "invalid date"),
        ("orders.csv", "O9001,C001,,x,2026-01-01,,12;5,,", "revenue", "invalid amount"),
        ("orders.csv", "O9001,C001,,x,2026-01-01,,1000,veel,", "cost", "invalid amount"),
        ("orders.csv", "O9001,C001,,x,2026-01-01,,100,,paid", "status", "invalid value"),
        ("orders.csv", "O1001,C001,,x,2026-01-01,,100,,", "order_id", "duplicate id"),
        ("orders.csv", "O9001,C999,,x,2026-01-01,,100,,", "customer_id", "unknown customer_id"),
        ("orders.csv", "../etc,C001,,x,2026-01-01,,100,,", "order_id", "unsafe id"),
        ("orders.csv", "O9001,C001,,x,2026-05-01,2026-04-01,100,,", "end_date", "end date before order date"),
        ("customers.csv", "C009,Nieuw,am-piet,zorg,nl,,,,,", "account_manager_id", "unknown account_manager_id"),
        ("customers.csv", "C009,Nieuw,am-jan,zorg,de,,,,,", "language", "invalid value"),
        ("customers.csv", "C009,Nieuw,am-jan,zorg,nl,,misschien,,,", "reference_customer", "invalid boolean"),
        ("customers.csv", "C009,Nieuw,am-jan,zorg,nl,,,twee,,", "referrals", "invalid number"),
        ("customers.csv", "C009,Nieuw,am-jan,zorg,nl,,,-1,,", "referrals", "number below 0"),
        ("customers.csv", "C009,Nieuw,am-jan,zorg,nl,,,,,6", "strategic_fit", "number outside 0-5"),
        ("customers.csv", "C009,,am-jan,zorg,nl,,,,,", "name", "missing required value"),
        ("customers.csv", ".hidden,Nieuw,am-jan,zorg,nl,,,,,", "customer_id", "unsafe id"),
        ("customers.csv", "C" + "1" * 64 + ",Nieuw,am-jan,zorg,nl,,,,,", "customer_id", "unsafe id"),
        ("customers.csv", "C009," + "x" * 1001 + ",am-jan,zorg,nl,,,,,", "name", "value too long"),
        ("contacts.csv", "P012;C001;Kim;;kim@lindehof.nl;;;ceo;;yes;no;", "level", "invalid value"),
        ("contacts.csv", "P012;C001;Kim;;kim@lindehof.nl;;;;;wellicht;no;", "newsletter_opt_in", "invalid boolean"),
        ("contacts.csv", "P001;C001;Kim;;kim@lindehof.nl;;;;;yes;no;", "contact_id", "duplicate id"),
        ("contacts.csv", "P012;C404;Kim;;kim@lindehof.nl;;;;;yes;no;", "customer_id", "unknown customer_id"),
        ("contacts.csv", "P012;C001;Kim;;kim at lindehof;;;;;yes;no;", "email", "invalid e-mail address"),
        ("evaluations.csv", "C001,,2026-10-01,0.5,", "score", "score outside 1-10"),
        ("evaluations.csv", "C001,,2026-10-01,zeer goed,", "score", "invalid amount"),
        ("evaluations.csv", "C001,O9999,2026-10-01,8,", "order_id", "unknown order_id"),
        ("evaluations.csv", "C001,O2001,2026-10-01,8,", "order_id", "order of another customer"),
        ("interactions.csv", "C001,P404,2026-10-01,call,,", "contact_id", "unknown contact_id"),
        ("interactions.csv", "C001,P004,2026-10-01,call,,", "contact_id", "contact of another customer"),
        ("interactions.csv", "C001,P001,2026-10-01,fax,,", "channel", "invalid value"),
        ("interactions.csv", "C001,P001,2026-10-01,call,ceo,", "our_level", "invalid value"),
        ("suppressions.csv", "geen-adres,,", "email", "invalid e-mail address"),
        ("suppressions.csv", "x@y.nl,,gisteren", "date", "invalid date"),
        ("account_managers.csv", "am-piet,Piet,piet@,", "email", "invalid e-mail address"),
    ],
)
def test_reject_reasons(tiny_project: Path, file: str, line: str, column: str, reason: str) -> None:
    """Each kind of bad cell is rejected with its stable reason, column and physical line."""
    _tolerant(tiny_project)
    next_line = len((tiny_project / "data" / file).read_text(encoding="utf-8-sig").splitlines()) + 1
    _append(tiny_project, file, line)
    data = _load(tiny_project)
    expected = (next_line, column, reason)
    rejects = _reasons(data, file)
    if file == "contacts.csv":
        rejects = [r for r in rejects if r[0] != 4]  # the fixture's own invalid address
    assert rejects == [expected]


def test_duplicate_id_keeps_the_first_row(tiny_project: Path) -> None:
    """A duplicate id is rejected and the first row wins."""
    _tolerant(tiny_project)
    _append(tiny_project, "customers.csv", "C001,Lindehof Kopie,am-sara,zorg,nl,,,,,")
    data = _load(tiny_project)
    assert data.customers["C001"].name == "Zorggroep Lindehof"
    assert _reasons(data, "customers.csv") == [(8, "customer_id", "duplicate id")]


def test_rows_of_a_rejected_customer_are_rejected(tiny_project: Path) -> None:
    """A rejected customer takes its contacts, orders and evaluations with it as unknown customer_id."""
    _tolerant(tiny_project)
    path = tiny_project / "data" / "customers.csv"
    path.write_text(
        path.read_text(encoding="utf-8").replace("C003,Kliniek De Brug,am-sara", "C003,Kliniek De Brug,am-x")
    )
    data = _load(tiny_project)
    assert "C003" not in data.customers
    assert _reasons(data, "customers.csv") == [(4, "account_manager_id", "unknown account_manager_id")]
    assert {r.reason for r in data.rejects if r.file != "customers.csv" and r.reason != "invalid e-mail address"} == {
        "unknown customer_id"
    }
    assert not any(c.customer_id == "C003" for c in data.contacts.values())
    assert not any(o.customer_id == "C003" for o in order_records(data.orders))


def test_several_bad_cells_in_one_row(tiny_project: Path) -> None:
    """Every bad cell of a row is listed, so one round of fixing is enough."""
    _tolerant(tiny_project)
    _append(tiny_project, "orders.csv", "O9001,C001,,x,gisteren,,veel,,")
    data = _load(tiny_project)
    assert _reasons(data, "orders.csv") == [(22, "order_date", "invalid date"), (22, "revenue", "invalid amount")]


def test_decimal_comma_setting(tiny_project: Path) -> None:
    """With decimal_mark "," amounts and scores are read the Dutch way."""
    path = tiny_project / "settings.yaml"
    path.write_text(path.read_text().replace('decimal_mark: "."', 'decimal_mark: ","'))
    orders = tiny_project / "data" / "orders.csv"
    orders.write_text(
        ORDERS_CSV.replace(",", ";").replace("12500.50", "12.500,50").replace(".00;", ",00;").replace(".00\n", ",00\n")
    )
    evaluations = tiny_project / "data" / "evaluations.csv"
    evaluations.write_text(evaluations.read_text().replace(",", ";").replace("6.5", "6,5").replace("8.5", "8,5"))
    data = _load(tiny_project)
    assert next(o for o in order_records(data.orders) if o.order_id == "O1003").revenue == Decimal("12500.50")
    scores = [e.score for e in records(Evaluation, data.evaluations)]
    assert scores == [Decimal(9), Decimal("8.5"), Decimal("6.5"), Decimal(8)]
    assert data.rejects[1:] == ()


def test_products_yaml_problems_are_reported(tiny_project: Path) -> None:
    """Unknown product ids in cross_sell/up_sell are reported; the product itself stays."""
    path = tiny_project / "data" / "products.yaml"
    path.write_text(path.read_text().replace("cross_sell: [cloud-opslag]", "cross_sell: [cloud-opslag, nas-box]"))
    errors, _ = validate_project(tiny_project)
    assert [(p.file, p.field, p.message) for p in errors] == [
        ("products.yaml", "[1].cross_sell", "unknown product nas-box")
    ]
    assert errors[0].line == 9
    assert "backup-pro" in _load(tiny_project).products


def test_a_product_can_have_a_name_per_language(tiny_project: Path) -> None:
    """`name: {nl: …, en: …}` names the product in each language; a bad mapping is reported where it is."""
    path = tiny_project / "data" / "products.yaml"
    text = path.read_text()
    path.write_text(text.replace("name: Werkplekbeheer", "name: {nl: Werkplekbeheer, en: Workplace Management}"))
    product = _load(tiny_project).products["werkplek-beheer"]
    assert (product.name, product.name_in("nl"), product.name_in("en")) == (
        "Werkplekbeheer", "Werkplekbeheer", "Workplace Management"
    )
    assert _load(tiny_project).products["backup-pro"].name_in("en") == "Back-up Pro"  # one name: in every language
    path.write_text(text.replace("name: Werkplekbeheer", "name: {nl: Werkplekbeheer, de: Arbeitsplatz}"))
    errors, _ = validate_project(tiny_project)
    assert (errors[0].file, errors[0].line, errors[0].field, errors[0].message) == (
        "products.yaml", 2, "[0].name", "must be a name, or a name per language (nl, en)"
    )
    assert {p.message for p in errors[1:]} == {"unknown product werkplek-beheer"}  # left out, so unknown


# --------------------------------------------------------------------------- parsers


def test_amount_examples() -> None:
    """Grouping is read only where it is unambiguous; anything else is refused, never guessed."""
    assert parse_amount("1234.56") == Decimal("1234.56")
    assert parse_amount("1,234.56") == Decimal("1234.56")
    assert parse_amount("-12") == Decimal(-12)
    assert parse_amount("€ 1 234.50") == Decimal("1234.50")
    assert parse_amount("1.234,56", ",") == Decimal("1234.56")
    assert parse_amount("1234,5", ",") == Decimal("1234.5")
    for ambiguous, mark in [("1,234", "."), ("12,5", "."), ("1.234", ","), ("1234.56", ","), ("1,23.4", ".")]:
        with pytest.raises(CellError, match="invalid amount"):
            parse_amount(ambiguous, mark)
    for bad in ["", "abc", "1e5", "NaN", "Infinity", "--1", "1.2.3", "١٢٣"]:
        with pytest.raises(CellError):
            parse_amount(bad)


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(min_value=Decimal(-(10**9)), max_value=Decimal(10**9), places=2, allow_nan=False),
    st.sampled_from([".", ","]),
    st.booleans(),
)
def test_amount_roundtrip(value: Decimal, mark: str, grouped: bool) -> None:
    """Any amount written with either decimal mark, grouped or not, reads back exactly."""
    text = f"{value:,.2f}" if grouped else f"{value:.2f}"
    if mark == ",":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    assert parse_amount(text, mark) == value


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1000, max_value=10**9), st.sampled_from([".", ","]))
def test_amount_grouping_without_decimals_is_refused(value: int, mark: str) -> None:
    """`1,234` (with ".") or `1.234` (with ",") could be either number, so it is refused."""
    other = "," if mark == "." else "."
    text = f"{value:,}".replace(",", other)
    with pytest.raises(CellError):
        parse_amount(text, mark)


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31)))
def test_date_roundtrip(value: date) -> None:
    """Every ISO date reads back as itself."""
    assert parse_date(value.isoformat()) == value


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12))
def test_date_only_iso(text: str) -> None:
    """Only YYYY-MM-DD is a date; anything else raises the 'invalid date' reason."""
    try:
        result = parse_date(text)
    except CellError as error:
        assert str(error) == "invalid date"
    else:
        assert result.isoformat() == text.strip()


def test_date_rejects_other_iso_forms() -> None:
    """Compact and week forms that fromisoformat would take are refused."""
    for text in ["20261130", "2026-W48-1", "2026-11-30T00:00", "2026-11-31", "30-11-2026"]:
        with pytest.raises(CellError):
            parse_date(text)
    assert parse_date(" 2026-11-30 ") == date(2026, 11, 30)
    assert date(2026, 11, 30) + timedelta(days=1) == parse_date("2026-12-01")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["yes", "no", "true", "false", "1", "0", "ja", "nee", "waar", "onwaar"]),
    st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_bool_words_any_case(word: str, upper: list[bool]) -> None:
    """The boolean words read the same in any mix of case and surrounding spaces."""
    mixed = "".join(ch.upper() if up else ch for ch, up in zip(word, upper * 2, strict=False))
    expected = word in ("yes", "true", "1", "ja", "waar")
    assert parse_bool(f" {mixed} ") is expected


def test_bool_default_and_garbage() -> None:
    """Empty is the default; any other word is an 'invalid boolean'."""
    assert parse_bool("", default=True) is True
    assert parse_bool("  ") is False
    with pytest.raises(CellError, match="invalid boolean"):
        parse_bool("y")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_characters=";|", blacklist_categories=("Cs",)), max_size=8),
        max_size=8,
    ),
    st.lists(st.sampled_from([";", "|", " ; ", " | "]), min_size=8, max_size=8),
)
def test_tags(parts: list[str], separators: list[str]) -> None:
    """Tags: split on ; or |, trimmed, lower-cased, no empties, no duplicates, first order kept."""
    text = "".join(p + separators[i % len(separators)] for i, p in enumerate(parts))
    tags = parse_tags(text)
    expected: list[str] = []
    for part in parts:
        tag = " ".join(part.split()).lower()
        if tag and tag not in expected:
            expected.append(tag)
    assert list(tags) == expected
    assert all(t and t == t.lower() and ";" not in t and "|" not in t for t in tags)


def test_sniff_delimiter() -> None:
    """The delimiter is whichever of , and ; splits the header more, ignoring quoted text."""
    assert sniff_delimiter("a;b;c") == ";"
    assert sniff_delimiter("a,b,c") == ","
    assert sniff_delimiter('"a,b,c";d') == ";"
    assert sniff_delimiter("email") == ","


def test_contacts_fixture_is_semicolon() -> None:
    """The fixture's contacts.csv is a `;` file (a Dutch Excel export) with quoted tag lists."""
    assert CONTACTS_CSV.splitlines()[0].count(";") == 11


def test_control_characters_only_email_is_rejected(tiny_project: Path) -> None:
    """An e-mail cell holding only a control character is an invalid address, not an empty one."""
    _append(tiny_project, "contacts.csv", "P012;C004;Kim;;\x08;;;;;yes;no;")
    data = _load(tiny_project)
    assert data.contacts["P012"].email_valid is False
    assert _reasons(data, "contacts.csv")[-1] == (13, "email", "invalid e-mail address")


def test_frozen_values_are_the_dataclass_values_row_by_row() -> None:
    """frozen_values builds what the constructor builds: equal, hashed alike, still frozen; ragged columns refused."""
    import dataclasses

    from pipeline.models import Contact, Customer
    from pipeline.readers import frozen_values

    rows = [
        ("P1", "C1", "Anna", "de Vries", "anna@lindehof.nl", True, "", "CFO", Level.MANAGEMENT, None, True, False, ()),
        ("P2", "C1", "Bram", "", "bram@@x", False, "+31 6", "", Level.OPERATIONAL, "en", False, True, ("cloud", "ai")),
    ]
    built = frozen_values(Contact, [list(column) for column in zip(*rows, strict=True)])
    assert built == [Contact(*row) for row in rows]
    assert [hash(c) for c in built] == [hash(Contact(*row)) for row in rows]
    assert built[1].interests == ("cloud", "ai") and built[1].full_name == "Bram"
    with pytest.raises(dataclasses.FrozenInstanceError):
        built[0].email = "other@lindehof.nl"  # type: ignore[misc]
    assert frozen_values(Customer, [[] for _ in dataclasses.fields(Customer)]) == []
    with pytest.raises(ValueError):
        frozen_values(Contact, [["P1"], [], *([["x"]] * 11)])
    with pytest.raises(TypeError):
        frozen_values(Contact, [["P1"]])
