"""The outcome of a run in words, above the diagram; the raw summary for people, behind a toggle."""
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_the_outcome_headline_says_what_happened_in_the_first_screen(browser, live_daphne):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{live_daphne.url}/s/two-generals/?preset=lost-last-ack&guide=0&autorun=1")
        page.select_option(".speed", "1000")
        page.wait_for_function("() => document.querySelector('.player').dataset.key")
        headline = page.locator(".outcome .headline")
        expect(headline).to_contain_text("no_lone_attack")  # the panels paint on the next frame after the key
        assert "no_lone_attack" in headline.text_content()
        box = headline.bounding_box()
        assert 0 < box["y"] < 200 and box["width"] > 300
        status = page.locator(".announce").text_content()
        assert "Press Play" not in status and "ended" in status
    finally:
        context.close()


def test_the_summary_is_for_people_and_sits_behind_details(page, live_daphne):
    page.goto(f"{live_daphne.url}/s/microservices-order/?preset=breaker&guide=0")
    page.select_option(".speed", "1000")  # before Run: a speed picked mid-request can be lost (#12)
    page.click("#run")
    page.wait_for_function("() => document.querySelector('.player').dataset.key", timeout=60000)
    assert not page.locator(".summary").is_visible()
    page.click(".summary-wrap > summary")
    keys = page.locator(".summary dt").all_text_contents()
    values = page.locator(".summary dd").all_text_contents()
    assert "messages sent" in keys
    assert not [k for k in keys if "_" in k]
    assert not [v for v in values if re.search(r"[{}\[\]\"]", v)]
