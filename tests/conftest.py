import os

import pytest

from tests import servers
from tests.flaky import RerunWatch


def pytest_configure(config):
    config.pluginmanager.register(RerunWatch(), "rerun-watch")


@pytest.fixture(autouse=True, scope="session")
def simulations_in_the_test_process():
    """Tests put scenarios of their own into simulations.SCENARIOS, which an engine process (runs.engines)
    would not see: in the test process live runs simulate here. The servers the tests start use one."""
    from django.conf import settings

    settings.ENGINE_WORKERS = 0


@pytest.fixture(scope="session")
def server_db(tmp_path_factory):
    with servers.server_database(tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(scope="session")
def live_daphne(server_db):
    """One daphne process for the browser tests, on the suite's database engine and channel layer."""
    with servers.daphne(server_db) as proc:
        yield proc


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"
