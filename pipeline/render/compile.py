"""Compile the e-mail templates once per template and language, and prepare each content item once.

Per template and language: stage-one Jinja (translated static text) → protect the stage-two
Jinja tags behind inert tokens → MJML (mjml-python) → CSS inlining (premailer) → restore the
tags → one compiled Jinja template. Nothing here runs per recipient; see message.py.
"""

from __future__ import annotations

import gettext
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urljoin

import jinja2
import jinja2.compiler
import jinja2.nodes
import lxml.html
import markupsafe
import mjml
import premailer
from markupsafe import Markup, escape

from pipeline.errors import InputError, Problem
from pipeline.language import N_, Notice, notice_template
from pipeline.models import LANGUAGES, ContentItem, ItemType, Lint, LintCode, MessageKind, Settings
from pipeline.render.formatting import clean_text, format_date
from pipeline.render.i18n import _, load_translations, static_environment

log = logging.getLogger(__name__)

# The lints' texts: English, and said in the project's language on the review site.
LINT_RELATIVE_LINK = notice_template(N_("%(item)s: link %(url)s is relative; sent as %(resolved)s"))
LINT_NO_ALT = notice_template(N_("%(item)s: image %(src)s has no alt text"))
LINT_IMAGE_URL = notice_template(N_("%(item)s: image %(src)s is not an absolute http(s) URL"))

TEMPLATE_FILES = {MessageKind.NEWSLETTER: "newsletter", MessageKind.ALERT: "alert"}

# MJML's responsive rule: without `!important` the columns do not widen on a desktop.
MEDIA_RULE = re.compile(r"@media only screen and \(min-width:480px\)\s*\{[^}]*!important")

_STAGE2_TAG = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.DOTALL)
_INLINE_STYLE = re.compile(r'<mj-style\s+inline="inline"\s*>(.*?)</mj-style>', re.DOTALL)
_STYLE_OPEN = re.compile(r"<style\b")
_FONT_LINK = re.compile(r"<link\b[^>]*>\s*", re.IGNORECASE)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TOKEN = re.compile(r"wsjinja(\d{5})q")
_COMMENT_TOKEN = re.compile(r"<!--wsjinja(\d{5})q-->")

# Inline styles for the tags a content item's Markdown can produce. Items are inserted per
# recipient, after the template's CSS was inlined, so they carry their own styles.
FRAGMENT_STYLES = {
    "p": "margin:0 0 14px 0;",
    "a": "color:#1d4e89;",
    "h1": "margin:0 0 8px 0;font-size:18px;line-height:24px;",
    "h2": "margin:0 0 8px 0;font-size:17px;line-height:24px;",
    "h3": "margin:0 0 8px 0;font-size:16px;line-height:22px;",
    "h4": "margin:0 0 8px 0;font-size:16px;line-height:22px;",
    "ul": "margin:0 0 14px 0;padding:0 0 0 22px;",
    "ol": "margin:0 0 14px 0;padding:0 0 0 22px;",
    "li": "margin:0 0 4px 0;",
    "blockquote": "margin:0 0 14px 0;padding:0 0 0 12px;border-left:3px solid #d9e2ec;color:#52606d;",
    "pre": "margin:0 0 14px 0;padding:8px;background-color:#f0f4f8;white-space:pre-wrap;font-size:13px;",
    "code": "font-family:Menlo,Consolas,monospace;font-size:14px;",
    "img": "max-width:100%;height:auto;border:0;",
    "table": "border-collapse:collapse;",
    "td": "padding:4px 8px;border:1px solid #d9e2ec;",
    "th": "padding:4px 8px;border:1px solid #d9e2ec;text-align:left;",
}

CTA_LABELS = {
    # Each says where it leads: a screen reader lists links without their context.
    ItemType.ARTICLE: _("Read the article"),
    ItemType.CASE: _("Read the customer case"),
    ItemType.EVENT: _("Sign up for this event"),
    ItemType.ALERT: _("Read the full update"),
}


@dataclass(frozen=True)
class PreparedItem:
    """A content item made ready once for every recipient that gets it."""

    id: str
    type: ItemType
    language: str
    title: str
    summary: str
    url: str  # absolute; the run's UTM parameters are added per run
    body: Markup  # sanitised at load, styled inline here
    text: str  # the body for the text part
    cta: str  # call-to-action label in the item's language
    meta: str  # e.g. the event date line; "" when none
    published: date
    expires: date | None
    lints: tuple[Lint, ...] = ()


@dataclass(frozen=True)
class CompiledTemplate:
    kind: MessageKind
    language: str
    html: jinja2.Template
    text: jinja2.Template
    html_source: str = ""  # the stage-two source, kept for review and tests


@dataclass(frozen=True)
class Compiled:
    """Everything the per-recipient render needs that does not depend on the recipient."""

    templates: dict[tuple[MessageKind, str], CompiledTemplate]
    translations: dict[str, gettext.NullTranslations]
    items: dict[str, PreparedItem]
    # Per-run and per-customer values computed on first use (see message.py).
    cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)


# markupsafe's own escaper, which markupsafe.escape calls before wrapping the result in Markup
# (not re-exported; should it go, escaping and then dropping the Markup type is the same).
_escape_inner: Callable[[str], str] = getattr(markupsafe, "_escape_inner", None) or (
    lambda s: str.__str__(escape(s))
)


class _CodeGenerator(jinja2.compiler.CodeGenerator):
    """Jinja's code generator, with its two most frequent calls written out inline.

    Per message our templates write about forty values and read about eighty `x.name`s,
    each through a Python-level call: `escape(value)`, which also builds a Markup object
    that is only ever joined into the output, and `environment.getattr(x, "name")`. The code
    below gives exactly what those calls give (see _DictFirstEnvironment.getattr and
    markupsafe.escape) for plain str values and plain dicts, and calls them for anything else.
    The temporaries are assignment expressions local to the generated function; evaluating
    the expression before the test assigns them, so nested uses cannot interfere.
    """

    @jinja2.compiler.optimizeconst
    def visit_Getattr(self, node: jinja2.nodes.Getattr, frame: jinja2.compiler.Frame) -> None:
        if self.environment.is_async or self.environment.sandboxed:
            super().visit_Getattr(node, frame)
            return
        name = repr(node.attr)
        self.write(f"(_ws_obj[{name}] if type(_ws_obj := ")
        self.visit(node.node, frame)
        self.write(f") is dict and {name} in _ws_obj else environment.getattr(_ws_obj, {name}))")

    def _output_child_pre(self, node: jinja2.nodes.Expr, frame: jinja2.compiler.Frame, finalize: Any) -> None:
        if frame.eval_ctx.volatile or not frame.eval_ctx.autoescape:
            super()._output_child_pre(node, frame, finalize)
            return
        self.write("(_ws_escape_str(_ws_out) if type(_ws_out := ")
        if finalize.src is not None:
            self.write(finalize.src)

    def _output_child_post(self, node: jinja2.nodes.Expr, frame: jinja2.compiler.Frame, finalize: Any) -> None:
        if frame.eval_ctx.volatile or not frame.eval_ctx.autoescape:
            super()._output_child_post(node, frame, finalize)
            return
        if finalize.src is not None:
            self.write(")")
        self.write(") is str else escape(_ws_out))")


class _OutputTemplate(jinja2.Template):
    """A template compiled by _CodeGenerator, which needs markupsafe's escaper for str."""

    @classmethod
    def _from_namespace(
        cls, environment: jinja2.Environment, namespace: Any, globals: Any
    ) -> jinja2.Template:
        namespace["_ws_escape_str"] = _escape_inner
        return super()._from_namespace(environment, namespace, globals)


class _DictFirstEnvironment(jinja2.Environment):
    """An environment that reads `x.name` from a plain dict's keys before its attributes.

    The render contexts are plain dicts, so Jinja's usual order (attribute first, then key)
    raised and caught an AttributeError for every `item.title` in every message. Only a key
    named like a dict method (`items`, `get`) would now read differently; none is.
    """

    code_generator_class = _CodeGenerator
    template_class = _OutputTemplate

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


def html_environment() -> jinja2.Environment:
    """Return the stage-two environment for HTML: autoescape on, undefined names are errors."""
    return _DictFirstEnvironment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        newline_sequence="\r\n",  # MIME's canonical line end, so nothing is converted per recipient
    )


def text_environment() -> jinja2.Environment:
    """Return the stage-two environment for the text part (no HTML escaping)."""
    return _DictFirstEnvironment(
        autoescape=False,  # plain text part; the HTML part is autoescaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
        newline_sequence="\r\n",
    )


def compile_templates(settings: Settings, content: dict[str, ContentItem]) -> Compiled:
    """Compile every template for every language and prepare every content item, once."""
    templates_dir = settings.paths.templates
    locale_dir = templates_dir / "locale"
    html_env, text_env = html_environment(), text_environment()
    problems: list[Problem] = []
    compiled: dict[tuple[MessageKind, str], CompiledTemplate] = {}
    translations: dict[str, gettext.NullTranslations] = {}
    for language in LANGUAGES:
        translations[language] = load_translations(locale_dir, language)
        static_env = static_environment(templates_dir, translations[language])
        for kind, name in TEMPLATE_FILES.items():
            try:
                html = compile_html(static_env, html_env, f"{name}.mjml", language)
                text = _expand(static_env, text_env, f"{name}.txt", language)
            except _TemplateProblem as problem:
                problems.append(problem.problem)
                continue
            html, text = _one_full_stop(html), _one_full_stop(text)
            compiled[(kind, language)] = CompiledTemplate(
                kind=kind,
                language=language,
                html=html_env.from_string(html),
                text=text_env.from_string(text),
                html_source=html,
            )
    if problems:
        raise InputError("the e-mail templates cannot be compiled", _dedupe(problems))
    items = {
        item_id: prepare_item(item, settings, translations.get(item.language) or gettext.NullTranslations())
        for item_id, item in content.items()
    }
    log.info("compiled %d templates and prepared %d content items", len(compiled), len(items))
    return Compiled(templates=compiled, translations=translations, items=items)


def check_templates(settings: Settings) -> list[Problem]:
    """Return every problem compiling the e-mail templates would hit (for `windstil validate`)."""
    try:
        compile_templates(settings, {})
    except InputError as error:
        return list(error.problems)
    return []


class _TemplateProblem(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: dict[str, Problem] = {}
    for problem in problems:
        seen.setdefault(str(problem), problem)
    return list(seen.values())


_NAME_AND_STOP = re.compile(r"(\{\{\s*customer\.name\s*\}\})\.")


def _one_full_stop(source: str) -> str:
    """Return stage-two `source` where a sentence ending on the customer's name takes the name's own full stop.

    "U ontvangt dit bericht als contactpersoon van {{ customer.name }}." would end "B.V.." for
    Smits Transport B.V.: the translation's full stop becomes `customer.stop`, "" after a name
    that ends with one.
    """
    return _NAME_AND_STOP.sub(r"\1{{ customer.stop }}", source)


def _expand(static_env: jinja2.Environment, stage2_env: jinja2.Environment, name: str, language: str) -> str:
    """Run stage one on a template file and check that the result is valid stage-two Jinja."""
    where = f"templates/{name}"
    try:
        raw, _filename, _uptodate = static_env.loader.get_source(static_env, name)  # type: ignore[union-attr]
        # Stage-one syntax is plain text to stage two, so parsing the file as it is gives
        # stage-two errors with the file's own line numbers.
        stage2_env.parse(raw)
        source = static_env.get_template(name).render(lang=language)
    except jinja2.TemplateNotFound as error:
        raise _TemplateProblem(Problem(where, None, "", "template file is missing")) from error
    except jinja2.TemplateSyntaxError as error:
        raise _TemplateProblem(Problem(where, error.lineno, "", error.message or "syntax error")) from error
    except jinja2.TemplateError as error:
        raise _TemplateProblem(Problem(where, None, "", str(error))) from error
    try:
        stage2_env.parse(source)
    except jinja2.TemplateSyntaxError as error:
        message = f"the {language} translation breaks the template: {error.message}"
        raise _TemplateProblem(Problem(where, None, "", message)) from error
    return source


def compile_html(static_env: jinja2.Environment, html_env: jinja2.Environment, name: str, language: str) -> str:
    """Return the stage-two HTML template source for one MJML template and language."""
    source = _expand(static_env, html_env, name, language)
    return inline_mjml(source, f"templates/{name}")


def inline_mjml(source: str, where: str = "template") -> str:
    """Return MJML as e-mail HTML with the CSS inlined; stage-two Jinja tags come through as they were."""
    inline_css = "\n".join(_INLINE_STYLE.findall(source))
    source = _INLINE_STYLE.sub("", source)
    protected, tags = protect(source)
    try:
        html = mjml.mjml2html(protected, fonts={})
    except Exception as error:  # mjml-python raises plain exceptions for invalid MJML
        raise _TemplateProblem(Problem(where, None, "", f"MJML: {error}")) from error
    html = _FONT_LINK.sub("", html)  # no external font loads: privacy and speed
    # MRML's own <style> blocks (resets, responsive @media) stay as they are; premailer only
    # inlines our mj-style inline="inline" rules, handed to it as css_text.
    html = _STYLE_OPEN.sub('<style data-premailer="ignore"', html)
    html = premailer.Premailer(
        html,
        css_text=inline_css or None,
        strip_important=False,
        allow_network=False,
        disable_validation=True,
        keep_style_tags=True,
        cssutils_logging_level=logging.CRITICAL,
    ).transform()
    if not html.lstrip().lower().startswith("<!doctype"):
        html = "<!doctype html>\n" + html
    html = restore(html, tags, where)
    if not MEDIA_RULE.search(html):
        raise _TemplateProblem(Problem(where, None, "", "the inlined HTML lost MJML's @media rules with !important"))
    return html


def protect(source: str) -> tuple[str, list[str]]:
    """Replace stage-two Jinja tags by inert tokens that MJML and premailer leave alone.

    Control tags become HTML comments (they may sit between table rows, where text would be
    moved by the HTML parser); output tags become plain words (they sit in text and in
    attributes, where premailer would URL-encode braces).
    """
    tags: list[str] = []

    def swap(match: re.Match[str]) -> str:
        tags.append(match.group(0))
        token = f"wsjinja{len(tags) - 1:05d}q"
        return token if match.group(0).startswith("{{") else f"<!--{token}-->"

    return _STAGE2_TAG.sub(swap, source), tags


def restore(html: str, tags: list[str], where: str = "template") -> str:
    """Put the Jinja tags back in place of their tokens; every token must come back.

    MJML may repeat one (the title is also the body's aria-label), which is harmless.
    """
    seen: list[int] = []

    def back(match: re.Match[str]) -> str:
        index = int(match.group(1))
        seen.append(index)
        return tags[index]

    html = _COMMENT_TOKEN.sub(back, html)
    html = _TOKEN.sub(back, html)
    missing = sorted(set(range(len(tags))) - set(seen))
    if missing:
        lost = ", ".join(tags[i] for i in missing[:3])
        raise _TemplateProblem(
            Problem(where, None, "", f"a Jinja tag did not survive MJML/premailer (inside an attribute?): {lost}")
        )
    return html


def prepare_item(item: ContentItem, settings: Settings, translations: gettext.NullTranslations) -> PreparedItem:
    """Style an item's sanitised HTML inline, make its links absolute and note what to lint."""
    lints: list[Lint] = []
    url = clean_text(item.url)
    if url and not re.match(r"(?i)^(https?|mailto):", url):
        resolved = _resolve(url, settings.website_url)
        relative = Notice(LINT_RELATIVE_LINK, item=item.id, url=repr(url), resolved=resolved)
        lints.append(Lint(LintCode.BROKEN_LINK, relative))
        url = resolved
    body = _style_fragment(item, settings.website_url, lints)
    meta = ""
    if item.type is ItemType.EVENT:
        when = item.event_date or item.published
        meta = translations.gettext(_("Date: %(date)s")) % {"date": format_date(when, item.language)}
    return PreparedItem(
        id=item.id,
        type=item.type,
        language=item.language,
        title=clean_text(item.title),
        summary=clean_text(item.summary),
        url=url,
        body=Markup(crlf(body)),  # noqa: S704 - sanitised by the loader's allow-list (nh3), restyled here
        text=crlf(plain_text(item.body_html)),
        cta=translations.gettext(CTA_LABELS[item.type]),
        meta=meta,
        published=item.published,
        expires=item.expires,
        lints=tuple(lints),
    )


_BLOCK_ENDS = {"p": "\n\n", "h2": "\n\n", "h3": "\n\n", "h4": "\n\n", "blockquote": "\n\n", "pre": "\n\n",
               "ul": "\n\n", "ol": "\n\n", "table": "\n\n", "li": "\n", "tr": "\n", "br": "\n", "hr": "\n\n"}


def plain_text(body_html: str) -> str:
    """Return an item's sanitised HTML as the text part says it: paragraphs, "- " list items, "text (link)".

    The Markdown source is no plain text for a reader ("## Wat u moet doen", "**Installeer**"),
    so the text part is made from the same HTML as the HTML part, with its structure kept in
    line breaks.
    """
    if not body_html.strip():
        return ""
    root = lxml.html.fragment_fromstring(_CONTROL.sub("", body_html), create_parent="div")
    for element in root.iter():  # the HTML's own line breaks are spaces (but in code); the structure makes the lines
        in_code = any(above.tag == "pre" for above in element.iterancestors())
        if element.text and not (in_code or element.tag == "pre"):
            element.text = element.text.replace("\n", " ")
        if element.tail and not in_code:
            element.tail = element.tail.replace("\n", " ")
    for element in root.iter():
        if not isinstance(element.tag, str) or element is root:
            continue
        if element.tag == "a" and (href := element.get("href", "")) and href != element.text_content().strip():
            element.tail = f" ({href}){element.tail or ''}"
        elif element.tag == "li":
            parent = element.getparent()
            if parent is not None and parent.tag == "ol":
                number = int(parent.get("start") or 1) + parent.index(element)
                element.text = f"{number}. {element.text or ''}"
            else:
                element.text = f"- {element.text or ''}"
        elif element.tag in ("td", "th"):
            element.tail = f" | {element.tail or ''}"
        elif element.tag == "img" and (alt := element.get("alt")):
            element.tail = f"[{alt}]{element.tail or ''}"
        if element.tag in _BLOCK_ENDS:
            element.tail = _BLOCK_ENDS[element.tag] + (element.tail or "")
    lines = [" ".join(line.split()).removesuffix(" |") for line in root.text_content().split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _resolve(url: str, base: str) -> str:
    return urljoin(base.rstrip("/") + "/", url)


def _style_fragment(item: ContentItem, base_url: str, lints: list[Lint]) -> str:
    if not item.body_html.strip():
        return ""
    wrapper = lxml.html.fragment_fromstring(_CONTROL.sub("", item.body_html), create_parent="div")
    for element in wrapper.iter():
        if not isinstance(element.tag, str) or element is wrapper:
            continue
        style = FRAGMENT_STYLES.get(element.tag)
        if style:
            own = element.get("style")
            element.set("style", style + own if own else style)
        if element.tag == "img":
            src = element.get("src", "")
            if element.get("alt") is None:
                lints.append(Lint(LintCode.MISSING_ALT, Notice(LINT_NO_ALT, item=item.id, src=repr(src))))
                element.set("alt", "")
            if src and not re.match(r"(?i)^https?:", src):
                lints.append(Lint(LintCode.BROKEN_LINK, Notice(LINT_IMAGE_URL, item=item.id, src=repr(src))))
        if element.tag == "a":
            href = element.get("href", "")
            if href.startswith("#") or (href and not re.match(r"(?i)^(https?|mailto|tel):", href)):
                resolved = _resolve(href, base_url)
                relative = Notice(LINT_RELATIVE_LINK, item=item.id, url=repr(href), resolved=resolved)
                lints.append(Lint(LintCode.BROKEN_LINK, relative))
                element.set("href", resolved)
    inner = str(escape(wrapper.text or ""))
    return inner + "".join(lxml.html.tostring(child, encoding="unicode") for child in wrapper)


def crlf(text: str) -> str:
    """Return `text` with CRLF line ends and no other control characters."""
    text = _CONTROL.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\n", "\r\n")
