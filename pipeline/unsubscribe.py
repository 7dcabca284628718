"""Signed unsubscribe tokens for List-Unsubscribe and the footer link.

A token names the contact, the list and the address it was sent to, and carries an
HMAC-SHA256 over those three, made with the project's secret. The web endpoint that receives
the click calls `verify_token` and suppresses the address it returns; a forged or altered
token verifies to None.

The secret comes from the environment variable WINDSTIL_SECRET; when that is unset, a random
one is created once in the state folder (file `secret`, mode 0600) and reused.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import StateError
from pipeline.language import N_, Notice, notice_template

log = logging.getLogger(__name__)

SECRET_ENV = "WINDSTIL_SECRET"  # noqa: S105 - the variable's name, not a secret
SECRET_FILE = "secret"  # noqa: S105 - a file name, not a secret
LISTS = ("newsletter", "alerts")
# For the review site too: the run that makes the secret is the one whose links depend on it first.
SECRET_CREATED = notice_template(N_(
    "WINDSTIL_SECRET is not set: the unsubscribe links in these e-mails are signed with the file `secret` next "
    "to the state database, made for this project's first run; keep it with the state, and give `windstil "
    "serve` (or whatever answers the unsubscribe links) the same secret"
))

_VERSION = b"wt1"
_MAC_BYTES = 16  # 128 bits: ample for a link token, and keeps the URL short


@dataclass(frozen=True)
class TokenInfo:
    """What a valid token says: who asked to leave which list, at which address."""

    contact_id: str
    email: str
    list_name: str


def secret_missing(state_dir: Path) -> bool:
    """Tell whether load_secret() would make a new secret: no WINDSTIL_SECRET and no `secret` file yet."""
    return not os.environ.get(SECRET_ENV) and not (state_dir / SECRET_FILE).exists()


def existing_secret(state_dir: Path) -> bytes | None:
    """Return the secret sent e-mails were signed with, or None when there is none yet (never make one here)."""
    return None if secret_missing(state_dir) else load_secret(state_dir)


def secret_for_run(state_dir: Path, warnings: list[str], *, first: bool, dry_run: bool) -> bytes:
    """Return a run's unsubscribe secret, made on first use (a dry run writes none: it gets a throwaway one).

    Without WINDSTIL_SECRET, the project's `first` run (or one whose secret is new) adds a run
    warning that its links depend on the secret file: also when a dry run or a failed run came first.
    """
    missing = secret_missing(state_dir)
    if missing or (first and not os.environ.get(SECRET_ENV)):
        warnings.append(Notice(SECRET_CREATED))
    if missing and dry_run:
        return secrets.token_hex(32).encode("ascii")
    return load_secret(state_dir)  # logs a warning of its own when it makes the secret


def load_secret(state_dir: Path) -> bytes:
    """Return the token secret: WINDSTIL_SECRET, else the state folder's `secret` file (made once)."""
    from_env = os.environ.get(SECRET_ENV, "")
    if from_env:
        if len(from_env) < 16:
            log.warning("%s is shorter than 16 characters; use a long random value", SECRET_ENV)
        return from_env.encode("utf-8")
    path = state_dir / SECRET_FILE
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return _read_secret(path)
    except OSError as error:
        raise StateError(f"cannot create the unsubscribe secret {path}: {error.strerror}") from error
    value = secrets.token_hex(32).encode("ascii")
    try:
        os.write(fd, value + b"\n")
    finally:
        os.close(fd)
    log.warning(
        "%s is not set: created a random unsubscribe secret in %s (keep it; links in sent "
        "e-mails depend on it, or set %s)",
        SECRET_ENV,
        path,
        SECRET_ENV,
    )
    return value


def _read_secret(path: Path) -> bytes:
    try:
        info = path.lstat()
    except OSError as error:
        raise StateError(f"cannot read the unsubscribe secret {path}: {error.strerror}") from error
    if not stat.S_ISREG(info.st_mode):
        raise StateError(f"{path}: the unsubscribe secret must be a regular file")
    if info.st_mode & 0o077:
        raise StateError(
            f"{path}: the unsubscribe secret is readable by others "
            f"(mode {stat.S_IMODE(info.st_mode):o}); run: chmod 600 {path}"
        )
    value = path.read_bytes().strip()
    if len(value) < 16:
        raise StateError(f"{path}: the unsubscribe secret is empty or too short; delete it to make a new one")
    return value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, version: bytes, payload: bytes) -> bytes:
    # One-shot hmac.digest: the same bytes as hmac.new(...).digest(), without a Python HMAC object per message.
    return hmac.digest(secret, version + b"\n" + payload, "sha256")[:_MAC_BYTES]


def sign_fields(secret: bytes, version: bytes, fields: tuple[str, ...]) -> str:
    """Return `fields` as a URL-safe token signed with `secret`; `version` keeps kinds of token apart."""
    payload = "\n".join(fields).encode("utf-8")
    return f"{_b64(payload)}.{_b64(_mac(secret, version, payload))}"


def verify_fields(secret: bytes, version: bytes, token: str, count: int) -> list[str] | None:
    """Return the `count` fields of a token signed by `sign_fields` with the same version, else None."""
    body, dot, mac_text = token.strip().partition(".")
    if not dot or not body or not mac_text:
        return None
    try:
        payload = _unb64(body)
        mac = _unb64(mac_text)
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(mac, _mac(secret, version, payload)):
        return None
    try:
        fields = payload.decode("utf-8").split("\n")
    except ValueError:  # UnicodeDecodeError is a ValueError
        return None
    return fields if len(fields) == count else None


def make_token(secret: bytes, contact_id: str, email: str, list_name: str) -> str:
    """Return a URL-safe token naming the contact, address and list, signed with `secret`."""
    return sign_fields(secret, _VERSION, (contact_id, list_name, email))


def verify_token(secret: bytes, token: str) -> TokenInfo | None:
    """Return what `token` says if its signature is valid, else None."""
    fields = verify_fields(secret, _VERSION, token, 3)
    if fields is None:
        return None
    contact_id, list_name, email = fields
    return TokenInfo(contact_id=contact_id, email=email, list_name=list_name)
