"""Page weight: the JavaScript and CSS a scenario page loads, gzipped.

Method. Headless Chromium opens every registered scenario's page (/s/<slug>/) on daphne and waits for the
network to go quiet; every script and stylesheet the page loaded (``performance.getEntriesByType
("resource")`` plus the document's own <script> and <link rel=stylesheet>, so that ES-module imports and
late loads count) is fetched again and compressed with gzip at level 6, zlib's default and the usual
server setting. Inline <script> and <style> text is counted too. The figure is the heaviest page, in KB
of 1,000 bytes; the JSON has every file.
"""
import gzip
import os
import urllib.request

import simulations

from . import servers
from .common import row

TARGET_KB = 60
FIGURE = "page weight: JS + CSS of a scenario page, gzipped"
FIGURES = {FIGURE: f"< {TARGET_KB} KB"}

ASSETS = """
() => {
  const urls = new Set(performance.getEntriesByType("resource").map((e) => e.name)
    .filter((u) => /\\.(m?js|css)(\\?|$)/.test(u)));
  for (const s of document.querySelectorAll("script[src]")) urls.add(s.src);
  for (const l of document.querySelectorAll("link[rel=stylesheet][href]")) urls.add(l.href);
  const inline = [...document.querySelectorAll("script:not([src]), style")].map((e) => e.textContent).join("\\n");
  return { urls: [...urls], inline };
}
"""


def gz(data):
    return len(gzip.compress(data, compresslevel=6))


def measure():
    pages = []
    with servers.daphne(os.environ["BENCH_SERVER_DB"], name="page-weight") as server, servers.chromium() as browser:
        page = servers.new_page(browser)
        for slug in simulations.SCENARIOS:
            page.goto(f"{server.url}/s/{slug}/", wait_until="networkidle")
            found = page.evaluate(ASSETS)
            files = {}
            for url in sorted(found["urls"]):
                with urllib.request.urlopen(url, timeout=30) as r:
                    body = r.read()
                files[url.removeprefix(server.url)] = {"bytes": len(body), "gzip": gz(body)}
            inline = found["inline"].encode()
            total = sum(f["gzip"] for f in files.values()) + (gz(inline) if inline.strip() else 0)
            pages.append({"slug": slug, "gzip": total, "raw": sum(f["bytes"] for f in files.values()) + len(inline),
                          "files": files})
    heaviest = max(pages, key=lambda p: p["gzip"])
    kb = heaviest["gzip"] / 1000
    biggest = sorted(heaviest["files"].items(), key=lambda kv: -kv[1]["gzip"])[:3]
    note = (f"heaviest of {len(pages)} pages: /s/{heaviest['slug']}/, {len(heaviest['files'])} files, "
            f"{heaviest['raw'] / 1000:.0f} KB raw; largest " +
            ", ".join(f"{u.rsplit('/', 1)[-1]} {f['gzip'] / 1000:.1f}" for u, f in biggest))
    return [row(FIGURE, kb, unit="KB", shown=f"{kb:.1f} KB", target=f"< {TARGET_KB} KB", meets=kb < TARGET_KB,
                note=note, pages=pages)]
