"""Run the endpoint with uvicorn until stopped."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import uvicorn

from pipeline.errors import UsageError
from pipeline.models import Settings
from pipeline.state import State
from pipeline.unsubscribe import SECRET_ENV, SECRET_FILE, load_secret, secret_missing
from pipeline.web.app import Endpoint, create_app

log = logging.getLogger(__name__)


def existing_secret(settings: Settings) -> bytes:
    """Return the secret the e-mails were signed with; never make a new one (no link would verify)."""
    state_dir = settings.paths.state.parent
    if secret_missing(state_dir):
        raise UsageError(
            f"no unsubscribe secret: set {SECRET_ENV} to the value the e-mails were made with, "
            f"or run where the state folder's `{SECRET_FILE}` file is ({state_dir})"
        )
    return load_secret(state_dir)


def check_paths(settings: Settings) -> None:
    """Refuse settings whose unsubscribe and click paths collide (one would hide the other)."""
    paths = {"unsubscribe.url": urlsplit(settings.unsubscribe_url).path or "/"}
    if settings.tracking is not None:
        click = urlsplit(settings.tracking.url).path or "/"
        if click == paths["unsubscribe.url"]:
            raise UsageError(f"settings.yaml: tracking.url: path {click} is the same as unsubscribe.url's")
    if "/healthz" in paths.values():
        raise UsageError("settings.yaml: unsubscribe.url: the path /healthz is the endpoint's health check")


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the endpoint on host:port until interrupted."""
    check_paths(settings)
    secret = existing_secret(settings)
    # Opened here once to fail early and clearly (locked, corrupt, too new); the app opens its
    # own connection in the thread that serves.
    State.open(settings.paths.state).close()
    app = create_app(Endpoint(settings=settings, secret=secret))
    log.info("serve: listening on http://%s:%d", host, port)
    uvicorn.run(
        app,
        host=host,
        port=port,
        # The access log would write every token (and so the address in it) to the log.
        access_log=False,
        server_header=False,
        # Behind the company's HTTPS proxy on this machine: trust its X-Forwarded-* only.
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        log_level="warning",
    )
