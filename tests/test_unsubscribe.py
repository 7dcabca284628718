"""Unsubscribe tokens: signed, URL-safe, verifiable; the secret comes from the environment or the state folder."""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.errors import StateError
from pipeline.unsubscribe import SECRET_ENV, TokenInfo, load_secret, make_token, verify_token

SECRET = b"0123456789abcdef-test-secret"


def test_a_token_verifies_to_contact_address_and_list() -> None:
    """verify_token returns the contact, the address and the list the token was made for."""
    token = make_token(SECRET, "P001", "a.jansen@lindehof.nl", "newsletter")
    assert verify_token(SECRET, token) == TokenInfo("P001", "a.jansen@lindehof.nl", "newsletter")


def test_a_token_is_url_safe_and_deterministic() -> None:
    """Tokens use only URL-safe characters and are the same for the same inputs."""
    token = make_token(SECRET, "P001", "a.jansen@lindehof.nl", "alerts")
    assert re.fullmatch(r"[A-Za-z0-9_\-.]+", token)
    assert token == make_token(SECRET, "P001", "a.jansen@lindehof.nl", "alerts")
    assert token != make_token(SECRET, "P001", "a.jansen@lindehof.nl", "newsletter")


def test_a_token_made_with_another_secret_is_refused() -> None:
    """A token signed with a different secret does not verify."""
    token = make_token(b"another-secret-of-some-length", "P001", "a@b.nl", "newsletter")
    assert verify_token(SECRET, token) is None


def test_a_tampered_token_is_refused() -> None:
    """Changing the payload (another contact) or the signature makes the token invalid."""
    token = make_token(SECRET, "P001", "a@b.nl", "newsletter")
    body, mac = token.split(".")
    forged_body = make_token(SECRET, "P002", "a@b.nl", "newsletter").split(".")[0]
    assert verify_token(SECRET, f"{forged_body}.{mac}") is None
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    assert verify_token(SECRET, f"{body}.{flipped}") is None
    assert verify_token(SECRET, body) is None
    assert verify_token(SECRET, "") is None


@given(st.text(max_size=120))
def test_garbage_never_verifies_or_raises(token: str) -> None:
    """Arbitrary text is refused without an exception."""
    assert verify_token(SECRET, token) is None


@given(
    contact_id=st.from_regex(r"[A-Za-z0-9._-]{1,64}", fullmatch=True),
    address=st.emails(),
    list_name=st.sampled_from(["newsletter", "alerts"]),
)
def test_any_contact_round_trips(contact_id: str, address: str, list_name: str) -> None:
    """Every safe contact id and address survives the token round trip."""
    token = make_token(SECRET, contact_id, address, list_name)
    assert verify_token(SECRET, token) == TokenInfo(contact_id, address, list_name)


def test_the_environment_secret_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With WINDSTIL_SECRET set, that is the secret and no file is written."""
    monkeypatch.setenv(SECRET_ENV, "a-long-secret-from-the-environment")
    assert load_secret(tmp_path / "state") == b"a-long-secret-from-the-environment"
    assert not (tmp_path / "state" / "secret").exists()


def test_a_secret_file_is_created_once_private_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without WINDSTIL_SECRET a random secret is made once (mode 0600, with a warning) and reused."""
    monkeypatch.delenv(SECRET_ENV, raising=False)
    state = tmp_path / "state"
    with caplog.at_level(logging.WARNING, logger="pipeline.unsubscribe"):
        first = load_secret(state)
    assert "WINDSTIL_SECRET is not set" in caplog.text
    path = state / "secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 64
    caplog.clear()
    assert load_secret(state) == first
    assert load_secret(tmp_path / "other") != first


def test_a_readable_secret_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret file that group or others can read is refused with a StateError saying how to fix it."""
    monkeypatch.delenv(SECRET_ENV, raising=False)
    load_secret(tmp_path)
    os.chmod(tmp_path / "secret", 0o644)
    with pytest.raises(StateError, match="chmod 600"):
        load_secret(tmp_path)


def test_an_empty_secret_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty secret file is an error, not a weak secret."""
    monkeypatch.delenv(SECRET_ENV, raising=False)
    path = tmp_path / "secret"
    path.write_bytes(b"")
    os.chmod(path, 0o600)
    with pytest.raises(StateError, match="too short"):
        load_secret(tmp_path)


def test_a_click_token_never_passes_as_an_unsubscribe_token() -> None:
    """Both kinds of token share the signing code and the secret; their prefixes keep them apart."""
    from pipeline.tracking import make_click_token, verify_click_token
    from pipeline.unsubscribe import make_token, verify_token

    secret = b"a-secret-that-is-long-enough"
    click = make_click_token(secret, "P001", "2026-11-30", "nl/backups-testen")
    unsubscribe = make_token(secret, "P001", "a@example.nl", "newsletter")
    assert verify_click_token(secret, click) is not None
    assert verify_token(secret, unsubscribe) is not None
    assert verify_token(secret, click) is None
    assert verify_click_token(secret, unsubscribe) is None
