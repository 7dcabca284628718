"""A real SMTP server for the tests of `windstil send`: aiosmtpd in a thread, on 127.0.0.1.

`Recorder` is its handler. It keeps every message it accepted (with the time it accepted it,
from a clock the test may share with the sender) and can be told to misbehave for chosen
recipients: answer RCPT with a given reply, close the connection after receiving the data
without answering, or take its time before answering.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Received:
    """One message the server accepted."""

    at: float
    mail_from: str
    recipient: str
    message_id: str
    data: bytes


@dataclass
class Recorder:
    """The server's handler: records, and misbehaves where told to."""

    clock: Callable[[], float] = time.time
    rcpt_replies: dict[str, list[str]] = field(default_factory=dict)  # address -> replies to give first
    data_replies: dict[str, list[str]] = field(default_factory=dict)  # address -> replies after DATA
    drop_after_data: set[str] = field(default_factory=set)  # close without a reply, once per address
    delay: float = 0.0  # seconds before answering the data
    received: list[Received] = field(default_factory=list)
    dropped: list[Received] = field(default_factory=list)  # data received, connection closed unanswered
    transactions: int = 0
    oauth_logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        waiting = self.rcpt_replies.get(address.lower())
        if waiting:
            return waiting.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        recipient = envelope.rcpt_tos[0].lower()
        data = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        item = Received(self.clock(), envelope.mail_from, recipient, str(parsed["Message-ID"]), data)
        with self.lock:
            self.transactions += 1
            if recipient in self.drop_after_data:
                self.drop_after_data.discard(recipient)
                self.dropped.append(item)
                server.transport.abort()  # the data arrived; the reply never leaves
                return "250 never sent"
            waiting = self.data_replies.get(recipient)
            if waiting:
                return waiting.pop(0)
            self.received.append(item)
        return "250 2.0.0 OK queued"

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        """Accept `user=…\\x01auth=Bearer good-token\\x01\\x01` (RFC-less, as Google and Microsoft use it)."""
        blob = args[1] if len(args) > 1 else await server.challenge_auth("", encode_to_b64=False)
        text = base64.b64decode(blob).decode()
        self.oauth_logins.append(text)
        ok = "auth=Bearer good-token\x01" in text
        return AuthResult(success=ok, handled=False, auth_data=text)

    def message_ids(self) -> list[str]:
        with self.lock:
            return [r.message_id for r in self.received]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def password_authenticator(users: dict[str, str]) -> Callable[..., AuthResult]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            ok = users.get(auth_data.login.decode()) == auth_data.password.decode()
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)

    return check


@contextmanager
def smtp_server(recorder: Recorder | None = None, **kwargs: Any) -> Iterator[tuple[Controller, Recorder]]:
    """Run an aiosmtpd server on 127.0.0.1 (a free port) for the block; kwargs go to aiosmtpd."""
    recorder = recorder or Recorder()
    kwargs.setdefault("auth_require_tls", False)
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield controller, recorder
    finally:
        controller.stop()

