"""Take the review-site screenshots of docs/images/ from a run folder, with Debian's Chromium.

    .venv/bin/windstil run --as-of 2026-11-30
    .venv/bin/python docs/tools/screenshots.py output/2026-11-30 docs/images

Uses Playwright (the test extra) with /usr/bin/chromium, because the recipient page shows the
e-mails in frames that a plain `chromium --headless --screenshot` captures before they load.
Look at every image before committing it, and keep each under 200 KB.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
WIDTH = 1280
LIMIT = 200 * 1024  # bytes per image: the docs stay small to clone and quick to load


def first_contact(run: Path) -> str:
    """Return the first contact that got both a newsletter and an alert (the richest page)."""
    with (run / "recipients.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["newsletter"] == "rendered" and row["alert"] == "rendered":
                return row["contact_id"]
    raise SystemExit(f"{run}: no contact with both a newsletter and an alert")


def first_call_list(run: Path) -> str:
    """Return the call list with the most rows, as a path inside the run folder."""
    lists = sorted((run / "calls").glob("*.csv"))
    lists = [p for p in lists if p.name != "all.csv"]
    if not lists:
        raise SystemExit(f"{run}: no call lists")
    busiest = max(lists, key=lambda p: p.read_text(encoding="utf-8").count("\n"))
    return f"calls/{busiest.stem}.html"


def shoot(page: Page, url: str, out: Path, height: int = 900, below: str | None = None) -> None:
    """Open `url` and save the first screen of it, or the part that starts at the text `below`."""
    page.set_viewport_size({"width": WIDTH, "height": height})
    page.goto(url)
    page.wait_for_load_state("load")
    for frame in page.frames:
        frame.wait_for_load_state("load")
    page.wait_for_timeout(1000)  # the site's script fills the page after load
    if below is None:
        page.screenshot(path=str(out))
    else:
        box = page.get_by_text(below).first.bounding_box()
        top = max(0.0, (box["y"] if box else 0.0) - 20)
        page.screenshot(path=str(out), full_page=True, clip={"x": 0, "y": top, "width": WIDTH, "height": 620})
    size = out.stat().st_size
    print(f"{out}: {size // 1024} KB" + ("  (over 200 KB: crop or shrink it)" if size > LIMIT else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a run folder, e.g. output/2026-11-30")
    parser.add_argument("out", type=Path, help="where the PNG files go, e.g. docs/images")
    parser.add_argument("--why", default="Waarom deze items",
                        help="the heading above the item reasons on the recipient page, in the site's language")
    args = parser.parse_args()
    run: Path = args.run.resolve()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    contact = first_contact(run)
    base = run.as_uri()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        shoot(page, f"{base}/index.html", out / "overview.png")
        shoot(page, f"{base}/site/recipients.html", out / "recipients.png")
        shoot(page, f"{base}/site/recipient.html#{contact}", out / "recipient.png", height=1100)
        shoot(page, f"{base}/site/recipient.html#{contact}", out / "why.png", below=args.why)
        shoot(page, f"{base}/site/variants.html", out / "variants.png")
        shoot(page, f"{base}/reports/segments.html", out / "segments.png")
        shoot(page, f"{base}/{first_call_list(run)}", out / "calls.png")
        page.set_viewport_size({"width": 640, "height": 1400})
        page.goto(f"{base}/emails/{contact}/newsletter.html")
        page.screenshot(path=str(out / "newsletter.png"))
        print(f"{out / 'newsletter.png'}: {(out / 'newsletter.png').stat().st_size // 1024} KB")
        browser.close()


if __name__ == "__main__":
    main()
