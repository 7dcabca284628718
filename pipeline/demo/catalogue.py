"""What the sample company sells and to whom: sectors, tags and the product catalogue.

The catalogue is package data (data/catalogue.json); data/products.yaml of a generated project
is written from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.demo.words import load_data

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
SECTOR_WEIGHTS = (14, 12, 16, 9, 15, 20, 14)


@dataclass(frozen=True)
class Product:
    """A product of the catalogue, with what the generator needs to invent its orders."""

    id: str
    name: str  # Dutch, as the company sells it at home
    name_en: str | None  # its English name, where it has one of its own
    tags: tuple[str, ...]
    cross_sell: tuple[str, ...]
    up_sell: tuple[str, ...]
    base_revenue: float  # a typical order for a mid-sized customer, in euro
    project: bool  # a project (weeks) rather than a service contract (months)
    descriptions: tuple[str, ...]  # "{n}" is a size figure (seats, users, sites)


def _product(entry: dict[str, Any]) -> Product:
    return Product(
        id=str(entry["id"]),
        name=str(entry["name"]),
        name_en=str(entry["name_en"]) if "name_en" in entry else None,
        tags=tuple(entry["tags"]),
        cross_sell=tuple(entry["cross_sell"]),
        up_sell=tuple(entry["up_sell"]),
        # Whole euros, kept an int: int * float gives the same float as float * float.
        base_revenue=int(entry["base_revenue"]),
        project=bool(entry["project"]),
        descriptions=tuple(entry["descriptions"]),
    )


_CATALOGUE = load_data("catalogue.json")
PRODUCTS: tuple[Product, ...] = tuple(_product(entry) for entry in _CATALOGUE["products"])
# Which products a sector tends to buy, and how likely each is picked for a customer.
SECTOR_PRODUCTS: dict[str, tuple[str, ...]] = {
    sector: tuple(ids) for sector, ids in _CATALOGUE["sector_products"].items()
}


def products_yaml() -> str:
    """Return the catalogue as data/products.yaml text."""
    lines = [
        "# Product catalogue of Polderlicht IT B.V.",
        "# id: used in orders.csv (product_id) and in content items (products: [...]).",
        "# tags: the same small vocabulary as the content items and the contacts' interests.",
        "# cross_sell: products that complement this one; up_sell: the bigger version of it.",
        "# name: one name, or one per language (the English e-mails use `en`).",
        "",
    ]
    for p in PRODUCTS:
        lines += [
            f"- id: {p.id}",
            f'  name: {{nl: "{p.name}", en: "{p.name_en}"}}' if p.name_en else f'  name: "{p.name}"',
            f"  tags: [{', '.join(p.tags)}]",
            f"  cross_sell: [{', '.join(p.cross_sell)}]",
            f"  up_sell: [{', '.join(p.up_sell)}]",
        ]
    return "\n".join(lines) + "\n"
