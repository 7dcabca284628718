"""An installed wheel has every file the package reads at run time."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "pipeline"


def test_every_data_file_of_the_package_is_declared_as_package_data() -> None:
    """The word lists, YAML texts and vendored data under pipeline/ match pyproject.toml's package-data."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["pipeline"]
    files = [
        path.relative_to(PIPELINE).as_posix()
        for path in PIPELINE.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    ]
    assert "demo/data/words.json" in files
    assert [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)] == []
