"""settings.yaml `tracking:` and `bounces:` are validated like every other setting, with key paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.errors import ConfigError


def settings_with(project: Path, extra: str) -> list[str]:
    with (project / "settings.yaml").open("a", encoding="utf-8") as handle:
        handle.write(extra)
    with pytest.raises(ConfigError) as caught:
        load_settings(project)
    return [str(p) for p in caught.value.problems]


def test_tracking_is_off_by_default_and_on_with_an_https_url(tiny_project: Path) -> None:
    """No `tracking:` means no click tracking; `clicks: true` with an https URL turns it on."""
    assert load_settings(tiny_project).tracking is None
    with (tiny_project / "settings.yaml").open("a", encoding="utf-8") as handle:
        handle.write("tracking: {clicks: true, url: https://www.polderlicht-it.nl/klik}\n")
    tracking = load_settings(tiny_project).tracking
    assert tracking is not None and tracking.url == "https://www.polderlicht-it.nl/klik"


def test_bad_tracking_settings_name_their_key(tiny_project: Path) -> None:
    """Every problem names its key path and line, all at once."""
    problems = settings_with(tiny_project, "tracking:\n  clicks: ja\n  url: http://x.nl/klik\n  colour: red\n")
    assert any(p.endswith("tracking.clicks: must be true or false") for p in problems)
    assert any("tracking.colour: unknown key" in p for p in problems)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("tracking: {clicks: true}\n", "tracking.url: required when tracking.clicks is true"),
        ("tracking: {clicks: true, url: http://www.polderlicht-it.nl/klik}\n", "tracking.url: must be an https:// URL"),
        ("tracking: {clicks: true, url: 'https://www.polderlicht-it.nl/klik?x=1'}\n",
         "tracking.url: must not carry a query"),
        ("bounces: {host: imap.example.nl, username: retour@x.nl, security: ssl}\n",
         "bounces.security: must be one of tls, starttls, none"),
        ("bounces: {username: retour@x.nl}\n", "bounces.host: required key is missing"),
        ("bounces: {host: imap.example.nl, username: retour@x.nl, security: none}\n",
         "bounces.security: none sends the password unencrypted: only for a server on this machine"),
        ("bounces: {host: imap.example.nl, username: retour@x.nl, port: 99999}\n",
         "bounces.port: must be a whole number from 1 to 65535"),
    ],
)
def test_each_bad_value_is_reported(tiny_project: Path, block: str, expected: str) -> None:
    """A bad tracking or bounces value is one clear line with file, line and key."""
    problems = settings_with(tiny_project, block)
    assert any(expected in p and p.startswith("settings.yaml:") for p in problems), problems
