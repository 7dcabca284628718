"""The English forms of the pre-send checks' findings, so the review site can say them in its language.

The checks (pipeline/checks/) write each finding's detail in English: it is also the `detail`
column of checks.csv, which scripts read. The review site translates it at the point of
display: PageLanguage.text recognises a detail by these forms and says it again through the
catalogue, its parameters (URLs, colours, quoted text) as they are. A detail of a form not
listed here is shown as written.
"""

from __future__ import annotations

from pipeline.language import N_, notice_label, notice_template

FORMS = tuple(
    notice_template(form)
    for form in (
        N_("the HTML part is empty"),
        N_("the HTML part has no document"),
        N_("<html> has no %(missing)s"),
        N_("the body's outer <%(tag)s> has no %(missing)s (some clients drop the <html> element)"),
        N_('%(n)s layout table(s) without role="presentation": screen readers announce rows and cells'),
        N_("h%(before)s is followed by h%(after)s (%(title)s): a level is skipped"),
        N_("%(href)s is a relative link: only https, mailto and tel links work safely in every client"),
        N_("%(href)s is %(scheme)s: only https, mailto and tel links work safely in every client"),
        N_("the link to %(href)s has no text"),
        N_("link text %(label)s says nothing out of context (link to %(href)s)"),
        N_("link text is a bare URL (%(label)s)"),
        N_("%(href)s lacks %(missing)s: web statistics cannot tell this mailing"),
        N_("image %(src)s has no alt text: with images off, or read aloud, it is gone"),
        N_('image %(src)s has an empty alt but is not marked presentational (role="presentation")'),
        N_("image source %(src)s is a local path no mail client can load"),
        N_("image source %(src)s is not https"),
        N_("%(color)s on %(background)s is %(ratio)s:1, needs %(needed)s:1 (%(sample)s, %(count)s places)"),
        N_("%(color)s on %(background)s is %(ratio)s:1, needs %(needed)s:1 (%(sample)s)"),
        N_("text of %(size)spx, under %(minimum)spx (%(sample)s, %(count)s places)"),
        N_("text of %(size)spx, under %(minimum)spx (%(sample)s)"),
        N_("the text part lacks the link %(href)s"),
        N_("the text part lacks %(share)s of the HTML's words (e.g. %(words)s)"),
        N_("%(feature)s is not supported in %(clients)s (caniemail: %(key)s)"),
        N_("template syntax left in the %(part)s part: %(text)s"),
        N_("HTML is %(size)s bytes: Gmail clips it after %(limit)s (and hides the footer)"),
        N_("the subject is empty"),
        N_("subject of %(n)s characters: phones cut it after about %(limit)s"),
        N_("no preheader: the inbox shows the first words of the body"),
        N_("preheader of %(n)s characters: under %(limit)s, the inbox fills the rest with the body"),
        N_("preheader of %(n)s characters: inboxes show at most about %(limit)s"),
        N_("the preheader repeats the first line of the body"),
        N_("not run: SpamAssassin is not installed"),
        N_("not scored: beyond the variants scored per run"),
        N_("not scored: SpamAssassin gave no result"),
        N_("SpamAssassin score %(score)s (rules: %(rules)s)"),
        N_("%(label)s %(url)s is not https"),
    )
)
# Words a finding holds as a parameter.
LABELS = tuple(notice_label(label) for label in (N_("lang or dir"), N_("lang"), N_("dir"), N_("none")))
