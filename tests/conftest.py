# ruff: noqa: E501  (the CSV and YAML constants are data: a row is one line, as in the file)
"""Shared fixtures: a tiny but complete Windstil project, and a segments config helper.

The tiny project ("Polderlicht IT" with six customers) is written from the string constants
below, so every stage can be tested against the same, readable data. The as-of date the data
is built around is AS_OF (2026-11-30). What the data holds, on that date:

- C001 Zorggroep Lindehof (zorg, nl, am-jan): biggest customer, quiet since 2026-09-30,
  reference customer; contacts P001 (opt-in), P002 (opt-in, interests via `|`),
  P003 (opt-in, invalid e-mail).
- C002 Gemeente Vechtdal (zorg, nl, am-jan): active (running orders); P004 (opt-in).
- C003 Kliniek De Brug (zorg, nl, am-sara): small, quiet since 2026-08-31, evaluation 6.5
  (below the norm), override to B; P005 (opt-in), P006 (no opt-in, do_not_call),
  P011 (opt-in, suppressed address).
- C004 Harbour Logistics (logistiek, en, am-sara): quiet since 2026-10-15; P007 (opt-in),
  P008 (opt-in, no e-mail, phone only).
- C005 Transport Hollands Midden (logistiek, nl, am-jan): last order ended 2026-11-10, so
  recently active, not quiet; P009 (opt-in).
- C006 Nieuw Begin B.V. (logistiek, nl, am-sara): only a cancelled order, so "no orders";
  P010 (opt-in).

contacts.csv uses `;` (a Dutch Excel export), customers.csv starts with a BOM.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from pipeline.models import (
    Level,
    OurLevel,
    Override,
    ScheduleRule,
    Segment,
    SegmentsConfig,
    StrategicPoints,
    Treatment,
)

REPO = Path(__file__).resolve().parents[1]
AS_OF = date(2026, 11, 30)

SETTINGS_YAML = """\
# Tiny test project: Polderlicht IT B.V.
sender: {name: "Polderlicht IT", email: nieuws@polderlicht-it.nl, reply_to: accountteam@polderlicht-it.nl}
company:
  name: Polderlicht IT B.V.
  address: ["Stationsplein 12", "3511 ED Utrecht", "Nederland"]
  phone: "+31 30 123 45 67"
  website: https://www.polderlicht-it.nl
utm: {source: newsletter, medium: email}
unsubscribe: {url: https://www.polderlicht-it.nl/afmelden, mailto: afmelden@polderlicht-it.nl}
paths: {data: data, content: content, templates: templates, output: output, state: output/state.sqlite}
decimal_mark: "."
max_reject_share: 0.05
# SpamAssassin needs seconds per batch: only the tests about it turn it on.
checks: {spam_max_variants: 0}
"""

SEGMENTS_YAML = """\
window_months: 12
value_elements:
  revenue:   {weight: 0.5}
  margin:    {weight: 0.3}
  strategic: {weight: 0.2, points: {reference_customer: 3, knowledge_partner: 2, referral: 1, max_referrals: 3, strategic_fit: 1}}
cutoffs: {A: 0.80, B: 0.95}
overrides:
  - {customer_id: C003, segment: B, reason: "Strategische zorgpartner, uitbreiding in 2027", until: 2027-06-30}
quiet_period: {after_days: 30}
treatment:
  A: {newsletter_every_days: 30, alerts: true, max_items: 5, call_within_days: 7,
      contact_schedule: [{ours: account_manager, theirs: operational, every_days: 30},
                         {ours: management, theirs: management, every_days: 90}]}
  B: {newsletter_every_days: 30, alerts: true, max_items: 4, call_within_days: 14}
  C: {newsletter_every_days: 90, alerts: false, max_items: 3}
  D: {newsletter_every_days: 180, alerts: false, max_items: 3, review: true}
satisfaction_norm: 8
"""

ACCOUNT_MANAGERS_CSV = """\
account_manager_id,name,email,phone
am-jan,Jan de Vries,jan.devries@polderlicht-it.nl,+31 6 1234 5678
am-sara,Sara Bakker,sara.bakker@polderlicht-it.nl,+31 6 8765 4321
"""

CUSTOMERS_CSV = """\
\ufeffcustomer_id,name,account_manager_id,sector,language,customer_since,reference_customer,referrals,knowledge_partner,strategic_fit
C001,Zorggroep Lindehof,am-jan,zorg,nl,2019-04-01,ja,2,yes,4
C002,Gemeente Vechtdal,am-jan,zorg,nl,2021-09-15,nee,0,no,2
C003,Kliniek De Brug,am-sara,zorg,nl,2023-02-01,no,0,true,3
C004,Harbour Logistics B.V.,am-sara,logistiek,en,2022-06-01,false,1,no,1
C005,Transport Hollands Midden,am-jan,logistiek,nl,2020-01-10,no,0,no,1
C006,Nieuw Begin B.V.,am-sara,logistiek,,2026-09-01,,,,
"""

CONTACTS_CSV = """\
contact_id;customer_id;first_name;last_name;email;phone;job_title;level;language;newsletter_opt_in;do_not_call;interests
P001;C001;Anne;Jansen;a.jansen@lindehof.nl;+31 30 200 1001;Directeur bedrijfsvoering;management;;ja;nee;"backup;security"
P002;C001;Pieter;Smit;P.Smit@Lindehof.nl;+31 30 200 1002;Teamleider ICT;technical;;yes;no;Cloud|backup
P003;C001;Ingrid;Mulder;i.mulder@@lindehof.nl;+31 30 200 1003;Controller;finance;;yes;no;
P004;C002;Karel;de Boer;k.deboer@vechtdal.nl;+31 570 300 400;Informatiemanager;management;;yes;no;werkplek
P005;C003;Fatima;El Amrani;f.elamrani@debrug.nl;+31 20 555 0101;Praktijkmanager;operational;;ja;nee;security
P006;C003;Tom;Visser;t.visser@debrug.nl;+31 20 555 0102;Arts;operational;;nee;ja;
P007;C004;Emma;Clarke;emma.clarke@harbourlogistics.com;+31 10 444 0001;Operations Director;management;;yes;no;"cloud;opslag"
P008;C004;David;Brown;;+31 10 444 0002;IT Engineer;technical;en;yes;no;backup
P009;C005;Sanne;Dekker;s.dekker@thm.nl;+31 71 333 0001;Office manager;operational;;yes;no;werkplek
P010;C006;Lars;Hendriks;lars@nieuwbegin.nl;;Eigenaar;management;;yes;no;
P011;C003;Joost;Bos;j.bos@debrug.nl;+31 20 555 0103;ICT-coördinator;technical;;yes;no;backup
"""

ORDERS_CSV = """\
order_id,customer_id,product_id,description,order_date,end_date,revenue,cost,status
O1001,C001,werkplek-beheer,Werkplekbeheer 2024,2024-03-01,2025-02-28,48000.00,30000.00,closed
O1002,C001,backup-pro,Back-up Pro migratie,2025-12-01,2026-09-15,36000.00,20000.00,closed
O1003,C001,cloud-opslag,Cloudopslag zorgdossiers,2026-01-10,2026-09-30,12500.50,7000.00,closed
O1004,C001,security-scan,Securityscan voorjaar,2026-03-01,2026-04-01,4500.00,2500.00,closed
O1005,C001,werkplek-beheer,Werkplekbeheer 2025,2025-03-01,2025-11-30,30000.00,19000.00,closed
O1006,C001,backup-pro,Back-up Pro eerste fase,2023-05-01,2024-01-31,14000.00,9000.00,closed
O2001,C002,werkplek-beheer,Werkplekbeheer gemeentehuis,2025-06-01,,60000.00,45000.00,open
O2002,C002,backup-pro,Back-up Pro,2026-02-01,2026-07-31,9000.00,5000.00,closed
O2003,C002,security-scan,Securityscan,2025-09-01,2025-09-30,2800.00,1500.00,closed
O2004,C002,cloud-opslag,Cloudopslag archief,2026-06-01,2026-12-31,5400.00,3100.00,open
O3001,C003,security-scan,Securityscan praktijk,2025-10-01,2025-10-31,3200.00,1800.00,closed
O3002,C003,backup-pro,Back-up Pro,2026-04-01,2026-08-31,7500.00,4000.00,closed
O3003,C003,cloud-opslag,Cloudopslag,2026-05-01,2026-06-30,1200.00,600.00,closed
O4001,C004,cloud-opslag,Cloud storage,2025-12-15,2026-06-30,15000.00,9000.00,closed
O4002,C004,werkplek-beheer,Workplace management,2026-01-05,2026-10-15,22000.00,15000.00,closed
O4003,C004,backup-pro,Backup Pro,2024-11-01,2025-10-31,8000.00,5000.00,closed
O4004,C004,security-scan,Security scan,2026-09-01,2026-09-15,2100.00,1200.00,closed
O5001,C005,werkplek-beheer,Werkplekbeheer,2026-02-01,2026-11-10,18000.00,12000.00,closed
O5002,C005,cloud-opslag,Cloudopslag,2024-05-01,2024-12-31,6000.00,4000.00,closed
O6001,C006,backup-pro,Back-up Pro (geannuleerd),2026-10-01,,5000.00,3000.00,cancelled
"""

EVALUATIONS_CSV = """\
customer_id,order_id,date,score,comment
C001,O1002,2026-09-20,9,Soepele migratie
C002,O2002,2026-08-05,8.5,
C003,O3002,2026-09-05,6.5,Oplevering liep vertraging op
C004,O4002,2026-10-20,8,Good support
"""

INTERACTIONS_CSV = """\
customer_id,contact_id,date,channel,our_level,their_level
C001,P001,2026-06-10,meeting,management,management
C001,P002,2026-10-01,call,account_manager,technical
C002,P004,2026-11-02,call,account_manager,management
C003,P005,2026-05-15,visit,account_manager,operational
C004,P007,2026-09-01,email,account_manager,management
"""

SUPPRESSIONS_CSV = """\
email,reason,date
J.Bos@DeBrug.nl,afgemeld via link,2026-03-01
"""

PRODUCTS_YAML = """\
- id: werkplek-beheer
  name: Werkplekbeheer
  tags: [werkplek, beheer]
  cross_sell: [security-scan, backup-pro]
  up_sell: []
- id: backup-pro
  name: Back-up Pro
  tags: [backup, security]
  cross_sell: [cloud-opslag]
  up_sell: []
- id: cloud-opslag
  name: Cloudopslag
  tags: [cloud, opslag]
  cross_sell: [backup-pro]
  up_sell: [backup-pro]
- id: security-scan
  name: Securityscan
  tags: [security]
  cross_sell: [backup-pro]
  up_sell: [werkplek-beheer]
"""

CONTENT: dict[str, str] = {
    "nl/backup-testen.md": """\
---
title: Back-ups die u echt terugzet
type: article
language: nl
tags: [backup, security]
products: [backup-pro]
published: 2026-11-02
priority: 1
url: https://www.polderlicht-it.nl/kennisbank/backups-testen
summary: Drie vragen om te controleren of uw back-up werkt als het erop aankomt.
---
Een back-up is pas iets waard als u hem **terug kunt zetten**. Stel uzelf drie vragen:

1. Wanneer hebben we voor het laatst een volledige terugzet getest?
2. Hoe lang mag een storing duren voordat het werk stilvalt?
3. Wie weet waar de herstelprocedure staat?

Lees ook [onze checklist](https://www.polderlicht-it.nl/kennisbank/checklist).
""",
    "nl/phishing-golf.md": """\
---
title: Nieuwe phishinggolf gericht op zorginstellingen
type: alert
language: nl
tags: [security, phishing]
products: [security-scan, werkplek-beheer]
published: 2026-11-20
expires: 2026-12-31
priority: 2
url: https://www.polderlicht-it.nl/actueel/phishing-zorg
summary: Valse facturen uit naam van zorgverzekeraars; zo herkent u ze.
---
Sinds half november ontvangen zorginstellingen valse facturen uit naam van zorgverzekeraars.
Controleer altijd het IBAN-nummer en klik niet op links in onverwachte betaalverzoeken.
""",
    "nl/klantcase-lindehof.md": """\
---
title: Hoe Zorggroep Lindehof haar dossiers veilig naar de cloud bracht
type: case
language: nl
tags: [cloud, opslag]
products: [cloud-opslag]
sectors: [zorg]
published: 2026-10-01
url: https://www.polderlicht-it.nl/klanten/lindehof
summary: Van eigen serverruimte naar cloudopslag, zonder een dag stilstand.
---
Zorggroep Lindehof verhuisde in drie maanden 40 TB aan dossiers naar de cloud.

> "We merkten er op de werkvloer niets van." — Anne Jansen
""",
    "nl/webinar-cloud.md": """\
---
title: "Webinar: kosten van cloudopslag in de hand"
type: event
language: nl
tags: [cloud]
products: [cloud-opslag]
segments: [A, B]
published: 2026-11-15
expires: 2026-12-10
event_date: 2026-12-10
url: https://www.polderlicht-it.nl/events/webinar-cloudkosten
summary: Een uur over opslagklassen, archivering en de factuur van volgend jaar.
---
Op 10 december laten we in een uur zien hoe u de kosten van cloudopslag voorspelbaar houdt.
""",
    "en/backup-testing.md": """\
---
title: Backups you can actually restore
type: article
language: en
tags: [backup, security]
products: [backup-pro]
published: 2026-11-02
priority: 1
url: https://www.polderlicht-it.nl/en/knowledge/backup-testing
summary: Three questions to check that your backup works when it matters.
---
A backup is only worth something if you can **restore** it. Ask yourself three questions.
""",
    "en/cloud-outage-alert.md": """\
---
title: Planned maintenance on cloud storage, 12 December
type: alert
language: en
tags: [cloud, opslag]
products: [cloud-opslag]
published: 2026-11-25
expires: 2027-01-31
priority: 2
url: https://www.polderlicht-it.nl/en/status/maintenance-december
summary: Cloud storage is read-only for two hours on 12 December; here is what to plan.
---
On **12 December** between 06:00 and 08:00 cloud storage is read-only.
""",
    "tags.yaml": """\
# How the tags read in an e-mail, per language.
backup: {nl: back-ups, en: backups}
cloud: cloud
opslag: {nl: opslag, en: storage}
phishing: phishing
security: security
""",
}

DATA_FILES: dict[str, str] = {
    "account_managers.csv": ACCOUNT_MANAGERS_CSV,
    "customers.csv": CUSTOMERS_CSV,
    "contacts.csv": CONTACTS_CSV,
    "orders.csv": ORDERS_CSV,
    "evaluations.csv": EVALUATIONS_CSV,
    "interactions.csv": INTERACTIONS_CSV,
    "suppressions.csv": SUPPRESSIONS_CSV,
    "products.yaml": PRODUCTS_YAML,
}


def write_tiny_project(root: Path) -> Path:
    """Write the tiny project into `root` (created if needed) and return it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "settings.yaml").write_text(SETTINGS_YAML, encoding="utf-8")
    (root / "segments.yaml").write_text(SEGMENTS_YAML, encoding="utf-8")
    data = root / "data"
    data.mkdir(exist_ok=True)
    for name, text in DATA_FILES.items():
        (data / name).write_text(text, encoding="utf-8", newline="")
    for rel, text in CONTENT.items():
        path = root / "content" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    templates = REPO / "templates"
    if templates.is_dir():
        shutil.copytree(templates, root / "templates", dirs_exist_ok=True)
    return root


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    """A tiny complete project (settings, segments, data, content, templates) in tmp_path."""
    return write_tiny_project(tmp_path / "project")


def make_config(**overrides: Any) -> SegmentsConfig:
    """Return the tiny project's segments config, with fields replaced by `overrides`."""
    base = SegmentsConfig(
        window_months=12,
        weights={
            "revenue": Fraction(1, 2),
            "margin": Fraction(3, 10),
            "strategic": Fraction(1, 5),
        },
        points=StrategicPoints(),
        groups_by=None,
        cutoffs={Segment.A: Fraction(4, 5), Segment.B: Fraction(19, 20)},
        overrides=(
            Override(
                customer_id="C003",
                segment=Segment.B,
                reason="Strategische zorgpartner, uitbreiding in 2027",
                until=date(2027, 6, 30),
            ),
        ),
        quiet_after_days=30,
        treatment={
            Segment.A: Treatment(
                newsletter_every_days=30,
                alerts=True,
                max_items=5,
                call_within_days=7,
                contact_schedule=(
                    ScheduleRule(OurLevel.ACCOUNT_MANAGER, Level.OPERATIONAL, 30),
                    ScheduleRule(OurLevel.MANAGEMENT, Level.MANAGEMENT, 90),
                ),
            ),
            Segment.B: Treatment(newsletter_every_days=30, alerts=True, max_items=4, call_within_days=14),
            Segment.C: Treatment(newsletter_every_days=90, alerts=False, max_items=3),
            Segment.D: Treatment(newsletter_every_days=180, alerts=False, max_items=3, review=True),
        },
        satisfaction_norm=Decimal(8),
    )
    return replace(base, **overrides)
