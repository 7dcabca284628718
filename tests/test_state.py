"""The state database: schema migrations, all-or-nothing writes, clear errors."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from pipeline.errors import StateError
from pipeline.models import (
    Channel,
    CustomerValue,
    Delivery,
    Interaction,
    Level,
    MessageKind,
    OurLevel,
    Segment,
    Segmentation,
    SegmentMove,
    Suppression,
)
from pipeline.state import MIGRATIONS, SCHEMA_VERSION, State

AS_OF = date(2026, 11, 30)
RUN = "2026-11-30"


def delivery(contact_id: str, kind: MessageKind = MessageKind.NEWSLETTER, run: str = RUN) -> Delivery:
    return Delivery(
        run_id=run,
        contact_id=contact_id,
        kind=kind,
        as_of=date.fromisoformat(run),
        item_ids=("nl/backup-testen", "nl/phishing-golf"),
        message_id=f"<{contact_id}.{run}@polderlicht-it.nl>",
    )


def table_dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, read with plain sqlite3."""
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {n: sorted(conn.execute(f"SELECT * FROM {n}").fetchall(), key=repr) for n in names}
    finally:
        conn.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "out" / "state.sqlite"


def test_new_database_has_current_schema_and_wal(db: Path) -> None:
    """Opening a missing file creates it with the current schema version, in WAL mode."""
    with State.open(db) as state:
        assert state.schema_version == SCHEMA_VERSION >= 2
        assert state.check() == []
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "deliveries", "segmentations", "interactions", "suppressions"} <= tables


def test_version_1_database_is_migrated(db: Path) -> None:
    """A database written by schema version 1 (no suppressions table) opens and is migrated."""
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO runs (run_id, as_of, status, hashes, rendered_at, approved_at) "
        "VALUES ('2026-10-31', '2026-10-31', 'approved', '{}', '2026-11-01T09:00:00', '2026-11-02T10:00:00')"
    )
    conn.execute(
        "INSERT INTO deliveries (run_id, contact_id, kind, month, as_of, item_ids, message_id) "
        "VALUES ('2026-10-31', 'P001', 'newsletter', '2026-10', '2026-10-31', '[\"nl/backup-testen\"]', '<m@x>')"
    )
    conn.commit()
    assert "suppressions" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()

    with State.open(db) as state:
        assert state.schema_version == SCHEMA_VERSION
        assert state.run_status("2026-10-31") == "approved"
        assert [(d.contact_id, d.item_ids) for d in state.deliveries()] == [("P001", ("nl/backup-testen",))]
        assert state.add_suppressions([Suppression("J.Bos@DeBrug.nl", "afgemeld")]) == (1, 0)
        assert [s.email for s in state.suppressions()] == ["j.bos@debrug.nl"]
        assert state.check() == []
    indexes = {r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "deliveries_by_run" in indexes


def test_exception_after_first_insert_leaves_database_unchanged(db: Path) -> None:
    """An exception halfway through approving rolls back every insert and the status change."""
    with State.open(db) as state:
        state.record_run(RUN, AS_OF, {"orders.csv": "abc"})
        before = table_dump(db)

        def failing() -> Iterator[Delivery]:
            yield delivery("P001")
            raise RuntimeError("disk on fire")

        with pytest.raises(RuntimeError, match="disk on fire"):
            state.approve_run(RUN, failing())  # type: ignore[arg-type]
        assert state.run_status(RUN) == "rendered"
        assert state.deliveries() == []
    assert table_dump(db) == before


def test_killed_process_mid_transaction_leaves_database_unchanged(db: Path) -> None:
    """A process killed (os._exit) after its first insert leaves nothing behind."""
    with State.open(db) as state:
        state.record_run(RUN, AS_OF, {})
    before = table_dump(db)
    script = textwrap.dedent(
        f"""
        import os
        from datetime import date
        from pipeline.models import Delivery, MessageKind
        from pipeline.state import State

        def deliveries():
            yield Delivery({RUN!r}, "P001", MessageKind.NEWSLETTER, date(2026, 11, 30))
            os._exit(9)  # killed: no rollback, no close

        State.open(__import__("pathlib").Path({str(db)!r})).approve_run({RUN!r}, deliveries())
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert result.returncode == 9, result.stderr.decode()
    with State.open(db) as state:
        assert state.run_status(RUN) == "rendered"
        assert state.deliveries() == []
        assert state.check() == []
    assert table_dump(db) == before


def test_approve_records_each_contact_kind_month_once(db: Path) -> None:
    """A second delivery of the same kind to a contact in the same month is not recorded."""
    with State.open(db) as state:
        state.record_run(RUN, AS_OF, {})
        added = state.approve_run(RUN, [delivery("P001"), delivery("P001", MessageKind.ALERT), delivery("P002")])
        assert added == 3
        assert state.run_status(RUN) == "approved"
        state.record_run("2026-11-15", date(2026, 11, 15), {})
        assert (
            state.approve_run("2026-11-15", [delivery("P001", run="2026-11-15"), delivery("P003", run="2026-11-15")])
            == 1
        )
        assert sorted((d.contact_id, d.kind.value, d.run_id) for d in state.deliveries()) == [
            ("P001", "alert", RUN),
            ("P001", "newsletter", RUN),
            ("P002", "newsletter", RUN),
            ("P003", "newsletter", "2026-11-15"),
        ]
        assert state.approve_run(RUN, [delivery("P001")]) == 0  # re-approval adds nothing


def test_approve_unknown_run_is_refused(db: Path) -> None:
    """Approving a run that was never rendered is a StateError, and nothing is recorded."""
    with State.open(db) as state:
        with pytest.raises(StateError, match="not in the state"):
            state.approve_run(RUN, [delivery("P001")])
        assert state.deliveries() == []


def test_runs_listing_and_previous_run(db: Path) -> None:
    """Runs are listed oldest first; the latest before a run is found, optionally approved only."""
    with State.open(db) as state:
        state.record_run("2026-09-30", date(2026, 9, 30), {"a": "1"})
        state.record_run("2026-10-31", date(2026, 10, 31), {"a": "2"})
        state.record_run(RUN, AS_OF, {"a": "3"})
        state.approve_run("2026-09-30", [])
        assert [r.run_id for r in state.runs()] == ["2026-09-30", "2026-10-31", RUN]
        assert state.runs()[1].hashes == {"a": "2"}
        previous = state.latest_run_before(RUN)
        assert previous is not None and previous.run_id == "2026-10-31"
        approved = state.latest_run_before(RUN, approved_only=True)
        assert approved is not None and approved.run_id == "2026-09-30"
        assert state.delete_run("2026-10-31") is True
        with pytest.raises(StateError, match="approved"):
            state.delete_run("2026-09-30")
        assert state.run_status("2026-10-31") is None


def test_frozen_segmentation_round_trips_exactly(db: Path) -> None:
    """A frozen segmentation comes back with exact fractions, overrides and moves."""
    row = CustomerValue(
        customer_id="C001",
        name="Zorggroep Lindehof",
        group="zorg",
        segment=Segment.A,
        computed_segment=Segment.B,
        value_share=Fraction(1, 3),
        revenue=Decimal("53000.50"),
        margin=Decimal("22000.50"),
        strategic=11,
        revenue_share=Fraction(2, 7),
        margin_share=Fraction(5, 9),
        strategic_share=Fraction(11, 20),
        override_reason="Nieuwe directie",
        override_until=date(2027, 6, 30),
        cumulative_before=Fraction(0),
    )
    seg = Segmentation(
        as_of=AS_OF,
        customers={"C001": row},
        moves=(SegmentMove("C001", "Zorggroep Lindehof", Segment.B, Segment.A, "B → A: override: Nieuwe directie"),),
        warnings=("één waarschuwing",),
    )
    with State.open(db) as state:
        assert state.latest_frozen_segmentation() is None
        state.freeze_segmentation(seg)
        older = Segmentation(as_of=date(2026, 6, 30), customers={})
        state.freeze_segmentation(older)
        got = state.latest_frozen_segmentation()
        assert got is not None
        assert got.customers == {"C001": row}
        assert got.moves == seg.moves and got.warnings == seg.warnings
        assert got.as_of == AS_OF and got.frozen_at is not None
        earlier = state.latest_frozen_segmentation(on_or_before=date(2026, 11, 29))
        assert earlier is not None and earlier.as_of == date(2026, 6, 30)


def test_interactions_import_is_idempotent(db: Path) -> None:
    """Importing the same call outcomes twice adds them once and counts the duplicates."""
    items = [
        Interaction(
            "C001",
            date(2026, 11, 3),
            "P001",
            Channel.CALL,
            OurLevel.ACCOUNT_MANAGER,
            Level.MANAGEMENT,
            "Bel in januari terug",
            "calls import",
        ),
        Interaction("C003", date(2026, 11, 4), "P005", Channel.CALL, note="Geen gehoor", source="calls import"),
    ]
    with State.open(db) as state:
        assert state.add_interactions(items, "calls-2026-11.csv:abc") == (2, 0)
        assert state.add_interactions([*items, items[0]], "calls-2026-11.csv:abc") == (0, 3)
        assert state.interactions() == items


def test_corrupt_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    """A file that is not a SQLite database is refused with a clear message and not overwritten."""
    path = tmp_path / "state.sqlite"
    content = b"this is my tax return, not a database\n" * 100
    path.write_bytes(content)
    with pytest.raises(StateError, match=r"is not a Windstil state database \(integrity check failed\)"):
        State.open(path)
    assert path.read_bytes() == content
    assert not (tmp_path / "state.sqlite-wal").exists()


def test_damaged_sqlite_file_is_refused_and_left_untouched(db: Path) -> None:
    """A SQLite file with damaged pages fails the integrity check and is not touched."""
    with State.open(db) as state:
        state.record_run(RUN, AS_OF, {})
        state.add_suppressions([Suppression(f"user{i}@example.nl", "x" * 200) for i in range(200)])
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    data = bytearray(db.read_bytes())
    page = 4096
    data[2 * page : 6 * page] = b"\xff" * (4 * page)
    db.write_bytes(bytes(data))
    with pytest.raises(StateError, match="not a Windstil state database"):
        State.open(db)
    assert db.read_bytes() == bytes(data)


def test_other_sqlite_database_is_refused(tmp_path: Path) -> None:
    """A SQLite database of another program is refused, not migrated into."""
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match="not a Windstil state database"):
        State.open(path)


def test_newer_schema_is_refused(db: Path) -> None:
    """A database from a newer Windstil is refused with a hint to upgrade."""
    State.open(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StateError, match="upgrade Windstil"):
        State.open(db)


def test_locked_database_gives_clear_error(db: Path) -> None:
    """While another process holds the write lock, a write fails with a StateError that says so."""
    State.open(db).close()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with (
            pytest.raises(StateError, match="locked by another Windstil process"),
            State.open(db, timeout=0.1) as state,
        ):
            state.record_run(RUN, AS_OF, {})
    finally:
        other.execute("ROLLBACK")
        other.close()
    with State.open(db) as state:
        assert state.run_status(RUN) is None
