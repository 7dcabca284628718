"""E-mail addresses: each distinct one checked once, the outcomes remembered in the state."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conftest import AS_OF
from pytest import MonkeyPatch

from pipeline.addresses import VALIDATOR, AddressBook
from pipeline.config import load_settings
from pipeline.load import INVALID_EMAIL, check_project, load_dataset, normalise_email
from pipeline.run import run_batch
from pipeline.state import State


def _remembered(state: Path) -> dict[str, tuple[str | None, str]]:
    with sqlite3.connect(state) as conn:
        rows = conn.execute("SELECT address, normalised, validator FROM address_checks").fetchall()
    return {address: (normalised, validator) for address, normalised, validator in rows}


def test_each_distinct_address_is_checked_once() -> None:
    """The same address (around spaces too) goes through the validator once; invalid ones are remembered as None."""
    checked: list[str] = []

    def check(text: str) -> str:
        checked.append(text)
        return normalise_email(text)

    book = AddressBook(check)
    assert book.normalised("A.Jansen@Lindehof.nl") == "a.jansen@lindehof.nl"
    assert book.normalised(" A.Jansen@Lindehof.nl ") == "a.jansen@lindehof.nl"
    assert book.normalised("i.mulder@@lindehof.nl") is None
    assert book.normalised("i.mulder@@lindehof.nl") is None
    assert checked == ["A.Jansen@Lindehof.nl", "i.mulder@@lindehof.nl"]
    assert book.new == {"A.Jansen@Lindehof.nl": "a.jansen@lindehof.nl", "i.mulder@@lindehof.nl": None}


def test_a_run_records_its_checks_and_the_next_load_uses_them(tiny_project: Path, monkeypatch: MonkeyPatch) -> None:
    """After a run the state holds every distinct address's outcome; a later load takes them from there."""
    monkeypatch.setenv("WINDSTIL_SECRET", "address-test-secret-0123456789")
    settings = load_settings(tiny_project)
    data = load_dataset(settings)
    assert not settings.paths.state.exists()  # a load alone writes nothing
    run_batch(tiny_project, as_of=AS_OF, jobs=1)
    remembered = _remembered(settings.paths.state)
    assert remembered["P.Smit@Lindehof.nl"] == ("p.smit@lindehof.nl", VALIDATOR)
    assert remembered["i.mulder@@lindehof.nl"] == (None, VALIDATOR)
    given = {c.email for c in data.contacts.values() if c.email_valid}
    assert {normalised for normalised, _ in remembered.values() if normalised} >= given
    # What the state says is what the next load believes (a planted outcome proves it is read).
    with sqlite3.connect(settings.paths.state) as conn:
        conn.execute("UPDATE address_checks SET normalised = NULL WHERE address = 'k.deboer@vechtdal.nl'")
    again = load_dataset(settings)
    assert not again.contacts["P004"].email_valid
    assert ("contacts.csv", "email", INVALID_EMAIL) in {(r.file, r.column, r.reason) for r in again.rejects}


def test_a_new_validator_version_forgets_the_old_checks(tiny_project: Path, monkeypatch: MonkeyPatch) -> None:
    """Outcomes recorded by another validator version are neither used nor kept."""
    monkeypatch.setenv("WINDSTIL_SECRET", "address-test-secret-0123456789")
    settings = load_settings(tiny_project)
    with State.open(settings.paths.state) as state:
        state.remember_address_checks("email-validator 0.1; windstil rules 0", {"k.deboer@vechtdal.nl": None})
    data = load_dataset(settings)
    assert data.contacts["P004"].email_valid and data.contacts["P004"].email == "k.deboer@vechtdal.nl"
    run_batch(tiny_project, as_of=AS_OF, jobs=1)
    remembered = _remembered(settings.paths.state)
    assert {validator for _, validator in remembered.values()} == {VALIDATOR}
    assert remembered["k.deboer@vechtdal.nl"] == ("k.deboer@vechtdal.nl", VALIDATOR)


def test_validate_reads_the_checks_but_writes_none(tiny_project: Path, monkeypatch: MonkeyPatch) -> None:
    """validate makes no state; with one, it uses its checks and leaves it as it was."""
    monkeypatch.setenv("WINDSTIL_SECRET", "address-test-secret-0123456789")
    check_project(tiny_project)
    settings = load_settings(tiny_project)
    assert not settings.paths.state.exists()
    run_batch(tiny_project, as_of=AS_OF, jobs=1)
    with sqlite3.connect(settings.paths.state) as conn:
        conn.execute("DELETE FROM address_checks WHERE address = 'lars@nieuwbegin.nl'")
    before = _remembered(settings.paths.state)
    result = check_project(tiny_project)
    assert result.counts["contacts"] == 11
    assert _remembered(settings.paths.state) == before


def test_the_migration_makes_the_address_table(tmp_path: Path) -> None:
    """A new state has the address_checks table, empty."""
    with State.open(tmp_path / "state.sqlite") as state:
        assert state.address_checks(VALIDATOR) == {}


def test_outcomes_known_as_a_frame_are_joined_not_checked() -> None:
    """learn_frame's outcomes (planted ones too) answer by a join; only the others go through the validator, once."""
    import polars as pl

    checked: list[str] = []

    def check(text: str) -> str:
        checked.append(text)
        return normalise_email(text)

    book = AddressBook(check)
    others = [f"p{n}@vechtdal.nl" for n in range(30)]  # more known than asked: the known ones are picked first
    known = {"address": ["a@lindehof.nl", "bad@@x", *others], "normalised": ["planted@lindehof.nl", None, *others]}
    book.learn_frame(pl.DataFrame(known))
    texts = ["a@lindehof.nl", " a@lindehof.nl", "bad@@x", "B@Vechtdal.nl", "B@Vechtdal.nl"]
    found = book.outcome_frame(pl.Series(texts))
    assert dict(found.iter_rows()) == {
        "a@lindehof.nl": "planted@lindehof.nl",
        " a@lindehof.nl": "planted@lindehof.nl",
        "bad@@x": None,
        "B@Vechtdal.nl": "b@vechtdal.nl",
    }
    assert checked == ["B@Vechtdal.nl"]
    assert book.new == {"B@Vechtdal.nl": "b@vechtdal.nl"}
    assert book.normalised("a@lindehof.nl") == "planted@lindehof.nl"
    assert book.outcomes(["B@Vechtdal.nl ", "bad@@x"]) == {"B@Vechtdal.nl ": "b@vechtdal.nl", "bad@@x": None}
    assert checked == ["B@Vechtdal.nl"]
