"""What keeps Lifelines safe to put online: admin for staff only, CSRF, a strict CSP, hosts, origins,
unguessable runs, rate limits, and production settings that refuse to start half-configured."""
import json
import os
import re
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client, override_settings
from websockets.sync.client import connect as ws_connect

from config import security
from config.asgi import application
from runs.models import Run, new_run_id
from tests.communicator import Communicator
from tests.servers import ROOT



@pytest.fixture(autouse=True)
def fresh_counts():
    cache.clear()
    yield
    cache.clear()


def policy(response):
    """The Content-Security-Policy as {directive: [sources]}."""
    header = response["Content-Security-Policy"]
    return {name: rest for name, *rest in (part.split() for part in header.split(";") if part.strip())}


def manage(*args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "HTTPS", "DJANGO_SETTINGS_MODULE")}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env}, timeout=60)


# -- admin and CSRF ------------------------------------------------------------
@pytest.mark.django_db
def test_admin_sends_anonymous_visitors_to_the_login_page(client):
    for path in ("/admin/", "/admin/runs/run/", "/admin/auth/user/"):
        resp = client.get(path)
        assert resp.status_code == 302 and resp["Location"].startswith("/admin/login/"), path


@pytest.mark.django_db
def test_admin_refuses_a_signed_in_user_who_is_not_staff(client):
    client.force_login(User.objects.create_user("learner", password=secrets.token_urlsafe()))
    resp = client.get("/admin/")
    assert resp.status_code == 302 and resp["Location"].startswith("/admin/login/")
    assert client.get("/admin/runs/run/").status_code == 302


@pytest.mark.django_db
def test_admin_opens_for_staff(client):
    client.force_login(User.objects.create_superuser("curator", password=secrets.token_urlsafe()))
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_csrf_protection_is_on_by_default():
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE
    browser = Client(enforce_csrf_checks=True)
    resp = browser.post("/admin/login/", {"username": "x", "password": "y"})
    assert resp.status_code == 403
    page = browser.get("/admin/login/")
    token = page.cookies["csrftoken"].value
    resp = browser.post("/admin/login/", {"username": "x", "password": "y", "csrfmiddlewaretoken": token})
    assert resp.status_code == 200  # past CSRF: the form says the login failed


# -- Content-Security-Policy -------------------------------------------------------
def saved_run():
    return Run.objects.create(scenario="two-generals", params={}, seed=0)


@pytest.mark.parametrize("path", ["/", "/s/bully-election/", "/s/two-generals/form", "/s/no-such/",
                                  "/admin/login/", "RUN"])
@pytest.mark.django_db
def test_every_html_page_carries_a_strict_content_security_policy(client, path):
    if path == "RUN":
        path = f"/runs/{saved_run().id}/"
    resp = client.get(path)
    assert resp["Content-Type"].startswith("text/html")
    csp = policy(resp)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:"]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'self'"]
    assert set(csp["connect-src"]) == {"'self'", "ws://testserver", "wss://testserver"}
    sources = [s for values in csp.values() for s in values]
    assert not [s for s in sources if "unsafe" in s or s in ("*", "http:", "https:", "ws:", "wss:")]
    assert resp["X-Frame-Options"] == "SAMEORIGIN"


@pytest.mark.django_db
def test_embed_pages_may_be_framed_by_any_site_and_nothing_else_changes(client):
    resp = client.get(f"/runs/{saved_run().id}/embed")
    csp = policy(resp)
    assert csp["frame-ancestors"] == ["*"]
    assert csp["script-src"] == ["'self'"]
    assert "X-Frame-Options" not in resp


@pytest.mark.django_db
def test_json_is_not_given_a_page_policy(client):
    resp = client.get("/api/scenarios/")
    assert resp["Content-Type"] == "application/json" and "Content-Security-Policy" not in resp


# -- hosts, origins, run ids ---------------------------------------------------------
@pytest.mark.django_db
def test_a_request_for_an_unknown_host_is_refused(client):
    assert client.get("/", HTTP_HOST="evil.example").status_code == 400
    assert client.get("/", HTTP_HOST="127.0.0.1").status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("origin", [b"http://evil.example", b"null", None])
async def test_a_websocket_from_a_foreign_origin_is_refused(origin):
    headers = [(b"origin", origin)] if origin else []
    comm = Communicator(application, "/ws/run/", headers=headers)
    connected, _ = await comm.connect()
    assert not connected
    ours = Communicator(application, "/ws/run/", headers=[(b"origin", b"http://localhost")])
    assert (await ours.connect())[0]
    await ours.disconnect()


@pytest.mark.django_db
def test_run_ids_are_unguessable_and_a_wrong_guess_is_just_a_404(client):
    ids = {new_run_id() for _ in range(5000)}
    assert len(ids) == 5000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{12}", i) for i in ids)  # 72 random bits, URL-safe
    run = saved_run()
    near = run.id[:-1] + ("A" if run.id[-1] != "A" else "B")
    assert client.get(f"/runs/{near}/").status_code == 404
    assert client.get(f"/runs/{run.id}/").status_code == 200


# -- rate limits ------------------------------------------------------------------
def test_the_default_limits_are_generous():
    import config.settings as production  # the test settings turn them off: the suite is one client

    assert production.RATE_LIMIT_PAGES == 600 and production.RATE_LIMIT_RUNS == 120


@pytest.mark.django_db
@override_settings(RATE_LIMIT_PAGES=5)
def test_too_many_page_loads_get_a_429_that_says_why(client):
    for _ in range(5):
        assert client.get("/").status_code == 200
    resp = client.get("/s/bully-election/")
    assert resp.status_code == 429 and resp["Retry-After"] == "60"
    assert "Too many page loads" in resp.content.decode() and "at most 5 a minute" in resp.content.decode()
    assert client.get("/", REMOTE_ADDR="10.1.2.3").status_code == 200  # another client is not affected


def test_allow_counts_each_key_within_its_window(monkeypatch):
    now = [1_000_000.0]
    monkeypatch.setattr(security.time, "time", lambda: now[0])
    assert [security.allow("runs:1.2.3.4", 3, 60) for _ in range(4)] == [True, True, True, False]
    assert security.allow("runs:5.6.7.8", 3, 60)
    now[0] += 60
    assert security.allow("runs:1.2.3.4", 3, 60)
    assert all(security.allow("runs:1.2.3.4", 0, 60) for _ in range(10))  # 0: no limit


def test_client_ip_reads_a_request_or_a_websocket_scope(rf):
    assert security.client_ip(rf.get("/", REMOTE_ADDR="192.0.2.7")) == "192.0.2.7"
    assert security.client_ip(scope={"client": ["198.51.100.9", 5000]}) == "198.51.100.9"


@pytest.mark.django_db(transaction=True)
@override_settings(RATE_LIMIT_RUNS=2)
async def test_too_many_runs_from_one_client_are_refused_with_a_message():
    cache.clear()
    comm = Communicator(application, "/ws/run/", headers=[(b"origin", b"http://127.0.0.1")])
    assert (await comm.connect())[0]
    for _ in range(2):
        await comm.send_json_to({"type": "start", "scenario": "two-generals"})
        while (await comm.receive_json_from(timeout=5))["type"] != "status":
            pass
    await comm.send_json_to({"type": "start", "scenario": "two-generals"})
    error = await comm.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] == "rate_limited" and "a minute" in error["message"]
    await comm.disconnect(timeout=10)


# -- production settings -----------------------------------------------------------
def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", DEBUG="false")
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_check_deploy_is_clean_over_https():
    result = manage("check", "--deploy", "--fail-level", "WARNING", DEBUG="false", HTTPS="true",
                    SECRET_KEY=secrets.token_urlsafe(50))
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_only_the_operator_decisions_are_silenced():
    assert sorted(settings.SILENCED_SYSTEM_CHECKS) == ["security.W005", "security.W019", "security.W021"]


# -- in the browser (last: Playwright's sync API leaves an event loop running for this module's async tests)
@pytest.mark.browser
def test_the_pages_run_under_the_policy_without_a_single_violation(page, live_daphne):
    with ws_connect(f"ws://127.0.0.1:{live_daphne.port}/ws/run/",
                    additional_headers={"origin": live_daphne.url}) as ws:
        ws.send(json.dumps({"type": "start", "scenario": "bully-election", "params": {"n": 4}}))
        run = json.loads(ws.recv(timeout=10))["run"]
        ws.send(json.dumps({"type": "play", "speed": 10000}))
        while json.loads(ws.recv(timeout=10)).get("state") != "ended":
            pass
    console = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    for path in ("/", "/s/bully-election/", f"/runs/{run}/"):
        resp = page.goto(live_daphne.url + path)
        assert "script-src 'self'" in resp.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
    page.goto(f"{live_daphne.url}/s/bully-election/?n=4")
    page.click("#run")  # the WebSocket, the diagram and the htmx form all under the policy
    page.wait_for_selector(".head[data-node='P4']")
    page.click(".setup-toggle")  # the set-up folded away when the run started
    page.fill("#p-n", "40")
    page.locator("#p-n").dispatch_event("change")
    page.wait_for_selector(".field.invalid .error")
    violations = [c for c in console if "Content Security Policy" in c or "Refused to" in c]
    assert violations == []
