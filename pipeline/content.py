"""Load content items: YAML front matter checked field by field, Markdown rendered and sanitised.

An item's id is its path under content/ without the extension (`nl/backup-testen`). The body
is rendered with markdown-it-py (CommonMark plus tables; raw HTML is not interpreted, so it
shows as text) and then sanitised with nh3 against an allow-list: only http, https and mailto
links, no scripts, no event handlers, no style attributes. An invalid item is reported with
its path and field and left out.

An item may be the translation of another: `translation_of: nl/klantendag-2026` names the
original's id, in another language. An original and its translations are one topic
(`ContentItem.topic`): a contact who got one of them is not sent another, and the call lists
count them as one.

Beside the items, content/tags.yaml (optional) says how each tag reads in an e-mail's
sentence, per language: tags are short ids shared by the items, the products and the
contacts' interests ("microsoft365", "werkplek"), not words a reader should see.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import nh3
import yaml
from markdown_it import MarkdownIt

from pipeline.config import SAFE_ID
from pipeline.errors import ConfigError, Problem
from pipeline.language import N_, Notice
from pipeline.models import LANGUAGES, ContentItem, ItemType, Segment, TagLabels
from pipeline.yamlfile import SafeLoader, expanded_size, read_yaml, yaml_date

log = logging.getLogger(__name__)

MAX_FRONT_MATTER_VALUES = 10_000  # a real item has a few dozen
FIELDS = (
    "title",
    "type",
    "language",
    "tags",
    "products",
    "sectors",
    "segments",
    "published",
    "expires",
    "priority",
    "url",
    "summary",
    "event_date",
    "translation_of",
)
ALLOWED_TAGS = {
    "p",
    "h2",
    "h3",
    "h4",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "a",
    "blockquote",
    "code",
    "pre",
    "br",
    "hr",
    "img",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
URL_SCHEMES = {"http", "https", "mailto"}
MAX_TITLE = 200
MAX_SUMMARY = 500
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*\r?$\n?", re.S | re.M)
_URL = re.compile(r"https?://[^\s/?#]+\.[^\s]+")

_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


def render_markdown(text: str) -> str:
    """Return the Markdown `text` as a sanitised HTML fragment."""
    html = _markdown.render(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener",
        strip_comments=True,
    ).strip()


def load_content(content_dir: Path, root: Path) -> tuple[dict[str, ContentItem], list[Problem]]:
    """Load every `*.md` item under `content_dir`; return the valid ones by id, and the problems."""
    items: dict[str, ContentItem] = {}
    problems: list[Problem] = []
    invalid: set[str] = set()  # ids of the items left out for their problems
    if not content_dir.is_dir():
        problems.append(Problem(_display(content_dir, root), None, "", Notice(N_("content folder not found"))))
        return items, problems
    for path in sorted(content_dir.rglob("*")):
        relative = path.relative_to(content_dir)
        if any(part.startswith((".", "_")) for part in relative.parts) or relative.stem.lower() == "readme":
            continue  # drafts (_name), hidden files and READMEs are not items
        if path.suffix.lower() not in (".md", ".markdown") or not path.is_file():
            continue
        if path.suffix != ".md":  # .MD, .markdown: would be skipped without a word
            renamed = Notice(N_("not read: an item's file name must end in .md (rename it to %(name)s)"),
                             name=path.with_suffix(".md").name)
            problems.append(Problem(_display(path, root), None, "", renamed))
            continue
        item, item_problems = _load_item(path, relative, _display(path, root))
        problems.extend(item_problems)
        if item is not None:
            items[item.id] = item
        else:
            invalid.add(relative.with_suffix("").as_posix())
    for item_id, problem in _translation_problems(items, invalid, content_dir).items():
        items[item_id] = replace(items[item_id], translation_of="")  # kept, as an original
        problems.append(problem)
    log.info("loaded %d content items (%d problems)", len(items), len(problems))
    return dict(sorted(items.items())), problems


TAGS_FILE = "tags.yaml"
MAX_LABEL = 60  # a label stands in a sentence, next to others


def load_tag_labels(content_dir: Path, root: Path) -> tuple[TagLabels, list[Problem]]:
    """Read content/tags.yaml: each tag's label by language; none (and no problem) without the file.

    A tag maps to one label for every language (`microsoft365: Microsoft 365`) or to one per
    language (`werkplek: {nl: werkplekbeheer, en: workplace management}`). Tags are matched
    as the items' and contacts' tags are: trimmed and lower-cased. A bad entry is reported
    with its line and left out; its tag then reads as the tag itself.
    """
    path = content_dir / TAGS_FILE
    if not path.is_file():
        return {}, []
    display = _display(path, root)
    try:
        document, lines = read_yaml(path, display)
    except ConfigError as error:
        return {}, list(error.problems) or [Problem(display, None, "", str(error))]
    if document is None:
        return {}, []
    if not isinstance(document, dict):
        example = "werkplek: {nl: werkplekbeheer, en: workplace management}"
        not_a_mapping = Notice(N_("must map each tag to its label, e.g. %(example)s"), example=example)
        return {}, [Problem(display, 1, "", not_a_mapping)]
    labels: TagLabels = {}
    doubled: set[str] = set()
    problems: list[Problem] = []
    for key, value in document.items():
        tag = " ".join(str(key).split()).lower()
        line = lines.get(str(key))
        if not tag or isinstance(key, bool):
            problems.append(Problem(display, line, tag, Notice(N_("not a tag"))))
            continue
        if f"\x00duplicate:{key}" in lines or tag in labels or tag in doubled:
            # Which of the two was meant is not for us to guess.
            twice = N_("the tag is given twice (tags are matched in lower case); neither label is used")
            problems.append(Problem(display, line, tag, Notice(twice)))
            labels.pop(tag, None)
            doubled.add(tag)
            continue
        found, wrong = texts_per_language(value, MAX_LABEL)
        for field, message in wrong:
            where = lines.get(f"{key}.{field}", line) if field else line
            problems.append(Problem(display, where, f"{tag}.{field}" if field else tag, message))
        if found:
            labels[tag] = found
    return labels, problems


def texts_per_language(value: Any, limit: int | None) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Return a text given once for every language, or once per language, by language; and what is wrong.

    What is wrong comes as (the language, or "" for the whole value; the message). The words of
    a tag (content/tags.yaml) and the names of a product (products.yaml) are given so. `limit`:
    the most characters a text may have (None: no limit).
    """
    if isinstance(value, str):  # one text for every language: a problem is the whole value's
        label, wrong = _label(value, limit)
        return (dict.fromkeys(LANGUAGES, label), []) if wrong is None else ({}, [("", wrong)])
    if not isinstance(value, dict):
        not_a_label = N_("must be a label, or a label per language (%(values)s)")
        return {}, [("", Notice(not_a_label, values=", ".join(LANGUAGES)))]
    found: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    for language, text in value.items():
        label, wrong = _label(text, limit)
        if language not in LANGUAGES:
            problems.append((str(language), Notice(N_("must be one of %(values)s"), values=", ".join(LANGUAGES))))
        elif wrong is not None:
            problems.append((str(language), wrong))
        else:
            found[language] = label
    return found, problems


def _label(text: Any, limit: int | None) -> tuple[str, Notice | None]:
    """Return a text with its white space made single spaces, or what is wrong with it."""
    label = " ".join(text.split()) if isinstance(text, str) else ""
    if not label:
        return "", Notice(N_("must be a label (text)"))
    if limit is not None and len(label) > limit:
        too_long = N_("too long (%(length)s characters, at most %(limit)s)")
        return "", Notice(too_long, length=len(label), limit=limit)
    return label, None


def unlabelled_tags(items: Iterable[ContentItem], labels: TagLabels) -> dict[str, list[str]]:
    """Return, per language, the tags of that language's items that have no label in it (sorted)."""
    missing: dict[str, set[str]] = {}
    for item in items:
        for tag in item.tags:
            if item.language not in labels.get(tag, {}):
                missing.setdefault(item.language, set()).add(tag)
    return {language: sorted(tags) for language, tags in sorted(missing.items())}


def _front_matter(path: Path, display: str) -> Problem | tuple[str, int, dict[Any, Any], dict[str, int]]:
    """Return an item file's text, where its body starts, its front matter and each field's line; or what is wrong."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return Problem(display, None, "", Notice(N_("not UTF-8 text")))
    match = _FRONT_MATTER.match(text)
    if match is None:
        return Problem(display, 1, "", Notice(N_("no front matter (the file must start with ---)")))
    try:
        node = yaml.compose(match.group(1), Loader=SafeLoader)
        if node is not None and expanded_size(node) > MAX_FRONT_MATTER_VALUES:
            # Aliases of aliases ("billion laughs") would take minutes to print or check.
            too_large = Notice(N_("front matter too large once its aliases (*name) are expanded"))
            return Problem(display, 1, "", too_large)
        meta = yaml.load(match.group(1), Loader=SafeLoader)  # noqa: S506 (the safe loader, dates kept as text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        # One line: PyYAML's own text spans several, with a line count of the front matter alone.
        reason = " ".join((getattr(error, "problem", None) or str(error)).split())
        invalid = Notice(N_("front matter is not valid YAML: %(error)s"), error=reason)
        return Problem(display, line, "", invalid)
    except RecursionError:  # PyYAML composes recursively: [[[[…]]]] thousands deep
        return Problem(display, 1, "", Notice(N_("front matter nested too deeply to read")))
    if not isinstance(meta, dict):
        return Problem(display, 1, "", Notice(N_("front matter must be a mapping of fields")))
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            line = key_node.start_mark.line + 2  # +1 for the --- line
            if str(key_node.value) in lines:  # YAML keeps the last of two: a silent overwrite hides a mistake
                return Problem(display, line, str(key_node.value), Notice(N_("field appears twice")))
            lines[str(key_node.value)] = line
    return text, match.end(), meta, lines


def _translation_problems(items: dict[str, ContentItem], invalid: set[str], content_dir: Path) -> dict[str, Problem]:
    """Return what is wrong with each item's `translation_of`, by item id.

    It must name a loaded item of another language (first pass), which is an original itself
    and has no other translation in this item's language (second pass, once the links of the
    first pass that are wrong count for nothing: an original is not blamed for a bad link of
    its own original's).
    """
    wrong: dict[str, Notice] = {}
    for item in items.values():
        original = items.get(item.translation_of)
        if not item.translation_of:
            continue
        if original is None and item.translation_of in invalid:
            wrong[item.id] = Notice(N_("%(id)s is left out for its own problems"), id=item.translation_of)
        elif original is None:
            wrong[item.id] = Notice(
                N_("no item %(id)s (the id is its path under content/ without .md)"), id=item.translation_of
            )
        elif original.language == item.language:
            wrong[item.id] = Notice(N_("%(id)s is in the same language"), id=original.id)
    taken: dict[tuple[str, str], str] = {}  # (original, language) -> its translation
    for item in items.values():
        if not item.translation_of or item.id in wrong:
            continue
        original = items[item.translation_of]
        if original.translation_of and original.id not in wrong:
            wrong[item.id] = Notice(
                N_("%(id)s is a translation itself: name its original, %(original)s"),
                id=original.id,
                original=original.translation_of,
            )
        elif (original.id, item.language) in taken:
            wrong[item.id] = Notice(
                N_("%(id)s already has a translation in this language: %(other)s"),
                id=original.id,
                other=taken[original.id, item.language],
            )
        else:
            taken[original.id, item.language] = item.id
    return {
        item_id: Problem(
            items[item_id].path,
            _field_line(content_dir / f"{item_id}.md", items[item_id].path, "translation_of"),
            "translation_of",
            notice,
        )
        for item_id, notice in wrong.items()
    }


def _field_line(path: Path, display: str, name: str) -> int | None:
    """Return the line of a front-matter field in an item's file, read again (only to report a problem)."""
    read = _front_matter(path, display)
    return None if isinstance(read, Problem) else read[3].get(name)


def _load_item(path: Path, relative: Path, display: str) -> tuple[ContentItem | None, list[Problem]]:
    problems: list[Problem] = []
    item_id = relative.with_suffix("").as_posix()
    if not all(SAFE_ID.fullmatch(part) for part in item_id.split("/")):
        unsafe = Notice(N_("unsafe file name (letters, digits, . _ - only; max 64)"))
        problems.append(Problem(display, None, "id", unsafe))
    read = _front_matter(path, display)
    if isinstance(read, Problem):
        return None, [read]
    text, body_start, meta, lines = read

    def problem(name: str, message: str) -> None:
        problems.append(Problem(display, lines.get(name), name, message))

    for name in meta:
        if name not in FIELDS:
            problem(str(name), Notice(N_("unknown field (allowed: %(fields)s)"), fields=", ".join(FIELDS)))
    for name in ("title", "type", "language", "published"):
        if meta.get(name) in (None, ""):
            problems.append(Problem(display, 1, name, Notice(N_("required field is missing"))))

    title = _text(meta.get("title"), "title", MAX_TITLE, problem)
    summary = _text(meta.get("summary"), "summary", MAX_SUMMARY, problem)
    item_type = None
    if meta.get("type") not in (None, ""):
        try:
            item_type = ItemType(str(meta["type"]).strip().lower())
        except ValueError:
            problem("type", Notice(N_("must be one of %(values)s"), values=", ".join(t.value for t in ItemType)))
    language = "" if meta.get("language") is None else str(meta["language"]).strip().lower()  # `no` is YAML's False
    if language and language not in LANGUAGES:
        problem("language", Notice(N_("must be one of %(values)s"), values=", ".join(LANGUAGES)))
    published = _date(meta.get("published"), "published", problem)
    expires = _date(meta.get("expires"), "expires", problem)
    event_date = _date(meta.get("event_date"), "event_date", problem)
    if published and expires and expires <= published:
        problem("expires", Notice(N_("must be after published")))
    if event_date is not None and item_type is not None and item_type is not ItemType.EVENT:
        problem("event_date", Notice(N_("only events have an event_date")))
    priority = meta.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 3:
        problem("priority", Notice(N_("must be a whole number from 0 to 3")))
        priority = 0
    url = str(meta.get("url") or "").strip()
    if url and not _URL.fullmatch(url):
        problem("url", Notice(N_("must be an http:// or https:// URL")))
    tags, products, sectors, segments = _item_lists(meta, problem)
    translation_of = _item_id(meta.get("translation_of"), "translation_of", problem)
    body = text[body_start:]
    body_html = render_markdown(body) if body.strip() else ""
    if not body_html and not summary:
        problem("summary", Notice(N_("an item needs a body or a summary")))

    if problems or item_type is None or published is None:
        return None, problems
    return (
        ContentItem(
            id=item_id,
            path=display,
            title=title,
            type=item_type,
            language=language,
            published=published,
            body_markdown=body,
            body_html=body_html,
            tags=tags,
            products=tuple(dict.fromkeys(products)),
            sectors=tuple(dict.fromkeys(sectors)),
            segments=tuple(dict.fromkeys(segments)),
            expires=expires,
            priority=priority,
            url=url,
            summary=summary,
            event_date=event_date,
            translation_of=translation_of,
        ),
        [],
    )


def _item_id(value: object, name: str, problem: Callable[[str, str], None]) -> str:
    """Return the id of an item named in a field (`nl/klantendag-2026`; a trailing .md is dropped), or ""."""
    text = str(value or "").strip().removesuffix(".md")
    if text and not all(SAFE_ID.fullmatch(part) for part in text.split("/")):
        problem(name, Notice(N_("not an item id: %(value)s (its path under content/ without .md)"), value=repr(text)))
        return ""
    return text


def _item_lists(
    meta: dict[Any, Any], problem: Callable[[str, str], None]
) -> tuple[tuple[str, ...], list[str], list[str], list[Segment]]:
    """Return an item's tags (lower-cased, each once), products, sectors and segments."""
    tags = tuple(dict.fromkeys(t.lower() for t in _list(meta.get("tags"), "tags", problem)))
    products = _list(meta.get("products"), "products", problem)
    for product in products:
        if not SAFE_ID.fullmatch(product):
            problem("products", Notice(N_("not a valid product id: %(id)s"), id=repr(product)))
    sectors = _list(meta.get("sectors"), "sectors", problem)
    segments: list[Segment] = []
    for value in _list(meta.get("segments"), "segments", problem):
        try:
            segments.append(Segment(value.upper()))
        except ValueError:
            problem("segments", Notice(N_("%(value)s is not a segment (A, B, C, D)"), value=repr(value)))
    return tags, products, sectors, segments


def _text(value: Any, name: str, limit: int, problem: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        problem(name, Notice(N_("must be text")))
        return ""
    text = " ".join(str(value).split())
    if len(text) > limit:
        problem(name, Notice(N_("too long (%(length)s characters, at most %(limit)s)"), length=len(text), limit=limit))
    return text


def _date(value: Any, name: str, problem: Any) -> date | None:
    if value is None or value == "":
        return None
    parsed = yaml_date(value)
    if parsed is None:
        problem(name, Notice(N_("must be a date YYYY-MM-DD")))
    return parsed


def _list(value: Any, name: str, problem: Any) -> list[str]:
    """Return a list of trimmed strings; a single string is one entry (or `;`/`,`-separated)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = re.split(r"[;,|]", value)
    if not isinstance(value, list) or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in value):
        problem(name, Notice(N_("must be a list, e.g. [backup, security]")))
        return []
    return [str(v).strip() for v in value if str(v).strip()]


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
