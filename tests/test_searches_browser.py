"""A learner asks the page to find a way to break the set-up: progress, the run found, a cancel."""
import os
import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests import servers

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def worker(server_db):
    """With REDIS_URL the searches wait for a worker process; without it the web process runs them itself."""
    if not os.environ.get("REDIS_URL"):
        yield None
        return
    proc = subprocess.Popen([sys.executable, "manage.py", "searchworker"], cwd=servers.ROOT,
                            env=servers.server_env(server_db), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield proc
    proc.terminate()
    proc.wait(10)


def test_the_panel_finds_the_lost_last_ack_and_opens_its_run(page, live_daphne, worker):
    page.goto(f"{live_daphne.url}/s/two-generals/?loss=0")
    page.click(".search-panel summary")
    page.select_option(".search-form [name=goal]", "invariant:no_lone_attack")
    page.click(".search-start")
    found = page.wait_for_selector(".search-result .found", timeout=30_000)
    assert "no_lone_attack is violated after 1 perturbation" in found.text_content()
    assert "drop the 1st ACK 2 from A to B" in found.text_content()
    assert page.locator(".search-progress").is_hidden() and page.locator(".search-start").is_enabled()
    page.click(".search-run")
    page.wait_for_url(re.compile(r".*/runs/[A-Za-z0-9_-]+/$"))
    assert "ACK 2" in page.content()


def test_the_panel_shows_progress_and_cancels(page, live_daphne, worker):
    page.goto(f"{live_daphne.url}/s/payment-gateway/")
    page.click(".search-panel summary")
    page.select_option(".search-form [name=max_faults]", "3")
    page.select_option(".search-form [name=max_runs]", "20000")
    page.select_option(".search-form [name=seconds]", "60")
    page.click(".search-start")
    expect(page.locator(".search-stats")).to_have_text(
        re.compile(r"\d+ runs explored · \d+ distinct states · depth \d of 3"), timeout=30_000)
    assert int(page.locator(".search-progress progress").get_attribute("max")) == 20000
    page.click(".search-cancel")
    page.wait_for_selector(".search-result >> text=Cancelled.", timeout=30_000)
    assert page.locator(".search-start").is_enabled()
