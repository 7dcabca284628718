"""The checks stage in a real run of the tiny project: checks.csv, approval with --accept, validate."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.state import State

RUN_ID = "2026-11-30"
NO_ALT = "![](https://www.polderlicht-it.nl/img/valse-factuur.png)"


def invoke(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--project", str(project), *args], catch_exceptions=False)
    return result.exit_code, result.output


def rows(project: Path) -> list[dict[str, str]]:
    with (project / "output" / RUN_ID / "checks.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def project(tiny_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WINDSTIL_SECRET", "test-secret-not-for-production")
    return tiny_project


def add_image_without_alt(project: Path) -> None:
    """Put an image without alt text in the alert item's body, which the alert shows in full."""
    item = project / "content" / "nl" / "phishing-golf.md"
    item.write_text(item.read_text(encoding="utf-8") + f"\n{NO_ALT}\n", encoding="utf-8")


def test_run_writes_checks_csv_without_errors_for_our_templates(project: Path) -> None:
    """Our own templates pass every check: checks.csv has its columns, no errors, counts in the manifest."""
    assert invoke(project, "run", "--as-of", RUN_ID)[0] == 0
    folder = project / "output" / RUN_ID
    header = (folder / "checks.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "contact_id,kind,check,level,detail"
    assert [r for r in rows(project) if r["level"] == "error"] == []
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["check_errors"] == 0
    assert "checks" in manifest["timings"]
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert "Controles vóór verzending" in index


def test_image_without_alt_is_found_in_every_copy_and_blocks_approval(project: Path) -> None:
    """An item's image without alt: an error in each alert made with it; approve refuses, --accept passes."""
    add_image_without_alt(project)
    assert invoke(project, "run", "--as-of", RUN_ID)[0] == 0
    found = [r for r in rows(project) if r["check"] == "image_alt"]
    deliveries = (project / "output" / RUN_ID / "deliveries.csv").read_text(encoding="utf-8")
    alerts = {line.split(",")[0] for line in deliveries.splitlines()[1:] if ",alert,nl/phishing-golf," in line}
    assert alerts and {r["contact_id"] for r in found} == alerts
    assert {(r["kind"], r["level"]) for r in found} == {("alert", "error")}
    assert "valse-factuur.png" in found[0]["detail"]

    code, output = invoke(project, "approve", RUN_ID)
    assert code == 2
    assert f"image_alt ({len(found)})" in output and "--accept image_alt" in output
    with State.open(project / "output" / "state.sqlite") as state:
        assert state.run_status(RUN_ID) == "rendered"

    code, output = invoke(project, "approve", RUN_ID, "--accept", "nonsense")
    assert code == 2 and "not a check" in output

    code, output = invoke(project, "approve", RUN_ID, "--accept", "image_alt")
    assert code == 0, output
    assert f"image_alt ({len(found)} error" in output
    with State.open(project / "output" / "state.sqlite") as state:
        assert state.run_status(RUN_ID) == "approved"
        assert state.accepted_checks(RUN_ID) == {"image_alt": len(found)}

    # Re-made with --force, the overview shows what was accepted with the approval.
    assert invoke(project, "run", "--as-of", RUN_ID, "--force")[0] == 0
    index = (project / "output" / RUN_ID / "index.html").read_text(encoding="utf-8")
    assert "Geaccepteerd bij de goedkeuring" in index and "image_alt" in index


def test_excluded_contacts_errors_do_not_block_approval(project: Path, tmp_path: Path) -> None:
    """Errors only in messages the reviewer leaves out do not need --accept."""
    add_image_without_alt(project)
    assert invoke(project, "run", "--as-of", RUN_ID)[0] == 0
    erroring = sorted({r["contact_id"] for r in rows(project) if r["level"] == "error"})
    exclude = tmp_path / "exclude.txt"
    exclude.write_text("\n".join(erroring) + "\n", encoding="utf-8")
    code, output = invoke(project, "approve", RUN_ID, "--exclude", str(exclude))
    assert code == 0, output


def test_validate_reports_a_content_image_without_alt(project: Path) -> None:
    """`windstil validate` runs the content-only checks on every item: the author learns of it before the run."""
    add_image_without_alt(project)
    code, output = invoke(project, "validate")
    assert code == 2
    assert "content/nl/phishing-golf.md: body: image_alt: image 'https://www.polderlicht-it.nl/img/valse-factuur.png'" \
        in output


def test_validate_reports_template_syntax_in_a_content_item(project: Path) -> None:
    """An author who writes `{{ first_name }}` expecting a merge field learns before the run that it goes out as is."""
    item = project / "content" / "nl" / "phishing-golf.md"
    text = item.read_text(encoding="utf-8") + "\nLees [[PDF] de handleiding](https://www.polderlicht-it.nl/pdf).\n"
    item.write_text(text, encoding="utf-8")
    assert invoke(project, "validate")[0] == 0  # Markdown's own brackets are no template syntax
    item.write_text(text + "\nBeste {{ first_name }}, let op.\n", encoding="utf-8")
    code, output = invoke(project, "validate")
    assert code == 2
    assert ("content/nl/phishing-golf.md: body: link_unresolved: template syntax reaches the e-mail as written, "
            "not filled in: ") in output and "{{ first_name }}" in output


def test_checks_can_be_switched_off(project: Path) -> None:
    """checks.enabled: false leaves the stage out; checks.csv keeps its header only."""
    settings = project / "settings.yaml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        "checks: {spam_max_variants: 0}", "checks: {enabled: false}"), encoding="utf-8")
    add_image_without_alt(project)
    assert invoke(project, "run", "--as-of", RUN_ID)[0] == 0
    assert rows(project) == []
    manifest = json.loads((project / "output" / RUN_ID / "manifest.json").read_text(encoding="utf-8"))
    assert "checks" not in manifest["timings"]


@pytest.mark.skipif(shutil.which("spamassassin") is None, reason="SpamAssassin is not installed")
def test_spam_scores_one_message_per_variant_and_caches_them(project: Path) -> None:
    """SpamAssassin scores the largest variants up to the setting; the rest are "not scored"; a re-run reuses them."""
    settings = project / "settings.yaml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        "checks: {spam_max_variants: 0}", "checks: {spam_max_variants: 2}"), encoding="utf-8")
    assert invoke(project, "run", "--as-of", RUN_ID)[0] == 0
    spam = [r for r in rows(project) if r["check"] == "spam_score"]
    assert spam and {r["detail"] for r in spam} == {"not scored: beyond the variants scored per run"}
    with State.open(project / "output" / "state.sqlite") as state:
        cached = state.spam_scores()
    assert len(cached) == 2
    # The run says which items went out in no scored message (two variants cannot hold them all).
    manifest = json.loads((project / "output" / RUN_ID / "manifest.json").read_text(encoding="utf-8"))
    unscored = [w for w in manifest["warnings"] if w.startswith("SpamAssassin scored no message with ")]
    assert len(unscored) == 1 and unscored[0].endswith("raise checks.spam_max_variants to score them")
    found = re.fullmatch(
        r"SpamAssassin scored no message with (\d+) of the run's items \((.+); in (\d+) messages\): .*", unscored[0])
    assert found is not None
    count, examples, messages = int(found[1]), found[2].split(", "), int(found[3])
    assert count >= len(examples) >= 1 and all((project / "content" / f"{item}.md").is_file() for item in examples)
    assert 1 <= messages <= len(spam)  # the messages are among those "not scored"
    assert all(result.score < 2.0 for result in cached.values())  # our messages are not spam
    assert invoke(project, "run", "--as-of", RUN_ID)[0] == 0
    with State.open(project / "output" / "state.sqlite") as state:
        assert state.spam_scores() == cached
