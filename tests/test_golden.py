"""Golden files: the tiny project's rendered e-mails, compared byte for byte.

Regenerate after an intended change, then review the diff like code:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from conftest import AS_OF, write_tiny_project

from pipeline.load import load_project
from pipeline.quiet import quiet_periods
from pipeline.render import compile_templates, render_messages
from pipeline.segment import segment
from pipeline.select import select

GOLDEN = Path(__file__).parent / "golden" / "emails"
SECRET = b"golden-files-secret-0123456789"  # fixed, so the unsubscribe tokens are stable


def render_tiny_project(root: Path) -> dict[str, bytes]:
    """Run load → segment → quiet → select → render on a project and return its e-mail files."""
    project = load_project(root)
    data, config = project.data, project.segments
    segmentation = segment(data, config, AS_OF)
    quiet = quiet_periods(data, config, AS_OF)
    selections = select(data, config, segmentation, quiet, [], AS_OF)
    compiled = compile_templates(project.settings, data.content)
    files: dict[str, bytes] = {}
    for selection in selections:
        for _, rendered in render_messages(compiled, selection, data, project.settings, segmentation, AS_OF, SECRET):
            files.update(rendered)
    return {path.removeprefix("emails/"): content for path, content in files.items()}


def test_rendered_emails_match_the_golden_files(tmp_path: Path) -> None:
    """The tiny project's newsletters and alerts (html, txt, eml) equal tests/golden byte for byte."""
    files = render_tiny_project(write_tiny_project(tmp_path / "project"))
    assert files, "the tiny project rendered no e-mails"
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for relpath, content in files.items():
            target = GOLDEN / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    golden = {p.relative_to(GOLDEN).as_posix(): p.read_bytes() for p in GOLDEN.rglob("*") if p.is_file()}
    assert sorted(files) == sorted(golden)
    for relpath, content in files.items():
        assert content == golden[relpath], f"{relpath} differs from tests/golden/emails/{relpath}"


def test_a_sentence_that_ends_on_a_name_with_a_full_stop_ends_once(tmp_path: Path) -> None:
    """"… a contact of Harbour Logistics B.V." — not "B.V..", in the HTML and the text, in either language."""
    files = render_tiny_project(write_tiny_project(tmp_path / "project"))
    texts = {name: content for name, content in files.items() if name.endswith((".html", ".txt"))}
    assert any(b"B.V." in content for content in texts.values())  # the tiny project has such names
    assert [name for name, content in texts.items() if b"B.V.." in content] == []
