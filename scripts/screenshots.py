"""`make screenshots`: every shipped lesson at its key moment, as a learner first sees it, in docs/gallery/.

Starts daphne on a throwaway SQLite database, opens each lesson in headless Chromium (Debian's, never a
downloaded one) at 1440x900, runs it at full speed, waits for the view to land on the key moment and saves
docs/gallery/<scenario>--<lesson>.png; SIZES=phone adds 390x844 shots. docs/gallery/README.md indexes them.
"""
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import servers  # noqa: E402

GALLERY = ROOT / "docs" / "gallery"
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}


def lessons():
    sys.path.insert(0, str(ROOT))
    from scenarios.presets import PRESETS

    for slug, entries in PRESETS.items():
        for key, name, *_ in entries:
            yield slug, key, name


def shoot(page, base, slug, key, path):
    page.goto(f"{base}/s/{slug}/?preset={key}&guide=0&autorun=1")
    page.select_option(".speed", "1000")
    page.wait_for_function("() => document.querySelector('.player').dataset.key", timeout=180_000)
    page.wait_for_timeout(500)  # arrows finish sliding in
    page.screenshot(path=str(path))


def main():
    from playwright.sync_api import sync_playwright

    sizes = ["desktop"] + [s for s in os.environ.get("SIZES", "").split(",") if s in SIZES and s != "desktop"]
    GALLERY.mkdir(parents=True, exist_ok=True)
    index = ["# Gallery: every lesson at its key moment", "",
             "Made by `make screenshots` (1440x900, headless Chromium). Each run lands where its lesson is decided:",
             "the first violation, else the last fault, else the first state that went wrong.", ""]
    with tempfile.TemporaryDirectory() as tmp, servers.server_database(Path(tmp)) as db, \
            servers.daphne(db) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                    args=["--no-sandbox", "--disable-gpu"])
        current = None
        for slug, key, name in lessons():
            if slug != current:
                index += ["", f"## {slug}", ""]
                current = slug
            for size in sizes:
                width, height = SIZES[size]
                page = browser.new_page(viewport={"width": width, "height": height})
                suffix = "" if size == "desktop" else f"--{size}"
                path = GALLERY / f"{slug}--{key}{suffix}.png"
                shoot(page, server.url, slug, key, path)
                page.close()
                print(f"{path.relative_to(ROOT)}")
            index.append(f"- [{name}]({slug}--{key}.png): `/s/{slug}/?preset={key}`")
        browser.close()
    (GALLERY / "README.md").write_text("\n".join(index) + "\n")


if __name__ == "__main__":
    main()
