"""Follow-up call lists: whom each account manager calls, why, what to say and by when.

`build_calls` makes one `CallItem` per customer with at least one reason (docs/guide/calls.md,
docs/reference/codes.md); `pipeline.call_lists.write_call_lists` writes them per account manager as CSV,
XLSX, printable HTML and a summary e-mail, plus `calls/all.csv`.

Reasons and their due dates (days after the as-of date):

| reason | when | due |
|---|---|---|
| `evaluation_below_norm` | latest evaluation of the last 12 months < `satisfaction_norm` | 0 |
| `quiet_followup` | a newsletter was made for the customer this run; the treatment has `call_within_days` | that |
| `contact_overdue` | a `contact_schedule` pair had no interaction in the last `every_days` days | 0 |
| `revenue_decline` | window revenue fell by ≥ `revenue_decline` (0.30) against the window before | 14 |
| `cross_sell` / `up_sell` | this run chose an item for a contact because of a catalogue opportunity | 30 |
| `review_segment_d` | a D customer whose treatment has `review: true` | 30 |
| `replied` | a contact replied to a newsletter or alert since the previous run | 1 |
| `clicked` | a contact clicked an item of this or the previous run's message (a person, not a link scanner) | 3 |

A catalogue opportunity is a product in the `cross_sell` / `up_sell` of one they bought that they
never bought (as in the selection stage). It is a *reason* only when it was "scored for this
customer": the newsletter or alert made this run carries an item chosen for it, so
the call follows up what was just sent. Otherwise a listed customer's opportunities are only
named in the talking points: a standing opportunity alone would put almost every customer on
every month's list.

A row's due date is the earliest of its reasons'. Priority (1 is most urgent):

1. an evaluation below the norm (any segment), revenue decline in segment A, or a reply or a
   click in segment A or B (the contact is reading now: the call is worth most today);
2. segment A or B with a quiet follow-up, an overdue contact schedule or a revenue decline;
3. everything else for segments A, B and C (catalogue opportunities, C follow-ups);
4. segment D (the review), unless rule 1 or 2 applies.

A revenue decline counts in the better of the customer's segment now and the one it had a
window ago (segmented the same way on the window before, as the retention report does): a
customer that fell from A to D because it stopped buying is a lost A customer, not a D one.
Its review then asks why it stopped, and a customer that came in during the window and has
not ordered yet is helped to a first order, not judged for parting.

Rows are sorted by priority, then due date, then segment (A first: of two calls equally urgent,
the more valuable customer's comes first), then customer name.

Interactions are those of interactions.csv plus those passed in (imported call outcomes);
the same interaction passed twice counts once. An interaction without `our_level` counts as
the account manager's; without `their_level`, its contact's level counts. Every channel counts.

The contact to call: never one marked `do_not_call`. First a contact who replied or clicked,
then one at the level of an
overdue schedule pair (management pairs first), then a contact who got the newsletter this
run, then one with a phone number, then by level (management, operational, technical,
finance), then file order. When nobody is callable, `contact_id` is empty and `note` says why.
When the account manager's own pair is due at another level than the chosen contact's (both
pairs due: management is called), the talking points name whom to call for that pair too.
Values that Excel would run as a formula (`=`, `@`, `+`/`-` not followed by a number) get a
leading `'` in the CSV and the .xlsx.

Call outcomes come back through `windstil calls import` (pipeline/calls_import.py).

CSV columns (calls/<account_manager_id>.csv; calls/all.csv has `account_manager_id` first):
`priority` (1–4), `due` (YYYY-MM-DD), `customer_id`, `customer`, `segment`, `contact_id`,
`contact`, `job_title`, `phone`, `reasons` (codes joined with `;`), `talking_points` (joined
with ` | `), `last_contact` (YYYY-MM-DD or empty), `last_channel` (call/visit/meeting/email),
`note`. UTF-8, comma-separated, CRLF line ends (RFC 4180).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from pipeline.call_history import CallHistory, CustomerFacts, engagement_by_customer
from pipeline.call_lists import CHANNEL_LABELS
from pipeline.feedback import FeedbackEvent
from pipeline.language import DEFAULT_LANGUAGE, N_, PageLanguage, page_language
from pipeline.models import (
    CallItem,
    CallReason,
    Contact,
    Customer,
    CustomerValue,
    Dataset,
    Evaluation,
    Interaction,
    Level,
    OurLevel,
    QuietStatus,
    ScheduleRule,
    Segment,
    Segmentation,
    SegmentsConfig,
    Selection,
    Treatment,
)
from pipeline.segment import months_before
from pipeline.segment import segment as segment_customers

log = logging.getLogger(__name__)

# Days after the as-of date by which a call for this reason should have been made.
DUE_DAYS: dict[CallReason, int] = {
    CallReason.EVALUATION_BELOW_NORM: 0,
    CallReason.CONTACT_OVERDUE: 0,
    CallReason.REVENUE_DECLINE: 14,
    CallReason.CROSS_SELL: 30,
    CallReason.UP_SELL: 30,
    CallReason.REVIEW_SEGMENT_D: 30,
    CallReason.REPLIED: 1,
    CallReason.CLICKED: 3,
}  # quiet_followup: the treatment's call_within_days

# What people read (settings.yaml: language): English message ids, translated where written.
# The CSV keeps the documented column names and the codes.
LEVEL_LABELS = {
    Level.MANAGEMENT: N_("management"),
    Level.OPERATIONAL: N_("operational"),
    Level.TECHNICAL: N_("technical"),
    Level.FINANCE: N_("finance"),
}
OUR_LEVEL_LABELS = {OurLevel.ACCOUNT_MANAGER: N_("account manager"), OurLevel.MANAGEMENT: N_("our management")}

_LEVEL_RANK = {Level.MANAGEMENT: 0, Level.OPERATIONAL: 1, Level.TECHNICAL: 2, Level.FINANCE: 3}
# The reasons' documented order, looked up per finding (list(CallReason).index made the list each time).
_REASON_ORDER = {reason: index for index, reason in enumerate(CallReason)}
# The item reasons (select.py's kinds) that make a catalogue opportunity a reason to call.
_SALES_KINDS = {CallReason.CROSS_SELL.value: CallReason.CROSS_SELL, CallReason.UP_SELL.value: CallReason.UP_SELL}
_EVALUATION_MONTHS = 12
_BATCH = 2_000  # customers whose facts are grouped at a time
_MAX_SUGGESTIONS = 3


# --------------------------------------------------------------------------- build


@dataclass(frozen=True)
class _Finding:
    """One reason to call, with its due date and what to say about it."""

    reason: CallReason
    due: date
    points: tuple[str, ...] = ()
    counts: bool = True  # False: only talking points (an opportunity nobody scored this run), no reason


def build_calls(
    data: Dataset,
    config: SegmentsConfig,
    segmentation: Segmentation,
    quiet: dict[str, QuietStatus],
    selections: Sequence[Selection],
    interactions: Sequence[Interaction],
    as_of: date,
    feedback: Sequence[FeedbackEvent] = (),
    previous_run: date | None = None,
    *,
    language: str = DEFAULT_LANGUAGE,
    earlier: Segmentation | None = None,
) -> list[CallItem]:
    """Return the call list of every account manager, sorted by priority, due date, customer.

    `interactions` are the ones recorded in the state (imported call outcomes), on top of
    data.interactions; an interaction given in both counts once. `feedback` holds the clicks
    and replies recorded in the state; `previous_run` is the as-of date of the run before
    this one (clicks on its messages count, replies since it count). Talking points and notes
    are written in `language` (settings.yaml: language). `earlier`: the segmentation a window
    before the as-of date (see the module docstring), made here when not given.
    """
    words = page_language(language)
    engagement = engagement_by_customer(data, feedback, as_of, previous_run)
    if earlier is None:
        earlier = segment_customers(data, config, months_before(as_of, config.window_months))
    history = CallHistory.of(data, config, selections, interactions, as_of, engagement, earlier)
    ids = list(data.customers)
    calls: list[CallItem] = []
    # A batch of customers at a time: the facts of every customer at once (their orders' products
    # and totals, latest interaction and evaluation) came to 52 MB at 30,000 demo customers.
    for start in range(0, len(ids), _BATCH):
        batch = ids[start : start + _BATCH]
        grouped = history.group(batch)
        calls += (
            call for customer_id in batch
            if (call := _call(data, config, segmentation, quiet, customer_id, grouped[customer_id], as_of, words))
        )
    calls.sort(key=lambda c: (c.priority, c.due, c.segment, c.customer_name.casefold(), c.customer_id))
    log.info("call lists: %d calls for %d account managers", len(calls), len({c.account_manager_id for c in calls}))
    return calls


def _call(data: Dataset, config: SegmentsConfig, segmentation: Segmentation, quiet: dict[str, QuietStatus],
          customer_id: str, facts: CustomerFacts, as_of: date, words: PageLanguage) -> CallItem | None:
    """Return the customer's call, or None when there is no reason to call (or it is not segmented)."""
    value = segmentation.customers.get(customer_id)
    if value is None:
        log.debug("%s: not in the segmentation, no call list entry", customer_id)
        return None
    segment = value.segment
    findings, overdue_rules = _findings(data, config, customer_id, segment, facts, quiet.get(customer_id), as_of, words)
    if not any(f.counts for f in findings):
        return None
    reasons = tuple(sorted({f.reason for f in findings if f.counts}, key=_REASON_ORDER.__getitem__))
    contact, notes = _choose_contact(facts, overdue_rules, words)
    last = facts.last
    customer = data.customers[customer_id]
    return CallItem(
        account_manager_id=customer.account_manager_id,
        customer_id=customer_id,
        customer_name=customer.name,
        segment=segment,
        priority=_priority(reasons, segment, facts.segment_before),
        due=min(f.due for f in findings if f.counts),
        reasons=reasons,
        contact_id=contact.contact_id if contact else "",
        contact_name=contact.full_name if contact else "",
        job_title=contact.job_title if contact else "",
        phone=contact.phone if contact else "",
        talking_points=_overridden(value, words) + _talking_points(
            data, facts, findings, last, _also_call(facts, overdue_rules, contact, words), contact, words
        ),
        last_contact=last.date if last else None,
        last_contact_channel=last.channel.value if last and last.channel else "",
        note="; ".join(notes),
    )


def _findings(
    data: Dataset,
    config: SegmentsConfig,
    customer_id: str,
    segment: Segment,
    facts: CustomerFacts,
    quiet: QuietStatus | None,
    as_of: date,
    words: PageLanguage,
) -> tuple[list[_Finding], list[ScheduleRule]]:
    treatment = config.treatment.get(segment)
    findings: list[_Finding] = []

    def due(reason: CallReason) -> date:
        return as_of + timedelta(days=DUE_DAYS[reason])

    # evaluation_below_norm
    since = months_before(as_of, _EVALUATION_MONTHS)
    latest = facts.evaluation
    if latest is not None and latest.date > since and latest.score < config.satisfaction_norm:
        point = words(
            N_("%(evaluation)s — below the norm of %(norm)s: agree a recovery plan with the customer"),
            evaluation=_evaluation(latest, words),
            norm=config.satisfaction_norm,
        )
        findings.append(_Finding(CallReason.EVALUATION_BELOW_NORM, due(CallReason.EVALUATION_BELOW_NORM), (point,)))

    # quiet_followup
    newsletter_made = any(s.newsletter for s in facts.selections)
    if newsletter_made and treatment is not None and treatment.call_within_days is not None:
        if quiet and quiet.quiet_since:
            point = words(
                N_("Follow up this month's newsletter (quiet since %(day)s): ask what is going on and what is coming"),
                day=words.short_date(quiet.quiet_since),
            )
        else:
            point = words(N_("Follow up this month's newsletter: ask what is going on and what is coming"))
        findings.append(
            _Finding(CallReason.QUIET_FOLLOWUP, as_of + timedelta(days=treatment.call_within_days), (point,))
        )

    overdue_rules = _overdue_rules(data, facts, treatment, as_of)
    findings += [_overdue_finding(rule, facts, data, as_of, words) for rule in overdue_rules]
    findings += _sales_findings(data, facts, as_of, words)
    findings += _reading_findings(data, facts, as_of, words)

    # revenue_decline
    current, previous = facts.revenue, facts.previous_revenue
    if previous > 0 and (previous - current) / previous >= config.revenue_decline_share:
        drop = (previous - current) / previous * 100
        findings.append(
            _Finding(
                CallReason.REVENUE_DECLINE,
                due(CallReason.REVENUE_DECLINE),
                (
                    words(
                        N_("Revenue over the last %(months)s months %(now)s against %(before)s in the period "
                           "before (−%(drop)s%%): ask why and what is needed"),
                        months=config.window_months,
                        now=words.money(current, whole=True),
                        before=words.money(previous, whole=True),
                        drop=f"{drop:.0f}",
                    ),
                ),
            )
        )

    # review_segment_d
    if segment is Segment.D and treatment is not None and treatment.review:
        point = _review_point(data.customers[customer_id], facts, config, as_of, words)
        findings.append(_Finding(CallReason.REVIEW_SEGMENT_D, due(CallReason.REVIEW_SEGMENT_D), (point,)))
    return findings, overdue_rules


def _review_point(
    customer: Customer, facts: CustomerFacts, config: SegmentsConfig, as_of: date, words: PageLanguage
) -> str:
    """Return what a D customer's review is about: a customer lost from a better segment, a new one, or the rest."""
    before = facts.segment_before
    if before is not None and before is not Segment.D:
        return words(
            N_("%(months)s months ago a %(segment)s customer, now D: find out why they stopped buying and what "
               "would win them back"),
            months=config.window_months,
            segment=before.value,
        )
    if not facts.ordered and customer.customer_since and customer.customer_since > months_before(
        as_of, config.window_months
    ):
        return words(
            N_("A customer since %(day)s without an order yet: help them to a first order"),
            day=words.short_date(customer.customer_since),
        )
    return words(N_("D customer: judge whether the relationship can go on; if we part, part decently"))


def _overdue_rules(data: Dataset, facts: CustomerFacts, treatment: Treatment | None, as_of: date) -> list[ScheduleRule]:
    """Return the contact_schedule pairs whose last interaction is too long ago (or missing)."""
    overdue: list[ScheduleRule] = []
    for rule in treatment.contact_schedule if treatment else ():
        last = facts.pair_last.get((rule.ours, rule.theirs))
        if last is None or (as_of - last).days >= rule.every_days:
            overdue.append(rule)
    return overdue


def _overdue_finding(
    rule: ScheduleRule, facts: CustomerFacts, data: Dataset, as_of: date, words: PageLanguage
) -> _Finding:
    """Return the contact_overdue finding of one overdue pair."""
    last = facts.pair_last.get((rule.ours, rule.theirs))
    pair = words(
        N_("%(ours)s ↔ %(theirs)s (every %(days)s days)"),
        ours=words.gettext(OUR_LEVEL_LABELS[rule.ours]),
        theirs=words.gettext(LEVEL_LABELS[rule.theirs]),
        days=rule.every_days,
    )
    if last:
        when = words(N_("last %(day)s, %(days)s days ago"), day=words.short_date(last), days=(as_of - last).days)
    else:
        when = words(N_("no contact recorded yet"))
    if rule.ours is OurLevel.MANAGEMENT:
        point = words(
            N_("Contact schedule %(pair)s: %(when)s — plan a conversation with our management"), pair=pair, when=when
        )
    else:
        point = words(N_("Contact schedule %(pair)s: %(when)s"), pair=pair, when=when)
    return _Finding(CallReason.CONTACT_OVERDUE, as_of + timedelta(days=DUE_DAYS[CallReason.CONTACT_OVERDUE]), (point,))


def _sales_findings(data: Dataset, facts: CustomerFacts, as_of: date, words: PageLanguage) -> list[_Finding]:
    """Return cross_sell / up_sell: named whenever the catalogue has them, a reason when this run scored them."""
    findings: list[_Finding] = []
    scored = _scored_products(data, facts.selections)
    opportunities = _opportunities(data, facts.bought)
    for reason, label in ((CallReason.CROSS_SELL, "Cross-sell"), (CallReason.UP_SELL, "Up-sell")):
        suggestions = opportunities[reason]
        if not suggestions:
            continue
        due = as_of + timedelta(days=DUE_DAYS[reason])
        hits = [(new, had) for new, had in suggestions if new in scored[reason]]
        rest = [(new, had) for new, had in suggestions if new not in scored[reason]]
        if hits:
            found = _suggestions(data, hits, words)
            if rest:
                text = words(
                    N_("%(kind)s: %(products)s — came up in this month's newsletter; also %(more)s"),
                    kind=label, products=found, more=_suggestions(data, rest, words, limit=2),
                )
            else:
                text = words(
                    N_("%(kind)s: %(products)s — came up in this month's newsletter"), kind=label, products=found
                )
            findings.append(_Finding(reason, due, (text,)))
        else:
            text = words(N_("%(kind)s opportunity: %(products)s"), kind=label, products=_suggestions(data, rest, words))
            findings.append(_Finding(reason, due, (text,), counts=False))
    return findings


def _reading_findings(data: Dataset, facts: CustomerFacts, as_of: date, words: PageLanguage) -> list[_Finding]:
    """Return replied / clicked: the contact is reading now."""
    findings: list[_Finding] = []
    if facts.replies:
        points = tuple(
            words(
                N_("%(name)s replied on %(day)s: %(subject)s"),
                name=_contact_name(data, e.contact_id),
                day=words.short_date(e.at.date()),
                subject=f"‘{e.detail}’",
            )
            for e in facts.replies[-_MAX_SUGGESTIONS:]
        )
        findings.append(_Finding(CallReason.REPLIED, as_of + timedelta(days=DUE_DAYS[CallReason.REPLIED]), points))
    if facts.clicks:
        clicked_on: dict[tuple[str, str], date] = {}
        for event in facts.clicks:
            clicked_on[(event.contact_id, event.item_id)] = event.at.date()
        shown = sorted(clicked_on.items(), key=lambda pair: pair[1], reverse=True)[:_MAX_SUGGESTIONS]
        points = tuple(
            words(
                N_("%(name)s clicked on %(day)s on %(title)s"),
                name=_contact_name(data, contact_id),
                day=words.short_date(day),
                title=f"‘{_title(data, item_id)}’",
            )
            for (contact_id, item_id), day in shown
        )
        findings.append(_Finding(CallReason.CLICKED, as_of + timedelta(days=DUE_DAYS[CallReason.CLICKED]), points))
    return findings


def _opportunities(data: Dataset, bought: frozenset[str]) -> dict[CallReason, list[tuple[str, str]]]:
    """Return per kind (cross_sell, up_sell) the (suggested product, product it builds on) pairs, in catalogue order.

    As in the selection stage: a product counts as theirs once ordered (cancelled orders do
    not count: `bought` has none of theirs), and a product suggested both ways counts once,
    as the up-sell.
    """
    cross_sell: dict[str, str] = {}
    up_sell: dict[str, str] = {}
    for product in data.products.values():
        if product.id not in bought:
            continue
        for found, targets in ((cross_sell, product.cross_sell), (up_sell, product.up_sell)):
            for new in targets:
                if new not in bought and new in data.products:
                    found.setdefault(new, product.id)
    return {
        CallReason.CROSS_SELL: [(new, had) for new, had in cross_sell.items() if new not in up_sell],
        CallReason.UP_SELL: list(up_sell.items()),
    }


def _scored_products(data: Dataset, selections: Iterable[Selection]) -> dict[CallReason, set[str]]:
    """Return the products of the items this run chose for the customer's contacts because of a cross- or up-sell."""
    scored: dict[CallReason, set[str]] = {CallReason.CROSS_SELL: set(), CallReason.UP_SELL: set()}
    for selection in selections:
        chosen = [*(selection.items if selection.newsletter else ())]
        if selection.alert and selection.alert_item is not None:
            chosen.append(selection.alert_item)
        for item in chosen:
            content = data.content.get(item.item_id)
            if content is None:
                continue
            for item_reason in item.reasons:
                reason = _SALES_KINDS.get(item_reason.kind)
                if reason is not None:
                    scored[reason].update(content.products)
    return scored


def _suggestions(
    data: Dataset, pairs: Sequence[tuple[str, str]], words: PageLanguage, limit: int = _MAX_SUGGESTIONS
) -> str:
    shown = [
        _suggestion(words, data.products[new].name_in(words.code), data.products[had].name_in(words.code))
        for new, had in pairs
    ]
    more = len(shown) - limit
    listed = ", ".join(shown[:limit])
    return words(N_("%(listed)s and %(n)s more"), listed=listed, n=more) if more > 0 else listed


@functools.lru_cache(maxsize=4096)  # a catalogue has few pairs, named for thousands of customers
def _suggestion(words: PageLanguage, product: str, base: str) -> str:
    return words(N_("%(product)s (with %(base)s)"), product=product, base=base)


def _priority(reasons: Sequence[CallReason], segment: Segment, before: Segment | None = None) -> int:
    """Return 1–4 by the rule in the module docstring (`before`: the segment a window ago)."""
    declined = CallReason.REVENUE_DECLINE in reasons
    # A decline is weighed by what was lost: the better of the two segments (A before B).
    lost_from = min(segment, before) if declined and before is not None else segment
    if CallReason.EVALUATION_BELOW_NORM in reasons:
        return 1
    if declined and lost_from is Segment.A:
        return 1
    if segment in (Segment.A, Segment.B) and {CallReason.REPLIED, CallReason.CLICKED}.intersection(reasons):
        return 1
    if declined and lost_from is Segment.B:
        return 2
    if segment is Segment.D:
        return 4
    urgent = {CallReason.QUIET_FOLLOWUP, CallReason.CONTACT_OVERDUE}
    if segment in (Segment.A, Segment.B) and urgent.intersection(reasons):
        return 2
    return 3


def _choose_contact(
    facts: CustomerFacts, overdue_rules: Sequence[ScheduleRule], words: PageLanguage
) -> tuple[Contact | None, list[str]]:
    """Return the contact to call (None: nobody callable) and notes for the account manager."""
    notes: list[str] = []
    blocked = [c for c in facts.contacts if c.do_not_call]
    callable_ = [c for c in facts.contacts if not c.do_not_call]
    if not facts.contacts:
        return None, [words(N_("No contact known: find out whom to call"))]
    if not callable_:
        names = ", ".join(c.full_name for c in blocked)
        return None, [words(N_("Nobody to call: every contact is marked 'do not call' (%(names)s)"), names=names)]
    # Management pairs first: that conversation is the one the schedule guards most.
    wanted = sorted({r.theirs for r in overdue_rules}, key=lambda lvl: _LEVEL_RANK[lvl])
    got_newsletter = {s.contact_id for s in facts.selections if s.newsletter}
    order = {c.contact_id: i for i, c in enumerate(facts.contacts)}
    engaged = {e.contact_id for e in (*facts.replies, *facts.clicks)}

    def rank(contact: Contact) -> tuple[int, int, int, int, int, int]:
        return (
            0 if contact.contact_id in engaged else 1,
            wanted.index(contact.level) if contact.level in wanted else len(wanted),
            0 if contact.contact_id in got_newsletter else 1,
            0 if contact.phone else 1,
            _LEVEL_RANK[contact.level],
            order[contact.contact_id],
        )

    chosen = min(callable_, key=rank)
    for level in wanted:
        if not any(c.level is level for c in callable_):
            notes.append(
                words(N_("No callable contact known at %(level)s level"), level=words.gettext(LEVEL_LABELS[level]))
            )
    if not chosen.phone:
        notes.append(words(N_("No phone number known")))
    if blocked:
        notes.append(words(N_("Do not call: %(names)s"), names=", ".join(c.full_name for c in blocked)))
    return chosen, notes


def _also_call(
    facts: CustomerFacts, overdue_rules: Sequence[ScheduleRule], chosen: Contact | None, words: PageLanguage
) -> tuple[str, ...]:
    """Name whom else to call for an overdue pair of the account manager's that the chosen contact does not cover."""
    points: list[str] = []
    for rule in overdue_rules:
        if rule.ours is not OurLevel.ACCOUNT_MANAGER or chosen is None or chosen.level is rule.theirs:
            continue
        at_level = [c for c in facts.contacts if c.level is rule.theirs and not c.do_not_call]
        if at_level:
            other = min(at_level, key=lambda c: 0 if c.phone else 1)
            details = ", ".join(x for x in (other.job_title, other.phone) if x)
            points.append(
                words(
                    N_("For the contact schedule (%(level)s) also call: %(name)s"),
                    level=words.gettext(LEVEL_LABELS[rule.theirs]),
                    name=other.full_name,
                )
                + (f" ({details})" if details else "")
            )
    return tuple(points)


def _overridden(value: CustomerValue, words: PageLanguage) -> tuple[str, ...]:
    """Return why the customer is in its segment by decision (segments.yaml overrides), first: the call starts there."""
    if value.segment is value.computed_segment or not value.override_reason:
        return ()
    return (words(N_("Segment %(segment)s by decision: %(reason)s"), segment=value.segment.value,
                  reason=value.override_reason),)


def _talking_points(
    data: Dataset,
    facts: CustomerFacts,
    findings: Sequence[_Finding],
    last: Interaction | None,
    also: Sequence[str],
    chosen: Contact | None,
    words: PageLanguage,
) -> tuple[str, ...]:
    points = _sent_points(data, facts.selections, chosen, words)
    for finding in sorted(findings, key=lambda f: _REASON_ORDER[f.reason]):
        points.extend(finding.points)
    points.extend(also)
    if any(f.reason is CallReason.EVALUATION_BELOW_NORM for f in findings):
        pass  # that finding already names the last evaluation
    elif facts.evaluation is not None:
        points.append(_evaluation(facts.evaluation, words))
    elif facts.ordered:  # with nothing bought yet, there is nothing to be satisfied with
        points.append(words(N_("No evaluation yet: ask how satisfied they are")))
    if last is not None:
        channel = f" ({words.gettext(CHANNEL_LABELS[last.channel])})" if last.channel else ""
        if last.contact_id in data.contacts:
            points.append(
                words(
                    N_("Last contact: %(day)s%(channel)s with %(name)s"),
                    day=words.short_date(last.date),
                    channel=channel,
                    name=data.contacts[last.contact_id].full_name,
                )
            )
        else:
            points.append(
                words(N_("Last contact: %(day)s%(channel)s"), day=words.short_date(last.date), channel=channel)
            )
    else:
        points.append(words(N_("Last contact: not recorded")))
    return tuple(points)


def _sent_points(
    data: Dataset, selections: Sequence[Selection], chosen: Contact | None, words: PageLanguage
) -> list[str]:
    """Say what was sent this run: in full for the contact to call (or the first recipient), in short for the rest."""

    def sent_items(selection: Selection) -> list[str]:
        ids = [c.item_id for c in selection.items] if selection.newsletter else []
        if selection.alert and selection.alert_item is not None:
            ids.append(selection.alert_item.item_id)
        return ids

    sent = [s for s in selections if sent_items(s)]
    if not sent:
        return []
    main = next((s for s in sent if chosen is not None and s.contact_id == chosen.contact_id), sent[0])
    points: list[str] = []
    name = _contact_name(data, main.contact_id)
    if main.newsletter and main.items:
        titles = ", ".join(f"‘{_title(data, c.item_id)}’" for c in main.items)
        points.append(words(N_("Newsletter to %(name)s: %(titles)s"), name=name, titles=titles))
    if main.alert and main.alert_item is not None:
        title = f"‘{_title(data, main.alert_item.item_id)}’"
        points.append(words(N_("Alert to %(name)s: %(titles)s"), name=name, titles=title))
    others = [s for s in sent if s is not main]
    if others:
        # Items on a topic the main recipient did not get (a translation is the same topic),
        # one per topic, in first-sent order.
        seen = {data.topic(i) for i in sent_items(main)}
        extra: dict[str, str] = {}  # topic -> the first item sent on it
        for other in others:
            for item_id in sent_items(other):
                topic = data.topic(item_id)
                if topic not in seen:
                    extra.setdefault(topic, item_id)
        names = _and_join([_contact_name(data, s.contact_id) for s in others], words)
        if extra:
            more = len(extra) - _MAX_SUGGESTIONS
            titles = ", ".join(f"‘{_title(data, i)}’" for i in list(extra.values())[:_MAX_SUGGESTIONS])
            if more > 0:
                titles = words(N_("%(listed)s and %(n)s more"), listed=titles, n=more)
            points.append(words(N_("Also sent to %(names)s, with %(titles)s as well"), names=names, titles=titles))
        else:
            points.append(words(N_("Also sent to %(names)s"), names=names))
    return points


def _contact_name(data: Dataset, contact_id: str) -> str:
    contact = data.contacts.get(contact_id)
    return contact.full_name if contact else contact_id


def _and_join(names: Sequence[str], words: PageLanguage) -> str:
    if len(names) == 1:
        return names[0]
    return words(N_("%(first)s and %(last)s"), first=", ".join(names[:-1]), last=names[-1])


def _evaluation(evaluation: Evaluation, words: PageLanguage) -> str:
    comment = f": “{evaluation.comment}”" if evaluation.comment else ""
    return words(
        N_("Last evaluation: %(score)s on %(day)s%(comment)s"),
        score=evaluation.score,
        day=words.short_date(evaluation.date),
        comment=comment,
    )


def _title(data: Dataset, item_id: str) -> str:
    item = data.content.get(item_id)
    return item.title if item else item_id
