"""Signed click tokens: the link to an item goes through `windstil serve`, which records the click.

A click token names the contact, the run and the item, with an HMAC-SHA256 over the three made
with the project's secret (the unsubscribe secret; a different prefix keeps the two kinds of
token from standing in for each other). The endpoint redirects to the item's own URL as the
run wrote it, looked up by the item id: the target is never read from the request, so the
link cannot be turned into an open redirect.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

_VERSION = b"wc1"
_MAC_BYTES = 16


@dataclass(frozen=True)
class ClickInfo:
    """What a valid click token says: who clicked which item of which run."""

    contact_id: str
    run_id: str
    item_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.digest(secret, _VERSION + b"\n" + payload, "sha256")[:_MAC_BYTES]


def make_click_token(secret: bytes, contact_id: str, run_id: str, item_id: str) -> str:
    """Return a URL-safe token naming the contact, run and item, signed with `secret`."""
    payload = "\n".join((contact_id, run_id, item_id)).encode("utf-8")
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def verify_click_token(secret: bytes, token: str) -> ClickInfo | None:
    """Return what `token` says if its signature is valid, else None."""
    body, dot, mac_text = token.strip().partition(".")
    if not dot or not body or not mac_text or len(token) > 1000:
        return None
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        mac = base64.urlsafe_b64decode(mac_text + "=" * (-len(mac_text) % 4))
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    try:
        contact_id, run_id, item_id = payload.decode("utf-8").split("\n")
    except ValueError:
        return None
    return ClickInfo(contact_id=contact_id, run_id=run_id, item_id=item_id)


def click_url(base: str, token: str) -> str:
    """Return the tracked link for `token` at the endpoint's click path `base`."""
    return f"{base}{'&' if '?' in base else '?'}t={token}"
