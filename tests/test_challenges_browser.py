"""A learner takes a challenge in the browser: Try it, write a fault script, Run, and the server's verdict appears."""
import json
import re

import pytest

pytestmark = pytest.mark.browser


def try_challenge(page, base, slug, faults):
    page.goto(f"{base}/challenges/{slug}/")
    page.click("a.try-it")
    page.wait_for_selector(".challenge-panel")
    page.fill("#p-faults", json.dumps(faults))
    page.uncheck("#autoplay")
    page.click("#run")
    page.wait_for_selector(".diagram-wrap.has-run")
    page.select_option(".speed", "1000")
    page.click('[data-act="play"]')
    return page.wait_for_selector(".challenge-verdict .verdict", timeout=30_000)


def test_a_run_that_breaks_it_is_judged_and_linked_as_proof(page, live_daphne):
    verdict = try_challenge(page, live_daphne.url, "one-general-alone", [{"action": "drop", "match": {"label": "ACK 2"}}])
    assert verdict.get_attribute("data-ok") == "true"
    assert "no_lone_attack failed" in verdict.text_content()
    proof = page.locator(".challenge-verdict a.proof").get_attribute("href")
    assert re.fullmatch(r"/runs/[A-Za-z0-9_-]+/", proof)
    assert page.locator(".run-link").get_attribute("href") == proof
    page.goto(f"{live_daphne.url}/challenges/one-general-alone/")
    assert proof in page.locator("#attempts").text_content()
    assert page.locator("#why").is_visible()


def test_a_run_over_budget_is_refused_with_reasons(page, live_daphne):
    faults = [{"action": "drop", "match": {"label": "ACK 2"}}, {"action": "crash", "node": "A", "at": 9}]
    verdict = try_challenge(page, live_daphne.url, "one-general-alone", faults)
    assert verdict.get_attribute("data-ok") == "false"
    text = verdict.text_content()
    assert "you used 2 faults; the budget is 1" in text and "crash is not in the budget" in text
    assert page.locator(".challenge-verdict a.proof").get_attribute("href").startswith("/runs/")
