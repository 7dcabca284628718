"""The Jinja environment of Windstil's own pages: reports, the review site, call lists.

A project may carry its own copy of a template folder (`templates/reports`, …); what it
lacks comes from the templates bundled with Windstil. Data is always escaped in HTML, and
undefined names are errors, so a typo in a template fails loudly instead of printing blank.
(The e-mail templates have their own two-stage environment: pipeline/render/.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup, escape

if TYPE_CHECKING:
    from pipeline.language import PageLanguage

BUNDLED = Path(__file__).resolve().parent.parent / "templates"
_CODE_SPAN = re.compile(r"`([^`]+)`")


def code_spans(text: str) -> Markup:
    """Return `text` escaped, with each `…` span (a command, a setting, as the warnings write them) as <code>."""
    return Markup(_CODE_SPAN.sub(r"<code>\1</code>", str(escape(text))))  # noqa: S704 - escaped first


def page_environment(
    folders: tuple[Path | None, ...],
    filters: Mapping[str, Callable[..., Any]],
    *,
    html_only_escaping: bool = False,
    keep_trailing_newline: bool = True,
    language: PageLanguage | None = None,
) -> jinja2.Environment:
    """Return an environment loading from the first of `folders` that holds a template.

    `html_only_escaping` is for folders that also hold text templates (an e-mail's text
    part must not get HTML entities). With a `language`, `{% trans %}` and `_()` translate
    through its catalogue, the parameters escaped like any other value.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in folders if p is not None and p.is_dir()]),
        # .html always escapes; anything else too, unless the folder holds text templates.
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html",), default=not html_only_escaping, default_for_string=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=keep_trailing_newline,
        extensions=["jinja2.ext.i18n"],
    )
    # Whitespace inside {% trans %} is folded, as babel.cfg extracts it (trimmed = true).
    env.policies["ext.i18n.trimmed"] = True
    if language is not None:
        env.install_gettext_translations(language.translations, newstyle=True)  # type: ignore[attr-defined]
        env.globals["lang"] = language.code
    else:
        env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
        env.globals["lang"] = "en"
    env.filters["code_spans"] = code_spans
    env.filters.update(filters)
    return env
