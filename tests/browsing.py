"""Headless Debian chromium for the browser tests: one way to start it and to watch a page's errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags chromium keeps dialling out, which this machine refuses.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
SKIP_REASON = "Debian's chromium is not installed (.ci/run installs it)"


@contextmanager
def chromium(playwright_api: Any) -> Iterator[Any]:
    """Start Debian's chromium headless through Playwright; close it afterwards."""
    with playwright_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield instance
        finally:
            instance.close()


@contextmanager
def watched_page(context: Any) -> Iterator[Any]:
    """Open a tab in `context` whose console errors and page errors collect in `tab.errors`."""
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.errors = errors
    try:
        yield tab
    finally:
        context.close()
