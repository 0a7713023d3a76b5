"""Diagram: frame time while scrolling and scrubbing a 100,000-event run on the saved-run (replay) page.

Method. A trace of BENCH_SCROLL_EVENTS events (default 100,000) is made of runs of BENCH_SCROLL_SCENARIO
(default token-ring, BENCH_SCROLL_PARAMS default {"n": 16}) joined seed after seed (bench/traces.py), and
saved as a Run with 2,000-event chunks in the servers' database (bench/save_run.py, the ORM in a child
process). Headless Chromium (1280x800) opens its page /runs/<id>/ on daphne, waits for the player to hold
every event and presses End, so that the whole run is drawn. Then, for BENCH_SCROLL_FRAMES frames each
(default 240, four seconds at 60 Hz):

- scroll: each frame moves the diagram down by BENCH_SCROLL_PX (default 60 px, 3,600 px/s at 60 Hz),
  jumping to a new place in the run every 60 frames (eight places from top to bottom);
- scrub: each frame sets the .scrub slider to the next of BENCH_SCROLL_FRAMES positions from the first to
  the last event and fires its ``input`` event, as dragging it does.

Headless Chromium paces frames at 60 Hz whatever they cost, so the gap between frames cannot show a slow
one. What is measured instead is each frame's main-thread time: from its first ``requestAnimationFrame``
callback (the page's ``requestAnimationFrame`` is wrapped to note it) to a message posted from the frame,
which runs once the frame's style, layout and paint are done. The figure is the 95th percentile over both
drives; each drive's own is in the note. The time to open the page and load the trace is reported too.
"""
import json
import os
import tempfile
import time

from . import servers
from .common import env_int, env_json, env_str, percentile, row
from .traces import long_trace

TARGET_MS = 16
FIGURE = "diagram: frame time scrolling/scrubbing a 100k-event run"
FIGURES = {FIGURE: f"p95 < {TARGET_MS} ms"}

INSTRUMENT = """
() => {
  if (window.__frames) return;
  const raf = window.requestAnimationFrame.bind(window);
  const frames = window.__frames = { start: null, work: [], channel: new MessageChannel() };
  frames.channel.port1.onmessage = () => {
    if (frames.start !== null) frames.work.push(performance.now() - frames.start);
    frames.start = null;
  };
  window.requestAnimationFrame = (cb) => raf((ts) => {
    if (frames.start === null) { frames.start = performance.now(); frames.channel.port2.postMessage(0); }
    cb(ts);
  });
}
"""

DRIVE = """
async ({ mode, frames, px }) => {
  const root = document.querySelector(".player");
  const player = root.player;
  const scroller = root.querySelector(".diagram-scroll");
  const scrub = root.querySelector(".scrub");
  const log = window.__frames;
  const settle = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 50))));
  await settle();
  log.work = [];
  const height = () => scroller.scrollHeight - scroller.clientHeight;
  await new Promise((resolve) => {
    let i = 0;
    const tick = () => {
      if (i >= frames) return resolve();
      if (mode === "scroll") {
        if (i % 60 === 0) scroller.scrollTop = Math.floor(height() * ((i / 60) % 8) / 8);
        else scroller.scrollTop += px;
      } else {
        scrub.value = Math.max(1, Math.round(((i + 1) / frames) * player.events.length));
        scrub.dispatchEvent(new Event("input", { bubbles: true }));
      }
      i++;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await settle();
  return { work: log.work.slice(), height: scroller.scrollHeight, events: player.events.length };
}
"""


def save_run(trace, database_url):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(trace, f, separators=(",", ":"))
    try:
        return servers.python(["-m", "bench.save_run", f.name], servers.server_env(database_url)).split()[-1]
    finally:
        os.unlink(f.name)


def measure():
    slug = env_str("BENCH_SCROLL_SCENARIO", "token-ring")
    params = env_json("BENCH_SCROLL_PARAMS", {"n": 16})
    want = env_int("BENCH_SCROLL_EVENTS", 100_000)
    frames, px = env_int("BENCH_SCROLL_FRAMES", 240), env_int("BENCH_SCROLL_PX", 60)
    trace = long_trace(slug, params, min_events=want)
    db = os.environ["BENCH_SERVER_DB"]
    run_id = save_run(trace, db)
    with servers.daphne(db, name="scroll") as server, servers.chromium() as browser:
        page = servers.new_page(browser)
        t0 = time.perf_counter()
        page.goto(f"{server.url}/runs/{run_id}/")
        page.wait_for_function(f"() => document.querySelector('.player').player "
                               f"&& document.querySelector('.player').player.events.length === {len(trace)} "
                               f"&& document.querySelector('.player').dataset.cursor >= 1", timeout=120_000)
        loaded = time.perf_counter() - t0
        page.evaluate(INSTRUMENT)
        page.locator(".diagram-wrap").focus()
        page.keyboard.press("End")
        page.wait_for_function(f"() => document.querySelector('.player').dataset.cursor == {len(trace)}")
        scroll = page.evaluate(DRIVE, {"mode": "scroll", "frames": frames, "px": px})
        scrub = page.evaluate(DRIVE, {"mode": "scrub", "frames": frames, "px": px})
        if page.errors:
            raise RuntimeError(f"JavaScript errors: {page.errors[:2]}")
    both = scroll["work"] + scrub["work"]
    p95 = percentile(both, 95)
    note = (f"{len(trace):,} events of {slug} {params}, diagram {scroll['height']:,} px tall; scroll p95 "
            f"{percentile(scroll['work'], 95):.1f} ms, scrub p95 {percentile(scrub['work'], 95):.1f} ms "
            f"(max {max(scrub['work']):.0f}); page and trace loaded in {loaded:.1f} s")
    return [row(FIGURE, p95, unit="ms", shown=f"p95 {p95:.1f} ms", target=f"p95 < {TARGET_MS} ms",
                meets=p95 < TARGET_MS, note=note, scroll_ms=scroll["work"], scrub_ms=scrub["work"],
                load_s=loaded, events=len(trace))]
