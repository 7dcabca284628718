"""Conversions between the state database's rows and the domain's values.

Frozen segmentations keep their customers as JSON, with exact numbers as text; an interaction
is identified by a hash of its columns; feedback times are stored as UTC text of one fixed form.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from pipeline.feedback import FeedbackEvent
from pipeline.models import CustomerValue, Delivery, Interaction, MessageKind, Segment


def _fraction(text: str) -> Fraction:
    return Fraction(text)


def customer_value_to_json(row: CustomerValue) -> dict[str, Any]:
    """Return one customer of a frozen segmentation as the JSON object the segmentations table stores."""
    return {
        "customer_id": row.customer_id,
        "name": row.name,
        "group": row.group,
        "segment": row.segment.value,
        "computed_segment": row.computed_segment.value,
        "value_share": str(row.value_share),
        "revenue": str(row.revenue),
        "margin": str(row.margin),
        "strategic": row.strategic,
        "revenue_share": str(row.revenue_share),
        "margin_share": str(row.margin_share),
        "strategic_share": str(row.strategic_share),
        "override_reason": row.override_reason,
        "override_until": row.override_until.isoformat() if row.override_until else None,
        "cumulative_before": str(row.cumulative_before),
    }


def customer_value_from_json(obj: dict[str, Any]) -> CustomerValue:
    """Return the customer of a frozen segmentation from the JSON object stored for it."""
    return CustomerValue(
        customer_id=obj["customer_id"],
        name=obj["name"],
        group=obj["group"],
        segment=Segment(obj["segment"]),
        computed_segment=Segment(obj["computed_segment"]),
        value_share=_fraction(obj["value_share"]),
        revenue=Decimal(obj["revenue"]),
        margin=Decimal(obj["margin"]),
        strategic=int(obj["strategic"]),
        revenue_share=_fraction(obj["revenue_share"]),
        margin_share=_fraction(obj["margin_share"]),
        strategic_share=_fraction(obj["strategic_share"]),
        override_reason=obj.get("override_reason", ""),
        override_until=date.fromisoformat(obj["override_until"]) if obj.get("override_until") else None,
        cumulative_before=_fraction(obj.get("cumulative_before", "0")),
    )


def interaction_columns(item: Interaction) -> tuple[str | None, ...]:
    """Return customer, contact, date, channel, levels and note: the columns that identify an interaction."""
    return (
        item.customer_id,
        item.contact_id,
        item.date.isoformat(),
        item.channel.value if item.channel else None,
        item.our_level.value if item.our_level else None,
        item.their_level.value if item.their_level else None,
        item.note,
    )


def delivery_from_row(r: sqlite3.Row) -> Delivery:
    """Return the delivery recorded in a row of the deliveries table."""
    return Delivery(
        run_id=r["run_id"],
        contact_id=r["contact_id"],
        kind=MessageKind(r["kind"]),
        as_of=date.fromisoformat(r["as_of"]),
        item_ids=tuple(json.loads(r["item_ids"])),
        message_id=r["message_id"],
    )


def moment_text(when: datetime) -> str:
    """Return `when` as the fixed-form UTC text the feedback table stores (it sorts as time does)."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds")


def event_fields(event: FeedbackEvent) -> dict[str, Any]:
    """Return the event's fields by name, to build a changed copy of it."""
    return {name: getattr(event, name) for name in event.__slots__}


def interaction_fingerprint(columns: tuple[str | None, ...]) -> str:
    """Return the hash of an interaction's identifying columns, which makes a second import of it a duplicate."""
    return hashlib.sha256(json.dumps(list(columns), ensure_ascii=False).encode("utf-8")).hexdigest()
