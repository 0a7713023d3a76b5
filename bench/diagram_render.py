"""Diagram: time to render a 2,000-message run, ours against Mermaid's sequenceDiagram, in the same browser.

Method. The trace: runs of BENCH_DIAGRAM_SCENARIO (default byzantine-generals, BENCH_DIAGRAM_PARAMS
default {"n": 7, "m": 3}: seven lifelines, forged and relayed orders) joined seed after seed and cut to
its first BENCH_DIAGRAM_MESSAGES messages (default 2,000), see bench/traces.py. Two static harness pages
in bench/harness/, served over 127.0.0.1 by a small http.server with the repository's static/ folder,
load in the same headless Chromium (1280x800):

- ours (harness/diagram.html): static/js/diagram.js and static/css/lifelines.css, an 800x700 stage like
  the scenario page's; timed from ``new Diagram`` through ``reset``, ``append`` of the whole trace,
  ``show`` at its end, ``follow`` and ``draw``, to the next frame (so style, layout and paint count).
- Mermaid (harness/mermaid.html): the vendored bench/vendor/mermaid-<version>.min.js (from the npm
  registry, bench-only, never served by the app) on ``simulations.export.to_mermaid(trace)``; timed from
  ``mermaid.render`` through putting its SVG in the page to the next frame.

Each side renders once to warm up, then BENCH_DIAGRAM_ROUNDS times (default 5; Mermaid 3 at most, it is
slow); medians are compared. Ours draws only what is on screen (the diagram is windowed); Mermaid lays out
and draws every message: that is the difference a user sees.
"""
import json
import tempfile
from pathlib import Path

from simulations.export import to_mermaid

from . import servers
from .common import BENCH, ROOT, env_int, env_json, env_str, median, row
from .traces import first_messages, long_trace

TARGET = 10
FIGURE = "diagram: render a 2,000-message run (ours vs Mermaid)"
FIGURES = {FIGURE: f">= {TARGET}x faster than Mermaid"}


def vendored_mermaid():
    found = sorted(BENCH.glob("vendor/mermaid-*.min.js"),
                   key=lambda p: [int(x) for x in p.name.split("-")[1].split(".")[:3] if x.isdigit()])
    if not found:
        raise RuntimeError("no bench/vendor/mermaid-<version>.min.js: npm pack mermaid@11 and copy dist/mermaid.min.js")
    return found[-1]


def timed(page, url, fn, data_url, rounds):
    page.goto(url)
    page.wait_for_function("() => window.ready === true", timeout=60_000)
    page.evaluate(f"(u) => window.{fn}(u)", data_url)  # warm-up
    results = [page.evaluate(f"(u) => window.{fn}(u)", data_url) for _ in range(rounds)]
    if page.errors:
        raise RuntimeError(f"JavaScript errors in {url}: {page.errors[:2]}")
    return results


def measure():
    slug = env_str("BENCH_DIAGRAM_SCENARIO", "byzantine-generals")
    params = env_json("BENCH_DIAGRAM_PARAMS", {"n": 7, "m": 3})
    messages = env_int("BENCH_DIAGRAM_MESSAGES", 2000)
    rounds = env_int("BENCH_DIAGRAM_ROUNDS", 5)
    trace = first_messages(long_trace(slug, params, min_messages=messages), messages)
    sends = sum(e["kind"] == "send" for e in trace)
    mermaid = vendored_mermaid()
    with tempfile.TemporaryDirectory(prefix="lifelines-bench-data-") as data:
        Path(data, "trace.json").write_text(json.dumps(trace, separators=(",", ":")))
        Path(data, "trace.mmd").write_text(to_mermaid(trace))
        mounts = {"static": ROOT / "static", "harness": BENCH / "harness", "vendor": BENCH / "vendor", "data": data}
        with servers.static_server(mounts) as base, servers.chromium() as browser:
            page = servers.new_page(browser)
            ours = timed(page, f"{base}/harness/diagram.html", "renderOurs", "/data/trace.json", rounds)
            theirs = timed(page, f"{base}/harness/mermaid.html?mermaid={mermaid.name}", "renderMermaid",
                           "/data/trace.mmd", min(rounds, 3))
    a, b = median([r["ms"] for r in ours]), median([r["ms"] for r in theirs])
    ratio = b / a
    version = mermaid.name.removeprefix("mermaid-").removesuffix(".min.js")
    return [row(FIGURE, a, unit="ms", shown=f"{a:.1f} ms", target=f">= {TARGET}x faster than Mermaid",
                meets=ratio >= TARGET, alternative=f"Mermaid {version} {b:,.0f} ms", ratio=f"{ratio:.0f}x faster",
                note=f"{sends:,} messages, {len(trace):,} events of {slug} {params}; ours drew "
                     f"{ours[-1]['arrows']} arrows on screen, Mermaid {theirs[-1]['arrows']}",
                mermaid_ms=b, ours_rounds=ours, mermaid_rounds=theirs)]
