"""The real page in headless Chromium against a real daphne process."""
import re

import pytest

pytestmark = pytest.mark.browser


def run_to_end(page):
    page.select_option(".speed", "1000")
    page.evaluate("() => { const p = document.querySelector('.player').player; if (!p.playing) p.play(); }")
    page.wait_for_function("() => document.querySelector('.summary [data-key=messages_sent]')",
                           timeout=15000)


def test_run_draws_arrows_and_the_permalink_replays_the_same_run(page, live_daphne):
    page.goto(f"{live_daphne.url}/s/bully-election/?n=5&seed=2")
    page.click("#run")
    page.wait_for_selector(".head[data-node='P5']")
    page.wait_for_selector("svg.diagram g.msg")  # Run plays at once: arrows appear without pressing Play
    run_to_end(page)
    assert page.locator("svg.diagram g.msg").count() > 0
    assert page.locator(".invariants li.ok").count() == 2
    assert "elected" in page.locator(".summary").text_content()
    transcript = page.locator(".transcript li").all_text_contents()
    assert any("sends ELECTION to" in line for line in transcript)

    permalink = page.locator(".run-link").get_attribute("href")
    assert re.fullmatch(r"/runs/[\w-]{12,}/", permalink)
    page.goto(live_daphne.url + permalink)
    page.wait_for_function("() => document.querySelector('.player').dataset.cursor >= 1")
    page.keyboard.press("End")
    page.wait_for_function("() => { const p = document.querySelector('.player'); return p.dataset.cursor == p.player.events.length; }")
    assert page.locator(".transcript li").all_text_contents()[-len(transcript):] == transcript
    assert "elected" in page.locator(".summary").text_content()


def test_crashing_a_node_mid_run_is_drawn_and_recorded(page, live_daphne):
    page.goto(f"{live_daphne.url}/s/bully-election/?n=5")
    page.uncheck("#autoplay")
    page.click("#run")
    page.wait_for_selector(".head[data-node='P4']")
    page.click('[data-act="step"]')
    page.wait_for_function("() => document.querySelector('.player').dataset.cursor >= 2")
    page.click(".head[data-node='P4']")
    page.wait_for_selector("svg.diagram .mark.crash")
    run_to_end(page)
    assert "P3" in page.locator(".summary").text_content()
    trace = page.evaluate("() => fetch(document.querySelector('.run-link').href.replace(/\\/$/, '/trace.json')).then(r => r.json())")
    assert any(e["kind"] == "fault" and e["fault"]["node"] == "P4" for e in trace)


def test_invalid_field_is_refused_beside_the_field(page, live_daphne):
    page.goto(f"{live_daphne.url}/s/bully-election/")
    page.fill("#p-n", "40")
    page.locator("#p-n").dispatch_event("change")
    page.wait_for_selector(".field.invalid .error")
    assert "at most 16" in page.locator(".field.invalid .error").text_content()


def test_stepping_back_and_keyboard_work_without_the_server(page, live_daphne):
    page.goto(f"{live_daphne.url}/s/two-generals/?loss=0&rounds=4")
    page.click("#run")
    page.wait_for_selector(".head[data-node='B']")
    run_to_end(page)
    total = int(page.evaluate("() => document.querySelector('.player').dataset.cursor"))
    page.locator(".diagram-wrap").focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"() => document.querySelector('.player').dataset.cursor == {total - 2}")
    page.keyboard.press("Home")
    page.wait_for_function("() => document.querySelector('.player').dataset.cursor == 1")
    page.wait_for_function("() => document.querySelectorAll('svg.diagram g.msg').length === 0")


def test_a_playing_run_is_acknowledged_about_once_a_second_not_once_a_batch(page, live_daphne):
    """Ten batches a second reach a playing page; an ack for each would double what every learner costs the
    server, so the page acknowledges the latest at most once a second (a big batch at once)."""
    sent, received = [], []

    def listen(ws):
        ws.on("framesent", lambda payload: sent.append(payload))
        ws.on("framereceived", lambda payload: received.append(payload))

    page.on("websocket", listen)
    page.goto(f"{live_daphne.url}/s/gossip/?n=64&mode=epidemic")
    page.select_option(".speed", "16")
    page.click("#run")
    page.wait_for_selector("svg.diagram g.msg")
    page.wait_for_timeout(3500)
    batches = [m for m in received if m.startswith('{"type":"events"')]
    acks = [m for m in sent if m.startswith('{"type":"ack"')]
    assert len(batches) >= 20 and 2 <= len(acks) <= 6, (len(batches), len(acks))


def test_a_speed_chosen_before_the_server_answers_play_is_sent(page, live_daphne):
    """Run with autoplay: the "paused" that answers the start reaches the page after it asked to play. A speed
    chosen before the server's "playing" arrives must still reach the server, not be lost as "nothing plays"."""
    asked, held = [], []

    def relay(ws):
        server = ws.connect_to_server()

        def to_page(message):
            # Hold everything after the answer to the start, so the page sits between "paused" and "playing".
            if held or '"state":"playing"' in message.replace(" ", ""):
                held.append(message)
            else:
                ws.send(message)

        def to_server(message):
            if '"type":"play"' in message.replace(" ", ""):
                asked.append(message)
            server.send(message)

        server.on_message(to_page)
        ws.on_message(to_server)

    page.route_web_socket(re.compile(r"/ws/"), relay)
    page.goto(f"{live_daphne.url}/s/two-generals/?guide=0")
    page.select_option(".speed", "1")
    page.click("#run")
    page.wait_for_function("() => document.querySelector('.player').player.runId")
    page.wait_for_timeout(300)  # the start's "paused" has arrived; the server's "playing" is held
    assert len(asked) == 1 and held
    page.select_option(".speed", "1000")
    page.wait_for_timeout(300)
    assert len(asked) == 2 and '"speed":1000' in asked[1].replace(" ", ""), asked
    assert page.locator('[data-act="play"]').text_content() == "Pause"


def test_on_a_phone_every_header_action_is_on_screen(browser, live_daphne):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"{live_daphne.url}/s/two-generals/?preset=lost-last-ack&guide=0")
        boxes = page.eval_on_selector_all(".top-actions > *", "els => els.map(e => e.getBoundingClientRect().right)")
        assert len(boxes) >= 4 and max(boxes) <= 390, boxes
    finally:
        context.close()


def test_run_pressed_before_the_player_has_loaded_starts_the_run(page, live_daphne):
    """On a slow connection the Run button is there before the player's module: pressing it then must not
    reload the page as a plain form (with no run, and losing what the page was for, a challenge say)."""
    def late(route):
        page.wait_for_timeout(1500)
        route.continue_()

    page.route(re.compile(r"/static/js/player.*\.js$"), late)
    page.goto(f"{live_daphne.url}/s/bully-election/?guide=0&n=5", wait_until="commit")
    page.wait_for_selector("#run")
    page.uncheck("#autoplay")
    page.click("#run")
    page.wait_for_selector(".diagram-wrap.has-run", timeout=20000)
    assert page.url.endswith("/s/bully-election/?guide=0&n=5")
    assert page.locator('[data-act="play"]').text_content() == "Play"  # autoplay stayed off, as asked
