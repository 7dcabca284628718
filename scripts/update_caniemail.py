"""Regenerate pipeline/checks/data/caniemail.json from a checkout of the caniemail project.

    git clone https://github.com/hteumeuleu/caniemail /tmp/caniemail
    python scripts/update_caniemail.py /tmp/caniemail

The `client_support` check needs only, per HTML element and CSS property, whether the
latest test of Outlook for Windows, Gmail (desktop webmail) and Apple Mail (macOS, iOS)
supports it; this script keeps just that, with each feature's title and the caniemail page
it comes from. The data is MIT-licensed (Rémi Parmentier); its licence is copied beside it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

CLIENTS = {  # our name → (caniemail family, platform)
    "Outlook (Windows)": ("outlook", "windows"),
    "Gmail": ("gmail", "desktop-webmail"),
    "Apple Mail (macOS)": ("apple-mail", "macos"),
    "Apple Mail (iOS)": ("apple-mail", "ios"),
}
OUT = Path(__file__).resolve().parent.parent / "pipeline" / "checks" / "data"


def latest(stats: dict, family: str, platform: str) -> str:
    """Return the support letter (y, a, n, u) of the newest version tested, "" when untested."""
    versions = (stats.get(family) or {}).get(platform) or {}
    if not versions:
        return ""
    value = str(list(versions.values())[-1]).strip()
    return value[:1]


def main() -> None:
    source = Path(sys.argv[1])
    features: dict[str, dict[str, object]] = {}
    skipped = []
    for path in sorted((source / "_features").glob("*.md")):
        front = path.read_text(encoding="utf-8").split("---", 2)[1]
        try:
            meta = yaml.safe_load(front.replace("\t", "    "))
        except yaml.YAMLError:
            skipped.append(path.name)
            continue
        if meta.get("category") not in ("css", "html"):
            continue
        stats = meta.get("stats") or {}
        support = {name: latest(stats, *where) for name, where in CLIENTS.items()}
        unsupported = sorted(name for name, letter in support.items() if letter == "n")
        if unsupported:
            features[path.stem] = {"title": meta.get("title", path.stem), "unsupported": unsupported}
    commit = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=False).stdout.strip()
    data = {"source": "https://www.caniemail.com/", "commit": commit, "clients": list(CLIENTS),
            "features": features}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "caniemail.json").write_text(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n",
                                        encoding="utf-8")
    shutil.copyfile(source / "LICENSE", OUT / "caniemail-LICENSE")
    print(f"{len(features)} features with an unsupported client written; skipped (unparsable): {skipped}")


if __name__ == "__main__":
    main()
