"""Run click to first arrow drawn: headless Chromium on a scenario page served by daphne.

Method. One daphne process (the bench's database and channel layer) and Debian's Chromium through
Playwright, 1280x800. For each of BENCH_FIRST_ARROW_RUNS rounds (default 15) the scenario page
(BENCH_FIRST_ARROW_SCENARIO, default bully-election, with its default parameters) is loaded afresh, so
each round opens its own WebSocket as a learner's first click does. Then, inside the page, a
MutationObserver watches the diagram, ``performance.now()`` is taken and the Run button is clicked; the
figure is the time until the first ``svg.diagram g.msg`` (an arrow) is in the DOM, and the median over
the rounds is compared with the target. The player's own ``data-first-arrow-ms`` (Run to the first batch
holding a send, before drawing) is kept in the JSON.

If the page does not play by itself after Run (the player is still paused once the lifelines are drawn),
the harness presses Play at that moment, as a learner would next, and the note says so: the figure then
covers Run, Play and the server's pacing of the events before the first send at the chosen speed. The
first row plays at the page's default speed; the second picks the fastest speed in the menu first, which
leaves only the system's own latency (connect, start, save, send, draw).
"""
import os
import statistics

from . import servers
from .common import env_int, env_str, median, row

TARGET_MS = 150
DEFAULT = "Run click -> first arrow (default speed)"
FASTEST = "Run click -> first arrow (fastest speed)"
FIGURES = {DEFAULT: f"median < {TARGET_MS} ms", FASTEST: f"median < {TARGET_MS} ms"}

MEASURE = """
async () => {
  const root = document.querySelector(".player");
  const svg = root.querySelector("svg.diagram");
  let tHeads = null, tPlay = null, pressed = false;
  const done = new Promise((resolve) => {
    const check = () => {
      if (tHeads === null && root.querySelector(".heads .head")) {
        tHeads = performance.now();
        queueMicrotask(() => {
          const p = root.player;
          if (!svg.querySelector("g.msg") && p && !p.playing) {
            pressed = true; tPlay = performance.now();
            root.querySelector('[data-act="play"]').click();
          }
        });
      }
      if (svg.querySelector("g.msg")) { mo.disconnect(); resolve(performance.now()); }
    };
    const mo = new MutationObserver(check);
    mo.observe(root, { childList: true, subtree: true });
  });
  const t0 = performance.now();
  document.querySelector("#run").click();
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("no arrow within 20 s")), 20000));
  const t1 = await Promise.race([done, timeout]);
  return { arrow: t1 - t0, heads: tHeads - t0, play: pressed ? tPlay - t0 : null, pressed,
           firstArrowMs: Number(root.dataset.firstArrowMs || NaN) };
}
"""


def rounds(page, url, count, speed=None):
    results = []
    for _ in range(count):
        page.goto(url)
        page.wait_for_function("() => document.querySelector('.player') && document.querySelector('.player').player")
        if speed:
            page.select_option(".speed", speed)
        results.append(page.evaluate(MEASURE))
    if page.errors:
        raise RuntimeError(f"JavaScript errors: {page.errors[:2]}")
    return results


def summarise(name, results, speed_text):
    arrows = [r["arrow"] for r in results]
    med = median(arrows)
    pressed = sum(r["pressed"] for r in results)
    heads = median([r["heads"] for r in results])
    note = f"{len(results)} rounds at {speed_text}; p90 {sorted(arrows)[int(0.9 * (len(arrows) - 1))]:.0f} ms; " \
           f"lifelines at {heads:.0f} ms"
    if pressed:
        plays = [r["play"] for r in results if r["play"] is not None]
        note += f"; the page waits for Play after Run: pressed at {statistics.median(plays):.0f} ms"
    return row(name, med, unit="ms", shown=f"{med:.0f} ms", target=f"median < {TARGET_MS} ms",
               meets=med < TARGET_MS, note=note, rounds=results)


def measure():
    slug = env_str("BENCH_FIRST_ARROW_SCENARIO", "bully-election")
    count = env_int("BENCH_FIRST_ARROW_RUNS", 15)
    with servers.daphne(os.environ["BENCH_SERVER_DB"], name="first-arrow") as server, servers.chromium() as browser:
        page = servers.new_page(browser)
        url = f"{server.url}/s/{slug}/"
        page.goto(url)
        options = page.eval_on_selector_all(".speed option", "els => els.map(e => [e.value, e.textContent])")
        default = page.eval_on_selector(".speed", "el => [el.value, el.selectedOptions[0].textContent]")
        fastest = max(options, key=lambda o: float(o[0]))
        rows = [summarise(DEFAULT, rounds(page, url, count), f"{default[1]} ({slug})")]
        rows.append(summarise(FASTEST, rounds(page, url, count, fastest[0]), f"{fastest[1]} ({slug})"))
    return rows
