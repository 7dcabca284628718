"""The guarded writer: plain paths inside the run folder only, each once, never through a symlink."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import OutputError
from pipeline.writer import RunWriter


def test_files_land_below_the_root_with_their_folders(tmp_path: Path) -> None:
    """Nested folders are made as needed and the bytes are counted."""
    writer = RunWriter(tmp_path)
    writer.write_bytes("emails/c1/newsletter.eml", b"abc")
    writer.write_bytes("emails/c1/newsletter.txt", b"de")
    writer.write_text("emails/c2/alert.html", "é")
    writer.write_text("top.csv", "x\n")
    assert (tmp_path / "emails" / "c1" / "newsletter.eml").read_bytes() == b"abc"
    assert (tmp_path / "emails" / "c2" / "alert.html").read_bytes() == "é".encode()
    assert (tmp_path / "top.csv").read_text() == "x\n"
    assert writer.bytes_written == 3 + 2 + 2 + 2
    assert writer.written() == {"emails/c1/newsletter.eml", "emails/c1/newsletter.txt", "emails/c2/alert.html",
                                "top.csv"}


def test_a_large_payload_is_written_whole(tmp_path: Path) -> None:
    """A payload of several megabytes arrives complete."""
    data = bytes(range(256)) * 20_000
    RunWriter(tmp_path).write_bytes("big.bin", data)
    assert (tmp_path / "big.bin").read_bytes() == data


@pytest.mark.parametrize("relpath", ["", "/etc/passwd", "../out.txt", "a/../../out.txt", ".", "a/..", "a\\b.txt",
                                     "a\x00b"])
def test_paths_that_are_not_plain_are_refused(tmp_path: Path, relpath: str) -> None:
    """Absolute paths, `..`, backslashes and NUL bytes never reach the file system."""
    with pytest.raises(OutputError, match="refusing to write"):
        RunWriter(tmp_path / "run").write_bytes(relpath, b"x")
    assert not (tmp_path / "out.txt").exists()


def test_redundant_separators_name_the_same_file(tmp_path: Path) -> None:
    """`a//b` and `a/./b` are the plain path `a/b`: written once, refused the second time."""
    writer = RunWriter(tmp_path)
    writer.write_bytes("a//b.txt", b"1")
    with pytest.raises(OutputError, match="twice"):
        writer.write_bytes("a/./b.txt", b"2")
    with pytest.raises(OutputError, match="twice"):
        writer.write_bytes("a/b.txt", b"3")
    assert (tmp_path / "a" / "b.txt").read_bytes() == b"1"


def test_a_symlinked_folder_that_leads_out_is_refused(tmp_path: Path) -> None:
    """A folder planted as a symlink to elsewhere is never written through."""
    root, outside = tmp_path / "run", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "emails").symlink_to(outside)
    with pytest.raises(OutputError, match="leads outside the run folder"):
        RunWriter(root).write_bytes("emails/c1/newsletter.eml", b"x")
    assert list(outside.iterdir()) == []


def test_a_symlink_at_the_file_name_is_refused(tmp_path: Path) -> None:
    """A symlink planted at the file's own name is refused; its target stays untouched."""
    root = tmp_path / "run"
    (root / "emails" / "c1").mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (root / "emails" / "c1" / "newsletter.eml").symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        RunWriter(root).write_bytes("emails/c1/newsletter.eml", b"x")
    assert victim.read_text() == "keep"


def test_an_existing_file_is_replaced(tmp_path: Path) -> None:
    """Writing into a folder that already has the file (a new writer) replaces its content."""
    (tmp_path / "a.txt").write_bytes(b"old and longer")
    RunWriter(tmp_path).write_bytes("a.txt", b"new")
    assert (tmp_path / "a.txt").read_bytes() == b"new"


def test_text_written_piece_by_piece_equals_the_joined_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """write_pieces writes in several goes (a tiny buffer here) and gives the bytes of the whole text."""
    import pipeline.writer as writer_module

    monkeypatch.setattr(writer_module, "_PIECES_HELD", 7)
    pieces = ["<p>", "Café ", "‘Ω’", "", "€ 1.234,50", "</p>\n"] * 50
    writer = RunWriter(tmp_path)
    writer.write_pieces("reports/r.html", iter(pieces))
    expected = "".join(pieces).encode("utf-8")
    assert (tmp_path / "reports" / "r.html").read_bytes() == expected
    assert writer.bytes_written == len(expected)
    assert writer.written() == {"reports/r.html"}


def test_pieces_keep_the_writers_guards(tmp_path: Path) -> None:
    """The same path rules hold for text written piece by piece: no way out, no symlink, once."""
    root = tmp_path / "run"
    root.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (root / "link.html").symlink_to(victim)
    writer = RunWriter(root)
    with pytest.raises(OutputError, match="refusing to write"):
        writer.write_pieces("../out.html", ["x"])
    with pytest.raises(OutputError, match="symbolic link"):
        writer.write_pieces("link.html", ["x"])
    writer.write_pieces("a.html", ["x"])
    with pytest.raises(OutputError, match="twice"):
        writer.write_pieces("a.html", ["y"])
    assert victim.read_text() == "keep"
    assert not (tmp_path / "out.html").exists()


@given(st.text(max_size=40))
def test_a_defused_spreadsheet_cell_reads_back_as_its_value(value: str) -> None:
    """What spreadsheet_text() writes, spreadsheet_value() reads back; a formula start is always defused.

    A value that itself starts with a quote before a formula start ("'=x") reads back without
    it: the cell cannot tell the two apart, and written again it is the same cell.
    """
    from pipeline.writer import spreadsheet_text, spreadsheet_value

    written = spreadsheet_text(value)
    assert written in (value, "'" + value)
    assert spreadsheet_text(spreadsheet_value(written)) == written
    if not (value[:1] == "'" and spreadsheet_text(value[1:]) == value):
        assert spreadsheet_value(written) == value
    assert spreadsheet_value("'=x") == "=x" and spreadsheet_value("'x") == "'x"
    assert spreadsheet_text("=SUM(A1)") == "'=SUM(A1)" and spreadsheet_value("+31 6 1234") == "+31 6 1234"
