"""Content items: front matter checked field by field, Markdown rendered and sanitised."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.content import ALLOWED_TAGS, URL_SCHEMES, load_content, load_tag_labels, render_markdown, unlabelled_tags
from pipeline.errors import Problem
from pipeline.models import ItemType, Segment

GOOD = """\
---
title: Back-ups die u echt terugzet
type: article
language: nl
tags: [Backup, security, backup]
products: [backup-pro]
published: 2026-11-02
url: https://example.nl/backups
summary: Drie vragen.
---
Tekst met **nadruk**.
"""


def _write(root: Path, rel: str, text: str) -> None:
    path = root / "content" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _problems(root: Path, rel: str, text: str) -> list[Problem]:
    _write(root, rel, text)
    items, problems = load_content(root / "content", root)
    assert rel.removesuffix(".md") not in items
    return problems


def test_tiny_content(tiny_project: Path) -> None:
    """The fixture's items load, with ids from their paths and sorted by id."""
    items, problems = load_content(tiny_project / "content", tiny_project)
    assert problems == []
    assert list(items) == [
        "en/backup-testing",
        "en/cloud-outage-alert",
        "nl/backup-testen",
        "nl/klantcase-lindehof",
        "nl/phishing-golf",
        "nl/webinar-cloud",
    ]
    event = items["nl/webinar-cloud"]
    assert event.type is ItemType.EVENT
    assert event.event_date == date(2026, 12, 10)
    assert event.segments == (Segment.A, Segment.B)
    assert event.path == "content/nl/webinar-cloud.md"
    assert items["nl/klantcase-lindehof"].sectors == ("zorg",)


def test_item_fields(tmp_path: Path) -> None:
    """Tags are lower-cased and de-duplicated; the body becomes HTML."""
    _write(tmp_path, "nl/backups.md", GOOD)
    items, problems = load_content(tmp_path / "content", tmp_path)
    item = items["nl/backups"]
    assert problems == []
    assert item.tags == ("backup", "security")
    assert item.products == ("backup-pro",)
    assert item.published == date(2026, 11, 2)
    assert item.body_html == "<p>Tekst met <strong>nadruk</strong>.</p>"
    assert item.body_markdown == "Tekst met **nadruk**.\n"


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("title: Back-ups die u echt terugzet\n", "", "title"),
        ("type: article", "type: blog", "type"),
        ("language: nl", "language: de", "language"),
        ("published: 2026-11-02", "published: 2 november", "published"),
        ("published: 2026-11-02", "published: 2026-13-01", "published"),  # YAML's date, but no date
        ("published: 2026-11-02", "published: 2026-02-30", "published"),
        ("type: article", "type: article\ntype: alert", "type"),  # YAML would keep the last: a silent overwrite
        ("published: 2026-11-02", "published: 2026-11-02\nexpires: 2026-11-01", "expires"),
        ("url: https://example.nl/backups", "url: javascript:alert(1)", "url"),
        ("url: https://example.nl/backups", "url: ftp://example.nl/x", "url"),
        ("tags: [Backup, security, backup]", "tags: {a: 1}", "tags"),
        ("published: 2026-11-02", "published: 2026-11-02\npriority: 7", "priority"),
        ("published: 2026-11-02", "published: 2026-11-02\nsegments: [A, X]", "segments"),
        ("published: 2026-11-02", "published: 2026-11-02\nevent_date: 2026-12-01", "event_date"),
        ("published: 2026-11-02", "published: 2026-11-02\nauthor: Jan", "author"),
        ("products: [backup-pro]", "products: [../etc]", "products"),
    ],
)
def test_front_matter_fields(tmp_path: Path, old: str, new: str, field: str) -> None:
    """Each invalid front matter field is reported with the file and the field, and the item left out."""
    problems = _problems(tmp_path, "nl/item.md", GOOD.replace(old, new))
    assert [(p.file, p.field) for p in problems] == [("content/nl/item.md", field)]


def test_problem_lines_point_into_front_matter(tmp_path: Path) -> None:
    """A field's problem carries the line of that field in the file (the --- is line 1)."""
    problems = _problems(tmp_path, "nl/item.md", GOOD.replace("language: nl", "language: fr"))
    assert str(problems[0]) == "content/nl/item.md:4: language: must be one of nl, en"


def test_impossible_date_and_twice_a_field_name_their_line(tmp_path: Path) -> None:
    """A date YAML cannot make, and a field given twice, are reported at their line, not raised."""
    problems = _problems(tmp_path, "nl/item.md", GOOD.replace("published: 2026-11-02", "published: 2026-13-01"))
    assert [str(p) for p in problems] == ["content/nl/item.md:7: published: must be a date YYYY-MM-DD"]
    problems = _problems(tmp_path, "nl/item.md", GOOD.replace("type: article", "type: article\ntype: alert"))
    assert [str(p) for p in problems] == ["content/nl/item.md:4: type: field appears twice"]


def test_translation_of_an_item_left_out_says_so(tmp_path: Path) -> None:
    """The original is there but has problems of its own: the translation says that, not 'no item'."""
    _write(tmp_path, "nl/a.md", GOOD.replace("type: article", "type: memo"))
    _write(tmp_path, "en/a.md", _translation("nl/a"))
    _, problems = load_content(tmp_path / "content", tmp_path)
    expected = "content/en/a.md:5: translation_of: nl/a is left out for its own problems"
    assert [str(p) for p in problems][1:] == [expected]


def test_a_yaml_error_is_one_line(tmp_path: Path) -> None:
    """A tab in the front matter: one line naming the file's line, not PyYAML's several with its own count."""
    problems = _problems(tmp_path, "nl/item.md", GOOD.replace("type: article", "type:\tarticle\n\tx: y"))
    (problem,) = problems
    assert "\n" not in str(problem) and str(problem).startswith("content/nl/item.md:")
    assert "front matter is not valid YAML: " in str(problem) and "<unicode string>" not in str(problem)


def test_all_problems_of_an_item_at_once(tmp_path: Path) -> None:
    """Several bad fields in one item are all reported."""
    text = GOOD.replace("type: article", "type: memo").replace("language: nl", "language: xx")
    assert [p.field for p in _problems(tmp_path, "nl/item.md", text)] == ["type", "language"]


def test_no_front_matter(tmp_path: Path) -> None:
    """A file without front matter is reported and left out."""
    problems = _problems(tmp_path, "nl/plain.md", "# Alleen tekst\n")
    assert [p.message for p in problems] == ["no front matter (the file must start with ---)"]


def test_unsafe_file_name(tmp_path: Path) -> None:
    """The id names files, so a file name with spaces or odd characters is refused."""
    problems = _problems(tmp_path, "nl/back ups!.md", GOOD)
    assert [p.field for p in problems] == ["id"]


def _translation(of: str, language: str = "en") -> str:
    return GOOD.replace("language: nl", f"language: {language}\ntranslation_of: {of}")


def test_translation_names_its_original(tmp_path: Path) -> None:
    """`translation_of` links an item to its original (a trailing .md is dropped): both are one topic."""
    _write(tmp_path, "nl/backups.md", GOOD)
    _write(tmp_path, "en/backups.md", _translation("nl/backups.md"))
    items, problems = load_content(tmp_path / "content", tmp_path)
    assert problems == []
    assert items["en/backups"].translation_of == "nl/backups"
    assert items["en/backups"].topic == items["nl/backups"].topic == "nl/backups"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"en/b.md": _translation("nl/gone")}, "no item nl/gone (the id is its path under content/ without .md)"),
        ({"nl/a.md": GOOD, "nl/b.md": _translation("nl/a", "nl")}, "nl/a is in the same language"),
        (
            {"nl/a.md": GOOD, "en/a.md": _translation("nl/a"), "nl/b.md": _translation("en/a", "nl")},
            "en/a is a translation itself: name its original, nl/a",
        ),
        (
            {"nl/a.md": GOOD, "en/a.md": _translation("nl/a"), "en/b.md": _translation("nl/a")},
            "nl/a already has a translation in this language: en/a",
        ),
    ],
)
def test_translation_problems_keep_the_item_as_an_original(tmp_path: Path, files: dict[str, str], message: str) -> None:
    """A `translation_of` that names no original of another language is reported with its line; the item stays."""
    for rel, text in files.items():
        _write(tmp_path, rel, text)
    items, problems = load_content(tmp_path / "content", tmp_path)
    (problem,) = problems
    rel = problem.file.removeprefix("content/")
    assert str(problem) == f"content/{rel}:5: translation_of: {message}"
    assert items[rel.removesuffix(".md")].translation_of == ""  # kept, its own topic


def test_a_bad_link_of_an_original_does_not_fall_on_its_translation(tmp_path: Path) -> None:
    """nl/a names a missing original (a typo); en/a, a translation of nl/a, is right: only nl/a is reported."""
    _write(tmp_path, "nl/a.md", _translation("en/typo", "nl"))
    _write(tmp_path, "en/a.md", _translation("nl/a"))
    items, problems = load_content(tmp_path / "content", tmp_path)
    assert [(p.file, p.field) for p in problems] == [("content/nl/a.md", "translation_of")]
    assert items["en/a"].translation_of == "nl/a" and items["nl/a"].translation_of == ""


def test_translation_of_must_be_an_item_id(tmp_path: Path) -> None:
    """A `translation_of` that cannot be an id (a path out of content/, a URL) leaves the item out."""
    problems = _problems(tmp_path, "en/item.md", _translation("../../etc/passwd"))
    assert [(p.line, p.field) for p in problems] == [(5, "translation_of")]


def test_an_item_file_not_ending_in_md_is_named(tmp_path: Path) -> None:
    """A file saved as .MD or .markdown would be skipped without a word: it is a problem, with the name to use."""
    _write(tmp_path, "nl/a.markdown", GOOD)
    _write(tmp_path, "nl/b.MD", GOOD)
    _write(tmp_path, "_concepten/c.markdown", GOOD)  # drafts, hidden folders and READMEs are not items
    _write(tmp_path, ".obsidian/README.MD", GOOD)
    _write(tmp_path, "nl/README.markdown", GOOD)
    items, problems = load_content(tmp_path / "content", tmp_path)
    assert items == {}
    assert [str(p) for p in problems] == [
        "content/nl/a.markdown: not read: an item's file name must end in .md (rename it to a.md)",
        "content/nl/b.MD: not read: an item's file name must end in .md (rename it to b.md)",
    ]


def test_language_no_is_not_an_empty_language(tmp_path: Path) -> None:
    """`language: no` (Norwegian, or a slip) is YAML's false: refused, not read as no language at all."""
    problems = _problems(tmp_path, "nl/item.md", GOOD.replace("language: nl", "language: no"))
    assert [str(p) for p in problems] == ["content/nl/item.md:4: language: must be one of nl, en"]


def test_drafts_and_readme_are_skipped(tmp_path: Path) -> None:
    """Files starting with _ or ., and content/README.md, are not items."""
    _write(tmp_path, "_concept.md", "geen front matter")
    _write(tmp_path, "README.md", "# Hoe schrijf ik een item")
    _write(tmp_path, "nl/.verborgen.md", "x")
    items, problems = load_content(tmp_path / "content", tmp_path)
    assert (items, problems) == ({}, [])


class _Elements(HTMLParser):
    """Collect the real elements and attributes of an HTML fragment (escaped text is not one)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)


def _unsafe(html: str) -> list[str]:
    """Return what in `html` could run script, restyle, or lead to a non-http(s)/mailto URL."""
    found = _Elements(html)
    bad = [t for t in found.tags if t not in ALLOWED_TAGS]
    for name, value in found.attributes:
        if name.startswith("on") or name == "style":
            bad.append(name)
        scheme = value.split(":", 1)[0].lower() if ":" in value.split("/")[0] else ""
        if name in ("href", "src") and scheme and scheme not in URL_SCHEMES:
            bad.append(value)
    return bad


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        "[klik](javascript:alert(1))",
        "[klik](<javascript:alert(1)>)",
        "[klik](JaVaScRiPt:alert(1))",
        "[klik](data:text/html;base64,xx)",
        '<a href="https://x.nl" style="color:red">x</a>',
        '![](https://x.nl/a.png "t"){onload=alert(1)}',
        "<iframe src='https://evil.example'></iframe>",
        "<javascript:alert(1)>",
        "[a]: javascript:alert(1)\n\n[klik][a]",
    ],
)
def test_sanitising(markdown: str) -> None:
    """Raw HTML, scripts, event handlers, style attributes and non-http links never become elements."""
    html = render_markdown(markdown)
    assert _unsafe(html) == [], html


def test_links_and_images_kept_safely() -> None:
    """http(s) and mailto links stay (with rel=noopener); images keep their alt text."""
    html = render_markdown("[site](https://x.nl) [mail](mailto:a@b.nl) ![Logo](https://x.nl/logo.png)")
    assert '<a href="https://x.nl" rel="noopener">site</a>' in html
    assert '<a href="mailto:a@b.nl" rel="noopener">mail</a>' in html
    assert '<img src="https://x.nl/logo.png" alt="Logo">' in html


def test_markdown_structure_allowed() -> None:
    """Headings, lists, quotes, code and tables render."""
    html = render_markdown("## Kop\n\n- een\n- twee\n\n> citaat\n\n`code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    for tag in ("<h2>", "<ul>", "<li>", "<blockquote>", "<code>", "<table>", "<td>"):
        assert tag in html


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>\"'=/ascriptonerlhfjv:() []!&#;x*`\n")), max_size=80))
def test_no_script_from_any_input(text: str) -> None:
    """Whatever the Markdown, the HTML holds only allowed elements and safe attributes."""
    assert _unsafe(render_markdown(text)) == []


# --------------------------------------------------------------------------- content/tags.yaml


def _labels(root: Path, text: str) -> tuple[dict[str, dict[str, str]], list[Problem]]:
    _write(root, "tags.yaml", text)
    return load_tag_labels(root / "content", root)


def test_tag_labels_one_for_every_language_or_one_per_language(tmp_path: Path) -> None:
    """A plain label serves every language; a mapping gives each language its own; keys match in lower case."""
    labels, problems = _labels(
        tmp_path,
        "# how tags read\nMicrosoft365: Microsoft 365\n"
        "werkplek: {nl: werkplekbeheer, en: '  workplace\n  management '}\n"
        "netwerk:\n  nl: netwerken\n",
    )
    assert problems == []
    assert labels == {
        "microsoft365": {"nl": "Microsoft 365", "en": "Microsoft 365"},
        "werkplek": {"nl": "werkplekbeheer", "en": "workplace management"},
        "netwerk": {"nl": "netwerken"},
    }


def test_no_tag_labels_file_is_no_problem(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    assert load_tag_labels(tmp_path / "content", tmp_path) == ({}, [])
    assert _labels(tmp_path, "# nothing yet\n") == ({}, [])


def test_tag_label_problems_name_file_line_and_field(tmp_path: Path) -> None:
    """Each bad entry is reported where it is and left out; the good ones stay."""
    labels, problems = _labels(
        tmp_path,
        "erp: ERP\n"  # 1
        "cloud: {fr: nuage, nl: cloud}\n"  # 2
        "backup: {nl: ''}\n"  # 3
        "hosting: 12\n"  # 4
        f"printen: {{en: {'p' * 61}}}\n"  # 5
        "Security: beveiliging\n"  # 6
        "security: security\n"  # 7
        "telefonie: [telefonie]\n"  # 8
        "compliance: ' '\n",  # 9: one label for every language, and one problem
    )
    assert labels == {"erp": {"nl": "ERP", "en": "ERP"}, "cloud": {"nl": "cloud"}}
    assert [(p.file, p.line, p.field, p.message) for p in problems] == [
        ("content/tags.yaml", 2, "cloud.fr", "must be one of nl, en"),
        ("content/tags.yaml", 3, "backup.nl", "must be a label (text)"),
        ("content/tags.yaml", 4, "hosting", "must be a label, or a label per language (nl, en)"),
        ("content/tags.yaml", 5, "printen.en", "too long (61 characters, at most 60)"),
        ("content/tags.yaml", 7, "security",
         "the tag is given twice (tags are matched in lower case); neither label is used"),
        ("content/tags.yaml", 8, "telefonie", "must be a label, or a label per language (nl, en)"),
        ("content/tags.yaml", 9, "compliance", "must be a label (text)"),
    ]


def test_tag_labels_file_that_is_not_a_mapping_or_not_yaml(tmp_path: Path) -> None:
    labels, problems = _labels(tmp_path, "- werkplek\n- cloud\n")
    assert labels == {}
    assert [(p.line, p.message) for p in problems] == [
        (1, "must map each tag to its label, e.g. werkplek: {nl: werkplekbeheer, en: workplace management}")
    ]
    labels, problems = _labels(tmp_path, "erp: ERP\ncloud: {nl: [\n")
    assert labels == {}
    assert problems[0].file == "content/tags.yaml"
    assert problems[0].message.startswith("not valid YAML")


def test_unlabelled_tags_per_language(tmp_path: Path) -> None:
    """The tags an item uses that have no label in the item's language, sorted, per language."""
    _write(tmp_path, "nl/a.md", GOOD)  # tags backup, security
    english = GOOD.replace("language: nl", "language: en").replace("[Backup, security, backup]", "[cloud]")
    _write(tmp_path, "en/b.md", english)
    items, _ = load_content(tmp_path / "content", tmp_path)
    labels = {"backup": {"nl": "back-ups", "en": "backups"}, "cloud": {"nl": "cloud"}}
    assert unlabelled_tags(items.values(), labels) == {"en": ["cloud"], "nl": ["security"]}
    complete = {**labels, "security": {"nl": "beveiliging"}, "cloud": {"en": "cloud"}}
    assert unlabelled_tags(items.values(), complete) == {}


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:{}[]-,'\" \nnlen#&*!|>\t\\x0")), max_size=60))
def test_tag_labels_never_fail_on_any_file(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    """Whatever the file holds, it loads to well-formed labels or problems, never an exception."""
    root = tmp_path_factory.mktemp("labels")
    labels, problems = _labels(root, text)
    for tag, by_language in labels.items():
        assert tag == " ".join(tag.split()).lower() and tag
        assert by_language and set(by_language) <= {"nl", "en"}
        assert all(0 < len(label) <= 60 and label == " ".join(label.split()) for label in by_language.values())
    assert all(p.file == "content/tags.yaml" for p in problems)
