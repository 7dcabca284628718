"""SpamAssassin, an outside judge, scores the tiny project's e-mails as clean."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import AS_OF, write_tiny_project

from pipeline.run import run_batch

SPAMASSASSIN = shutil.which("spamassassin")
# Without a relay and DKIM these fire on any message written to disk; the MTA adds them.
ALLOWED = {"NO_RECEIVED", "NO_RELAYS", "MISSING_DKIM", "DKIM_ADSP_NXDOMAIN", "HTML_MESSAGE"}
RULE = re.compile(r"^\s*(-?\d+\.\d+)\s+([A-Z0-9_]+)\s", re.M)

pytestmark = pytest.mark.skipif(SPAMASSASSIN is None, reason="spamassassin is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_tiny_project(tmp_path_factory.mktemp("spam"))
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("WINDSTIL_SECRET", "test-secret-not-for-production")
    try:
        return run_batch(root, as_of=AS_OF, jobs=1).folder
    finally:
        monkeypatch.undo()


def score(eml: Path) -> tuple[float, dict[str, float]]:
    """Return SpamAssassin's total score for a message and the points of each rule hit (offline, -L)."""
    done = subprocess.run([SPAMASSASSIN or "spamassassin", "-L", "-t"], input=eml.read_bytes(),
                          capture_output=True, check=False, timeout=120)
    report = done.stdout.decode("utf-8", "replace")
    total = re.search(r"Content analysis details:\s+\((-?\d+\.\d+) points", report)
    assert total, report[-2000:]
    details = report[report.index("Content analysis details"):]
    return float(total.group(1)), {name: float(points) for points, name in RULE.findall(details)}


@pytest.mark.parametrize("kind", ["newsletter", "alert"])
def test_spamassassin_scores_our_mail_clean(run_folder: Path, kind: str) -> None:
    """Dutch and English newsletters and alerts score under 1.0, no rule above 0.5 but relay/DKIM ones."""
    messages = sorted(run_folder.glob(f"emails/*/{kind}.eml"))
    assert messages
    languages = {}
    for eml in messages:
        lang = re.search(rb'<html[^>]*lang="(\w+)"', eml.with_suffix(".html").read_bytes())
        assert lang
        languages.setdefault(lang.group(1).decode(), eml)
    for language, eml in sorted(languages.items()):
        total, rules = score(eml)
        assert total < 1.0, (language, eml, rules)
        loud = {name: points for name, points in rules.items() if points > 0.5 and name not in ALLOWED}
        assert loud == {}, (language, eml)
