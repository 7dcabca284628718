"""`windstil preview`: serve one run folder's review site on 127.0.0.1.

A small http.server that serves files of the run folder and nothing else: no `..`, no
hidden files, no directory listings, no symlink that leads out, and only to requests
addressed to 127.0.0.1 or localhost (a page elsewhere cannot reach it by DNS rebinding).
Every response carries a Content-Security-Policy: the site's pages may run only the
site's own script, and an e-mail is sandboxed even when opened on its own.
"""

from __future__ import annotations

import logging
import re
import shutil
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlsplit

from pipeline.errors import UsageError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
RUN_NAME = re.compile(r"\d{4}-\d{2}-\d{2}")

SITE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; connect-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'"
)
# E-mails carry inline styles and may show images from the sender's web site; never scripts.
# Same origin, still without scripts: the review site's dark and images-off views restyle them.
MAIL_POLICY = (
    "sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
    "style-src 'unsafe-inline'; img-src 'self' data: https:; script-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
# Reports and call lists are static documents with their own inline styles and SVG charts.
DOCUMENT_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "script-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".eml": "message/rfc822",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


def find_run(output: Path, run: str | None) -> Path:
    """Return the run folder to serve: `output/<run>`, or the latest run when `run` is None."""
    runs = (
        sorted(p.name for p in output.glob("*") if p.is_dir() and RUN_NAME.fullmatch(p.name)) if output.is_dir() else []
    )
    if run is None:
        if not runs:
            raise UsageError(f"{output}: no run to preview yet; make one with `windstil run`")
        return output / runs[-1]
    if RUN_NAME.fullmatch(run) and run in runs:
        return output / run
    given = Path(run)
    if given.is_dir() and (given / "index.html").is_file():
        return given  # a run folder named by its path
    known = ", ".join(runs) if runs else "none yet"
    raise UsageError(f"no run {run!r} in {output} (runs: {known})")


def make_server(folder: Path, port: int = 8000, host: str = HOST) -> ThreadingHTTPServer:
    """Return an HTTP server for the run in `folder` on `host:port` (0 picks a free port)."""
    root = folder.resolve()
    if not (root / "index.html").is_file():
        raise UsageError(f"{folder}: no index.html, so this is not a run folder")

    class Handler(_RunHandler):
        run_root: ClassVar[Path] = root

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as error:
        raise UsageError(
            f"cannot listen on {host}:{port} ({error.strerror}); try another port, or --port 0 for any free one"
        ) from error
    server.daemon_threads = True
    bound = server.server_address[1]
    Handler.allowed_hosts = frozenset({f"{host}:{bound}", f"localhost:{bound}"})
    return server


class _RunHandler(BaseHTTPRequestHandler):
    """Serve the files of one run folder, read-only, with security headers."""

    run_root: ClassVar[Path]
    allowed_hosts: ClassVar[frozenset[str]] = frozenset()
    server_version = "windstil-preview"
    sys_version = ""
    _policy = SITE_POLICY

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def _serve(self, *, send_body: bool) -> None:
        self._policy = SITE_POLICY
        if self.headers.get("Host", "") not in self.allowed_hosts:
            self.send_error(421, "Misdirected request: use the URL windstil preview printed")
            return
        if urlsplit(self.path).path == "/favicon.ico":
            self.send_response(204)  # browsers ask for it on every page; there is none
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        target = self._target()
        if target is None:
            self.send_error(404, "Not found")
            return
        relative = target.relative_to(self.run_root).as_posix()
        self._policy = _policy_for(relative)
        try:
            handle = target.open("rb")
        except OSError:
            self.send_error(404, "Not found")
            return
        with handle:
            size = target.stat().st_size
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPES.get(target.suffix.lower(), "application/octet-stream"))
            self.send_header("Content-Length", str(size))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if send_body:
                shutil.copyfileobj(handle, self.wfile)

    def _target(self) -> Path | None:
        """Return the file the request names inside the run folder, or None."""
        path = unquote(urlsplit(self.path).path)
        if "\x00" in path or "\\" in path:
            return None
        parts = [p for p in path.split("/") if p]
        if any(p.startswith(".") for p in parts):
            return None  # `..`, `.`, and hidden files alike
        target = self.run_root.joinpath(*parts)
        if not parts:
            target = target / "index.html"
        try:
            resolved = target.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not resolved.is_relative_to(self.run_root) or not resolved.is_file():
            return None
        return resolved

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", self._policy)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "SAMEORIGIN")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        log.debug("preview: %s - %s", self.address_string(), format % args)


def _policy_for(relative: str) -> str:
    if relative.startswith("emails/"):
        return MAIL_POLICY
    if relative == "index.html" or relative.startswith("site/"):
        return SITE_POLICY
    return DOCUMENT_POLICY
