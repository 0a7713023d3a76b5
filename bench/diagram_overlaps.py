"""Diagram: text drawn over text, and message labels crossed by another message's line, in every shipped setup.

Method. Every scenario in ``simulations.SCENARIOS`` at its defaults (seed 0, no faults) and every shipped
lesson in ``scenarios.presets.PRESETS`` (its own params, seed and faults) is run in Python. Headless
Chromium opens the scenario's page /s/<slug>/ on daphne at 1440x900 and at 390x844 (a phone), and each
trace is fed into the page's player as a saved run opens (``begin``, ``receive`` of the whole trace,
``land``), then ``diagram.overlaps()`` is asked twice: at the end of the run, and after
``setCursor(key + 1)`` at the run's key moment. ``overlaps()`` draws the whole run and counts pairs of
SVG text elements whose boxes intersect, and message labels crossed by another message's line
(tests/test_diagram.py checks the same thing one scenario at a time).

Figures: the total number of overlapping text pairs over every setup, size and moment (target 0), and the
total number of crossed labels (no hard target: as few as possible; the worst setup is named).
"""
import json
import os
import time

from . import servers
from .common import row

SIZES = {"1440x900": (1440, 900), "390x844": (390, 844)}
OVERLAPS = "diagram: overlapping text pairs, every scenario and lesson"
CROSSED = "diagram: message labels crossed by another message's line"
FIGURES = {OVERLAPS: "0", CROSSED: "as few as possible"}

SHOW = """([trace, atKey]) => {
    const p = document.querySelector('.player').player;
    p.begin(); p.receive(trace); p.ended = true; p.land();
    const key = Number(p.root.dataset.key);
    if (atKey) p.setCursor(key + 1);
    p.diagram.draw();
    return { ...p.diagram.overlaps(), key, events: p.events.length };
}"""


def setups():
    """(slug, setup name, trace) for every scenario's defaults and every shipped lesson."""
    import simulations
    from scenarios.presets import PRESETS

    for slug in sorted(simulations.SCENARIOS):
        scenario = simulations.SCENARIOS[slug]
        yield slug, "defaults", scenario.run({}, 0, [])
        for key, _name, _text, params, seed, faults, _featured in PRESETS.get(slug, []):
            yield slug, key, scenario.run(params, seed, faults)


def measure():
    by_slug = {}
    for slug, name, trace in setups():
        by_slug.setdefault(slug, []).append((name, json.loads(json.dumps(trace))))
    results, t0 = [], time.perf_counter()
    db = os.environ["BENCH_SERVER_DB"]
    with servers.daphne(db, name="diagram_overlaps") as server, servers.chromium() as browser:
        for size, (width, height) in SIZES.items():
            page = servers.new_page(browser, width, height)
            for slug, traces in by_slug.items():
                page.goto(f"{server.url}/s/{slug}/")
                page.wait_for_function("() => document.querySelector('.player') "
                                       "&& document.querySelector('.player').player", timeout=30_000)
                for name, trace in traces:
                    for at_key in (False, True):
                        got = page.evaluate(SHOW, [trace, at_key])
                        results.append({"slug": slug, "setup": name, "size": size,
                                        "moment": "key" if at_key else "end", **got})
            if page.errors:
                raise RuntimeError(f"JavaScript errors: {page.errors[:2]}")
            page.context.close()
    seconds = time.perf_counter() - t0
    n_setups = sum(len(t) for t in by_slug.values())
    checks, texts = len(results), sum(r["texts"] for r in results)
    overlaps = sum(r["overlaps"] for r in results)
    crossed = sum(r["crossed"] for r in results)
    empty = [r for r in results if not r["texts"]]

    def where(r):
        return f"{r['slug']}/{r['setup']} {r['size']} at {r['moment']}"

    bad = sorted((r for r in results if r["overlaps"]), key=lambda r: -r["overlaps"])
    worst_crossed = sorted((r for r in results if r["crossed"]), key=lambda r: -r["crossed"])
    base = (f"{n_setups} setups ({len(by_slug)} scenarios' defaults + {n_setups - len(by_slug)} lessons) x "
            f"{len(SIZES)} sizes x end and key moment = {checks} checks, {texts:,} texts in all; {seconds:.0f} s")
    if empty:
        base += f"; {len(empty)} checks drew no text (e.g. {where(empty[0])})"
    over_note = base
    if bad:
        over_note += "; in " + ", ".join(f"{where(r)}: {r['overlaps']} {r['pairs'][:2]}" for r in bad[:3])
        over_note += f" ({len(bad)} checks with any)"
    split = ", ".join(f"{m}: {sum(r['crossed'] for r in results if r['moment'] == m):,}" for m in ("end", "key"))
    cross_note = (f"counted over the same {checks} checks ({split}); "
                  f"{sum(1 for r in results if r['crossed'])} checks have any" +
                  ("; worst " + ", ".join(f"{where(r)}: {r['crossed']}" for r in worst_crossed[:3])
                   if worst_crossed else ""))
    return [row(OVERLAPS, overlaps, shown=f"{overlaps:,} pairs", target="0", meets=overlaps == 0 and not empty,
                note=over_note, checks=results),
            row(CROSSED, crossed, shown=f"{crossed:,} labels", target="as few as possible", meets=None,
                note=cross_note)]
