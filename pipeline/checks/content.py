"""The content-only checks: what every copy of a message shares (links, images, styles, structure).

They read the HTML actually rendered (and its text part) with lxml, walking the body once
with the inline styles inherited down the tree, the way a mail client that strips `<style>`
sees them. `windstil validate` runs them on each content item's HTML fragment too.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from coloraide import Color
from lxml import etree

from pipeline.checks import Finding, Level
from pipeline.checks.personal import preheader_findings

log = logging.getLogger(__name__)

SAFE_SCHEMES = frozenset({"https", "mailto", "tel"})
# Link texts that say nothing once read out of context (a screen reader's list of links).
VAGUE_LINK_TEXTS = frozenset({
    "klik hier", "klik", "hier", "lees meer", "lees verder", "meer", "meer info", "meer informatie", "link",
    "click here", "click", "here", "read more", "more", "more info", "learn more", "this link", "deze link",
})
# An address as link text: with a scheme, or with a path or query. A bare host name
# ("www.example.nl" in a footer) names the site itself and reads as such.
BARE_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+|\S+\.[a-z]{2,}[/?#]\S*", re.I)
NORMAL_CONTRAST, LARGE_CONTRAST = 4.5, 3.0  # WCAG 2.1 AA, 1.4.3
LARGE_PX, LARGE_BOLD_PX = 24.0, 18.66  # 18 pt, and 14 pt bold
MIN_FONT_PX = 14.0
DEFAULT_FONT_PX = 16.0
HEADING_PX = {"h1": 32.0, "h2": 24.0, "h3": 18.72, "h4": 16.0, "h5": 13.28, "h6": 10.72}
TEXT_WORDS_MISSING = 0.25  # share of the HTML's words the text part may lack
WORD = re.compile(r"[^\W_]{3,}")
STYLE_DECLARATION = re.compile(r"([a-zA-Z-]+)\s*:\s*([^;]+)")
CSS_PROPERTY = re.compile(r"(?<![\w-])([a-z-]+)\s*:(?!:)")
# CSS that email clients without support simply ignore, leaving the light design as it is:
# the e-mails' own dark styles. Used on purpose, so not reported.
GRACEFUL = frozenset({"css-at-media-prefers-color-scheme", "css-color-scheme", "html-meta-color-scheme"})
SKIPPED_TAGS = frozenset({"style", "script", "title", "head", "meta", "link"})


@dataclass(frozen=True)
class LinkPolicy:
    """What a link to the company's own site must carry, and which of its links are exempt."""

    website: str  # the company's base URL; links to its host need the UTM parameters
    utm: tuple[tuple[str, str], ...]  # (name, value) every such link must carry
    exempt: tuple[str, ...] = ()  # URL prefixes that need none (the unsubscribe endpoint)

    @property
    def host(self) -> str:
        return (urlsplit(self.website).hostname or "").lower()


@dataclass(frozen=True, slots=True)
class _Style:
    """The inherited inline style at one point of the tree."""

    color: str = "#000000"
    background: str = "#ffffff"
    font_px: float = DEFAULT_FONT_PX
    bold: bool = False
    hidden: bool = False
    # The styles of its children by (tag, inline style, bgcolor, hidden attribute): the walk's
    # memo, found without hashing this style (its five fields) once per element.
    after: dict[tuple[str, str, str, bool], _Style] = field(default_factory=dict, compare=False, repr=False)


def content_findings(html: str, text: str | None = None, policy: LinkPolicy | None = None) -> list[Finding]:
    """Return the findings of every content-only check on one HTML document (and its text part)."""
    if not html.strip():
        return [Finding("lang_dir", Level.ERROR, "the HTML part is empty")]
    root = _parse_html(html)
    if root is None:
        return [Finding("lang_dir", Level.ERROR, "the HTML part has no document")]
    findings: list[Finding] = []
    findings += _lang_dir(root)
    findings += _links(root, policy)
    findings += _images(root)
    findings += _layout_tables(root)
    findings += _headings(root)
    body_tags: set[str] = set()
    body_styles: set[str] = set()
    visible = _walk_styles(root, findings, body_tags, body_styles)
    if text is not None:
        findings += _text_part(root, visible, text)
    preheader = [e for e in root.iter("div") if "preheader" in (e.get("class") or "").split()]
    if preheader and visible:
        findings += [f for f in preheader_findings(_text(preheader[0]), " ".join(visible[:3]))
                     if "repeats" in f.detail]  # its length is personal: checked per message
    findings += _client_support(root, body_tags, body_styles)
    return findings


def fragment_findings(fragment: str) -> list[Finding]:
    """Return the findings of the checks that apply to a content item's HTML fragment alone."""
    if not fragment.strip():
        return []
    root = _parse_html(f"<html><body>{fragment}</body></html>")
    if root is None:
        return []
    findings: list[Finding] = []
    findings += _links(root, None)
    findings += _images(root)
    findings += _layout_tables(root)
    _walk_styles(root, findings)
    return [f for f in findings if f.check not in ("lang_dir",)]


def link_scheme_findings(url: str, label: str) -> list[Finding]:
    """Return a link_scheme error for a content item's own URL that is not https (empty is fine)."""
    if not url or _scheme(url) == "https":
        return []
    return [Finding("link_scheme", Level.ERROR, f"{label} {_short(url, 80)!r} is not https")]


# --------------------------------------------------------------------------- structure


def _lang_dir(root: Any) -> list[Finding]:
    findings = []
    missing = [name for name in ("lang", "dir") if not root.get(name, "").strip()]
    if missing:
        findings.append(Finding("lang_dir", Level.ERROR, f"<html> has no {' or '.join(missing)}"))
    body = root.find("body")
    wrapper = next((child for child in body.iterchildren() if isinstance(child.tag, str)), None) \
        if body is not None else None
    if wrapper is not None:
        missing = [name for name in ("lang", "dir") if not wrapper.get(name, "").strip()]
        if missing:
            findings.append(Finding("lang_dir", Level.ERROR,
                                    f"the body's outer <{wrapper.tag}> has no {' or '.join(missing)} "
                                    "(some clients drop the <html> element)"))
    return findings


def _layout_tables(root: Any) -> list[Finding]:
    bad = 0
    for table in root.iter("table"):
        if table.get("role", "").strip().lower() in ("presentation", "none"):
            continue
        if table.find(".//th") is not None or table.find("caption") is not None:
            continue  # a data table: screen readers should read it as one
        bad += 1
    if not bad:
        return []
    return [Finding("layout_table", Level.ERROR,
                    f"{bad} layout table(s) without role=\"presentation\": screen readers announce rows and cells")]


def _headings(root: Any) -> list[Finding]:
    findings = []
    previous = 0
    for element in root.iter("h1", "h2", "h3", "h4", "h5", "h6"):
        level = int(element.tag[1])
        if previous and level > previous + 1:
            title = _short(_text(element))
            findings.append(Finding("heading_order", Level.WARNING,
                                    f"h{previous} is followed by h{level} ({title!r}): a level is skipped"))
        previous = level
    return findings


# --------------------------------------------------------------------------- links and images


def _links(root: Any, policy: LinkPolicy | None) -> list[Finding]:
    findings = []
    for link in root.iter("a", "area"):
        href = link.get("href")
        if href is None:
            continue
        href = href.strip()
        scheme = _scheme(href)
        if scheme not in SAFE_SCHEMES:
            shown = scheme + ":" if scheme else "a relative link"
            findings.append(Finding("link_scheme", Level.ERROR,
                                    f"{_short(href, 80)!r} is {shown}: only https, mailto and tel links work "
                                    "safely in every client"))
        if policy is not None and scheme in ("http", "https"):
            findings += _utm(href, policy)
        label = _link_label(link)
        if not label:
            findings.append(Finding("link_text", Level.WARNING, f"the link to {_short(href, 80)!r} has no text"))
        elif label.lower().strip(" .:!?…→»") in VAGUE_LINK_TEXTS:
            findings.append(Finding("link_text", Level.WARNING,
                                    f"link text {label!r} says nothing out of context (link to {_short(href, 60)})"))
        elif BARE_URL.fullmatch(label):
            findings.append(Finding("link_text", Level.WARNING, f"link text is a bare URL ({_short(label, 60)!r})"))
    return findings


@functools.lru_cache(maxsize=8192)
def _utm(href: str, policy: LinkPolicy) -> tuple[Finding, ...]:
    try:
        parts = urlsplit(href)
    except ValueError:
        return ()
    host = (parts.hostname or "").lower()
    if host != policy.host or any(href.startswith(prefix) for prefix in policy.exempt if prefix):
        return ()
    query = dict(parse_qsl(parts.query))
    wrong = [f"{name}={value}" for name, value in policy.utm if query.get(name) != value]
    if not wrong:
        return ()
    return (Finding("link_utm", Level.WARNING,
                    f"{_short(href, 80)!r} lacks {', '.join(wrong)}: web statistics cannot tell this mailing"),)


def _images(root: Any) -> list[Finding]:
    findings = []
    for image in root.iter("img"):
        src = (image.get("src") or "").strip()
        alt = image.get("alt")
        presentational = (image.get("role", "").lower() in ("presentation", "none")
                          or image.get("aria-hidden", "").lower() == "true")
        if alt is None:
            findings.append(Finding("image_alt", Level.ERROR,
                                    f"image {_short(src, 60)!r} has no alt text: with images off, or read aloud, "
                                    "it is gone"))
        elif not alt.strip() and not presentational:
            findings.append(Finding("image_alt", Level.ERROR,
                                    f"image {_short(src, 60)!r} has an empty alt but is not marked presentational "
                                    "(role=\"presentation\")"))
        scheme = _scheme(src)
        if scheme != "https":
            why = "is not https" if scheme else "is a local path no mail client can load"
            findings.append(Finding("image_src", Level.WARNING, f"image source {_short(src, 60)!r} {why}"))
    return findings


@functools.lru_cache(maxsize=8192)  # a run's variants share most of their links
def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:
        return ""


def _link_label(link: Any) -> str:
    label = " ".join(_text(link).split())
    if not label:
        label = " ".join(filter(None, ((img.get("alt") or "").strip() for img in link.iter("img"))))
    return label or (link.get("aria-label") or "").strip()


# --------------------------------------------------------------------------- styles: contrast and size


def _walk_styles(root: Any, findings: list[Finding], tags: set[str] | None = None,
                 inline_styles: set[str] | None = None) -> list[str]:
    """Check contrast and font size of every visible text; return the visible texts in order.

    One pass over the body in document order: each element's style is its parent's with its
    own inline declarations applied (memoised, as a message repeats the same few styles).
    Two XPath queries first find, in C, the few elements that hold text or carry the rare
    attributes that hide or colour, so the pass reads only those elements' text and attributes.
    """
    body = root.find("body")
    if body is None:
        return []
    low: dict[tuple[str, str, float], tuple[float, str, int]] = {}
    small: dict[float, tuple[str, int]] = {}
    visible: list[str] = []
    styles: dict[Any, _Style] = {body.getparent(): _ROOT}
    seen_tags = tags if tags is not None else set()
    seen_styles = inline_styles if inline_styles is not None else set()
    # Text that is all XML whitespace is Python whitespace too: such an element has no text of its own.
    with_text = set(_WITH_TEXT(body))
    marked = set(_MARKED(body))
    for element in body.iter():
        tag = element.tag
        if not isinstance(tag, str):
            continue
        seen_tags.add(tag)
        inherited = styles.get(element.getparent(), _HIDDEN)
        if tag in SKIPPED_TAGS:
            styles[element] = _HIDDEN
            continue
        inline = element.get("style") or ""
        if inline:
            seen_styles.add(inline)
        if element in marked:
            pattern = (tag, inline, element.get("bgcolor") or "",
                       element.get("hidden") is not None or (element.get("aria-hidden") or "").lower() == "true")
        else:
            pattern = (tag, inline, "", False)
        style = inherited.after.get(pattern)
        if style is None:
            if len(inherited.after) >= _AFTER_MAX:
                inherited.after.clear()
            style = inherited.after[pattern] = _apply(*pattern, inherited)
        styles[element] = style
        if style.hidden or element not in with_text:
            continue
        pieces = [element.text] if element.text else []
        pieces += [child.tail for child in element if child.tail]
        own = " ".join(" ".join(pieces).split())
        if not own:
            continue
        visible.append(own)
        large = style.font_px >= LARGE_PX or (style.bold and style.font_px >= LARGE_BOLD_PX)
        needed = LARGE_CONTRAST if large else NORMAL_CONTRAST
        ratio = _contrast(style.color, style.background)
        if ratio is not None and ratio < needed:
            key = (style.color, style.background, needed)
            _, sample, count = low.get(key, (ratio, own, 0))
            low[key] = (ratio, sample, count + 1)
        if style.font_px < MIN_FONT_PX and tag not in HEADING_PX:
            sample, count = small.get(style.font_px, (own, 0))
            small[style.font_px] = (sample, count + 1)
    for (color, background, needed), (ratio, sample, count) in low.items():
        findings.append(Finding("contrast", Level.ERROR,
                                f"{color} on {background} is {ratio:.1f}:1, needs {needed:g}:1 "
                                f"({_short(sample)!r}{_more(count)})"))
    for size, (sample, count) in sorted(small.items()):
        findings.append(Finding("font_size", Level.WARNING,
                                f"text of {size:g}px, under {MIN_FONT_PX:g}px ({_short(sample)!r}{_more(count)})"))
    return visible


_ROOT, _HIDDEN = _Style(), _Style(hidden=True)
_AFTER_MAX = 512  # children's styles remembered per style: a bound should a document hold many distinct ones
# The elements with text of their own (their text or a child's tail), and those that may hide or colour.
# (Their XPath parent: a child's tail is a text node of the element that holds the child.)
_WITH_TEXT = etree.XPath("descendant-or-self::text()[normalize-space()]/..")
_MARKED = etree.XPath(".//@hidden/.. | .//@aria-hidden/.. | .//@bgcolor/..")


@functools.lru_cache(maxsize=8192)
def _apply(tag: str, inline: str, bgcolor: str, hidden_attribute: bool, inherited: _Style) -> _Style:
    """Return the style of an element: `inherited` with the element's own inline style applied."""
    color, background = inherited.color, inherited.background
    font_px, bold, hidden = inherited.font_px, inherited.bold, inherited.hidden or hidden_attribute
    if tag in HEADING_PX:
        font_px, bold = HEADING_PX[tag], True
    if tag in ("strong", "b", "th"):
        bold = True
    if bgcolor and _opaque(bgcolor):
        background = bgcolor.strip().lower()
    for name, value in _declarations(inline):
        if name == "color" and _parse(value) is not None:
            color = value
        elif name in ("background-color", "background"):
            candidate = value.split()[0] if name == "background" and value else value
            if _opaque(candidate):
                background = candidate
        elif name == "font-size":
            font_px = _pixels(value, font_px)
        elif name == "font-weight":
            bold = value in ("bold", "bolder") or (value.isdigit() and int(value) >= 600)
        elif (name == "display" and value == "none") or (name == "opacity" and value in ("0", "0.0")) \
                or (name == "mso-hide" and value == "all"):
            hidden = True
    return _Style(color, background, font_px, bold, hidden)


@functools.lru_cache(maxsize=4096)
def _declarations(style: str) -> tuple[tuple[str, str], ...]:
    return tuple((name.lower(), value.strip().lower().replace("!important", "").strip())
                 for name, value in STYLE_DECLARATION.findall(style))


@functools.lru_cache(maxsize=1024)
def _pixels(value: str, parent: float) -> float:
    match = re.fullmatch(r"([\d.]+)\s*(px|pt|em|rem|%)?", value)
    if not match:
        return parent
    number, unit = float(match.group(1)), match.group(2) or "px"
    return {"px": number, "pt": number * 4 / 3, "em": number * parent, "rem": number * DEFAULT_FONT_PX,
            "%": number * parent / 100}[unit]


@functools.lru_cache(maxsize=1024)
def _parse(value: str) -> Color | None:
    try:
        return Color(value.strip())
    except (ValueError, TypeError):
        return None


def _opaque(value: str) -> bool:
    color = _parse(value)
    return color is not None and color.alpha() >= 1


@functools.lru_cache(maxsize=4096)
def _contrast(foreground: str, background: str) -> float | None:
    """Return the WCAG 2.1 contrast ratio of two CSS colours (None when one is not a colour)."""
    fg, bg = _parse(foreground), _parse(background)
    if fg is None or bg is None:
        return None
    return float(fg.contrast(bg, method="wcag21"))


# --------------------------------------------------------------------------- text part


def _text_part(root: Any, visible: Sequence[str], text: str) -> list[Finding]:
    findings = []
    missing_links = []
    for link in root.iter("a"):
        href = (link.get("href") or "").strip()
        scheme = _scheme(href)
        shown = href[7:].split("?")[0] if scheme == "mailto" else href  # the text part shows the address
        if scheme in ("http", "https", "mailto") and shown not in text:
            missing_links.append(href)
    for href in dict.fromkeys(missing_links):
        findings.append(Finding("text_part", Level.WARNING, f"the text part lacks the link {_short(href, 80)!r}"))
    html_words = set(WORD.findall(" ".join(visible).lower()))
    text_words = set(WORD.findall(text.lower()))
    if html_words:
        lacking = html_words - text_words
        share = len(lacking) / len(html_words)
        if share > TEXT_WORDS_MISSING:
            shown = ", ".join(sorted(lacking)[:6])
            findings.append(Finding("text_part", Level.WARNING,
                                    f"the text part lacks {share:.0%} of the HTML's words (e.g. {shown})"))
    return findings


# --------------------------------------------------------------------------- client support


@functools.cache
def caniemail() -> dict[str, Any]:
    """Return the vendored caniemail data: features unsupported in Outlook, Gmail or Apple Mail."""
    text = resources.files("pipeline.checks").joinpath("data/caniemail.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def features_used(root: Any, body_tags: set[str] | None = None, body_styles: set[str] | None = None) -> set[str]:
    """Return the caniemail feature ids of the HTML elements and CSS properties a document uses.

    `body_tags` and `body_styles`, when given, are the body's (collected by _walk_styles): only
    the head is walked here then.
    """
    used: set[str] = set()
    tags: set[str] = set(body_tags or ())
    inline: set[str] = set(body_styles or ())
    body = root.find("body") if body_tags is not None else None
    scope = root.find("head") if body is not None else root
    for element in (scope.iter() if scope is not None else ()):
        tag = element.tag
        if not isinstance(tag, str):
            continue
        tags.add(tag)
        style = element.get("style")
        if style:
            inline.add(style)
        if tag == "meta" and (element.get("name") or "").lower() in ("color-scheme", "supported-color-schemes"):
            used.add("html-meta-color-scheme")
    used.update(f"html-{tag}" for tag in tags)
    for style in inline:
        used.update(_inline_features(style))
    for block in root.iter("style"):
        used.update(_css_features(block.text or ""))
    return used


@functools.lru_cache(maxsize=4096)  # a run's messages repeat the same few inline styles
def _inline_features(style: str) -> frozenset[str]:
    """Return the caniemail feature ids of one inline style attribute."""
    used = set()
    for name, value in _declarations(style):
        used.add(f"css-{name}")
        if name == "display" and value in ("flex", "grid"):
            used.add(f"css-display-{value}")
    return frozenset(used)


@functools.lru_cache(maxsize=256)  # every message of a template has the same <style> blocks
def _css_features(css: str) -> frozenset[str]:
    """Return the caniemail feature ids of one <style> block."""
    used = {f"css-{name}" for name in CSS_PROPERTY.findall(re.sub(r"@media[^{]*\{", "", css))}
    if re.search(r"@media[^{]*prefers-color-scheme", css):
        used.add("css-at-media-prefers-color-scheme")
    if "@media" in css:
        used.add("css-at-media")
    return frozenset(used)


@functools.cache
def _mjml_baseline() -> frozenset[str]:
    """Return the features that MJML's own output uses: MJML chose them knowing the clients."""
    from mjml import mjml2html  # the same compiler the templates go through

    source = (
        "<mjml><mj-head><mj-preview>x</mj-preview></mj-head><mj-body><mj-section><mj-column><mj-text>x</mj-text>"
        "<mj-button href=\"https://example.org\">x</mj-button><mj-divider />"
        "<mj-image src=\"https://example.org/x.png\" alt=\"x\" /><mj-spacer />"
        "</mj-column></mj-section></mj-body></mjml>"
    )
    return frozenset(features_used(_parse_html(str(mjml2html(source)))))


def _client_support(root: Any, body_tags: set[str], body_styles: set[str]) -> list[Finding]:
    known = caniemail()["features"]
    findings = []
    if root.find("body") is not None:
        body_tags = body_tags | {"body"}
        body_styles = body_styles | {root.find("body").get("style") or ""}
    for feature in sorted(features_used(root, body_tags, body_styles) - _mjml_baseline() - GRACEFUL):
        entry = known.get(feature)
        if entry is None:
            continue
        clients = ", ".join(entry["unsupported"])
        findings.append(Finding("client_support", Level.WARNING,
                                f"{entry['title']} is not supported in {clients} (caniemail: {feature})"))
    return findings


# --------------------------------------------------------------------------- helpers


# Comments go: MJML's Outlook-only conditional comments are not what other clients show.
# Parsers are not shared between threads: the checks stage runs in one.
_PARSER = etree.HTMLParser(remove_comments=True, remove_pis=True)


def _parse_html(html: str) -> Any:
    """Return the root element of an HTML document (None for an empty one)."""
    return etree.fromstring(html, _PARSER) if html.strip() else None


def _text(element: Any) -> str:
    return "".join(element.itertext())


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _more(count: int) -> str:
    return f", {count} places" if count > 1 else ""
