"""An installed wheel has every file the package reads at run time."""

from __future__ import annotations

import ast
import fnmatch
import importlib.metadata
import re
import sys
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


def test_every_library_pipeline_imports_is_a_runtime_dependency() -> None:
    """A module of pipeline/ importing a library only a test extra installs would fail on a user's install."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    specs = config["project"]["dependencies"]
    declared = {_normalised(re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0]) for spec in specs}
    distributions = importlib.metadata.packages_distributions()
    imported: dict[str, str] = {}
    for path in PIPELINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("pipeline", "_typeshed"):  # _typeshed: types only
                    imported.setdefault(top, path.relative_to(ROOT).as_posix())
    assert "openpyxl" in imported and "polars" in imported
    undeclared = {
        module: where
        for module, where in imported.items()
        if not any(_normalised(d) in declared for d in distributions.get(module, [module]))
    }
    assert undeclared == {}


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
