"""What a newcomer meets first: styled error pages in development and production, README commands that work on a
fresh clone (with production still refusing to start without a key), and a README that links only into the
repository."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import HttpResponseBadRequest
from django.test import Client, override_settings
from django.urls import include, path

from config.urls import handler400, handler403, handler404, handler500  # noqa: F401  (this module is a URLconf too)

ROOT = Path(__file__).resolve().parent.parent
STYLESHEET = '<link rel="stylesheet" href="/static/css/lifelines.css">'
DEPLOYMENT = ("SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "HTTPS", "DJANGO_SETTINGS_MODULE")


def refuse(request):
    raise PermissionDenied("staff only")


def suspicious(request):
    raise SuspiciousOperation("a forged header")


def bare_400(request):
    return HttpResponseBadRequest("with= must name a parameter")


def boom(request):
    raise ValueError("the engine fell over")


# Used as ROOT_URLCONF by the tests below that need a view which fails on purpose; the site's own URLs follow.
urlpatterns = [path("test-refuse/", refuse), path("test-suspicious/", suspicious), path("test-boom/", boom),
               path("test-bare-400/", bare_400),
               path("", include("config.urls"))]


def assert_styled(response, status, *texts):
    html = response.content.decode()
    assert response.status_code == status, html[:500]
    assert response["Content-Type"].startswith("text/html")
    assert STYLESHEET in html, "not the site's page: " + html[:300]
    assert "<style" not in html and " style=" not in html and "<script>" not in html
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert 'href="/">Back to the catalog</a>' in html or 'class="button back"' in html  # a way back, always
    for text in texts:
        assert text in html, (text, html)
    return html


# -- error pages ---------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True], ids=["production", "development"])
@pytest.mark.parametrize("url", ["/s/no-such-scenario/", "/runs/doesnotexist/", "/runs/doesnotexist/embed",
                                 "/room/NOSUCH/", "/no/such/page/"])
def test_an_unknown_url_shows_the_styled_404(client, url, debug):
    with override_settings(DEBUG=debug):
        html = assert_styled(client.get(url), 404, "Nothing here", f"<code>{url}</code>")
    assert ("Development:" in html) == debug


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_in_development_the_404_says_what_was_not_found(client):
    assert_styled(client.get("/s/no-such-scenario/"), 404, "Development: No scenario &#x27;no-such-scenario&#x27;")
    assert_styled(client.get("/runs/doesnotexist/"), 404, "No Run matches the given query.")
    assert_styled(client.get("/no/such/page/"), 404, "No URL pattern matches this path")


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True], ids=["production", "development"])
def test_a_bad_query_shows_the_styled_400_with_the_views_reason(client, debug):
    with override_settings(DEBUG=debug, ROOT_URLCONF=__name__):
        assert_styled(client.get("/test-bare-400/"), 400,
                      "That request could not be understood", "with= must name a parameter")
    with override_settings(DEBUG=debug):  # a view's own 400 page is kept, and styled
        assert_styled(client.get("/s/two-generals/compare?with=nonsense=1"), 400, "nonsense")


@pytest.mark.django_db
def test_a_form_sent_without_its_csrf_token_shows_the_styled_403():
    client = Client(enforce_csrf_checks=True)
    assert_styled(client.post("/room/open/two-generals/"), 403, "That form could not be accepted", "reload the page")
    with override_settings(DEBUG=True):
        fresh = Client(enforce_csrf_checks=True)  # the page above set the CSRF cookie: a new browser has none
        assert_styled(fresh.post("/room/open/two-generals/"), 403, "Development: CSRF cookie not set.")


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True], ids=["production", "development"])
def test_refused_suspicious_and_failing_requests_show_styled_pages(debug):
    client = Client(raise_request_exception=False)
    with override_settings(ROOT_URLCONF=__name__, DEBUG=debug):
        assert_styled(client.get("/test-refuse/"), 403, "You may not open this page")
        html = assert_styled(client.get("/test-suspicious/"), 400, "That request could not be understood")
        assert ("SuspiciousOperation: a forged header" in html) == debug
        html = assert_styled(client.get("/test-boom/"), 500, "Something went wrong on our side")
        assert ("ValueError: the engine fell over" in html) == debug
        assert_styled(client.get("/runs/doesnotexist/"), 404, "Nothing here")  # the site's URLs still answer


@pytest.mark.django_db
def test_answers_that_are_not_pages_are_left_alone(client):
    with override_settings(ROOT_URLCONF=__name__):
        partial = client.get("/test-bare-400/", HTTP_HX_REQUEST="true")
    assert partial.status_code == 400 and STYLESHEET not in partial.content.decode()
    assert client.get("/api/scenarios/")["Content-Type"] == "application/json"


# -- the README's commands on a fresh clone, and production without a key ------------------------------------
def clean_env(**extra):
    return {**{k: v for k, v in os.environ.items() if k not in DEPLOYMENT}, **extra}


def test_manage_py_simulate_works_on_a_fresh_clone_without_a_secret_key():
    proc = subprocess.run([sys.executable, "manage.py", "simulate", "two-generals", "--format", "summary"],
                          cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outcome"]


@pytest.mark.parametrize("module", ["config.settings", "config.asgi"])
def test_production_without_a_secret_key_still_refuses_to_start(module):
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True,
                          env=clean_env(DJANGO_SETTINGS_MODULE="config.settings"), timeout=120)
    assert proc.returncode != 0
    assert "ImproperlyConfigured: Set SECRET_KEY" in proc.stderr


@pytest.mark.parametrize("deployment", [{"DEBUG": "false"}, {"DATABASE_URL": "sqlite:////tmp/elsewhere.sqlite3"},
                                        {"REDIS_URL": "redis://127.0.0.1:6379/0"}])
def test_manage_py_uses_no_local_key_once_the_environment_names_a_deployment(deployment):
    proc = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=clean_env(**deployment),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "Set SECRET_KEY" in proc.stderr


# -- the README links only into the repository ---------------------------------------------------------------
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|<a\s[^>]*href=\"([^\"]+)\"|"
                  r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)


def links(markdown):
    return [next(g for g in m.groups() if g) for m in LINK.finditer(markdown)]


def test_the_link_parser_sees_outside_links():
    text = "see [design](../shared/DESIGN.md), [site](https://example.org/x) and ![p](docs/screenshot.png)\n[r]: http://a"
    assert links(text) == ["../shared/DESIGN.md", "https://example.org/x", "docs/screenshot.png", "http://a"]


@pytest.mark.parametrize("doc", ["README.md", "docs/design.md", "docs/adding-a-scenario.md"])
def test_the_docs_link_only_to_files_in_the_repository(doc):
    source = ROOT / doc
    text = source.read_text()
    assert "shared/DESIGN.md" not in text and "DESIGN.md" not in text
    for target in links(text):
        assert not re.match(r"^[a-z][a-z0-9+.-]*:|^//|^/", target, re.I), f"{doc} links outside: {target}"
        resolved = (source.parent / target.split("#")[0]).resolve()
        assert resolved.is_relative_to(ROOT), f"{doc} links outside the repository: {target}"
        assert resolved.exists(), f"{doc} links to a missing file: {target}"


def test_ci_refuses_to_test_without_its_postgresql():
    env = {**os.environ, "CI": "true", "PG_URL": "postgres://nobody@127.0.0.1:9/none", "VENV": str(ROOT / ".venv")}
    done = subprocess.run(["bash", "scripts/test.sh", "--collect-only", "-q"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0 and "no PostgreSQL answers" in done.stderr
