"""The Jinja environment of Windstil's own pages: reports, the review site, call lists.

A project may carry its own copy of a template folder (`templates/reports`, …); what it
lacks comes from the templates bundled with Windstil. Data is always escaped in HTML, and
undefined names are errors, so a typo in a template fails loudly instead of printing blank.
(The e-mail templates have their own two-stage environment: pipeline/render/.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2

BUNDLED = Path(__file__).resolve().parent.parent / "templates"


def page_environment(
    folders: tuple[Path | None, ...],
    filters: Mapping[str, Callable[..., Any]],
    *,
    html_only_escaping: bool = False,
    keep_trailing_newline: bool = True,
) -> jinja2.Environment:
    """Return an environment loading from the first of `folders` that holds a template.

    `html_only_escaping` is for folders that also hold text templates (an e-mail's text
    part must not get HTML entities).
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
    )
    env.filters.update(filters)
    return env
