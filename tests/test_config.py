"""Config validation: settings.yaml and segments.yaml, every problem with its key path, all at once."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import SEGMENTS_YAML, SETTINGS_YAML, make_config

from pipeline.config import load_segments_config, load_settings
from pipeline.errors import ConfigError, Problem
from pipeline.load import validate_project
from pipeline.models import Level, OurLevel, ScheduleRule, Segment, SelectionWeights, Settings


def _segments_problems(root: Path, text: str) -> list[Problem]:
    path = root / "segments.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_segments_config(path)
    assert caught.value.exit_code == 2
    return list(caught.value.problems)


def load_settings_text(root: Path, text: str) -> Settings:
    (root / "settings.yaml").write_text(text, encoding="utf-8")
    return load_settings(root)


def _settings_problems(root: Path, text: str) -> list[Problem]:
    (root / "settings.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(root)
    return list(caught.value.problems)


def test_tiny_segments_config_matches_make_config(tiny_project: Path) -> None:
    """The fixture's segments.yaml loads to exactly what make_config() returns."""
    assert load_segments_config(tiny_project / "segments.yaml") == make_config()


def test_weights_are_exact(tiny_project: Path) -> None:
    """0.5 + 0.3 + 0.2 is exactly 1: weights are fractions of the written decimals, not floats."""
    config = load_segments_config(tiny_project / "segments.yaml")
    assert config.weights == {"revenue": Fraction(1, 2), "margin": Fraction(3, 10), "strategic": Fraction(1, 5)}
    assert config.cutoffs == {Segment.A: Fraction(4, 5), Segment.B: Fraction(19, 20)}
    tenths = SEGMENTS_YAML.replace("weight: 0.5", "weight: 0.7").replace("weight: 0.3", "weight: 0.1")
    # In floats 0.7 + 0.1 + 0.2 is 0.9999999999999999.
    (tiny_project / "segments.yaml").write_text(tenths)
    assert sum(load_segments_config(tiny_project / "segments.yaml").weights.values()) == 1


def test_several_key_paths_reported_at_once(tiny_project: Path) -> None:
    """Every problem in segments.yaml is reported in one go, each with its key path and line."""
    text = (
        SEGMENTS_YAML.replace("weight: 0.3", "weight: 0.35")
        .replace("max_items: 5", "max_items: 0")
        .replace("B: 0.95", "B: 0.7")
        .replace("alerts: false, max_items: 3}", "alerts: nee, max_items: 3}", 1)
        .replace("quiet_period: {after_days: 30}", "quiet_periode: {after_days: 30}")
        .replace("every_days: 90}", "every_days: -1}")
        .replace("segment: B,", "segment: E,")
    )
    problems = _segments_problems(tiny_project, text)
    found = {(p.field, p.line) for p in problems}
    assert found == {
        ("value_elements", 2),
        ("cutoffs", 6),
        ("overrides[0].segment", 8),
        ("quiet_periode", 9),
        ("treatment.A.max_items", 11),
        ("treatment.A.contact_schedule[1].every_days", 13),
        ("treatment.C.alerts", 15),
    }
    messages = {p.field: p.message for p in problems}
    assert messages["treatment.A.max_items"] == "must be a whole number from 1 to 20"
    assert "sum to 1" in messages["value_elements"]
    assert "unknown key" in messages["quiet_periode"]
    assert str(problems[0]).startswith("segments.yaml:2: value_elements: ")


def test_missing_treatment_and_cutoffs(tiny_project: Path) -> None:
    """A treatment for each of A-D is required; cut-offs need both A and B."""
    text = SEGMENTS_YAML.replace("  D: {newsletter_every_days: 180, alerts: false, max_items: 3, review: true}\n", "")
    text = text.replace("cutoffs: {A: 0.80, B: 0.95}", "cutoffs: {A: 0.80}")
    fields = {p.field: p.message for p in _segments_problems(tiny_project, text)}
    assert fields == {"treatment.D": "required key is missing", "cutoffs.B": "required key is missing"}


def test_cutoff_rules(tiny_project: Path) -> None:
    """Cut-offs must satisfy 0 < A < B ≤ 1; B = 1 is allowed (no C segment)."""
    cases = {
        "{A: 0, B: 0.9}": "cutoffs",
        "{A: 0.9, B: 0.9}": "cutoffs",
        "{A: 0.8, B: 1.2}": "cutoffs",
        "{A: x, B: 0.9}": "cutoffs.A",
    }
    for bad, field in cases.items():
        text = SEGMENTS_YAML.replace("{A: 0.80, B: 0.95}", bad)
        assert [p.field for p in _segments_problems(tiny_project, text)] == [field], bad
    (tiny_project / "segments.yaml").write_text(SEGMENTS_YAML.replace("B: 0.95", "B: 1"))
    assert load_segments_config(tiny_project / "segments.yaml").cutoffs[Segment.B] == 1


def test_groups_and_optional_sections(tiny_project: Path) -> None:
    """groups.by takes a customer attribute; selection and revenue_decline are optional and checked."""
    text = SEGMENTS_YAML + "groups: {by: sector}\nselection: {cross_sell: 6, fresh_days: 14}\nrevenue_decline: 0.25\n"
    (tiny_project / "segments.yaml").write_text(text)
    config = load_segments_config(tiny_project / "segments.yaml")
    assert config.groups_by == "sector"
    assert config.selection == SelectionWeights(cross_sell=6, fresh_days=14)
    assert config.revenue_decline_share == Decimal("0.25")
    bad = SEGMENTS_YAML + "groups: {by: city}\nselection: {crosssell: 6, fresh_days: 0}\nrevenue_decline: 2\n"
    fields = [p.field for p in _segments_problems(tiny_project, bad)]
    assert fields == ["groups.by", "selection.crosssell", "selection.fresh_days", "revenue_decline"]


def test_treatment_without_newsletters(tiny_project: Path) -> None:
    """A treatment without newsletter_every_days means no newsletters for that segment."""
    text = SEGMENTS_YAML.replace("D: {newsletter_every_days: 180, alerts: false,", "D: {alerts: false,")
    (tiny_project / "segments.yaml").write_text(text)
    config = load_segments_config(tiny_project / "segments.yaml")
    assert config.treatment[Segment.D].newsletter_every_days is None
    assert config.treatment[Segment.A].contact_schedule[1] == ScheduleRule(OurLevel.MANAGEMENT, Level.MANAGEMENT, 90)


def test_duplicate_keys_and_yaml_syntax(tiny_project: Path) -> None:
    """A key written twice is an error (YAML would keep the last silently); broken YAML names its line."""
    problems = _segments_problems(tiny_project, SEGMENTS_YAML + "window_months: 6\n")
    assert [(p.field, p.message) for p in problems] == [("window_months", "key appears twice")]
    problems = _segments_problems(tiny_project, "window_months: 12\ncutoffs: {A: 0.8\n")
    assert problems[0].line is not None and "not valid YAML" in problems[0].message


def test_impossible_date_is_a_problem_at_its_line(tiny_project: Path) -> None:
    """until: 2027-13-01 looks like a date to YAML, which cannot make it: reported as the field's problem."""
    problems = _segments_problems(tiny_project, SEGMENTS_YAML.replace("until: 2027-06-30", "until: 2027-13-01"))
    assert [str(p) for p in problems] == ["segments.yaml:8: overrides[0].until: must be a date YYYY-MM-DD"]


def test_override_of_unknown_customer_fails_validate(tiny_project: Path) -> None:
    """An override naming a customer that is not in customers.csv is a validate error."""
    (tiny_project / "segments.yaml").write_text(SEGMENTS_YAML.replace("customer_id: C003", "customer_id: C0042"))
    errors, _ = validate_project(tiny_project)
    assert [(p.file, p.field, p.message) for p in errors] == [
        ("segments.yaml", "overrides[0].customer_id", "unknown customer C0042")
    ]


def test_settings(tiny_project: Path) -> None:
    """settings.yaml becomes Settings: address lines joined, paths resolved inside the project."""
    settings = load_settings(tiny_project)
    assert settings.postal_address == "Stationsplein 12\n3511 ED Utrecht\nNederland"
    assert settings.paths.data == tiny_project.resolve() / "data"
    assert settings.paths.state == tiny_project.resolve() / "output" / "state.sqlite"
    assert settings.unsubscribe_url == "https://www.polderlicht-it.nl/afmelden"
    assert settings.max_reject_share == Decimal("0.05")
    assert (settings.decimal_mark, settings.utm_source, settings.utm_medium) == (".", "newsletter", "email")


def test_settings_minimal_uses_defaults(tiny_project: Path) -> None:
    """Only sender, company and unsubscribe are required; paths, utm, marks have defaults."""
    text = "\n".join(
        line for line in SETTINGS_YAML.splitlines() if line.startswith(("sender", "company", "  ", "unsub"))
    )
    settings = load_settings_text(tiny_project, text)
    assert settings.paths.output == tiny_project.resolve() / "output"
    assert settings.reply_to == "accountteam@polderlicht-it.nl"


def test_settings_problems_all_at_once(tiny_project: Path) -> None:
    """Every settings problem comes out in one error, with key paths."""
    text = (
        SETTINGS_YAML.replace("email: nieuws@polderlicht-it.nl", "email: nieuws@")
        .replace("url: https://www.polderlicht-it.nl/afmelden", "url: http://www.polderlicht-it.nl/afmelden")
        .replace("data: data", "data: ../elders")
        .replace('decimal_mark: "."', 'decimal_mark: ";"')
        .replace("max_reject_share: 0.05", "max_reject_share: 5")
        + "sender_name: typo\n"
    )
    fields = [p.field for p in _settings_problems(tiny_project, text)]
    assert sorted(fields) == sorted(
        ["sender.email", "unsubscribe.url", "paths.data", "decimal_mark", "max_reject_share", "sender_name"]
    )


def test_settings_written_as_people_write_them(tiny_project: Path) -> None:
    """`language: NL` is nl, as in the CSV files; `max_reject_share: 5%` is refused with how to write it."""
    settings = load_settings_text(tiny_project, SETTINGS_YAML + "language: NL\n")
    assert settings.language == "nl"
    text = SETTINGS_YAML.replace("max_reject_share: 0.05", "max_reject_share: 5%")
    assert [p.message for p in _settings_problems(tiny_project, text)] == ["must be a share from 0 to 1 (0.05 is 5%)"]


def test_absolute_paths_are_allowed(tiny_project: Path, tmp_path: Path) -> None:
    """An absolute path (a shared drive, say) is the user's explicit choice and is kept."""
    elsewhere = tmp_path / "export"
    text = SETTINGS_YAML.replace("data: data", f"data: {elsewhere}")
    assert load_settings_text(tiny_project, text).paths.data == elsewhere


def test_missing_settings_file(tmp_path: Path) -> None:
    """A project without settings.yaml gets a clear config error."""
    with pytest.raises(ConfigError, match=r"settings\.yaml: file not found"):
        load_settings(tmp_path)


def test_non_finite_numbers_are_problems(tiny_project: Path) -> None:
    """YAML's .inf and .nan are reported as problems, never a crash."""
    text = SEGMENTS_YAML.replace("B: 0.95", "B: .inf").replace("satisfaction_norm: 8", "satisfaction_norm: .nan")
    assert [p.field for p in _segments_problems(tiny_project, text)] == ["cutoffs.B", "satisfaction_norm"]
    settings = SETTINGS_YAML.replace("max_reject_share: 0.05", "max_reject_share: -.inf")
    assert [p.field for p in _settings_problems(tiny_project, settings)] == ["max_reject_share"]
