"""Generate a synthetic but realistic project: the sample company "Polderlicht IT B.V.".

The same generator writes the bundled sample (150 customers, seed 2026) and benchmark sets of
any size. Everything is derived from one `random.Random(seed)` and the fixed reference date
REFERENCE_AS_OF, never from the wall clock, so a seed always gives byte-identical files.

Speed matters (100,000 customers, about 1.7 million orders, well under a minute): rows are
built as plain lists of strings, dates come from a precomputed table of ISO strings, and the
CSV files are streamed to disk in large batches so memory stays flat. Sets over 10,000
customers are cut into blocks that worker processes write in parallel; each block has its own
seed and its own range of contact and order numbers, so the bytes do not depend on the number
of processes.

The bundled sample in the repository (data/, segments.yaml, settings.yaml) is exactly
`generate_project(dir, 150, seed=2026)`; tests/test_demo.py checks that. To change it, change
this module and regenerate:

    windstil demo-data --customers 150 --seed 2026 --out /tmp/sample
    rm -r data && cp -r /tmp/sample/data /tmp/sample/segments.yaml /tmp/sample/settings.yaml .
"""

from __future__ import annotations

import csv
import functools
import logging
import math
import os
import random
import shutil
import unicodedata
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import SupportsLenAndGetItem

from pipeline.errors import OutputError, UsageError

_T = TypeVar("_T")

log = logging.getLogger(__name__)

REFERENCE_AS_OF = date(2026, 11, 30)
HISTORY_START = date(2023, 12, 1)  # the export holds three years of orders
_EPOCH = date(2008, 1, 1)  # day 0 of the ISO-string table
_DAYS = [(_EPOCH + timedelta(days=i)).isoformat() for i in range((date(2031, 1, 1) - _EPOCH).days)]
_AS_OF = (REFERENCE_AS_OF - _EPOCH).days
_HISTORY = (HISTORY_START - _EPOCH).days
_FLUSH_ROWS = 50_000
_SECTOR_WEIGHTS = (14, 12, 16, 9, 15, 20, 14)
_CONTRACT_DAYS = (365, 365, 365, 180, 90, 730)
_CHANNELS = ("call", "visit", "meeting", "email")
_CHANNEL_CUM_WEIGHTS = (45, 60, 85, 100)

TAGS = (
    "backup",
    "security",
    "cloud",
    "werkplek",
    "netwerk",
    "compliance",
    "telefonie",
    "microsoft365",
    "training",
    "hosting",
    "erp",
    "printen",
)

SECTORS = (
    "zorg",
    "onderwijs",
    "logistiek",
    "overheid",
    "retail",
    "zakelijke dienstverlening",
    "industrie",
)


@dataclass(frozen=True)
class DemoSummary:
    """What `generate_project` wrote."""

    out: Path
    customers: int
    contacts: int
    orders: int
    evaluations: int
    interactions: int
    suppressions: int
    account_managers: int
    products: int
    content_items: int
    templates_copied: bool


# --------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class _Product:
    id: str
    name: str
    tags: tuple[str, ...]
    cross_sell: tuple[str, ...]
    up_sell: tuple[str, ...]
    base_revenue: float  # a typical order for a mid-sized customer, in euro
    project: bool  # a project (weeks) rather than a service contract (months)
    descriptions: tuple[str, ...]  # "{n}" is a size figure (seats, users, sites)


PRODUCTS: tuple[_Product, ...] = (
    _Product(
        "managed-werkplek",
        "Managed Werkplek",
        ("werkplek", "microsoft365", "security"),
        ("m365-backup", "security-awareness", "printbeheer"),
        ("servicedesk-24x7",),
        16000,
        False,
        (
            "Managed Werkplek, {n} werkplekken, contract 12 maanden",
            "Uitbreiding Managed Werkplek met {n} laptops",
            "Verlenging Managed Werkplek, {n} gebruikers",
        ),
    ),
    _Product(
        "m365-beheer",
        "Microsoft 365 Beheer",
        ("microsoft365", "cloud", "werkplek"),
        ("m365-backup", "security-awareness", "voip-telefonie"),
        ("managed-werkplek",),
        5200,
        False,
        (
            "Microsoft 365 beheer, {n} licenties",
            "Microsoft 365 tenantbeheer en licentiebeheer, {n} gebruikers",
            "Migratie naar Microsoft 365 en beheer, {n} mailboxen",
        ),
    ),
    _Product(
        "backup-herstel",
        "Back-up & Herstel",
        ("backup", "security"),
        ("m365-backup", "cloud-hosting"),
        ("disaster-recovery",),
        4300,
        False,
        (
            "Back-up & Herstel, {n} TB, dagelijkse back-up",
            "Back-up & Herstel incl. kwartaalhersteltest, {n} TB",
            "Offsite back-up, {n} TB, contract 12 maanden",
        ),
    ),
    _Product(
        "m365-backup",
        "Microsoft 365 Back-up",
        ("backup", "microsoft365", "cloud"),
        ("backup-herstel",),
        ("disaster-recovery",),
        1900,
        False,
        (
            "Back-up Microsoft 365 (Exchange, OneDrive, SharePoint), {n} gebruikers",
            "Microsoft 365 Back-up, {n} gebruikers, bewaartermijn 1 jaar",
        ),
    ),
    _Product(
        "disaster-recovery",
        "Disaster Recovery as a Service",
        ("backup", "cloud", "hosting"),
        ("soc-monitoring",),
        (),
        14000,
        False,
        ("Disaster Recovery as a Service, {n} servers, RTO 4 uur", "Uitwijkvoorziening in de cloud, {n} servers"),
    ),
    _Product(
        "cloud-hosting",
        "Cloud Hosting",
        ("cloud", "hosting"),
        ("backup-herstel", "firewall-beheer", "erp-koppelingen"),
        ("private-cloud",),
        8800,
        False,
        (
            "Cloud Hosting, {n} virtuele servers",
            "Hosting applicatieservers in ons datacenter Utrecht, {n} VM's",
            "Migratie on-premise servers naar Cloud Hosting, {n} servers",
        ),
    ),
    _Product(
        "private-cloud",
        "Private Cloud",
        ("cloud", "hosting", "compliance"),
        ("disaster-recovery", "soc-monitoring"),
        (),
        26000,
        False,
        (
            "Private Cloud omgeving, {n} vCPU, dedicated hardware",
            "Private Cloud met uitwijk naar tweede datacenter, {n} vCPU",
        ),
    ),
    _Product(
        "soc-monitoring",
        "Security Monitoring (SOC)",
        ("security", "compliance"),
        ("pentest", "security-awareness"),
        (),
        13500,
        False,
        ("Security Monitoring (SOC) 24/7, {n} endpoints", "SOC-dienst met SIEM en incidentrespons, {n} endpoints"),
    ),
    _Product(
        "firewall-beheer",
        "Firewall Beheer",
        ("security", "netwerk"),
        ("pentest", "netwerk-wifi"),
        ("soc-monitoring",),
        3400,
        False,
        (
            "Firewall Beheer, {n} locaties",
            "Vervanging en beheer firewalls, {n} locaties",
            "Firewall Beheer incl. SSL-VPN, {n} gebruikers",
        ),
    ),
    _Product(
        "netwerk-wifi",
        "Netwerk & Wifi",
        ("netwerk",),
        ("firewall-beheer", "voip-telefonie"),
        (),
        7800,
        True,
        (
            "Wifi-netwerk magazijn, {n} access points",
            "Netwerkvernieuwing, {n} switches en access points",
            "Site survey en wifi-uitbreiding, {n} access points",
        ),
    ),
    _Product(
        "voip-telefonie",
        "VoIP Telefonie",
        ("telefonie", "cloud"),
        ("netwerk-wifi", "m365-beheer"),
        (),
        3900,
        False,
        (
            "VoIP Telefonie, {n} toestellen",
            "Hosted telefonie met Teams-koppeling, {n} gebruikers",
            "Overstap naar VoIP Telefonie, {n} nummers",
        ),
    ),
    _Product(
        "servicedesk",
        "Servicedesk",
        ("werkplek",),
        ("managed-werkplek", "printbeheer"),
        ("servicedesk-24x7",),
        6600,
        False,
        ("Servicedesk kantooruren, {n} gebruikers", "Servicedesk-strippenkaart, {n} uur"),
    ),
    _Product(
        "servicedesk-24x7",
        "Servicedesk 24/7",
        ("werkplek",),
        ("soc-monitoring",),
        (),
        13800,
        False,
        ("Servicedesk 24/7 met storingsdienst, {n} gebruikers",),
    ),
    _Product(
        "erp-koppelingen",
        "ERP-koppelingen",
        ("erp", "cloud"),
        ("cloud-hosting",),
        (),
        11500,
        True,
        (
            "Koppeling ERP met webshop, {n} berichttypen",
            "ERP-koppeling met boekhouding en WMS, {n} interfaces",
            "Migratie ERP naar de cloud, {n} modules",
        ),
    ),
    _Product(
        "security-awareness",
        "Security Awareness Training",
        ("security", "training"),
        ("pentest", "nis2-scan"),
        (),
        2600,
        True,
        ("Security awareness training, {n} medewerkers", "Phishing-simulatie en e-learning, {n} medewerkers"),
    ),
    _Product(
        "pentest",
        "Pentest",
        ("security", "compliance"),
        ("soc-monitoring", "firewall-beheer"),
        (),
        7200,
        True,
        (
            "Pentest externe infrastructuur, {n} IP-adressen",
            "Pentest webapplicatie en hertest",
            "Pentest interne netwerk, {n} segmenten",
        ),
    ),
    _Product(
        "nis2-scan",
        "NIS2 Quickscan",
        ("compliance", "security"),
        ("soc-monitoring", "security-awareness", "pentest"),
        (),
        4200,
        True,
        ("NIS2 Quickscan met verbeterplan", "NIS2 gap-analyse, {n} processen"),
    ),
    _Product(
        "printbeheer",
        "Printbeheer",
        ("printen", "werkplek"),
        ("managed-werkplek",),
        (),
        2700,
        False,
        ("Printbeheer, {n} multifunctionals", "Follow-me printing en beheer, {n} printers"),
    ),
)

# Which products a sector tends to buy, and how likely each is picked for a customer.
_SECTOR_PRODUCTS: dict[str, tuple[str, ...]] = {
    "zorg": (
        "managed-werkplek",
        "m365-beheer",
        "backup-herstel",
        "soc-monitoring",
        "private-cloud",
        "security-awareness",
        "nis2-scan",
        "voip-telefonie",
    ),
    "onderwijs": (
        "netwerk-wifi",
        "m365-beheer",
        "managed-werkplek",
        "printbeheer",
        "servicedesk",
        "m365-backup",
        "security-awareness",
    ),
    "logistiek": (
        "netwerk-wifi",
        "erp-koppelingen",
        "cloud-hosting",
        "firewall-beheer",
        "voip-telefonie",
        "servicedesk-24x7",
        "backup-herstel",
    ),
    "overheid": (
        "soc-monitoring",
        "nis2-scan",
        "pentest",
        "private-cloud",
        "managed-werkplek",
        "disaster-recovery",
        "security-awareness",
    ),
    "retail": (
        "cloud-hosting",
        "erp-koppelingen",
        "firewall-beheer",
        "voip-telefonie",
        "m365-beheer",
        "netwerk-wifi",
        "printbeheer",
    ),
    "zakelijke dienstverlening": (
        "m365-beheer",
        "managed-werkplek",
        "m365-backup",
        "security-awareness",
        "servicedesk",
        "voip-telefonie",
        "printbeheer",
        "backup-herstel",
    ),
    "industrie": (
        "erp-koppelingen",
        "netwerk-wifi",
        "backup-herstel",
        "disaster-recovery",
        "firewall-beheer",
        "pentest",
        "cloud-hosting",
        "managed-werkplek",
    ),
}


def products_yaml() -> str:
    """Return the catalogue as data/products.yaml text."""
    lines = [
        "# Product catalogue of Polderlicht IT B.V.",
        "# id: used in orders.csv (product_id) and in content items (products: [...]).",
        "# tags: the same small vocabulary as the content items and the contacts' interests.",
        "# cross_sell: products that complement this one; up_sell: the bigger version of it.",
        "",
    ]
    for p in PRODUCTS:
        lines += [
            f"- id: {p.id}",
            f'  name: "{p.name}"',
            f"  tags: [{', '.join(p.tags)}]",
            f"  cross_sell: [{', '.join(p.cross_sell)}]",
            f"  up_sell: [{', '.join(p.up_sell)}]",
        ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- names

_PLACES = (
    "Utrecht",
    "Amersfoort",
    "Zeist",
    "Nieuwegein",
    "Houten",
    "IJsselstein",
    "Woerden",
    "Veenendaal",
    "Culemborg",
    "Tiel",
    "Geldermalsen",
    "Gorinchem",
    "Leerdam",
    "Vianen",
    "Hilversum",
    "Bussum",
    "Baarn",
    "Soest",
    "Maarssen",
    "Breukelen",
    "Amsterdam",
    "Haarlem",
    "Zaandam",
    "Purmerend",
    "Alkmaar",
    "Hoorn",
    "Den Helder",
    "Leiden",
    "Delft",
    "Gouda",
    "Alphen aan den Rijn",
    "Zoetermeer",
    "Rotterdam",
    "Schiedam",
    "Dordrecht",
    "Barendrecht",
    "Spijkenisse",
    "Den Haag",
    "Rijswijk",
    "Westland",
    "Breda",
    "Tilburg",
    "Eindhoven",
    "Helmond",
    "Den Bosch",
    "Oss",
    "Uden",
    "Veghel",
    "Roosendaal",
    "Bergen op Zoom",
    "Etten-Leur",
    "Oosterhout",
    "Waalwijk",
    "Middelburg",
    "Vlissingen",
    "Goes",
    "Terneuzen",
    "Venlo",
    "Roermond",
    "Weert",
    "Sittard",
    "Heerlen",
    "Maastricht",
    "Nijmegen",
    "Arnhem",
    "Ede",
    "Wageningen",
    "Apeldoorn",
    "Deventer",
    "Zutphen",
    "Doetinchem",
    "Winterswijk",
    "Zwolle",
    "Kampen",
    "Hardenberg",
    "Almelo",
    "Hengelo",
    "Enschede",
    "Oldenzaal",
    "Lelystad",
    "Almere",
    "Dronten",
    "Emmeloord",
    "Assen",
    "Emmen",
    "Meppel",
    "Hoogeveen",
    "Groningen",
    "Veendam",
    "Winschoten",
    "Leeuwarden",
    "Drachten",
    "Heerenveen",
    "Sneek",
    "Harderwijk",
    "Nijkerk",
    "Barneveld",
    "Elst",
    "Zevenaar",
    "Oosterbeek",
    "Naarden",
)

_REGIONS = (
    "Rivierenland",
    "West-Brabant",
    "Noord-Holland Noord",
    "Twente",
    "De Liemers",
    "Achterhoek",
    "Zuid-Limburg",
    "Drechtsteden",
    "Kennemerland",
    "Gooi en Vecht",
    "Veluwe",
    "Midden-Holland",
    "Eemland",
    "De Kempen",
    "Peel en Maas",
    "Haaglanden",
    "Rijnmond",
    "Utrecht-West",
    "Zuidoost-Brabant",
    "Salland",
    "Vechtdal",
    "Hollands Midden",
    "Zaanstreek",
    "Westfriesland",
    "Flevoland",
    "Noord-Veluwe",
    "Vallei en Heuvelrug",
    "Lekstroom",
    "Krimpenerwaard",
    "Alblasserwaard",
    "Bommelerwaard",
    "Hart van Brabant",
    "Noordoost-Friesland",
    "Zuidwest-Drenthe",
    "Oost-Groningen",
    "Midden-Limburg",
)

# (tussenvoegsel, surname)
_SURNAMES = (
    ("de", "Vries"),
    ("", "Jansen"),
    ("van den", "Berg"),
    ("van", "Dijk"),
    ("", "Bakker"),
    ("", "Janssen"),
    ("", "Visser"),
    ("", "Smit"),
    ("", "Meijer"),
    ("de", "Boer"),
    ("", "Mulder"),
    ("de", "Groot"),
    ("", "Bos"),
    ("", "Vos"),
    ("", "Peters"),
    ("", "Hendriks"),
    ("van", "Leeuwen"),
    ("", "Dekker"),
    ("", "Brouwer"),
    ("de", "Wit"),
    ("", "Dijkstra"),
    ("", "Smits"),
    ("de", "Graaf"),
    ("van der", "Meer"),
    ("van der", "Linden"),
    ("", "Kok"),
    ("", "Jacobs"),
    ("de", "Haan"),
    ("", "Vermeulen"),
    ("van den", "Heuvel"),
    ("van der", "Veen"),
    ("van den", "Broek"),
    ("de", "Bruijn"),
    ("de", "Jong"),
    ("van der", "Heijden"),
    ("", "Schouten"),
    ("van", "Beek"),
    ("", "Willems"),
    ("van", "Vliet"),
    ("van de", "Ven"),
    ("", "Hoekstra"),
    ("", "Maas"),
    ("", "Verhoeven"),
    ("", "Koster"),
    ("van", "Dam"),
    ("van der", "Wal"),
    ("", "Prins"),
    ("", "Blom"),
    ("", "Huisman"),
    ("", "Peeters"),
    ("de", "Lange"),
    ("", "Kuipers"),
    ("van", "Wijk"),
    ("", "Postma"),
    ("", "Kramer"),
    ("van den", "Bosch"),
    ("", "Scholten"),
    ("", "Koning"),
    ("van", "Rijn"),
    ("", "Timmermans"),
    ("", "Veenstra"),
    ("van", "Vugt"),
    ("ter", "Horst"),
    ("", "Wouters"),
    ("", "Groen"),
    ("van", "Loon"),
    ("", "Martens"),
    ("", "Verbeek"),
    ("", "Bosman"),
    ("", "Haverkamp"),
    ("van", "Gelder"),
    ("", "Hermans"),
    ("op de", "Beek"),
    ("", "Claassen"),
    ("van", "Essen"),
    ("", "Schipper"),
    ("in 't", "Veld"),
    ("", "Evers"),
    ("", "Sanders"),
    ("", "Wijnands"),
    ("van", "Os"),
    ("", "Bouwman"),
    ("", "Nijhuis"),
    ("", "Yilmaz"),
    ("", "El Amrani"),
    ("", "Kaya"),
    ("", "Nguyen"),
    ("", "Ramdin"),
    ("", "Pinas"),
    ("", "Wong"),
    ("", "Boukhari"),
    ("", "Demir"),
    ("", "Sedney"),
)

_FIRST_NAMES = (
    "Jan",
    "Peter",
    "Mark",
    "Sander",
    "Thomas",
    "Bas",
    "Rob",
    "Erik",
    "Martijn",
    "Joost",
    "Jeroen",
    "Dennis",
    "Kevin",
    "Ruben",
    "Niels",
    "Tim",
    "Wouter",
    "Hans",
    "Gerard",
    "Frank",
    "Henk",
    "Koen",
    "Daan",
    "Lars",
    "Stefan",
    "Ahmed",
    "Mehmet",
    "Youssef",
    "Rajesh",
    "Bram",
    "Anne",
    "Sanne",
    "Lisa",
    "Marieke",
    "Esther",
    "Linda",
    "Ingrid",
    "Monique",
    "Petra",
    "Saskia",
    "Karin",
    "Femke",
    "Iris",
    "Lotte",
    "Eva",
    "Charlotte",
    "Sophie",
    "Naomi",
    "Fatima",
    "Samira",
    "Ayse",
    "Mirjam",
    "Wendy",
    "Annemarie",
    "Judith",
    "Ilse",
    "Nicole",
    "Marloes",
    "Janneke",
    "Hanneke",
    "Roos",
    "Fleur",
    "Joyce",
    "Esmee",
    "Noor",
    "Tessa",
)

_INTL_FIRST = (
    "James",
    "Emma",
    "Oliver",
    "Sophia",
    "Lars",
    "Ingrid",
    "Pierre",
    "Claire",
    "Marco",
    "Giulia",
    "Anna",
    "Piotr",
    "Priya",
    "Arjun",
    "Michael",
    "Sarah",
    "Thomas",
    "Julia",
    "David",
    "Laura",
    "Sven",
    "Katarzyna",
    "Miguel",
    "Elena",
    "Daniel",
    "Hannah",
)
_INTL_LAST = (
    "Miller",
    "Smith",
    "Johnson",
    "Schmidt",
    "Müller",
    "Weber",
    "Eriksen",
    "Nielsen",
    "Dubois",
    "Laurent",
    "Rossi",
    "Bianchi",
    "Kowalski",
    "Nowak",
    "Patel",
    "Sharma",
    "O'Brien",
    "Murphy",
    "García",
    "Fernández",
    "Andersson",
    "Lindqvist",
    "Brown",
    "Taylor",
)

_INTL_WORDS = (
    "Nordwind",
    "Aurora",
    "Bluewater",
    "Kestrel",
    "Meridian",
    "Northstar",
    "Silverline",
    "Harbour",
    "Atlas",
    "Orion",
    "Vantage",
    "Crestview",
    "Evergreen",
    "Summit",
    "Polaris",
    "Ironbridge",
    "Lighthouse",
    "Cobalt",
    "Riverside",
    "Falcon",
    "Sterling",
    "Horizon",
    "Beacon",
    "Granite",
    "Westbrook",
    "Zenith",
    "Pinnacle",
    "Aspen",
    "Tidewater",
    "Keystone",
)

# Name patterns per sector; {s} a surname ("Van Dijk"), {s2} another, {p} a place, {r} a region.
_NAME_PATTERNS: dict[str, tuple[str, ...]] = {
    "zorg": (
        "Zorggroep {r}",
        "Huisartsenpraktijk {s}",
        "Thuiszorg {p}",
        "Tandartspraktijk {s}",
        "Fysiotherapie {p}",
        "Woonzorgcentrum De {w}",
        "Stichting Zorg {p}",
        "Gezondheidscentrum {p}",
        "Apotheek {s}",
        "Kraamzorg {r}",
        "GGZ {r}",
        "Verpleeghuis De {w}",
        "Revalidatiecentrum {r}",
    ),
    "onderwijs": (
        "Scholengroep {r}",
        "Stichting Primair Onderwijs {p}",
        "{p}s Lyceum",
        "Christelijk College {p}",
        "ROC {r}",
        "Kinderopvang {w}",
        "Montessorischool {p}",
        "Onderwijsstichting {r}",
        "Daltonschool De {w}",
        "Kindcentrum De {w}",
        "Opleidingscentrum {s}",
        "Taleninstituut {p}",
    ),
    "logistiek": (
        "Logistiek Centrum {p}",
        "Transportbedrijf {s}",
        "{s} Transport B.V.",
        "Koeltransport {p} B.V.",
        "Distributiecentrum {r}",
        "{s} Logistiek B.V.",
        "Expeditie {s}",
        "Container Terminal {p}",
        "Koeriersdienst {p}",
        "Warehousing {r} B.V.",
        "{s} & Zonen Transport",
        "Binnenvaart {s} B.V.",
    ),
    "overheid": (
        "Gemeente {p}",
        "Waterschap {r}",
        "Omgevingsdienst {r}",
        "Veiligheidsregio {r}",
        "GGD {r}",
        "Regionaal Archief {r}",
        "Belastingsamenwerking {r}",
        "Werkbedrijf {r}",
        "Recreatieschap {r}",
        "Sociale Dienst {r}",
    ),
    "retail": (
        "Bakkerij {s}",
        "Slagerij {s}",
        "{s} Mode",
        "Fietsenwinkel {s}",
        "Tuincentrum {p}",
        "Bouwmarkt {p}",
        "Juwelier {s}",
        "Boekhandel {s}",
        "Witgoed {s} B.V.",
        "Woonwinkel {p}",
        "Drogisterij {s}",
        "Wijnhandel {s}",
        "{s} Schoenen",
        "Keukenstudio {p}",
        "Supermarkt {s}",
        "Opticien {s}",
    ),
    "zakelijke dienstverlening": (
        "Advocatenkantoor {s} & {s2}",
        "Accountantskantoor {s}",
        "Notariskantoor {s}",
        "{s} Adviesgroep",
        "Makelaardij {s}",
        "Administratiekantoor {p}",
        "{s} Recruitment",
        "Architectenbureau {s}",
        "Ingenieursbureau {s}",
        "{s} & {s2} Belastingadviseurs",
        "Verzekeringen {s} B.V.",
        "Communicatiebureau {w}",
        "{s} Vastgoed B.V.",
        "Hypotheekadvies {p}",
    ),
    "industrie": (
        "Metaalbewerking {s} B.V.",
        "{p} Kunststoffen B.V.",
        "Machinefabriek {s}",
        "Drukkerij {s}",
        "Voedingsmiddelen {p} B.V.",
        "{s} Installatietechniek",
        "Houtindustrie {s}",
        "Betonfabriek {r}",
        "{s} Elektrotechniek B.V.",
        "Staalbouw {p} N.V.",
        "Verpakkingen {r} B.V.",
        "Zuivelfabriek {r}",
        "{s} Precisietechniek B.V.",
        "Meubelfabriek {s}",
    ),
}

_INTL_PATTERNS: dict[str, tuple[str, ...]] = {
    "logistiek": (
        "{i} Logistics Benelux B.V.",
        "{i} Freight Europe B.V.",
        "{i} Shipping Netherlands",
        "{i} Supply Chain B.V.",
    ),
    "industrie": (
        "{i} Pharma Netherlands B.V.",
        "{i} Chemicals Europe",
        "{i} Biotech B.V.",
        "{i} Components Europe B.V.",
    ),
    "zakelijke dienstverlening": (
        "{i} Consulting Group",
        "{i} Capital Partners",
        "{i} Legal Netherlands",
        "{i} Software B.V.",
    ),
    "onderwijs": ("International School {p}", "{i} Business School"),
    "retail": ("{i} Retail Europe B.V.", "{i} Outdoor Benelux"),
    "zorg": ("{i} Medical Devices Europe", "{i} Clinic Amsterdam"),
}

_HOUSE_WORDS = (
    "Linde",
    "Eik",
    "Beuk",
    "Zonnebloem",
    "Regenboog",
    "Wilgenhof",
    "Vlinder",
    "Klimop",
    "Horizon",
    "Meander",
    "Kempenhorst",
    "Boomgaard",
    "Waterlelie",
    "Zwaluw",
    "Kompas",
    "Morgenster",
    "Hoeksteen",
    "Vuurtoren",
    "Ooievaar",
    "Schakel",
)

_JOB_TITLES: dict[str, dict[str, tuple[str, ...]]] = {
    "nl": {
        "management": (
            "Directeur",
            "Algemeen directeur",
            "Eigenaar",
            "Bestuurder",
            "Operationeel directeur",
            "Directeur bedrijfsvoering",
            "Manager bedrijfsvoering",
        ),
        "operational": (
            "IT-manager",
            "Officemanager",
            "Facilitair manager",
            "Teamleider ICT",
            "Manager informatievoorziening",
            "Applicatiebeheerder",
            "Informatiemanager",
        ),
        "technical": (
            "Systeembeheerder",
            "Netwerkbeheerder",
            "Medewerker ICT",
            "Functioneel beheerder",
            "Security officer",
            "Technisch specialist",
        ),
        "finance": (
            "Controller",
            "Financieel manager",
            "Hoofd financiën",
            "Inkoper",
            "Financieel directeur",
            "Medewerker inkoop",
        ),
    },
    "en": {
        "management": ("Managing Director", "General Manager", "CEO", "Country Manager", "Chief Operating Officer"),
        "operational": ("IT Manager", "Office Manager", "Operations Manager", "Head of IT", "Facility Manager"),
        "technical": (
            "System Administrator",
            "Network Engineer",
            "IT Specialist",
            "Security Officer",
            "DevOps Engineer",
        ),
        "finance": ("Finance Manager", "Controller", "CFO", "Procurement Manager"),
    },
}

_LEVEL_INTERESTS: dict[str, tuple[str, ...]] = {
    "management": ("compliance", "security", "cloud", "training"),
    "operational": ("werkplek", "microsoft365", "telefonie", "printen", "training", "cloud"),
    "technical": ("security", "netwerk", "backup", "cloud", "hosting", "microsoft365"),
    "finance": ("erp", "compliance", "cloud", "printen"),
}

_LEVEL_ORDER = ("management", "operational", "technical", "finance")

_ACCOUNT_MANAGERS = (
    ("AM01", "Sanne de Vries", "sanne.devries@polderlicht-it.nl", "+31 30 123 45 71"),
    ("AM02", "Mark Jansen", "mark.jansen@polderlicht-it.nl", "+31 30 123 45 72"),
    ("AM03", "Fatima El Amrani", "fatima.elamrani@polderlicht-it.nl", "+31 30 123 45 73"),
    ("AM04", "Pieter van den Berg", "pieter.vandenberg@polderlicht-it.nl", "+31 30 123 45 74"),
    ("AM05", "Lotte Bakker", "lotte.bakker@polderlicht-it.nl", "+31 30 123 45 75"),
)

_AREA_CODES = (
    "010",
    "020",
    "030",
    "033",
    "035",
    "038",
    "040",
    "043",
    "050",
    "053",
    "070",
    "071",
    "072",
    "073",
    "076",
    "079",
    "0318",
    "0345",
    "0348",
    "0413",
)

_COMMENTS_LOW = {
    "nl": (
        "Reactietijd helpdesk te traag",
        "Planning liep flink uit, te laat gecommuniceerd",
        "Veel storingen na de migratie",
        "Offerte en factuur kwamen niet overeen",
        "Wisselende contactpersonen, weinig overdracht",
        "Documentatie ontbrak bij oplevering",
        "Terugbelafspraak werd niet nagekomen",
        "Monteur had onvoldoende kennis van onze omgeving",
    ),
    "en": (
        "Helpdesk response time too slow",
        "Project ran late and we were informed too late",
        "Several outages after the migration",
        "Invoice did not match the quote",
        "Too many changes in contact persons",
    ),
}
_COMMENTS_HIGH = {
    "nl": (
        "Prettige samenwerking, alles volgens planning",
        "Snel en vakkundig opgelost",
        "Duidelijke communicatie tijdens het project",
        "Goede meedenker, komt met eigen voorstellen",
        "Migratie verliep zonder verstoring",
        "Helpdesk is goed bereikbaar",
    ),
    "en": (
        "Smooth project, delivered on time",
        "Quick and knowledgeable support",
        "Clear communication throughout",
    ),
}

_SUPPRESSION_REASONS = (
    "afgemeld via afmeldlink",
    "bounce: adres bestaat niet meer",
    "verzoek via accountmanager",
    "klacht: geen nieuwsbrief gewenst",
)


def _spread(n: int) -> float:
    """Return a number in [0, 1) that covers the interval evenly as n counts up.

    Shares that a small sample must hit closely (English customers, suppressed addresses) use
    this instead of a random draw, so 150 customers give about 15% and not 10% or 20%.
    """
    return (n * 0.6180339887498949) % 1.0


class _FastRandom(random.Random):
    """random.Random with a cheaper choice() and randint(): they run millions of times."""

    def choice(self, seq: SupportsLenAndGetItem[_T]) -> _T:
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


@functools.lru_cache(maxsize=4096)
def _name_slug(text: str) -> str:
    return _slug(text)


def _slug(text: str) -> str:
    """Return lowercase ASCII letters and digits only (for e-mail local parts and domains)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


def _surname(rng: random.Random, *, company: bool) -> str:
    prefix, name = rng.choice(_SURNAMES)
    if not prefix:
        return name
    # Dutch writes the tussenvoegsel with a capital when no first name precedes it.
    return f"{prefix[0].upper()}{prefix[1:]} {name}" if company else f"{prefix} {name}"


_STRIP_FOR_DOMAIN = (" B.V.", " N.V.", " V.O.F.", " & Zonen", " Benelux", " Netherlands", " Europe")


class _Names:
    """Unique company names and e-mail domains."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.names: set[str] = set()
        self.domains: set[str] = set()

    def company(self, sector: str, international: bool) -> str:
        rng = self.rng
        patterns = _INTL_PATTERNS.get(sector) if international else None
        if not patterns:
            patterns = _NAME_PATTERNS[sector]
        name = ""
        for _ in range(8):
            name = rng.choice(patterns).format(
                s=_surname(rng, company=True),
                s2=_surname(rng, company=True),
                p=rng.choice(_PLACES),
                r=rng.choice(_REGIONS),
                w=rng.choice(_HOUSE_WORDS),
                i=rng.choice(_INTL_WORDS),
            )
            if name not in self.names:
                break
        if name in self.names:
            # Large data sets run out of combinations: add a place, then a branch number.
            base = f"{name} {rng.choice(_PLACES)}"
            name, k = base, 2
            while name in self.names:
                name, k = f"{base} {k}", k + 1
        self.names.add(name)
        return name

    def domain(self, company: str, international: bool) -> str:
        stem = company
        for part in _STRIP_FOR_DOMAIN:
            stem = stem.replace(part, "")
        slug = _slug(stem)[:40] or "bedrijf"
        if company.startswith("Gemeente "):
            slug = _slug(company[len("Gemeente ") :])
        tld = ".com" if international else ".nl"
        domain, k = f"{slug}{tld}", 2
        while domain in self.domains:
            domain, k = f"{slug}{k}{tld}", k + 1
        self.domains.add(domain)
        return domain


# --------------------------------------------------------------------------- writing


class _CsvOut:
    """One CSV file written in large batches."""

    def __init__(self, path: Path, header: Sequence[str] | None) -> None:
        self.handle: IO[str] = path.open("w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.handle, lineterminator="\n")
        if header is not None:
            self.writer.writerow(header)
        self.rows: list[list[str]] = []
        self.count = 0

    def add(self, row: list[str]) -> None:
        self.rows.append(row)

    def flush_if_full(self) -> None:
        if len(self.rows) >= _FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        self.writer.writerows(self.rows)
        self.count += len(self.rows)
        self.rows.clear()

    def close(self) -> None:
        self.flush()
        self.handle.close()


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out}: already exists and is not empty; choose a new folder for the demo project")


def generate_project(
    out: Path, customers: int, seed: int, *, content_from: Path | None = None, jobs: int | None = None
) -> DemoSummary:
    """Write a complete demo project (data, configs, content, templates) into `out`.

    `jobs` processes share the work for big data sets (default: all cores); the files are the
    same whatever the number.
    """
    if customers < 1:
        raise UsageError("--customers must be at least 1")
    _check_out(out)
    source = content_from if content_from is not None else Path(__file__).resolve().parent.parent
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        (tmp / "data").mkdir(parents=True)
        counts, override = _write_data(tmp / "data", customers, seed, jobs)
        (tmp / "data" / "products.yaml").write_text(products_yaml(), encoding="utf-8")
        (tmp / "settings.yaml").write_text(SETTINGS_YAML, encoding="utf-8")
        (tmp / "segments.yaml").write_text(segments_yaml(override), encoding="utf-8")
        content_items = _copy_tree(source / "content", tmp / "content")
        templates = _copy_tree(source / "templates", tmp / "templates") >= 0
        if out.exists():
            out.rmdir()  # empty, checked above
        os.rename(tmp, out)
    except OSError as error:
        raise OutputError(f"cannot write the demo project to {out}: {error}") from error
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("wrote a demo project with %d customers to %s", customers, out)
    return DemoSummary(
        out=out,
        customers=counts["customers"],
        contacts=counts["contacts"],
        orders=counts["orders"],
        evaluations=counts["evaluations"],
        interactions=counts["interactions"],
        suppressions=counts["suppressions"],
        account_managers=counts["account_managers"],
        products=len(PRODUCTS),
        content_items=max(content_items, 0),
        templates_copied=templates,
    )


def _copy_tree(source: Path, target: Path) -> int:
    """Copy a folder if it exists; return the number of Markdown files in it, -1 if absent."""
    if not source.is_dir():
        log.warning("%s not found: the demo project has no %s/ folder", source, source.name)
        return -1
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    return sum(1 for _ in target.rglob("*.md"))


# --------------------------------------------------------------------------- the data


_HEADERS = {
    "customers": (
        "customer_id",
        "name",
        "account_manager_id",
        "sector",
        "language",
        "customer_since",
        "reference_customer",
        "referrals",
        "knowledge_partner",
        "strategic_fit",
    ),
    "contacts": (
        "contact_id",
        "customer_id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "job_title",
        "level",
        "language",
        "newsletter_opt_in",
        "do_not_call",
        "interests",
    ),
    "orders": (
        "order_id",
        "customer_id",
        "product_id",
        "description",
        "order_date",
        "end_date",
        "revenue",
        "cost",
        "status",
    ),
    "evaluations": ("customer_id", "order_id", "date", "score", "comment"),
    "interactions": ("customer_id", "contact_id", "date", "channel", "our_level", "their_level"),
}
_BLOCK = 10_000  # customers per block; a big data set is generated block by block, in parallel
_MAX_CONTACTS = 12  # per customer: numbering room per block
_MAX_ORDERS = 401  # per customer, a signed future order included


@dataclass(frozen=True)
class _Layout:
    """What every block needs to know about the whole data set."""

    n_customers: int
    width: int  # digits of a customer id
    contact_width: int
    order_width: int
    am_ids: tuple[str, ...]


@dataclass(frozen=True)
class _BlockResult:
    counts: dict[str, int]
    suppressions: list[list[str]]
    window_revenue: list[tuple[float, str, str]]  # (revenue in the last 12 months, id, name)


def _write_data(folder: Path, n_customers: int, seed: int, jobs: int | None) -> tuple[dict[str, int], tuple[str, str]]:
    """Write data/*.csv; return the row counts and the (id, name) of the override customer.

    Up to _BLOCK customers are written in one go from `random.Random(seed)`. Bigger sets are
    cut into blocks of _BLOCK customers, each with its own seed and its own range of contact
    and order numbers, so the files do not depend on how many processes wrote them.
    """
    # Seeded pseudo-randomness is the point here: reproducible synthetic data, not secrets.
    rng = _FastRandom(seed)
    width = max(4, len(str(n_customers)))
    layout = _Layout(
        n_customers=n_customers,
        width=width,
        contact_width=max(width + 1, len(str(n_customers * _MAX_CONTACTS))),
        order_width=max(width + 2, len(str(n_customers * _MAX_ORDERS))),
        am_ids=_write_account_managers(folder, n_customers, rng),
    )
    if n_customers <= _BLOCK:
        results = [_write_block(folder, None, layout, 1, n_customers, rng, None)]
    else:
        names = _Names(rng)
        given = []
        for ci in range(1, n_customers + 1):
            sector, international = _draw_sector(rng, ci)
            name = names.company(sector, international)
            given.append((sector, international, name, names.domain(name, international)))
        parts = folder / ".parts"
        parts.mkdir()
        blocks = [
            (
                parts,
                b,
                layout,
                first,
                min(first + _BLOCK - 1, n_customers),
                f"{seed}/{b}",
                given[first - 1 : first - 1 + _BLOCK],
            )
            for b, first in enumerate(range(1, n_customers + 1, _BLOCK))
        ]
        workers = min(len(blocks), jobs or os.cpu_count() or 1)
        if workers > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(_block_job, blocks))
        else:
            results = [_block_job(block) for block in blocks]
        for table, header in _HEADERS.items():
            with (folder / f"{table}.csv").open("wb") as target:
                target.write((",".join(header) + "\n").encode("utf-8"))
                for b in range(len(blocks)):
                    with (parts / f"{table}.{b:05d}.csv").open("rb") as source:
                        shutil.copyfileobj(source, target, 1 << 20)
        shutil.rmtree(parts)

    suppressions = [row for result in results for row in result.suppressions]
    with (folder / "suppressions.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("email", "reason", "date"))
        writer.writerows(suppressions)

    # The override in segments.yaml lifts a small customer to A: "our own judgement".
    window_revenue = sorted((w for result in results for w in result.window_revenue), key=lambda s: (-s[0], s[1]))
    pick = window_revenue[len(window_revenue) * 4 // 5] if window_revenue else (0.0, f"C{1:0{width}d}", "")
    counts = {table: sum(result.counts[table] for result in results) for table in _HEADERS}
    counts["suppressions"] = len(suppressions)
    counts["account_managers"] = len(layout.am_ids)
    return counts, (pick[1], pick[2])


def _write_account_managers(folder: Path, n_customers: int, rng: random.Random) -> tuple[str, ...]:
    """Write account_managers.csv: the five named ones, more for big data sets; return the ids."""
    n_am = max(5, min(100, n_customers // 200))
    ams = _CsvOut(folder / "account_managers.csv", ("account_manager_id", "name", "email", "phone"))
    am_ids = []
    am_emails: set[str] = set()
    for i in range(n_am):
        if i < len(_ACCOUNT_MANAGERS):
            am_id, name, email, phone = _ACCOUNT_MANAGERS[i]
        else:
            am_id = f"AM{i + 1:02d}"
            first, last = rng.choice(_FIRST_NAMES), _surname(rng, company=False)
            name = f"{first} {last}"
            email = f"{_slug(first)}.{_slug(last)}@polderlicht-it.nl"
            if email in am_emails:
                email = f"{_slug(first)}.{_slug(last)}{i + 1}@polderlicht-it.nl"
            phone = f"+31 30 124 {(i + 1) // 100:02d} {(i + 1) % 100:02d}"
        am_emails.add(email)
        am_ids.append(am_id)
        ams.add([am_id, name, email, phone])
    ams.close()
    return tuple(am_ids)


def _draw_sector(rng: random.Random, ci: int) -> tuple[str, bool]:
    sector = rng.choices(SECTORS, _SECTOR_WEIGHTS)[0]
    return sector, sector != "overheid" and _spread(ci) < 0.17


def _block_job(args: tuple[Path, int, _Layout, int, int, str, list[tuple[str, bool, str, str]]]) -> _BlockResult:
    """Write one block of a big data set into part files (run in a worker process)."""
    parts, b, layout, first_ci, last_ci, seed, given = args
    return _write_block(parts, b, layout, first_ci, last_ci, _FastRandom(seed), given)


def _write_block(
    folder: Path,
    block: int | None,
    layout: _Layout,
    first_ci: int,
    last_ci: int,
    rng: random.Random,
    given: list[tuple[str, bool, str, str]] | None,
) -> _BlockResult:
    """Write customers first_ci..last_ci with their contacts, orders, evaluations and interactions.

    `block` None writes the final files with headers; a number writes headerless part files.
    `given` holds (sector, international, name, domain) per customer when drawn beforehand.
    """

    def open_table(name: str) -> _CsvOut:
        if block is None:
            return _CsvOut(folder / f"{name}.csv", _HEADERS[name])
        return _CsvOut(folder / f"{name}.{block:05d}.csv", None)

    customers, contacts, orders = open_table("customers"), open_table("contacts"), open_table("orders")
    evaluations, interactions = open_table("evaluations"), open_table("interactions")
    suppressions: list[list[str]] = []
    names = _Names(rng)
    width, am_ids = layout.width, layout.am_ids
    n_am = len(am_ids)
    products = {p.id: p for p in PRODUCTS}
    days = _DAYS
    mean_size = math.exp(1.05**2 / 2)
    contact_seq = (first_ci - 1) * _MAX_CONTACTS
    order_seq = (first_ci - 1) * _MAX_ORDERS
    contact_width, order_width = layout.contact_width, layout.order_width
    window_revenue: list[tuple[float, str, str]] = []

    tables = (customers, contacts, orders, evaluations, interactions)
    # Bound appends: the row lists are emptied in place on flush, so these stay valid.
    add_order, add_evaluation, add_interaction = orders.rows.append, evaluations.rows.append, interactions.rows.append
    for ci in range(first_ci, last_ci + 1):
        for table in tables:
            table.flush_if_full()
        customer_id = f"C{ci:0{width}d}"
        if given is None:
            sector, international = _draw_sector(rng, ci)
            name = names.company(sector, international)
            domain = names.domain(name, international)
        else:
            sector, international, name, domain = given[ci - first_ci]
        language = "en" if international else "nl"
        size = rng.lognormvariate(0.0, 1.05)
        rel = size / mean_size
        big = rel > 2.0

        # The customer's state on the reference as-of date decides where its orders end.
        r = rng.random()
        if r < 0.02:
            status = "none"
        elif r < 0.43:
            status = "active"
        elif r < 0.53:
            status = "recent"
        elif r < 0.90:
            status = "quiet"
        else:
            status = "lost"
        if status == "active":
            horizon_end = _AS_OF
        elif status == "recent":
            horizon_end = _AS_OF - rng.randint(1, 29)
        elif status == "quiet":
            horizon_end = _AS_OF - rng.randint(30, 300)
        else:
            horizon_end = _AS_OF - rng.randint(370, 900)

        if status == "none" or rng.random() < 0.08:
            since = _AS_OF - rng.randint(20, 700)  # a newer customer
        else:
            since = _AS_OF - rng.randint(700, 6000)
        if status != "none":
            since = min(since, horizon_end - rng.randint(60, 400))
        horizon_start = max(since, _HISTORY)
        if horizon_start > horizon_end - 30:
            horizon_start = horizon_end - 30

        reference = rng.random() < (0.30 if big else 0.08)
        knowledge = rng.random() < (0.20 if big else 0.06)
        referrals = 0 if rng.random() < 0.8 else rng.randint(1, 4)
        fit = min(5, max(0, int(rng.gauss(2.3 + (0.8 if big else 0), 1.2) + 0.5)))
        # The five named account managers carry unequal books, as in real life.
        am = rng.choices(range(5), (24, 22, 20, 18, 16))[0] if n_am == 5 else rng.randrange(n_am)
        customers.add(
            [
                customer_id,
                name,
                am_ids[am],
                sector,
                language,
                days[since],
                "ja" if reference else "nee",
                str(referrals),
                "ja" if knowledge else "nee",
                str(fit),
            ]
        )

        # Contacts: management first, then the other levels; bigger customers have more.
        n_contacts = max(1, min(_MAX_CONTACTS, round(rng.lognormvariate(1.01, 0.42) * rel**0.25)))
        customer_contacts: list[tuple[str, str, str]] = []  # (id, level, email)
        used_emails: set[str] = set()
        for k in range(n_contacts):
            contact_seq += 1
            contact_id = f"P{contact_seq:0{contact_width}d}"
            level = _LEVEL_ORDER[k] if k < 4 else rng.choice(_LEVEL_ORDER)
            if international and rng.random() < 0.7:
                first, last = rng.choice(_INTL_FIRST), rng.choice(_INTL_LAST)
            else:
                first, last = rng.choice(_FIRST_NAMES), _surname(rng, company=False)
            local = f"{_name_slug(first)}.{_name_slug(last)}"
            if local in used_emails:
                local = f"{_name_slug(first)[0]}.{_name_slug(last)}{k + 1}"
            used_emails.add(local)
            email = f"{local}@{domain}"
            roll = rng.random()
            if roll < 0.025:
                email = ""  # no address known
            elif roll < 0.037:
                email = rng.choice(
                    (f"{local}@", f"{local}@@{domain}", f"{local}.{domain}", f"{first.lower()} {_slug(last)}@{domain}")
                )
            phone_roll = rng.random()
            if phone_roll < 0.65:
                phone = f"+31 6 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
            elif phone_roll < 0.9:
                area = rng.choice(_AREA_CODES)
                digits = f"{rng.randint(0, 10 ** (10 - len(area)) - 1):0{10 - len(area)}d}"
                phone = f"{area} {digits[:3]} {digits[3:]}"
            else:
                phone = ""
            contact_lang = ""
            if not international and rng.random() < 0.03:
                contact_lang = "en"
            elif international and rng.random() < 0.1:
                contact_lang = "nl"
            title_lang = contact_lang or language
            interests = sorted(set(rng.sample(_LEVEL_INTERESTS[level], rng.randint(0, 3))))
            contacts.add(
                [
                    contact_id,
                    customer_id,
                    first,
                    last,
                    email,
                    phone,
                    rng.choice(_JOB_TITLES[title_lang][level]),
                    level,
                    contact_lang,
                    "ja" if rng.random() < 0.8 else "nee",
                    "ja" if rng.random() < 0.04 else "nee",
                    ";".join(interests),
                ]
            )
            customer_contacts.append((contact_id, level, email))
            if (
                "@" in email
                and email.count("@") == 1
                and not email.endswith("@")
                and " " not in email
                and _spread(contact_seq) < 0.016
            ):
                when = _AS_OF - rng.randint(10, 500)
                suppressions.append([email, rng.choice(_SUPPRESSION_REASONS), days[when]])

        if status == "none":
            continue
        recent_revenue = 0.0

        # Orders: a portfolio of products bought again and again, amounts scaled by size.
        sector_products = _SECTOR_PRODUCTS[sector]
        n_products = max(1, min(len(sector_products), round(1.5 + rel**0.4 * rng.uniform(1, 2.5))))
        portfolio = [products[p] for p in rng.sample(sector_products, n_products)]
        if rng.random() < 0.3:
            portfolio.append(products[rng.choice(PRODUCTS).id])
        mean_orders = 19.5 * (horizon_end - horizon_start) / (_AS_OF - _HISTORY)
        n_orders = max(1, min(400, round(mean_orders * rel * rng.uniform(0.7, 1.3))))
        scale = rel**0.55
        satisfaction = rng.gauss(8.35, 0.55)
        customer_orders: list[list[Any]] = []
        for _ in range(n_orders):
            product = rng.choice(portfolio)
            duration = rng.randint(10, 80) if product.project else rng.choice(_CONTRACT_DAYS)
            # Only an active customer's orders may still run on the as-of date.
            latest = horizon_end - 1 if status == "active" else horizon_end - duration
            if latest < horizon_start:
                duration = max(5, horizon_end - horizon_start)
                latest = horizon_end - duration
            start = rng.randint(horizon_start, latest)
            revenue = product.base_revenue * scale * rng.lognormvariate(0.0, 0.4)
            if product.project and revenue < 750:
                revenue = 750 + revenue
            margin = rng.uniform(0.20, 0.45)
            customer_orders.append([product, start, start + duration, revenue, margin, False])

        # Make the customer's state on the as-of date exactly what was drawn above.
        # The last order is usually a recent one, so a customer in a quiet period still has
        # revenue in the segmentation window (only lost customers fall to D).
        latest_order = max(customer_orders, key=lambda o: o[2])
        if status == "active":
            newest = max(customer_orders, key=lambda o: o[1])
            if newest[1] <= _AS_OF - 365 and rng.random() < 0.9:
                shift = max(horizon_start, _AS_OF - rng.randint(14, 330)) - newest[1]
                newest[1] += shift
                newest[2] += shift
            latest_order = max(customer_orders, key=lambda o: o[2])
            if latest_order[2] < _AS_OF:
                latest_order[5] = True
            for o in customer_orders:
                if not o[0].project and o[2] >= _AS_OF and rng.random() < 0.25:
                    o[5] = True  # a running contract without an end date
        else:
            latest_order[2] = horizon_end
            if status != "lost":
                latest_order[1] = max(horizon_start, horizon_end - rng.randint(14, 90))
        if status == "active" and rng.random() < 0.04:
            future = products[rng.choice(portfolio).id]  # signed, starts after the as-of date
            customer_orders.append(
                [future, _AS_OF + rng.randint(1, 45), 0, future.base_revenue * scale, rng.uniform(0.2, 0.45), True]
            )
        customer_orders.sort(key=lambda o: (o[1], o[2]))

        for product, start, end, revenue, margin, open_ended in customer_orders:
            order_seq += 1
            order_id = f"O{order_seq:0{order_width}d}"
            # A cancelled order never decides the customer's state: not the one that ends last.
            cancelled = not open_ended and end < horizon_end and rng.random() < 0.02
            if cancelled:
                end_text, state = "", "cancelled"
            elif open_ended:
                end_text, state = "", "open"
            else:
                end_text, state = days[end], ("open" if end >= _AS_OF else "closed")
            description = rng.choice(product.descriptions).format(n=max(2, round(rng.uniform(5, 40) * scale)))
            cost = revenue * (1 - margin)
            if not cancelled and _AS_OF - 365 < start <= _AS_OF:
                recent_revenue += revenue
            add_order(
                [
                    order_id,
                    customer_id,
                    product.id,
                    description,
                    days[start],
                    end_text,
                    f"{revenue:.2f}",
                    f"{cost:.2f}",
                    state,
                ]
            )
            # An evaluation after many ended orders.
            if state == "closed" and end <= _AS_OF - 3 and rng.random() < 0.3:
                when = min(_AS_OF, end + rng.randint(3, 25))
                score = min(10.0, max(3.0, rng.gauss(satisfaction, 0.55)))
                score = round(score * 2) / 2 if rng.random() < 0.6 else round(score, 1)
                comment = ""
                if score < 8:
                    comment = rng.choice(_COMMENTS_LOW[language])
                elif score >= 8.5 and rng.random() < 0.35:
                    comment = rng.choice(_COMMENTS_HIGH[language])
                add_evaluation([customer_id, order_id, days[when], f"{score:g}", comment])

        if recent_revenue > 0:
            window_revenue.append((recent_revenue, customer_id, name))
        # Interactions: calls, visits and meetings over the last year and a half.
        n_interactions = min(40, int(rng.expovariate(1 / (2.2 + 2.5 * min(rel, 4)))))
        if status == "lost":
            n_interactions //= 3
        picks = []
        for _ in range(n_interactions):
            contact_id, level, _email = rng.choice(customer_contacts)
            by_management = level == "management" and rng.random() < (0.5 if big else 0.15)
            ours = "management" if by_management else "account_manager"
            channel = rng.choices(_CHANNELS, cum_weights=_CHANNEL_CUM_WEIGHTS)[0]
            picks.append((_AS_OF - rng.randint(0, 540), contact_id, channel, ours, level))
        for when, contact_id, channel, ours, level in sorted(picks):
            add_interaction([customer_id, contact_id, days[when], channel, ours, level])

    for out in (customers, contacts, orders, evaluations, interactions):
        out.close()
    counts = {
        "customers": customers.count,
        "contacts": contacts.count,
        "orders": orders.count,
        "evaluations": evaluations.count,
        "interactions": interactions.count,
    }
    return _BlockResult(counts, suppressions, window_revenue)


# --------------------------------------------------------------------------- the configs

SETTINGS_YAML = """\
# settings.yaml — who sends, from where, and where Windstil keeps its files.
# Wie verstuurt, vanaf welk adres, en waar Windstil zijn bestanden bewaart.
# Unknown keys are errors, so a typo never goes unnoticed.

# The sender of every newsletter and alert (From and Reply-To).
# Afzender van elke nieuwsbrief en alert; antwoorden gaan naar het accountteam.
sender:
  name: "Polderlicht IT"
  email: nieuws@polderlicht-it.nl
  reply_to: accountteam@polderlicht-it.nl

# The company behind the mailing; the footer of every e-mail carries this address (required by law).
# Bedrijfsgegevens; het postadres staat (wettelijk verplicht) onderaan elke e-mail.
company:
  name: "Polderlicht IT B.V."
  address: ["Stationsplein 12", "3511 ED Utrecht", "Nederland"]
  phone: "+31 30 123 45 67"
  website: https://www.polderlicht-it.nl   # base URL for links in the e-mails

# Added to every link to our website, so web statistics show which mailing brought the visit.
# The campaign is always the run (its as-of date), e.g. utm_campaign=2026-11-30.
utm:
  source: newsletter
  medium: email

# Unsubscribe: a personal signed link (the token is appended to the URL) and a mailto.
# Afmelden: persoonlijke, ondertekende link plus een afmeldadres.
# The token secret comes from the environment variable WINDSTIL_SECRET.
unsubscribe:
  url: https://www.polderlicht-it.nl/afmelden
  mailto: afmelden@polderlicht-it.nl

# Where inputs and outputs live, relative to this folder (these are the defaults).
paths:
  data: data              # the CRM export (CSV files and products.yaml)
  content: content        # articles, alerts, cases and events (Markdown)
  templates: templates    # e-mail and site templates
  output: output          # one folder per run
  state: output/state.sqlite   # what was approved and sent; keep a back-up of this file

# The language of everything people here read: the review site, the reports, the call lists
# and the account managers' e-mails (nl or en). Each contact's e-mails stay in the contact's own language.
# De taal van de reviewsite, de rapporten, de bellijsten en de e-mails aan accountmanagers.
language: nl

# Amounts in the CSV files: "." (1234.56) or "," (1234,56, as Dutch Excel writes them).
decimal_mark: "."

# Stop the run when more than this share of a file's rows is rejected (0.05 = 5%).
max_reject_share: 0.05

# Sending (`windstil send RUN`): the SMTP server that delivers an approved run. Remove the "# "
# to use it. This is Microsoft 365; the password is never written here: it comes from the
# environment variable WINDSTIL_SMTP_PASSWORD (auth: password), or from token_command (auth: xoauth2).
# Verzenden: de SMTP-server voor `windstil send`; het wachtwoord staat nooit in dit bestand.
# delivery:
#   host: smtp.office365.com
#   port: 587
#   security: starttls      # starttls | tls (port 465) | none (only a relay on this machine)
#   auth: password          # password | xoauth2 (token_command prints an OAuth access token) | none
#   username: nieuws@polderlicht-it.nl
#   # token_command: "python3 m365_token.py"   # with auth: xoauth2; prints a token for outlook.office365.com (MSAL)
#   envelope_from: bounces@polderlicht-it.nl   # Return-Path for bounces; default: sender.email
#   per_minute: 30          # Microsoft 365: 30 messages a minute per mailbox
#   per_day: 10000          # and 10,000 recipients a day; null means no limit
#   connections: 1          # at most 3 for Microsoft 365
#   max_attempts: 5         # tries for a message the server defers (4xx)
#   # dkim: {domain: polderlicht-it.nl, selector: nieuws, key_file: dkim.pem}   # if the relay does not sign
"""


def segments_yaml(override: tuple[str, str]) -> str:
    """Return the commented segments.yaml, with one override for the given (id, name)."""
    customer_id, name = override
    label = f"  # {name}" if name else ""
    return f"""\
# segments.yaml — how customers are valued and split into A/B/C/D, and how each segment is treated.
# Hoe we klanten waarderen, indelen in A/B/C/D, en hoe we elk segment behandelen.
# Every key is checked: a typo or a wrong value is reported with its key path.

# Value is measured over the orders of the last 12 months up to the as-of date.
# Waarde = de orders van de afgelopen 12 maanden tot de peildatum.
window_months: 12

# The value elements and their weights (the weights must add up to 1).
# Waarde-elementen en hun gewicht (samen precies 1).
value_elements:
  revenue:   {{weight: 0.5}}   # share of our revenue / aandeel in de omzet
  margin:    {{weight: 0.3}}   # share of gross margin (revenue - cost) / aandeel in de brutomarge
  strategic: {{weight: 0.2,    # strategic value / strategische waarde, in points:
              points: {{reference_customer: 3,  # may we use them as a reference? / referentieklant
                       knowledge_partner: 2,   # we learn from their knowledge / kennispartner
                       referral: 1,            # per customer they brought us / per aangebrachte klant
                       max_referrals: 3,       # at most this many referrals count
                       strategic_fit: 1}}}}      # per point of fit with our goals (0-5)

# Optional: segment within each group separately, e.g. per sector.
# Optioneel: per groep (bijvoorbeeld per sector) apart indelen.
# groups: {{by: sector}}

# Cut-offs on the cumulative value share: the customers that together make the first 80%
# of the value are A, up to 95% B, the rest C. No revenue in the window: D.
# Grenzen: de klanten die samen 80% van de waarde maken zijn A, tot 95% B, de rest C.
cutoffs: {{A: 0.80, B: 0.95}}

# "Check the split against your own judgement": overrides win over the computed segment,
# until the given date, and the reports show the reason.
# Eigen oordeel: een override gaat voor de berekening, tot de datum, met de reden erbij.
overrides:
  - customer_id: {customer_id}{label}
    segment: A
    reason: "Nieuwe directie, grote aanbesteding in 2027"
    until: 2027-06-30

# A customer is in a quiet period ("windstilte") when no order is running and the last one
# ended at least this many days ago.
# Windstilte: geen lopende order, en de laatste is minstens zoveel dagen geleden afgelopen.
quiet_period: {{after_days: 30}}

# Treatment per segment / behandeling per segment:
#   newsletter_every_days  at most one newsletter per contact in this many days (leave out: none)
#   alerts                 send short e-mail alerts about timely items
#   max_items              items per newsletter
#   call_within_days       the account manager calls within this many days after a newsletter
#   contact_schedule       who on our side talks to which level on theirs, and how often
#   review                 put these customers on the call list for a review
treatment:
  A: {{newsletter_every_days: 30, alerts: true, max_items: 5, call_within_days: 7,
      contact_schedule: [{{ours: account_manager, theirs: operational, every_days: 30}},
                         {{ours: management, theirs: management, every_days: 90}}]}}
  B: {{newsletter_every_days: 30, alerts: true, max_items: 4, call_within_days: 14}}
  C: {{newsletter_every_days: 90, alerts: false, max_items: 3}}
  D: {{newsletter_every_days: 180, alerts: false, max_items: 3, review: true}}

# The norm for customer satisfaction: an evaluation below it puts the customer on the call
# list to agree a recovery plan. / Norm klanttevredenheid: lager = herstelplan afspreken.
satisfaction_norm: 8

# Optional: a customer whose revenue fell by at least this share against the window before
# goes on the call list (retention risk). Default 0.30.
# revenue_decline: 0.30

# Optional: how items are scored for a contact (these are the defaults).
# Optioneel: hoe items per contactpersoon worden gescoord (dit zijn de standaardwaarden).
# selection:
#   interest_tag: 3        # per tag shared with the contact's interests
#   own_product: 3         # the item is about a product the customer already has
#   product_tag: 2         # per tag shared with the products the customer bought
#   cross_sell: 4          # the item is about a cross-sell product they do not have yet
#   up_sell: 4             # the item is about an up-sell product they do not have yet
#   sector: 2              # the item is written for the customer's sector
#   priority: 1            # per priority point of the item (0-3)
#   freshness: 2           # full points when published in the last fresh_days
#   fresh_days: 30
#   event_window_days: 30  # an event is timely within this many days of the as-of date
"""
