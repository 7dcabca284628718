"""Pre-send checks: each check fails a crafted message and passes a clean one."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.checks import CHECKS, Finding, Level
from pipeline.checks.content import LinkPolicy, content_findings, fragment_findings
from pipeline.checks.personal import UNRESOLVED, first_unresolved, personal_findings
from pipeline.checks.spam import NICENESS, SpamResult, SpamScorer, content_hash, spam_findings, spamd_commands
from pipeline.checks.stage import VariantKey, spam_representatives, unscored_items
from pipeline.models import MessageKind

RUN = "2026-11-30"
UTM = "utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign=2026-11-30"
LINK = f"https://www.example.nl/kennisbank/backups?{UTM}"
POLICY = LinkPolicy(
    website="https://www.example.nl",
    utm=(("utm_source", "newsletter"), ("utm_medium", "email"), ("utm_campaign", RUN)),
    exempt=("https://www.example.nl/afmelden",),
)
PREHEADER = "Drie vragen om uw back-up te testen, gekozen door Jan de Vries voor u."
CLEAN = f"""<!doctype html>
<html lang="nl" dir="ltr"><head><title>Nieuwsbrief</title>
<style>@media (prefers-color-scheme: dark) {{ .x {{ color: #fff !important; }} }}</style></head>
<body style="background-color:#eef2f5;"><div lang="nl" dir="auto" style="background-color:#eef2f5;">
<div class="preheader" style="display:none;">{PREHEADER}</div>
<table role="presentation"><tr><td style="background-color:#ffffff;">
<div style="font-size:16px;color:#1f2933;">
<h1>Polderlicht IT</h1>
<h2>Back-ups die u echt terugzet</h2>
<p>Beste Anne, wanneer heeft u voor het laatst een back-up teruggezet?</p>
<p><a href="{LINK}">Lees het artikel over back-ups</a></p>
<img src="https://www.example.nl/logo.png" alt="Logo van Polderlicht IT" width="120">
<p>Bel Jan op <a href="tel:+31301234567">030 123 45 67</a> of mail
<a href="mailto:jan@example.nl">jan@example.nl</a>.</p>
<p style="font-size:14px;color:#52606d;"><a href="https://www.example.nl/afmelden?t=abc">Afmelden</a></p>
</div></td></tr></table></div></body></html>
"""
TEXT = f"""Beste Anne, wanneer heeft u voor het laatst een back-up teruggezet?

Polderlicht IT: Back-ups die u echt terugzet
Lees het artikel over back-ups: {LINK.replace("&amp;", "&")}
Logo van Polderlicht IT
Bel Jan op 030 123 45 67 of mail jan@example.nl.
Afmelden: https://www.example.nl/afmelden?t=abc
"""


def crafted(old: str, new: str) -> str:
    assert old in CLEAN, old
    return CLEAN.replace(old, new, 1)


def found(findings: list[Finding], check: str) -> list[Finding]:
    return [f for f in findings if f.check == check]


def test_clean_message_has_no_findings() -> None:
    """A well-made message passes every content-only and personal check."""
    assert content_findings(CLEAN, TEXT, POLICY) == []
    subject = "Anne, drie tips voor u: back-ups die u echt terugzet"
    assert personal_findings(CLEAN.encode(), TEXT.encode(), subject, PREHEADER) == []


CONTENT_CASES = {
    "link_scheme": [
        crafted(f'href="{LINK}"', 'href="javascript:alert(1)"'),
        crafted(f'href="{LINK}"', 'href="http://www.example.nl/kennisbank/backups"'),
        crafted(f'href="{LINK}"', 'href="/kennisbank/backups"'),
    ],
    "link_utm": [crafted(f'href="{LINK}"', 'href="https://www.example.nl/kennisbank/backups"')],
    "link_text": [
        crafted(">Lees het artikel over back-ups<", ">klik hier<"),
        crafted(">Lees het artikel over back-ups<", ">Read more<"),
        crafted(">Lees het artikel over back-ups<", ">https://www.example.nl/kennisbank/backups<"),
    ],
    "image_alt": [
        crafted(' alt="Logo van Polderlicht IT"', ""),
        crafted(' alt="Logo van Polderlicht IT"', ' alt=""'),
    ],
    "image_src": [crafted('src="https://www.example.nl/logo.png"', 'src="logo.png"')],
    "contrast": [crafted('<p>Beste Anne,', '<p style="color:#cccccc;">Beste Anne,')],
    "font_size": [crafted('<p>Beste Anne,', '<p style="font-size:11px;">Beste Anne,')],
    "heading_order": [crafted("<h2>Back-ups die u echt terugzet</h2>", "<h3>Back-ups die u echt terugzet</h3>")],
    "lang_dir": [
        crafted('<html lang="nl" dir="ltr">', "<html>"),
        crafted('<div lang="nl" dir="auto" style', "<div style"),
    ],
    "layout_table": [crafted('<table role="presentation">', "<table>")],
    "client_support": [crafted('<p>Beste Anne,', '<p style="display:flex;">Beste Anne,')],
    "preheader": [crafted(PREHEADER, "Polderlicht IT Back-ups die u echt terugzet Beste Anne, wanneer heeft u")],
}


@pytest.mark.parametrize(("check", "html"), [(c, h) for c, cases in CONTENT_CASES.items() for h in cases])
def test_content_check_fails_a_crafted_message(check: str, html: str) -> None:
    """Each content-only check reports the fault it is for, with its level, and nothing else fires."""
    findings = content_findings(html, TEXT, POLICY)
    hits = found(findings, check)
    assert hits, findings
    expected = Level.ERROR if check in ("link_scheme", "image_alt", "contrast", "lang_dir", "layout_table") \
        else Level.WARNING
    assert {f.level for f in hits} == {expected}
    assert {f.check for f in findings} <= {check, "text_part", "link_utm"}  # a changed link also leaves the text


def test_contrast_detail_names_the_colours_and_the_ratio() -> None:
    """Light grey on white is reported with both colours and its ratio against 4.5:1."""
    html = crafted('<td style="background-color:#ffffff;">', '<td style="background-color:#ffffff;color:#bbbbbb;">')
    html = html.replace('<div style="font-size:16px;color:#1f2933;">', '<div style="font-size:16px;">')
    details = sorted(f.detail for f in found(content_findings(html, TEXT, POLICY), "contrast"))
    assert details[0].startswith("#bbbbbb on #ffffff is 1.9:1, needs 3:1 ('Polderlicht IT', 2 places)")  # h1, h2
    assert details[1].startswith("#bbbbbb on #ffffff is 1.9:1, needs 4.5:1 ('Beste Anne, wanneer heeft u")


def test_large_text_needs_only_three_to_one() -> None:
    """A 24 px heading passes at 3.5:1, where body text would fail."""
    html = crafted("<h2>Back-ups", '<h2 style="font-size:24px;color:#8a8a8a;">Back-ups')
    assert found(content_findings(html, TEXT, POLICY), "contrast") == []
    html = crafted("<p>Beste Anne,", '<p style="color:#8a8a8a;">Beste Anne,')
    assert found(content_findings(html, TEXT, POLICY), "contrast")


def test_hidden_preheader_is_not_checked_for_contrast_or_size() -> None:
    """The hidden preheader's 1 px white text is not what a reader sees."""
    html = crafted('style="display:none;"', 'style="display:none;font-size:1px;color:#ffffff;"')
    assert content_findings(html, TEXT, POLICY) == []


def test_hidden_and_bgcolor_attributes_and_tails_count_the_same_on_every_document() -> None:
    """hidden, aria-hidden and bgcolor count; a parent's text takes its children's tails; a second document agrees."""
    html = ('<html lang="nl" dir="ltr"><body><div lang="nl" dir="ltr">'
            '<p hidden style="color:#eeeeee">Verborgen tekst</p>'
            '<p aria-hidden="TRUE" style="color:#eeeeee">Ook verborgen</p>'
            '<table role="presentation" bgcolor="#000000">'
            '<tr><td style="color:#222222">Donker op zwart</td></tr></table>'
            '<p style="color:#777777">Voor <b>vet</b> na<!-- weg -->afloop</p>'
            '<p style="color:#777777;font-size:12px"> \n </p>'
            "</div></body></html>")
    for _ in range(2):  # the second walk reads the styles the first one remembered
        assert [f.detail for f in found(content_findings(html, None, POLICY), "contrast")] == [
            "#222222 on #000000 is 1.3:1, needs 4.5:1 ('Donker op zwart')",
            "#777777 on #ffffff is 4.5:1, needs 4.5:1 ('Voor naafloop', 2 places)",  # and 'vet' (bold, 16 px)
        ]


@given(st.binary(max_size=40) | st.text(alphabet="{%[x", max_size=40).map(str.encode))
def test_first_unresolved_is_the_first_template_pair(body: bytes) -> None:
    """The first of "{{", "{%", "[[", "%%" in any bytes, as searching for each pair finds it."""
    assert first_unresolved(body) == min((i for i in map(body.find, UNRESOLVED) if i >= 0), default=-1)


def test_text_part_missing_a_link() -> None:
    """A text part without a link of the HTML part is a warning naming that link."""
    text = TEXT.replace("Afmelden: https://www.example.nl/afmelden?t=abc\n", "")
    [finding] = found(content_findings(CLEAN, text, POLICY), "text_part")
    assert finding.level is Level.WARNING
    assert "https://www.example.nl/afmelden?t=abc" in finding.detail


def test_text_part_with_other_words() -> None:
    """A text part that says something else than the HTML part is a warning."""
    text = "Hallo. " + " ".join(LINK.replace("&amp;", "&") for _ in range(1)) + \
        " mailto jan@example.nl https://www.example.nl/afmelden?t=abc"
    findings = found(content_findings(CLEAN, text, POLICY), "text_part")
    assert any("words" in f.detail for f in findings)


def test_unsubscribe_link_needs_no_utm() -> None:
    """The unsubscribe endpoint is on the company's site but is not a visit to count."""
    assert found(content_findings(CLEAN, TEXT, POLICY), "link_utm") == []


def test_presentational_image_may_have_empty_alt() -> None:
    """An empty alt is right for a decorative image marked role="presentation"."""
    html = crafted(' alt="Logo van Polderlicht IT"', ' alt="" role="presentation"')
    assert found(content_findings(html, TEXT, POLICY), "image_alt") == []


def test_fragment_checks_find_an_image_without_alt() -> None:
    """`windstil validate` checks a content item's fragment: an image without alt is an error there."""
    [finding] = fragment_findings('<p>Zie <img src="https://www.example.nl/x.png"></p>')
    assert (finding.check, finding.level) == ("image_alt", Level.ERROR)
    assert fragment_findings('<p>Zie <img src="https://www.example.nl/x.png" alt="Grafiek van de kosten"></p>') == []


SUBJECT = "Anne, drie tips voor u: back-ups die u echt terugzet"


@pytest.mark.parametrize(
    ("check", "level", "html", "text", "subject", "preheader"),
    [
        ("link_unresolved", Level.ERROR, CLEAN.replace("Beste Anne", "Beste {{ name }}"), TEXT, SUBJECT, PREHEADER),
        ("link_unresolved", Level.ERROR, CLEAN, TEXT + "%%FIRSTNAME%%", SUBJECT, PREHEADER),
        ("size_clip", Level.ERROR, CLEAN + "<!--" + "x" * 110 * 1024 + "-->", TEXT, SUBJECT, PREHEADER),
        ("size_clip", Level.WARNING, CLEAN + "<!--" + "x" * 92 * 1024 + "-->", TEXT, SUBJECT, PREHEADER),
        ("subject_length", Level.WARNING, CLEAN, TEXT, SUBJECT + " en nog veel meer dan dat", PREHEADER),
        ("subject_length", Level.WARNING, CLEAN, TEXT, "", PREHEADER),
        ("preheader", Level.WARNING, CLEAN, TEXT, SUBJECT, ""),
        ("preheader", Level.WARNING, CLEAN, TEXT, SUBJECT, "Te kort"),
        ("preheader", Level.WARNING, CLEAN, TEXT, SUBJECT, "lang " * 30),
    ],
)
def test_personal_check_fails_a_crafted_message(
    check: str, level: Level, html: str, text: str, subject: str, preheader: str
) -> None:
    """Each personal check reports the fault it is for, and only that."""
    findings = personal_findings(html.encode(), text.encode(), subject, preheader)
    assert [(f.check, f.level) for f in findings] == [(check, level)]


def test_every_check_code_is_covered() -> None:
    """The tests above exercise every check code of the contract."""
    covered = set(CONTENT_CASES) | {"link_unresolved", "size_clip", "subject_length", "text_part", "spam_score"}
    assert covered == set(CHECKS)


def test_spam_levels() -> None:
    """Scores map to levels at 2.0 and 5.0 with the rules that fired; a missing SpamAssassin says so."""
    assert spam_findings(SpamResult(1.9, ("HTML_MESSAGE",)), available=True) == []
    [warning] = spam_findings(SpamResult(2.5, ("FOO", "BAR")), available=True)
    assert (warning.level, warning.detail) == (Level.WARNING, "SpamAssassin score 2.5 (rules: FOO, BAR)")
    assert spam_findings(SpamResult(7.0, ("FOO",)), available=True)[0].level is Level.ERROR
    assert spam_findings(None, available=False)[0].detail == "not run: SpamAssassin is not installed"
    assert spam_findings(None, available=True, scored=False)[0].level is Level.INFO


def _eml(body: str) -> bytes:
    return (
        "From: Polderlicht IT <nieuws@polderlicht-it.nl>\r\nTo: anne@example.nl\r\n"
        "Subject: Uw back-up\r\nDate: Mon, 30 Nov 2026 09:00:00 +0100\r\n"
        "Message-ID: <abc@polderlicht-it.nl>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n\r\n' + body + "\r\n"
    ).encode()


@pytest.mark.skipif(shutil.which("spamassassin") is None, reason="SpamAssassin is not installed")
def test_spamassassin_scores_a_spammy_message_and_caches_it() -> None:
    """The real SpamAssassin (offline rules) flags the GTUBE test message and passes a plain one."""
    gtube = _eml("XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X")
    plain = _eml("Beste Anne,\r\n\r\nWanneer heeft u voor het laatst een back-up teruggezet?\r\n\r\nJan")
    scorer: SpamScorer[str] = SpamScorer({})
    scorer.submit("gtube", gtube)
    scorer.submit("plain", plain)
    results = scorer.results()
    assert results["gtube"] is not None and results["gtube"].score >= 5.0
    assert "GTUBE" in results["gtube"].rules
    assert results["plain"] is not None and results["plain"].score < 2.0
    assert spam_findings(results["gtube"], available=True)[0].level is Level.ERROR
    # A second scorer with the cache scores nothing again.
    again: SpamScorer[str] = SpamScorer(scorer.new)
    again.submit("gtube", gtube)
    assert again.results()["gtube"] == results["gtube"]
    assert again.new == {}


@pytest.mark.skipif(shutil.which("spamassassin") is None, reason="SpamAssassin is not installed")
@pytest.mark.parametrize("daemon", ["installed", None], ids=["spamd", "spamassassin"])
def test_closing_the_scorer_ends_a_spamassassin_at_work(daemon: Literal["installed"] | None) -> None:
    """An interrupted run does not wait for SpamAssassin: close() kills what is scoring, and the run's spamd."""
    import time

    from pipeline.checks.spam import BATCH

    if daemon == "installed" and spamd_commands() is None:
        pytest.skip("spamd is not installed")
    scorer: SpamScorer[int] = SpamScorer({}, daemon=daemon)
    for number in range(BATCH):  # a full batch starts at once
        scorer.submit(number, _eml(f"Bericht {number}"))
    for _ in range(400):
        if scorer._running:
            break
        time.sleep(0.05)
    running = list(scorer._running)
    assert running
    spamd = scorer._daemon
    assert (spamd is not None) == (daemon == "installed")
    scorer.close()
    assert all(process.poll() is not None for process in running)
    assert spamd is None or not spamd.alive
    assert scorer.new == {}


_HOLDER = """
import sys, time
from pipeline.checks.spam import SpamScorer
scorer = SpamScorer({})
scorer.submit(1, sys.stdin.buffer.read())
while scorer._daemon is None or not scorer._daemon.alive:
    time.sleep(0.05)
print(scorer._daemon._process.pid, flush=True)
time.sleep(120)
"""


def _stat(pid: int) -> list[str]:
    """Return the fields of /proc/<pid>/stat after the command's name: state, ppid, group, session, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()


def _group_left(group: int) -> list[int]:
    """Return the processes of a process group that have not ended (a zombie has ended: nobody may reap it yet)."""
    left = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (FileNotFoundError, IndexError, ProcessLookupError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            left.append(int(stat.parent.name))
    return left


@pytest.mark.skipif(spamd_commands() is None, reason="spamd is not installed")
def test_a_run_killed_outright_leaves_no_spamd_behind() -> None:
    """SIGKILL gives the run no chance to stop its spamd: the closed pipe ends spamd and its children."""
    import signal
    import subprocess
    import sys
    import time

    holder = subprocess.Popen([sys.executable, "-c", _HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.write(_eml("Beste Anne, tot volgende week."))
    holder.stdin.close()
    try:
        group = int(holder.stdout.readline())  # spamd's sh leads the group of spamd and its children
        assert len(_group_left(group)) >= 3
        # In the run's session, so at the lower priority against the run (a session of its own
        # is a scheduler autogroup of its own, where the nice value counts for nothing).
        assert {_stat(pid)[3] for pid in _group_left(group)} == {str(os.getsid(holder.pid))}
        spamd = [pid for pid in _group_left(group) if "spamd" in Path(f"/proc/{pid}/comm").read_text()]
        niced = min(19, os.getpriority(os.PRIO_PROCESS, holder.pid) + NICENESS)  # nice adds to the run's own
        assert len(spamd) == 3 and {_stat(pid)[16] for pid in spamd} == {str(niced)}  # spamd and its two children
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    deadline = time.monotonic() + 20
    while _group_left(group) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _group_left(group) == []


SPAMMY = _eml("Dear friend, you WON $1,000,000!!! Click here to claim your prize now. 100% FREE, act now! "
              "Viagra, cheap pills, limited time offer. Send your bank account details today.")


@pytest.mark.skipif(spamd_commands() is None, reason="spamd is not installed")
def test_spamd_gives_the_scores_spamassassin_gives() -> None:
    """The run's spamd scores each message exactly as `spamassassin -L` does (same rules, same settings)."""
    messages = {
        "gtube": _eml("XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"),
        "plain": _eml("Beste Anne,\r\n\r\nWanneer heeft u voor het laatst een back-up teruggezet?\r\n\r\nJan"),
        "spammy": SPAMMY,
    }
    with_spamd: SpamScorer[str] = SpamScorer({})
    alone: SpamScorer[str] = SpamScorer({}, daemon=None)
    for scorer in (with_spamd, alone):
        for key, eml in messages.items():
            scorer.submit(key, eml)
    scores, expected = with_spamd.results(), alone.results()
    assert set(with_spamd.scored_by.values()) == {"spamd"}
    assert set(alone.scored_by.values()) == {"spamassassin"}
    assert scores == expected
    spammy, plain = scores["spammy"], scores["plain"]
    assert spammy is not None and plain is not None and scores["gtube"] is not None
    assert spammy.score > plain.score


@pytest.mark.skipif(shutil.which("spamassassin") is None or shutil.which("spamc") is None,
                    reason="SpamAssassin is not installed")
@pytest.mark.parametrize("spamd", ["/nonexistent/spamd", shutil.which("false") or "/bin/false"],
                         ids=["missing", "exits"])
def test_without_a_working_spamd_spamassassin_scores_alone(spamd: str) -> None:
    """A spamd that is missing or does not start leaves the scoring to `spamassassin -L`, with the same result."""
    spamc = shutil.which("spamc") or "spamc"
    scorer: SpamScorer[str] = SpamScorer({}, daemon=(spamd, spamc))
    scorer.submit("spammy", SPAMMY)
    result = scorer.results()["spammy"]
    assert scorer.scored_by == {content_hash(SPAMMY): "spamassassin"}
    assert result is not None and result.score > 0 and result.rules


def test_spam_summary_shows_a_slightly_negative_total_as_zero() -> None:
    """SpamAssassin's "-0.0" (a total of -0.001, say) is summed up as 0.0, not as a negative zero."""
    from math import copysign

    from pipeline.checks.spam import SpamResult
    from pipeline.checks.stage import CheckResults

    results = CheckResults(spam={
        ("newsletter", "nl", ("a",)): SpamResult(-0.001, ("NO_RELAYS",)),
        ("newsletter", "nl", ("b",)): SpamResult(2.34, ("HTML_MESSAGE",)),
        ("alert", "nl", ("a",)): SpamResult(-0.0, ()),
    })
    summary = results.spam_summary()
    assert summary["newsletter"] == {"scored": 2, "worst": 2.3, "median": 1.15}
    assert copysign(1.0, summary["alert"]["worst"]) == 1.0


def _variants(groups: list[tuple[str, str, tuple[str, ...], int]]) -> dict[tuple[str, MessageKind], VariantKey]:
    """Return messages for variants given as (kind, language, items, copies), contacts numbered in order."""
    messages: dict[tuple[str, MessageKind], VariantKey] = {}
    for kind, language, items, copies in groups:
        for _ in range(copies):
            messages[(f"P{len(messages):05d}", MessageKind(kind))] = (kind, language, items)
    return messages


def test_spam_scores_the_largest_variants_and_among_equals_what_it_has_not_seen() -> None:
    """The largest variants first; where the limit cuts through equals, those with items not yet scored."""
    variants = _variants([
        ("newsletter", "nl", ("a", "b"), 50),
        ("newsletter", "nl", ("b", "a"), 40),
        ("newsletter", "nl", ("a",), 2),
        ("newsletter", "nl", ("b",), 2),
        ("newsletter", "nl", ("a", "b", "c"), 2),  # the only one with c
        ("alert", "nl", ("a",), 5),
    ])
    chosen = spam_representatives(variants, 4)
    assert list(chosen.values()) == [
        ("newsletter", "nl", ("a", "b")), ("newsletter", "nl", ("b", "a")), ("alert", "nl", ("a",)),
        ("newsletter", "nl", ("a", "b", "c")),  # of the three of 2, the one with c and three items
    ]
    assert [contact for contact, _ in chosen] == ["P00000", "P00050", "P00096", "P00094"]  # each variant's first
    assert list(spam_representatives(variants, 5).values())[-1] == ("newsletter", "nl", ("a",))  # then the earlier
    assert spam_representatives(variants, 0) == {}
    # The run's warning names what no scored message has, and the messages that have it.
    notice = unscored_items(variants, list(chosen.values()))
    assert notice is None
    notice = unscored_items(variants, list(spam_representatives(variants, 3).values()))
    assert notice is not None and notice.params == {"count": 1, "example": "c", "messages": 2}
    assert str(notice) == ("SpamAssassin scored no message with 1 of the run's items (c; in 2 messages): "
                           "raise checks.spam_max_variants to score them")


@given(st.lists(st.tuples(st.sampled_from(["newsletter", "alert"]), st.sampled_from(["nl", "en"]),
                          st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=4, unique=True).map(tuple),
                          st.integers(1, 5)), max_size=25),
       st.integers(0, 30))
def test_spam_representatives_are_the_largest_variants(
    groups: list[tuple[str, str, tuple[str, ...], int]], limit: int
) -> None:
    """At most `limit` variants, each once, each through its first message, none left out for a smaller one."""
    variants = _variants(groups)
    chosen = spam_representatives(variants, limit)
    distinct = set(variants.values())
    assert len(chosen) == min(limit, len(distinct)) == len(set(chosen.values()))
    firsts: dict[VariantKey, tuple[str, MessageKind]] = {}
    for message, variant in variants.items():
        firsts.setdefault(variant, message)
    assert all(firsts[variant] == message for message, variant in chosen.items())
    if limit >= len(distinct):
        assert set(chosen.values()) == distinct
    sizes = Counter(variants.values())
    if chosen:  # none larger left out
        assert all(sizes[v] <= min(sizes[c] for c in chosen.values()) for v in distinct - set(chosen.values()))
