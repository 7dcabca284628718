"""Signed click tokens: the link to an item goes through `windstil serve`, which records the click.

A click token names the contact, the run and the item, with an HMAC-SHA256 over the three made
with the project's secret (the unsubscribe secret; a different prefix keeps the two kinds of
token from standing in for each other). The endpoint redirects to the item's own URL as the
run wrote it, looked up by the item id: the target is never read from the request, so the
link cannot be turned into an open redirect.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.unsubscribe import sign_fields, verify_fields

_VERSION = b"wc1"


@dataclass(frozen=True)
class ClickInfo:
    """What a valid click token says: who clicked which item of which run."""

    contact_id: str
    run_id: str
    item_id: str


def make_click_token(secret: bytes, contact_id: str, run_id: str, item_id: str) -> str:
    """Return a URL-safe token naming the contact, run and item, signed with `secret`."""
    return sign_fields(secret, _VERSION, (contact_id, run_id, item_id))


def verify_click_token(secret: bytes, token: str) -> ClickInfo | None:
    """Return what `token` says if its signature is valid, else None."""
    fields = verify_fields(secret, _VERSION, token, 3) if len(token) <= 1000 else None
    if fields is None:
        return None
    contact_id, run_id, item_id = fields
    return ClickInfo(contact_id=contact_id, run_id=run_id, item_id=item_id)


def click_url(base: str, token: str) -> str:
    """Return the tracked link for `token` at the endpoint's click path `base`."""
    return f"{base}{'&' if '?' in base else '?'}t={token}"
