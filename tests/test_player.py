"""The player as an instrument: scrubbing, stepping back, branching, faults by hand, network mode, transcript."""
import pytest

from tests import servers

pytestmark = pytest.mark.browser


def cursor(page):
    return int(page.evaluate("() => document.querySelector('.player').dataset.cursor || 0"))


def start(page, url, steps=0):
    page.goto(url)
    page.uncheck("#autoplay")
    page.click("#run")
    page.wait_for_selector(".diagram-wrap.has-run")
    for _ in range(steps):
        page.click('[data-act="step"]')
    if steps:
        page.wait_for_function(f"() => document.querySelector('.player').dataset.cursor >= {steps + 1}")


def play_to_end(page):
    page.select_option(".speed", "1000")
    page.evaluate("() => { const p = document.querySelector('.player').player; if (!p.playing) p.play(); }")
    page.wait_for_function("() => document.querySelector('.summary [data-key=messages_sent]')")


def test_scrubbing_redraws_the_past_and_the_transcript_follows(page, live_daphne):
    start(page, f"{live_daphne.url}/s/bully-election/?n=5")
    play_to_end(page)
    total = cursor(page)
    page.locator(".scrub").fill("10")
    page.wait_for_function("() => document.querySelector('.player').dataset.cursor == 10")
    current = page.locator(".transcript li[aria-current]").text_content()
    assert current.startswith("#9 ")
    assert "watching" in page.locator(".invariants").text_content()  # not yet judged at step 9
    page.click('[data-act="back"]')
    page.wait_for_function("() => document.querySelector('.player').dataset.cursor == 9")
    page.keyboard.press("End")
    page.wait_for_function(f"() => document.querySelector('.player').dataset.cursor == {total}")


def test_clicking_an_arrow_shows_the_message_and_its_fate(page, live_daphne):
    start(page, f"{live_daphne.url}/s/byzantine-generals/?n=4", steps=3)
    play_to_end(page)
    page.locator("svg.diagram g.msg.forged").first.dispatch_event("click")
    details = page.locator(".details").text_content()
    assert "RETREAT" in details and "delivered at" in details and '"forged": true' in details


def test_dropping_a_message_in_flight_by_clicking_it(page, live_daphne):
    start(page, f"{live_daphne.url}/s/two-generals/?loss=0&rounds=2")
    for _ in range(10):
        page.click('[data-act="step"]')
        page.wait_for_timeout(150)
        if page.locator("svg.diagram g.msg.flight").count():
            break
    page.locator("svg.diagram g.msg.flight").first.dispatch_event("click")
    page.click("[data-msg-act=drop]")
    page.wait_for_selector("svg.diagram g.msg.lost")
    play_to_end(page)
    assert "both retreat" in page.locator(".summary").text_content()


def test_partition_and_heal_by_hand(page, live_daphne):
    start(page, f"{live_daphne.url}/s/bully-election/?n=5", steps=1)
    page.click("text=Faults by hand")
    page.check(".partition-nodes input[value=P1]")
    page.check(".partition-nodes input[value=P2]")
    page.click("[data-act=partition]")
    page.wait_for_selector("svg.diagram .mark.fault")
    play_to_end(page)
    assert page.locator(".transcript").text_content().count("partition") >= 1


def test_branching_from_a_step_in_the_past_makes_a_linked_run(page, live_daphne):
    start(page, f"{live_daphne.url}/s/bully-election/?n=5")
    play_to_end(page)
    first = page.locator(".run-link").get_attribute("href")
    page.locator(".scrub").fill("8")
    page.wait_for_function("() => document.querySelector('.player').dataset.cursor == 8")
    page.locator(".head[data-node='P4']").dispatch_event("click")
    page.wait_for_function(f"() => document.querySelector('.run-link').getAttribute('href') != '{first}'")
    play_to_end(page)
    assert "P3" in page.locator(".summary").text_content()
    second = page.locator(".run-link").get_attribute("href")
    page.goto(live_daphne.url + second)
    assert "branch of" in page.locator(".made-of").text_content()
    page.goto(live_daphne.url + first)
    assert second.strip("/").split("/")[-1] in page.locator(".made-of").text_content()


def test_branching_from_a_saved_run_page(page, live_daphne):
    start(page, f"{live_daphne.url}/s/two-generals/?loss=0&rounds=3")
    play_to_end(page)
    page.goto(live_daphne.url + page.locator(".run-link").get_attribute("href"))
    page.wait_for_function("() => document.querySelector('.player').dataset.cursor >= 1")
    page.locator(".scrub").fill("4")
    page.locator(".head[data-node='B']").dispatch_event("click")
    page.wait_for_selector("svg.diagram .mark.crash")
    play_to_end(page)
    assert "both retreat" in page.locator(".summary").text_content() or "lone attack" in page.locator(".summary").text_content()


def test_you_are_the_network_picks_what_arrives(page, live_daphne):
    start(page, f"{live_daphne.url}/s/two-generals/?loss=0&rounds=2&messengers=2")
    page.click("text=Faults by hand")
    page.check(".hold")
    page.wait_for_selector(".flight-panel:not([hidden])")
    page.evaluate("() => { const p = document.querySelector('.player').player; if (!p.playing) p.play(); }")
    page.wait_for_function("() => document.querySelector('.announce').textContent.includes('pick the next message')")
    pick = page.locator(".flight-list [data-msg-act=deliver]").last
    msg = pick.get_attribute("data-msg")
    pick.click()
    page.wait_for_selector("svg.diagram g.msg:not(.flight):not(.lost)")
    transcript = page.locator(".transcript").text_content()
    assert transcript.count("receives message") == 1 and f"receives message {msg} " in transcript


def test_zoom_fit_and_filters(page, live_daphne):
    start(page, f"{live_daphne.url}/s/gossip/?n=8&mode=epidemic")
    play_to_end(page)
    page.click("[data-act=fit]")
    zoom = float(page.locator(".diagram-wrap").get_attribute("data-zoom"))
    assert zoom < 1
    page.click("text=Show")
    page.uncheck("[data-filter-node=P1]")
    page.wait_for_function("() => ![...document.querySelectorAll('svg.diagram g.msg title')].some(t => t.textContent.includes('P1 '))")


def test_the_page_reads_well_on_a_phone(browser, live_daphne):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    start(page, f"{live_daphne.url}/s/two-generals/?loss=0")
    play_to_end(page)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 400
    context.close()


def test_a_dropped_connection_resumes_the_run_without_gaps(page, live_daphne):
    start(page, f"{live_daphne.url}/s/bully-election/?n=6", steps=5)
    page.evaluate("() => document.querySelector('.player').player.ws.close()")
    page.wait_for_function("() => document.querySelector('.announce').textContent.startsWith('Reconnected')")
    play_to_end(page)
    seqs = page.evaluate("() => document.querySelector('.player').player.events.map(e => e.seq)")
    assert seqs == list(range(len(seqs)))
    assert "elected" in page.locator(".summary").text_content()


def big_trace(events=100_000):
    """A real engine trace of about ``events`` events: sixteen nodes passing messages round a ring."""
    from simulations import Node, Param, Scenario

    class Passer(Node):
        def on_start(self):
            if self.id == "N0":
                self.send("N1", "PASS", {"hop": 0})

        def on_message(self, msg):
            hop = msg.data["hop"] + 1
            self.set_state(hops=hop)
            if hop < self.sim.params["hops"]:
                self.send(f"N{(int(self.id[1:]) + 1) % 16}", "PASS", {"hop": hop})

    class Ring(Scenario):
        slug = "ring"
        params = (Param("hops", "int", 10, "", 1, 10**6),)

        def nodes(self, params):
            return [f"N{i}" for i in range(16)]

        def setup(self, sim, params):
            return [Passer(n) for n in self.nodes(params)]

    return Ring().run({"hops": events // 3})


def test_a_100k_event_run_loads_scrubs_and_zooms(page, live_daphne, server_db):
    trace = big_trace()
    assert len(trace) > 99_000
    run = servers.save_run(server_db, "ring", trace)
    page.goto(f"{live_daphne.url}/runs/{run}/")
    page.wait_for_function("() => document.querySelector('.player').player.events.length > 99000", timeout=30000)
    for position in (50_000, 99_000, 10, 75_000):
        page.locator(".scrub").fill(str(position))
        page.wait_for_function(f"() => document.querySelector('.player').dataset.cursor == {position}")
        assert page.locator(".transcript li[aria-current]").text_content().startswith(f"#{position - 1} ")
        page.wait_for_function(  # the view follows the cursor: the last arrows drawn are just before it
            f"() => {{ const s = [...document.querySelectorAll('svg.diagram g.msg')].map(g => +g.dataset.seq);"
            f" return s.length && Math.max(...s) < {position} && Math.max(...s) > {position - 400}; }}")
    drawn = page.evaluate("() => document.querySelectorAll('svg.diagram *').length")
    assert drawn < 5000  # only what is on screen becomes SVG
    page.click("[data-act=fit]")  # fit packs time as tight as labels allow: labels stay, abbreviated, never blank
    page.wait_for_function("() => Number(document.querySelector('.diagram-wrap').dataset.zoom) < 0.1")
    page.wait_for_function("() => document.querySelectorAll('svg.diagram g.msg text').length > 3")
    assert page.evaluate("() => document.querySelectorAll('svg.diagram *').length") < 5000
