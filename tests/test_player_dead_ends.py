"""No dead ends in the player: every button does what a newcomer expects, and says so."""
import pytest

pytestmark = pytest.mark.browser


def ended(page):
    page.wait_for_function("() => document.querySelector('.player').dataset.key", timeout=60000)


def test_choosing_a_lesson_in_the_header_loads_a_page_whose_run_works(page, live_daphne):
    page.goto(f"{live_daphne.url}/s/token-ring/")
    page.select_option(".preset-picker select", "lost-token")
    page.wait_for_url("**preset=lost-token**")
    page.click("#run")
    page.wait_for_selector("svg.diagram g.msg")
    assert page.locator(".preset-note").text_content().strip().startswith("The lost token")


def test_play_before_any_run_starts_one(page, live_daphne):
    page.goto(f"{live_daphne.url}/s/two-generals/?loss=0")
    page.click('[data-act="play"]')
    page.wait_for_selector("svg.diagram g.msg")


def test_play_at_the_end_replays_from_the_start(page, live_daphne):
    page.goto(f"{live_daphne.url}/s/two-generals/?loss=0&rounds=2&autorun=1")
    page.select_option(".speed", "1000")
    ended(page)
    total = int(page.evaluate("() => document.querySelector('.player').player.events.length"))
    page.select_option(".speed", "1")
    page.click('[data-act="play"]')
    page.wait_for_function("() => Number(document.querySelector('.player').dataset.cursor) < 4")
    page.wait_for_function("() => Number(document.querySelector('.player').dataset.cursor) > 1")
    assert int(page.evaluate("() => document.querySelector('.player').player.events.length")) == total


def test_the_set_up_folds_away_after_run_and_opens_again(page, live_daphne):
    page.goto(f"{live_daphne.url}/s/bully-election/")
    assert page.locator("#p-n").is_visible()
    page.click("#run")
    page.wait_for_selector(".diagram-wrap.has-run")
    page.wait_for_function("() => !document.querySelector('#p-n').checkVisibility()")
    assert page.locator("#run").is_visible()  # Run again stays in reach
    page.click(".setup-toggle")
    assert page.locator("#p-n").is_visible()


def test_crashing_a_node_after_the_end_branches_with_the_crash(page, live_daphne):
    page.goto(f"{live_daphne.url}/s/bully-election/?n=5&autorun=1")
    page.select_option(".speed", "1000")
    ended(page)
    page.click(".head[data-node='P4']")
    page.wait_for_function("() => document.querySelector('.player').player.events.some((e) => e.kind === 'crash' && e.node === 'P4')")
    page.wait_for_function("() => document.querySelector('.player').player.ended")
    trace = page.evaluate("() => document.querySelector('.player').player.events")
    assert [e["kind"] for e in trace].count("end") == 1
    crash = next(e["seq"] for e in trace if e["kind"] == "crash")
    assert crash < trace[-1]["seq"]


def test_a_branch_of_a_saved_run_describes_itself_and_links_both_ways(page, live_daphne):
    page.goto(f"{live_daphne.url}/s/bully-election/?n=5&autorun=1")
    page.select_option(".speed", "1000")
    ended(page)
    parent = page.locator(".run-link").get_attribute("href")
    page.goto(live_daphne.url + parent)
    ended(page)
    page.click(".head[data-node='P3']")
    page.wait_for_selector(".branch-note a")
    note = page.locator(".branch-note").text_content()
    assert "branch of run" in note and parent.strip("/").split("/")[-1] in note
    assert page.url != live_daphne.url + parent
    assert not page.locator(".about .made-of").is_visible()
