"""`windstil validate`: every problem at once as file:line: field: message, exit 0 or 2, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CUSTOMERS_CSV, REPO, SEGMENTS_YAML

from pipeline.cli import cli


def _validate(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--project", str(root), *args, "validate"], catch_exceptions=False)
    return result.exit_code, result.output


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))}


def test_tiny_project_is_valid(tiny_project: Path) -> None:
    """The tiny project validates: exit 0, the invalid address only a warning, a summary of counts."""
    code, output = _validate(tiny_project)
    assert code == 0, output
    assert "warning: contacts.csv:4: email: invalid e-mail address ('i.mulder@@lindehof.nl')" in output
    assert "6 customers" in output and "11 contacts" in output and "20 orders" in output
    assert "6 content items, 1 reject\n" in output and "1 suppression," in output
    assert output.rstrip().endswith("ok, 1 warning")


def test_validate_writes_nothing(tiny_project: Path) -> None:
    """validate creates, changes and removes no file in the project."""
    before = _files(tiny_project)
    _validate(tiny_project)
    assert _files(tiny_project) == before
    assert not (tiny_project / "output").exists()


def test_missing_column_names_file_and_column(tiny_project: Path) -> None:
    """customers.csv without account_manager_id: exit 2, naming the file and the column."""
    lines = CUSTOMERS_CSV.lstrip("\ufeff").splitlines()
    cut = [",".join(c for i, c in enumerate(line.split(",")) if i != 2) for line in lines]
    (tiny_project / "data" / "customers.csv").write_text("\n".join(cut) + "\n")
    code, output = _validate(tiny_project)
    assert code == 2
    assert "customers.csv:1: account_manager_id: required column is missing" in output


def test_three_bad_rows_are_all_listed(tiny_project: Path) -> None:
    """A copy with three bad rows lists all three as file:line: column: reason and exits 2."""
    path = tiny_project / "data" / "orders.csv"
    text = path.read_text()
    text = text.replace(
        "O1004,C001,security-scan,Securityscan voorjaar,2026-03-01", "O1004,C001,security-scan,x,2026-03-32"
    )
    text = text.replace(
        "O2002,C002,backup-pro,Back-up Pro,2026-02-01,2026-07-31,9000.00",
        "O2002,C002,backup-pro,x,2026-02-01,2026-07-31,9k",
    )
    text = text.replace("O3001,C003,", "O3001,C999,")
    path.write_text(text)
    code, output = _validate(tiny_project)
    assert code == 2
    lines = output.splitlines()
    assert "orders.csv:5: order_date: invalid date ('2026-03-32')" in lines
    assert "orders.csv:9: revenue: invalid amount ('9k')" in lines
    assert "orders.csv:12: customer_id: unknown customer_id ('C999')" in lines
    # Three rejected rows in a tiny file also exceed max_reject_share, which is said too.
    assert any(line.startswith("orders.csv: 3 of 20 rows rejected") for line in lines)


def test_config_content_and_template_problems_together(tiny_project: Path) -> None:
    """Config, content and template problems come out in one report."""
    (tiny_project / "segments.yaml").write_text(SEGMENTS_YAML.replace("max_items: 5", "max_items: zero"))
    item = tiny_project / "content" / "nl" / "backup-testen.md"
    item.write_text(item.read_text().replace("type: article", "type: blog"))
    templates = tiny_project / "templates"
    templates.mkdir(exist_ok=True)
    (templates / "broken.html").write_text("<p>{% if x %}open</p>\n")
    code, output = _validate(tiny_project)
    assert code == 2
    assert "segments.yaml:11: treatment.A.max_items: must be a whole number from 1 to 20" in output
    assert "content/nl/backup-testen.md:3: type: must be one of article, alert, case, event" in output
    assert "templates/broken.html:" in output and "template syntax" in output


def test_bundled_templates_parse(tiny_project: Path) -> None:
    """Every template in the repository parses (both stages of the e-mail templates)."""
    if not (REPO / "templates").is_dir():
        pytest.skip("no templates in the repository yet")
    _, output = _validate(tiny_project)
    assert not [line for line in output.splitlines() if line.startswith("templates/")], output


def test_quiet_prints_only_errors(tiny_project: Path) -> None:
    """With -q a valid project prints nothing."""
    code, output = _validate(tiny_project, "-q")
    assert (code, output) == (0, "")


def test_not_a_project(tmp_path: Path) -> None:
    """A folder without settings.yaml is a usage error (exit 2) with a hint, no traceback."""
    code, output = _validate(tmp_path)
    assert code == 2
    assert "no settings.yaml" in output
    assert "Traceback" not in output


def test_help_has_example() -> None:
    """validate --help explains the exit codes and shows an example."""
    result = CliRunner().invoke(cli, ["validate", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "windstil validate" in result.output
    assert "max_reject_share" in result.output


def test_python_dash_m(tiny_project: Path) -> None:
    """`python -m pipeline validate` is the same program."""
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "--project", str(tiny_project), "validate"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok, 1 warning" in done.stdout


def test_many_warnings_are_capped_unless_verbose(tiny_project: Path) -> None:
    """Past 20 warnings the rest is counted, not printed; -v prints every one."""
    path = tiny_project / "data" / "contacts.csv"
    extra = "".join(f"Q{i:03d};C004;Kim;;kim{i}@;;;;;yes;no;\n" for i in range(25))
    path.write_text(path.read_text() + extra)
    code, output = _validate(tiny_project)
    assert code == 0
    assert sum(line.startswith("warning: contacts.csv:") for line in output.splitlines()) == 20
    assert "warning: … and 6 more (windstil -v validate lists all)" in output
    _, verbose = _validate(tiny_project, "-v")
    assert sum(line.startswith("warning: contacts.csv:") for line in verbose.splitlines()) == 26


def test_settings_problems_do_not_hide_data_problems(tiny_project: Path) -> None:
    """A bad settings.yaml is reported together with the data's problems, in one round."""
    settings = tiny_project / "settings.yaml"
    settings.write_text(settings.read_text().replace("email: nieuws@polderlicht-it.nl", "email: nieuws@"))
    orders = tiny_project / "data" / "orders.csv"
    orders.write_text(orders.read_text().replace("O3001,C003,", "O3001,C999,"))
    code, output = _validate(tiny_project)
    assert code == 2
    assert "settings.yaml:2: sender.email: not a valid e-mail address" in output
    assert "orders.csv:12: customer_id: unknown customer_id ('C999')" in output


def test_item_sector_no_customer_has_is_a_warning(tiny_project: Path) -> None:
    """An item limited to a sector no customer has (a typo, a case slip) is named, with a hint."""
    item = tiny_project / "content" / "nl" / "klantcase-lindehof.md"
    item.write_text(item.read_text().replace("sectors: [zorg]", "sectors: [Zorg]"))
    code, output = _validate(tiny_project)
    assert code == 0
    assert (
        "warning: content/nl/klantcase-lindehof.md: sectors: no customer has sector 'Zorg', "
        "so no one gets this item; did you mean 'zorg'?"
    ) in output


def test_tag_labels_problems_fail_and_gaps_warn(tiny_project: Path) -> None:
    """A bad entry in content/tags.yaml fails validate where it is; a tag an item uses without a label warns."""
    labels = tiny_project / "content" / "tags.yaml"
    text = labels.read_text()
    labels.write_text(text.replace("opslag: {nl: opslag, en: storage}", "opslag: {nl: opslag, de: Speicher}"))
    code, output = _validate(tiny_project)
    assert code == 2
    assert "content/tags.yaml:4: opslag.de: must be one of nl, en" in output
    assert (
        "warning: content/tags.yaml: tags of en items without a label in en, named as written in en e-mails: opslag"
    ) in output
    labels.write_text("backup: {nl: back-ups}\n")
    code, output = _validate(tiny_project)
    assert code == 0, output
    missing = "tags of {0} items without a label in {0}, named as written in {0} e-mails: {1}"
    assert missing.format("en", "backup, cloud, opslag, security") in output
    assert missing.format("nl", "cloud, opslag, phishing, security") in output
    labels.unlink()  # no file: the tags read as they are, and nobody is told twice a month
    code, output = _validate(tiny_project)
    assert code == 0 and "tags.yaml" not in output


def test_a_template_mjml_cannot_compile_fails_validate(tiny_project: Path) -> None:
    """A newsletter template that parses as Jinja but breaks MJML is found by validate, not by the run."""
    template = tiny_project / "templates" / "newsletter.mjml"
    source = template.read_text(encoding="utf-8")
    end = source.index("</mj-body>")
    template.write_text(source[:end] + "<mj-section><mj-column>" + source[end:], encoding="utf-8")
    code, output = _validate(tiny_project)
    assert code == 2
    assert "templates/newsletter.mjml: MJML:" in output
