"""The sample company generator (`windstil demo-data`) and the bundled sample project."""

from __future__ import annotations

import csv
import filecmp
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.config import SAFE_ID
from pipeline.demo import SECTORS, TAGS, dataset, generate_project
from pipeline.errors import UsageError
from pipeline.load import load_project
from pipeline.models import Evaluation, ItemType, Project
from pipeline.quiet import quiet_periods
from pipeline.tables import order_records, records

REPO = Path(__file__).resolve().parent.parent
AS_OF = date(2026, 11, 30)
DATA_FILES = (
    "account_managers.csv",
    "customers.csv",
    "contacts.csv",
    "orders.csv",
    "evaluations.csv",
    "interactions.csv",
    "suppressions.csv",
    "products.yaml",
)


def _rows(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / "data" / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def demo_1000(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "project"
    generate_project(out, 1000, seed=7)
    return out


@pytest.fixture(scope="module")
def project_1000(demo_1000: Path) -> Project:
    return load_project(demo_1000)


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    """Two runs with the same seed write byte-identical files."""
    generate_project(tmp_path / "a", 200, seed=42)
    generate_project(tmp_path / "b", 200, seed=42)
    for name in (*(f"data/{f}" for f in DATA_FILES), "segments.yaml", "settings.yaml"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    """A different seed gives a different customer base."""
    generate_project(tmp_path / "a", 50, seed=1)
    generate_project(tmp_path / "b", 50, seed=2)
    assert (tmp_path / "a/data/customers.csv").read_bytes() != (tmp_path / "b/data/customers.csv").read_bytes()


def test_block_wise_generation_does_not_depend_on_the_process_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A set cut into blocks is the same with one or two processes, with unique ids and names."""
    monkeypatch.setattr(dataset, "BLOCK", 40)
    generate_project(tmp_path / "one", 130, seed=5, jobs=1)
    generate_project(tmp_path / "two", 130, seed=5, jobs=2)
    for name in DATA_FILES:
        assert filecmp.cmp(tmp_path / "one/data" / name, tmp_path / "two/data" / name, shallow=False), name
    assert not (tmp_path / "one/data/.parts").exists()
    data = load_project(tmp_path / "two").data
    assert len(data.customers) == 130
    assert len({c.name for c in data.customers.values()}) == 130
    contacts = _rows(tmp_path / "two", "contacts.csv")
    assert len(data.contacts) == len(contacts) == len({c["contact_id"] for c in contacts})
    orders = _rows(tmp_path / "two", "orders.csv")
    assert len(data.orders) == len(orders) == len({o["order_id"] for o in orders})
    assert {r.reason for r in data.rejects} <= {"invalid e-mail address"}


def test_bundled_sample_is_the_generators_output(tmp_path: Path) -> None:
    """data/, segments.yaml and settings.yaml in the repo are generate_project(150, seed 2026)."""
    generate_project(tmp_path / "sample", 150, seed=2026)
    for name in (*(f"data/{f}" for f in DATA_FILES), "segments.yaml", "settings.yaml"):
        assert filecmp.cmp(tmp_path / "sample" / name, REPO / name, shallow=False), (
            f"{name} differs from the generator: regenerate the sample (see pipeline/demo/)"
        )


def test_summary_counts_match_the_files(tmp_path: Path) -> None:
    """The summary reports the rows actually written."""
    summary = generate_project(tmp_path / "p", 120, seed=3)
    assert summary.customers == 120 == len(_rows(summary.out, "customers.csv"))
    assert summary.contacts == len(_rows(summary.out, "contacts.csv"))
    assert summary.orders == len(_rows(summary.out, "orders.csv"))
    assert summary.evaluations == len(_rows(summary.out, "evaluations.csv"))
    assert summary.interactions == len(_rows(summary.out, "interactions.csv"))
    assert summary.suppressions == len(_rows(summary.out, "suppressions.csv"))
    assert summary.account_managers == 5


def test_sizes_scale_with_customers(tmp_path: Path, demo_1000: Path) -> None:
    """About 2.7 contacts and 17 orders per customer, at any size."""
    small = generate_project(tmp_path / "small", 100, seed=7)
    contacts = len(_rows(demo_1000, "contacts.csv"))
    orders = len(_rows(demo_1000, "orders.csv"))
    assert 2.3 <= contacts / 1000 <= 3.1
    assert 13 <= orders / 1000 <= 21
    assert 1.8 <= small.contacts / 100 <= 3.6
    assert orders > 5 * small.orders


def test_out_folder_must_be_new_or_empty(tmp_path: Path) -> None:
    """An existing, non-empty folder is refused and left alone; an empty one is used."""
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UsageError, match="not empty"):
        generate_project(tmp_path / "full", 10, seed=1)
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    (tmp_path / "empty").mkdir()
    assert generate_project(tmp_path / "empty", 10, seed=1).customers == 10


def test_missing_content_source_still_writes_the_data(tmp_path: Path) -> None:
    """Without a content/ folder to copy, the project is written without content."""
    summary = generate_project(tmp_path / "p", 20, seed=1, content_from=tmp_path / "nowhere")
    assert summary.content_items == 0
    assert not summary.templates_copied
    assert (tmp_path / "p" / "data" / "orders.csv").is_file()
    assert not (tmp_path / "p" / "content").exists()


def test_content_and_templates_are_copied(demo_1000: Path) -> None:
    """The demo project carries the repo's content items (and templates when present)."""
    copied = sorted(p.relative_to(demo_1000).as_posix() for p in (demo_1000 / "content").rglob("*.md"))
    source = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "content").rglob("*.md"))
    assert copied == source
    assert (demo_1000 / "templates").is_dir() == (REPO / "templates").is_dir()


def test_project_loads_with_only_invalid_email_rejects(project_1000: Project) -> None:
    """The written project loads; the only rejects are the few deliberate invalid e-mails."""
    data = project_1000.data
    assert len(data.customers) == 1000
    reasons = Counter(r.reason for r in data.rejects)
    assert set(reasons) <= {"invalid e-mail address"}
    assert 0 < reasons["invalid e-mail address"] < 0.03 * len(data.contacts)
    overridden = [o.customer_id for o in project_1000.segments.overrides]
    assert overridden and all(c in data.customers for c in overridden)


def test_revenue_is_pareto_like(project_1000: Project) -> None:
    """The top 20% of customers bring at least 60% of the revenue."""
    revenue: Counter[str] = Counter()
    for order in order_records(project_1000.data.orders):
        if not order.cancelled:
            revenue[order.customer_id] += order.revenue  # type: ignore[assignment]
    values = sorted((revenue.get(c, Decimal(0)) for c in project_1000.data.customers), reverse=True)
    top = values[: len(values) // 5]
    assert sum(top) / sum(values) >= Decimal("0.6")


def test_a_good_share_is_quiet_on_the_reference_date(project_1000: Project) -> None:
    """On 2026-11-30 between 30% and 55% of the customers are in a quiet period."""
    quiet = quiet_periods(project_1000.data, project_1000.segments, AS_OF)
    share = sum(status.quiet for status in quiet.values()) / len(quiet)
    assert 0.30 <= share <= 0.55
    active = sum(status.activity.value == "active" for status in quiet.values()) / len(quiet)
    assert active >= 0.25


def test_margins_and_order_dates_are_plausible(project_1000: Project) -> None:
    """Costs give 20-45% margin; orders span about three years; some run, some are cancelled."""
    orders = order_records(project_1000.data.orders)
    for order in orders[:2000]:
        margin = (order.revenue - order.cost) / order.revenue
        assert Decimal("0.19") <= margin <= Decimal("0.46")
    starts = [o.order_date for o in orders]
    assert min(starts) >= date(2023, 12, 1)
    assert max(o.order_date for o in orders if o.order_date <= AS_OF) >= date(2026, 11, 1)
    assert any(o.end_date is None and not o.cancelled for o in orders)
    assert any(o.cancelled for o in orders)
    assert any(o.order_date > AS_OF for o in orders)


def test_contacts_look_like_a_crm_export(project_1000: Project) -> None:
    """Most contacts opted in, all four levels occur, interests come from the shared tags."""
    contacts = list(project_1000.data.contacts.values())
    opted_in = sum(c.newsletter_opt_in for c in contacts) / len(contacts)
    assert 0.7 <= opted_in <= 0.9
    assert {c.level.value for c in contacts} == {"management", "operational", "technical", "finance"}
    assert all(set(c.interests) <= set(TAGS) for c in contacts)
    assert any(c.do_not_call for c in contacts)
    assert any(not c.email for c in contacts)
    valid = [c.email for c in contacts if c.email_valid]
    assert len(valid) == len(set(valid))
    suppressed = {s.email for s in project_1000.data.suppressions}
    assert suppressed and suppressed <= set(valid)


def test_customers_have_unique_names_and_a_language_mix(project_1000: Project) -> None:
    """Company names are unique, every sector occurs, and about 15% write in English."""
    customers = list(project_1000.data.customers.values())
    assert len({c.name for c in customers}) == len(customers)
    assert {c.sector for c in customers} == set(SECTORS)
    english = sum(c.language == "en" for c in customers) / len(customers)
    assert 0.10 <= english <= 0.20
    assert any(c.reference_customer for c in customers)
    assert any(c.knowledge_partner for c in customers)


def test_evaluations_include_scores_below_the_norm(project_1000: Project) -> None:
    """Most scores are 7-9.5, and some below 8 carry a comment."""
    evaluations = records(Evaluation, project_1000.data.evaluations)
    scores = [e.score for e in evaluations]
    assert all(Decimal(1) <= s <= Decimal(10) for s in scores)
    typical = sum(Decimal(7) <= s <= Decimal("9.5") for s in scores) / len(scores)
    assert typical >= 0.8
    low = [e for e in evaluations if e.score < 8]
    assert low and all(e.comment for e in low)


def test_catalogue_is_consistent() -> None:
    """products.yaml: 12-20 products, tags from the vocabulary, cross/up-sell to known ids."""
    products = yaml.safe_load((REPO / "data" / "products.yaml").read_text(encoding="utf-8"))
    ids = {p["id"] for p in products}
    assert 12 <= len(products) <= 20
    for product in products:
        assert set(product) == {"id", "name", "tags", "cross_sell", "up_sell"}
        assert set(product["tags"]) <= set(TAGS)
        for other in (*product["cross_sell"], *product["up_sell"]):
            assert other in ids and other != product["id"]


def test_sample_content_uses_the_shared_vocabulary() -> None:
    """Every bundled content item loads, with known tags, products and sectors."""
    project = load_project(REPO)
    items = project.data.content
    assert 35 <= len(items) <= 45
    products = set(project.data.products)
    for item in items.values():
        assert set(item.tags) <= set(TAGS), item.id
        assert set(item.products) <= products, item.id
        assert set(item.sectors) <= set(SECTORS), item.id
        assert SAFE_ID.fullmatch(item.id.split("/")[-1])
        assert item.url.startswith("https://www.polderlicht-it.nl/")
    kinds = Counter((item.language, item.type) for item in items.values())
    for language in ("nl", "en"):
        for item_type in ItemType:
            assert kinds[(language, item_type)] >= 1, (language, item_type)


def test_sample_tags_have_words_in_both_languages() -> None:
    """content/tags.yaml labels every tag of the vocabulary in Dutch and English: no id reaches an e-mail."""
    data = load_project(REPO).data
    assert set(data.tag_labels) == set(TAGS)
    assert all(set(labels) == {"nl", "en"} for labels in data.tag_labels.values())
    assert data.tag_label("microsoft365", "en") == "Microsoft 365"
    assert data.tag_label("werkplek", "en") == "workplace management"
    assert not [w for w in data.warnings if "tags.yaml" in w]


def test_sample_content_is_timely_around_the_reference_date() -> None:
    """Alerts of November 2026, events in December 2026, one future and one expired item."""
    items = load_project(REPO).data.content.values()
    current = [i for i in items if i.published <= AS_OF and (i.expires is None or i.expires > AS_OF)]
    assert any(i.type is ItemType.ALERT and i.published.month == 11 for i in current)
    events = [i for i in current if i.type is ItemType.EVENT]
    assert any(i.event_date and date(2026, 12, 1) <= i.event_date <= date(2026, 12, 31) for i in events)
    assert any(i.published > AS_OF for i in items)
    assert any(i.expires is not None and i.expires <= AS_OF for i in items)


def test_cli_writes_a_project_and_reports_it(tmp_path: Path) -> None:
    """`windstil demo-data` writes the project and prints a one-line summary with the time."""
    result = CliRunner().invoke(
        cli, ["demo-data", "--customers", "30", "--seed", "5", "--out", str(tmp_path / "d")], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "30 customers" in result.output and " s" in result.output
    assert (tmp_path / "d" / "settings.yaml").is_file()


def test_cli_refuses_a_folder_in_use(tmp_path: Path) -> None:
    """A non-empty --out folder is bad usage: exit 2 with a message."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("", encoding="utf-8")
    result = CliRunner().invoke(cli, ["demo-data", "--out", str(tmp_path / "d")], catch_exceptions=False)
    assert result.exit_code == 2
    assert "not empty" in result.output
