"""Diagram: a 1,000,000-event saved run loads, scrubs and zooms on its replay page.

Method. A trace of BENCH_BIG_EVENTS events (default 1,000,000) is made of runs of BENCH_BIG_SCENARIO
(default token-ring, BENCH_BIG_PARAMS default {"n": 16}) joined seed after seed (bench/traces.py), and
saved as a Run with 2,000-event chunks in the servers' database, as bench/scroll.py does (bench/save_run.py,
the ORM's bulk_create in a child process; the time it takes is in the note). Headless Chromium (1280x800)
opens /runs/<id>/ on daphne, which serves the whole trace as one trace.json, and then:

- load: from ``page.goto`` until the player holds every event and has landed (``dataset.cursor`` set);
  the part spent fetching trace.json (server, transfer) is taken from the page's resource timing;
- scrub: the .scrub slider is set to BENCH_BIG_SCRUBS positions (default 8) spread over the run, firing
  its ``input`` event as dragging does; each is timed from the event to the end of the next frame (a
  message posted from that frame's ``requestAnimationFrame``, after the player's own), and the player's
  ``dataset.cursor`` must then read the new position and the cursor's row must be in view (the last
  position is the run's end);
- zoom: a click on [data-act=zoom-out], then on [data-act=fit], each timed the same way (a zoom lays the
  whole run out again);
- the JS heap after all that: ``performance.memory.usedJSHeapSize`` (CDP's Runtime.getHeapUsage if absent).

The row meets its target if all of it happens without a JavaScript error, the load takes under
BENCH_BIG_LOAD_S seconds (default 60), the key moment the page lands on and every scrubbed-to row are in
view, and the diagram draws text after each zoom. Chromium lays nothing out beyond 33,554,428 px (2^25 px
less a few), so a diagram taller than that cannot be scrolled to its end: the note says so when it happens.
"""
import os
import time

from . import servers
from .common import env_float, env_int, env_json, env_str, percentile, row, rss_kb
from .scroll import save_run
from .traces import long_trace

FIGURE = "diagram: a 1M-event run loads, scrubs and zooms"
FIGURES = {FIGURE: "loads < 60 s, scrubs and zooms, in view, no error"}

STEP = """
async ({ act, value }) => {
  const root = document.querySelector(".player");
  const frameEnd = () => new Promise((r) => requestAnimationFrame(() => {
    const ch = new MessageChannel(); ch.port1.onmessage = () => r(performance.now()); ch.port2.postMessage(0);
  }));
  await frameEnd(); await frameEnd();  // start from a quiet page
  const t0 = performance.now();
  if (act === "scrub") {
    const scrub = root.querySelector(".scrub");
    scrub.value = value;
    scrub.dispatchEvent(new Event("input", { bubbles: true }));
  } else {
    root.querySelector(`[data-act="${act}"]`).click();
  }
  const t1 = await frameEnd();
  const d = root.player.diagram, sc = d.scroller, y = d.headY();
  const inView = (el, sc) => { if (!el) return false; const r = el.getBoundingClientRect(), b = sc.getBoundingClientRect();
    return r.bottom >= b.top && r.top <= b.bottom; };
  return { ms: t1 - t0, cursor: Number(root.dataset.cursor), zoom: d.zoom, y, scrollTop: sc.scrollTop,
           visible: inView(root.querySelector("svg.diagram line.now"), sc),
           texts: root.querySelectorAll("svg.diagram text").length };
}
"""

HEAP = """() => {
  // drawn on screen: the element's box lies within the diagram's scrolled view (the page may be capped)
  const inView = (el, sc) => { if (!el) return false; const r = el.getBoundingClientRect(), b = sc.getBoundingClientRect();
    return r.bottom >= b.top && r.top <= b.bottom; };
  const m = performance.memory, root = document.querySelector(".player"), d = root.player.diagram, sc = d.scroller;
  const keyAt = Number(root.dataset.key), keyY = d.layout.yOf(keyAt);
  const fetched = performance.getEntriesByType("resource").filter((e) => e.name.includes("trace.json"))[0];
  return { heap: m ? m.usedJSHeapSize : null, total: m ? m.totalJSHeapSize : null,
           fetch: fetched ? { start: fetched.startTime, end: fetched.responseEnd, size: fetched.encodedBodySize }
                          : null,
           height: document.querySelector(".diagram-scroll").scrollHeight,
           svgHeight: Number(document.querySelector("svg.diagram").getAttribute("height")),
           key: keyAt, keyY, keyVisible: inView(root.querySelector("svg.diagram .key") || root.querySelector("svg.diagram line.now"), sc) };
}"""


def measure():
    slug = env_str("BENCH_BIG_SCENARIO", "token-ring")
    params = env_json("BENCH_BIG_PARAMS", {"n": 16})
    want = env_int("BENCH_BIG_EVENTS", 1_000_000)
    scrubs = env_int("BENCH_BIG_SCRUBS", 8)
    limit = env_float("BENCH_BIG_LOAD_S", 60)
    target = f"loads < {limit:g} s, scrubs and zooms, in view, no error"
    figure = FIGURE if want == 1_000_000 else FIGURE.replace("1M", f"{want:,}")

    t = time.perf_counter()
    trace = long_trace(slug, params, min_events=want)
    n = len(trace)
    made = time.perf_counter() - t
    t = time.perf_counter()
    db = os.environ["BENCH_SERVER_DB"]
    run_id = save_run(trace, db)
    saved = time.perf_counter() - t
    del trace

    with servers.daphne(db, name="big_run") as server, servers.chromium() as browser:
        page = servers.new_page(browser)
        t0 = time.perf_counter()
        page.goto(f"{server.url}/runs/{run_id}/", timeout=60_000)
        try:
            page.wait_for_function(f"() => document.querySelector('.player').player "
                                   f"&& document.querySelector('.player').player.events.length === {n} "
                                   f"&& document.querySelector('.player').dataset.cursor >= 1",
                                   timeout=int(max(limit * 3, 120) * 1000), polling=250)
        except Exception as e:
            raise RuntimeError(f"the run did not load in {time.perf_counter() - t0:.0f} s "
                               f"(JS errors: {page.errors[:2]}): {str(e).splitlines()[0]}")
        loaded = time.perf_counter() - t0
        server_rss = rss_kb(server.pid)
        got = page.evaluate(HEAP)
        positions = [max(1, round(n * (i + 1) / scrubs)) for i in range(scrubs)]  # the last is the end
        scrub = []
        for pos in positions:
            step = page.evaluate(STEP, {"act": "scrub", "value": pos})
            if step["cursor"] != pos:
                raise RuntimeError(f"scrubbed to {pos} but the player shows {step['cursor']}")
            scrub.append(step)
        zoom = {act: page.evaluate(STEP, {"act": act, "value": None}) for act in ("zoom-out", "fit")}
        after = page.evaluate(HEAP)
        heap = after["heap"]
        if heap is None:
            cdp = page.context.new_cdp_session(page)
            heap = cdp.send("Runtime.getHeapUsage")["usedSize"]
        errors = page.errors[:]
    scrub_ms = [s["ms"] for s in scrub]
    p95 = percentile(scrub_ms, 95)
    fetch = got["fetch"]
    fetch_s = (fetch["end"] - fetch["start"]) / 1000 if fetch else None
    hidden = [p for p, s in zip(positions, scrub) if not s["visible"] or not s["texts"]]
    ok = (not errors and loaded < limit and not hidden and got["keyVisible"]
          and all(z["texts"] > 0 for z in zoom.values()))
    shown = (f"load {loaded:.1f} s, scrub p95 {p95:.0f} ms, zoom-out {zoom['zoom-out']['ms']:.0f} ms, "
             f"fit {zoom['fit']['ms']:.0f} ms, heap {heap / 2**20:,.0f} MiB")
    if hidden or not got["keyVisible"]:
        shown += "; run's end out of view"
    fetched = (f"trace.json fetched in {fetch_s:.1f} s ({(fetch['size'] or 0) / 1e6:.0f} MB on the wire) of "
               if fetch else "")
    note = (f"{n:,} events of {slug} {params}; trace made in {made:.0f} s, saved as a Run in {saved:.0f} s; load: "
            f"{fetched}{loaded:.1f} s, diagram {got['svgHeight']:,.0f} px tall (the page can scroll "
            f"{got['height']:,} px); scrub ms at {scrubs} positions "
            f"{', '.join(f'{m:.0f}' for m in scrub_ms)}; zoom {zoom['zoom-out']['zoom']:.3f} after zoom-out, "
            f"{zoom['fit']['zoom']:.3f} after fit")
    if not got["keyVisible"]:
        note += (f"; NOT SHOWN: the page landed on its key moment #{got['key']:,} at y {got['keyY']:,.0f} px "
                 f"but it is not in view")
    else:
        note += f"; landed on its key moment #{got['key']:,}, in view"
    if hidden:
        ys = ", ".join(f"{s['y']:,.0f}" for p, s in zip(positions, scrub) if p in hidden)
        note += (f"; NOT SHOWN: after scrubbing to {', '.join(f'{p:,}' for p in hidden)} the cursor's row "
                 f"(y {ys} px) is not in view")
    if got["heap"]:
        note += f"; JS heap {got['heap'] / 2**20:,.0f} MiB after load, {heap / 2**20:,.0f} MiB after scrubs and zooms"
    note += f"; daphne RSS {server_rss / 1024:,.0f} MiB after serving it"
    if errors:
        note += f"; JavaScript errors: {errors[:2]}"
    return [row(figure, loaded, unit="s", shown=shown, target=target, meets=ok, note=note, load_s=loaded,
                fetch_s=fetch_s, scrub_ms=scrub_ms, zoom_ms={k: v["ms"] for k, v in zoom.items()}, heap_bytes=heap,
                events=n, save_s=saved, server_rss_kb=server_rss)]
