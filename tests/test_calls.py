"""Call lists: reasons, priority, the contact to call, talking points, and the files per account manager."""

from __future__ import annotations

import csv
import email
import email.policy
import io
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import openpyxl
import pytest
from conftest import make_config
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from pipeline.call_lists import ALL_CSV_COLUMNS, CSV_COLUMNS, call_counts, call_list_xlsx, write_call_lists
from pipeline.calls import build_calls, months_before
from pipeline.models import (
    AccountManager,
    Activity,
    CallItem,
    CallReason,
    Channel,
    ChosenItem,
    Contact,
    ContentItem,
    Customer,
    CustomerValue,
    Dataset,
    Evaluation,
    Interaction,
    ItemReason,
    ItemType,
    Level,
    Order,
    OrderStatus,
    OurLevel,
    Paths,
    Product,
    QuietStatus,
    Segment,
    Segmentation,
    Selection,
    Settings,
    SkipReason,
)
from pipeline.writer import RunWriter

REPO = Path(__file__).resolve().parents[1]
AS_OF = date(2026, 11, 30)
R = CallReason

AMS = {
    "am-jan": AccountManager("am-jan", "Jan de Vries", "jan.devries@polderlicht-it.nl", "+31 6 1234 5678"),
    "am-sara": AccountManager("am-sara", "Sara Bakker", "sara.bakker@polderlicht-it.nl"),
}
PRODUCTS = {
    "werkplek": Product("werkplek", "Werkplekbeheer", cross_sell=("backup", "backup-plus"), up_sell=()),
    "backup": Product("backup", "Back-up Pro", cross_sell=(), up_sell=("backup-plus",)),
    "backup-plus": Product("backup-plus", "Back-up Pro Plus"),
    "scan": Product("scan", "Securityscan"),
}


def item(item_id: str, title: str, *products: str) -> ContentItem:
    return ContentItem(
        item_id, f"content/{item_id}.md", title, ItemType.ARTICLE, "nl", date(2026, 11, 2), "", "", products=products
    )


CONTENT = {
    "nl/backup": item("nl/backup", "Back-ups die u echt terugzet", "backup"),
    "nl/backup-plus": item("nl/backup-plus", "Terugzetten binnen het uur", "backup-plus"),
}


def contact(contact_id: str, customer_id: str = "K1", level: Level = Level.OPERATIONAL, **fields: object) -> Contact:
    values: dict[str, object] = {
        "first_name": f"Voornaam{contact_id}",
        "last_name": "Achternaam",
        "email": f"{contact_id.lower()}@klant.nl",
        "email_valid": True,
        "phone": "+31 30 000 0000",
        "job_title": "Medewerker",
        "newsletter_opt_in": True,
    } | fields
    return Contact(contact_id=contact_id, customer_id=customer_id, level=level, **values)  # type: ignore[arg-type]


def order(order_id: str, when: date, revenue: str = "1000", customer_id: str = "K1", product: str = "scan") -> Order:
    return Order(order_id, customer_id, when, Decimal(revenue), product_id=product, end_date=when + timedelta(days=20))


def steady_orders(customer_id: str = "K1") -> list[Order]:
    """The same revenue in this window and the one before: no decline, no opportunity."""
    return [
        order(f"{customer_id}-old", date(2025, 3, 1), customer_id=customer_id),
        order(f"{customer_id}-new", date(2026, 3, 1), customer_id=customer_id),
    ]


def make_data(
    *,
    customers: dict[str, str] | None = None,
    contacts: list[Contact] | None = None,
    orders: list[Order] | None = None,
    evaluations: list[Evaluation] = (),  # type: ignore[assignment]
    interactions: list[Interaction] = (),  # type: ignore[assignment]
    content: dict[str, ContentItem] | None = None,
) -> Dataset:
    """Return a data set; `customers` maps id → account manager id (default: K1 of am-jan)."""
    customers = customers or {"K1": "am-jan"}
    return Dataset(
        account_managers=AMS,
        customers={cid: Customer(cid, f"Klant {cid}", am) for cid, am in customers.items()},
        contacts={c.contact_id: c for c in (contacts if contacts is not None else [contact("P1")])},
        orders=tuple(orders if orders is not None else [o for cid in customers for o in steady_orders(cid)]),
        evaluations=tuple(evaluations),
        interactions=tuple(interactions),
        suppressions=(),
        products=PRODUCTS,
        content=CONTENT if content is None else content,
    )


def make_segmentation(**segments: str) -> Segmentation:
    def value(cid: str, segment: str) -> CustomerValue:
        s = Segment(segment)
        zero = Fraction(0)
        return CustomerValue(cid, f"Klant {cid}", "", s, s, zero, Decimal(0), Decimal(0), 0, zero, zero, zero)

    return Segmentation(as_of=AS_OF, customers={cid: value(cid, s) for cid, s in segments.items()})


def newsletter(
    contact_id: str, customer_id: str = "K1", items: tuple[str, ...] = (), segment: str = "B", because: str = ""
) -> Selection:
    """Return a made newsletter; `because` is the selection's reason kind for every item (e.g. cross_sell)."""
    reasons = (ItemReason(because, "", 4),) if because else ()
    return Selection(
        contact_id=contact_id,
        customer_id=customer_id,
        account_manager_id="am-jan",
        segment=Segment(segment),
        language="nl",
        quiet=True,
        newsletter_reasons=(),
        alert_reasons=(SkipReason.NO_MATCHING_ITEM,),
        items=tuple(ChosenItem(i, 5, reasons) for i in items),
    )


def calls_for(
    data: Dataset,
    segments: dict[str, str] | None = None,
    *,
    selections: list[Selection] = (),  # type: ignore[assignment]
    interactions: list[Interaction] = (),  # type: ignore[assignment]
    earlier: dict[str, str] | None = None,
    **config: object,
) -> list[CallItem]:
    """The calls for `segments` now (default K1 in C) and `earlier` a window ago (default: as now)."""
    segmentation = make_segmentation(**(segments or {"K1": "C"}))
    before = make_segmentation(**(earlier or segments or {"K1": "C"}))
    quiet = {cid: QuietStatus(cid, Activity.QUIET, date(2026, 9, 1), date(2026, 9, 1)) for cid in data.customers}
    return build_calls(data, make_config(**config), segmentation, quiet, selections, interactions, AS_OF,
                       earlier=before)


def talk(
    contact_id: str, when: date, ours: OurLevel = OurLevel.ACCOUNT_MANAGER, customer_id: str = "K1"
) -> Interaction:
    return Interaction(customer_id, when, contact_id=contact_id, channel=Channel.CALL, our_level=ours)


# --------------------------------------------------------------------------- each reason alone


def test_a_customer_without_reasons_is_not_listed() -> None:
    """A C customer with steady revenue, no evaluation problem and no opportunity gets no call."""
    assert calls_for(make_data()) == []


def test_evaluation_below_norm_alone() -> None:
    """The latest evaluation of the last 12 months below the norm is a priority-1 call due today."""
    data = make_data(evaluations=[Evaluation("K1", date(2026, 10, 12), Decimal("7.5"), comment="Reactietijd te lang")])
    [call] = calls_for(data)
    assert call.reasons == (R.EVALUATION_BELOW_NORM,)
    assert (call.priority, call.due) == (1, AS_OF)
    evaluation = [p for p in call.talking_points if "evaluatie" in p]
    assert evaluation == [
        "Laatste evaluatie: 7,5 op 12 okt 2026: “Reactietijd te lang” — onder de norm van 8: "
        "bespreek een herstelplan met de klant"
    ]


def test_evaluation_only_counts_the_latest_within_twelve_months() -> None:
    """A low score followed by a good one, or one older than 12 months, is no reason to call."""
    recovered = [Evaluation("K1", date(2026, 3, 1), Decimal(6)), Evaluation("K1", date(2026, 9, 1), Decimal(8))]
    assert calls_for(make_data(evaluations=recovered)) == []
    old = [Evaluation("K1", date(2025, 11, 30), Decimal(5))]
    assert calls_for(make_data(evaluations=old)) == []
    assert calls_for(make_data(evaluations=[Evaluation("K1", date(2025, 12, 1), Decimal(5))]))[0].reasons == (
        R.EVALUATION_BELOW_NORM,
    )


def test_quiet_followup_alone() -> None:
    """A newsletter made this run for a B customer means a call within call_within_days (14)."""
    [call] = calls_for(make_data(), {"K1": "B"}, selections=[newsletter("P1")])
    assert call.reasons == (R.QUIET_FOLLOWUP,)
    assert (call.priority, call.due) == (2, AS_OF + timedelta(days=14))
    assert any("stil sinds 1 sep 2026" in p for p in call.talking_points)


def test_a_good_evaluation_is_a_talking_point_not_a_reason() -> None:
    """An evaluation at the norm is no reason to call, but the list still names it for the conversation."""
    data = make_data(evaluations=[Evaluation("K1", date(2026, 10, 1), Decimal(8), comment="Prima")])
    [call] = calls_for(data, {"K1": "B"}, selections=[newsletter("P1")])
    assert call.reasons == (R.QUIET_FOLLOWUP,)
    assert "Laatste evaluatie: 8 op 1 okt 2026: “Prima”" in call.talking_points


def test_no_quiet_followup_without_call_within_days_or_newsletter() -> None:
    """C has no call_within_days; a skipped newsletter is no follow-up either."""
    assert calls_for(make_data(), {"K1": "C"}, selections=[newsletter("P1")]) == []
    skipped = replace(newsletter("P1"), newsletter_reasons=(SkipReason.CADENCE,))
    assert calls_for(make_data(), {"K1": "B"}, selections=[skipped]) == []


def a_customer_contacts() -> list[Contact]:
    return [contact("P1", level=Level.OPERATIONAL), contact("P2", level=Level.MANAGEMENT, job_title="Directeur")]


def test_contact_schedule_not_due() -> None:
    """An A customer whose both schedule pairs were kept (29 and 89 days ago) gets no call."""
    talks = [talk("P1", AS_OF - timedelta(days=29)), talk("P2", AS_OF - timedelta(days=89), OurLevel.MANAGEMENT)]
    assert calls_for(make_data(contacts=a_customer_contacts(), interactions=talks), {"K1": "A"}) == []


def test_contact_schedule_due_alone() -> None:
    """The operational pair last met 30 days ago (every 30 days) is overdue: due today, priority 2."""
    talks = [talk("P1", AS_OF - timedelta(days=30)), talk("P2", AS_OF - timedelta(days=10), OurLevel.MANAGEMENT)]
    [call] = calls_for(make_data(contacts=a_customer_contacts(), interactions=talks), {"K1": "A"})
    assert call.reasons == (R.CONTACT_OVERDUE,)
    assert (call.priority, call.due, call.contact_id) == (2, AS_OF, "P1")
    assert any(
        "accountmanager ↔ operationeel (elke 30 dagen): laatste 31 okt 2026, 30 dagen geleden" in p
        for p in call.talking_points
    )


def test_contact_schedule_counts_only_the_matching_pair() -> None:
    """An account manager's call with management does not keep the management ↔ management pair."""
    talks = [talk("P1", AS_OF - timedelta(days=3)), talk("P2", AS_OF - timedelta(days=3))]
    [call] = calls_for(make_data(contacts=a_customer_contacts(), interactions=talks), {"K1": "A"})
    assert call.reasons == (R.CONTACT_OVERDUE,)
    assert call.contact_id == "P2"  # the management pair is due: call management
    assert any(
        "onze directie ↔ management (elke 90 dagen): nog geen contact vastgelegd" in p for p in call.talking_points
    )


def test_both_pairs_due_call_management_and_name_the_operational_contact() -> None:
    """Both pairs due: management is called, and the operational contact is named for the account manager's pair."""
    contacts = [
        contact("P1", level=Level.OPERATIONAL, first_name="Olga", last_name="Ops", job_title="Teamleider"),
        contact("P2", level=Level.MANAGEMENT, job_title="Directeur"),
    ]
    [call] = calls_for(make_data(contacts=contacts), {"K1": "A"})
    assert call.contact_id == "P2"
    assert (
        "Voor het contactschema (operationeel) ook bellen: Olga Ops (Teamleider, +31 30 000 0000)"
        in call.talking_points
    )


def test_contact_schedule_uses_passed_in_interactions_and_ignores_the_future() -> None:
    """Imported call outcomes keep the schedule; an interaction after the as-of date does not."""
    data = make_data(
        contacts=a_customer_contacts(), interactions=[talk("P2", AS_OF - timedelta(days=5), OurLevel.MANAGEMENT)]
    )
    imported = talk("P1", AS_OF - timedelta(days=2))
    assert calls_for(data, {"K1": "A"}, interactions=[imported, imported]) == []
    later = talk("P1", AS_OF + timedelta(days=1))
    assert calls_for(data, {"K1": "A"}, interactions=[later])[0].reasons == (R.CONTACT_OVERDUE,)


def test_cross_sell_alone_names_the_products() -> None:
    """The newsletter carried an item chosen as cross-sell: a C customer gets a call naming the product."""
    orders = [order("O1", date(2025, 3, 1), product="werkplek"), order("O2", date(2026, 3, 1), product="werkplek")]
    sent = newsletter("P1", items=("nl/backup",), because="cross_sell")
    [call] = calls_for(make_data(orders=orders), {"K1": "C"}, selections=[sent])
    assert call.reasons == (R.CROSS_SELL,)
    assert (call.priority, call.due) == (3, AS_OF + timedelta(days=30))
    assert (
        "Cross-sell: Back-up Pro (bij Werkplekbeheer) — kwam deze maand in de nieuwsbrief aan bod; "
        "verder Back-up Pro Plus (bij Werkplekbeheer)"
    ) in call.talking_points


def test_unscored_opportunity_is_a_talking_point_not_a_reason() -> None:
    """A standing catalogue opportunity alone lists nobody; on a listed customer it is named as a chance."""
    orders = [order("O1", date(2025, 3, 1), product="werkplek"), order("O2", date(2026, 3, 1), product="werkplek")]
    assert calls_for(make_data(orders=orders)) == []
    [call] = calls_for(make_data(orders=orders), {"K1": "B"}, selections=[newsletter("P1")])
    assert call.reasons == (R.QUIET_FOLLOWUP,)
    assert (
        "Cross-sell-kans: Back-up Pro (bij Werkplekbeheer), Back-up Pro Plus (bij Werkplekbeheer)"
        in call.talking_points
    )


def test_up_sell_alone_and_no_opportunity_once_bought() -> None:
    """Back-up Pro suggests its up-sell Back-up Pro Plus, until the customer has it."""
    orders = [order("O1", date(2025, 3, 1), product="backup"), order("O2", date(2026, 3, 1), product="backup")]
    sent = [newsletter("P1", items=("nl/backup-plus",), because="up_sell")]
    [call] = calls_for(make_data(orders=orders), selections=sent)
    assert call.reasons == (R.UP_SELL,)
    assert any(p.startswith("Up-sell: Back-up Pro Plus (bij Back-up Pro) — kwam") for p in call.talking_points)
    orders.append(order("O3", date(2026, 4, 1), product="backup-plus", revenue="0"))
    assert calls_for(make_data(orders=orders), selections=sent) == []


def test_product_suggested_both_ways_counts_once_as_up_sell() -> None:
    """Back-up Pro Plus is cross-sell of Werkplekbeheer and up-sell of Back-up Pro: named once, as up-sell."""
    orders = [
        order("O1", date(2025, 3, 1), product="werkplek"),
        order("O2", date(2026, 3, 1), product="backup"),
    ]
    sent = [newsletter("P1", items=("nl/backup-plus",), because="up_sell")]
    [call] = calls_for(make_data(orders=orders), selections=sent)
    assert call.reasons == (R.UP_SELL,)
    assert not any("Cross-sell" in p for p in call.talking_points)


def test_cancelled_order_is_not_a_purchase() -> None:
    """A cancelled Werkplekbeheer order opens no cross-sell, even when an item scored one."""
    cancelled = replace(order("O9", date(2026, 5, 1), product="werkplek"), status=OrderStatus.CANCELLED)
    sent = [newsletter("P1", items=("nl/backup",), because="cross_sell")]
    assert calls_for(make_data(orders=[*steady_orders(), cancelled]), selections=sent) == []


@pytest.mark.parametrize(("current", "listed"), [("710", False), ("700", True), ("690", True)])
def test_revenue_decline_threshold(current: str, listed: bool) -> None:
    """Revenue down 29% against the window before is no reason; 30% and 31% are."""
    orders = [order("O1", date(2025, 6, 1), "1000"), order("O2", date(2026, 6, 1), current)]
    calls = calls_for(make_data(orders=orders))
    assert [c.reasons for c in calls] == ([(R.REVENUE_DECLINE,)] if listed else [])
    if listed:
        assert (calls[0].priority, calls[0].due) == (3, AS_OF + timedelta(days=14))
        assert any(f"€ {current} in de periode" not in p and "tegen € 1.000" in p for p in calls[0].talking_points)


def test_revenue_decline_windows_follow_window_months() -> None:
    """The window is (as_of − window_months, as_of]: an order on the boundary day belongs to the window before."""
    orders = [order("O1", date(2025, 11, 30), "1000"), order("O2", date(2025, 12, 1), "1000")]
    assert calls_for(make_data(orders=orders)) == []  # 1000 before, 1000 now
    assert calls_for(make_data(orders=orders), window_months=6)[0].reasons == (R.REVENUE_DECLINE,)


def test_revenue_decline_in_segment_a_is_priority_one() -> None:
    """A falling A customer is a retention risk: priority 1."""
    orders = [order("O1", date(2025, 6, 1), "1000"), order("O2", date(2026, 6, 1), "500")]
    talks = [talk("P1", AS_OF - timedelta(days=1)), talk("P2", AS_OF - timedelta(days=1), OurLevel.MANAGEMENT)]
    [call] = calls_for(make_data(contacts=a_customer_contacts(), orders=orders, interactions=talks), {"K1": "A"})
    assert (call.reasons, call.priority) == ((R.REVENUE_DECLINE,), 1)


def test_review_segment_d_alone() -> None:
    """A D customer (treatment review: true) is listed last, priority 4."""
    [call] = calls_for(make_data(orders=[]), {"K1": "D"})
    assert (call.reasons, call.priority, call.due) == ((R.REVIEW_SEGMENT_D,), 4, AS_OF + timedelta(days=30))
    assert any("netjes" in p for p in call.talking_points)


def test_a_customer_lost_from_a_is_a_priority_one_decline_not_a_parting() -> None:
    """An A customer a window ago that stopped buying (now D): priority 1, and the review asks why."""
    orders = [order("O1", date(2025, 6, 1), "1000")]
    [call] = calls_for(make_data(orders=orders), {"K1": "D"}, earlier={"K1": "A"})
    assert (call.reasons, call.priority, call.due) == (
        (R.REVENUE_DECLINE, R.REVIEW_SEGMENT_D), 1, AS_OF + timedelta(days=14)
    )
    assert "12 maanden geleden een A-klant, nu D: zoek uit waarom ze niet meer kopen en wat ze terug zou winnen" \
        in call.talking_points
    assert not any("netjes" in p for p in call.talking_points)


def test_a_customer_lost_from_b_is_priority_two_and_one_always_d_stays_four() -> None:
    orders = [order("O1", date(2025, 6, 1), "1000")]
    [call] = calls_for(make_data(orders=orders), {"K1": "D"}, earlier={"K1": "B"})
    assert call.priority == 2
    assert any("een B-klant, nu D" in p for p in call.talking_points)
    [call] = calls_for(make_data(orders=orders), {"K1": "D"}, earlier={"K1": "D"})
    assert call.priority == 4
    assert any("netjes" in p for p in call.talking_points)


def test_a_new_customer_without_orders_is_helped_to_a_first_order() -> None:
    """Customer since this window, nothing ordered: no parting, no question about satisfaction."""
    data = make_data(orders=[])
    data = replace(data, customers={"K1": replace(data.customers["K1"], customer_since=date(2026, 9, 29))})
    [call] = calls_for(data, {"K1": "D"})
    assert call.reasons == (R.REVIEW_SEGMENT_D,)
    assert "Klant sinds 29 sep 2026, nog zonder order: help ze op weg naar een eerste opdracht" in call.talking_points
    assert not any("netjes" in p or "evaluatie" in p for p in call.talking_points)
    old = replace(data, customers={"K1": replace(data.customers["K1"], customer_since=date(2020, 1, 1))})
    [call] = calls_for(old, {"K1": "D"})  # on the books for years without an order: the usual review
    assert any("netjes" in p for p in call.talking_points)


def test_the_segmentation_a_window_ago_is_made_when_not_given() -> None:
    """build_calls segments the window before itself: the only customer was A then, and stopped buying."""
    orders = [order("O1", date(2025, 6, 1), "1000")]
    quiet = {"K1": QuietStatus("K1", Activity.QUIET, date(2025, 6, 1), date(2025, 6, 1))}
    [call] = build_calls(make_data(orders=orders), make_config(), make_segmentation(K1="D"), quiet, [], [], AS_OF)
    assert call.priority == 1
    assert any("een A-klant, nu D" in p for p in call.talking_points)


def test_a_segment_by_decision_opens_the_talking_points_with_its_reason() -> None:
    """An override in segments.yaml says why this customer is A: the account manager calling should know it."""
    data = make_data(evaluations=[Evaluation("K1", date(2026, 11, 1), Decimal(5))])
    segmentation = make_segmentation(K1="A")
    value = replace(segmentation.customers["K1"], computed_segment=Segment.C,
                    override_reason="Nieuwe directie, grote aanbesteding in 2027")
    segmentation = replace(segmentation, customers={"K1": value})
    quiet = {"K1": QuietStatus("K1", Activity.QUIET, date(2026, 9, 1), date(2026, 9, 1))}
    [call] = build_calls(data, make_config(), segmentation, quiet, [], [], AS_OF, earlier=segmentation)
    assert call.talking_points[0] == "Segment A op eigen oordeel: Nieuwe directie, grote aanbesteding in 2027"
    [call] = calls_for(data, {"K1": "A"})  # computed A: nothing to explain
    assert not any("eigen oordeel" in p for p in call.talking_points)


def test_no_review_when_the_treatment_does_not_ask() -> None:
    """Without review: true a D customer without other reasons is not listed."""
    config = make_config()
    treatment = dict(config.treatment) | {Segment.D: replace(config.treatment[Segment.D], review=False)}
    assert calls_for(make_data(orders=[]), {"K1": "D"}, treatment=treatment) == []


# --------------------------------------------------------------------------- one row, several reasons


def test_several_reasons_make_one_row_with_all_of_them() -> None:
    """An A customer with a bad evaluation, a newsletter, an overdue schedule, a decline and a cross-sell: one row."""
    data = make_data(
        contacts=a_customer_contacts(),
        orders=[
            order("O1", date(2025, 6, 1), "2000", product="werkplek"),
            order("O2", date(2026, 6, 1), "1000", product="werkplek"),
        ],
        evaluations=[Evaluation("K1", date(2026, 9, 5), Decimal("6.5"), comment="Vertraging")],
    )
    sent = newsletter("P1", items=("nl/backup",), segment="A", because="cross_sell")
    [call] = calls_for(data, {"K1": "A"}, selections=[sent])
    assert call.reasons == (
        R.EVALUATION_BELOW_NORM,
        R.QUIET_FOLLOWUP,
        R.CONTACT_OVERDUE,
        R.CROSS_SELL,
        R.REVENUE_DECLINE,
    )
    assert (call.priority, call.due) == (1, AS_OF)
    assert call.talking_points[0] == "Nieuwsbrief aan VoornaamP1 Achternaam: ‘Back-ups die u echt terugzet’"
    assert any(p.startswith("Cross-sell: Back-up Pro (bij Werkplekbeheer) — kwam") for p in call.talking_points)
    assert any(
        p.startswith("Laatste evaluatie: 6,5 op 5 sep 2026: “Vertraging” — onder de norm") for p in call.talking_points
    )
    assert call.talking_points[-1] == "Laatste contact: niet vastgelegd"
    assert call.contact_id == "P2"  # the management pair is overdue (never met): management first


def test_items_sent_are_named_in_full_for_the_contact_to_call_and_short_for_the_rest() -> None:
    """Three recipients: the called contact's items by title, the others by name plus what only they got."""
    contacts = [
        contact("P1", first_name="Anna", last_name="A", do_not_call=True),
        contact("P2", first_name="Bram", last_name="B"),
        contact("P3", first_name="Cas", last_name="C"),
    ]
    sent = [
        newsletter("P1", items=("nl/backup", "nl/backup-plus")),
        newsletter("P2", items=("nl/backup",)),
        newsletter("P3", items=("nl/backup",)),
    ]
    [call] = calls_for(make_data(contacts=contacts), {"K1": "B"}, selections=sent)
    assert call.contact_id == "P2"
    assert call.talking_points[:2] == (
        "Nieuwsbrief aan Bram B: ‘Back-ups die u echt terugzet’",
        "Ook verstuurd aan Anna A en Cas C, met daarnaast ‘Terugzetten binnen het uur’",
    )


def test_a_translation_is_not_named_as_something_else_sent() -> None:
    """A colleague who got the English version of the same items got nothing else: translations are one topic."""
    english = replace(
        item("en/backup", "Backups you can actually restore", "backup"), language="en", translation_of="nl/backup"
    )
    contacts = [contact("P1", first_name="Anna", last_name="A"), contact("P2", first_name="Bram", last_name="B")]
    sent = [newsletter("P1", items=("nl/backup",)), newsletter("P2", items=("en/backup", "nl/backup-plus"))]
    data = make_data(contacts=contacts, content={**CONTENT, english.id: english})
    [call] = calls_for(data, {"K1": "B"}, selections=sent)
    assert call.talking_points[:2] == (
        "Nieuwsbrief aan Anna A: ‘Back-ups die u echt terugzet’",
        "Ook verstuurd aan Bram B, met daarnaast ‘Terugzetten binnen het uur’",
    )
    sent[1] = newsletter("P2", items=("en/backup",))
    [call] = calls_for(data, {"K1": "B"}, selections=sent)
    assert call.talking_points[1] == "Ook verstuurd aan Bram B"


# --------------------------------------------------------------------------- the contact to call


def test_do_not_call_contact_is_passed_over() -> None:
    """The newsletter recipient is marked do_not_call: another contact is chosen, and the note says who not to call."""
    contacts = [contact("P1", do_not_call=True), contact("P2", phone="+31 30 111 2222", job_title="Office manager")]
    [call] = calls_for(make_data(contacts=contacts), {"K1": "B"}, selections=[newsletter("P1")])
    assert (call.contact_id, call.phone, call.job_title) == ("P2", "+31 30 111 2222", "Office manager")
    assert "Niet bellen: VoornaamP1 Achternaam" in call.note


def test_nobody_callable_is_flagged() -> None:
    """All contacts do_not_call: the row stays, without a contact, and says why."""
    contacts = [contact("P1", do_not_call=True), contact("P2", do_not_call=True)]
    [call] = calls_for(make_data(contacts=contacts), {"K1": "B"}, selections=[newsletter("P1")])
    assert (call.contact_id, call.contact_name, call.phone) == ("", "", "")
    assert call.note.startswith("Niemand te bellen: alle contactpersonen staan op 'niet bellen'")


def test_customer_without_contacts_is_flagged() -> None:
    """A customer with no contact persons at all still gets its row, with a note."""
    [call] = calls_for(make_data(contacts=[]), {"K1": "D"})
    assert call.contact_id == "" and "Geen contactpersoon bekend" in call.note


def test_newsletter_recipient_is_preferred_then_phone_then_level() -> None:
    """Without a schedule pair, the contact who got the newsletter is called; else one with a phone, by level."""
    contacts = [contact("P1", level=Level.MANAGEMENT), contact("P2", level=Level.TECHNICAL)]
    [call] = calls_for(make_data(contacts=contacts), {"K1": "B"}, selections=[newsletter("P2")])
    assert call.contact_id == "P2"
    contacts = [
        contact("P1", level=Level.MANAGEMENT, phone=""),
        contact("P2", level=Level.FINANCE),
        contact("P3", level=Level.OPERATIONAL),
    ]
    [call] = calls_for(make_data(contacts=contacts, orders=[]), {"K1": "D"})
    assert call.contact_id == "P3"


def test_missing_management_contact_is_noted() -> None:
    """The management pair is due but the customer has no management contact: call someone else, and say so."""
    talks = [talk("P1", AS_OF - timedelta(days=3))]
    [call] = calls_for(make_data(contacts=[contact("P1")], interactions=talks), {"K1": "A"})
    assert call.contact_id == "P1"
    assert "Geen belbare contactpersoon op management niveau bekend" in call.note


def test_last_contact_date_and_channel() -> None:
    """The latest interaction up to the as-of date is the last contact, with its channel."""
    talks = [
        Interaction("K1", date(2026, 10, 3), contact_id="P1", channel=Channel.VISIT),
        Interaction("K1", date(2026, 8, 1), contact_id="P1", channel=Channel.CALL),
    ]
    [call] = calls_for(make_data(orders=[], interactions=talks), {"K1": "D"})
    assert (call.last_contact, call.last_contact_channel) == (date(2026, 10, 3), "visit")
    assert call.talking_points[-1] == "Laatste contact: 3 okt 2026 (bezoek) met VoornaamP1 Achternaam"


def test_on_one_day_the_later_row_is_the_last_contact_and_a_repeat_keeps_its_first_place() -> None:
    """Same date: the later row counts as later; an imported interaction equal to an earlier row stays there."""
    day = date(2026, 10, 3)
    visit = Interaction("K1", day, contact_id="P1", channel=Channel.VISIT)
    meeting = Interaction("K1", day, contact_id="P1", channel=Channel.MEETING)
    data = make_data(orders=[], interactions=[visit, meeting])
    [call] = calls_for(data, {"K1": "D"}, interactions=[visit])  # a repeat of the first row: not the latest
    assert (call.last_contact, call.last_contact_channel) == (day, "meeting")
    email = Interaction("K1", day, contact_id="P1", channel=Channel.EMAIL, source="calls import")
    [call] = calls_for(data, {"K1": "D"}, interactions=[email])  # a new one after the file's rows
    assert call.last_contact_channel == "email"


# --------------------------------------------------------------------------- ordering


def test_ordering_by_priority_then_due_then_segment_then_name() -> None:
    """Priority first, then the earliest due date, then the segment (A first), then the customer name."""
    customers = {"K1": "am-jan", "K2": "am-jan", "K3": "am-jan", "K4": "am-jan", "K5": "am-jan"}
    contacts = [contact(f"P{i}", customer_id=f"K{i}") for i in range(1, 6)] + [contact("M3", "K3", Level.MANAGEMENT)]
    data = make_data(
        customers=customers,
        contacts=contacts,
        orders=[o for cid in ("K1", "K2", "K3", "K5") for o in steady_orders(cid)],
        evaluations=[Evaluation("K5", date(2026, 11, 1), Decimal(5))],
    )
    data = replace(data, customers=data.customers | {"K2": replace(data.customers["K2"], name="Aardappel B.V.")})
    segments = {"K1": "B", "K2": "B", "K3": "A", "K4": "D", "K5": "C"}
    talks = [
        talk("P3", AS_OF - timedelta(days=1), customer_id="K3"),
        talk("M3", AS_OF - timedelta(days=1), OurLevel.MANAGEMENT, "K3"),
    ]
    selections = [newsletter("P1", "K1"), newsletter("P2", "K2"), newsletter("P3", "K3", segment="A")]
    calls = calls_for(data, segments, selections=selections, interactions=talks)
    summary = [(c.customer_id, c.priority, (c.due - AS_OF).days) for c in calls]
    # K5 evaluation (1, today); K3 A follow-up (2, +7); K2 "Aardappel" before K1 "Klant K1" (2, +14); K4 D (4)
    assert summary == [("K5", 1, 0), ("K3", 2, 7), ("K2", 2, 14), ("K1", 2, 14), ("K4", 4, 30)]


def test_of_two_calls_equally_urgent_and_due_the_more_valuable_customer_comes_first() -> None:
    """Both below the norm (priority 1, due today): the A customer before the C one, whatever their names."""
    data = make_data(
        customers={"K1": "am-jan", "K2": "am-jan"},
        contacts=[contact("P1", customer_id="K1"), contact("P2", customer_id="K2")],
        evaluations=[Evaluation(k, date(2026, 11, 1), Decimal(5)) for k in ("K1", "K2")],
    )
    data = replace(data, customers=data.customers | {"K2": replace(data.customers["K2"], name="Aardappel B.V.")})
    calls = calls_for(data, {"K1": "A", "K2": "C"}, interactions=[talk("P1", AS_OF, customer_id="K1")])
    assert [(c.customer_id, c.priority, c.due) for c in calls] == [("K1", 1, AS_OF), ("K2", 1, AS_OF)]
    calls = calls_for(data, {"K1": "C", "K2": "C"}, interactions=[talk("P1", AS_OF, customer_id="K1")])
    assert [c.customer_id for c in calls] == ["K2", "K1"]  # both C: by name, "Aardappel" first


def test_call_counts_per_account_manager() -> None:
    """call_counts gives per account manager the number of calls and of each reason."""
    data = make_data(
        customers={"K1": "am-jan", "K2": "am-sara"}, contacts=[contact("P1"), contact("P2", "K2")], orders=[]
    )
    calls = calls_for(data, {"K1": "D", "K2": "D"})
    assert call_counts(calls) == {
        "am-jan": {"calls": 1, "review_segment_d": 1},
        "am-sara": {"calls": 1, "review_segment_d": 1},
    }


def test_months_before_clamps_to_month_end() -> None:
    """31 May minus three months is 28 February (or 29 in a leap year)."""
    assert months_before(date(2026, 5, 31), 3) == date(2026, 2, 28)
    assert months_before(date(2028, 5, 31), 3) == date(2028, 2, 29)
    assert months_before(date(2026, 11, 30), 12) == date(2025, 11, 30)


# --------------------------------------------------------------------------- files


def settings(tmp_path: Path) -> Settings:
    paths = Paths(
        tmp_path,
        tmp_path / "data",
        tmp_path / "content",
        REPO / "templates",
        tmp_path / "output",
        tmp_path / "s.sqlite",
    )
    return Settings(
        paths=paths,
        sender_name="Polderlicht IT",
        sender_email="nieuws@polderlicht-it.nl",
        reply_to="accountteam@polderlicht-it.nl",
        company_name="Polderlicht IT B.V.",
        postal_address="Stationsplein 12\n3511 ED Utrecht",
        company_phone="+31 30 123 45 67",
        website_url="https://www.polderlicht-it.nl",
        unsubscribe_url="https://www.polderlicht-it.nl/afmelden",
        unsubscribe_mailto="afmelden@polderlicht-it.nl",
    )


def sample_calls() -> tuple[Dataset, list[CallItem]]:
    data = make_data(
        customers={"K1": "am-jan", "K2": "am-jan"},
        contacts=[contact("P1"), contact("P2", "K2", do_not_call=True)],
        orders=[],
        evaluations=[Evaluation("K1", date(2026, 10, 1), Decimal("6"), comment="Te traag <script>")],
        interactions=[Interaction("K1", date(2026, 9, 1), contact_id="P1", channel=Channel.CALL)],
    )
    data = replace(data, customers=data.customers | {"K2": replace(data.customers["K2"], name='=HYPERLINK("x") & <b>')})
    return data, calls_for(data, {"K1": "C", "K2": "D"})


def test_xlsx_opens_with_frozen_header_filter_and_real_dates() -> None:
    """The .xlsx has a frozen header, an auto-filter over the data, real dates, integers and wrapped talking points."""
    _data, calls = sample_calls()
    book = openpyxl.load_workbook(io.BytesIO(call_list_xlsx(calls, AMS["am-jan"], AS_OF)))
    sheet = book.active
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:P3"
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["Prioriteit", "Uiterlijk", "Klantnr.", "Klant"]
    assert header[-2:] == ["Gebeld op", "Uitkomst"]  # left empty for the account manager, read back by calls import
    assert sheet["O1"].fill.fgColor.rgb == "FFFFE699" and sheet["A1"].fill.fgColor.rgb == "FF1F4E79"
    assert (sheet["O2"].value, sheet["P2"].value, sheet["O2"].number_format) == (None, None, "DD-MM-YYYY")
    first = {h: c for h, c in zip(header, sheet[2], strict=True)}
    assert first["Prioriteit"].value == 1 and first["Prioriteit"].data_type == "n"
    assert first["Uiterlijk"].is_date and first["Uiterlijk"].value == datetime(2026, 11, 30)
    assert first["Uiterlijk"].number_format == "DD-MM-YYYY"
    assert first["Laatste contact"].value == datetime(2026, 9, 1)
    assert first["Kanaal"].value == "telefoon"
    assert first["Gesprekspunten"].alignment.wrap_text
    assert "Te traag <script>" in first["Gesprekspunten"].value
    second = {h: c for h, c in zip(header, sheet[3], strict=True)}
    assert second["Klant"].data_type == "s" and second["Klant"].value.startswith("'=HYPERLINK")
    assert sheet.column_dimensions["K"].width >= 60
    assert book.sheetnames == ["Bellijst", "Uitleg"]
    assert book["Uitleg"]["A2"].value == "1 · Hoogst"


def test_xlsx_keeps_its_styles_and_print_setup() -> None:
    """The header is bold white on dark blue, dates in the locale's format; it prints landscape, A4, one page wide."""
    _data, calls = sample_calls()
    book = openpyxl.load_workbook(io.BytesIO(call_list_xlsx(calls, AMS["am-jan"], AS_OF, language="en")))
    sheet = book.active
    corner = sheet["A1"]
    assert corner.value == "Priority" and corner.font.b and corner.font.color.rgb == "FFFFFFFF"
    assert (corner.fill.fill_type, corner.fill.fgColor.rgb) == ("solid", "FF1F4E79")
    assert corner.alignment.vertical == "center" and corner.alignment.wrap_text
    due, customer, points, last = sheet["B2"], sheet["D2"], sheet["K2"], sheet["L2"]
    assert due.number_format == last.number_format == "DD/MM/YYYY" and due.alignment.vertical == "top"
    assert customer.alignment.vertical == "top" and not customer.alignment.wrap_text
    assert points.alignment.wrap_text and points.value.startswith("• ")
    assert sheet["J2"].alignment.wrap_text and sheet["N2"].alignment.wrap_text
    widths = {key: sheet.column_dimensions[key].width for key in "ADK"}
    assert 10 <= widths["A"] < 11 and 28 <= widths["D"] < 29 and 70 <= widths["K"] < 71
    setup = sheet.page_setup
    # fitToWidth absent means 1, its default in the file format (ECMA-376 CT_PageSetup).
    assert (setup.orientation, str(setup.paperSize)) == ("landscape", "9")
    assert (setup.fitToWidth or 1, setup.fitToHeight) == (1, 0)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and not sheet.print_options.gridLines
    assert sheet.print_title_rows.replace("$", "") == "1:1"
    explanation = book["Explanation"]
    assert explanation["A1"].font.b and explanation["A7"].font.b and explanation["A7"].value == "Reason"
    assert not explanation["A2"].font.b and explanation.column_dimensions["B"].width >= 100
    assert book.properties.creator == "Windstil" and book.properties.created == datetime(2026, 11, 30)
    assert book.properties.title == f"Call list {AMS['am-jan'].name} 2026-11-30"


def test_xlsx_is_reproducible_and_empty_list_still_has_a_header() -> None:
    """The same calls give the same bytes (no wall-clock time); an empty list is a header with its filter."""
    _, calls = sample_calls()
    assert call_list_xlsx(calls, AMS["am-jan"], AS_OF) == call_list_xlsx(calls, AMS["am-jan"], AS_OF)
    sheet = openpyxl.load_workbook(io.BytesIO(call_list_xlsx([], AMS["am-sara"], AS_OF))).active
    assert (sheet.max_row, sheet.auto_filter.ref) == (1, "A1:P1")


def written(tmp_path: Path) -> tuple[Path, Dataset, list[CallItem]]:
    data, calls = sample_calls()
    out = tmp_path / "run"
    write_call_lists(RunWriter(out), calls, data, settings(tmp_path), AS_OF)
    return out, data, calls


def test_files_for_every_account_manager_and_all_csv(tmp_path: Path) -> None:
    """Every account manager gets csv, xlsx, html and eml, even without calls; all.csv lists everyone's."""
    out, _, _ = written(tmp_path)
    names = sorted(p.name for p in (out / "calls").iterdir())
    assert names == sorted(
        ["all.csv"] + [f"{am}.{ext}" for am in ("am-jan", "am-sara") for ext in ("csv", "xlsx", "html", "eml")]
    )
    rows = list(csv.DictReader(io.StringIO((out / "calls/am-jan.csv").read_text(encoding="utf-8"), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["priority"], r["due"], r["customer_id"], r["reasons"]) for r in rows] == [
        ("1", "2026-11-30", "K1", "evaluation_below_norm"),
        ("4", "2026-12-30", "K2", "review_segment_d"),
    ]
    assert rows[0]["last_contact"] == "2026-09-01" and rows[0]["last_channel"] == "call"
    assert rows[1]["customer"].startswith("'=") and rows[1]["contact_id"] == ""
    everyone = list(csv.DictReader(io.StringIO((out / "calls/all.csv").read_text(encoding="utf-8"), newline="")))
    assert tuple(everyone[0]) == ALL_CSV_COLUMNS and [r["account_manager_id"] for r in everyone] == ["am-jan", "am-jan"]
    assert (out / "calls/am-sara.csv").read_text(encoding="utf-8").splitlines() == [",".join(CSV_COLUMNS)]


def test_html_list_is_printable_and_escaped(tmp_path: Path) -> None:
    """The HTML list is A4, one block per customer that is not split across pages, and data is escaped."""
    out, _, _ = written(tmp_path)
    html = (out / "calls/am-jan.html").read_text(encoding="utf-8")
    assert "@page { size: A4" in html and "page-break-inside: avoid" in html
    assert html.count('<article class="call') == 2
    assert "Te traag &lt;script&gt;" in html and "<script>" not in html
    assert "&lt;b&gt;" in html and "Geen belbare contactpersoon" in html
    assert 'href="../index.html"' in html
    assert "30 november 2026" in html
    assert "Geen gesprekken deze maand" in (out / "calls/am-sara.html").read_text(encoding="utf-8")


def test_summary_email(tmp_path: Path) -> None:
    """The summary e-mail: counts and top five in text and HTML, the .xlsx attached, deterministic headers."""
    out, _, calls = written(tmp_path)
    raw = (out / "calls/am-jan.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["From"].addresses[0].display_name == "Windstil (Polderlicht IT)"
    assert message["To"] == "Jan de Vries <jan.devries@polderlicht-it.nl>"
    assert message["Subject"] == "Bellijst 30 november 2026: 2 gesprekken"
    assert message["Date"] == "Mon, 30 Nov 2026 09:00:00 +0100"
    assert message["Message-ID"].startswith("<calls.20261130.") and message["Message-ID"].endswith(
        "@polderlicht-it.nl>"
    )
    assert "List-Unsubscribe" not in message
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.get_payload()
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html"]
    text = alternative.get_payload()[0].get_content()
    assert (
        text.startswith("Hoi Jan,")
        and "telt 2 gesprekken" in text
        and "1. Klant K1" in text
        and "Evaluatie onder de norm" in text
    )
    # What an account manager can act on: no run folder path, no command line, no machine column names.
    assert "Vul na je gesprekken in de bijgevoegde lijst “Gebeld op” en “Uitkomst” in" in text
    assert "calls/" not in text and "windstil" not in text and "customer_id" not in text
    html = alternative.get_payload()[1].get_content()
    assert '<html lang="nl">' in html and "&lt;b&gt;" in html
    assert attachment.get_filename() == "bellijst-am-jan-2026-11-30.xlsx"
    assert openpyxl.load_workbook(io.BytesIO(attachment.get_content())).active.max_row == 3
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    for part in message.walk():
        if not part.is_multipart():  # quoted-printable and base64 lines stay within 76 (RFC 2045)
            assert max(len(line) for line in part.get_payload().splitlines()) <= 76
    again = tmp_path / "again"
    write_call_lists(RunWriter(again), calls, sample_calls()[0], settings(tmp_path), AS_OF)
    assert (again / "calls/am-jan.eml").read_bytes() == raw


def test_summary_email_header_cannot_be_split_by_data(tmp_path: Path) -> None:
    """A line break in an account manager's name cannot add a header."""
    data, calls = sample_calls()
    evil = replace(AMS["am-jan"], name="Jan\r\nBcc: spy@example.com")
    data = replace(data, account_managers={"am-jan": evil})
    write_call_lists(RunWriter(tmp_path / "run"), calls, data, settings(tmp_path), AS_OF)
    message = email.message_from_bytes((tmp_path / "run/calls/am-jan.eml").read_bytes(), policy=email.policy.default)
    assert "Bcc" not in message and message["To"].addresses[0].display_name == "Jan Bcc: spy@example.com"


@settings_(max_examples=60, deadline=None)
@given(
    flags=st.lists(st.tuples(st.sampled_from(list(Level)), st.booleans(), st.booleans()), min_size=0, max_size=6),
    segment=st.sampled_from(["A", "D"]),  # A: its schedule is due (no interactions); D: review
)
def test_chosen_contact_is_never_do_not_call(flags: list[tuple[Level, bool, bool]], segment: str) -> None:
    """Whatever the contacts, the chosen one is callable; nobody chosen exactly when nobody is callable."""
    contacts = [
        contact(f"P{i}", level=level, do_not_call=blocked, phone="+31 6 1" if phone else "")
        for i, (level, blocked, phone) in enumerate(flags)
    ]
    sent = [newsletter(c.contact_id, segment=segment) for c in contacts]
    calls = calls_for(make_data(contacts=contacts, orders=[]), {"K1": segment}, selections=sent)
    assert len(calls) == 1
    [call] = calls
    callable_ids = {c.contact_id for c in contacts if not c.do_not_call}
    assert (call.contact_id in callable_ids) if callable_ids else (call.contact_id == "" and call.note)


def test_calls_made_a_batch_of_customers_at_a_time_are_the_calls_made_all_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Grouping the customers' facts a batch at a time (for the memory) changes no call, its order or its words."""
    from pipeline import calls as calls_module
    from pipeline.load import load_project
    from pipeline.quiet import quiet_periods
    from pipeline.segment import resolve_segmentation
    from pipeline.select import select

    as_of = date(2026, 11, 30)
    project = load_project(REPO)  # the sample company: its orders, evaluations and interactions
    data, config = project.data, project.segments
    segmentation = resolve_segmentation(data, config, as_of, None)
    quiet = quiet_periods(data, config, as_of)
    selections = select(data, config, segmentation, quiet, [], as_of, set())
    whole = build_calls(data, config, segmentation, quiet, selections, [], as_of)
    assert len(data.customers) <= calls_module._BATCH  # the sample is one batch: 150 customers
    monkeypatch.setattr(calls_module, "_BATCH", 7)
    assert build_calls(data, config, segmentation, quiet, selections, [], as_of) == whole
    assert len(whole) >= 20 and len({c.account_manager_id for c in whole}) >= 2
