"""The endpoint's pages, in the contact's language: plain HTML, no scripts, every value escaped."""

from __future__ import annotations

from typing import Any

import jinja2

# Autoescape on: the only values are the company's name and website and the list's name,
# but a page must never echo anything unescaped, whatever it shows.
_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)

_LAYOUT = """<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{{ title }} – {{ company }}</title>
<style>
 body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;background:#f4f5f7;color:#1d2530;margin:0}
 main{max-width:34rem;margin:4rem auto;background:#fff;border-radius:8px;padding:2rem 2.25rem;
      box-shadow:0 1px 3px rgba(0,0,0,.12)}
 h1{font-size:1.4rem;margin:0 0 1rem} p{line-height:1.55}
 button{font:inherit;font-weight:600;background:#1f5fa8;color:#fff;border:0;border-radius:6px;
        padding:.75rem 1.4rem;cursor:pointer} button:focus{outline:3px solid #f3b530}
 .small{color:#555;font-size:.9rem} a{color:#1f5fa8}
</style>
</head>
<body><main>
{% for block in blocks %}<section lang="{{ block.lang }}">
<h1>{{ block.title }}</h1>
{% for line in block.lines %}<p>{{ line }}</p>
{% endfor %}{% if block.button %}<form method="post" action="?t={{ token }}">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">{{ block.button }}</button>
</form>{% endif %}
</section>{% endfor %}
<p class="small"><a href="{{ website }}">{{ company }}</a></p>
</main></body>
</html>
"""

_TEMPLATE = _ENV.from_string(_LAYOUT)

LIST_LABELS = {
    "nl": {"newsletter": "de nieuwsbrief", "alerts": "de e-mailalerts"},
    "en": {"newsletter": "the newsletter", "alerts": "the e-mail alerts"},
}

TEXT = {
    "nl": {
        "confirm_title": "Afmelden",
        "confirm": "Wilt u zich afmelden voor {list} van {company}? U ontvangt dan geen e-mails meer van ons "
        "op {email}.",
        "button": "Ja, meld mij af",
        "done_title": "U bent afgemeld",
        "done": "U bent afgemeld voor {list}: u ontvangt geen e-mails van {company} meer op {email}.",
        "again": "U was al afgemeld; er is niets veranderd.",
        "mistake": "Was dit een vergissing? Neem contact op met uw accountmanager.",
        "bad_title": "Deze link werkt niet",
        "bad": "De link is onvolledig of beschadigd. Gebruik de afmeldlink onderaan de e-mail, "
        "of neem contact met ons op.",
        "gone_title": "Deze pagina bestaat niet meer",
        "gone": "Het artikel achter deze link is niet meer beschikbaar.",
        "busy_title": "Even geduld",
        "busy": "Dat lukte nu niet. Probeer het over een minuut opnieuw.",
        "missing_title": "Niet gevonden",
        "missing": "Deze pagina bestaat niet.",
    },
    "en": {
        "confirm_title": "Unsubscribe",
        "confirm": "Do you want to unsubscribe from {list} of {company}? You will then receive no more e-mails "
        "from us at {email}.",
        "button": "Yes, unsubscribe me",
        "done_title": "You have been unsubscribed",
        "done": "You have left {list}: you will receive no more e-mails from {company} at {email}.",
        "again": "You had unsubscribed already; nothing has changed.",
        "mistake": "Was this a mistake? Please contact your account manager.",
        "bad_title": "This link does not work",
        "bad": "The link is incomplete or damaged. Use the unsubscribe link at the bottom of the e-mail, "
        "or contact us.",
        "gone_title": "This page no longer exists",
        "gone": "The article behind this link is no longer available.",
        "busy_title": "One moment, please",
        "busy": "That did not work just now. Please try again in a minute.",
        "missing_title": "Not found",
        "missing": "This page does not exist.",
    },
}


def page(langs: tuple[str, ...], title_key: str, line_keys: tuple[str, ...], values: dict[str, Any],
         *, button: bool = False, token: str = "") -> str:
    """Return a page with one section per language in `langs` (both, when the contact is unknown)."""
    blocks = []
    for lang in langs:
        text = TEXT[lang]
        filled = {**values, "list": LIST_LABELS[lang].get(str(values.get("list", "")), "")}
        blocks.append(
            {
                "lang": lang,
                "title": text[title_key],
                "lines": [text[key].format(**filled) for key in line_keys],
                "button": text["button"] if button else "",
            }
        )
    return _TEMPLATE.render(
        lang=langs[0],
        title=TEXT[langs[0]][title_key],
        blocks=blocks,
        token=token,
        company=values.get("company", ""),
        website=values.get("website", ""),
    )
