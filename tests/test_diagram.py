"""The diagram reads at a glance: no text drawn over another, wide systems fit, the view lands on the key moment.

Every scenario at its defaults and every shipped lesson is laid out in real Chromium at 1440x900 and on a
phone (390x844); the overlap count is the number of pairs of text elements whose boxes intersect.
"""
import json

import pytest

import simulations
from scenarios.presets import PRESETS

pytestmark = pytest.mark.browser

SIZES = {"desktop": (1440, 900), "phone": (390, 844)}


def setups(slug):
    yield "defaults", simulations.SCENARIOS[slug].run({}, 0, [])
    for key, _name, _text, params, seed, faults, _featured in PRESETS.get(slug, []):
        yield key, simulations.SCENARIOS[slug].run(params, seed, faults)


def show(page, trace, at_key=False):
    """Load a whole trace into the page's player as a saved run opens: landed on its key moment."""
    return page.evaluate("""([trace, atKey]) => {
        const p = document.querySelector('.player').player;
        p.begin(); p.receive(trace); p.ended = true; p.land();
        if (atKey) p.setCursor(Number(p.root.dataset.key) + 1);
        p.diagram.draw();
        return p.diagram.overlaps();
    }""", [trace, at_key])


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("slug", sorted(simulations.SCENARIOS))
def test_no_text_overlaps_at_the_end_and_at_the_key_moment(browser, live_daphne, slug, size):
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        page.goto(f"{live_daphne.url}/s/{slug}/")
        page.wait_for_function("() => document.querySelector('.player').player")
        found = {}
        for name, trace in setups(slug):
            for at_key in (False, True):
                result = show(page, json.loads(json.dumps(trace)), at_key)
                assert result["texts"] > 0
                if result["overlaps"]:
                    found[f"{name}{' at key' if at_key else ''}"] = result["pairs"]
        assert not found, f"overlapping texts in {slug} at {size}: {found}"
    finally:
        context.close()


@pytest.mark.parametrize("url", ["/s/gossip/?n=16&mode=parallel", "/s/microservices-order/"])
def test_wide_systems_show_every_head_whole_at_1440(browser, live_daphne, url):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        page.goto(live_daphne.url + url + "&autorun=1" if "?" in url else live_daphne.url + url + "?autorun=1")
        page.wait_for_selector(".diagram-wrap.has-run .head")
        report = page.evaluate("""() => {
            const stage = document.querySelector('.diagram-scroll').getBoundingClientRect();
            const heads = [...document.querySelectorAll('.head')].map((h) => ({ id: h.dataset.node,
                r: h.getBoundingClientRect(), clipped: h.scrollWidth > h.clientWidth + 1 || h.scrollHeight > h.clientHeight + 1 }));
            return { n: heads.length, scroll: document.querySelector('.diagram-scroll').scrollWidth > document.querySelector('.diagram-scroll').clientWidth,
                outside: heads.filter((h) => h.r.left < stage.left - 1 || h.r.right > stage.right + 1).map((h) => h.id),
                clipped: heads.filter((h) => h.clipped).map((h) => h.id),
                touching: heads.slice(1).filter((h, i) => h.r.left < heads[i].r.right).map((h) => h.id),
                text: heads.map((h) => document.querySelector(`.head[data-node="${h.id}"]`).textContent) };
        }""")
        assert report["n"] >= 8
        assert not report["scroll"] and not report["outside"] and not report["clipped"] and not report["touching"], report
        assert all(node in report["text"] for node in ("OrderService", "NotificationService")) or "P16" in report["text"]
    finally:
        context.close()


def test_a_long_idle_gap_is_drawn_as_a_break_with_its_length(page, live_daphne):
    page.goto(f"{live_daphne.url}/s/payment-gateway/?preset=double-charge")
    trace = simulations.SCENARIOS["payment-gateway"].run({"idempotency": False}, 0, [])
    show(page, trace)
    page.evaluate("() => document.querySelector('.player').player.diagram.draw(true)")
    breaks = page.locator("svg.diagram .break text").all_text_contents()
    assert breaks and all(b.startswith("⋯ ") and b.endswith(" ms ⋯") for b in breaks)
    assert "t (ms)" in page.locator(".axis-unit").text_content()


def test_a_violation_is_drawn_once_in_the_invariants_words_and_the_run_lands_on_it(page, live_daphne):
    page.goto(f"{live_daphne.url}/s/two-generals/?preset=lost-last-ack&guide=0&autorun=1")
    page.select_option(".speed", "1000")
    # landed, and the landing's own frame drawn (it replaces the marks this test measures)
    page.wait_for_function("() => { const p = document.querySelector('.player'); "
                           "return p.dataset.key && !p.player.diagram.pending; }")
    page.evaluate("() => document.querySelector('.player').player.diagram.draw(true)")
    banners = page.locator("svg.diagram .mark.violation text").all_text_contents()
    assert len(banners) == 1 and "violated:" in banners[0]
    key = page.locator("svg.diagram .mark.violation.key")
    assert key.count() == 1
    box, stage = key.bounding_box(), page.locator(".diagram-scroll").bounding_box()
    assert stage["y"] <= box["y"] <= stage["y"] + stage["height"] - box["height"]


def test_the_strip_marks_key_moments_and_jumps_to_them(page, live_daphne):
    page.goto(f"{live_daphne.url}/s/token-ring/?preset=false-loss-no-generations&guide=0&autorun=1")
    page.select_option(".speed", "1000")
    page.wait_for_function("() => document.querySelector('.player').dataset.key")
    assert page.locator(".strip .k-fault").count() >= 1
    assert page.locator(".strip .k-violation").count() == 2  # mutual exclusion, and two valid tokens before it
    page.click('[data-act="first-violation"]')
    violation = page.evaluate("() => document.querySelector('.player').player.moments.find((k) => k.type === 'violation').i")
    assert page.evaluate("() => document.querySelector('.player').player.diagram.key") == violation
    page.click('[data-act="prev-mark"]')
    assert page.evaluate("() => document.querySelector('.player').player.diagram.key") < violation


def test_the_diagram_takes_most_of_the_screen_at_1440(browser, live_daphne):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{live_daphne.url}/s/bully-election/?autorun=1")
        page.wait_for_selector(".diagram-wrap.has-run")
        stage = page.locator(".stage").bounding_box()
        outcome = page.locator(".outcome").bounding_box()
        controls = page.locator(".controls").bounding_box()
        assert stage["width"] >= 0.6 * 1440
        assert stage["y"] <= outcome["y"] + outcome["height"] + 1
        assert stage["height"] >= 0.5 * 900
        assert abs(stage["y"] + stage["height"] - controls["y"]) <= 1
    finally:
        context.close()


def test_on_a_phone_the_diagram_and_its_controls_come_first(browser, live_daphne):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"{live_daphne.url}/s/two-generals/?preset=lost-last-ack&guide=0&autorun=1")
        page.wait_for_function("() => document.querySelector('.player').dataset.key")
        for selector in (".stage", '.controls [data-act="play"]'):
            box = page.locator(selector).bounding_box()
            assert box["y"] < 844, selector
        assert page.locator("svg.diagram .mark.violation").count() == 1
    finally:
        context.close()


def test_a_violation_found_only_at_the_end_shows_its_cause_on_screen(browser, live_daphne):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{live_daphne.url}/s/event-driven-notes/?preset=dual-write&guide=0")
        page.select_option(".speed", "1000")  # before Run: a speed picked mid-request can be lost (#12)
        page.click("#run")
        page.wait_for_function("() => document.querySelector('.player').dataset.key", timeout=60000)
        page.wait_for_selector("svg.diagram .mark.key")  # drawn in the frame after the player lands
        crash = page.locator("svg.diagram .mark.crash.key")
        assert crash.count() == 1  # the crash between commit and publish, not just the end-of-run verdict
        box, stage = crash.bounding_box(), page.locator(".diagram-scroll").bounding_box()
        assert stage["y"] <= box["y"] <= stage["y"] + stage["height"] - box["height"]
    finally:
        context.close()
