"""The personal checks: what differs per recipient, run on every message of a run.

They read only bytes and the record's subject and preheader, so they stay cheap enough for
tens of thousands of messages; what needs an HTML parser runs once per variant (see content).
"""

from __future__ import annotations

from pipeline.checks import Finding, Level

CLIP_BYTES = 102_000  # Gmail clips a message's HTML beyond this
BUDGET_BYTES = 90 * 1024  # our own budget, with room for what the sending system adds
SUBJECT_MAX = 60  # characters a phone shows of a subject
PREHEADER_MIN, PREHEADER_MAX = 40, 110
# Template syntax that a template engine left in the output: Jinja, our compile stage's
# brackets, and the merge tags of other mail tools.
UNRESOLVED = (b"{{", b"{%", b"[[", b"%%")
# The same, by first byte and the bytes that may follow it. Searched for their first byte with
# bytes.find (memchr), a few dozen hits a message: twice as fast as bytes.find of each pair
# (whose loop stops at every "%" of "100%"), which was 20x a regex alternation on 30 KB.
_UNRESOLVED_BY_FIRST = ((b"{", b"{%"), (b"[", b"["), (b"%", b"%"))


def personal_findings(html: bytes, text: bytes, subject: str, preheader: str) -> list[Finding]:
    """Return the findings of the per-message checks on one message's bytes, subject and preheader."""
    findings: list[Finding] = []
    for part, body in (("HTML", html), ("text", text)):
        around = unresolved_snippet(body)
        if around is not None:
            detail = f"template syntax left in the {part} part: {around!r}"
            findings.append(Finding("link_unresolved", Level.ERROR, detail))
    size = len(html)
    if size > CLIP_BYTES:
        findings.append(Finding("size_clip", Level.ERROR,
                                f"HTML is {size:,} bytes: Gmail clips it after {CLIP_BYTES:,} (and hides the footer)"))
    elif size > BUDGET_BYTES:
        findings.append(Finding("size_clip", Level.WARNING,
                                f"HTML is {size / 1024:.1f} KB, over the {BUDGET_BYTES // 1024} KB budget"))
    if not subject.strip():
        findings.append(Finding("subject_length", Level.WARNING, "the subject is empty"))
    elif len(subject) > SUBJECT_MAX:
        findings.append(Finding("subject_length", Level.WARNING,
                                f"subject of {len(subject)} characters: phones cut it after about {SUBJECT_MAX}"))
    findings += preheader_findings(preheader)
    return findings


def unresolved_snippet(body: bytes) -> str | None:
    """Return the text around the first template syntax in `body` (one line), None when there is none."""
    at = first_unresolved(body)
    if at < 0:
        return None
    return " ".join(body[max(0, at - 20) : at + 32].decode("utf-8", "replace").split())


def first_unresolved(body: bytes) -> int:
    """Return where the first of the UNRESOLVED pairs starts in `body`, or -1."""
    first, last = -1, len(body) - 1
    for lead, follow in _UNRESOLVED_BY_FIRST:
        at = body.find(lead)
        while 0 <= at < last and (first < 0 or at < first):
            if body[at + 1] in follow:
                first = at
                break
            at = body.find(lead, at + 1)
    return first


def preheader_findings(preheader: str, first_line: str = "") -> list[Finding]:
    """Return what is wrong with a preheader: missing, too short or long, or a copy of the first line."""
    text = " ".join(preheader.split())
    if not text:
        return [Finding("preheader", Level.WARNING, "no preheader: the inbox shows the first words of the body")]
    if len(text) < PREHEADER_MIN:
        return [Finding("preheader", Level.WARNING,
                        f"preheader of {len(text)} characters: under {PREHEADER_MIN}, the inbox fills the rest "
                        "with the body")]
    if len(text) > PREHEADER_MAX:
        return [Finding("preheader", Level.WARNING,
                        f"preheader of {len(text)} characters: inboxes show at most about {PREHEADER_MAX}")]
    if first_line and " ".join(first_line.split()).startswith(text):
        return [Finding("preheader", Level.WARNING, "the preheader repeats the first line of the body")]
    return []
