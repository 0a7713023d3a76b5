"""Happened-before on the diagram, in Chromium: click an event, its causal past and future stay, the rest fades."""
import json

import pytest

import simulations
from simulations.clocks import clocks, happened_before

pytestmark = pytest.mark.browser

GOSSIP = "/s/gossip/?n=4&mode=parallel"


def run(slug, params=None, faults=None):
    return json.loads(json.dumps(simulations.get(slug).run(params or {}, 0, faults or [])))


def show(page, trace):
    """Load a whole trace into the page's player, as a saved run opens, and show all of it."""
    page.evaluate("""(trace) => {
        const p = document.querySelector('.player').player;
        p.begin(); p.receive(trace); p.ended = true; p.land(); p.diagram.draw();
    }""", trace)


def marks(page, selector):
    return page.eval_on_selector(f"svg.diagram {selector}", "el => [...el.classList].filter(c => c.startsWith('hb-'))")


def run_gossip_live(page, url):
    page.goto(url + GOSSIP)
    page.select_option(".speed", "1000")
    page.click("#run")
    page.wait_for_function("() => document.querySelector('.summary [data-key=messages_sent]')", timeout=15000)
    page.wait_for_function("() => document.querySelector('.player').dataset.key")  # landed on the key moment
    page.wait_for_function("() => { const p = document.querySelector('.player'); return p.dataset.cursor == p.player.events.length; }")
    top(page)


def top(page):
    """Scroll the diagram to its top (a short run then shows whole) once it has settled."""
    page.wait_for_timeout(100)
    page.evaluate("() => { const d = document.querySelector('.player').player.diagram; d.scroller.scrollTop = 0; d.draw(); }")


def test_clicking_a_deliver_marks_its_chain_past_later_events_future_and_fades_the_concurrent(page, live_daphne):
    run_gossip_live(page, live_daphne.url)
    trace = run("gossip", {"n": 4, "mode": "parallel"})
    reply = next(e for e in trace if e["kind"] == "deliver" and e["src"] == "P2" and e["dst"] == "P1")
    page.click(f'svg.diagram circle.ev[data-seq="{reply["seq"]}"]')
    page.wait_for_selector("svg.diagram.hb-on")  # the marks are painted on the next frame
    assert marks(page, f'circle.ev[data-seq="{reply["seq"]}"]') == ["hb-sel"]
    send = next(e for e in trace if e["kind"] == "send" and e["msg"] == reply["msg"])
    call = next(e for e in trace if e["kind"] == "send" and e["src"] == "P1" and e["dst"] == "P2")
    assert marks(page, f'g.msg[data-seq="{send["seq"]}"]') == ["hb-past"]  # the REPLY that arrives
    assert marks(page, f'g.msg[data-seq="{call["seq"]}"]') == ["hb-past"]  # the CALL that made P2 reply
    later = next(e for e in trace if e["kind"] == "send" and e["src"] == "P1" and e["dst"] == "P3")
    assert marks(page, f'g.msg[data-seq="{later["seq"]}"]') == ["hb-future"]
    arrives = next(e for e in trace if e["kind"] == "deliver" and e["msg"] == later["msg"])
    assert marks(page, f'circle.ev[data-seq="{arrives["seq"]}"]') == ["hb-future"]  # P3 receives it
    other = next(e for e in trace if e["kind"] == "send" and e["src"] == "P3" and e["dst"] == "P4")
    assert marks(page, f'g.msg[data-seq="{other["seq"]}"]') == ["hb-concurrent"]
    faded = page.eval_on_selector(f'svg.diagram g.msg[data-seq="{other["seq"]}"]', "el => Number(getComputedStyle(el).opacity)")
    assert faded < 0.5

    stamps = clocks(trace)
    sel = stamps[reply["seq"]]
    others = [s for s in stamps if s is not None and s is not sel]
    before = sum(happened_before(s, sel) for s in others)
    after = sum(happened_before(sel, s) for s in others)
    said = page.locator(".announce").text_content()
    assert said.startswith(f"Selected: deliver REPLY at P1, t={reply['t']}. {before} events before it, {after} after, "
                           f"{len(others) - before - after} concurrent.")
    assert "vector [3,3,0,0]" in said

    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.querySelector('svg.diagram').classList.contains('hb-on')")
    assert page.locator("svg.diagram .hb-past, svg.diagram .hb-concurrent").count() == 0


def test_the_keyboard_selects_a_focused_event_and_clicking_it_again_clears(page, live_daphne):
    page.goto(f"{live_daphne.url}{GOSSIP}")
    page.wait_for_function("() => document.querySelector('.player').player")
    trace = run("gossip", {"n": 4, "mode": "parallel"})
    show(page, trace)
    top(page)
    page.focus('svg.diagram circle.ev[data-seq="14"]')
    page.keyboard.press("Enter")
    page.wait_for_selector("svg.diagram.hb-on")
    assert marks(page, 'circle.ev[data-seq="14"]') == ["hb-sel"]
    assert page.evaluate("() => document.activeElement.dataset.seq") == "14"  # focus survives the redraw
    page.keyboard.press(" ")  # Space toggles it off, and does not start playing
    page.wait_for_function("() => !document.querySelector('svg.diagram').classList.contains('hb-on')")
    assert page.locator('[data-act="play"]').text_content() == "Play"
    page.click('svg.diagram circle.ev[data-seq="14"]')
    page.wait_for_selector("svg.diagram.hb-on")
    page.click('svg.diagram circle.ev[data-seq="14"]')
    page.wait_for_function("() => !document.querySelector('svg.diagram').classList.contains('hb-on')")
    assert page.locator(".announce").text_content().startswith("Selection cleared")


def test_the_clocks_toggle_shows_lamport_and_vector_timestamps(page, live_daphne):
    page.goto(f"{live_daphne.url}{GOSSIP}")
    page.wait_for_function("() => document.querySelector('.player').player")
    show(page, run("gossip", {"n": 4, "mode": "parallel"}))
    assert page.locator("svg.diagram .clock").count() == 0  # off by default
    page.get_by_label("Clocks").check()
    top(page)
    stamp = page.locator('svg.diagram g.clock[data-seq="14"] text').text_content()
    assert stamp == "4 [3,3,0,0]"  # Lamport 4; P1 saw 3 of its own events and 3 of P2's
    assert page.locator("svg.diagram g.clock").count() >= 10
    page.get_by_label("Clocks").uncheck()
    page.wait_for_function("() => !document.querySelector('svg.diagram .clock')")


@pytest.mark.parametrize("size", [(1440, 900), (390, 844)], ids=["desktop", "phone"])
@pytest.mark.parametrize("slug", sorted(simulations.SCENARIOS))
def test_clocks_on_never_draw_text_over_text(browser, live_daphne, slug, size):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    try:
        page.goto(f"{live_daphne.url}/s/{slug}/")
        page.wait_for_function("() => document.querySelector('.player').player")
        page.get_by_label("Clocks").check()
        show(page, run(slug))
        result = page.evaluate("() => document.querySelector('.player').player.diagram.overlaps()")
        assert result["texts"] > 0 and page.locator("svg.diagram .clock").count() > 0
        assert result["overlaps"] == 0, result["pairs"]
    finally:
        context.close()


@pytest.mark.parametrize("slug", sorted(simulations.SCENARIOS))
def test_every_scenario_highlights_the_causal_past_or_future_of_an_event(page, live_daphne, slug):
    page.goto(f"{live_daphne.url}/s/{slug}/")
    page.wait_for_function("() => document.querySelector('.player').player")
    trace = run(slug)
    show(page, trace)
    delivers = {e["seq"] for e in trace if e["kind"] == "deliver"}
    rendered = [int(s) for s in page.eval_on_selector_all("svg.diagram circle.ev[data-seq]", "els => els.map(e => e.dataset.seq)")]
    seq = next(s for s in rendered if s in delivers)
    target = page.locator(f'svg.diagram circle.ev[data-seq="{seq}"]')
    target.scroll_into_view_if_needed()
    page.locator(f'svg.diagram circle.ev[data-seq="{seq}"]').click()
    page.wait_for_selector("svg.diagram.hb-on")
    assert page.locator("svg.diagram .hb-past, svg.diagram .hb-future").count() >= 1
    assert page.locator("svg.diagram .hb-sel").count() >= 1


def test_the_browser_and_the_server_compute_the_same_clocks(page, live_daphne):
    page.goto(f"{live_daphne.url}/s/two-generals/")
    page.wait_for_function("() => document.querySelector('.player').player")
    traces = [run("gossip", {"n": 6, "mode": "epidemic"}), run("bully-election"), run("coffee-shop"),
              run("two-generals", {"loss": 0}, [{"action": "duplicate", "match": {"label": "ACK 1"}, "by": 3},
                                                {"action": "drop", "match": {"label": "ACK 2"}}])]
    for trace in traces:
        browser = page.evaluate("async (t) => (await import('/static/js/causality.js')).clocks(t)", trace)
        server = [s and {"node": s.node, "lamport": s.lamport, "vc": list(s.vc)} for s in clocks(trace)]
        assert browser == server
        relation = page.evaluate("""async (t) => {
            const { Clocks } = await import('/static/js/causality.js');
            const c = new Clocks(t);
            return t.map((_, a) => t.map((_, b) => c.before(a, b)));
        }""", trace)
        stamps = clocks(trace)
        assert relation == [[a is not None and b is not None and happened_before(a, b) for b in stamps] for a in stamps]


def test_a_saved_run_highlights_from_its_trace_alone(page, live_daphne):
    run_gossip_live(page, live_daphne.url)
    page.goto(live_daphne.url + page.locator(".run-link").get_attribute("href"))
    page.wait_for_function("() => document.querySelector('.player').dataset.key")
    top(page)
    page.locator('svg.diagram circle.ev[data-seq="2"]').focus()
    page.keyboard.press("Tab")  # events are in the tab order: after the CALL's send, its delivery
    assert page.evaluate("() => document.activeElement.dataset.seq") == "8"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("svg.diagram.hb-on")
    assert page.locator("svg.diagram .hb-future").count() > 5
    assert page.locator(".announce").text_content().startswith("Selected: send CALL at P1, t=0. 0 events before it")
