"""The ASGI app of `windstil serve`: one-click unsubscribe (RFC 8058), click redirects, /healthz.

Built on Starlette and served by uvicorn (docs/guide/feedback.md: running it behind the company's
HTTPS proxy). It faces the internet, so:

- a GET never changes anything (mail scanners open every link); only a POST unsubscribes;
- a token that does not verify is a 400 with a plain page, and nothing is recorded;
- a click redirects only to the item's own URL as the run wrote it (with its UTM parameters),
  looked up by the item id in the signed token: never to anything read from the request;
- every record is one transaction in the state; a locked state is a 503, never a half write;
- every answer carries security headers, and no page echoes request data unescaped.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from pipeline.content import load_content
from pipeline.errors import WindstilError
from pipeline.feedback import FeedbackEvent, FeedbackKind
from pipeline.load import sniff_delimiter
from pipeline.models import ContentItem, Settings
from pipeline.render.formatting import with_utm
from pipeline.state import State
from pipeline.tracking import verify_click_token
from pipeline.unsubscribe import LISTS, verify_token
from pipeline.web.pages import page

log = logging.getLogger(__name__)

SOURCE = "serve"
RELOAD_SECONDS = 60.0  # an unknown contact or item re-reads the files at most this often
MAX_BODY = 64 * 1024  # an RFC 8058 body is 26 bytes; anything far bigger is not one
_BOTH = ("nl", "en")
# User agents of link scanners and other programs that open links in mail before (or instead
# of) a person: their clicks are kept but marked automated. Matched case-insensitively.
AUTOMATED_AGENTS = re.compile(
    r"bot\b|crawl|spider|preview|scan|barracuda|mimecast|proofpoint|ppops|symantec|messagelabs|"
    r"forcepoint|trend ?micro|sophos|fortinet|cisco|ironport|safelinks|urldefense|python-|curl/|wget|"
    r"go-http-client|java/|okhttp|headlesschrome|phantomjs|libwww|httpclient|axios|node-fetch",
    re.IGNORECASE,
)
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"strict-transport-security", b"max-age=31536000"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"interest-cohort=()"),
]


@dataclass
class Endpoint:
    """What the app needs: settings, secret, the state's path, and what it looked up once."""

    settings: Settings
    secret: bytes
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _state: State | None = None
    _languages: dict[str, str] | None = None
    _items: dict[str, ContentItem] | None = None
    _loaded: dict[str, float] = field(default_factory=dict)  # what was read when (monotonic seconds)

    @property
    def state(self) -> State:
        """Return the state, opened on first use in the thread that serves (SQLite keeps to one thread)."""
        if self._state is None:
            self._state = State.open(self.settings.paths.state)
        return self._state

    def close(self) -> None:
        """Close the state if it was opened."""
        if self._state is not None:
            self._state.close()
            self._state = None

    @property
    def values(self) -> dict[str, str]:
        return {"company": self.settings.company_name, "website": self.settings.website_url}

    def _stale(self, what: str, known: bool) -> bool:
        """Say whether to read `what` again: never read, or not found and last read a while ago.

        The endpoint runs for months while each run brings new contacts and items: an unknown
        one makes it read the files again, at most once a RELOAD_SECONDS (a stream of forged
        ids cannot make it read them on every request).
        """
        last = self._loaded.get(what)
        if last is not None and (known or time.monotonic() - last < RELOAD_SECONDS):
            return False
        self._loaded[what] = time.monotonic()
        return True

    def language(self, contact_id: str) -> str | None:
        """Return the contact's language from the CRM export, or None when unknown."""
        if self._stale("languages", self._languages is not None and contact_id in self._languages):
            self._languages = _contact_languages(self.settings.paths.data)
        return (self._languages or {}).get(contact_id)

    def item_url(self, run_id: str, item_id: str) -> str | None:
        """Return the item's own URL with the run's UTM parameters, as the run's e-mails carried it."""
        if self._stale("items", self._items is not None and item_id in self._items):
            self._items, _problems = load_content(self.settings.paths.content, self.settings.paths.root)
        item = (self._items or {}).get(item_id)
        if item is None or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", run_id):
            return None
        utm = (
            ("utm_source", self.settings.utm_source),
            ("utm_medium", self.settings.utm_medium),
            ("utm_campaign", run_id),
        )
        url = with_utm(item.url, utm)
        return url if urlsplit(url).scheme in ("http", "https") else None


def _contact_languages(data: Path) -> dict[str, str]:
    """Map contact ids to their language: the contact's own, else the customer's, else Dutch."""

    def rows(name: str) -> list[dict[str, str]]:
        try:
            text = (data / name).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            log.warning("serve: cannot read %s for the contacts' languages (%s); pages show Dutch and English",
                        name, error)
            return []
        reader = csv.DictReader(text.splitlines(), delimiter=sniff_delimiter(text.split("\n", 1)[0]))
        return [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader]

    customers = {r.get("customer_id", ""): r.get("language", "").lower() for r in rows("customers.csv")}
    result: dict[str, str] = {}
    for row in rows("contacts.csv"):
        language = row.get("language", "").lower() or customers.get(row.get("customer_id", ""), "") or "nl"
        result[row.get("contact_id", "")] = language if language in _BOTH else "nl"
    return result


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status)


def create_app(endpoint: Endpoint) -> Starlette:
    """Return the ASGI app serving the unsubscribe path, the click path (when on) and /healthz."""
    settings = endpoint.settings
    unsubscribe_path = urlsplit(settings.unsubscribe_url).path or "/"
    routes = [
        Route("/healthz", _healthz(endpoint), methods=["GET", "HEAD"]),
        Route(unsubscribe_path, _unsubscribe(endpoint), methods=["GET", "HEAD", "POST"]),
    ]
    if settings.tracking is not None:
        routes.append(Route(urlsplit(settings.tracking.url).path or "/", _click(endpoint), methods=["GET", "HEAD"]))

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        key = "missing" if status == 404 else "bad"
        return _html(page(_BOTH, f"{key}_title", (key,), endpoint.values), status)

    async def unavailable(request: Request, exc: Exception) -> Response:
        # The state is locked by a run or unreadable: nothing was recorded; the person may retry.
        log.error("serve: %s %s: %s", request.method, request.url.path, exc)
        return _html(page(_BOTH, "busy_title", ("busy",), endpoint.values), 503)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        endpoint.state  # noqa: B018 - open (and migrate) the state before the first request
        try:
            yield
        finally:
            endpoint.close()

    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: not_found, WindstilError: unavailable},
        lifespan=lifespan,
    )
    # Starlette answers "/path/" with a redirect built from the request's Host header: the
    # endpoint redirects to nothing but an item's own URL, so that is a plain 404 here.
    app.router.redirect_slashes = False
    app.add_middleware(_SecurityHeaders)
    return app


Handler = Callable[[Request], Awaitable[Response]]


def _healthz(endpoint: Endpoint) -> Handler:
    async def healthz(request: Request) -> Response:
        try:
            endpoint.state.schema_version  # noqa: B018 - a read that fails when the state is unusable
        except WindstilError:
            return PlainTextResponse("state unavailable\n", status_code=503)
        return PlainTextResponse("ok\n")

    return healthz


def _unsubscribe(endpoint: Endpoint) -> Handler:
    async def unsubscribe(request: Request) -> Response:
        token = request.query_params.get("t", "")
        info = verify_token(endpoint.secret, token) if 0 < len(token) <= 1000 else None
        if info is None or info.list_name not in LISTS or not info.email or "@" not in info.email:
            return _html(page(_BOTH, "bad_title", ("bad",), endpoint.values), 400)
        language = endpoint.language(info.contact_id)
        langs = (language,) if language else _BOTH
        values = {**endpoint.values, "list": info.list_name, "email": info.email}
        if request.method != "POST":
            return _html(page(langs, "confirm_title", ("confirm",), values, button=True, token=token))
        # The body is not needed (RFC 8058's "List-Unsubscribe=One-Click" or the button's form),
        # but it is read, up to a bound, so that a client sending it is answered properly.
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                return _html(page(_BOTH, "bad_title", ("bad",), endpoint.values), 413)
        now = endpoint.clock()
        event = FeedbackEvent(
            kind=FeedbackKind.UNSUBSCRIBE,
            event_key=f"unsubscribe:{info.list_name}:{info.email.strip().lower()}",
            at=now,
            source=SOURCE,
            email=info.email,
            contact_id=info.contact_id,
            detail=info.list_name,
        )
        added = endpoint.state.record_unsubscribe(event, f"unsubscribed ({info.list_name}) by {info.contact_id}")
        log.info("serve: unsubscribe %s from %s (%s)", info.contact_id, info.list_name, "new" if added else "again")
        lines = ("done", "mistake") if added else ("done", "again", "mistake")
        return _html(page(langs, "done_title", lines, values))

    return unsubscribe


def _click(endpoint: Endpoint) -> Handler:
    async def click(request: Request) -> Response:
        token = request.query_params.get("t", "")
        info = verify_click_token(endpoint.secret, token) if 0 < len(token) <= 1000 else None
        if info is None:
            return _html(page(_BOTH, "bad_title", ("bad",), endpoint.values), 400)
        target = endpoint.item_url(info.run_id, info.item_id)
        if target is None:
            language = endpoint.language(info.contact_id)
            return _html(page((language,) if language else _BOTH, "gone_title", ("gone",), endpoint.values), 404)
        if request.method == "GET":
            agent = request.headers.get("user-agent", "")
            event = FeedbackEvent(
                kind=FeedbackKind.CLICK,
                event_key=f"click:{uuid.uuid4().hex}",
                at=endpoint.clock(),
                source=SOURCE,
                contact_id=info.contact_id,
                run_id=info.run_id,
                item_id=info.item_id,
                detail=_shown_agent(agent),
                automated=not agent.strip() or bool(AUTOMATED_AGENTS.search(agent)),
            )
            recorded = endpoint.state.record_click(event)
            log.info("serve: click %s %s %s%s", info.contact_id, info.run_id, info.item_id,
                     " (automated)" if recorded.automated else "")
        return RedirectResponse(target, status_code=302)

    return click


def _shown_agent(agent: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]", "?", agent)[:200]


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _SecurityHeaders:
    """Add the security headers to every HTTP answer, error pages included."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((name, value) for name, value in SECURITY_HEADERS if name not in names),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)

