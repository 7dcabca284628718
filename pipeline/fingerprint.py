"""Hashes of a run's inputs and config, for the manifest and the state."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.models import Settings


def _file_hash(path: Path) -> str:
    # Read in pieces: orders.csv of a large export is tens of megabytes, held at the run's end.
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _tree_hash(folder: Path) -> str:
    """Hash every file below `folder` (relative path and content), in a stable order."""
    digest = hashlib.sha256()
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
            digest.update(_file_hash(path).encode("ascii"))
    return digest.hexdigest()


def project_hashes(settings: Settings) -> dict[str, dict[str, str]]:
    """Return sha256 hashes of every data file, and of config, content and templates."""
    paths = settings.paths
    inputs = {
        f"data/{p.name}": _file_hash(p)
        for p in sorted(paths.data.iterdir())
        if p.is_file() and p.suffix in (".csv", ".yaml", ".yml")
    }
    config = {
        "settings.yaml": _file_hash(paths.root / "settings.yaml"),
        "segments.yaml": _file_hash(paths.root / "segments.yaml"),
        "content/": _tree_hash(paths.content),
        "templates/": _tree_hash(paths.templates),
    }
    return {"inputs": inputs, "config": config}
