"""Locale formatting (Babel), link tagging and safe header values for the e-mails."""

from __future__ import annotations

import re
from bisect import bisect_right
from datetime import date
from decimal import Decimal
from email.charset import Charset
from email.header import Header
from functools import cache, lru_cache
from itertools import accumulate
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency

# The locale each content language is formatted in. English mail goes to Dutch firms'
# international contacts, so British conventions (27 November 2026) read most naturally.
LOCALES = {"nl": "nl_NL", "en": "en_GB"}

# Control characters (C0, DEL, C1) and the Unicode line/paragraph separators: none of these
# may reach a header, where a CR/LF would start a new header line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s{2,}")
# RFC 5322 "specials": a display name holding one must be a quoted string.
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')
_UTF8 = Charset("utf-8")
MAX_NAME = 100  # characters of a display name; keeps the To line far below 998 bytes


@cache
def locale_for(language: str) -> Locale:
    """Return the Babel locale used for a content language."""
    return Locale.parse(LOCALES.get(language, "nl_NL"))


@lru_cache(maxsize=4096)  # a run writes a few hundred distinct dates, thousands of times
def format_date(value: date, language: str) -> str:
    """Return a date as the locale writes it in prose: `27 november 2026`."""
    return str(babel_format_date(value, format="long", locale=locale_for(language)))


def format_amount(value: Decimal | int | float, language: str) -> str:
    """Return an amount in euro as the locale writes it: `€ 1.234,56`."""
    return format_currency(value, "EUR", locale=locale_for(language))


def clean_text(value: str) -> str:
    """Return `value` on one line: control characters become spaces, runs of spaces one."""
    # Most values are clean already. A printable str holds no control character, no line or
    # paragraph separator and no white space but the ASCII space (every other white space
    # character is a control or a separator), so three C-level checks prove it clean.
    if value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " ":
        return value
    return _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()


def with_utm(url: str, params: tuple[tuple[str, str], ...]) -> str:
    """Return `url` with the UTM parameters added, keeping its own query and fragment."""
    if not url or not params:
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url
    present = {key for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    extra = [(key, value) for key, value in params if key not in present]
    if not extra:
        return url
    query = f"{parts.query}&{urlencode(extra)}" if parts.query else urlencode(extra)
    # An empty path is "/" (RFC 3986, 6.2.3): "https://x.nl/?utm_…", not "https://x.nl?utm_…",
    # which a text part's link finder may end at the host.
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, parts.fragment))


def encode_header_text(name: str, value: str) -> str:
    """Return an unstructured header value (Subject) folded and RFC 2047-encoded as needed."""
    value = clean_text(value)
    if value.isascii():
        if len(name) + 2 + len(value) <= 78:
            return value
        if value.isprintable() and " " * 2 not in value:
            return fold_ascii(value, len(name) + 2)
        return Header(value, "us-ascii", header_name=name).encode(linesep="\r\n")
    return encoded_words(value)


def fold_ascii(value: str, header_length: int, max_length: int = 78) -> str:
    """Fold a one-line ASCII value with single spaces exactly as email.header.Header does.

    Header's splitter recounts the whole line for every word (40 µs a long subject, more than
    a third of a message's header work); this is its algorithm with the length kept as it goes.
    Lines break before a word that follows a ';', else a ',', else a space, preferring the last
    such point; a first word too long for the line goes on a line of its own.
    """
    lines: list[str] = []
    line: list[tuple[str, str]] = []  # (folding white space, word)
    size = header_length  # the line's length; the first line counts the header name
    first = True
    for index, word in enumerate(value.split(" ")):
        space = " " if index else ""
        line.append((space, word))
        size += len(space) + len(word)
        if size <= max_length:
            continue
        split = 0
        for char in ";, ":
            for i in range(len(line) - 1, 0, -1):
                if (char == " " and line[i][0][:1] == " ") or line[i - 1][1][-1:] == char:
                    split = i
                    break
            if split:
                break
        if split:
            lines.append("".join(s + w for s, w in line[:split]))
            line = line[split:]
            size = sum(len(s) + len(w) for s, w in line)
            first = False
        elif first:
            # No break point on the first line: the header name stays on a line by itself.
            space, word = line.pop()
            lines.append("".join(s + w for s, w in line))
            line = [(space or " ", word)]
            size = len(line[0][0]) + len(word)
            first = False
    lines.append("".join(s + w for s, w in line))
    return "\r\n".join(lines)


def encoded_words(value: str) -> str:
    """Return `value` as RFC 2047 Q-encoded words of at most 75 characters, one per folded line.

    email.header.Header does the same but costs about a millisecond a subject; this runs
    once per message. Each word takes as many whole characters as fit; the cut points are
    found by bisection on the running length rather than character by character.
    """
    pieces = list(map(_q_piece, value))
    ends = list(accumulate(map(len, pieces)))
    if not ends or ends[-1] <= _Q_ROOM:
        return f"=?utf-8?q?{''.join(pieces)}?=" if pieces else ""
    words: list[str] = []
    start = 0
    while start < len(pieces):
        stop = bisect_right(ends, (ends[start - 1] if start else 0) + _Q_ROOM, lo=start)
        words.append(f"=?utf-8?q?{''.join(pieces[start:stop])}?=")
        start = stop
    return "\r\n ".join(words)


def _q_piece(char: str) -> str:
    """Return one character Q-encoded: itself, `_` for a space, or its UTF-8 bytes as =XX."""
    piece = _Q_TABLE.get(char)
    if piece is None:
        piece = "".join(f"={byte:02X}" for byte in char.encode("utf-8"))
        if len(_Q_TABLE) < _Q_TABLE_HELD:
            _Q_TABLE[char] = piece
    return piece


# Q-encoding of the ASCII characters that may stand for themselves (RFC 2047 5(3)).
_Q_TABLE = {chr(c): chr(c) for c in range(128) if chr(c).isalnum() or chr(c) in "!*+-/"}
_Q_TABLE[" "] = "_"
_Q_ROOM = 75 - len("=?utf-8?q?") - len("?=")
_Q_TABLE_HELD = 4096  # characters whose encoding is kept: the ASCII ones and the first accented ones seen


def format_address(display_name: str, address: str) -> str:
    """Return `Name <address>` for a header, with the name quoted or encoded as needed."""
    display_name = clean_text(display_name)[:MAX_NAME]
    address = _ascii_address(clean_text(address))
    if not display_name:
        return address
    if not display_name.isascii():
        # One encoded word, not folded: readers join split words in a phrase inconsistently.
        phrase = _UTF8.header_encode(display_name[:MAX_NAME])
    elif _SPECIALS.search(display_name):
        escaped = display_name.replace("\\", "\\\\").replace('"', '\\"')
        phrase = f'"{escaped}"'
    else:
        phrase = display_name
    return f"{phrase} <{address}>"


def _ascii_address(address: str) -> str:
    local, at, domain = address.rpartition("@")
    if at and not domain.isascii():
        domain = domain.encode("idna").decode("ascii")
    return f"{local}{at}{domain}" if at else address


def sender_domain(address: str) -> str:
    """Return the domain of an address (for Message-ID and List-Id)."""
    return _ascii_address(address).rpartition("@")[2].lower() or "localhost"
