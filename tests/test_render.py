"""Rendering: compiled once per template and language, rendered per recipient into html, txt and eml."""

from __future__ import annotations

import email
import re
from dataclasses import replace
from datetime import date, datetime, time
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import jinja2.compiler
import lxml.html
import pytest
from conftest import AS_OF, write_tiny_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipeline.render.compile as compile_module
from pipeline.errors import InputError
from pipeline.load import load_project
from pipeline.models import (
    AccountManager,
    ChosenItem,
    Contact,
    ContentItem,
    ItemReason,
    ItemType,
    Level,
    MessageKind,
    Project,
    Segment,
    Selection,
)
from pipeline.quiet import quiet_periods
from pipeline.render import Compiled, compile_templates, render_messages
from pipeline.render.compile import MEDIA_RULE, check_templates, protect, restore
from pipeline.render.formatting import clean_text, format_address, format_amount, format_date, with_utm
from pipeline.segment import segment
from pipeline.select import select
from pipeline.tables import orders_of_customers
from pipeline.unsubscribe import verify_token

SECRET = b"test-secret-0123456789abcdef"
STRUCTURAL = {"Message-ID", "List-Id", "List-Unsubscribe"}


# --------------------------------------------------------------------------- fixtures


class Batch:
    """The tiny project rendered once: the project, its compiled templates and every file."""

    def __init__(self, root: Path) -> None:
        self.project: Project = load_project(root)
        data, config = self.project.data, self.project.segments
        self.segmentation = segment(data, config, AS_OF)
        quiet = quiet_periods(data, config, AS_OF)
        self.selections = select(data, config, self.segmentation, quiet, [], AS_OF)
        self.compiled: Compiled = compile_templates(self.project.settings, data.content)
        self.messages: dict[tuple[str, MessageKind], Any] = {}
        self.files: dict[str, bytes] = {}
        for selection in self.selections:
            for message, files in self.render(selection):
                self.messages[(message.contact_id, message.kind)] = message
                self.files.update(files)

    def render(self, selection: Selection, project: Project | None = None) -> list[Any]:
        project = project or self.project
        return render_messages(
            self.compiled, selection, project.data, project.settings, self.segmentation, AS_OF, SECRET
        )

    def selection(self, contact_id: str) -> Selection:
        return next(s for s in self.selections if s.contact_id == contact_id)

    def with_contact(self, contact: Contact) -> Project:
        contacts = dict(self.project.data.contacts)
        contacts[contact.contact_id] = contact
        return replace(self.project, data=replace(self.project.data, contacts=contacts))


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    return Batch(write_tiny_project(tmp_path_factory.mktemp("render") / "project"))


def html_files(batch: Batch) -> dict[str, str]:
    return {k: v.decode("utf-8") for k, v in batch.files.items() if k.endswith(".html")}


def eml_files(batch: Batch) -> dict[str, bytes]:
    return {k: v for k, v in batch.files.items() if k.endswith(".eml")}


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def language_of(batch: Batch, relpath: str) -> str:
    contact_id = relpath.split("/")[1]
    return batch.selection(contact_id).language


# --------------------------------------------------------------------------- what is made


def test_the_tiny_project_yields_newsletters_and_alerts(batch: Batch) -> None:
    """Every selection with a newsletter or alert gets html, txt and eml files, in both languages."""
    expected = {
        (s.contact_id, kind)
        for s in batch.selections
        for kind, made in ((MessageKind.NEWSLETTER, s.newsletter and s.items), (MessageKind.ALERT, s.alert))
        if made
    }
    assert set(batch.messages) == expected
    assert {language_of(batch, p) for p in html_files(batch)} == {"nl", "en"}
    for contact_id, kind in expected:
        for ext in ("html", "txt", "eml"):
            assert f"emails/{contact_id}/{kind.value}.{ext}" in batch.files


def test_rendered_message_records_subject_items_and_size(batch: Batch) -> None:
    """The RenderedMessage carries the subject, preheader, item ids, Message-ID and HTML size."""
    message = batch.messages[("P001", MessageKind.NEWSLETTER)]
    selection = batch.selection("P001")
    assert message.item_ids == tuple(c.item_id for c in selection.items)
    assert message.html_bytes == len(batch.files["emails/P001/newsletter.html"])
    assert message.subject.startswith("Anne, ")
    first_title = batch.compiled.items[selection.items[0].item_id].title
    assert first_title in message.subject
    assert "Zorggroep Lindehof" in message.preheader
    assert re.fullmatch(r"<[0-9a-f]{64}@polderlicht-it\.nl>", message.message_id)


def test_subject_is_specific_and_in_the_contacts_language(batch: Batch) -> None:
    """Subjects name the contact and the first item; English contacts get English."""
    nl = batch.messages[("P001", MessageKind.NEWSLETTER)].subject
    en = batch.messages[("P007", MessageKind.NEWSLETTER)].subject
    count = len(batch.selection("P001").items)
    assert nl.startswith(f"Anne, {count} tips voor u: ") if count > 1 else nl.startswith("Anne, een tip voor u: ")
    assert en.startswith("Emma, ")
    assert "for you" in en


# --------------------------------------------------------------------------- every HTML part


def test_every_html_part_declares_language_title_charset_and_metas(batch: Batch) -> None:
    """<html lang> matches the contact's language; title, charset, viewport and color-scheme metas exist."""
    for relpath, html in html_files(batch).items():
        lang = language_of(batch, relpath)
        assert re.search(rf'<html lang="{lang}"', html), relpath
        title = re.search(r"<title>(.*?)</title>", html, re.S)
        assert title and title.group(1).strip(), relpath
        assert re.search(r'<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"', html), relpath
        assert '<meta name="viewport" content="width=device-width, initial-scale=1"' in html, relpath
        assert '<meta name="color-scheme" content="light dark"' in html, relpath  # it has its own dark styles
        assert "@media (prefers-color-scheme: dark)" in html, relpath
        assert '<meta name="supported-color-schemes" content="light dark"' in html, relpath


def test_every_html_part_starts_with_the_preheader(batch: Batch) -> None:
    """The first text in <body> is the hidden preheader holding the message's preheader text."""
    for relpath, html in html_files(batch).items():
        contact_id, name = relpath.split("/")[1:]
        message = batch.messages[(contact_id, MessageKind(name.removesuffix(".html")))]
        body = lxml.html.fromstring(html).find("body")
        first = next(el for el in body.iter("div") if (el.text or "").strip())
        assert first.get("class") == "preheader", relpath
        assert "display:none" in first.get("style") and "color" not in first.get("style")
        assert first.text == message.preheader


def test_every_html_part_uses_presentation_tables_and_alt_text(batch: Batch) -> None:
    """Layout tables carry role="presentation", images have alt, nothing loads from outside."""
    for relpath, html in html_files(batch).items():
        tree = lxml.html.fromstring(html)
        tables = tree.iter("table")
        assert all(t.get("role") == "presentation" for t in tables), relpath
        assert all(img.get("alt") is not None for img in tree.iter("img")), relpath
        assert "<link" not in html and "fonts.googleapis" not in html, relpath


def test_every_html_part_keeps_within_size_and_style_budgets(batch: Batch) -> None:
    """No <style> block over 16 KB, under 90 KB in all, at most 600 px wide, no control characters."""
    for relpath, html in html_files(batch).items():
        data = html.encode("utf-8")
        assert len(data) < 90 * 1024, relpath
        for block in re.findall(r"<style[^>]*>(.*?)</style>", html, re.S):
            assert len(block.encode("utf-8")) <= 16 * 1024, relpath
        widths = [int(w) for w in re.findall(r"(?<![-\w])width:\s*(\d+)px", html)]
        assert widths and max(widths) <= 600, relpath
        assert "max-width:600px" in html
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", html), relpath


def test_every_html_part_keeps_mjml_media_rules_with_important(batch: Batch) -> None:
    """The inlined HTML still holds `@media only screen and (min-width:480px)` rules with !important."""
    for relpath, html in html_files(batch).items():
        assert MEDIA_RULE.search(html), relpath
        assert ".mj-column-per-100 { width:100% !important; max-width:100%; }" in html, relpath


def test_every_html_part_has_unsubscribe_link_and_postal_address(batch: Batch) -> None:
    """The footer shows the visible unsubscribe link (signed token) and the postal address."""
    settings = batch.project.settings
    for relpath, html in html_files(batch).items():
        tree = lxml.html.fromstring(html)
        links = [a for a in tree.iter("a") if (a.get("href") or "").startswith(settings.unsubscribe_url + "?t=")]
        assert len(links) == 1, relpath
        assert links[0].text_content().strip() in (
            "Afmelden voor deze nieuwsbrief",
            "Afmelden voor berichten",
            "Unsubscribe from this newsletter",
            "Unsubscribe from alerts",
        )
        token = links[0].get("href").split("?t=", 1)[1]
        info = verify_token(SECRET, token)
        assert info is not None and info.contact_id == relpath.split("/")[1]
        text = tree.text_content()
        for line in settings.postal_address.split("\n"):
            assert line in text, relpath


def test_item_links_carry_utm_parameters_for_the_run(batch: Batch) -> None:
    """Every item's call-to-action carries utm_source, utm_medium and utm_campaign=<run id>."""
    html = batch.files["emails/P001/newsletter.html"].decode()
    for chosen in batch.selection("P001").items:
        url = batch.compiled.items[chosen.item_id].url
        tagged = f"{url}?utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign=2026-11-30"
        assert html.count(f'href="{tagged}"') == 2  # the title and the button


def test_newsletter_shows_customer_context_account_manager_and_why(batch: Batch) -> None:
    """The newsletter names what the customer bought, the AM's card, and why each item is there."""
    html = batch.files["emails/P001/newsletter.html"].decode()
    text = lxml.html.fromstring(html).text_content()
    assert "Sinds 2019 werkt Zorggroep Lindehof met ons onder meer aan" in text
    assert "Back-up Pro" in text
    assert "30 september 2026" in text  # the last finished order, in Dutch
    assert "Jan de Vries" in text and "+31 6 1234 5678" in text
    assert 'href="tel:+31612345678"' in html
    assert 'href="mailto:jan.devries@polderlicht-it.nl"' in html
    assert text.count("Waarom dit voor u relevant is:") == len(batch.selection("P001").items)
    assert "U gaf aan interesse te hebben in" in text
    assert "Beantwoord deze e-mail of bel Jan op +31 6 1234 5678." in text


def test_tone_follows_the_contacts_level(batch: Batch) -> None:
    """A manager reads about the organisation; a technical contact about practical details."""
    manager = batch.files["emails/P001/newsletter.txt"].decode()
    technical = batch.files["emails/P002/newsletter.txt"].decode()
    assert "wat het voor uw organisatie betekent" in manager
    assert "de technische details staan één klik verderop" in technical
    assert "organisatie betekent" not in technical


def test_english_newsletter_is_english(batch: Batch) -> None:
    """An English contact gets English text, dates and list name."""
    text = batch.files["emails/P007/newsletter.txt"].decode()
    assert text.startswith("Dear Emma,\r\n")
    assert "Why this is relevant for you:" in text
    assert "Unsubscribe from this newsletter: https://" in text
    eml = parse(batch.files["emails/P007/newsletter.eml"])
    assert eml["List-Id"] == "Polderlicht IT nieuwsbrief <newsletter.polderlicht-it.nl>"  # one per list
    assert eml["Content-Language"] == "en"


def test_alert_is_short_with_one_item_and_its_body(batch: Batch) -> None:
    """The alert shows one item with its body, its reason, the AM and the footer."""
    selection = batch.selection("P001")
    assert selection.alert_item is not None
    item = batch.compiled.items[selection.alert_item.item_id]
    html = batch.files["emails/P001/alert.html"].decode()
    assert html.count("Waarom dit voor u relevant is:") == 1
    assert str(item.body) in html
    assert len(html) < len(batch.files["emails/P001/newsletter.html"])
    text = batch.files["emails/P001/alert.txt"].decode()
    assert "Afmelden voor berichten: https://www.polderlicht-it.nl/afmelden?t=" in text


def test_text_part_carries_the_unsubscribe_link_and_uses_crlf(batch: Batch) -> None:
    """Every text part has the unsubscribe URL and CRLF line ends (its MIME canonical form)."""
    for relpath, data in batch.files.items():
        if relpath.endswith(".txt"):
            text = data.decode("utf-8")
            assert "https://www.polderlicht-it.nl/afmelden?t=" in text, relpath
            assert "\n" not in text.replace("\r\n", ""), relpath


# --------------------------------------------------------------------------- every .eml


def test_every_eml_parses_as_multipart_alternative_text_then_html(batch: Batch) -> None:
    """Each .eml is multipart/alternative: text/plain then text/html, UTF-8, equal to the files."""
    for relpath, raw in eml_files(batch).items():
        message = parse(raw)
        assert message.get_content_type() == "multipart/alternative"
        parts = list(message.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"], relpath
        assert all(p.get_content_charset() == "utf-8" for p in parts)
        stem = relpath.removesuffix(".eml")
        assert parts[0].get_payload(decode=True) == batch.files[f"{stem}.txt"], relpath
        assert parts[1].get_payload(decode=True) == batch.files[f"{stem}.html"], relpath
        assert parts[1].get_content() == batch.files[f"{stem}.html"].decode("utf-8")


def test_every_eml_keeps_lines_short_and_crlf(batch: Batch) -> None:
    """No line of an .eml is over 998 bytes; every line ends in CRLF."""
    for relpath, raw in eml_files(batch).items():
        lines = raw.split(b"\r\n")
        assert max(len(line) for line in lines) <= 998, relpath
        assert b"\n" not in raw.replace(b"\r\n", b""), relpath
        assert raw.endswith(b"--\r\n")


def test_every_eml_has_the_designed_headers(batch: Batch) -> None:
    """From, Reply-To, To, Subject, Date, Message-ID, List-Id, List-Unsubscribe(-Post), MIME-Version."""
    amsterdam = datetime.combine(AS_OF, time(9), tzinfo=ZoneInfo("Europe/Amsterdam"))
    for relpath, raw in eml_files(batch).items():
        contact_id, name = relpath.split("/")[1:]
        kind = MessageKind(name.removesuffix(".eml"))
        contact = batch.project.data.contacts[contact_id]
        message = parse(raw)
        assert message["From"] == "Polderlicht IT <nieuws@polderlicht-it.nl>"
        assert message["Reply-To"] == "accountteam@polderlicht-it.nl"
        assert message["To"].addresses[0].display_name == contact.full_name
        assert message["To"].addresses[0].addr_spec == contact.email
        assert message["Subject"] == batch.messages[(contact_id, kind)].subject
        assert message["Date"].datetime == amsterdam
        assert message["Message-ID"] == batch.messages[(contact_id, kind)].message_id
        list_name = "newsletter" if kind is MessageKind.NEWSLETTER else "alerts"
        assert message["List-Id"].endswith(f"<{list_name}.polderlicht-it.nl>")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["MIME-Version"] == "1.0"
        assert message["Bcc"] is None and message["Cc"] is None
        entries = re.findall(r"<([^>]+)>", message["List-Unsubscribe"])
        assert len(entries) == 2
        https, mailto = entries
        assert https.startswith("https://www.polderlicht-it.nl/afmelden?t=")
        assert mailto.startswith("mailto:afmelden@polderlicht-it.nl?subject=unsubscribe-")
        token = https.split("?t=", 1)[1]
        assert mailto.endswith(token)
        info = verify_token(SECRET, token)
        assert info is not None
        assert (info.contact_id, info.email, info.list_name) == (contact_id, contact.email, list_name)


def test_structured_headers_are_written_literally(batch: Batch) -> None:
    """Message-ID, List-Id and List-Unsubscribe are never RFC 2047 words, folded only between entries."""
    for relpath, raw in eml_files(batch).items():
        head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
        unfolded: dict[str, str] = {}
        for line in re.split(r"\r\n(?![ \t])", head):
            name, _, value = line.partition(":")
            unfolded[name] = value
        for name in STRUCTURAL:
            assert "=?" not in unfolded[name], (relpath, name)
        assert re.fullmatch(r" <https://[^>\s]+>,\r\n <mailto:[^>\s]+>", unfolded["List-Unsubscribe"]), relpath
        assert re.fullmatch(r" <[0-9a-f]{64}@polderlicht-it\.nl>", unfolded["Message-ID"]), relpath


def test_eml_matches_the_standard_library_header_for_header(batch: Batch) -> None:
    """The hand-assembled .eml equals one built with EmailMessage (policy SMTP), header for header and part for part."""
    smtp = policy.SMTP.clone(max_line_length=998)
    for relpath, raw in eml_files(batch).items():
        ours = parse(raw)
        reference = EmailMessage(policy=smtp)
        for name in (
            "From",
            "Reply-To",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "List-Id",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
        ):
            reference[name] = str(ours[name])
        stem = relpath.removesuffix(".eml")
        reference.set_content(batch.files[f"{stem}.txt"].decode(), cte="quoted-printable")
        reference.add_alternative(batch.files[f"{stem}.html"].decode(), subtype="html", cte="quoted-printable")
        reference["Content-Language"] = str(ours["Content-Language"])  # set_content drops Content-* headers
        theirs = parse(reference.as_bytes())
        assert sorted(k.lower() for k in ours) == sorted(k.lower() for k in theirs), relpath
        for name in ours:
            if name == "Content-Type":
                assert ours.get_content_type() == theirs.get_content_type()
            else:
                assert str(ours[name]) == str(theirs[name]), (relpath, name)
        for mine, ref in zip(ours.iter_parts(), theirs.iter_parts(), strict=True):
            assert mine.get_content_type() == ref.get_content_type()
            assert mine.get_content().replace("\r\n", "\n") == ref.get_content().replace("\r\n", "\n")


def test_rendering_is_deterministic(batch: Batch) -> None:
    """The same inputs give byte-identical messages, boundary and Message-ID included."""
    selection = batch.selection("P001")
    first = {k: v for _, files in batch.render(selection) for k, v in files.items()}
    for relpath, data in first.items():
        assert data == batch.files[relpath]


def test_customer_context_is_the_same_from_a_chunk_or_the_whole_dataset(batch: Batch) -> None:
    """A render process's chunk (only its customer's orders) gives the very messages the whole dataset gives."""
    compiled = compile_templates(batch.project.settings, batch.project.data.content)
    data = batch.project.data
    for selection in batch.selections:
        chunk = replace(data, orders=orders_of_customers(data.orders, [selection.customer_id]))
        assert 0 < chunk.orders.height < data.orders.height or chunk.orders.is_empty()
        for _, files in render_messages(compiled, selection, chunk, batch.project.settings,
                                        batch.segmentation, AS_OF, SECRET):
            for relpath, payload in files.items():
                assert payload == batch.files[relpath], relpath
    assert len(batch.files) > 3


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        # Distinct reasons: each item its two strongest, as ever.
        ([(("A", "B", "C"), 2), (("D",), 2)], ["A B", "D"]),
        # One up-sell behind three items (the sample's P00001): the next reason, then "the same".
        ([(("A", "B"), 2), (("A", "D"), 2), (("A", "D"), 2), (("E", "B"), 2)], ["A B", "D", "SAME", "E"]),
        # The item right above is about something else: the reason is given again.
        ([(("A",), 2), (("Y",), 2), (("A",), 2)], ["A", "Y", "A"]),
        # General reasons: one shown, the next one when the first was given above.
        ([(("G1", "G2"), 1), (("G1", "G2"), 1), (("G1",), 1)], ["G1", "G2", "SAME"]),
    ],
)
def test_an_items_reason_is_not_said_twice_in_a_message(items: list[tuple[tuple[str, ...], int]],
                                                         expected: list[str]) -> None:
    """Each item's why line leaves out what the items above said; "the same as above" only right below it."""
    import gettext

    from pipeline.render.i18n import SAME_REASON, WhyLines

    lines = WhyLines(gettext.NullTranslations())
    assert [lines.line(item) for item in items] == [SAME_REASON if e == "SAME" else e for e in expected]


def test_why_lines_held_for_rendering_stay_bounded(batch: Batch, monkeypatch: pytest.MonkeyPatch) -> None:
    """The table of why lines is emptied when full: it stays small, and the messages do not change."""
    import pipeline.render.message as message_module

    monkeypatch.setattr(message_module, "_WHY_HELD", 3)
    compiled = compile_templates(batch.project.settings, batch.project.data.content)
    largest = 0
    for selection in batch.selections:
        for _, files in render_messages(compiled, selection, batch.project.data, batch.project.settings,
                                        batch.segmentation, AS_OF, SECRET):
            for relpath, data in files.items():
                assert data == batch.files[relpath], relpath
        largest = max(largest, len(compiled.cache.get("why", ())))
    assert 0 < largest <= 3 + 1  # checked once per item: a why line and its values may go in together
    assert len(batch.messages) > 3  # more messages than the table holds


# --------------------------------------------------------------------------- hostile data


def test_crlf_in_a_name_cannot_add_a_header(batch: Batch) -> None:
    """A last name holding "\\r\\nBcc: x@y.z" yields no Bcc header; the To name stays on one line."""
    contact = replace(batch.project.data.contacts["P001"], last_name="Jansen\r\nBcc: x@y.z")
    project = batch.with_contact(contact)
    (_, files), *_ = batch.render(batch.selection("P001"), project)
    raw = files["emails/P001/newsletter.eml"]
    message = parse(raw)
    assert message["Bcc"] is None
    assert not re.search(rb"^Bcc:", raw, re.M | re.I)
    assert message["To"].addresses[0].addr_spec == "a.jansen@lindehof.nl"
    assert message["To"].addresses[0].display_name == "Anne Jansen Bcc: x@y.z"
    assert len(message["To"].addresses) == 1


def test_markup_in_a_first_name_is_escaped(batch: Batch) -> None:
    """A first name `<script>…` appears escaped in the HTML and is never run as a template."""
    contact = replace(batch.project.data.contacts["P001"], first_name="<script>alert('x')</script>{{ 7*7 }}")
    project = batch.with_contact(contact)
    (message, files), *_ = batch.render(batch.selection("P001"), project)
    html = files["emails/P001/newsletter.html"].decode()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;{{ 7*7 }}" in html
    assert "49" not in message.subject
    text = files["emails/P001/newsletter.txt"].decode()
    assert text.startswith("Beste <script>alert('x')</script>{{ 7*7 }},\r\n")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.text(max_size=40), last=st.text(max_size=40))
def test_any_name_gives_exactly_the_designed_headers(batch: Batch, first: str, last: str) -> None:
    """Whatever a name holds, the .eml has one To with that name cleaned to one line, and no extra headers."""
    contact = replace(batch.project.data.contacts["P001"], first_name=first, last_name=last)
    project = batch.with_contact(contact)
    (_, files), *_ = batch.render(batch.selection("P001"), project)
    raw = files["emails/P001/newsletter.eml"]
    message = parse(raw)
    names = [k for k in message]
    assert names == [
        "From",
        "Reply-To",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "List-Id",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "Content-Language",
        "MIME-Version",
        "Content-Type",
    ]
    assert not message.defects
    to = message["To"].addresses
    assert len(to) == 1 and to[0].addr_spec == "a.jansen@lindehof.nl"
    assert to[0].display_name == clean_text(f"{first} {last}")[:100]
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


# --------------------------------------------------------------------------- lints


def _hand_selection(contact_id: str, item_ids: tuple[str, ...]) -> Selection:
    return Selection(
        contact_id=contact_id,
        customer_id="C001",
        account_manager_id="am-jan",
        segment=Segment.A,
        language="nl",
        quiet=True,
        newsletter_reasons=(),
        alert_reasons=("x",),  # type: ignore[arg-type]
        items=tuple(ChosenItem(i, 5, (ItemReason("interest", "backup", 3),)) for i in item_ids),
    )


def test_missing_first_name_and_am_phone_fall_back_with_lints(batch: Batch) -> None:
    """No first name → "Geachte relatie,"; an AM without phone → the company number; both linted."""
    data = batch.project.data
    contact = replace(data.contacts["P001"], first_name="")
    managers = dict(data.account_managers)
    managers["am-jan"] = AccountManager("am-jan", "Jan de Vries", "jan.devries@polderlicht-it.nl", "")
    project = replace(
        batch.project, data=replace(data, contacts={**data.contacts, "P001": contact}, account_managers=managers)
    )
    compiled = compile_templates(project.settings, data.content)  # a fresh per-customer cache
    selection = _hand_selection("P001", ("nl/backup-testen",))
    ((message, files),) = render_messages(compiled, selection, project.data, project.settings, None, AS_OF, SECRET)
    text = files["emails/P001/newsletter.txt"].decode()
    assert text.startswith("Geachte relatie,\r\n")
    assert "bel Jan op +31 30 123 45 67" in text
    codes = [lint.code for lint in message.lints]
    assert codes.count("fallback_field") == 2
    assert message.subject.startswith("Een tip voor Zorggroep Lindehof: ")


def test_item_lints_expired_future_alt_and_relative_links(batch: Batch) -> None:
    """Expired and future items, images without alt and relative links are linted; alt and links are fixed."""
    base = batch.project.data.content["nl/backup-testen"]
    odd = replace(
        base,
        id="nl/odd",
        published=date(2026, 12, 5),
        expires=date(2026, 11, 1),
        url="/kennisbank/odd",
        body_html='<p>Zie <a href="../checklist">de checklist</a>.</p><p><img src="logo.png"></p>',
    )
    content = {**batch.project.data.content, "nl/odd": odd}
    compiled = compile_templates(batch.project.settings, content)
    prepared = compiled.items["nl/odd"]
    assert prepared.url == "https://www.polderlicht-it.nl/kennisbank/odd"
    assert 'href="https://www.polderlicht-it.nl/checklist"' in prepared.body
    assert 'alt=""' in prepared.body
    project = replace(batch.project, data=replace(batch.project.data, content=content))
    ((message, _),) = render_messages(
        compiled, _hand_selection("P001", ("nl/odd",)), project.data, project.settings, None, AS_OF, SECRET
    )
    codes = sorted({lint.code for lint in message.lints})
    assert codes == ["broken_link", "item_expired", "item_future", "missing_alt"]


def test_oversized_html_is_linted(batch: Batch, monkeypatch: pytest.MonkeyPatch) -> None:
    """A message over the size budget gets a size_budget lint."""
    import pipeline.render.message as message_module

    monkeypatch.setattr(message_module, "SIZE_BUDGET", 1000)
    ((message, _), *_) = batch.render(batch.selection("P001"))
    assert "size_budget" in {lint.code for lint in message.lints}


# --------------------------------------------------------------------------- compile once


def test_per_recipient_render_never_compiles_mjml_or_inlines_css(batch: Batch, monkeypatch: pytest.MonkeyPatch) -> None:
    """With mjml2html and premailer made to raise, 10 recipients still render after compiling once."""
    compiled = compile_templates(batch.project.settings, batch.project.data.content)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("MJML or premailer called per recipient")

    monkeypatch.setattr(compile_module.mjml, "mjml2html", refuse)
    monkeypatch.setattr(compile_module.premailer, "Premailer", refuse)
    monkeypatch.setattr(compile_module.jinja2.Environment, "from_string", refuse)
    data = batch.project.data
    contacts = dict(data.contacts)
    selections = []
    for n in range(10):
        contact = replace(data.contacts["P001"], contact_id=f"X{n:03d}", first_name=f"Naam{n}")
        contacts[contact.contact_id] = contact
        selections.append(replace(batch.selection("P001"), contact_id=contact.contact_id))
    project = replace(batch.project, data=replace(data, contacts=contacts))
    rendered = [
        result
        for selection in selections
        for result in render_messages(compiled, selection, project.data, project.settings, None, AS_OF, SECRET)
    ]
    assert len(rendered) == 20
    assert {m.contact_id for m, _ in rendered} == {f"X{n:03d}" for n in range(10)}
    assert all(b"Beste Naam" in files[f"emails/{m.contact_id}/{m.kind.value}.txt"] for m, files in rendered)


def test_placeholders_survive_mjml_and_premailer() -> None:
    """Jinja tags come through MJML and premailer unchanged, also inside href (which premailer encodes)."""
    import mjml
    import premailer

    source = (
        '<mjml lang="nl"><mj-body><mj-raw>{% for i in items %}</mj-raw><mj-section><mj-column>'
        '<mj-text><a href="{{ i.url }}">{{ i.title }}</a></mj-text><mj-button href="{{ i.url }}">x</mj-button>'
        "</mj-column></mj-section><mj-raw>{% endfor %}</mj-raw></mj-body></mjml>"
    )
    unprotected = premailer.Premailer(mjml.mjml2html(source, fonts={}), allow_network=False).transform()
    assert 'href="{{ i.url }}"' not in unprotected  # what the tokens protect against
    protected, tags = protect(source)
    assert "{" not in protected
    html = premailer.Premailer(
        mjml.mjml2html(protected, fonts={}), allow_network=False, strip_important=False, keep_style_tags=True
    ).transform()
    restored = restore(html, tags)
    assert restored.count('href="{{ i.url }}"') == 2
    assert "{{ i.title }}" in restored
    assert restored.index("{% for i in items %}") < restored.index("{% endfor %}")


def test_compiled_templates_hold_untouched_placeholders(batch: Batch) -> None:
    """The compiled sources keep their stage-two tags intact and hold no stage-one syntax."""
    assert set(batch.compiled.templates) == {(k, lang) for k in MessageKind for lang in ("nl", "en")}
    for (kind, lang), template in batch.compiled.templates.items():
        source = template.html_source
        assert 'href="{{ unsubscribe_url }}"' in source
        assert "[%" not in source and "[[" not in source and "wsjinja" not in source
        assert f'<html lang="{lang}"' in source
        if kind is MessageKind.NEWSLETTER:
            assert "{% for item in items %}" in source and 'href="{{ item.url }}"' in source


def test_a_broken_template_is_reported_with_file_and_line(batch: Batch, tmp_path: Path) -> None:
    """A Jinja syntax error in a template stops compilation with the file and line."""
    root = write_tiny_project(tmp_path / "broken")
    path = root / "templates" / "alert.mjml"
    lines = path.read_text().splitlines()
    lines[30] = lines[30] + " {% if %}"
    path.write_text("\n".join(lines) + "\n")
    settings = replace(
        batch.project.settings, paths=replace(batch.project.settings.paths, templates=root / "templates")
    )
    with pytest.raises(InputError) as caught:
        compile_templates(settings, batch.project.data.content)
    assert [(p.file, p.line) for p in caught.value.problems] == [("templates/alert.mjml", 31)]


def test_a_missing_template_is_reported(batch: Batch, tmp_path: Path) -> None:
    """A missing template file is a problem naming the file."""
    root = write_tiny_project(tmp_path / "missing")
    (root / "templates" / "newsletter.txt").unlink()
    settings = replace(
        batch.project.settings, paths=replace(batch.project.settings.paths, templates=root / "templates")
    )
    with pytest.raises(InputError) as caught:
        compile_templates(settings, batch.project.data.content)
    assert [str(p) for p in caught.value.problems] == ["templates/newsletter.txt: template file is missing"]
    assert check_templates(settings) == list(caught.value.problems)
    assert check_templates(batch.project.settings) == []


# --------------------------------------------------------------------------- formatting


def test_dates_and_amounts_follow_the_locale() -> None:
    """Dates and amounts are written the way each language writes them."""
    assert format_date(date(2026, 11, 27), "nl") == "27 november 2026"
    assert format_date(date(2026, 11, 27), "en") == "27 November 2026"
    assert format_amount(1234.56, "nl") == "€\xa01.234,56"
    assert format_amount(1234.56, "en") == "€1,234.56"


def test_utm_parameters_keep_existing_query_and_fragment() -> None:
    """UTM parameters are appended; an existing query, fragment or utm value is kept."""
    params = (("utm_source", "newsletter"), ("utm_medium", "email"), ("utm_campaign", "2026-11-30"))
    assert with_utm("https://x.nl/a?id=3#top", params) == (
        "https://x.nl/a?id=3&utm_source=newsletter&utm_medium=email&utm_campaign=2026-11-30#top"
    )
    assert with_utm("https://x.nl/a?utm_source=partner", params) == (
        "https://x.nl/a?utm_source=partner&utm_medium=email&utm_campaign=2026-11-30"
    )
    assert with_utm("mailto:a@b.nl", params) == "mailto:a@b.nl"
    assert with_utm("https://x.nl", params) == "https://x.nl/?utm_source=newsletter&utm_medium=email&utm_campaign=2026-11-30"


def test_addresses_are_quoted_or_encoded() -> None:
    """Display names with specials are quoted, non-ASCII ones RFC 2047-encoded, control characters dropped."""
    assert format_address("Jansen, Anne", "a@b.nl") == '"Jansen, Anne" <a@b.nl>'
    assert format_address("Ingrid Müller", "i@b.nl") == "=?utf-8?q?Ingrid_M=C3=BCller?= <i@b.nl>"
    assert format_address("A\r\nBcc: x@y.z", "a@b.nl") == '"A Bcc: x@y.z" <a@b.nl>'


def test_level_enum_values_are_the_template_words() -> None:
    """The templates switch on these level words."""
    assert {str(level) for level in Level} == {"management", "operational", "technical", "finance"}


def test_hand_made_content_item_renders_without_a_summary(batch: Batch) -> None:
    """An item without summary shows its body in the newsletter instead."""
    base: ContentItem = batch.project.data.content["nl/backup-testen"]
    content = {**batch.project.data.content, "nl/backup-testen": replace(base, summary="")}
    compiled = compile_templates(batch.project.settings, content)
    ((_, files),) = render_messages(
        compiled,
        _hand_selection("P001", ("nl/backup-testen",)),
        batch.project.data,
        batch.project.settings,
        None,
        AS_OF,
        SECRET,
    )
    assert "Stel uzelf drie vragen" in files["emails/P001/newsletter.html"].decode()
    assert ItemType.ARTICLE is base.type


@given(st.text(max_size=200))
def test_any_subject_reads_back_the_same(subject: str) -> None:
    """A subject of any text is encoded so the standard library reads back the same one-line text."""
    from pipeline.render.formatting import encode_header_text

    raw = f"Subject: {encode_header_text('Subject', subject)}\r\n\r\n".encode("ascii")
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert str(parsed["Subject"]) == clean_text(subject)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


# --------------------------------------------------------------------------- fast paths


class _Html:
    """A value that brings its own HTML, as Markup does."""

    def __init__(self, html: Any) -> None:
        self.html = html

    def __html__(self) -> Any:
        return self.html


ESCAPING_TEMPLATE = """\
{{ plain }}|{{ markup }}|{{ number }}|{{ nothing }}|{{ own }}|{{ own_number }}|{{ plain ~ markup }}
{% macro card(title) %}<b>{{ title }}</b>{{ caller() }}{% endmacro %}
{% macro row(title, sep=d.sep) %}<td>{{ title }}{{ sep }}</td>{% endmacro %}
{{ row(plain) }}{% call card(markup) %}<i>{{ plain }}</i>{% endcall %}
{% set block %}<p>{{ plain }}</p>{% endset %}{{ block }}|{{ block|upper }}
{% filter upper %}{{ plain }}{% endfilter %}|{% autoescape false %}{{ plain }}{{ d.name }}{% endautoescape %}
{% for line in lines %}{{ loop.index }}:{{ line }}{{ "," if not loop.last }}{% endfor %}
{{ plain|e }}|{{ plain|safe }}|{{ markup|striptags }}|{{ "<lit>" }}|{{ lines|join(plain) }}
{{ d.name }}|{{ d.inner.name }}|{{ (d.inner).markup }}|{{ d.items }}|{{ obj.real }}|{{ d.inner.obj.real }}
{{ d.get }}|{{ d.get("name") }}|{{ d.inner.name if d.inner.flag else d.name }}|{{ d.none }}
{% for key in d.inner.list %}{{ key }}{{ d.sep }}{% endfor %}{% set x = d.inner %}{{ x.name }}
{% if d.inner.flag and obj.real %}{{ d.inner.list|join(d.sep) }}{% endif %}{{ "%s-%s"|format(d.name, obj.real) }}
"""


class _Thing:
    real = "a <real> attribute"
    name = "thing"


def _escaping_context() -> dict[str, Any]:
    from markupsafe import Markup

    inner = {"name": "in<ner>", "markup": Markup("<em>m</em>"), "flag": True, "list": ["x<", 2], "obj": _Thing()}
    return {
        "plain": "Tom & <Jerry> \"quoted\" 'single'",
        "markup": Markup("<em>kept</em> &amp;"),
        "number": 12.5,
        "nothing": None,
        "own": _Html("<u>own</u>"),
        "own_number": _Html(7),
        "lines": ["a<b", Markup("<br>"), 3],
        "d": {"name": "d&name", "inner": inner, "items": "key, not method", "sep": "<;>", "none": None},
        "obj": _Thing(),
    }


@pytest.mark.parametrize("autoescape", [True, False])
@pytest.mark.parametrize("finalize", [None, lambda value: "" if value is None else value])
def test_inlined_output_and_attribute_code_renders_exactly_as_jinja_would(autoescape: bool, finalize: Any) -> None:
    """The stage-two templates' inlined escaping and dict-first attribute reads write what Jinja's own code would."""

    class PlainCode(compile_module._DictFirstEnvironment):  # the same lookups through Jinja's own generated code
        code_generator_class = jinja2.compiler.CodeGenerator
        template_class = jinja2.Template

    options: dict[str, Any] = dict(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                   newline_sequence="\r\n", autoescape=autoescape, finalize=finalize)
    ours = compile_module._DictFirstEnvironment(**options).from_string(ESCAPING_TEMPLATE)
    plain = PlainCode(**options).from_string(ESCAPING_TEMPLATE)
    assert "_ws_obj" in compile_module._DictFirstEnvironment(**options).compile(ESCAPING_TEMPLATE, raw=True)
    context = _escaping_context()
    assert ours.render(context) == plain.render(context)
    if autoescape:
        assert "Tom &amp; &lt;Jerry&gt;" in ours.render(context)
        assert "key, not method" in ours.render(context)
    for missing in ("plain", "d"):
        with pytest.raises(jinja2.UndefinedError):
            ours.render({k: v for k, v in context.items() if k != missing})
    with pytest.raises(jinja2.UndefinedError):
        ours.render({**context, "d": {**context["d"], "inner": {}}})


def _reasons(*reasons: tuple[str, str, int]) -> tuple[ChosenItem, ...]:
    return (ChosenItem("nl/backup-testen", 5, tuple(ItemReason(*reason) for reason in reasons)),)


def test_cached_values_never_carry_over_between_contacts_customers_or_datasets(batch: Batch) -> None:
    """One Compiled rendering contacts of one customer with different reasons, other customers and a new
    dataset per chunk gives exactly what a fresh Compiled gives for each message on its own."""
    data, settings = batch.project.data, batch.project.settings
    renamed = replace(
        data,
        customers={**data.customers, "C001": replace(data.customers["C001"], name="Zorggroep Anders")},
        account_managers={**data.account_managers,
                          "am-jan": AccountManager("am-jan", "Jan Anders", "jan.anders@polderlicht-it.nl", "")},
    )
    same_content = replace(data, contacts=dict(data.contacts))  # another Dataset object, equal values
    p001 = _hand_selection("P001", ("nl/backup-testen",))
    p002 = replace(_hand_selection("P002", ()), items=_reasons(("sector", "zorg", 2), ("interest", "cloud", 3)))
    p003 = replace(_hand_selection("P003", ()), items=_reasons(("interest", "backup", 9)))  # points differ only
    p004 = replace(_hand_selection("P004", ()), customer_id="C002", items=_reasons(("priority", "", 1)))
    in_english = replace(p002, contact_id="P008", customer_id="C004", language="en")  # the same ChosenItem object
    sequence = [(p001, data), (p002, data), (p003, data), (p004, data), (p001, renamed), (p002, renamed),
                (p004, renamed), (p001, same_content), (p002, data), (in_english, data)]
    shared = compile_templates(settings, data.content)
    texts = []
    for selection, dataset in sequence:
        got = render_messages(shared, selection, dataset, settings, None, AS_OF, SECRET)
        alone = render_messages(compile_templates(settings, data.content), selection, dataset, settings, None,
                                AS_OF, SECRET)
        assert got == alone, (selection.contact_id, selection.customer_id)
        texts.append(got[0][1][f"emails/{selection.contact_id}/newsletter.txt"].decode())
    why = [text.split("relevant is: ")[1].split("\r\n")[0] for text in texts[:4]]
    assert why[:4] == ["U gaf aan interesse te hebben in backup.",
                       "U gaf aan interesse te hebben in cloud. Het speelt in uw sector (zorg).",
                       "U gaf aan interesse te hebben in backup.", "Onze redactie raadt het aan."]
    assert "Zorggroep Anders" in texts[4] and "Jan Anders" in texts[5] and "Jan Anders" in texts[6]
    assert "Zorggroep Lindehof" in texts[7] and "Jan Anders" not in texts[8]
    assert "You told us you are interested in cloud." in texts[9]
    # Per-customer values are not accumulated: only the latest customer's are held.
    assert not any(customer_id in repr(key) for key in shared.cache for customer_id in data.customers)
    assert shared.cache["customer"][1][0] == "C004"


WHITE_AND_CONTROL = " a\t\n\r\x0b\x0c\x1c\x1f\x7f\x85\x9f\xa0\u1680\u2000\u2028\u2029\u202f\u3000é"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(WHITE_AND_CONTROL), max_size=12) | st.text(max_size=40))
def test_clean_text_shortcut_matches_the_full_cleaning(value: str) -> None:
    """A value clean_text returns unchanged without the regexes is one the regexes would leave unchanged."""
    from pipeline.render.formatting import _CONTROL, _SPACES

    assert clean_text(value) == _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()


def _encoded_words_char_by_char(value: str) -> str:
    """The plain way: add each character's Q-encoding to the word while it fits in 75 characters."""
    room = 75 - len("=?utf-8?q?") - len("?=")
    words, chunk, size = [], [], 0
    for char in value:
        if char.isascii() and (char.isalnum() or char in "!*+-/"):
            piece = char
        else:
            piece = "_" if char == " " else "".join(f"={byte:02X}" for byte in char.encode("utf-8"))
        if size + len(piece) > room:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(piece)
        size += len(piece)
    if chunk:
        words.append("".join(chunk))
    return "\r\n ".join(f"=?utf-8?q?{word}?=" for word in words)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab =?_,:é€😀ñ–Z9"), max_size=140)
       | st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=90))
def test_encoded_words_cut_where_the_plain_way_cuts(value: str) -> None:
    """A non-ASCII subject splits into the same encoded words as adding character by character gives."""
    from pipeline.render.formatting import encoded_words

    assert encoded_words(value) == _encoded_words_char_by_char(value)


def test_bodies_encoded_piece_by_piece_equal_the_encoded_render(batch: Batch) -> None:
    """Each body, encoded piece by piece as the templates yield it, is the UTF-8 of Jinja's render()."""
    from pipeline.render.message import _render_utf8, message_parts

    data, settings = batch.project.data, batch.project.settings
    seen_wide = False
    for selection in batch.selections:
        for parts in message_parts(batch.compiled, selection, data, settings, AS_OF, SECRET):
            for template in (parts.template.html, parts.template.text):
                rendered = template.render(parts.context)
                seen_wide |= max(rendered) > "\xff"
                for piecewise in (True, False):
                    assert _render_utf8(template, parts.context, piecewise=piecewise) == rendered.encode("utf-8")
    assert seen_wide  # a body beyond Latin-1 was among them


def _subject(kind: MessageKind, title: str, customer: str, event: bool = False, count: int = 1) -> str:
    from gettext import NullTranslations

    from pipeline.render.message import _subject_and_preheader

    items = [{"title": title, "summary": "", "event": event}] * count
    person = {"first_name": "Emma"}
    company = {"customer": {"name": customer}, "am": {"name": "Jan de Vries"}}
    return _subject_and_preheader(kind, items, person, company, NullTranslations(), "en")[0]


def test_a_newsletter_subject_fits_a_phone_by_cutting_the_title() -> None:
    """Over 60 characters, the title is cut at a word by what the subject is over; a short one stays whole."""
    assert _subject(MessageKind.NEWSLETTER, "Backups you can restore", "Harbour B.V.", count=2) == \
        "Emma, 2 tips for you: Backups you can restore"
    assert _subject(MessageKind.NEWSLETTER, "Planned maintenance on cloud storage this weekend", "Harbour B.V.",
                    count=3) == "Emma, 3 tips for you: Planned maintenance on cloud storage…"


def test_a_newsletter_subject_sets_a_title_with_its_own_colon_apart_and_never_ends_on_a_small_word() -> None:
    """"Emma, 2 tips for you: Webinar: …" reads as a list of labels; "…in practice for…" stops the eye."""
    assert _subject(MessageKind.NEWSLETTER, "Webinar: NIS2 in practice", "Harbour B.V.", count=2) == \
        "Emma, 2 tips for you – Webinar: NIS2 in practice"
    title = "Webinar: NIS2 in practice for the boards of care homes"
    subject = _subject(MessageKind.NEWSLETTER, title, "Harbour B.V.", count=3)
    assert subject == "Emma, 3 tips for you – Webinar: NIS2 in practice…"


def test_a_cut_text_does_not_end_on_a_small_word_of_its_language() -> None:
    from pipeline.render.message import _shorten

    title = "Webinar: NIS2 in de praktijk voor bestuurders en directies"
    assert _shorten(title, 35, "nl") == "Webinar: NIS2 in de praktijk…"
    assert _shorten(title, 35, "en") == "Webinar: NIS2 in de praktijk voor…"  # not small words in English
    assert _shorten("Microsoft 365 does not back up your mail for you", 40, "en") == \
        "Microsoft 365 does not back up…"
    assert _shorten("de de de de", 8, "nl") == "de…"  # one word stays, whatever it is
    assert _shorten("Supercalifragilistic", 10, "en") == "Supercali…"


def test_an_alert_subject_is_its_title_with_the_customer_only_where_both_fit() -> None:
    """An alert is about its title: it is never cut to make room for the customer's name."""
    assert _subject(MessageKind.ALERT, "Cloud maintenance this weekend", "Harbour B.V.") == \
        "Cloud maintenance this weekend – for Harbour B.V."
    title = "Critical vulnerability in SSL VPN firewalls"
    assert _subject(MessageKind.ALERT, title, "Harbour Logistics B.V.") == title
    long_title = "Critical vulnerability in the SSL VPN of widely used firewalls: patch today"
    subject = _subject(MessageKind.ALERT, long_title, "Harbour B.V.")
    assert subject == "Critical vulnerability in the SSL VPN of widely used…" and len(subject) <= 60


def test_an_invitation_is_not_invited_twice() -> None:
    """An event's subject says "Invitation:" once: not again before a title that opens with it."""
    assert _subject(MessageKind.ALERT, "Customer Day 2026", "Harbour B.V.", event=True) == \
        "Invitation: Customer Day 2026"
    assert _subject(MessageKind.ALERT, "Invitation: Polderlicht Customer Day 2026", "Harbour B.V.", event=True) == \
        "Invitation: Polderlicht Customer Day 2026"
    assert _subject(MessageKind.ALERT, "invitation to our Customer Day", "Harbour B.V.", event=True) == \
        "invitation to our Customer Day"
    assert _subject(MessageKind.ALERT, "Webinar: NIS2 in practice", "Harbour B.V.", event=True) == \
        "Invitation – Webinar: NIS2 in practice"  # one colon in a subject


def test_an_items_text_part_is_plain_text_not_markdown() -> None:
    """Headings, emphasis and links read as text: no "##", no "**", a link as "text (address)"."""
    from pipeline.content import render_markdown
    from pipeline.render.compile import plain_text

    markdown = (
        "## Wat u moet doen\n\n- **Installeer** de updates\n  binnen zeven dagen.\n- Herstart.\n\n"
        "3. drie\n4. vier\n\nLees [de checklist](https://x.nl/c) of https://x.nl/d.\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    assert plain_text(render_markdown(markdown)) == (
        "Wat u moet doen\n\n- Installeer de updates binnen zeven dagen.\n- Herstart.\n\n3. drie\n4. vier\n\n"
        "Lees de checklist (https://x.nl/c) of https://x.nl/d.\n\na | b\n1 | 2"
    )
    assert plain_text("") == ""


def test_a_newsletter_subject_names_the_best_ranked_item_whose_title_fits_whole() -> None:
    """A first title that would be cut to "Invitation: Polderlicht…" gives way to the next one that fits."""
    from gettext import NullTranslations

    from pipeline.render.message import _subject_and_preheader

    def subject(*titles: str) -> str:
        items = [{"title": title, "summary": "", "event": False} for title in titles]
        company = {"customer": {"name": "Harbour B.V."}, "am": {"name": "Jan de Vries"}}
        return _subject_and_preheader(
            MessageKind.NEWSLETTER, items, {"first_name": "Marieke"}, company, NullTranslations(), "en"
        )[0]

    first, second = "Invitation: Polderlicht Customer Day 2026", "Backups you can restore"
    assert subject(first, second) == "Marieke, 2 tips for you: Backups you can restore"
    long_one = "Planned maintenance on cloud storage this weekend, all regions"
    assert subject(long_one, long_one + " too") == "Marieke, 2 tips for you: Planned maintenance on cloud…"  # none fits
    assert subject(second, first) == "Marieke, 2 tips for you: Backups you can restore"
